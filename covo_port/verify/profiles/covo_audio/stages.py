"""The Covo-Audio profile: the five stages of ``covo-port verify`` on a Covo-Audio port.

Stage 1 is the shared residual scan (:mod:`covo_port.verify.residual`); stages 2-5 run OUT's
code in fresh interpreters (:mod:`.runner`, started by the shared
:class:`covo_port.verify.core.Runner`) with OUT's folder as the working directory and, for
``--emulate npu``, the emulated ``torch_npu`` first on ``PYTHONPATH``. Everything specific to
Covo-Audio lives in this package: its constants, the tiny model (:mod:`.tiny`), the test clips
(:mod:`.clips`), the log-Mel comparison (:func:`compare`) and the report (:mod:`.report`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covo_port.pipeline.manifest import Manifest
from covo_port.verify import core
from covo_port.verify.core import Runner, StageResult
from covo_port.verify.profiles.covo_audio import clips, tiny
from covo_port.verify.residual import stage_residual

NAME = "covo-audio"
STAGES = (
    (1, "residual", "Residual scan"),
    (2, "import", "Import"),
    (3, "equivalence", "Rewrite equivalence"),
    (4, "inference", "Inference"),
    (5, "determinism", "Determinism"),
)
RUNNER = "covo_port.verify.profiles.covo_audio.runner"
ROUND_AUDIO = clips.ROUND_AUDIO
PROMPT_FILES = ("prompt_token.npy", "prompt_latent.npy", "speaker_embed.npy")
BF16_TOLERANCE = 0.01  # the reference's "within bf16 tolerance"
MIN_COSINE = 0.9999
DEFAULT_NEW_TOKENS = {"tiny": 16, "checkpoint": 64}
#: Time limits of the subprocesses, in seconds (``--timeout`` replaces the inference one).
LIMITS = {"probe": 300.0, "mel": 300.0, "tiny": 600.0, "infer_tiny": 600.0,
          "infer_checkpoint": 3600.0}


@dataclass(frozen=True)
class VerifyOptions:
    """Every path absolute (the CLI resolves them once): the stages' subprocesses run in OUT
    and in the source tree, not in the caller's folder."""

    out: Path
    device: str = "npu:0"
    emulate: bool = False
    model_dir: Path | None = None
    mode: str = "a2t"
    max_new_tokens: int | None = None  # None: DEFAULT_NEW_TOKENS for the model used
    timeout: float | None = None  # the inference stage's limit; None: LIMITS
    audio_out: Path | None = None  # keep the decoded wavs here (a2ta)

    @property
    def runtime(self) -> str:
        return "emulate" if self.emulate else "torch_npu"

    @property
    def model_kind(self) -> str:
        return "checkpoint" if self.model_dir is not None else "tiny"

    @property
    def new_tokens(self) -> int:
        return self.max_new_tokens or DEFAULT_NEW_TOKENS[self.model_kind]


@dataclass
class Verification(core.Verification):
    expected_stages: int = len(STAGES)
    model: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    op_stats: dict[str, int] = field(default_factory=dict)
    #: "api(dtype)" -> calls the emulation let through although torch_npu's table omits them
    unlisted_dtypes: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Data beside the tree: test clips and the voice prompt
# ---------------------------------------------------------------------------------------------


def upstream_data_dirs() -> list[Path]:
    """``$COVO_PORT_UPSTREAM_DATA``, then ``shared/upstream-data`` beside the project checkout."""
    dirs = []
    if os.environ.get("COVO_PORT_UPSTREAM_DATA"):
        dirs.append(Path(os.environ["COVO_PORT_UPSTREAM_DATA"]))
    checkout = Path(__file__).resolve().parents[4]  # covo_port/verify/profiles/covo_audio/
    dirs.append(checkout.parent / "shared" / "upstream-data")
    return dirs


def _first_with(rel: str, names: tuple[str, ...], out: Path, manifest: Manifest
                ) -> tuple[Path, str] | None:
    candidates = [(out / rel, "OUT"), (Path(manifest.source) / rel, "the source tree")]
    candidates += [(d / rel, "upstream data") for d in upstream_data_dirs()]
    for folder, origin in candidates:
        if all((folder / n).is_file() for n in names):
            return folder, origin
    return None


