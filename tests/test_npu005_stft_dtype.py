"""NPU005 beyond its examples: the audit's lines, already-cast inputs, windows, layouts."""

from __future__ import annotations

import pytest

from covo_port.engines import FileOutcome
from covo_port.model import Severity

from .conftest import run_rules


def rewrite(source: str, *rules: str) -> tuple[str, FileOutcome]:
    outcome = run_rules(source, select=rules or ("NPU005",))
    assert outcome.error is None
    return outcome.output(source.encode()).decode(), outcome


def test_the_audit_lines() -> None:
    source = ("import torch\n\n"
              "def log_mel(audio):\n"
              "    window = torch.hann_window(N_FFT).to(audio.device)\n"
              "    stft = torch.stft(audio, N_FFT, HOP_LENGTH, window=window, "
              "return_complex=True)\n"
              "    return stft\n")
    output, outcome = rewrite(source)
    assert output == (
        "import torch\n\n"
        "def log_mel(audio):\n"
        "    window = torch.hann_window(N_FFT, dtype=torch.float32).to(audio.device)\n"
        "    stft = torch.stft(audio.float(), N_FFT, HOP_LENGTH, window=window, "
        "return_complex=True)\n"
        "    return stft\n")
    assert outcome.findings == []


# Our own log-mel front end with the upstream's three constructs in one function, a comment
# inside the stft call, and the cast of the result back to the input's dtype.
LOG_MEL = '''import torch

N_FFT, HOP = 64, 16


def log_mel(audio, filters):
    dtype = audio.dtype
    window = torch.hann_window(N_FFT).to(audio.device)
    stft = torch.stft(
        audio,  # mono, any dtype
        N_FFT, HOP, window=window,
        return_complex=True,
    )
    magnitudes = stft[..., :-1].abs() ** 2
    mel = torch.clamp(filters @ magnitudes, min=1e-10).log10()
    return mel.to(dtype) if dtype.is_floating_point else mel
'''

LOG_MEL_PORTED = '''import torch

N_FFT, HOP = 64, 16


def log_mel(audio, filters):
    dtype = audio.dtype
    window = torch.hann_window(N_FFT, dtype=torch.float32).to(audio.device)
    stft = torch.stft(
        audio.float(),  # mono, any dtype
        N_FFT, HOP, window=window,
        return_complex=True,
    )
    magnitudes = stft[..., :-1].real ** 2 + stft[..., :-1].imag ** 2
    mel = torch.clamp(filters @ magnitudes, min=1e-10).log10()
    return mel.to(dtype) if dtype.is_floating_point else mel
'''


def test_three_audit_constructs_in_one_function() -> None:
    output, outcome = rewrite(LOG_MEL, "NPU004", "NPU005")
    assert output == LOG_MEL_PORTED
    assert [stage for stage, _ in outcome.stages] == ["NPU004", "NPU005"]
    again, second = rewrite(output, "NPU004", "NPU005")
    assert again == output and not second.changed


def _load(code: str) -> object:
    namespace: dict[str, object] = {}
    exec(compile(code, "<fixture>", "exec"), namespace)
    return namespace["log_mel"]


