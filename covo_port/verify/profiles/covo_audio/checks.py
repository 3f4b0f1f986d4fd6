"""Stages 2 and 3 of the Covo-Audio profile: OUT's modules imported in a fresh interpreter, and
the log-Mel front end of OUT against the source tree's (and on the CPU against the device)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from covo_port.pipeline.manifest import Manifest
from covo_port.verify.core import Runner, StageResult
from covo_port.verify.profiles.covo_audio import summaries
from covo_port.verify.profiles.covo_audio.clips import ROUND_AUDIO
from covo_port.verify.profiles.covo_audio.options import (
    BF16_TOLERANCE,
    LIMITS,
    MIN_COSINE,
    VerifyOptions,
    new_stage,
)


def stage_import(opts: VerifyOptions, runner: Runner) -> tuple[StageResult, dict[str, Any]]:
    stage = new_stage(2)
    data, error = runner.run("probe", ["--device", opts.device], cwd=opts.out,
                             runtime=opts.runtime, limit=LIMITS["probe"])
    modules = data.get("modules", [])
    failed = [m for m in modules if m.get("error")]
    stage.data = {"modules": modules, "missing_packages": data.get("missing", [])}
    stage.summary = summaries.imports(stage.data)
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

    stage = new_stage(3)
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
    stage.summary = summaries.equivalence(stage.data)
    if problems:
        return stage.fail("; ".join(problems))
    stage.status = "pass"
    return stage
