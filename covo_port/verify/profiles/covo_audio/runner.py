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
  packages imported one by one;
- ``mel``: the tree's own ``log_mel_spectrogram`` of a wav file on the listed devices (.npy);
- ``tiny``: build the tiny checkpoint for OUT (:mod:`.tiny`);
- ``infer``: the Covo-Audio two-round dialogue the way ``example.py`` drives it (model built
  from its config and moved to the device, safetensors shards loaded, round 0 then round 1 on
  the history, token2wav decoding and written wavs for ``a2ta``), then round 0 again, greedy,
  for the determinism check (twice where round 0 itself was sampled).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from covo_port.verify.profiles.covo_audio.clips import ROUND_AUDIO

PACKAGES = ("covoaudio", "token2wav")
REPETITION_PENALTY = 1.05
PENALTY_WINDOW = 8
SPEECH_CODEBOOK = 16384  # codes 0..16384 follow the text vocabulary (upstream's filter)
ROUND1_SAMPLING = {"do_sample": True, "temperature": 0.5, "top_p": 0.9, "top_k": 50}
SEED = 0
MESSAGE_LIMIT = 600


class Record:
    """The action's JSON result, rewritten (atomically) after every step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}

    def step(self, name: str) -> None:
        self.data["step"] = name
        self.save()

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)


def describe(exc: BaseException, root: Path) -> str:
    """One line: the exception's type and message, and the innermost frame inside ``root``."""
    message = " ".join(str(exc).split()) or "(no message)"
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + " ..."
    text = f"{type(exc).__name__}: {message}"
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<"):  # <frozen ...>, <string>: no file of the tree
            continue
        path = Path(frame.filename).resolve()
        if root in path.parents:
            where = f"{path.relative_to(root).as_posix()}:{frame.lineno}"
    if where is not None and where not in text:
        text += f" (at {where})"
    return text


def _setup_runtime(runtime: str) -> None:
    if runtime == "emulate":
        from covo_port.verify import emulation

        emulation.install(strict=True)
    elif runtime == "torch_npu":
        import torch_npu  # noqa: F401  (registers the npu device with torch)


def _synchronize(device: str) -> None:
    import torch

    module = getattr(torch, device.partition(":")[0], None)
    if device != "cpu" and hasattr(module, "synchronize"):
        module.synchronize()


# ---------------------------------------------------------------------------------------------
# probe: environment and imports
# ---------------------------------------------------------------------------------------------


def _version(name: str) -> str | None:
    try:
        return str(importlib.import_module(name).__version__)
    except Exception:
        return None


def _cann_version() -> str | None:
    """CANN's version from the toolkit's install info, where a toolkit is installed."""
    roots = [os.environ.get(v) for v in ("ASCEND_TOOLKIT_HOME", "ASCEND_HOME_PATH")]
    roots.append("/usr/local/Ascend/ascend-toolkit/latest")
    for root in filter(None, roots):
        for info in sorted(Path(root).glob("*/ascend_toolkit_install.info")):
            for line in info.read_text(errors="replace").splitlines():
                if line.startswith("version="):
                    return line.partition("=")[2].strip()
    return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _environment(runtime: str, device: str) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_npu": None,
        "transformers": _version("transformers"),
        "torchaudio": _version("torchaudio"),
        "CANN": _cann_version(),
        "platform": platform.platform(),
    }
    cpu = f"{_cpu_name()}, {os.cpu_count()} cores"
    if runtime == "emulate":
        from covo_port import __version__

        env["torch_npu"] = f"emulated on the CPU by covo-port {__version__}"
        env["device"] = f"{device} emulated on the CPU ({cpu})"
    elif runtime == "torch_npu":
        env["torch_npu"] = _version("torch_npu")
        index = int(device.partition(":")[2] or 0)
        env["device"] = f"{device}: {torch.npu.get_device_name(index)}"
    else:
        env["device"] = f"cpu ({cpu})"
    return env


def _package_modules(root: Path) -> list[str]:
    names = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if all(p.isidentifier() for p in parts):
                names.append(".".join(parts))
    return names


def action_probe(args: argparse.Namespace, record: Record, root: Path) -> None:
    record.data["environment"] = _environment(args.runtime, args.device)
    record.data["missing"] = [p for p in PACKAGES if not (root / p).is_dir()]
    modules: list[dict[str, Any]] = []
    record.data["modules"] = modules
    for name in _package_modules(root):
        record.step(f"import {name}")
        started = time.perf_counter()
        entry: dict[str, Any] = {"module": name}
        try:
            importlib.import_module(name)
        except Exception as exc:  # each module's failure is a row of the report
            entry["error"] = describe(exc, root)
        entry["seconds"] = round(time.perf_counter() - started, 3)
        modules.append(entry)
    record.step("done")


# ---------------------------------------------------------------------------------------------
# mel: the tree's log_mel_spectrogram
# ---------------------------------------------------------------------------------------------


