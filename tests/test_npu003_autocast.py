"""NPU003 beyond its examples: the token2wav decorators, argument order, shadowing, findings."""

from __future__ import annotations

import inspect

import libcst as cst
import pytest

from covo_port.model import Severity
from covo_port.rewrites.npu003_autocast import _CUDA_POSITIONAL

from .conftest import run_rules

# Our own fixture showing the upstream's three decorators: two methods and one function.
ATTENTION = '''import math
import torch
import torch.nn as nn


class Rotary(nn.Module):
    @torch.autocast(enabled = False, device_type="cuda")
    def forward(self, t):
        return t.float()


class Alibi(nn.Module):
    @torch.autocast(enabled = False, device_type="cuda")   # stay in fp32
    def forward(self, length):
        return torch.arange(length) * math.pi


@torch.autocast(enabled = False, device_type="cuda")
def rotate(pos, t):
    return t * pos.cos()
'''


def rewrite(source: str, *rules: str) -> tuple[str, object]:
    outcome = run_rules(source, select=rules or ("NPU003",))
    assert outcome.error is None
    return outcome.output(source.encode()).decode(), outcome


def test_the_three_decorators_name_the_npu_and_nothing_else_changes() -> None:
    output, outcome = rewrite(ATTENTION)
    assert output == ATTENTION.replace('device_type="cuda"', 'device_type="npu"')
    assert [c.line for c in outcome.changes] == [7, 13, 18]
    assert {(c.before, c.after) for c in outcome.changes} == {('"cuda"', '"npu"')}
    assert outcome.findings == []


def test_the_module_then_imports_torch_npu() -> None:
    output, _ = rewrite(ATTENTION, "NPU003", "NPU009")
    assert output.count("import torch_npu\n") == 1
    assert "import torch\nimport torch_npu\nimport torch.nn as nn\n" in output


def test_second_apply_changes_nothing() -> None:
    once, _ = rewrite(ATTENTION, "NPU003", "NPU009")
    twice, outcome = rewrite(once, "NPU003", "NPU009")
    assert twice == once and not outcome.changed


def test_cuda_amp_positional_arguments_are_passed_by_keyword() -> None:
    source = ("import torch\n"
              "with torch.cuda.amp.autocast(False, torch.bfloat16, True):\n    pass\n")
    output, _ = rewrite(source)
    assert output == ('import torch\nwith torch.amp.autocast("npu", enabled=False, '
                      "dtype=torch.bfloat16, cache_enabled=True):\n    pass\n")


def test_keyword_names_follow_torch_cuda_amp_autocast() -> None:
    torch = pytest.importorskip("torch")
    params = list(inspect.signature(torch.cuda.amp.autocast.__init__).parameters)[1:]
    assert tuple(params[:len(_CUDA_POSITIONAL)]) == _CUDA_POSITIONAL
    assert "dtype" in inspect.signature(torch.amp.autocast.__init__).parameters


def test_multi_line_call_keeps_comments_and_layout() -> None:
    source = ("import torch\n"
              "def step(model, x):\n"
              "    with torch.cuda.amp.autocast(  # half precision\n"
              "        enabled=True,   # on by default\n"
              "        dtype=torch.float16,\n"
              "    ) as ctx:\n"
              "        return model(x)\n")
    output, _ = rewrite(source)
    assert output == ("import torch\n"
                      "def step(model, x):\n"
                      "    with torch.amp.autocast(  # half precision\n"
                      '        "npu",\n'
                      "        enabled=True,   # on by default\n"
                      "        dtype=torch.float16,\n"
                      "    ) as ctx:\n"
                      "        return model(x)\n")
    cst.parse_module(output)


def test_from_import_moves_to_torch_amp_and_keeps_the_local_name() -> None:
    source = ("import torch as T\nfrom torch.cuda.amp import autocast as ac\n"
              "@ac()\ndef f():\n    pass\n")
    output, _ = rewrite(source)
    assert output == ("import torch as T\nfrom torch.amp import autocast as ac\n"
                      '@ac("npu")\ndef f():\n    pass\n')
    assert rewrite(output)[0] == output


def test_from_import_without_torch_needs_no_torch_name() -> None:
    source = "from torch.cuda.amp import autocast\nwith autocast(enabled=False):\n    pass\n"
    output, outcome = rewrite(source)
    assert output == ('from torch.amp import autocast\n'
                      'with autocast("npu", enabled=False):\n    pass\n')
    assert outcome.findings == []


def test_shadowed_names_and_other_strings_are_left_alone() -> None:
    source = ("import torch\n"
              "from torch import autocast\n"
              "def run(torch):\n"
              "    with torch.autocast('cuda'):\n        pass\n"
              "def other():\n"
              "    def autocast(device_type):\n        return device_type\n"
              "    return autocast('cuda'), autocast(device_type='cuda')\n"
              "print('cuda', 'autocast on cuda')\n"
              "with torch.autocast('cpu', dtype=torch.bfloat16):\n    pass\n")
    output, outcome = rewrite(source)
    assert output == source
    assert outcome.findings == []


def test_nested_autocasts_are_each_rewritten() -> None:
    source = ("import torch\n"
              "with torch.autocast('cuda', enabled=torch.autocast('cuda').fast_dtype is None):\n"
              "    pass\n")
    output, _ = rewrite(source)
    assert output.count("'npu'") == 2 and "cuda" not in output


def test_computed_device_types_are_reported_not_guessed() -> None:
    source = ("import torch\n"
              "def f(x, dev):\n"
              "    with torch.autocast(device_type=x.device.type):\n        pass\n"
              "    with torch.amp.autocast(dev):\n        pass\n")
    output, outcome = rewrite(source)
    assert output == source
    assert [(f.line, f.severity) for f in outcome.findings] == [
        (3, Severity.WARNING), (5, Severity.WARNING)]
    assert all('"npu"' in f.message for f in outcome.findings)


def test_no_torch_name_to_write_the_replacement_is_reported() -> None:
    source = "import torch.cuda.amp as amp\nwith amp.autocast(enabled=True):\n    pass\n"
    output, outcome = rewrite(source)
    assert output == source
    assert len(outcome.findings) == 1 and "import torch" in outcome.findings[0].message
