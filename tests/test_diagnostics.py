"""NPU017 (torch APIs torch_npu 2.8 does not support) and the NPU1xx diagnostics, beyond their
own examples: qualified names, shadowing, the overlap with other rules, shell, help text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.model import Finding, Severity
from covo_port.registry import all_rules, get_rule
from covo_port.rewrites.npu017_unsupported_apis import (
    OWNERS,
    normalize,
    owner,
    raw_table,
    unsupported,
)

from .conftest import SHARED, run_rules

DIAGNOSTICS = [f"NPU1{n:02d}" for n in range(1, 11)]


def findings(source: str, rule: str, path: str = "example.py",
             also: tuple[str, ...] = ()) -> list[Finding]:
    outcome = run_rules(source, path=path, select=(rule, *also))
    assert outcome.error is None
    return [f for f in outcome.findings if f.rule == rule]


# -- NPU017: the table ---------------------------------------------------------------------------
def test_table_has_the_240_entries_of_torch_npu_2_8() -> None:
    table = raw_table()
    assert len(table) == 240
    names = {normalize(name) for name in table}
    # one entry is a bare method name, "to_sparse", beside torch.Tensor.to_sparse: 239 APIs
    assert [n for n in table if not n.startswith("torch.")] == ["to_sparse"]
    assert len(names) == 239 and "torch.Tensor.to_sparse" in names
    assert all(n.startswith("torch.") for n in names)
    owned = {n for n in names if owner(n)}
    assert unsupported() == names - owned
    assert len(owned) == 7  # 3 torch.cuda, 2 backend flags, sdp_kernel, emit_nvtx


def test_table_is_the_one_huawei_ships() -> None:
    reference = SHARED / "reference" / "ascend" / "op_list_2_8.json"
    if not reference.is_file():
        pytest.skip("../shared/reference is not here")
    assert json.loads(reference.read_text())["op_list"] == raw_table()


OWNED_USES = {
    "torch.cuda.memory_usage": "import torch\ntorch.cuda.memory_usage(0)\n",
    "torch.cuda.comm.scatter": "import torch\ntorch.cuda.comm.scatter(x, [0, 1])\n",
    "torch.cuda.comm.gather": "import torch\ntorch.cuda.comm.gather(xs)\n",
    "torch.backends.cudnn.benchmark_limit":
        "import torch\nn = torch.backends.cudnn.benchmark_limit\n",
    "torch.backends.cuda.preferred_linalg_library":
        "import torch\ntorch.backends.cuda.preferred_linalg_library('magma')\n",
    "torch.backends.cuda.sdp_kernel":
        "import torch\nwith torch.backends.cuda.sdp_kernel(enable_math=True):\n    pass\n",
    "torch.autograd.profiler.emit_nvtx":
        "import torch\nwith torch.autograd.profiler.emit_nvtx():\n    pass\n",
}


@pytest.mark.parametrize("name", sorted(OWNED_USES))
def test_entries_left_to_another_rule_are_handled_by_it(name: str) -> None:
    rule = owner(name)
    assert rule is not None and normalize(name) in {normalize(n) for n in raw_table()}
    outcome = run_rules(OWNED_USES[name], select=(rule, "NPU017"))
    assert outcome.changed or any(f.rule == rule for f in outcome.findings)
    assert not [f for f in outcome.findings if f.rule == "NPU017"]


def test_owners_are_real_rules() -> None:
    for _, rule in OWNERS:
        assert get_rule(rule).id == rule


# -- NPU017: uses ---------------------------------------------------------------------------------
@pytest.mark.parametrize("source", [
    "import torch\ny = torch.fft.fftshift(x)\n",
    "import torch.fft as F\ny = F.fftshift(x)\n",
    "from torch.fft import fftshift\ny = fftshift(x)\n",
    "from torch.fft import fftshift as shift\ny = shift(x)\n",
    "from torch import fft\ny = fft.fftshift(x)\n",
    "import torch as th\ny = th.fft.fftshift(x)\n",
])
def test_unsupported_call_found_through_any_import(source: str) -> None:
    [finding] = findings(source, "NPU017")
    assert finding.line == 2 and finding.severity is Severity.WARNING
    assert "torch.fft.fftshift" in finding.message and "unsupported" in finding.message


def test_decorators_bases_and_values_are_uses_types_are_not() -> None:
    source = (
        "import torch\nfrom torch import nn\n"
        "@torch.compiler.disable\n"            # 3: decorator
        "def f(m: nn.GRU) -> nn.GRU:\n"        # annotations: no
        "    return m\n"
        "class R(nn.RNN):\n"                  # 6: base class
        "    pass\n"
        "pool = torch.nn.functional.max_pool1d\n"  # 8: a value
        "ok = isinstance(m, (nn.GRU, nn.LSTM))\n"   # isinstance: no
    )
    assert [f.line for f in findings(source, "NPU017")] == [3, 6, 8]


def test_a_local_torch_is_not_torch() -> None:
    source = ("def f(torch, F):\n    return torch.fft.fftshift(x), F.max_pool1d(x)\n"
              "fftshift = lambda x: x\nfftshift(1)\n")
    assert findings(source, "NPU017") == []


def test_tensor_methods_only_where_the_object_is_certainly_a_tensor() -> None:
    source = (
        "import torch\n"
        "a = torch.randn(4, 4)\n"
        "a.to_sparse()\n"                      # 3: a is only ever a tensor
        "b = torch.randn(4)\nb = load()\n"
        "b.to_sparse()\n"                      # b is reassigned: not certain
        "def f(x: torch.Tensor, y):\n"
        "    x.to_dense()\n"                   # 8: annotated parameter
        "    y.to_dense()\n"                   # unknown
        "    return torch.arange(5).unique_consecutive()\n"  # 10: a factory's result
        "torch.Tensor.chalf(a)\n"              # 11: the method through the class
    )
    assert [f.line for f in findings(source, "NPU017")] == [3, 8, 10, 11]


def test_methods_of_other_classes_need_their_constructor() -> None:
    source = ("import torch\nopt = torch.optim.Adam(params)\nopt.step()\n"
              "sgd = torch.optim.SGD(params)\nsgd.step()\nself.opt.step()\n")
    [finding] = findings(source, "NPU017")
    assert finding.line == 3 and "torch.optim.Adam.step" in finding.message


def test_cpp_extension_load_goes_to_npu107_when_it_builds_cuda() -> None:
    source = ("from torch.utils.cpp_extension import load\n"
              "cpu = load(name='a', sources=['a.cpp'])\n"
              "gpu = load(name='b', sources=['b.cpp', 'b_kernel.cu'])\n")
    outcome = run_rules(source, select=("NPU017", "NPU107"))
    assert [(f.rule, f.line) for f in outcome.findings] == [("NPU017", 2), ("NPU107", 3)]


# -- NPU1xx --------------------------------------------------------------------------------------
def test_each_diagnostic_is_registered_with_help_that_renders() -> None:
    ids = {r.id for r in all_rules()}
    runner = CliRunner()
    for rule_id in DIAGNOSTICS:
        assert rule_id in ids
        rule = get_rule(rule_id)
        shown = runner.invoke(main, ["rules", rule_id])
        assert shown.exit_code == 0, shown.output
        assert shown.output.startswith(f"{rule_id}: {rule.summary}")
        assert "finding(s) reported" in shown.output  # its examples say what they report
        assert rule.handles_python()
    assert get_rule("NPU108").handles_shell()


def test_imports_are_resolved_not_matched_as_text() -> None:
    source = ("import triton as tr\n"
              "@tr.jit\ndef k(x):\n    pass\n"
              "triton = Settings()\n"
              "@triton.jit\ndef not_a_kernel(x):\n    pass\n"
              "print(k)\n")  # not a module of Triton kernels only (those are not rewritten)
    assert [f.line for f in findings(source, "NPU101")] == [1, 2]


def test_triton_launch_needs_a_kernel_of_the_same_file() -> None:
    source = ("import triton\n"
              "@triton.jit\ndef kern(x):\n    pass\n"
              "table = {}\n"
              "kern[(1,)](x)\n"
              "table[(1,)](x)\n")
    lines = [f.line for f in findings(source, "NPU101")]
    assert lines == [1, 2, 6]


def test_guarded_imports_are_info_and_name_the_fallback() -> None:
    source = ("from transformers.utils import is_flash_attn_2_available\n"
              "if is_flash_attn_2_available():\n"
              "    from flash_attn import flash_attn_func\n"
              "def attend(q, k, v):\n"
              "    return flash_attn_func(q, k, v)\n")
    imported, called = findings(source, "NPU102")
    assert imported.severity is Severity.INFO and "optional import" in imported.message
    assert called.severity is Severity.WARNING
    assert "torch_npu.npu_fusion_attention" in called.message


def test_apex_advice_is_specific_to_the_name() -> None:
    source = ("from apex.optimizers import FusedLAMB\n"
              "from apex.parallel import DistributedDataParallel as DDP\n")
    lamb, ddp = findings(source, "NPU104")
    assert "torch_npu.optim.NpuFusedLamb" in lamb.message
    assert "hccl" in ddp.message


@pytest.mark.parametrize(("source", "count"), [
    ("import subprocess as sp\nsp.run(['nvidia-smi', '-L'])\n", 1),
    ("import os\nos.popen('nvidia-smi --query-gpu=name --format=csv').read()\n", 1),
    ("import subprocess\nsubprocess.run(['bash', '-c', 'nvidia-smi | grep MiB'])\n", 1),
    ("import subprocess\nCMD = ['nvidia-smi', '-q']\ndef f():\n    subprocess.run(CMD)\n", 1),
    ("import subprocess\nsubprocess.run(['nvidia-smi-wrapper'])\n", 0),
    ("import subprocess\nsubprocess.run(cmd)\n", 0),
    ("raise RuntimeError('nvidia-smi failed')\n", 0),
])
def test_nvidia_smi_in_python(source: str, count: int) -> None:
    assert len(findings(source, "NPU108")) == count


def test_nvidia_smi_in_shell() -> None:
    script = (
        "#!/bin/sh\n"
        "# nvidia-smi is checked below\n"          # comment: no
        "if nvidia-smi > /dev/null 2>&1; then\n"   # 3
        "  N=`nvidia-smi -L | wc -l`\n"             # 4 (backticks)
        "fi\n"
        "printf 'no nvidia-smi\\n'\n"              # message: no
        "watch -n 1 /usr/bin/nvidia-smi\n"          # 7
        "cat <<'EOF'\nnvidia-smi\nEOF\n"            # here-document text: no
    )
    assert [f.line for f in findings(script, "NPU108", path="check.sh")] == [3, 4, 7]


def test_compile_via_dynamo_optimize() -> None:
    source = ("import torch._dynamo as dynamo\n"
              "m = dynamo.optimize('cudagraphs')(model)\n"
              "n = dynamo.optimize('inductor')(model)\n"
              "import torch._inductor.config as cfg\ncfg.max_autotune = False\n")
    assert [f.line for f in findings(source, "NPU109")] == [2]


def test_legacy_cuda_types_rewritten_by_npu010_are_not_reported_again() -> None:
    source = ("import torch\n"
              "y = x.type(torch.cuda.FloatTensor)\n"
              "ok = isinstance(y, torch.cuda.HalfTensor)\n")
    outcome = run_rules(source, select=("NPU010", "NPU110"))
    assert outcome.changed and "torch.npu.FloatTensor" in outcome.output(source.encode()).decode()
    assert [f for f in outcome.findings if f.rule == "NPU110"] == []


def test_double_tensor_of_torch_cuda_reported_even_after_npu010() -> None:
    source = "import torch\nw = torch.cuda.DoubleTensor(3)\n"
    outcome = run_rules(source, select=("NPU010", "NPU110"))
    assert "torch.npu.DoubleTensor" in outcome.output(source.encode()).decode()
    [finding] = [f for f in outcome.findings if f.rule == "NPU110"]
    assert "float64" in finding.message


def test_covo_mini_and_its_shell_scripts_raise_no_diagnostic() -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "covo_mini"
    select = ("NPU017", *DIAGNOSTICS)
    for path in sorted([*root.rglob("*.py"), *root.rglob("*.sh")]):
        outcome = run_rules(path.read_bytes(), path=path.name, select=select)
        assert outcome.findings == [], path


def test_a_subscripted_builtin_called_is_not_a_kernel_launch() -> None:
    source = ("import triton\n\n"
              "@triton.jit\n"
              "def kernel(x):\n"
              "    pass\n\n"
              "sizes = tuple[int, ...](x)\n"
              "kernel[(1,)](y)\n")
    assert [f.line for f in findings(source, "NPU101")] == [1, 3, 8]