def read_wav(path: Path) -> tuple[Any, int]:
    """Mono float32 samples (a torch tensor) and the sample rate, read with soundfile."""
    import soundfile
    import torch

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(samples.mean(axis=1)), int(rate)


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
        _synchronize(device)
        target = Path(args.out_dir) / f"mel-{args.label}-{device.replace(':', '')}.npy"
        np.save(target, mel.detach().float().cpu().numpy())
        outputs[device] = str(target)
        record.data["outputs"] = outputs
    record.step("done")


# ---------------------------------------------------------------------------------------------
# tiny: the offline checkpoint
# ---------------------------------------------------------------------------------------------


def action_tiny(args: argparse.Namespace, record: Record, root: Path) -> None:
    from covo_port.verify.profiles.covo_audio import tiny

    record.step("build")
    started = time.perf_counter()
    record.data["summary"] = tiny.build(Path(args.dest), root, token2wav=args.mode == "a2ta")
    record.data["seconds"] = round(time.perf_counter() - started, 3)
    record.step("done")


# ---------------------------------------------------------------------------------------------
# infer: the two-round dialogue and the determinism runs
# ---------------------------------------------------------------------------------------------


def _wav_stats(path: Path, expected_rate: int) -> dict[str, Any]:
    import numpy as np
    import soundfile

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    finite = bool(np.isfinite(samples).all())
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    stats = {
        "path": str(path), "sample_rate": int(rate), "expected_sample_rate": expected_rate,
        "frames": int(samples.shape[0]), "seconds": round(samples.shape[0] / rate, 3),
        "finite": finite, "rms": rms, "peak": peak,
    }
    problems = []
    if rate != expected_rate:
        problems.append(f"sample rate {rate}, expected {expected_rate}")
    if not samples.size:
        problems.append("no samples")
    elif not finite:
        problems.append("non-finite samples")
    elif peak < 1e-4:
        problems.append(f"silent (peak {peak:.2e})")
    stats["problems"] = problems
    return stats