def find_test_audio(out: Path, manifest: Manifest) -> tuple[Path, str] | None:
    """The folder holding both test clips: OUT's testdata/, the source's, the upstream data's."""
    return _first_with("testdata", ROUND_AUDIO, out, manifest)


def find_voice_prompt(out: Path, manifest: Manifest) -> tuple[Path, str] | None:
    return _first_with("token2wav/prompt", PROMPT_FILES, out, manifest)


def _looked_in(rel: str, out: Path, manifest: Manifest) -> list[Path]:
    return [out / rel, Path(manifest.source) / rel] + [d / rel for d in upstream_data_dirs()]


# ---------------------------------------------------------------------------------------------
# Stage 2: import
# ---------------------------------------------------------------------------------------------


def stage_import(opts: VerifyOptions, runner: Runner) -> tuple[StageResult, dict[str, Any]]:
    stage = _new(2)
    data, error = runner.run("probe", ["--device", opts.device], cwd=opts.out,
                             runtime=opts.runtime, limit=LIMITS["probe"])
    modules = data.get("modules", [])
    failed = [m for m in modules if m.get("error")]
    stage.data = {"modules": modules, "missing_packages": data.get("missing", [])}
    stage.summary = (f"{len(modules) - len(failed)}/{len(modules)} modules of "
                     "covoaudio, token2wav imported in a fresh interpreter")
    environment = data.get("environment", {})
    if error:
        return stage.fail(error), environment
    if data.get("missing"):
        return stage.fail(f"OUT has no {', '.join(data['missing'])}/ package"), environment
    if failed:
        first = failed[0]
        return stage.fail(f"{len(failed)} module(s) fail to import, first {first['module']}: "
                          f"{first['error']}"), environment
    stage.status = "pass"
    return stage, environment


# ---------------------------------------------------------------------------------------------
# Stage 3: rewrite equivalence
# ---------------------------------------------------------------------------------------------


def compare(reference: Any, other: Any) -> dict[str, Any]:
    """The reference report's five figures for two log-Mel spectrograms."""
    import numpy as np

    a, b = np.asarray(reference, dtype=np.float64), np.asarray(other, dtype=np.float64)
    if a.shape != b.shape:
        return {"shape": list(a.shape), "other_shape": list(b.shape), "ok": False,
                "problem": f"shapes differ: {a.shape} vs {b.shape}"}
    diff = np.abs(a - b)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    figures = {
        "shape": list(a.shape),
        "max_abs_error": float(diff.max()),
        "mean_abs_error": float(diff.mean()),
        "mean_relative_error": float(np.mean(diff / (np.abs(a) + 1e-8))),
        "cosine_similarity": float(np.sum(a * b) / norm) if norm else float("nan"),
        "within_bf16_tolerance": float(np.mean(diff < BF16_TOLERANCE)),
    }
    problems = []
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        problems.append("non-finite values")
    if figures["within_bf16_tolerance"] < 1.0:
        problems.append(f"{100 * (1 - figures['within_bf16_tolerance']):.3f}% of the values "
                        f"differ by {BF16_TOLERANCE} or more")
    if not figures["cosine_similarity"] >= MIN_COSINE:
        problems.append(f"cosine similarity {figures['cosine_similarity']:.7f} < {MIN_COSINE}")
    figures["ok"] = not problems
    if problems:
        figures["problem"] = "; ".join(problems)
    return figures


