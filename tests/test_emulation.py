"""The CPU emulation of Ascend NPUs behind `covo-port verify --emulate npu`.

install() changes the process for good (device name, global torch modes), so everything that
installs it runs in a fresh interpreter: a script written to a temporary ``user_code.py`` whose
last output line is a JSON object of what it observed. The table parsing runs in-process:
reading the tables registers nothing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from covo_port.verify.emulation import shim_path

torch = pytest.importorskip("torch")

from covo_port.model import RunOptions, get_target  # noqa: E402
from covo_port.pipeline.run import apply_tree  # noqa: E402
from covo_port.verify.emulation._table import AscendTable, dtype_list  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COVO_MINI = ROOT / "examples" / "covo_mini"
TEST_WAV = ROOT.parent / "shared" / "upstream-data" / "testdata" / "003000298.wav"
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
MODEL_EXTRA = ("torchaudio", "transformers", "soundfile", "numpy")
HAS_MODEL_EXTRA = all(importlib.util.find_spec(name) is not None for name in MODEL_EXTRA)
needs_transformers = pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers is missing")

PRELUDE = """\
import json, sys
import torch
from covo_port.verify import emulation
from covo_port.verify.emulation import UnsupportedOnNPU
results = {}


def refused(call):
    try:
        call()
    except UnsupportedOnNPU as exc:
        return str(exc)
    return None