def test_ported_front_end_takes_integer_audio_and_keeps_float_results() -> None:
    torch = pytest.importorskip("torch")
    original, ported = _load(LOG_MEL), _load(LOG_MEL_PORTED)
    samples = (torch.sin(torch.arange(1024) / 7.0) * 20000).to(torch.int64)
    filters = torch.rand(8, 64 // 2 + 1)
    with pytest.raises(RuntimeError, match="floating point"):
        original(samples, filters)  # type: ignore[operator]
    torch.testing.assert_close(ported(samples, filters),  # type: ignore[operator]
                               original(samples.float(), filters))  # type: ignore[operator]
    wave = torch.randn(1024)
    torch.testing.assert_close(ported(wave, filters),  # type: ignore[operator]
                               original(wave, filters))  # type: ignore[operator]


@pytest.mark.parametrize("argument", [
    "x.float()",
    "x.to(torch.float32)",
    "x.to(dtype=torch.float32)",
    "x.type(torch.float32)",
    "x.to(torch.float)",
    "x.float().to(x.device)",
    "x.double()",
    "x.to(device, torch.float64)",
    "y",
    "torch.as_tensor(x, dtype=torch.float32)",
])
def test_inputs_already_cast_are_left_alone(argument: str) -> None:
    source = ("import torch\n\n"
              "def f(x, device):\n"
              "    y = x.float()\n"
              f"    return torch.stft({argument}, 16, return_complex=True)\n")
    output, outcome = rewrite(source)
    assert output == source and outcome.findings == []


@pytest.mark.parametrize(("argument", "cast"), [
    ("x", "x.float()"),
    ("x[0]", "x[0].float()"),
    ("x * 0.5", "(x * 0.5).float()"),
    ("(x * 0.5)", "(x * 0.5).float()"),
    ("x.half()", "x.half().float()"),
    ("x.to(torch.bfloat16)", "x.to(torch.bfloat16).float()"),
    ("-x", "(-x).float()"),
    ("input=x", "input=x.float()"),
])
def test_inputs_are_cast(argument: str, cast: str) -> None:
    source = f"import torch\ns = torch.stft({argument}, n_fft=16, return_complex=True)\n"
    output, _ = rewrite(source)
    assert output == f"import torch\ns = torch.stft({cast}, n_fft=16, return_complex=True)\n"


def test_every_window_assignment_gets_the_dtype() -> None:
    source = ("import torch\n\n"
              "def f(x, n, device):\n"
              "    if n > 256:\n"
              "        w = torch.hann_window(n, periodic=True)\n"
              "    else:\n"
              "        w = torch.hamming_window(n).to(device=device)\n"
              "    w = w.to(device)\n"
              "    return torch.stft(x, n, n // 4, n, w, return_complex=True)\n")
    output, _ = rewrite(source)
    assert "torch.hann_window(n, periodic=True, dtype=torch.float32)" in output
    assert "torch.hamming_window(n, dtype=torch.float32).to(device=device)" in output
    assert "torch.stft(x.float(), n, n // 4, n, w, return_complex=True)" in output


def test_a_window_shared_by_two_calls_is_edited_once() -> None:
    source = ("import torch\nWINDOW = torch.blackman_window(400)\n"
              "def f(x):\n"
              "    return (torch.stft(x, 400, window=WINDOW, return_complex=True),\n"
              "            torch.stft(x, 400, window=WINDOW, return_complex=True))\n")
    output, outcome = rewrite(source)
    assert "WINDOW = torch.blackman_window(400, dtype=torch.float32)\n" in output
    assert sum(c.before.startswith("torch.blackman_window") for c in outcome.changes) == 1


@pytest.mark.parametrize("window", [
    "self.window",
    "make_window(n)",
    "torch.hann_window(n).to(torch.float16)",
    "w_param",
])
def test_untraceable_windows_are_reported_and_left(window: str) -> None:
    source = ("import torch\n"
              "def f(self, x, n, w_param):\n"
              f"    return torch.stft(x.float(), n, window={window}, return_complex=True)\n")
    output, outcome = rewrite(source)
    assert output == source
    assert [(f.line, f.severity) for f in outcome.findings] == [(3, Severity.INFO)]


def test_a_window_with_one_untraceable_assignment_is_not_edited() -> None:
    source = ("import torch\n"
              "def f(x, n, cached):\n"
              "    w = torch.hann_window(n)\n"
              "    if cached is not None:\n"
              "        w = cached\n"
              "    return torch.stft(x.float(), n, window=w, return_complex=True)\n")
    output, outcome = rewrite(source)
    assert output == source and len(outcome.findings) == 1


def test_multi_line_factory_keeps_trailing_comma_and_comments() -> None:
    source = ("import torch\n"
              "w = torch.hann_window(\n"
              "    400,  # samples\n"
              "    periodic=False,  # symmetric\n"
              ")\n"
              "s = torch.stft(x.float(), 400, window=w, return_complex=True)\n")
    output, _ = rewrite(source)
    assert output == ("import torch\n"
                      "w = torch.hann_window(\n"
                      "    400,  # samples\n"
                      "    periodic=False,  # symmetric\n"
                      "    dtype=torch.float32,\n"
                      ")\n"
                      "s = torch.stft(x.float(), 400, window=w, return_complex=True)\n")


def test_method_form_on_tensors_only() -> None:
    source = ("import torch\nimport librosa\n\n"
              "class Frontend(torch.nn.Module):\n"
              "    def forward(self, wave, n):\n"
              "        a = wave.stft(n, window=torch.hann_window(n), return_complex=True)\n"
              "        b = self.stft(wave, return_complex=True)\n"
              "        c = self.encoder.stft(wave, return_complex=True)\n"
              "        d = librosa.stft(wave.numpy(), n_fft=n)\n"
              "        return a, b, c, d\n")
    output, outcome = rewrite(source)
    assert output == source.replace(
        "wave.stft(n, window=torch.hann_window(n), return_complex=True)",
        "wave.float().stft(n, window=torch.hann_window(n, dtype=torch.float32), "
        "return_complex=True)")
    assert outcome.findings == []


def test_no_torch_name_for_the_window_dtype_is_reported() -> None:
    source = ("from torch import stft, hann_window\n"
              "s = stft(x, 400, window=hann_window(400), return_complex=True)\n")
    output, outcome = rewrite(source)
    assert output == source.replace("stft(x,", "stft(x.float(),")
    assert [f.severity for f in outcome.findings] == [Severity.WARNING]
    assert "import torch" in outcome.findings[0].message
