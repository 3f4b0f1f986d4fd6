"""The part of the Covo-Audio profile that runs inside a fresh interpreter, in a tree's folder.

``python -m covo_port.verify.profiles.covo_audio.runner ACTION --result FILE --runtime R
[options]``, with the working directory (hence ``sys.path[0]``) set to the tree whose code is
exercised: OUT, or for the log-Mel reference the source tree. ``--runtime`` says what stands
behind the ``npu`` device: ``emulate`` (the CPU emulation of :mod:`covo_port.verify.emulation`),
``torch_npu`` (a real Ascend device) or ``none`` (plain CPU code, for the unported source tree).

Each action writes its findings to FILE as JSON, again after every step, so a run cut short by
the parent's time limit still says how far it got; an exception ends the action with
``"error"`` (its message and where in the tree it was raised) and exit status 1.

Actions:
- ``probe``: the environment table, then every module of OUT's ``covoaudio`` and ``token2wav``
  packages imported one by one (:mod:`.probe`);
- ``mel``: the tree's own ``log_mel_spectrogram`` of a wav file on the listed devices (.npy);
- ``tiny``: build the tiny checkpoint for OUT (:mod:`.tiny`);
- ``infer``: the two-round dialogue and the determinism runs (:mod:`.dialogue`).

The actions' shared pieces are in :mod:`.runner_base`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from covo_port.verify.profiles.covo_audio.dialogue import action_infer
from covo_port.verify.profiles.covo_audio.probe import action_probe
from covo_port.verify.profiles.covo_audio.runner_base import (
    Record,
    describe,
    read_wav,
    setup_runtime,
    synchronize,
)


def action_mel(args: argparse.Namespace, record: Record, root: Path) -> None:
    import numpy as np
    import torch
    import torchaudio

    record.step("import covoaudio.modeling_covo_audio")
    modeling = importlib.import_module("covoaudio.modeling_covo_audio")
    configuration = importlib.import_module("covoaudio.configuration_covo_audio")
    n_mels = int(configuration.CovoAudioConfig().encoder_config.num_mel_bins)
    record.step("read audio")
    samples, rate = read_wav(Path(args.audio))
    audio = torchaudio.functional.resample(samples, orig_freq=rate, new_freq=16000)
    record.data.update(n_mels=n_mels, samples=int(audio.numel()), sample_rate=16000)
    outputs = {}
    for device in args.devices.split(","):
        record.step(f"log_mel_spectrogram on {device}")
        with torch.no_grad():
            mel = modeling.log_mel_spectrogram(audio, n_mels=n_mels, device=device)
        synchronize(device)
        target = Path(args.out_dir) / f"mel-{args.label}-{device.replace(':', '')}.npy"
        np.save(target, mel.detach().float().cpu().numpy())
        outputs[device] = str(target)
        record.data["outputs"] = outputs
    record.step("done")


def action_tiny(args: argparse.Namespace, record: Record, root: Path) -> None:
    from covo_port.verify.profiles.covo_audio import tiny

    record.step("build")
    started = time.perf_counter()
    record.data["summary"] = tiny.build(Path(args.dest), root, token2wav=args.mode == "a2ta")
    record.data["seconds"] = round(time.perf_counter() - started, 3)
    record.step("done")


ACTIONS: dict[str, Callable[[argparse.Namespace, Record, Path], None]] = {
    "probe": action_probe, "mel": action_mel, "tiny": action_tiny, "infer": action_infer,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m covo_port.verify.profiles.covo_audio.runner")
    p.add_argument("action", choices=sorted(ACTIONS))
    p.add_argument("--result", required=True, type=Path)
    p.add_argument("--runtime", choices=("emulate", "torch_npu", "none"), required=True)
    p.add_argument("--device", default="cpu")
    # mel
    p.add_argument("--audio")
    p.add_argument("--devices", default="cpu")
    p.add_argument("--label", default="tree")
    p.add_argument("--out-dir")
    # tiny
    p.add_argument("--dest")
    # infer
    p.add_argument("--model-dir")
    p.add_argument("--mode", choices=("a2t", "a2ta"), default="a2t")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--determinism-tokens", type=int, default=64)
    p.add_argument("--audio-dir")
    p.add_argument("--t2w-config")
    p.add_argument("--t2w-ckpt")
    p.add_argument("--prompt-dir")
    p.add_argument("--wav-dir")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    root = Path.cwd().resolve()
    record = Record(args.result)
    record.step("start")
    try:
        setup_runtime(args.runtime)
        ACTIONS[args.action](args, record, root)
    except Exception as exc:
        record.data["error"] = describe(exc, root)
        record.data["traceback"] = traceback.format_exc(limit=-12)
        record.save()
        return 1
    finally:
        if args.runtime == "emulate" and "covo_port.verify.emulation" in sys.modules:
            emulation = sys.modules["covo_port.verify.emulation"]
            record.data["op_stats"] = emulation.op_stats()
            record.data["unlisted_dtypes"] = emulation.unlisted_dtypes()
            record.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