"""


def run_script(directory: Path, body: str, *, shim: bool = False, cwd: Path | None = None,
               env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run PRELUDE + ``body`` as ``directory/user_code.py`` (in ``cwd``, importable from there);
    its last stdout line, as JSON."""
    script = directory / "user_code.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(results))\n")
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("ASCEND_RT_VISIBLE_DEVICES", "PYTHONPATH")}
    environment.update(env or {}, PYTHONDONTWRITEBYTECODE="1")
    paths = [str(shim_path())] if shim else []
    paths += [str(cwd)] if cwd is not None else []
    if paths:
        environment["PYTHONPATH"] = os.pathsep.join(paths)
    proc = subprocess.run([sys.executable, str(script), *args], cwd=cwd or directory,
                          env=environment, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def line_of(text: str, marker: str) -> int:
    """The 1-based line of ``text`` that contains ``marker``."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if marker in line)


def script_line(marker: str, body: str) -> int:
    return line_of(PRELUDE + textwrap.dedent(body), marker)


# ---------------------------------------------------------------------------------------------
# The tables, read as data
# ---------------------------------------------------------------------------------------------


def test_dtype_lists_are_read_from_the_regular_notes_only() -> None:
    assert dtype_list("支持bf16，fp16，fp32<br>优化器...") == {
        torch.bfloat16, torch.float16, torch.float32}
    assert dtype_list("支持bf16、fp16和fp32") == {torch.bfloat16, torch.float16, torch.float32}
    assert dtype_list("支持bf16，fp16， fp32， int32") == {
        torch.bfloat16, torch.float16, torch.float32, torch.int32}
    assert dtype_list("支持double") == {torch.float64}
    # conditions per argument or mode, fall-back notes and "-": no list to check against
    assert dtype_list("input支持fp32，fp64<br>target支持int64") is None
    assert dtype_list("属性mode为constant时，支持bf16，fp16") is None
    assert dtype_list("支持bf16、fp16和fp32。所有参数输入均符合以下约束") is None
    assert dtype_list("可能回退至CPU执行") is None
    assert dtype_list("-") is None


def test_table_resolves_the_objects_a_function_mode_receives() -> None:
    table = AscendTable()
    abs_entry = table.by_object[torch.Tensor.abs]
    assert abs_entry.name == "torch.Tensor.abs"
    assert abs_entry.dtypes is not None and torch.float32 in abs_entry.dtypes
    assert not any(dtype.is_complex for dtype in abs_entry.dtypes)
    # fp64 is listed for stft (and for abs): the emulation does not refuse float64 there
    assert table.dtypes("torch.stft") == {
        torch.float32, torch.float64, torch.complex64, torch.complex128}
    assert table.by_object[torch.var_mean].unsupported
    assert table.by_object[torch.fft.rfftfreq].unsupported
    # torch.conv1d is torch.nn.functional.conv1d: one object, the readings merged
    assert table.by_object[torch.nn.functional.conv1d] is table.by_object[torch.conv1d]
    # a property is keyed by its getter, as TorchFunctionMode receives it
    assert torch.Tensor.real.__get__ in table.by_object


def test_unsupported_module_classes_are_named_ones_only() -> None:
    modules = AscendTable().modules
    assert modules[torch.nn.GRU] == "torch.nn.GRU"
    assert modules[torch.nn.TransformerEncoderLayer] == "torch.nn.TransformerEncoderLayer.forward"
    # torch.nn.LazyLinear.cls_to_become is Linear: an attribute, not an unsupported class
    assert torch.nn.Linear not in modules
    assert torch.nn.LSTM not in modules  # an RNNBase subclass the list does not name


def test_nothing_is_registered_before_install(tmp_path: Path) -> None:
    results = run_script(tmp_path, """
        import importlib.util
        import covo_port.verify.emulation as emu
        results["installed"] = emu.is_installed()
        results["backend"] = torch._C._get_privateuse1_backend_name()
        results["has_npu"] = hasattr(torch, "npu")
        results["modes"] = torch._C._len_torch_function_stack()
        results["shim"] = str(emu.shim_path())
        results["stats"] = emu.op_stats()
        results["torch_npu"] = importlib.util.find_spec("torch_npu") is not None  # no shim
    """)
    assert results == {"installed": False, "backend": "privateuseone", "has_npu": False,
                       "modes": 0, "shim": str(shim_path()), "stats": {}, "torch_npu": False}
    assert (shim_path() / "torch_npu" / "__init__.py").is_file()


# ---------------------------------------------------------------------------------------------
# Devices: npu:N computes on the CPU
# ---------------------------------------------------------------------------------------------

DEVICES = """
    emulation.install()
    emulation.install()  # idempotent
    results["device"] = str(torch.device("npu:0"))
    x = torch.zeros(2, device="npu:0")
    results["zeros"] = [str(x.device), x.is_npu, x.is_cpu, x.get_device(), x.tolist()]
    host = x.cpu()
    results["cpu"] = [str(host.device), host.is_npu, str(x.device)]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    inputs = torch.randn(5, 4)
    expected = model(inputs)
    model.to("npu:0")
    out = model(inputs.to("npu:0"))
    results["model"] = [str(next(model.parameters()).device), str(out.device),
                        torch.equal(out.cpu(), expected)]
    moved = torch.nn.Linear(2, 2).npu(1)
    results["npu_method"] = [str(torch.ones(1).npu().device), str(moved.weight.device)]
    results["like"] = [str(torch.zeros_like(x).device), str(x.new_tensor([1.0]).device),
                       str((x + 1).device), str(torch.arange(3, device=x.device).device)]
    try:
        x.numpy()
    except TypeError as exc:
        results["numpy"] = str(exc)
    try:
        torch.zeros(1, device="npu:8")
    except RuntimeError as exc:
        results["past_last"] = str(exc)
    npu = torch.npu
    results["module"] = [npu.is_available(), npu.device_count(), npu.current_device(),
                         npu.get_device_name(0), npu.is_bf16_supported()]
    npu.set_device("npu:1")
    results["current"] = [npu.current_device(), str(torch.zeros(1, device="npu").device)]
    npu.set_device(0)
    base = npu.memory_allocated()
    big = torch.empty(1000, dtype=torch.float32, device="npu")
    grown = npu.memory_allocated() - base
    del big
    results["memory"] = [grown, npu.memory_allocated() - base, npu.max_memory_allocated() >= 4000]
    start, end = npu.Event(enable_timing=True), npu.Event(enable_timing=True)
    start.record(); npu.synchronize(); end.record()
    results["event"] = start.elapsed_time(end) >= 0.0
    torch.accelerator.synchronize()
    results["accelerator"] = [str(torch.accelerator.current_accelerator()),
                              torch.accelerator.device_count(),
                              torch.accelerator.current_device_index()]


    @torch.autocast(device_type="npu", enabled=False)
    def plain(a, b):
        return a @ b


    a, b = torch.randn(3, 3, device="npu"), torch.randn(3, 3, device="npu")
    with torch.autocast(device_type="npu", dtype=torch.bfloat16):
        results["autocast"] = [str((a @ b).dtype), str(plain(a, b).dtype)]
    results["autocast_after"] = str((a @ b).dtype)

    import threading
    seen = []
    thread = threading.Thread(target=lambda: seen.append(str(torch.ones(1, device="npu").device)))
    thread.start(); thread.join()
    results["thread"] = seen

    import io
    buffer = io.BytesIO()
    torch.save({"w": x}, buffer)
    buffer.seek(0)
    results["saved"] = str(torch.load(buffer)["w"].device)
    buffer.seek(0)
    results["map_location"] = str(torch.load(buffer, map_location="cpu")["w"].device)
"""


@pytest.fixture(scope="module")
def devices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_script(tmp_path_factory.mktemp("devices"), DEVICES)


def test_npu_devices_are_accepted_and_compute_on_the_cpu(devices: dict[str, Any]) -> None:
    assert devices["device"] == "npu:0"
    assert devices["zeros"] == ["npu:0", True, False, 0, [0.0, 0.0]]
    assert devices["cpu"] == ["cpu", False, "npu:0"]  # a copy: the original stays on the NPU
    assert devices["model"] == ["npu:0", "npu:0", True]
    assert devices["npu_method"] == ["npu:0", "npu:1"]
    assert devices["like"] == ["npu:0", "npu:0", "npu:0", "npu:0"]
    assert devices["thread"] == ["npu:0"]


def test_npu_tensors_behave_as_device_tensors(devices: dict[str, Any]) -> None:
    assert devices["numpy"].startswith("can't convert npu:0 device type tensor to numpy")
    assert "npu:8" in devices["past_last"] and "8 NPU(s)" in devices["past_last"]
    assert devices["saved"] == "npu:0"
    assert devices["map_location"] == "cpu"


def test_torch_npu_module(devices: dict[str, Any]) -> None:
    assert devices["module"] == [True, 8, 0, "Ascend910 (emulated on CPU)", True]
    assert devices["current"] == [1, "npu:1"]
    assert devices["memory"] == [4000, 0, True]
    assert devices["event"] is True
    assert devices["accelerator"] == ["npu", 8, 0]


def test_autocast_npu_decorator_and_context(devices: dict[str, Any]) -> None:
    assert devices["autocast"] == ["torch.bfloat16", "torch.float32"]
    assert devices["autocast_after"] == "torch.float32"


def test_visible_devices_set_the_npu_count(tmp_path: Path) -> None:
    results = run_script(tmp_path, """
        emulation.install()
        results["count"] = torch.npu.device_count()
        results["last"] = str(torch.zeros(1, device="npu:1").device)
    """, env={"ASCEND_RT_VISIBLE_DEVICES": "4,5"})
    assert results == {"count": 2, "last": "npu:1"}


# ---------------------------------------------------------------------------------------------
# What Ascend cannot run is refused, with the caller's line
# ---------------------------------------------------------------------------------------------

REFUSALS = """
    emulation.install()
    signal = torch.randn(4000, device="npu")
    window = torch.hann_window(400, device="npu")
    spec = torch.stft(signal, 400, 160, window=window, return_complex=True)
    results["abs"] = refused(lambda: spec.abs())  # MARK-ABS
    results["torch_abs"] = refused(lambda: torch.abs(spec))
    results["builtin_abs"] = refused(lambda: abs(spec))
    results["square"] = refused(lambda: spec ** 2)  # an operator: checked as Tensor.pow
    results["metadata"] = [refused(lambda: spec.size()), refused(lambda: spec.dim()),
                           refused(lambda: spec.numel())]  # read metadata, run no operator
    power = spec.real ** 2 + spec.imag ** 2
    results["power"] = [str(power.device), str(power.dtype)]
    results["stft_bf16"] = refused(lambda: torch.stft(  # MARK-STFT
        signal.bfloat16(), 400, 160, window=window.bfloat16(), return_complex=True))
    results["stft_fp16"] = refused(lambda: torch.stft(
        signal.half(), 400, 160, window=window.half(), return_complex=True))
    results["stft_fp64"] = refused(lambda: torch.stft(
        signal.double(), 400, 160, window=window.double(), return_complex=True))
    results["stft_fp32"] = refused(lambda: torch.stft(signal, 400, 160, window=window,
                                                      return_complex=True))
    results["var_mean"] = refused(lambda: torch.var_mean(signal))  # MARK-VAR
    results["rfftfreq"] = refused(lambda: torch.fft.rfftfreq(400, device="npu"))
    gru = torch.nn.GRU(4, 4).npu()
    results["gru"] = refused(lambda: gru(torch.randn(3, 1, 4, device="npu")))  # MARK-GRU
    lstm = torch.nn.LSTM(4, 4).npu()
    results["lstm"] = refused(lambda: lstm(torch.randn(3, 1, 4, device="npu")))
    # the same calls on CPU tensors are the program's own CPU work: not checked
    host = torch.stft(torch.randn(4000), 400, 160, window=torch.hann_window(400),
                      return_complex=True)
    results["cpu"] = [refused(lambda: host.abs()), refused(lambda: torch.var_mean(host.real)),
                      refused(lambda: torch.nn.GRU(4, 4)(torch.randn(3, 1, 4)))]
    emulation.install(strict=False)
    results["lenient"] = refused(lambda: spec.abs())
    results["stats"] = emulation.op_stats()
"""


@pytest.fixture(scope="module")
def refusals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_script(tmp_path_factory.mktemp("refusals"), REFUSALS)


def test_complex_abs_is_refused_naming_api_dtype_and_line(refusals: dict[str, Any]) -> None:
    line = script_line("MARK-ABS", REFUSALS)
    assert refusals["abs"] == (
        "torch.Tensor.abs on complex64 is not supported on Ascend (aten::abs, complex dtypes; "
        "torch_npu 2.8 supports bf16, fp16, fp32, fp64, uint8, int8, int16, int32, int64, "
        f"bool): user_code.py:{line} — use real**2 + imag**2 for the squared magnitude "
        "(covo-port NPU004)")
    assert refusals["torch_abs"].startswith("torch.abs on complex64 is not supported")
    assert refusals["builtin_abs"].startswith("torch.Tensor.abs on complex64")
    assert refusals["square"].startswith("torch.Tensor.pow on complex64 is not supported")
    assert refusals["power"] == ["npu:0", "torch.float32"]


def test_complex_metadata_is_not_an_operator(refusals: dict[str, Any]) -> None:
    # torch_npu's table lists fp32 only for Tensor.size: what runs no operator is not refused
    assert refusals["metadata"] == [None, None, None]


def test_stft_needs_float32_or_float64(refusals: dict[str, Any]) -> None:
    line = script_line("MARK-STFT", REFUSALS)
    assert refusals["stft_bf16"].startswith("torch.stft on bfloat16 is not supported on Ascend")
    assert f"user_code.py:{line} — cast the input and the window to float32 (covo-port NPU005)" \
        in refusals["stft_bf16"]
    assert refusals["stft_fp16"].startswith("torch.stft on float16 is not supported")
    assert refusals["stft_fp64"] is None  # torch_npu's table lists fp64 for torch.stft
    assert refusals["stft_fp32"] is None


def test_apis_torch_npu_lists_as_unsupported_are_refused(refusals: dict[str, Any]) -> None:
    assert refusals["var_mean"] == (
        "torch.var_mean is not supported on Ascend (torch_npu 2.8 lists it as unsupported): "
        f"user_code.py:{script_line('MARK-VAR', REFUSALS)} — replace the call, or keep that "
        "step on the CPU (covo-port NPU017)")
    assert refusals["rfftfreq"].startswith("torch.fft.rfftfreq is not supported")
    assert refusals["gru"].startswith("torch.nn.GRU is not supported on Ascend")
    assert f"user_code.py:{script_line('MARK-GRU', REFUSALS)}" in refusals["gru"]
    assert refusals["lstm"] is None


def test_cpu_work_and_lenient_mode_are_not_refused(refusals: dict[str, Any]) -> None:
    assert refusals["cpu"] == [None, None, None]
    assert refusals["lenient"] is None


def test_op_stats_count_the_operators_run_on_the_npu(refusals: dict[str, Any]) -> None:
    stats = refusals["stats"]
    assert stats["aten::_fft_r2c"] >= 3  # the fp32 and fp64 stft, the first one
    assert stats["aten::hann_window"] == 1
    assert "aten::var_mean" not in stats  # refused before it ran


@needs_transformers
def test_what_ascend_supports_passes(tmp_path: Path) -> None:
    results = run_script(tmp_path, """
        emulation.install()
        import torch.nn.functional as F
        from transformers import Qwen2Config, Qwen2ForCausalLM

        config = Qwen2Config(vocab_size=512, hidden_size=64, intermediate_size=128,
                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
        config._attn_implementation = "sdpa"
        torch.manual_seed(0)
        model = Qwen2ForCausalLM(config).to(torch.bfloat16).eval()
        ids = torch.randint(0, 512, (1, 10))
        with torch.no_grad():
            expected = model(ids).logits
            model.to("npu:0")
            logits = model(ids.to("npu:0")).logits
            tokens = model.generate(ids.npu(), max_new_tokens=4, do_sample=False)
        results["qwen2"] = [str(logits.device), torch.equal(logits.cpu(), expected),
                            str(tokens.device), list(tokens.shape)]
        x = torch.randn(2, 8, 32, device="npu", dtype=torch.bfloat16)
        conv = torch.nn.Conv1d(8, 4, 3).to("npu", torch.bfloat16)
        q = torch.randn(1, 4, 6, 16, device="npu", dtype=torch.bfloat16)
        embed = torch.nn.Embedding(10, 4).npu()
        ops = {
            "conv1d": lambda: conv(x),
            "layer_norm": lambda: F.layer_norm(x, (32,)),
            "sdpa": lambda: F.scaled_dot_product_attention(q, q, q, is_causal=True),
            "softmax": lambda: x.softmax(-1),
            "embedding": lambda: embed(torch.tensor([1, 2], device="npu")),
            "bf16 matmul": lambda: x[0] @ x[0].T,
            "float64": lambda: torch.ones(3, device="npu", dtype=torch.float64).exp().sum(),
        }
        results["ops"] = {name: refused(op) for name, op in ops.items()}
        results["stats"] = emulation.op_stats()
        results["unlisted"] = emulation.unlisted_dtypes()
    """)
    assert results["qwen2"] == ["npu:0", True, "npu:0", [1, 14]]
    assert results["ops"] == dict.fromkeys(results["ops"])  # nothing refused
    assert len(results["ops"]) == 7
    assert {"aten::mm", "aten::embedding", "aten::convolution",
            "aten::native_layer_norm"} <= set(results["stats"])
    assert any("scaled_dot_product" in name for name in results["stats"])
    # counted, not refused: the table lists no bf16 for F.silu, yet Qwen2 runs it on Ascend
    assert results["unlisted"]["torch.nn.functional.silu(bfloat16)"] > 0


# ---------------------------------------------------------------------------------------------
# The torch_npu shim
# ---------------------------------------------------------------------------------------------


@needs_transformers
def test_shim_satisfies_transformers_npu_probes(tmp_path: Path) -> None:
    results = run_script(tmp_path, """
        import torch_npu
        from torch_npu.npu import synchronize
        from torch_npu.optim import NpuFusedAdamW
        from torch_npu import profiler
        from transformers.utils import is_torch_npu_available
        from transformers.integrations import npu_flash_attention

        results["shim"] = [emulation.is_installed(), torch_npu.npu is torch.npu,
                           synchronize is torch.npu.synchronize, torch_npu.__version__]
        results["transformers"] = [is_torch_npu_available(),
                                   npu_flash_attention.npu_fusion_attention
                                   is torch_npu.npu_fusion_attention]
        q = torch.randn(2, 6, 4, 8, device="npu")
        k, v = torch.randn(2, 6, 2, 8, device="npu"), torch.randn(2, 6, 2, 8, device="npu")
        out = npu_flash_attention.npu_flash_attn_func(q, k, v, causal=True)
        ref = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True,
            enable_gqa=True).transpose(1, 2)
        bsh = torch_npu.npu_fusion_attention(q.flatten(2), k.flatten(2), v.flatten(2), 4, "BSH",
                                             scale=8 ** -0.5, sparse_mode=3)[0]
        results["attention"] = [str(out.device), torch.allclose(out, ref, atol=1e-6),
                                torch.allclose(bsh, ref.flatten(2), atol=1e-6)]
        results["optim"] = issubclass(NpuFusedAdamW, torch.optim.AdamW)
        results["profiler"] = profiler.ProfilerActivity.NPU == torch.profiler.ProfilerActivity.CPU
    """, shim=True)
    assert results == {
        "shim": [True, True, True, "2.8.0+emulated"],
        "transformers": [True, True],
        "attention": ["npu:0", True, True],
        "optim": True,
        "profiler": True,
    }


# ---------------------------------------------------------------------------------------------
# The proof: the unported stand-in's log-Mel fails on complex abs, the ported one passes
# ---------------------------------------------------------------------------------------------

LOG_MEL = """
    emulation.install()
    import numpy as np
    from covoaudio.modeling_covo_audio import log_mel_spectrogram

    if len(sys.argv) > 1:
        import soundfile
        data, _ = soundfile.read(sys.argv[1], dtype="float32")
    else:
        t = np.arange(48000, dtype=np.float32) / 16000
        data = (0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t)).astype(np.float32)
    audio = torch.from_numpy(data)
    cpu = log_mel_spectrogram(audio, n_mels=128)
    try:
        npu = log_mel_spectrogram(audio, n_mels=128, device="npu:0")
    except UnsupportedOnNPU as exc:
        results["refused"] = str(exc)
    else:
        results["npu"] = [str(npu.device), torch.equal(npu.cpu(), cpu), list(npu.shape)]
