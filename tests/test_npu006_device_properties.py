"""NPU006: compute-capability tests folded for a device without CUDA (capability 0.0)."""

from __future__ import annotations

import itertools

import libcst as cst
import pytest
import torch

from covo_port.rewrites.npu006_device_properties import NOTE

from .conftest import run_rules
from .gitrepo import FIXTURE

ATTENTION = FIXTURE / "token2wav" / "modules" / "attentions" / "multihead_attention.py"


def _port(source: str, *rules: str) -> str:
    outcome = run_rules(source, select=rules or ("NPU006",))
    assert outcome.error is None
    return outcome.output(source.encode()).decode()


def test_attention_builds_without_cuda_and_takes_the_non_sm80_path() -> None:
    """The fixture's attention module, ported with NPU001 too, builds on a host with no CUDA
    (this one); the original cannot."""
    source = ATTENTION.read_text()
    assert not torch.cuda.is_available()
    ported = _port(source, "NPU001", "NPU006")
    assert "get_device_properties" not in ported and "torch.device(" not in ported
    assert "is_npu" in ported
    for code, builds in ((source, False), (ported, True)):
        namespace: dict[str, object] = {}
        exec(compile(code.replace("from .utils import rotate", "rotate = None"), "m", "exec"),
             namespace)
        attention = namespace["SelfAttention"]
        if not builds:
            with pytest.raises((RuntimeError, AssertionError)):
                attention(16)
            continue
        layer = attention(16)
        assert layer.cuda_kernels == namespace["Kernels"](False, True, True)


@pytest.mark.parametrize(("op", "k"), list(itertools.product(
    ["==", "!=", "<", "<=", ">", ">="], [0, 7, 8])))
def test_every_comparison_is_decided_as_for_capability_zero(op: str, k: int) -> None:
    source = ("import torch\n"
              "p = torch.cuda.get_device_properties(0)\n"
              f"if p.major {op} {k}:\n    x = 'yes'\nelse:\n    x = 'no'\n")
    expected = "yes" if eval(f"0 {op} {k}") else "no"
    assert _port(source) == f"import torch\n{NOTE}\nx = '{expected}'\n"


def test_capability_tuples_chains_and_nested_functions() -> None:
    source = (
        "import torch as th\n\n\n"
        "def pick(x):\n"
        "    cap = th.cuda.get_device_capability(x.device)\n"
        "    # which kernel\n"
        "    if x.ndim > 3:\n"
        "        kind = 'batched'\n"
        "    elif cap >= (9, 0):\n"
        "        kind = 'hopper'\n"
        "    elif not (cap[0] == 8 or cap[1] > 5):\n"
        "        kind = 'generic'\n"
        "    else:\n"
        "        kind = 'ampere'\n"
        "    return kind\n"
    )
    assert _port(source) == (
        "import torch as th\n\n\n"
        "def pick(x):\n"
        "    # which kernel\n"
        f"    {NOTE}\n"
        "    if x.ndim > 3:\n"
        "        kind = 'batched'\n"
        "    else:\n"
        "        kind = 'generic'\n"
        "    return kind\n"
    )


def test_a_block_left_empty_gets_pass_and_one_liners_fold() -> None:
    source = ("import torch\n"
              "def f():\n"
              "    props = torch.cuda.get_device_properties(0)\n"
              "    if props.major >= 8: enable_tf32()\n"
              "def g():\n"
              "    if torch.cuda.get_device_capability()[0] < 8: x = 1; y = 2\n"
              "    return x + y\n")
    ported = _port(source)
    assert ported == ("import torch\n"
                      "def f():\n"
                      f"    {NOTE}\n"
                      "    pass\n"
                      "def g():\n"
                      f"    {NOTE}\n"
                      "    x = 1; y = 2\n"
                      "    return x + y\n")
    cst.parse_module(ported)


def test_mixed_tests_and_other_uses_are_reported_and_left() -> None:
    source = ("import torch\n"
              "major, minor = torch.cuda.get_device_capability()\n"
              "if major >= 8 and use_flash:\n    pass\n"
              "while torch.cuda.get_device_capability()[0] < 8:\n    break\n"
              "props = torch.cuda.get_device_properties(0)\n"
              "props = None\n")
    outcome = run_rules(source, select=("NPU006",))
    assert not outcome.changed
    lines = sorted(f.line for f in outcome.findings)
    assert lines == [2, 5, 7]
    assert all("raises without a CUDA device" in f.message for f in outcome.findings)


def test_local_name_that_is_not_torch_is_left_alone() -> None:
    source = ("class cuda:\n"
              "    @staticmethod\n"
              "    def get_device_properties(i):\n"
              "        return i\n"
              "p = cuda.get_device_properties(0)\n"
              "if p.major == 8:\n    pass\n")
    outcome = run_rules(source, select=("NPU006",))
    assert not outcome.changed and not outcome.findings
