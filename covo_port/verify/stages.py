"""The five stages of ``covo-port verify`` and the run that strings them together.

Stage 1 runs here (it is covo-port's own rules, in check mode, plus a token scan); stages 2-5
run OUT's code in fresh interpreters (:mod:`covo_port.verify.runner`) with OUT's folder as the
working directory and, for ``--emulate npu``, the emulated ``torch_npu`` first on
``PYTHONPATH``. Each stage ends as a :class:`StageResult`, pass or fail with its figures and,
on failure, the message of what went wrong; nothing a stage meets stops the others.
"""

from __future__ import annotations

import ast
import io
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covo_port.model import Finding, RunOptions, Severity, get_target
from covo_port.model.target import TARGETS
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree
from covo_port.pipeline.walk import EntryKind, walk
from covo_port.verify import tiny

STAGES = (
    (1, "residual", "Residual scan"),
    (2, "import", "Import"),
    (3, "equivalence", "Rewrite equivalence"),
    (4, "inference", "Inference"),
    (5, "determinism", "Determinism"),
)
ROUND_AUDIO = ("003000298.wav", "003000297.wav")
PROMPT_FILES = ("prompt_token.npy", "prompt_latent.npy", "speaker_embed.npy")
BF16_TOLERANCE = 0.01  # the reference's "within bf16 tolerance"
MIN_COSINE = 0.9999
DEFAULT_NEW_TOKENS = {"tiny": 16, "checkpoint": 64}
#: Time limits of the subprocesses, in seconds (``--timeout`` replaces the inference one).
LIMITS = {"probe": 300.0, "mel": 300.0, "tiny": 600.0, "infer_tiny": 600.0,
          "infer_checkpoint": 3600.0}
_DEVICE_STRING = re.compile(r"^cuda(:\d+)?$")


@dataclass
class StageResult:
    number: int
    name: str
    title: str
    status: str = "fail"  # pass, fail
    seconds: float = 0.0
    summary: str = ""
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def fail(self, error: str) -> StageResult:
        self.status, self.error = "fail", error
        return self


@dataclass(frozen=True)
class VerifyOptions:
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
class Verification:
    options: VerifyOptions
    manifest: Manifest
    started: str
    stages: list[StageResult] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, str] = field(default_factory=dict)
    op_stats: dict[str, int] = field(default_factory=dict)
    #: "api(dtype)" -> calls the emulation let through although torch_npu's table omits them
    unlisted_dtypes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0  # the whole run, wall clock

    @property
    def passed(self) -> bool:
        return len(self.stages) == len(STAGES) and all(s.passed for s in self.stages)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def findings(self) -> list[Finding]:
        """What apply reported for a human (from OUT's manifest)."""
        return list(self.manifest.findings)


# ---------------------------------------------------------------------------------------------
# Data beside the tree: test clips and the voice prompt
# ---------------------------------------------------------------------------------------------


def upstream_data_dirs() -> list[Path]:
    """``$COVO_PORT_UPSTREAM_DATA``, then ``shared/upstream-data`` beside the project checkout."""
    dirs = []
    if os.environ.get("COVO_PORT_UPSTREAM_DATA"):
        dirs.append(Path(os.environ["COVO_PORT_UPSTREAM_DATA"]))
    dirs.append(Path(__file__).resolve().parents[3] / "shared" / "upstream-data")
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


def _where_looked(rel: str, out: Path, manifest: Manifest) -> str:
    places = [out / rel, Path(manifest.source) / rel] + [d / rel for d in upstream_data_dirs()]
    return ", ".join(str(p) for p in places)


# ---------------------------------------------------------------------------------------------
# Stage 1: residual scan
# ---------------------------------------------------------------------------------------------


def cuda_tokens(source: str) -> list[tuple[int, str]]:
    """``(line, token)`` for every CUDA mention in code: identifiers containing "cuda" and
    string literals that are CUDA device names ("cuda", "cuda:1", f"cuda:{i}"). Comments and
    other strings (messages, docs) are not code and are skipped."""
    hits: list[tuple[int, str]] = []
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    hits += [(t.start[0], t.string) for t in tokens
             if t.type == tokenize.NAME and "cuda" in t.string.lower()]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _DEVICE_STRING.match(node.value.strip()):
                hits.append((node.lineno, repr(node.value)))
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if (isinstance(head, ast.Constant) and isinstance(head.value, str)
                    and head.value.strip() == "cuda:" and len(node.values) == 2):
                hits.append((node.lineno, "f" + repr(head.value + "{...}")))
    return sorted(set(hits))


