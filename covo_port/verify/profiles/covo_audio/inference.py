"""Stages 4 and 5 of the Covo-Audio profile, from one interpreter (the model is loaded once):
inference as the user runs it, then the determinism runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from covo_port.pipeline.manifest import Manifest
from covo_port.verify.core import Runner, StageResult
from covo_port.verify.profiles.covo_audio import summaries, tiny
from covo_port.verify.profiles.covo_audio.options import (
    LIMITS,
    PROMPT_FILES,
    Verification,
    VerifyOptions,
    new_stage,
)
from covo_port.verify.profiles.covo_audio.testdata import find_voice_prompt, looked_in


def prepare_model(opts: VerifyOptions, manifest: Manifest, runner: Runner
                   ) -> tuple[dict[str, Any], str | None]:
    """Where the checkpoint, the token2wav files and the voice prompt are (tiny: built)."""
    if opts.model_dir is not None:
        model = {"kind": "checkpoint", "model_dir": str(opts.model_dir),
                 "t2w_config": str(opts.out / "token2wav" / "config.json"),
                 "t2w_ckpt": str(opts.model_dir / "token2wav" / "model.pt")}
        prompt = find_voice_prompt(opts.out, manifest)
        if prompt is None and opts.mode == "a2ta":
            return model, ("no token2wav voice prompt: none of "
                           + ", ".join(map(str, looked_in("token2wav/prompt", opts.out,
                                                           manifest)))
                           + f" holds {', '.join(PROMPT_FILES)}")
        model["prompt_dir"] = str(prompt[0]) if prompt else None
        return model, None
    folder = tiny.cache_dir(opts.out)
    model = {"kind": "tiny", "model_dir": str(folder),
             "t2w_config": str(folder / "token2wav" / "config.json"),
             "t2w_ckpt": str(folder / "token2wav" / "model.pt"),
             "prompt_dir": str(folder / "token2wav" / "prompt")}
    if tiny.is_built(folder, token2wav=opts.mode == "a2ta"):
        model["build"] = "cached"
    else:
        built, error = runner.run("tiny", ["--dest", str(folder), "--mode", opts.mode],
                                  cwd=opts.out, runtime=opts.runtime, limit=LIMITS["tiny"])
        if error:
            return model, f"building the tiny model with OUT's classes failed: {error}"
        model["build"] = f"built in {built.get('seconds', 0):.1f} s"
        model["build_seconds"] = round(built.get("seconds", 0), 1)
    model["summary"] = tiny.summary(folder)
    return model, None


def stage_inference(opts: VerifyOptions, runner: Runner, audio: Path,
                    prepared: tuple[dict[str, Any], str | None], verification: Verification,
                    on_determinism: Callable[[], None] | None = None
                    ) -> tuple[StageResult, StageResult]:
    """Stages 4 and 5; ``prepared`` is what :func:`prepare_model` returned; ``on_determinism``
    is called once, when the interpreter starts its first determinism run."""
    inference, determinism = new_stage(4), new_stage(5)
    model, error = prepared
    verification.model = model
    if error:
        return inference.fail(error), determinism.fail("not run: no model")
    wav_dir = opts.audio_out or runner.work
    wav_dir.mkdir(parents=True, exist_ok=True)
    args = ["--device", opts.device, "--model-dir", model["model_dir"], "--mode", opts.mode,
            "--max-new-tokens", str(opts.new_tokens),
            "--determinism-tokens", str(opts.determinism_tokens), "--audio-dir", str(audio),
            "--t2w-config", model["t2w_config"], "--t2w-ckpt", model["t2w_ckpt"],
            "--wav-dir", str(wav_dir)]
    if model.get("prompt_dir"):
        args += ["--prompt-dir", model["prompt_dir"]]
    limit = opts.timeout or LIMITS[f"infer_{opts.model_kind}"]
    started = time.perf_counter()
    announced = False

    def watch(progress: dict[str, Any]) -> None:
        nonlocal announced
        if (on_determinism is not None and not announced
                and str(progress.get("step", "")).startswith("determinism")):
            announced = True
            on_determinism()

    data, error = runner.run("infer", args, cwd=opts.out, runtime=opts.runtime, limit=limit,
                             watch=watch)
    elapsed = time.perf_counter() - started
    verification.timings = data.get("timings", {})
    verification.op_stats = data.get("op_stats", {})
    verification.unlisted_dtypes = data.get("unlisted_dtypes", {})
    verification.recording = data.get("recording", {})
    verification.memory = data.get("memory", {})
    _inference_result(inference, opts, data, error if not data.get("inference_done") else None)
    _determinism_result(determinism, data, error, opts.determinism_tokens)
    timings = verification.timings
    determinism.seconds = sum(timings.get(f"determinism_run_{n}", 0.0) for n in (1, 2))
    inference.seconds = elapsed - determinism.seconds
    return inference, determinism


def _inference_result(stage: StageResult, opts: VerifyOptions, data: dict[str, Any],
                      error: str | None) -> None:
    rounds = data.get("rounds", [])
    stage.data = {"mode": opts.mode, "max_new_tokens": opts.new_tokens, "device": opts.device,
                  "weights": data.get("weights", {}), "rounds": rounds,
                  "timings": data.get("timings", {})}
    stage.summary = summaries.inference(stage.data)
    if error:
        stage.fail(error)
        return
    problems = [f"round {r['round']} generated no token" for r in rounds if not r["new_tokens"]]
    problems += [f"round {r['round']} wav: {', '.join(r['wav']['problems'])}"
                 for r in rounds if r.get("wav", {}).get("problems")]
    weights = data.get("weights", {})
    if weights.get("unexpected_count"):
        problems.append(f"{weights['unexpected_count']} checkpoint tensor(s) match no parameter, "
                        f"e.g. {weights['unexpected'][0]}")
    if weights.get("never_loaded_count"):
        problems.append(f"{weights['never_loaded_count']} parameter(s) never loaded, "
                        f"e.g. {weights['never_loaded'][0]}")
    if len(rounds) < 2:
        problems.append("the second round did not run")
    if problems:
        stage.fail("; ".join(problems))
    else:
        stage.status = "pass"


def _determinism_result(stage: StageResult, data: dict[str, Any], error: str | None,
                        limit: int) -> None:
    runs = data.get("determinism", [])
    if len(runs) < 2:
        stage.fail(error if data.get("inference_done") and error else "not run: stage 4 failed")
        return
    first, second = runs[0]["tokens"], runs[1]["tokens"]
    matched = sum(1 for a, b in zip(first, second, strict=False) if a == b)
    total = max(len(first), len(second))
    texts = [runs[0].get("text", ""), runs[1].get("text", "")]
    same_text = texts[0] == texts[1]
    stage.data = {"tokens": total, "matched": matched, "limit": limit,
                  "match_rate": matched / total if total else 1.0,
                  "identical_text": same_text, "texts": texts, "token_ids": [first, second],
                  "runs": [r.get("run", "") for r in runs],
                  "sampling": "greedy (do_sample=False), repetition_penalty 1.05"}
    stage.summary = summaries.determinism(stage.data)
    if matched != total or not same_text or not total:
        stage.fail(f"two greedy runs differ: {stage.summary}")
    else:
        stage.status = "pass"