"""


@pytest.mark.slow
@pytest.mark.skipif(not HAS_MODEL_EXTRA, reason="the verify extra is not installed")
def test_unported_log_mel_fails_on_complex_abs_and_ported_passes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    apply_tree(COVO_MINI, out, get_target("npu"), RunOptions())
    args = (str(TEST_WAV),) if TEST_WAV.is_file() else ()  # else a synthetic tone
    modeling = "covoaudio/modeling_covo_audio.py"
    line = line_of((COVO_MINI / modeling).read_text(), ".abs() ** 2")

    (tmp_path / "unported").mkdir()
    unported = run_script(tmp_path / "unported", LOG_MEL, shim=True, cwd=COVO_MINI, args=args)
    assert unported["refused"].startswith("torch.Tensor.abs on complex64 is not supported")
    assert f"{modeling}:{line} — use real**2 + imag**2" in unported["refused"]
    assert "npu" not in unported

    (tmp_path / "ported").mkdir()
    ported = run_script(tmp_path / "ported", LOG_MEL, shim=True, cwd=out, args=args)
    assert "refused" not in ported
    assert ported["npu"][:2] == ["npu:0", True]  # on the emulated NPU, equal to the CPU's
    assert ported["npu"][2][0] == 128


# ---------------------------------------------------------------------------------------------
# The emulated host is an Ascend host: torch.cuda without a device, torch.npu without guesses
# ---------------------------------------------------------------------------------------------

HOST = """
    emulation.install()

    def outcome(call):
        try:
            value = call()  # MARK-CALL: the innermost line of the user's code
        except Exception as exc:
            return [type(exc).__name__, str(exc)]
        return ["ok", repr(value)]

    cuda = torch.cuda
    results["cuda"] = {
        "is_available": outcome(cuda.is_available),
        "device_count": outcome(cuda.device_count),
        "current_device": outcome(cuda.current_device),
        "set_device": outcome(lambda: cuda.set_device(0)),
        "synchronize": outcome(cuda.synchronize),
        "get_device_name": outcome(cuda.get_device_name),
        "stream": outcome(cuda.Stream),
        "to_cuda": outcome(lambda: torch.ones(1).cuda()),
        "factory": outcome(lambda: torch.zeros(1, device="cuda")),
        "module": outcome(lambda: torch.nn.Linear(2, 2).to("cuda")),
        # what only queues work, or answers from the uninitialised state, works as there
        "manual_seed": outcome(lambda: cuda.manual_seed(0)),
        "empty_cache": outcome(cuda.empty_cache),
        "memory_allocated": outcome(cuda.memory_allocated),
    }
    npu = torch.npu
    results["npu"] = {
        "graph": outcome(lambda: npu.NPUGraph),  # MARK-GRAPH: the lambda's line
        "hasattr": outcome(lambda: hasattr(npu, "set_dump")),
        "unknown": outcome(lambda: npu.no_such_api),
        "rng": outcome(lambda: torch.equal(npu.get_rng_state(), torch.get_rng_state())),
        "initialized": outcome(npu.is_initialized),
    }
