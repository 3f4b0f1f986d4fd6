"""The Covo-Audio profile's report: the reference port's document regenerated, as Markdown (in
English or Chinese: :mod:`covo_port.verify.lang`) and as JSON. The parts for whoever signs the
port off (its changes, operators per component, memory, known issues) are in :mod:`.signoff`."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from covo_port import __version__
from covo_port.verify.core import StageResult
from covo_port.verify.lang import EN, Text
from covo_port.verify.markdown import seconds as _seconds
from covo_port.verify.markdown import table as _table
from covo_port.verify.profiles.covo_audio import signoff, summaries
from covo_port.verify.profiles.covo_audio.dialogue import REPETITION_PENALTY
from covo_port.verify.profiles.covo_audio.options import BF16_TOLERANCE, Verification
from covo_port.verify.residual import render as _residual

SCHEMA = 2
ENVIRONMENT_ROWS = (
    ("Python", "python"), ("torch", "torch"), ("torch_npu", "torch_npu"),
    ("transformers", "transformers"), ("torchaudio", "torchaudio"), ("CANN", "CANN"),
    ("device", "device"), ("platform", "platform"),
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
        "components": signoff.components(v),
        "changes": signoff.changes_by_rule(v),
        "memory": v.memory,
        "known_issues": signoff.known_issues(v, EN),
        "findings": [asdict(f) | {"severity": f.severity.value} for f in v.findings],
        "passed": v.passed,
        "exit_code": v.exit_code,
    }


def _sci(value: float) -> str:
    return f"{value:.3e}" if math.isfinite(value) else str(value)


def status(s: StageResult, t: Text) -> str:
    return t("PASS") if s.passed else t("FAIL")


def render_markdown(v: Verification, lang: str = "en") -> str:
    t = Text(lang)
    opts = v.options
    passed = sum(1 for s in v.stages if s.passed)
    device = t("{device} (emulated on the CPU)", device=opts.device) if opts.emulate \
        else opts.device
    model = (t("the tiny random model built with OUT's classes")
             if v.model.get("kind") == "tiny" else
             t("the checkpoint in `{dir}`", dir=v.model.get("model_dir", opts.model_dir)))
    lines = [
        f"# covo-port verify: `{opts.out}`",
        "",
        t("**{verdict}**: {passed}/{total} stages passed. OUT `{out}` (target {target}, ported "
          "from `{source}`), device {device}, mode `{mode}`, {model}, at most {tokens} new tokens "
          "per round. Run {started} by covo-port {version}, in {seconds:.0f} s.",
          verdict=t("PASS") if v.passed else t("FAIL"), passed=passed, total=len(v.stages),
          out=opts.out, target=v.manifest.target, source=v.manifest.source, device=device,
          mode=opts.mode, model=model, tokens=opts.new_tokens, started=v.started,
          version=__version__, seconds=v.seconds),
        "",
    ]
    if opts.emulate:
        tiny = t(", of a tiny random model") if v.model.get("kind") == "tiny" else ""
        lines += ["> " + t(
            "The NPU is emulated on the CPU: tensors sent to the `npu` device compute on the CPU, "
            "and every operator is checked against torch_npu's own support table (API and "
            "dtype), so that what Ascend cannot run fails here with its name and line. It is an "
            "emulation for catching incompatibilities, not a performance model: the timings "
            "below are CPU timings{model}.", model=tiny), ""]

    lines += [f"## {t('Environment')}", ""]
    lines += _table((t("component"), t("version")), [
        (label, v.environment.get(key) or t("not present")) for label, key in ENVIRONMENT_ROWS
    ] if v.environment else [(t("(not collected)"), t("stage 2 did not report it"))])
    lines += signoff.render_changes(v, t)

    lines += [f"## {t('Stages')}", ""]
    lines += _table(("#", t("stage"), t("result"), t("time"), t("figures")), [
        (s.number, t(s.title), status(s, t), _seconds(s.seconds), summaries.of(s, t))
        for s in v.stages])
    failed = [s for s in v.stages if not s.passed]
    for s in failed:
        lines.append(t("- stage {number} ({title}) failed: {error}", number=s.number,
                       title=t(s.title), error=s.error))
    if failed:
        lines.append("")

    renderers = {"residual": _residual, "import": _imports, "equivalence": _equivalence,
                 "inference": lambda s, t: _inference(s, v, t), "determinism": _determinism}
    for s in v.stages:
        lines += [f"## {s.number}. {t(s.title)}: {status(s, t)}", ""]
        lines += renderers[s.name](s, t)
        if s.error:
            lines += [t("Failure: {error}", error=s.error), ""]

    lines += signoff.render_components(v, t)
    if v.op_stats:
        top = ", ".join(f"`{op}` x{n}" for op, n in
                        sorted(v.op_stats.items(), key=lambda kv: -kv[1])[:8])
        lines += [f"## {t('Emulation')}", "",
                  t("{count} distinct operators passed the emulation's check during inference "
                    "({calls} calls), the most used: {top}.", count=len(v.op_stats),
                    calls=sum(v.op_stats.values()), top=top), ""]
    if v.unlisted_dtypes:
        lines += [t("Let through with a dtype that torch_npu's support table does not list for "
                    "the API (worth a check on real hardware):"), ""]
        lines += _table((t("API (dtype)"), t("calls")), sorted(v.unlisted_dtypes.items()))
    lines += signoff.render_memory(v, t)
    lines += signoff.render_known_issues(v, t)

    lines += [f"## {t('Findings from apply that still need a human')}", ""]
    if v.findings:
        lines += _table((t("source line"), t("rule"), t("severity"), t("message")), [
            (f"{f.path}:{f.line}", f.rule, t(f.severity.value), f.message) for f in v.findings])
    else:
        lines += [t("None."), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _imports(s: StageResult, t: Text) -> list[str]:
    modules = s.data.get("modules", [])
    if not modules:
        return []
    rows = [(m["module"], m.get("error") or t("ok"), _seconds(m.get("seconds")))
            for m in modules]
    return [t("Every module of OUT's `covoaudio` and `token2wav` packages, imported one by one "
              "in a fresh interpreter with OUT as its working directory:"), "",
            *_table((t("module"), t("result"), t("time")), rows)]


def _equivalence(s: StageResult, t: Text) -> list[str]:
    d = s.data
    if not d.get("comparisons"):
        return []
    lines = [t("Log-Mel spectrogram ({bands} bands) of `{audio}` resampled to 16 kHz, computed "
               "by each tree's own `log_mel_spectrogram` (the source tree's is the unported "
               "one). Mean relative error: mean of |a-b| / (|a| + 1e-8).",
               bands=d.get("n_mels") or "?", audio=d["audio"]), ""]
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
    return lines + _table((t("comparison"), t("max abs error"), t("mean abs error"),
                           t("mean relative error"), t("cosine similarity"),
                           t("within bf16 tolerance (< {tolerance})", tolerance=BF16_TOLERANCE)),
                          rows)


def _model(v: Verification, t: Text) -> list[str]:
    if v.model.get("kind") == "tiny" and "summary" not in v.model:
        return [t("Model: tiny random Covo-Audio in `{dir}`, not built.",
                  dir=v.model.get("model_dir")), ""]
    if v.model.get("kind") == "tiny":
        llm = v.model["summary"]["llm"]
        return [t("Model: tiny random Covo-Audio ({parameters} parameters, Qwen2 {hidden} x "
                  "{layers} layers, Whisper {d_model} x {encoder_layers}, vocabulary {vocab}) "
                  "in `{dir}` ({build}).", parameters=llm.get("parameters", "?"),
                  hidden=llm.get("hidden_size", "?"), layers=llm.get("layers", "?"),
                  d_model=llm.get("encoder_d_model", "?"),
                  encoder_layers=llm.get("encoder_layers", "?"),
                  vocab=llm.get("vocab_size", "?"), dir=v.model.get("model_dir"),
                  build=_build(v.model, t)), ""]
    if v.model:
        return [t("Model: `{dir}`.", dir=v.model.get("model_dir")), ""]
    return []


def _build(model: dict[str, Any], t: Text) -> str:
    if model.get("build") == "cached":
        return t("cached")
    if "build_seconds" in model:
        return t("built in {seconds:.1f} s", seconds=model["build_seconds"])
    return model.get("build") or t("not built")


def _inference(s: StageResult, v: Verification, t: Text) -> list[str]:
    d = s.data
    lines = _model(v, t)
    if not d:
        return lines
    weights = d.get("weights", {})
    if weights:
        lines += [t("Weights: {tensors} tensors from {shards} shard(s); {never} parameter(s) "
                    "never loaded, {unexpected} unexpected tensor(s).",
                    tensors=weights.get("tensors_loaded"), shards=weights.get("shards"),
                    never=weights.get("never_loaded_count"),
                    unexpected=weights.get("unexpected_count")), ""]
    rounds = d.get("rounds", [])
    if rounds:
        lines += _table((t("round"), t("input"), t("new tokens"), t("tokens/s"),
                         t("text tokens"), t("speech tokens"), t("decoded text"), t("audio")), [
            (r["round"], r["audio"], r["new_tokens"], r.get("tokens_per_second") or "-",
             r["text_tokens"], len(r["speech_codes"]), repr(r["text"]), _wav(r.get("wav"), t))
            for r in rounds])
    timings = d.get("timings", {})
    if timings:
        lines += [t("Timings:"), ""]
        rows = []
        for label, key in signoff.STEPS:
            if key in timings:
                extra = ""
                if key.startswith("generation_round_"):
                    r = next((x for x in rounds if key == f"generation_round_{x['round']}"),
                             None)
                    if r and r.get("tokens_per_second"):
                        extra = t(" ({tokens} tokens, {rate} tokens/s)",
                                  tokens=r["new_tokens"], rate=r["tokens_per_second"])
                rows.append((t(label, shards=weights.get("shards", "?")),
                             _seconds(timings[key]) + extra))
        lines += _table((t("stage"), t("time")), rows)
    return lines


def _wav(stats: dict[str, Any] | None, t: Text) -> str:
    if not stats:
        return "-"
    text = t("{seconds:.2f} s at {rate} Hz, {finite}, peak {peak:.3f}, rms {rms:.3f}",
             seconds=stats["seconds"], rate=stats["sample_rate"],
             finite=t("finite") if stats["finite"] else t("NOT finite"), peak=stats["peak"],
             rms=stats["rms"])
    return text + (f" ({', '.join(stats['problems'])})" if stats["problems"] else "")


def _determinism(s: StageResult, t: Text) -> list[str]:
    d = s.data
    if not d:
        return []
    runs = d.get("runs", [])
    lines = [t("Two runs on the same device, same input (round 0's), greedy (do_sample=False), "
               "repetition_penalty {penalty}, {limit} tokens compared ({runs}):",
               penalty=REPETITION_PENALTY, limit=d.get("limit", d["tokens"]),
               runs=t(" and ").join(runs) or t("two runs")), ""]
    lines += _table((t("measure"), t("result")), [
        (t("token match rate"), t("{rate:.1f}% ({matched}/{total} tokens)",
                                  rate=100 * d["match_rate"], matched=d["matched"],
                                  total=d["tokens"])),
        (t("identical text"), str(d["identical_text"]))])
    texts = d.get("texts", [])
    if texts:
        lines += [t("The decoded texts of the two runs:"), ""]
        lines += _table((t("run"), t("decoded text")), [
            (runs[i] if i < len(runs) else i + 1, repr(text)) for i, text in enumerate(texts)])
    return lines
