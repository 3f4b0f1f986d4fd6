"""The parts of the Covo-Audio report for whoever signs a port off, as the reference port's
report has them: the changes the port made (from OUT's manifest), the operators that reached
the NPU per component of the model, memory, and the known issues met on the way."""

from __future__ import annotations

from collections import Counter
from typing import Any

from covo_port.model import Severity
from covo_port.registry import all_rules
from covo_port.verify.lang import Text
from covo_port.verify.markdown import code
from covo_port.verify.markdown import table as _table
from covo_port.verify.profiles.covo_audio.components import COMPONENTS, OTHER
from covo_port.verify.profiles.covo_audio.options import Verification

COMPATIBILITY = {"compatible": "✅ compatible", "unlisted": "⚠️ check on hardware",
                 "refused": "❌ not supported", "ran": "✅ ran on the device"}
#: The steps of the inference process, in order: (label, key of its timings and memory).
STEPS = (
    ("model initialisation (`AutoModel.from_config` + `.to(device)`)", "initialisation"),
    ("weight loading ({shards} safetensors shard(s), `load_state_dict(strict=False)`)",
     "weight_loading"),
    ("token2wav initialisation (`init_model`)", "token2wav_initialisation"),
    ("generation, round 0", "generation_round_0"),
    ("generation, round 1", "generation_round_1"),
    ("audio decode, round 0", "audio_decode_round_0"),
    ("audio decode, round 1", "audio_decode_round_1"),
)
DETERMINISM_STEPS = (("determinism run 1", "determinism_run_1"),
                     ("determinism run 2", "determinism_run_2"))


# -- changes ------------------------------------------------------------------------------------


def changes_by_rule(v: Verification) -> list[dict[str, Any]]:
    """Per rule that changed OUT: its name, how many changes, in which files."""
    names = {rule.id: rule.name for rule in all_rules()}
    by_rule: dict[str, list[Any]] = {}
    for change in v.manifest.changes:
        by_rule.setdefault(change.rule, []).append(change)
    return [{"rule": rule, "name": names.get(rule, rule), "count": len(changes),
             "unsafe": sum(1 for c in changes if c.unsafe),
             "files": sorted({c.path for c in changes})}
            for rule, changes in sorted(by_rule.items())]


def render_changes(v: Verification, t: Text) -> list[str]:
    changes = v.manifest.changes
    lines = [f"## {t('Changes the port made')}", ""]
    if not changes:
        return [*lines, t("None: apply changed nothing."), ""]
    rules = changes_by_rule(v)
    lines += [t("{count} change(s) by {rules} rule(s) in {files} file(s), from OUT's manifest "
                "(`.covo-port/manifest.json`); {unsafe} of them unsafe fixes applied on request.",
                count=len(changes), rules=len(rules),
                files=len({c.path for c in changes}), unsafe=sum(r["unsafe"] for r in rules)),
              ""]
    lines += _table((t("rule"), t("what it changes"), t("changes"), t("files")), [
        (r["rule"], r["name"], r["count"], ", ".join(r["files"])) for r in rules])
    lines += _table((t("where"), t("rule"), t("change")), [
        (f"{c.path}:{c.line}", c.rule,
         c.message + (t(" (unsafe fix, applied on request)") if c.unsafe else ""))
        for c in sorted(changes, key=lambda c: (c.path, c.line, c.column, c.rule))])
    return lines


# -- operators per component --------------------------------------------------------------------


def components(v: Verification) -> list[dict[str, Any]]:
    """What reached the NPU during inference, per component of the model, in report order."""
    by: dict[str, dict[str, Any]] = {}

    def entry(component: str | None) -> dict[str, Any]:
        return by.setdefault(component or OTHER, {
            "component": component or OTHER, "apis": Counter(), "dtypes": set(),
            "unlisted": set(), "refused": []})

    for op in v.recording.get("ops", []):
        e = entry(op.get("scope"))
        api = op.get("api") or op["op"]
        e["apis"][api] += op["count"]
        e["dtypes"].update(op["dtypes"])
        e["unlisted"].update(key for d in op["dtypes"]
                             if (key := f"{api}({d})") in v.unlisted_dtypes)
    for refusal in v.recording.get("refusals", []):
        entry(refusal.get("scope"))["refused"].append(refusal)
    runtime = v.memory.get("runtime", "emulate")
    rows = []
    for component in sorted(by, key=lambda c: COMPONENTS.index(c) if c in COMPONENTS
                            else len(COMPONENTS)):
        e = by[component]
        verdict = ("refused" if e["refused"] else "unlisted" if e["unlisted"]
                   else "ran" if runtime == "torch_npu" else "compatible")
        rows.append({"component": component, "compatibility": verdict,
                     "calls": sum(e["apis"].values()),
                     "apis": [[api, n] for api, n in e["apis"].most_common()],
                     "dtypes": sorted(e["dtypes"]), "unlisted": sorted(e["unlisted"]),
                     "refused": e["refused"]})
    return rows


def _short(api: str) -> str:
    return api.replace("torch.nn.functional.", "F.").removeprefix("torch.")