"""


def test_torch_cuda_has_no_device_and_fails_as_without_a_driver(tmp_path: Path) -> None:
    results = run_script(tmp_path, HOST)
    cuda = results["cuda"]
    assert cuda["is_available"] == ["ok", "False"] and cuda["device_count"] == ["ok", "0"]
    line = script_line("MARK-CALL", HOST)
    for name in ("current_device", "set_device", "synchronize", "get_device_name", "stream",
                 "to_cuda", "factory", "module"):
        kind, message = cuda[name]
        assert kind == "RuntimeError", (name, message)
        assert message.startswith("Found no NVIDIA driver on your system"), (name, message)
    assert cuda["current_device"][1].endswith(f"has no CUDA device: user_code.py:{line})")
    assert cuda["manual_seed"] == ["ok", "None"] and cuda["empty_cache"] == ["ok", "None"]
    assert cuda["memory_allocated"] == ["ok", "0"]


def test_torch_npu_apis_the_emulation_does_not_model_raise(tmp_path: Path) -> None:
    npu = run_script(tmp_path, HOST)["npu"]
    line = script_line("MARK-GRAPH", HOST)
    assert npu["graph"] == ["NotEmulated", (
        "torch.npu.NPUGraph exists in torch_npu 2.8 but covo-port's NPU emulation does not "
        f"model it, so this run cannot tell what it does on Ascend: user_code.py:{line}")]
    assert npu["hasattr"][0] == "NotEmulated"  # not a quiet False: torch_npu has it
    assert npu["unknown"][0] == "AttributeError" and "no_such_api" in npu["unknown"][1]
    assert npu["rng"] == ["ok", "True"] and npu["initialized"] == ["ok", "True"]
