"""The helpers that rules insert into ported code are modules of this project: unit-tested here,
and inserted as their own source text."""

from __future__ import annotations

from pathlib import Path

import pytest

from covo_port.lib.runtime import function_source

torch = pytest.importorskip("torch")


def test_sdpa_backends_lists_the_enabled_backends_in_sdp_kernel_order() -> None:
    from torch.nn.attention import SDPBackend

    from covo_port.lib.runtime.sdpa_backends import _sdpa_backends

    assert _sdpa_backends() == [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                                SDPBackend.MATH, SDPBackend.CUDNN_ATTENTION]
    assert _sdpa_backends(enable_flash=False, enable_mem_efficient=False,
                          enable_cudnn=False) == [SDPBackend.MATH]


def test_torchaudio_load_falls_back_to_soundfile(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    soundfile = pytest.importorskip("soundfile")
    import numpy as np

    from covo_port.lib.runtime import torchaudio_load

    path = tmp_path / "a.wav"
    samples = (np.arange(200, dtype=np.float32) / 400).reshape(100, 2)
    soundfile.write(path, samples, 16000, subtype="FLOAT")

    def no_codec(*args: object) -> None:
        raise ImportError("torchcodec is needed")

    import torchaudio

    monkeypatch.setattr(torchaudio, "load", no_codec)
    wav, rate = torchaudio_load._torchaudio_load(str(path), frame_offset=10, num_frames=20)
    assert rate == 16000 and wav.shape == (2, 20) and wav.dtype == torch.float32
    assert torch.allclose(wav.T, torch.from_numpy(samples[10:30]))
    wav, _ = torchaudio_load._torchaudio_load(str(path), channels_first=False)
    assert wav.shape == (100, 2)


@pytest.mark.parametrize(("module", "name"), [("startup", "_covo_materialize"),
                                              ("torchaudio_load", "_torchaudio_load"),
                                              ("sdpa_backends", "_sdpa_backends")])
def test_the_inserted_source_is_the_function_itself(module: str, name: str) -> None:
    source = function_source(module, name)
    namespace: dict[str, object] = {}
    exec(compile(source, name, "exec"), namespace)
    assert source.startswith(f"def {name}(") and callable(namespace[name])
    assert "covo-port NPU0" in (namespace[name].__doc__ or "")
