"""Never worse than the source (issue: "Never make code worse"): each class of defect seen on
real repositories, on fixtures of the project's own, ported and then executed: a function that
ran on the CPU before the port must not raise on a (simulated) Ascend host after it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .ascend import port, run_before_and_after

pytest.importorskip("torch")


def _rules(findings: list, rule: str) -> list[str]:
    return [f.message for f in findings if f.rule == rule]


# -- 1. half-ported expressions ------------------------------------------------------------------
HALF = '''
import torch


def pick_dtype(device="cuda"):
    if "cuda" in device and torch.cuda.get_device_capability(device)[0] >= 8 and not (
            torch.cuda.get_device_name().startswith("X")):
        return torch.bfloat16
    return torch.float32


def fast_path(device="cuda"):
    return device == "cuda" and torch.cuda.get_device_capability()[0] >= 8
'''


def test_a_condition_is_ported_whole_or_left_whole(tmp_path: Path) -> None:
    run = run_before_and_after(HALF, ["pick_dtype('cpu')", "fast_path('cpu')"], tmp_path)
    assert not run.raised_after_only(), run.ported
    assert "torch.npu.get_device_name" not in run.ported  # the test is left whole
    assert run.after["pick_dtype('cpu')"] == {"value": "torch.float32"}
    assert any("left whole" in m for m in _rules(run.findings, "NPU010") + _rules(
        run.findings, "NPU001")), [f.message for f in run.findings]


# -- 3. probes that pick a CUDA-only path ----------------------------------------------------------
PROBES = '''
import torch
import triton


@triton.jit
def _relu_kernel(x_ptr, n):
    pass


def relu(x):
    if x.is_cuda:
        out = torch.empty_like(x)
        _relu_kernel[(1,)](x, x.numel())
        return out
    return torch.relu(x)


def relu_early(x):
    if not x.device.type == "cuda":
        return torch.relu(x)
    return _relu_kernel[(1,)](x, x.numel())


def move(x):
    return x.cuda() if torch.cuda.is_available() else x


USE_TRITON = torch.cuda.is_available()


def relu_flag(x):
    if USE_TRITON:
        return _relu_kernel[(1,)](x, x.numel())
    return torch.relu(x)
'''


def test_a_probe_that_guards_a_triton_kernel_is_left(tmp_path: Path) -> None:
    pytest.importorskip("triton")
    calls = ["relu(torch.tensor([-1.0, 2.0]).to('npu' if hasattr(torch, 'npu') else 'cpu'))",
             "relu_early(torch.tensor([-1.0, 2.0]).to('npu' if hasattr(torch, 'npu') else 'cpu'))",
             "relu_flag(torch.tensor([-1.0, 2.0]))",
             "move(torch.ones(1)).device.type"]
    run = run_before_and_after(PROBES, calls, tmp_path)
    assert not run.raised_after_only(), run.ported
    assert "if x.is_cuda:" in run.ported and 'if not x.device.type == "cuda":' in run.ported
    assert "USE_TRITON = torch.cuda.is_available()" in run.ported
    # a probe that guards only NPU-safe code is switched: the tensor moves to the NPU
    assert "x.npu() if torch.npu.is_available() else x" in run.ported
    assert run.after["move(torch.ones(1)).device.type"] == {"value": "npu"}
    assert run.after[calls[0]] == {"value": ["tensor", "torch.float32", [0.0, 2.0]]}
    assert len([m for m in _rules(run.findings, "NPU001") if "CUDA-free path" in m]) == 2


def test_a_probe_that_guards_only_npu_safe_code_is_switched() -> None:
    source = b"import torch\ndef sync(x):\n    if x.is_cuda:\n        torch.cuda.synchronize()\n"
    output = port(source.decode()).output(source).decode()
    assert "if x.is_npu:\n        torch.npu.synchronize()" in output


# -- 4. modules that exist for a CUDA-only runtime ---------------------------------------------
@pytest.mark.parametrize("source", [
    "import tensorrt as trt\nimport torch\n\nclass Engine:\n"
    "    def __init__(self, path):\n        self.device = torch.device('cuda:0')\n"
    "        self.stream = torch.cuda.current_stream().cuda_stream\n",
    "from vllm import LLM\n\nllm = LLM('m', device='cuda')\n",
    "import transformer_engine.pytorch as te\nimport torch\nlayer = te.Linear(8, 8).cuda()\n",
    "import torch\nimport triton\nimport triton.language as tl\n\n\n@triton.jit\n"
    "def k(x_ptr, n: tl.constexpr):\n    pass\n\n\ndef run(x):\n"
    "    k[(1,)](x, x.numel())\n    return x.cuda()\n",
], ids=["tensorrt", "vllm", "transformer_engine", "triton-only"])
def test_a_module_for_a_cuda_only_runtime_is_one_finding_and_no_edit(source: str) -> None:
    outcome = port(source)
    assert not outcome.changed
    (finding,) = outcome.findings
    assert finding.rule == "NPU000" and "nothing in it is rewritten" in finding.message


def test_an_optional_runtime_import_does_not_stop_the_port() -> None:
    source = ("import torch\ntry:\n    import tensorrt\nexcept ImportError:\n"
              "    tensorrt = None\nx = torch.zeros(1, device='cuda')\n")
    outcome = port(source)
    assert outcome.changed and "device='npu'" in outcome.output(source.encode()).decode()


# -- 2. device strings given to libraries that are not torch -------------------------------------
#: a stand-in for faster_whisper (CTranslate2 knows "cpu", "cuda" and "auto" only)
FASTER_WHISPER = '''
class WhisperModel:
    def __init__(self, size, device="auto"):
        if device not in ("cpu", "cuda", "auto"):
            raise ValueError(f"unsupported device {device}")
        self.device = device
'''
FOREIGN = '''
import torch
from faster_whisper import WhisperModel


def transcriber(asr_device="cuda"):
    fallback = "cpu" if not torch.cuda.is_available() else asr_device
    return WhisperModel("small", device=fallback).device


def tensor(device="cuda"):
    device = device if torch.cuda.is_available() else "cpu"
    return torch.zeros(2, device=device).device.type
'''


def test_a_device_given_to_a_library_that_is_not_torch_is_left(tmp_path: Path) -> None:
    run = run_before_and_after(FOREIGN, ["transcriber()", "tensor()"], tmp_path,
                               modules={"faster_whisper": FASTER_WHISPER})
    assert not run.raised_after_only(), run.ported
    assert 'def transcriber(asr_device="cuda")' in run.ported
    assert run.after["tensor()"] == {"value": "npu"}  # torch's own device is ported
    assert any("faster-whisper" in m for m in _rules(run.findings, "NPU001"))


# -- 5. the same thing treated the same way --------------------------------------------------------
SAME = '''
import os
import torch
import click


@click.command()
@click.option("--device", default="cuda")
def main(device):
    return device


@click.command()
@click.option("--device", "-d", default="cuda")  # named by its long flag, as click does
def short(device):
    return device


def to_device(model, device="cuda"):
    index = None
    if isinstance(device, str) and device.startswith("cuda"):  # a test, like ==
        index = [] if device == "cuda" else [int(device.split(":")[-1])]
    return model.to(device=device) if index is None else model.cuda(*index)


def child_env(rank):
    env = os.environ.copy()
    env["CUDA_VISIBLE_DEVICES"] = str(rank)
    return sorted(k for k in env if k.endswith("VISIBLE_DEVICES"))


def load(state, device="cuda"):
    map_location = "cpu" if device in ("cpu", "mps") else None
    return torch.load(state, map_location=map_location)


SAVED = "saved.pt"
'''


def test_options_environments_and_map_location_are_ported_alike(tmp_path: Path) -> None:
    import torch

    saved = tmp_path / "saved.pt"
    torch.save({"w": torch.ones(2)}, saved)
    calls = ["main.main(args=[], standalone_mode=False)", "child_env(0)",
             f"load({str(saved)!r})['w'].device.type",
             "short.main(args=[], standalone_mode=False)",
             "to_device(torch.ones(1)).device.type"]
    run = run_before_and_after(SAME, calls, tmp_path)
    assert not run.raised_after_only(), run.ported
    assert run.after[calls[0]] == run.after[calls[3]] == run.after[calls[4]] == {"value": "npu"}
    assert run.after["child_env(0)"] == {"value": ["ASCEND_RT_VISIBLE_DEVICES"]}
    assert run.after[calls[2]] == {"value": "cpu"}


# -- 6. names that merely contain cuda -------------------------------------------------------------
def test_a_package_named_cuda_is_not_a_cuda_attribute() -> None:
    source = ("import torch\nfrom kernels.cuda import activation\nimport kernels.cuda as kc\n"
              "import kernels.cuda\ny = kernels.cuda.activation(torch.ones(1))\n")
    outcome = port(source)
    assert not outcome.changed and outcome.findings == []


# -- 11. import torch_npu where the program starts ----------------------------------------------
def _tree(root: Path) -> None:
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "__init__.py").write_text("")
    (root / "lib" / "model.py").write_text(
        "import torch\n\n\ndef zeros(device='cuda'):\n    return torch.zeros(2, device=device)\n")
    (root / "run.py").write_text(
        "import torch\nfrom lib.model import zeros\n\nif __name__ == '__main__':\n"
        "    print(zeros().device.type)\n")


@pytest.mark.parametrize("style", ["entry", "guarded"])
def test_a_ported_library_still_imports_without_torch_npu(tmp_path: Path, style: str) -> None:
    import subprocess
    import sys

    from covo_port.model import ImportStyle, RunOptions, get_target
    from covo_port.pipeline.run import apply_tree
    from covo_port.verify.emulation import shim_path

    _tree(tmp_path / "src")
    out = tmp_path / "out"
    apply_tree(tmp_path / "src", out, get_target("npu"),
               RunOptions(import_style=ImportStyle(style)), jobs=1)
    library = (out / "lib" / "model.py").read_text()
    assert ("torch_npu" not in library) if style == "entry" else ("except ImportError" in library)
    assert "import torch_npu" in (out / "run.py").read_text()
    # a CPU user of the library: no torch_npu installed, and the module imports
    cpu = subprocess.run([sys.executable, "-c", "import lib.model"], cwd=out,
                         capture_output=True, text=True)
    assert cpu.returncode == 0, cpu.stderr
    # the program on a (simulated) Ascend host: the entry registers the NPU
    env = {"PYTHONPATH": f"{shim_path()}:{Path(__file__).resolve().parents[1]}",
           "PATH": "/usr/bin:/bin"}
    npu = subprocess.run([sys.executable, "-c",
                          "from covo_port.verify import emulation; emulation.install(); "
                          "import runpy; runpy.run_path('run.py', run_name='__main__')"],
                         cwd=out, capture_output=True, text=True, env=env)
    assert npu.returncode == 0 and npu.stdout.strip() == "npu", npu.stderr


def test_a_name_that_reads_itself_is_followed_once() -> None:
    source = ("import torch\nimport triton\nuse = torch.cuda.is_available()\n"
              "use = use and HAVE\nif use:\n    k[(1,)](x)\n")
    assert port(source).error is None


def test_names_that_feed_each_other_are_followed_once_each() -> None:
    # each assignment reads the name twice: following every path would take 2**40 steps
    lines = ["import torch", "import triton", "@triton.jit", "def k(x):", "    pass",
             "use = torch.cuda.is_available()"]
    lines += ["use = use and use"] * 40
    lines += ["if use:", "    k[(1,)](x)"]
    outcome = port("\n".join(lines) + "\n")
    assert outcome.error is None and "use = torch.cuda.is_available()" in outcome.output(
        ("\n".join(lines) + "\n").encode()).decode()


# -- 3, continued: what a probe guards, followed into the module's own functions and into
# libraries with their own devices ------------------------------------------------------------
CALLED = '''
import torch
import triton


@triton.jit
def _kernel(x_ptr):
    pass


def _fused(x):
    _kernel[(1,)](x)
    return x


def act(x):
    if not x.is_cuda:
        return torch.relu(x)
    return _fused(x)


def load(name, load_8bit=False):
    if torch.cuda.is_available():
        return dict(name=name, load_in_8bit=load_8bit, device_map="auto")
    return dict(name=name)
'''


def test_a_probe_guarding_a_call_of_cuda_only_code_is_left(tmp_path: Path) -> None:
    pytest.importorskip("triton")
    calls = ["act(torch.tensor([-1.0, 2.0]).to('npu' if hasattr(torch, 'npu') else 'cpu'))",
             "load('m', True)"]
    run = run_before_and_after(CALLED, calls, tmp_path)
    assert not run.raised_after_only(), run.ported
    assert "if not x.is_cuda:" in run.ported
    assert "if torch.cuda.is_available():\n        return dict(name=name, load_in_8bit" in (
        run.ported)
    assert run.after[calls[1]] == run.before[calls[1]]


def test_a_statement_is_ported_whole() -> None:
    source = ("import pytest, torch\nDEVICES = [pytest.param('cuda', marks=pytest.mark.skip("
              "'needs CUDA') if not torch.cuda.is_available() else [])]\n")
    output = port(source).output(source.encode()).decode()
    assert "torch.cuda.is_available()" in output  # the "cuda" case is still skipped


def test_a_probe_in_front_of_another_module_s_kernels_is_left(tmp_path: Path) -> None:
    import subprocess
    import sys

    from covo_port.model import RunOptions, get_target
    from covo_port.pipeline.run import apply_tree
    from covo_port.verify.emulation import shim_path

    src = tmp_path / "src"
    (src / "pkg" / "kernels").mkdir(parents=True)
    for folder in ("pkg", "pkg/kernels"):
        (src / folder / "__init__.py").write_text("")
    (src / "pkg" / "kernels" / "entropy.py").write_text(
        "import triton\n\n\ndef entropy_from_logits(logits):\n"
        "    raise RuntimeError('a Triton kernel: CUDA only')\n")
    (src / "pkg" / "trainer.py").write_text(
        "import torch\nfrom .kernels.entropy import entropy_from_logits\n\n\n"
        "def entropy(logits):\n    if not logits.is_cuda:\n"
        "        return -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)\n"
        "    return entropy_from_logits(logits)\n")
    (src / "tests").mkdir()
    (src / "tests" / "test_kernels.py").write_text(
        "import pytest\nimport torch\nfrom pkg.kernels.entropy import entropy_from_logits\n\n"
        "pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA')\n")
    out = tmp_path / "out"
    apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    trainer = (out / "pkg" / "trainer.py").read_text()
    assert "if not logits.is_cuda:" in trainer
    assert "not torch.cuda.is_available()" in (out / "tests" / "test_kernels.py").read_text()
    env = {"PYTHONPATH": f"{shim_path()}:{Path(__file__).resolve().parents[1]}",
           "PATH": "/usr/bin:/bin"}
    code = ("from covo_port.verify import emulation; emulation.install(); import torch, "
            "torch_npu; from pkg.trainer import entropy; "
            "print(entropy(torch.zeros(2, 3, device='npu')).device.type)")
    npu = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True, text=True,
                         env=env)
    assert npu.returncode == 0 and npu.stdout.strip() == "npu", npu.stderr


def test_a_device_default_that_may_reach_another_module_s_library_is_unsafe(
        tmp_path: Path) -> None:
    from covo_port.model import RunOptions, get_target
    from covo_port.pipeline.run import apply_tree

    src = tmp_path / "src"
    (src / "tool").mkdir(parents=True)
    (src / "tool" / "__init__.py").write_text("")
    (src / "tool" / "__main__.py").write_text(
        "import argparse\nimport torch\nfrom .asr import load\n\nparser = argparse."
        "ArgumentParser()\nparser.add_argument('--device', default='cuda')\n"
        "parser.add_argument('--asr-device',\n"
        "                    default='cuda' if torch.cuda.is_available() else 'cpu')\n"
        "load(parser.parse_args().device)\nx = torch.zeros(2, device='cuda')\n")
    (src / "tool" / "asr.py").write_text(
        "from faster_whisper import WhisperModel\n\n\ndef load(device):\n"
        "    return WhisperModel('small', device=device)\n")
    out = tmp_path / "out"
    result = apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    main = (out / "tool" / "__main__.py").read_text()
    assert "default='cuda'" in main and "device='npu'" in main
    proposal, _ = [f for f in result.manifest.findings if f.fix is not None]
    assert "faster-whisper" in proposal.message and "tool/asr.py" in proposal.message
    # a probe is not switched to the NPU in front of a value whose rewrite is only proposed:
    # it would hand "cuda" to the NPU host, where the source fell back to "cpu" (whisperX)
    assert "default='cuda' if torch.cuda.is_available() else 'cpu'" in main
    assert any("torch.cuda.is_available -> torch.npu.is_available: not rewritten" in f.message
               for f in result.manifest.findings), result.manifest.findings


# -- corpus review: a probe and its values on one device; dtype fast paths ----------------------
ALIASED = '''
import torch as th


def default_device(device="cuda" if th.cuda.is_available() else "cpu"):
    return device


def compile_backend():
    return "inductor" if th.cuda.is_available() else "aot_eager"


def rotate(t):
    if t.is_cuda and t.dtype == th.float16:
        return th.view_as_real(th.view_as_complex(t.reshape(-1, 2))).reshape_as(t)
    return -t
'''


def test_a_probe_through_an_alias_of_torch_moves_with_its_values(tmp_path: Path) -> None:
    """``import torch as th``: the probe becomes ``th.npu.is_available()`` with its "npu", not
    "npu" behind a CUDA probe (found in demucs)."""
    run = run_before_and_after(ALIASED, ["default_device()"], tmp_path)
    assert '"npu" if th.npu.is_available() else "cpu"' in run.ported
    assert run.after["default_device()"] == {"value": "npu"}


def test_a_probe_that_picks_a_cuda_only_compiler_or_dtype_path_is_left(tmp_path: Path) -> None:
    """TorchInductor's GPU code is Triton for CUDA (fish-speech); ``view_as_complex`` on
    float16 is ComplexHalf, which Ascend's table does not list (rvc's rotary fast path)."""
    calls = ["compile_backend()",
             "rotate(torch.ones(4, dtype=torch.float16).to('npu' if hasattr(torch, 'npu') "
             "else 'cpu')).dtype"]
    run = run_before_and_after(ALIASED.replace("th.", "torch.").replace(
        "import torch as th", "import torch"), calls, tmp_path)
    assert not run.raised_after_only(), run.ported
    assert run.after["compile_backend()"] == {"value": "aot_eager"}
    assert "if t.is_cuda and t.dtype == torch.float16:" in run.ported
    messages = [f.message for f in run.findings]
    assert any("'inductor' asks for TorchInductor" in m for m in messages), messages
    assert any("torch.view_as_complex on float16" in m for m in messages), messages


def test_a_checker_of_kernels_imported_beside_a_script_stays_on_cuda(tmp_path: Path) -> None:
    """A module that puts its folder on sys.path and imports the kernel package beside it
    (``import kernels``: its __init__ re-exports Triton modules), with a checker that says
    when the kernels may run (found in litgpt's thunder executors): the checker stays."""
    from covo_port.model import RunOptions, get_target
    from covo_port.pipeline.run import apply_tree

    src = tmp_path / "src"
    (src / "ext" / "kernels").mkdir(parents=True)
    (src / "ext" / "kernels" / "__init__.py").write_text("from .swiglu import swiglu_kernel\n")
    (src / "ext" / "kernels" / "swiglu.py").write_text(
        "import triton\n\n\ndef swiglu_kernel(e, g):\n    raise RuntimeError('CUDA only')\n")
    (src / "ext" / "executor.py").write_text(
        "import sys\nfrom pathlib import Path\n\nimport torch\n\n"
        "sys.path.append(str(Path(__file__).parent))\nimport kernels\n\n\n"
        "def swiglu_checker(e, g):\n"
        "    return e.device.type == \"cuda\" and g.device.type == \"cuda\"\n\n\n"
        "def swiglu(e, g):\n    return kernels.swiglu_kernel(e, g)\n\n\n"
        "def elsewhere(x):\n    return x.to(\"cuda\")\n")
    out = tmp_path / "out"
    result = apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    executor = (out / "ext" / "executor.py").read_text()
    assert 'e.device.type == "cuda" and g.device.type == "cuda"' in executor
    assert 'x.to("npu")' in executor  # what picks no kernel is ported
    messages = [f.message for f in result.manifest.findings if f.path == "ext/executor.py"]
    assert any("swiglu_checker() tells whether the CUDA kernels may be used" in m
               for m in messages), messages
    assert any("calls kernels.swiglu_kernel from kernels" in m for m in messages), messages


CHAINS = '''
import torch


def allocated(device_type):
    if "npu" in device_type and torch.npu.is_available():
        return "npu"
    elif "cuda" in device_type and torch.cuda.is_available():
        return torch.cuda.memory_allocated()
    return "none"


class Mixer:
    is_fast_path_available = True

    def forward(self, x):
        if self.is_fast_path_available and "cuda" in x.device.type:
            return self.cuda_kernels_forward(x)
        return x + 1

    def cuda_kernels_forward(self, x):
        raise RuntimeError("mamba-ssm's CUDA kernels")
'''


def test_a_chain_with_an_npu_branch_and_a_call_named_for_cuda_stay(tmp_path: Path) -> None:
    """A chain that already has an NPU branch keeps its CUDA branch (axolotl's bench.py);
    ``self.cuda_kernels_forward`` behind a device probe is CUDA code (transformers' Mamba-like
    mixers, as axolotl patches them)."""
    calls = ["allocated('cpu')",
             "Mixer().forward(torch.ones(1).to('npu' if hasattr(torch, 'npu') else 'cpu'))"
             ".tolist()"]
    run = run_before_and_after(CHAINS, calls, tmp_path)
    assert not run.raised_after_only(), run.ported
    assert 'elif "cuda" in device_type and torch.cuda.is_available():\n' \
        '        return torch.cuda.memory_allocated()' in run.ported
    assert 'and "cuda" in x.device.type:' in run.ported
    assert run.after[calls[1]] == {"value": [2.0]}
    messages = [f.message for f in run.findings]
    assert any("already has a branch for the NPU (line 6)" in m for m in messages), messages
    assert any("it calls cuda_kernels_forward" in m for m in messages), messages


def test_a_test_of_code_that_calls_kernels_stays_skipped_without_cuda(tmp_path: Path) -> None:
    """A test module that imports (lazily) a module that calls the tree's Triton kernels
    keeps its CUDA skip: switched, the NPU would run tests of CUDA kernels (axolotl)."""
    skip = "pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA')\n"
    out = _port_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/kernels/__init__.py": "",
        "pkg/kernels/rms.py": "import triton\n\n\ndef rms(x):\n    pass\n",
        "pkg/fused.py": "from pkg.kernels.rms import rms\n\n\ndef norm(x):\n    return rms(x)\n",
        "tests/test_fused.py": f"import pytest\nimport torch\n\n{skip}\n\ndef test_norm():\n"
        "    from pkg.fused import norm\n    norm(torch.ones(2, device='cuda'))\n",
        "tests/test_plain.py": f"import pytest\nimport torch\n\n{skip}\n\ndef test_ones():\n"
        "    assert torch.ones(2, device='cuda').sum() == 2\n",
    })
    assert "not torch.cuda.is_available()" in (out / "tests" / "test_fused.py").read_text()
    assert "not torch.npu.is_available()" in (out / "tests" / "test_plain.py").read_text()