class Dialogue:
    """OUT's model, tokenizer and (for a2ta) token2wav decoder, driven like ``example.py``."""

    def __init__(self, args: argparse.Namespace, record: Record) -> None:
        self.args, self.record = args, record
        self.device = args.device
        self.audio_dir = Path(args.audio_dir)
        self.timings: dict[str, float] = {}
        record.data["timings"] = self.timings

    def timed(self, key: str, func: Callable[[], Any]) -> Any:
        _synchronize(self.device)
        started = time.perf_counter()
        value = func()
        _synchronize(self.device)
        self.timings[key] = round(time.perf_counter() - started, 3)
        self.record.save()
        return value

    def load(self) -> None:
        from covoaudio.configuration_covo_audio import CovoAudioConfig
        from covoaudio.modeling_covo_audio import CovoAudioForCausalLM
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, Qwen2TokenizerFast

        AutoConfig.register(CovoAudioConfig.model_type, CovoAudioConfig, exist_ok=True)
        AutoModel.register(CovoAudioConfig, CovoAudioForCausalLM, exist_ok=True)
        model_dir = Path(self.args.model_dir)

        def build() -> Any:
            config = CovoAudioConfig.from_pretrained(str(model_dir))
            return AutoModel.from_config(config).to(self.device).eval()

        self.record.step("model initialisation")
        self.model = self.timed("initialisation", build)

        shards = sorted(model_dir.glob("*.safetensors"))
        if not shards:
            raise FileNotFoundError(f"{model_dir} holds no *.safetensors shard")
        keys = set(self.model.state_dict())
        loaded: set[str] = set()
        unexpected: list[str] = []

        def load_weights() -> None:
            for shard in shards:
                weights = load_file(str(shard))
                result = self.model.load_state_dict(weights, strict=False)
                loaded.update(set(weights) & keys)
                unexpected.extend(result.unexpected_keys)

        self.record.step("weight loading")
        self.timed("weight_loading", load_weights)
        self.record.data["weights"] = {
            "shards": len(shards), "tensors_loaded": len(loaded),
            "never_loaded": sorted(keys - loaded)[:20], "never_loaded_count": len(keys - loaded),
            "unexpected": unexpected[:20], "unexpected_count": len(unexpected),
        }
        self.tokenizer = Qwen2TokenizerFast.from_pretrained(str(model_dir))
        self.text_vocab = len(self.tokenizer)
        stop = "<|im_end|>" if self.args.mode == "a2ta" else "<|endoftext|>"
        self.eos_id = self.tokenizer.convert_tokens_to_ids(stop)
        self.decoder = None
        if self.args.mode == "a2ta":
            from token2wav.decode import init_model

            decode_args = argparse.Namespace(
                decode_model_config=self.args.t2w_config, decode_load_path=self.args.t2w_ckpt,
                prompt_dir=self.args.prompt_dir,
            )
            self.record.step("token2wav initialisation")
            self.decoder, self.decoder_config = self.timed(
                "token2wav_initialisation",
                lambda: init_model(decode_args, decode_device=self.device))

    def processors(self) -> Any:
        from transformers import LogitsProcessorList

        modeling = importlib.import_module("covoaudio.modeling_covo_audio")
        windowed = getattr(modeling, "WindowedRepetitionPenaltyLogitsProcessor", None)
        if windowed is None:
            return LogitsProcessorList()
        return LogitsProcessorList(
            [windowed(penalty=REPETITION_PENALTY, window_size=PENALTY_WINDOW)])

    def prompt(self, turn: int) -> tuple[Any, Any, Any]:
        from covoaudio.modeling_covo_audio import get_dialog_prompt

        return get_dialog_prompt(audio=str(self.audio_dir / ROUND_AUDIO[turn]),
                                 tokenizer=self.tokenizer, device=self.device,
                                 first_round=turn == 0)

    def generate(self, key: str, history: Any = None, turn: int = 0,
                 **sampling: Any) -> tuple[list[int], Any]:
        """One round; returns the new token ids and the KV cache after it."""
        import torch

        wavs, input_ids, attention_mask = self.prompt(turn)
        if history is not None:  # the mask covers the history too
            seen = history.get_seq_length()
            attention_mask = torch.ones((1, seen + attention_mask.shape[1]),
                                        dtype=attention_mask.dtype, device=attention_mask.device)
            sampling = {**sampling, "past_key_values": history}
        prompt_len = input_ids.shape[1]

        def run() -> Any:
            with torch.no_grad():
                return self.model.generate(
                    input_ids=input_ids, wavs=wavs, attention_mask=attention_mask,
                    max_new_tokens=self.args.max_new_tokens, eos_token_id=self.eos_id,
                    pad_token_id=self.tokenizer.pad_token_id, return_dict_in_generate=True,
                    logits_processor=self.processors(), repetition_penalty=REPETITION_PENALTY,
                    **sampling)

        result = self.timed(key, run)
        tokens = result.sequences[0, prompt_len:].cpu().tolist()
        return tokens, result.past_key_values

    def describe_round(self, turn: int, tokens: list[int]) -> dict[str, Any]:
        text_ids = [t for t in tokens if t < self.text_vocab]
        codes = [t - self.text_vocab for t in tokens if 0 <= t - self.text_vocab <= SPEECH_CODEBOOK]
        seconds = self.timings.get(f"generation_round_{turn}")
        return {
            "round": turn, "audio": ROUND_AUDIO[turn], "new_tokens": len(tokens),
            "tokens_per_second": round(len(tokens) / seconds, 2) if seconds else None,
            "text": self.tokenizer.decode(text_ids, skip_special_tokens=True),
            "text_tokens": len(text_ids), "speech_codes": codes,
        }

    def speak(self, turn: int, codes: list[int]) -> dict[str, Any]:
        import soundfile
        from token2wav.decode import decode

        if not codes:
            raise RuntimeError(f"round {turn} generated no speech token to decode")
        self.record.step(f"audio decode, round {turn}")
        rendered = self.timed(f"audio_decode_round_{turn}", lambda: decode(
            llm_tokens=codes, prompt_dir=self.args.prompt_dir, model=self.decoder,
            config=self.decoder_config))
        path = Path(self.args.wav_dir) / f"turn_{turn}.wav"
        soundfile.write(str(path), rendered["wav"], rendered["sample_rate"])
        return _wav_stats(path, int(self.decoder_config.data.audio.sample_rate))


def action_infer(args: argparse.Namespace, record: Record, root: Path) -> None:
    import torch

    dialogue = Dialogue(args, record)
    dialogue.load()
    rounds: list[dict[str, Any]] = []
    record.data["rounds"] = rounds
    history = None
    first_tokens: list[int] = []
    for turn in (0, 1):
        record.step(f"generation, round {turn}")
        sampling = ROUND1_SAMPLING if turn else {}
        torch.manual_seed(SEED)
        tokens, history = dialogue.generate(f"generation_round_{turn}", history, turn, **sampling)
        first_tokens = first_tokens or tokens
        described = dialogue.describe_round(turn, tokens)
        rounds.append(described)
        record.save()
        if args.mode == "a2ta":
            described["wav"] = dialogue.speak(turn, described["speech_codes"])
            record.save()
    record.data["inference_done"] = True

    # Round 0 runs with the model's generation config, as example.py runs it: where that is
    # greedy, round 0 is the first of the two greedy runs, and one more run is enough.
    runs = []
    if not getattr(dialogue.model.generation_config, "do_sample", False):
        runs.append({"tokens": first_tokens, "text": rounds[0]["text"], "run": "round 0"})
    while len(runs) < 2:
        run = f"determinism_run_{len(runs) + 1}"
        record.step(run)
        tokens, _ = dialogue.generate(run, do_sample=False)
        text = dialogue.tokenizer.decode([t for t in tokens if t < dialogue.text_vocab],
                                         skip_special_tokens=True)
        runs.append({"tokens": tokens, "text": text, "run": run.replace("_", " ")})
        record.data["determinism"] = runs
        record.save()
    record.step("done")


# ---------------------------------------------------------------------------------------------


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
    p.add_argument("--max-new-tokens", type=int, default=16)
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
        _setup_runtime(args.runtime)
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