def render_components(v: Verification, t: Text) -> list[str]:
    lines = [f"## {t('Operator compatibility per component')}", ""]
    rows = components(v)
    if not rows:
        return [*lines, t("Nothing recorded: stage 4 did not reach the NPU."), ""]
    lines += [t("Every PyTorch API that reached the NPU during inference and the determinism "
                "runs, per component of the model (found from the call stack), with the dtypes "
                "of its tensors; the emulation checks each against torch_npu's support table."),
              ""]
    table = []
    for row in rows:
        note = t("{apis} API(s), {calls} call(s), dtypes {dtypes}: {names}",
                 apis=len(row["apis"]), calls=row["calls"],
                 dtypes=", ".join(row["dtypes"]) or "-",
                 names=", ".join(_short(api) for api, _ in row["apis"]))
        if row["unlisted"]:
            note += t("; dtype not in torch_npu's table: {items}",
                      items=", ".join(_short(k) for k in row["unlisted"]))
        if row["refused"]:
            note += t("; refused: {items}", items=", ".join(
                f"{_short(r['api'])} ({', '.join(r['dtypes'])})" for r in row["refused"]))
        table.append((t(row["component"]), t(COMPATIBILITY[row["compatibility"]]), note))
    return lines + _table((t("component"), t("Ascend compatibility"), t("note")), table)


# -- memory -------------------------------------------------------------------------------------


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2 ** 20:.1f} MiB"


def render_memory(v: Verification, t: Text) -> list[str]:
    lines = [f"## {t('Memory')}", ""]
    memory = v.memory
    if not memory.get("steps") and "peak_rss" not in memory:
        return [*lines, t("Not measured: stage 4 did not run."), ""]
    runtime = memory.get("runtime")
    steps = memory.get("steps", {})
    device_peaks = [s["device"] for s in steps.values() if "device" in s]
    if runtime == "torch_npu":
        npu = _mib(max(device_peaks)) if device_peaks else t("not measured")
    elif runtime == "emulate":
        npu = t("n/a on the CPU emulation: the emulated NPU's tensors are host memory, counted "
                "in the figure above")
    else:
        npu = t("n/a: no NPU in this run")
    lines += [t("Measured in the inference process (stages 4 and 5): its peak resident set size "
                "(`getrusage`), and on an Ascend device `torch.npu.max_memory_allocated`."), ""]
    lines += _table((t("measure"), t("value")), [
        (t("peak resident memory of the inference process (host)"),
         _mib(memory.get("peak_rss"))),
        (t("peak NPU memory (`torch.npu.max_memory_allocated`)"), npu)])
    shards = v.stages[3].data.get("weights", {}).get("shards", "?") if len(v.stages) > 3 else "?"
    rows = [(t(label, shards=shards), _mib(steps[key].get("rss")),
             _mib(steps[key].get("device")) if runtime == "torch_npu" else "n/a")
            for label, key in STEPS + DETERMINISM_STEPS if key in steps]
    if rows:
        lines += [t("Peaks so far at the end of each step:"), ""]
        lines += _table((t("step"), t("peak resident memory"), t("peak NPU memory")), rows)
    return lines


# -- known issues -------------------------------------------------------------------------------


def known_issues(v: Verification, t: Text) -> list[str]:
    """What the verification met that a human should know, one sentence each."""
    issues = [t("stage {number} ({title}) failed: {error}", number=s.number, title=t(s.title),
                error=s.error) for s in v.stages if not s.passed]
    recording = v.recording
    for r in recording.get("refusals", []):
        issues.append(t("{api} on {dtypes} is not supported on Ascend ({where}, {component}): "
                        "{reason}", api=code(r["api"]), dtypes=", ".join(r["dtypes"]),
                        where=r.get("where") or "?",
                        component=t(r.get("scope") or OTHER), reason=r["reason"])
                      + (f" {r['hint']}" if r.get("hint") else ""))
    for key, calls in sorted(v.unlisted_dtypes.items()):
        issues.append(t("{api} ran {calls} time(s) with a dtype that torch_npu's support table "
                        "does not list: worth a check on real hardware", api=code(key),
                        calls=calls))
    for c in recording.get("cuda", []):
        issues.append(t("{api} called at {where} ({count} time(s)){raised}", api=code(c["api"]),
                        where=c["where"], count=c["count"],
                        raised=t(", and it raised") if c["raised"] else ""))
    for n in recording.get("not_emulated", []):
        issues.append(t("{api} at {where} is not modelled by the emulation ({count} call(s))",
                        api=code(n["api"]), where=n["where"], count=n["count"]))
    review = Counter(f.severity.value for f in v.findings if f.severity is not Severity.INFO)
    if review:
        issues.append(t("{count} finding(s) of apply left for a human ({severities}), listed at "
                        "the end", count=sum(review.values()), severities=", ".join(
                            f"{n} {t(s)}" for s, n in sorted(review.items()))))
    proposed = sum(1 for f in v.findings if f.fix is not None)
    if proposed:
        issues.append(t("{count} unsafe fix(es) proposed by apply and not applied "
                        "(`apply --unsafe-fixes` applies them)", count=proposed))
    if v.model.get("kind") == "tiny":
        issues.append(t("The model is a tiny random one built with OUT's classes: its texts are "
                        "not language, and its timings and memory are not the checkpoint's "
                        "(`--model-dir` runs the real one)"))
    if v.options.emulate:
        issues.append(t("The NPU is emulated on the CPU: timings are CPU timings and NPU memory "
                        "is not measured; only a run on an Ascend device gives them"))
    return issues


def render_known_issues(v: Verification, t: Text) -> list[str]:
    issues = known_issues(v, t)
    return [f"## {t('Known issues')}", "",
            *([f"{n}. {issue}" for n, issue in enumerate(issues, 1)] or [t("None met.")]), ""]