def test_a_test_that_imports_a_kernel_user_as_a_submodule_stays_skipped(tmp_path: Path) -> None:
    """``from pkg.models import fused`` names the module pkg.models.fused, which imports a
    Triton kernel module lazily (axolotl's gemma4 fused-attention tests)."""
    from covo_port.lib.treefacts import imported_modules

    assert imported_modules("tests/t.py", b"from pkg.models import fused, other as o\n") == {
        "pkg.models", "pkg.models.fused", "pkg.models.other"}
    out = _port_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/models/__init__.py": "",
        "pkg/rope.py": "import triton\n\n\ndef rope(x):\n    pass\n",
        "pkg/models/fused.py": "def patch():\n    from pkg.rope import rope\n    return rope\n",
        "tests/test_fused.py": "import pytest\nimport torch\n\n\n"
        "@pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA required')\n"
        "def test_patch():\n    from pkg.models import fused\n    fused.patch()\n",
    })
    assert "not torch.cuda.is_available()" in (out / "tests" / "test_fused.py").read_text()


def test_a_test_of_code_whose_kernels_are_imported_lazily_stays_skipped(tmp_path: Path) -> None:
    """The tested module reaches its kernels through a helper that imports the kernel library
    inside a function (axolotl's SonicMoE tests): the CUDA skip stays; a call into that helper
    module from elsewhere is not a kernel call for that alone (litgpt.utils)."""
    out = _port_tree(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/cute.py": "def available():\n    try:\n        import cutlass  # noqa: F401\n"
        "    except ImportError:\n        return False\n    return True\n\n\n"
        "def count(x):\n    return len(x)\n",
        "pkg/experts.py": "def forward(x):\n    from .cute import available\n"
        "    return available()\n",
        "pkg/train.py": "import torch\nfrom pkg.cute import count\n\n\ndef run(x):\n"
        "    if torch.cuda.is_available():\n        return count(x)\n    return 0\n",
        "tests/test_experts.py": "import pytest\nimport torch\n\n"
        "pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA')\n\n\n"
        "def test_forward():\n    from pkg.experts import forward\n    forward(torch.ones(1))\n",
    })
    assert "not torch.cuda.is_available()" in (out / "tests" / "test_experts.py").read_text()
    assert "if torch.npu.is_available():" in (out / "pkg" / "train.py").read_text()


def _port_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path -> text) as SRC, port it with every rule, and return OUT."""
    from covo_port.model import RunOptions, get_target
    from covo_port.pipeline.run import apply_tree

    src = tmp_path / "src"
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    out = tmp_path / "out"
    apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    return out