def stage_residual(out: Path, manifest: Manifest) -> StageResult:
    stage = _new(1)
    target_type = TARGETS[manifest.target].device_type
    device_map = tuple(f"cuda:{k}={target_type}:{v}" for k, v in manifest.device_map.items())
    target = get_target(manifest.target, device_map)
    check = apply_tree(out, None, target, RunOptions(optimize=frozenset(manifest.optimize)),
                       check=True)
    leftovers: list[dict[str, Any]] = [
        {"path": c.path, "line": c.line, "rule": c.rule, "text": c.message}
        for c in check.manifest.changes
    ]
    leftovers += [
        {"path": f.path, "line": f.line, "rule": f.rule, "text": f.message}
        for f in check.manifest.findings if f.severity is Severity.ERROR
    ]
    python_files = 0
    for entry in walk(out):
        if entry.kind is not EntryKind.FILE or not entry.rel.endswith(".py"):
            continue
        try:
            source = (out / entry.rel).read_text(encoding="utf-8")
            hits = cuda_tokens(source)
        except (OSError, UnicodeDecodeError, SyntaxError, tokenize.TokenError):
            continue  # unreadable or unparsable: the rules' check reports it (NPU000)
        python_files += 1
        leftovers += [{"path": entry.rel, "line": line, "rule": None,
                       "text": f"CUDA token {token}"} for line, token in hits]
    leftovers.sort(key=lambda d: (d["path"], d["line"], d["rule"] or ""))
    review = sum(1 for f in check.manifest.findings if f.severity is not Severity.ERROR)
    pending = len(check.manifest.changes)
    tokens = sum(1 for d in leftovers if d["rule"] is None)
    errors = len(leftovers) - pending - tokens
    stage.data = {"python_files": python_files, "files_checked": len(check.manifest.files),
                  "pending_rewrites": pending, "cuda_tokens": tokens,
                  "findings_for_review": review, "leftovers": leftovers}
    stage.summary = (f"{len(check.manifest.files)} files checked with every rule, "
                     f"{python_files} Python files token-scanned: {pending} rewrite(s) pending, "
                     f"{tokens} CUDA token(s) in code")
    if leftovers:
        first = leftovers[0]
        counts = [f"{pending} rewrite(s) pending", f"{tokens} CUDA token(s) in code"]
        counts += [f"{errors} error finding(s)"] if errors else []
        return stage.fail(f"{', '.join(counts)}; first {first['path']}:{first['line']}: "
                          f"{first['text']}")
    stage.status = "pass"
    return stage


# ---------------------------------------------------------------------------------------------
# Subprocesses
# ---------------------------------------------------------------------------------------------


class Runner:
    """Starts ``python -m covo_port.verify.runner`` actions and reads their JSON results."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.count = itertools.count(1)  # result file names; next() is atomic across threads

    def run(self, action: str, args: list[str], *, cwd: Path, runtime: str,
            limit: float) -> tuple[dict[str, Any], str | None]:
        """The action's result and, if it failed, one line saying why."""
        result = self.work / f"{next(self.count):02d}-{action}.json"
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        if runtime == "emulate":
            from covo_port.verify import emulation

            paths = [str(emulation.shim_path()), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        cmd = [sys.executable, "-m", "covo_port.verify.runner", action, "--result", str(result),
               "--runtime", runtime, *args]
        try:
            proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            data = _read_json(result)
            return data, f"time limit of {limit:.0f} s reached during: {data.get('step', 'start')}"
        data = _read_json(result)
        if data.get("error"):
            return data, str(data["error"])
        if proc.returncode != 0:
            tail = [line for line in proc.stderr.splitlines() if line.strip()][-1:]
            return data, f"runner exited with status {proc.returncode}" + (
                f": {tail[0].strip()}" if tail else "")
        return data, None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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
                      audio: Path | None) -> StageResult:
    import numpy as np

    stage = _new(3)
    if audio is None:
        return stage.fail("no test audio: none of " + _where_looked("testdata", opts.out, manifest)
                          + f" holds {' and '.join(ROUND_AUDIO)}")
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
                           + _where_looked("token2wav/prompt", opts.out, manifest)
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


def stage_inference(opts: VerifyOptions, manifest: Manifest, runner: Runner, audio: Path | None,
                    prepared: tuple[dict[str, Any], str | None], verification: Verification
                    ) -> tuple[StageResult, StageResult]:
    """Stages 4 and 5; ``prepared`` is what :func:`_prepare_model` returned."""
    inference, determinism = _new(4), _new(5)
    if audio is None:
        error = ("no test audio: none of " + _where_looked("testdata", opts.out, manifest)
                 + f" holds {' and '.join(ROUND_AUDIO)}")
        return inference.fail(error), determinism.fail("not run: " + error)
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
    _, name, title = STAGES[number - 1]
    return StageResult(number, name, title)


def _guarded(number: int, func: Callable[[], StageResult]) -> StageResult:
    """Run one stage; an unexpected exception becomes the stage's failure, with its message."""
    started = time.perf_counter()
    try:
        stage = func()
    except Exception as exc:
        stage = _new(number).fail(f"{type(exc).__name__}: {exc}")
    stage.seconds = stage.seconds or time.perf_counter() - started
    return stage


def run_verify(opts: VerifyOptions, manifest: Manifest,
               on_stage: Callable[[StageResult], None] | None = None) -> Verification:
    """All five stages on OUT; ``on_stage`` is told of each as it ends."""
    verification = Verification(opts, manifest,
                                started=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime()))
    started = time.perf_counter()

    def done(stage: StageResult) -> None:
        verification.stages.append(stage)
        if on_stage:
            on_stage(stage)

    with (tempfile.TemporaryDirectory(prefix="covo-port-verify-") as tmp,
          ThreadPoolExecutor(max_workers=2) as pool):
        runner = Runner(Path(tmp))
        found = find_test_audio(opts.out, manifest)
        audio = found[0] if found else None
        if found:
            verification.audio = {"folder": str(found[0]), "origin": found[1]}

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
        model_job = pool.submit(prepare) if audio is not None else None
        import_job = pool.submit(_guarded, 2, imports)
        done(_guarded(1, lambda: stage_residual(opts.out, manifest)))
        done(import_job.result())
        done(_guarded(3, lambda: stage_equivalence(opts, manifest, runner, audio)))
        prepared = model_job.result() if model_job else ({}, "no test audio")
        pair: list[StageResult] = []

        def inference() -> StageResult:
            pair.extend(stage_inference(opts, manifest, runner, audio, prepared, verification))
            return pair[0]

        done(_guarded(4, inference))
        done(pair[1] if len(pair) == 2 else _new(5).fail("not run: stage 4 failed"))
    verification.seconds = time.perf_counter() - started
    return verification
