"""The runner's ``infer`` action (stages 4 and 5): the Covo-Audio two-round dialogue the way
``example.py`` drives it (model built from its config and moved to the device, safetensors shards
loaded, round 0 then round 1 on the history, token2wav decoding and written wavs for ``a2ta``),
then round 0 again, greedy, for the determinism check (twice where round 0 itself was sampled).

On the way it records what reaches the NPU, per component of the model (:mod:`.components`),
and the memory each step leaves at its peak: the process's peak resident set size (on the CPU
and under the emulation, where the NPU's tensors are host memory) and, on a real Ascend device,
``torch.npu.max_memory_allocated``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from covo_port.verify.profiles.covo_audio.clips import ROUND_AUDIO
from covo_port.verify.profiles.covo_audio.components import Scope
from covo_port.verify.profiles.covo_audio.runner_base import Record, synchronize

REPETITION_PENALTY = 1.05
PENALTY_WINDOW = 8
SPEECH_CODEBOOK = 16384  # codes 0..16384 follow the text vocabulary (upstream's filter)
ROUND1_SAMPLING = {"do_sample": True, "temperature": 0.5, "top_p": 0.9, "top_k": 50}
SEED = 0


def wav_stats(path: Path, expected_rate: int) -> dict[str, Any]:
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


def peak_rss() -> int:
    """This process's peak resident set size so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux counts KiB


class Dialogue:
    """OUT's model, tokenizer and (for a2ta) token2wav decoder, driven like ``example.py``."""

    def __init__(self, args: argparse.Namespace, record: Record, scope: Scope) -> None:
        self.args, self.record, self.scope = args, record, scope
        self.device = args.device
        self.audio_dir = Path(args.audio_dir)
        self.timings: dict[str, float] = {}
        record.data["timings"] = self.timings
        #: the peaks after each timed step: "rss" always, "device" on a real NPU
        self.memory: dict[str, dict[str, int]] = {}
        record.data["memory"] = {"runtime": args.runtime, "steps": self.memory}

    def timed(self, key: str, func: Callable[[], Any]) -> Any:
        synchronize(self.device)
        self.scope.step = key
        started = time.perf_counter()
        value = func()
        synchronize(self.device)
        self.timings[key] = round(time.perf_counter() - started, 3)
        self.memory[key] = self.peaks()
        self.record.save()
        return value

    def peaks(self) -> dict[str, int]:
        peaks = {"rss": peak_rss()}
        if self.args.runtime == "torch_npu":
            import torch

            peaks["device"] = int(torch.npu.max_memory_allocated(self.device))
        return peaks

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
                 max_new_tokens: int | None = None, **sampling: Any) -> tuple[list[int], Any]:
        """One round (of at most ``max_new_tokens``, else ``--max-new-tokens``); returns the new
        token ids and the KV cache after it."""
        import torch

        self.scope.step = key  # the calls until the next step are this round's
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
                    max_new_tokens=max_new_tokens or self.args.max_new_tokens,
                    eos_token_id=self.eos_id,
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
        return wav_stats(path, int(self.decoder_config.data.audio.sample_rate))


def action_infer(args: argparse.Namespace, record: Record, root: Path) -> None:
    from covo_port.verify import emulation
    from covo_port.verify.emulation._errors import ROOT_VARIABLE

    scope = Scope()
    recorder = None
    if args.runtime in ("emulate", "torch_npu"):
        os.environ[ROOT_VARIABLE] = str(root)  # "the user's line" is a line of the tree
        recorder = emulation.record(None, args.runtime)
        recorder.scope = scope
    try:
        converse(Dialogue(args, record, scope), args, record)
    finally:
        if recorder is not None:
            data = recorder.data()
            record.data["recording"] = {key: data[key] for key in (
                "ops", "refusals", "cuda", "syncs", "not_emulated")}
        record.data.setdefault("memory", {})["peak_rss"] = peak_rss()
        record.save()


def converse(dialogue: Dialogue, args: argparse.Namespace, record: Record) -> None:
    """Both rounds, then the determinism runs: ``--determinism-tokens`` tokens of round 0."""
    import torch

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
    # greedy, its first tokens are the first of the two greedy runs (generation is causal: the
    # first N tokens of a longer greedy run are what a run of N tokens gives), and one more run
    # is enough.
    count = args.determinism_tokens
    runs: list[dict[str, Any]] = []
    record.data["determinism"] = runs
    if not getattr(dialogue.model.generation_config, "do_sample", False):
        runs.append({"tokens": first_tokens[:count], "run": "round 0"})
    while len(runs) < 2:
        run = f"determinism_run_{len(runs) + 1}"
        record.step(run)
        tokens, _ = dialogue.generate(run, max_new_tokens=count, do_sample=False)
        runs.append({"tokens": tokens, "run": run.replace("_", " ")})
        record.save()
    for entry in runs:
        entry["text"] = dialogue.tokenizer.decode(
            [t for t in entry["tokens"] if t < dialogue.text_vocab], skip_special_tokens=True)
    record.step("done")
