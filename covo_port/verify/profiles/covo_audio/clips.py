"""The two test clips of the Covo-Audio dialogue, synthesised where no real ones are found.

The upstream reads ``testdata/003000298.wav`` (turn 0) and ``testdata/003000297.wav`` (turn 1).
covo-port never ships them; where neither OUT, the source tree nor the upstream data beside the
checkout holds them, :func:`synthesise` writes two clips of the same shape (16 kHz mono float,
48 kHz stereo 24-bit: both the resampling and the down-mix paths run), the same bytes on every
run, so that ``verify`` works on a bare clone.
"""

from __future__ import annotations

from pathlib import Path

ROUND_AUDIO = ("003000298.wav", "003000297.wav")  # round 0, round 1


def synthesise(folder: Path) -> None:
    """Write both clips into ``folder`` (created if needed): amplitude-modulated tones."""
    import numpy as np
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(3.2 * 16000)) / 16000
    voice = 0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 2 * t)
    soundfile.write(folder / ROUND_AUDIO[0], voice.astype(np.float32), 16000)
    t = np.arange(int(2.5 * 48000)) / 48000
    stereo = np.stack([0.2 * np.sin(2 * np.pi * 330 * t), 0.2 * np.sin(2 * np.pi * 440 * t)], 1)
    soundfile.write(folder / ROUND_AUDIO[1], stereo.astype(np.float32), 48000, subtype="PCM_24")
