"""Notebook shell escapes continued with ``\\`` are one shell command (as IPython runs them),
never Python: the shell rules see the whole command and the cell's Python still parses."""

from __future__ import annotations

import json

from covo_port.model import Severity

from .conftest import run_rules
from .test_notebook import cell, jupyter, notebook, sources


def test_a_continued_shell_escape_is_one_command() -> None:
    nb = notebook(cell("import torch\n"
                       "!CUDA_VISIBLE_DEVICES=0 torchrun train.py \\\n"
                       "    --dist_backend nccl \\\n"
                       "    --epochs 3\n"
                       "for run in range(2):\n"
                       "    !python eval.py --run {run} \\\n"
                       "        --backend=nccl\n"
                       "x = torch.ones(1).cuda()\n"),
                  cell("%time y = x \\\n    + 1\nprint(y)\n"))
    data = jupyter(nb)
    outcome = run_rules(data, path="train.ipynb")
    assert outcome.error is None
    assert not [f for f in outcome.findings if f.severity is Severity.ERROR]
    first, second = sources(outcome.output(data))
    assert first == ("import torch\nimport torch_npu\n"
                     "!ASCEND_RT_VISIBLE_DEVICES=0 torchrun train.py \\\n"
                     "    --dist_backend hccl \\\n"
                     "    --epochs 3\n"
                     "for run in range(2):\n"
                     "    !python eval.py --run {run} \\\n"
                     "        --backend=hccl\n"
                     "x = torch.ones(1).npu()\n")
    assert second == "%time y = x \\\n    + 1\nprint(y)\n"
    lines = sorted((c.rule, c.line) for c in outcome.changes if c.rule == "NPU012")
    assert lines == [("NPU012", 3), ("NPU012", 7)]  # the lines of the cell that changed


def test_a_continuation_at_the_end_of_a_cell_stops_there() -> None:
    nb = notebook(cell("!echo cuda \\"), cell("x = 1\n"))
    data = jupyter(nb)
    outcome = run_rules(data, path="n.ipynb")
    assert outcome.error is None and not outcome.changed
    assert json.loads(outcome.output(data)) == nb
