"""NPU013: cudnn / cuda.matmul flags."""

from __future__ import annotations

import libcst as cst

from covo_port.engines import FileOutcome

from .conftest import run_rules


def port(source: str, select: tuple[str, ...] = ("NPU013",),
         unsafe_fixes: bool = False) -> tuple[str, FileOutcome]:
    outcome = run_rules(source, select=select, unsafe_fixes=unsafe_fixes)
    assert outcome.error is None, outcome.error
    output = outcome.output(source.encode()).decode()
    cst.parse_module(output)
    assert not run_rules(output, select=select, unsafe_fixes=unsafe_fixes).changed
    return output, outcome


def test_only_statement_of_a_function_becomes_pass() -> None:
    output, outcome = port("import torch\ndef setup():\n"
                           "    torch.backends.cudnn.benchmark = True\n")
    assert output == "import torch\ndef setup():\n    pass\n"
    assert len(outcome.findings) == 1


def test_comments_survive_removal() -> None:
    output, _ = port("import torch\nx = 1\n# autotune convolutions\n"
                     "torch.backends.cudnn.benchmark = True\ny = 2\n"
                     "torch.backends.cudnn.enabled = True  # keep cuDNN on\n")
    assert output == ("import torch\nx = 1\n# autotune convolutions\npass\ny = 2\n"
                      "pass  # keep cuDNN on\n")


def test_one_line_suite() -> None:
    output, _ = port("import torch\nif fast: torch.backends.cudnn.benchmark = True\n")
    assert output == "import torch\nif fast: pass\n"


def test_deterministic_forms() -> None:
    output, outcome = port("import torch\ntorch.backends.cudnn.deterministic = False\n"
                           "torch.backends.cudnn.deterministic = cfg.deterministic\nz = 0\n",
                           unsafe_fixes=True)
    assert output == ("import torch\n"
                      "torch.use_deterministic_algorithms(cfg.deterministic, warn_only=True)\n"
                      "z = 0\n")
    assert len(outcome.findings) == 2


def test_alias_without_torch_is_reported() -> None:
    source = "from torch.backends import cudnn\ncudnn.deterministic = True\n"
    output, outcome = port(source)
    assert output == source and len(outcome.findings) == 1


def test_chained_assignment_is_reported_not_removed() -> None:
    source = "import torch\nflag = torch.backends.cudnn.benchmark = True\n"
    output, outcome = port(source)
    assert output == source and "together with other names" in outcome.findings[0].message


def test_hf32_edit_marks_the_module_for_torch_npu() -> None:
    output, _ = port("import torch\ntorch.backends.cuda.matmul.allow_tf32 = False\n",
                     select=("NPU013", "NPU009"))
    assert output == "import torch\nimport torch_npu\ntorch.npu.matmul.allow_hf32 = False\n"