def stage_equivalence(opts: VerifyOptions, manifest: Manifest, runner: Runner,
                      audio: Path) -> StageResult:
    import numpy as np

    stage = _new(3)
    clip = audio / ROUND_AUDIO[0]
    source = Path(manifest.source)
    stage.data = {"audio": str(clip), "source": str(source), "comparisons": []}
    if not (source / "covoaudio").is_dir():
        return stage.fail(f"the source tree {source} named by OUT's manifest is not there: "
                          "nothing to compare OUT's log_mel_spectrogram with")
    mel_args = ["--audio", str(clip), "--out-dir", str(runner.work)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # two interpreters start side by side
        src_job = pool.submit(runner.run, "mel", [*mel_args, "--label", "source", "--devices",
                                                  "cpu"], cwd=source, runtime="none",
                              limit=LIMITS["mel"])
        out_job = pool.submit(runner.run, "mel", [*mel_args, "--label", "out", "--devices",
                                                  f"cpu,{opts.device}", "--device", opts.device],
                              cwd=opts.out, runtime=opts.runtime, limit=LIMITS["mel"])
        (src, src_error), (ported, out_error) = src_job.result(), out_job.result()
    device_label = f"{opts.device} (emulated)" if opts.emulate else opts.device
    pairs = [("source, cpu", src.get("outputs", {}).get("cpu"),
              "OUT, cpu", ported.get("outputs", {}).get("cpu")),
             ("OUT, cpu", ported.get("outputs", {}).get("cpu"),
              f"OUT, {device_label}", ported.get("outputs", {}).get(opts.device))]
    problems = [f"source tree: {src_error}"] if src_error else []
    if out_error:
        problems.append(f"OUT: {out_error}")
    for ref_label, ref_path, other_label, other_path in pairs:
        row: dict[str, Any] = {"reference": ref_label, "other": other_label}
        if ref_path and other_path:
            row.update(compare(np.load(ref_path), np.load(other_path)))
            if not row["ok"]:
                problems.append(f"{ref_label} vs {other_label}: {row['problem']}")
        else:
            row["ok"] = False
            row["problem"] = "not computed"
        stage.data["comparisons"].append(row)
    stage.data["n_mels"] = ported.get("n_mels") or src.get("n_mels")
    done = [r for r in stage.data["comparisons"] if "max_abs_error" in r]
    stage.summary = "; ".join(
        f"{r['reference']} vs {r['other']}: max abs {r['max_abs_error']:.3e}, cosine "
        f"{r['cosine_similarity']:.7f}" for r in done) or "no comparison computed"
    if problems:
        return stage.fail("; ".join(problems))
    stage.status = "pass"
    return stage


# ---------------------------------------------------------------------------------------------
# Stages 4 and 5: inference and determinism (one interpreter: the model is loaded once)
# ---------------------------------------------------------------------------------------------


def _prepare_model(opts: VerifyOptions, manifest: Manifest, runner: Runner
                   ) -> tuple[dict[str, Any], str | None]:
    """Where the checkpoint, the token2wav files and the voice prompt are (tiny: built)."""
    if opts.model_dir is not None:
        model = {"kind": "checkpoint", "model_dir": str(opts.model_dir),
                 "t2w_config": str(opts.out / "token2wav" / "config.json"),
                 "t2w_ckpt": str(opts.model_dir / "token2wav" / "model.pt")}
        prompt = find_voice_prompt(opts.out, manifest)
        if prompt is None and opts.mode == "a2ta":
            return model, ("no token2wav voice prompt: none of "
                           + ", ".join(map(str, _looked_in("token2wav/prompt", opts.out,
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
    model["summary"] = tiny.summary(folder)
    return model, None


def stage_inference(opts: VerifyOptions, runner: Runner, audio: Path,
                    prepared: tuple[dict[str, Any], str | None], verification: Verification
                    ) -> tuple[StageResult, StageResult]:
    """Stages 4 and 5; ``prepared`` is what :func:`_prepare_model` returned."""
    inference, determinism = _new(4), _new(5)
    model, error = prepared
    verification.model = model
    if error:
        return inference.fail(error), determinism.fail("not run: no model")
    wav_dir = opts.audio_out or runner.work
    wav_dir.mkdir(parents=True, exist_ok=True)
    args = ["--device", opts.device, "--model-dir", model["model_dir"], "--mode", opts.mode,
            "--max-new-tokens", str(opts.new_tokens), "--audio-dir", str(audio),
            "--t2w-config", model["t2w_config"], "--t2w-ckpt", model["t2w_ckpt"],
            "--wav-dir", str(wav_dir)]
    if model.get("prompt_dir"):
        args += ["--prompt-dir", model["prompt_dir"]]
    limit = opts.timeout or LIMITS[f"infer_{opts.model_kind}"]
    started = time.perf_counter()
    data, error = runner.run("infer", args, cwd=opts.out, runtime=opts.runtime, limit=limit)
    elapsed = time.perf_counter() - started
    verification.timings = data.get("timings", {})
    verification.op_stats = data.get("op_stats", {})
    verification.unlisted_dtypes = data.get("unlisted_dtypes", {})
    _inference_result(inference, opts, data, error if not data.get("inference_done") else None)
    _determinism_result(determinism, data, error)
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
    parts = [f"round {r['round']}: {r['new_tokens']} tokens"
             + (f", {r['wav']['seconds']:.2f} s of audio" if "wav" in r else "") for r in rounds]
    stage.summary = "; ".join(parts) or "no round completed"
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


def _determinism_result(stage: StageResult, data: dict[str, Any], error: str | None) -> None:
    runs = data.get("determinism", [])
    if len(runs) < 2:
        stage.fail(error if data.get("inference_done") and error else "not run: stage 4 failed")
        return
    first, second = runs[0]["tokens"], runs[1]["tokens"]
    matched = sum(1 for a, b in zip(first, second, strict=False) if a == b)
    total = max(len(first), len(second))
    same_text = runs[0]["text"] == runs[1]["text"]
    stage.data = {"tokens": total, "matched": matched,
                  "match_rate": matched / total if total else 1.0,
                  "identical_text": same_text, "texts": [runs[0]["text"], runs[1]["text"]],
                  "runs": [r.get("run", "") for r in runs],
                  "sampling": "greedy (do_sample=False), repetition_penalty 1.05"}
    stage.summary = (f"{matched}/{total} tokens identical "
                     f"({100 * stage.data['match_rate']:.0f}%), "
                     f"{'identical' if same_text else 'different'} text")
    if matched != total or not same_text or not total:
        stage.fail(f"two greedy runs differ: {stage.summary}")
    else:
        stage.status = "pass"


# ---------------------------------------------------------------------------------------------


def _new(number: int) -> StageResult:
    return core.new_stage(STAGES, number)


def _guarded(number: int, func: Callable[[], StageResult]) -> StageResult:
    return core.guarded(STAGES, number, func)


def test_audio(opts: VerifyOptions, manifest: Manifest, work: Path) -> tuple[Path, str]:
    """The folder of the two test clips, and where it came from: OUT's testdata/, the source
    tree's, the upstream data beside the checkout, else two clips synthesised into ``work``
    (deterministic: the same bytes on every run), so that verify needs no data of its own."""
    found = find_test_audio(opts.out, manifest)
    if found is not None:
        return found
    folder = work / "testdata"
    clips.synthesise(folder)
    return folder, "synthesised by covo-port (no test clips in " + ", ".join(
        str(p) for p in _looked_in("testdata", opts.out, manifest)) + ")"


def run_verify(opts: VerifyOptions, manifest: Manifest,
               on_stage: Callable[[StageResult], None] | None = None) -> Verification:
    """All five stages on OUT; ``on_stage`` is told of each as it ends."""
    verification = Verification(opts, manifest, started=core.now())
    started = time.perf_counter()

    def done(stage: StageResult) -> None:
        verification.stages.append(stage)
        if on_stage:
            on_stage(stage)

    with (tempfile.TemporaryDirectory(prefix="covo-port-verify-") as tmp,
          ThreadPoolExecutor(max_workers=2) as pool):
        runner = Runner(Path(tmp), RUNNER)
        audio, origin = test_audio(opts, manifest, Path(tmp))
        verification.audio = {"folder": str(audio), "origin": origin}

        def prepare() -> tuple[dict[str, Any], str | None]:
            try:
                return _prepare_model(opts, manifest, runner)
            except Exception as exc:
                return {}, f"preparing the model failed: {type(exc).__name__}: {exc}"

        def imports() -> StageResult:
            stage, verification.environment = stage_import(opts, runner)
            return stage

        # stage 2's interpreter and the tiny model's build start while stage 1 runs here;
        # stage 4 (the timed one) runs alone
        model_job = pool.submit(prepare)
        import_job = pool.submit(_guarded, 2, imports)
        done(_guarded(1, lambda: stage_residual(opts.out, manifest)))
        done(import_job.result())
        done(_guarded(3, lambda: stage_equivalence(opts, manifest, runner, audio)))
        prepared = model_job.result()
        pair: list[StageResult] = []

        def inference() -> StageResult:
            pair.extend(stage_inference(opts, runner, audio, prepared, verification))
            return pair[0]

        done(_guarded(4, inference))
        done(pair[1] if len(pair) == 2 else _new(5).fail("not run: stage 4 failed"))
    verification.seconds = time.perf_counter() - started
    return verification
