"""Print the shape of the Whisper log-Mel features of a wav file.

Run from the covo_mini folder: ``python tools/mel_check.py testdata/003000298.wav``.
The features are always computed on the CPU; when a GPU is visible they are
computed there too and the largest difference is reported.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import soundfile
import torch
import torchaudio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "0")
    from covoaudio.modeling_covo_audio import SAMPLE_RATE, log_mel_spectrogram, pad_or_trim

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wav", help="audio file, any rate, mono or stereo")
    parser.add_argument("--n_mels", type=int, default=128, choices=(80, 128))
    parser.add_argument("--device", type=str, default="cuda:0",
                        help="device for the cross-check against the CPU")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("cuda is not required for this check; the CPU result is shown alone")

    data, rate = soundfile.read(args.wav, dtype="float32", always_2d=True)
    wav = torch.from_numpy(data.mean(axis=1))
    wav = pad_or_trim(torchaudio.functional.resample(wav, rate, SAMPLE_RATE))

    reference = log_mel_spectrogram(wav, n_mels=args.n_mels)
    print(f"log-mel features: {tuple(reference.shape)}, range "
          f"[{reference.min().item():.3f}, {reference.max().item():.3f}] (cpu)")

    if torch.cuda.is_available():
        wav = wav.cuda()
        feats = log_mel_spectrogram(wav, n_mels=args.n_mels, device=device)
        gap = (feats.cpu() - reference).abs().max().item()
        print(f"max |{feats.device} - cpu| = {gap:.2e}")


if __name__ == "__main__":
    main()
