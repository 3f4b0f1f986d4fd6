"""NPU008: the rewritten load returns what soundfile reads, as torchaudio would shape it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

from .conftest import run_rules

MODULE = ("import torchaudio\n\n\n"
          "def read(path, **options):\n"
          "    return torchaudio.load(path, **options)\n")


@pytest.fixture(scope="module")
def ported() -> dict[str, object]:
    outcome = run_rules(MODULE, select=("NPU008",))
    assert outcome.changed
    namespace: dict[str, object] = {}
    exec(compile(outcome.output(MODULE.encode()).decode(), "ported", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def stereo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of two different tones at 24 kHz, 16-bit PCM."""
    t = np.arange(48000) / 24000
    samples = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)], 1)
    path = tmp_path_factory.mktemp("audio") / "tones.wav"
    soundfile.write(path, samples, 24000, subtype="PCM_16")
    return path


def test_torchaudio_here_cannot_load_so_the_fallback_is_what_runs(stereo: Path) -> None:
    with pytest.raises(ImportError, match="TorchCodec"):
        torchaudio.load(stereo)


def test_fallback_equals_soundfile_as_channels_by_frames(ported: dict, stereo: Path) -> None:
    wav, rate = ported["read"](stereo)
    expected, expected_rate = soundfile.read(stereo, dtype="float32")
    assert rate == expected_rate == 24000
    assert isinstance(wav, torch.Tensor) and wav.dtype == torch.float32
    assert wav.shape == (2, 48000) and wav.is_contiguous()
    assert torch.equal(wav, torch.from_numpy(expected.T.copy()))
    assert float(wav.abs().max()) <= 1.0


def test_offset_count_and_frames_first(ported: dict, stereo: Path) -> None:
    full, _ = ported["read"](stereo)
    part, _ = ported["read"](stereo, frame_offset=1000, num_frames=480)
    assert torch.equal(part, full[:, 1000:1480])
    last, _ = ported["read"](stereo, frame_offset=47900)
    assert torch.equal(last, full[:, 47900:])
    frames_first, _ = ported["read"](stereo, channels_first=False)
    assert torch.equal(frames_first, full.T)


def test_mono_file_is_one_channel(ported: dict, tmp_path: Path) -> None:
    path = tmp_path / "mono.flac"
    soundfile.write(path, np.linspace(-0.5, 0.5, 800), 16000)
    wav, rate = ported["read"](path)
    assert wav.shape == (1, 800) and rate == 16000


def test_torchaudio_is_used_where_it_can_load(ported: dict, monkeypatch: pytest.MonkeyPatch,
                                              stereo: Path) -> None:
    calls = []

    def fake_load(*args: object) -> tuple[torch.Tensor, int]:
        calls.append(args)
        return torch.zeros(1, 3), 8000

    monkeypatch.setattr(torchaudio, "load", fake_load)
    wav, rate = ported["read"](stereo, num_frames=3)
    assert rate == 8000 and wav.shape == (1, 3)
    assert calls == [(stereo, 0, 3, True, True, None, 4096, None)]


def test_a_file_nobody_can_read_raises_soundfile_error(ported: dict, tmp_path: Path) -> None:
    with pytest.raises(soundfile.LibsndfileError):
        ported["read"](tmp_path / "missing.wav")
