"""The torchaudio.load fallback that NPU008 inserts: torchaudio 2.9 decodes only through
torchcodec, which Ascend hosts lack, so audio is read with soundfile where torchaudio cannot.

An ordinary function of this project, linted and unit-tested here; the rule inserts its source
text. Its docstring names the rule (``covo-port NPU008``), which is how a second apply
recognises it.
"""


def _torchaudio_load(uri, frame_offset=0, num_frames=-1, normalize=True, channels_first=True,
                     format=None, buffer_size=4096, backend=None):
    """torchaudio.load, read with soundfile where torchaudio cannot decode: torchaudio 2.9
    needs torchcodec (covo-port NPU008). Same result: float32 samples in [-1, 1],
    [channels, frames] (or [frames, channels]), and the sample rate."""
    try:
        import torchaudio

        return torchaudio.load(uri, frame_offset, num_frames, normalize, channels_first,
                               format, buffer_size, backend)
    except (ImportError, RuntimeError):
        import soundfile
        import torch

        samples, sample_rate = soundfile.read(uri, frames=num_frames, start=frame_offset,
                                              dtype="float32", always_2d=True)
        wav = torch.from_numpy(samples)
        return (wav.T.contiguous() if channels_first else wav), sample_rate
