"""The Covo-Audio profile's report: the reference port's document regenerated, as Markdown and
as JSON."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from covo_port import __version__
from covo_port.verify.core import StageResult
from covo_port.verify.markdown import seconds as _seconds
from covo_port.verify.markdown import table as _table
from covo_port.verify.profiles.covo_audio.options import BF16_TOLERANCE, Verification
from covo_port.verify.residual import render as _residual

SCHEMA = 1
ENVIRONMENT_ROWS = (
    ("Python", "python"), ("torch", "torch"), ("torch_npu", "torch_npu"),
    ("transformers", "transformers"), ("torchaudio", "torchaudio"), ("CANN", "CANN"),
    ("device", "device"), ("platform", "platform"),
)
EMULATION_NOTE = (
    "The NPU is emulated on the CPU: tensors sent to the `npu` device compute on the CPU, and "
    "every operator is checked against torch_npu's own support table (API and dtype), so that "
    "what Ascend cannot run fails here with its name and line. It is an emulation for catching "
    "incompatibilities, not a performance model: the timings below are CPU timings{model}."
)


def to_json(v: Verification) -> dict[str, Any]:
    opts = v.options
    return {
        "tool": "covo-port",
        "command": "verify",
        "schema": SCHEMA,
        "version": __version__,
        "started": v.started,
        "seconds": round(v.seconds, 3),
        "out": str(opts.out),
        "target": v.manifest.target,
        "source": v.manifest.source,
        "device": opts.device,
        "emulated": opts.emulate,
        "mode": opts.mode,
        "max_new_tokens": opts.new_tokens,
        "model": v.model,
        "audio": v.audio,
        "environment": v.environment,
        "stages": [asdict(s) | {"passed": s.passed} for s in v.stages],
        "timings": v.timings,
        "op_stats": v.op_stats,
        "unlisted_dtypes": v.unlisted_dtypes,
        "findings": [asdict(f) | {"severity": f.severity.value} for f in v.findings],
        "passed": v.passed,
        "exit_code": v.exit_code,
    }


def _sci(value: float) -> str:
    return f"{value:.3e}" if math.isfinite(value) else str(value)


def render_markdown(v: Verification) -> str:
    opts = v.options
    passed = sum(1 for s in v.stages if s.passed)
    device = f"{opts.device} (emulated on the CPU)" if opts.emulate else opts.device
    model = ("the tiny random model built with OUT's classes" if v.model.get("kind") == "tiny"
             else f"the checkpoint in `{v.model.get('model_dir', opts.model_dir)}`")
    lines = [
        f"# covo-port verify: `{opts.out}`",
        "",
        f"**{'PASS' if v.passed else 'FAIL'}**: {passed}/{len(v.stages)} stages passed. "
        f"OUT `{opts.out}` (target {v.manifest.target}, ported from `{v.manifest.source}`), "
        f"device {device}, mode `{opts.mode}`, {model}, at most {opts.new_tokens} new tokens "
        f"per round. Run {v.started} by covo-port {__version__}, in {v.seconds:.0f} s.",
        "",
    ]
    if opts.emulate:
        tiny = ", of a tiny random model" if v.model.get("kind") == "tiny" else ""
        lines += ["> " + EMULATION_NOTE.format(model=tiny), ""]

    lines += ["## Environment", ""]
    lines += _table(("component", "version"), [
        (label, v.environment.get(key) or "not present") for label, key in ENVIRONMENT_ROWS
    ] if v.environment else [("(not collected)", "stage 2 did not report it")])

    lines += ["## Stages", ""]
    lines += _table(("#", "stage", "result", "time", "figures"), [
        (s.number, s.title, s.status.upper(), _seconds(s.seconds), s.summary)
        for s in v.stages])
    failed = [s for s in v.stages if not s.passed]
    for s in failed:
        lines.append(f"- stage {s.number} ({s.title}) failed: {s.error}")
    if failed:
        lines.append("")

    renderers = {"residual": _residual, "import": _imports, "equivalence": _equivalence,
                 "inference": lambda s: _inference(s, v), "determinism": _determinism}
    for s in v.stages:
        lines += [f"## {s.number}. {s.title}: {s.status.upper()}", ""]
        lines += renderers[s.name](s)
        if s.error:
            lines += [f"Failure: {s.error}", ""]

    if v.op_stats:
        lines += ["## Emulation", "",
                  f"{len(v.op_stats)} distinct operators passed the emulation's check during "
                  f"inference ({sum(v.op_stats.values())} calls), the most used: "
                  + ", ".join(f"`{op}` x{n}" for op, n in
                              sorted(v.op_stats.items(), key=lambda kv: -kv[1])[:8]) + ".", ""]
    if v.unlisted_dtypes:
        lines += ["Let through with a dtype that torch_npu's support table does not list for the "
                  "API (worth a check on real hardware):", ""]
        lines += _table(("API (dtype)", "calls"), sorted(v.unlisted_dtypes.items()))

    lines += ["## Findings from apply that still need a human", ""]
    if v.findings:
        lines += _table(("source line", "rule", "severity", "message"), [
            (f"{f.path}:{f.line}", f.rule, f.severity.value, f.message) for f in v.findings])
    else:
        lines += ["None.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _imports(s: StageResult) -> list[str]:
    modules = s.data.get("modules", [])
    if not modules:
        return []
    rows = [(m["module"], m.get("error") or "ok", _seconds(m.get("seconds"))) for m in modules]
    return ["Every module of OUT's `covoaudio` and `token2wav` packages, imported one by one in "
            "a fresh interpreter with OUT as its working directory:", "",
            *_table(("module", "result", "time"), rows)]


def _equivalence(s: StageResult) -> list[str]:
    d = s.data
    if not d.get("comparisons"):
        return []
    lines = [f"Log-Mel spectrogram ({d.get('n_mels') or '?'} bands) of `{d['audio']}` resampled to "
             "16 kHz, computed by each tree's own `log_mel_spectrogram` (the source tree's is the "
             "unported one). Mean relative error: mean of |a-b| / (|a| + 1e-8).", ""]
    rows = []
    for r in d["comparisons"]:
        if "max_abs_error" in r:
            rows.append((f"{r['reference']} vs {r['other']}", _sci(r["max_abs_error"]),
                         _sci(r["mean_abs_error"]), _sci(r["mean_relative_error"]),
                         f"{r['cosine_similarity']:.7f}",
                         f"{100 * r['within_bf16_tolerance']:.2f}%"))
        else:
            rows.append((f"{r['reference']} vs {r['other']}", r.get("problem", "-"),
                         "-", "-", "-", "-"))
    return lines + _table(("comparison", "max abs error", "mean abs error", "mean relative error",
                           "cosine similarity", f"within bf16 tolerance (< {BF16_TOLERANCE})"),
                          rows)


TIMING_ROWS = (
    ("model initialisation (`AutoModel.from_config` + `.to(device)`)", "initialisation"),
    ("weight loading ({shards} safetensors shard(s), `load_state_dict(strict=False)`)",
     "weight_loading"),
    ("token2wav initialisation (`init_model`)", "token2wav_initialisation"),
    ("generation, round 0", "generation_round_0"),
    ("generation, round 1", "generation_round_1"),
    ("audio decode, round 0", "audio_decode_round_0"),
    ("audio decode, round 1", "audio_decode_round_1"),
)


def _inference(s: StageResult, v: Verification) -> list[str]:
    d = s.data
    lines: list[str] = []
    build = v.model.get("build")
    if v.model.get("kind") == "tiny" and "summary" not in v.model:
        lines += [f"Model: tiny random Covo-Audio in `{v.model.get('model_dir')}`, not built.", ""]
    elif v.model.get("kind") == "tiny":
        llm = v.model["summary"]["llm"]
        lines += [f"Model: tiny random Covo-Audio ({llm.get('parameters', '?')} parameters, "
                  f"Qwen2 {llm.get('hidden_size', '?')} x {llm.get('layers', '?')} layers, "
                  f"Whisper {llm.get('encoder_d_model', '?')} x "
                  f"{llm.get('encoder_layers', '?')}, vocabulary {llm.get('vocab_size', '?')}) in "
                  f"`{v.model.get('model_dir')}` ({build or 'not built'}).", ""]
    elif v.model:
        lines += [f"Model: `{v.model.get('model_dir')}`.", ""]
    if not d:
        return lines
    weights = d.get("weights", {})
    if weights:
        lines += [f"Weights: {weights.get('tensors_loaded')} tensors from {weights.get('shards')} "
                  f"shard(s); {weights.get('never_loaded_count')} parameter(s) never loaded, "
                  f"{weights.get('unexpected_count')} unexpected tensor(s).", ""]
    rounds = d.get("rounds", [])
    if rounds:
        lines += _table(("round", "input", "new tokens", "tokens/s", "text tokens",
                         "speech tokens", "decoded text", "audio"), [
            (r["round"], r["audio"], r["new_tokens"], r.get("tokens_per_second") or "-",
             r["text_tokens"], len(r["speech_codes"]), repr(r["text"]), _wav(r.get("wav")))
            for r in rounds])
    timings = d.get("timings", {})
    if timings:
        lines += ["Timings:", ""]
        rows = []
        for label, key in TIMING_ROWS:
            if key in timings:
                extra = ""
                if key.startswith("generation_round_"):
                    r = next((x for x in rounds if key == f"generation_round_{x['round']}"),
                             None)
                    if r and r.get("tokens_per_second"):
                        extra = f" ({r['new_tokens']} tokens, {r['tokens_per_second']} tokens/s)"
                rows.append((label.format(shards=weights.get("shards", "?")),
                             _seconds(timings[key]) + extra))
        lines += _table(("stage", "time"), rows)
    return lines


def _wav(stats: dict[str, Any] | None) -> str:
    if not stats:
        return "-"
    text = (f"{stats['seconds']:.2f} s at {stats['sample_rate']} Hz, "
            f"{'finite' if stats['finite'] else 'NOT finite'}, peak {stats['peak']:.3f}, "
            f"rms {stats['rms']:.3f}")
    return text + (f" ({', '.join(stats['problems'])})" if stats["problems"] else "")


def _determinism(s: StageResult) -> list[str]:
    d = s.data
    if not d:
        return []
    runs = " and ".join(d.get("runs", [])) or "two runs"
    return [f"Two runs on the same device, same input (round 0's), {d['sampling']} ({runs}): "
            f"{d['matched']}/{d['tokens']} tokens identical ({100 * d['match_rate']:.0f}%), "
            f"{'identical' if d['identical_text'] else 'different'} text.", ""]
