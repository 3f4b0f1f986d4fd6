"""The operator readiness report: what a run sent to the NPU, and what Ascend makes of it.

Built from the records that every process of a ``covo-port run`` wrote
(:mod:`covo_port.verify.emulation._record`), merged, and judged against torch_npu 2.8's tables
(:mod:`covo_port.verify.support`): the operators used and their support, the refusals with the
line that reached them, the CUDA calls an Ascend host cannot answer, the dtype fallbacks
(float64, complex, bf16 where the table lists none), the host<->device synchronisations, the
``torch.npu`` APIs the emulation does not model, and the findings ``apply`` left open in the
tree (from OUT's manifest, when the command ran inside an OUT).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from covo_port import __version__
from covo_port.model import Finding
from covo_port.pipeline.manifest import MANIFEST_DIR, MANIFEST_NAME, Manifest, ManifestError
from covo_port.verify import support
from covo_port.verify.markdown import code, table

SCHEMA = 1
FALLBACK_DTYPES = ("float64", "complex64", "complex128")
EMULATION_LIMITS = (
    "The emulation checks compatibility, not performance: every operator runs on the CPU at CPU "
    "speed, device memory is the host's (no out-of-memory at the NPU's 64 GB), results are the "
    "CPU kernels' (not the precision of Ascend's fused kernels), every operator has finished "
    "when it returns (no asynchronous errors), and the `torch.npu` APIs it does not model "
    "raise rather than answer.")
_ORDER = {support.UNSUPPORTED: 0, support.DTYPE_NOT_LISTED: 1, support.NOT_IN_TABLES: 2,
          support.LISTED: 3, support.SUPPORTED: 4}


@dataclass
class Operator:
    """One ATen operator with one set of dtypes, reached through one API, over every process."""

    op: str
    dtypes: list[str]
    out: list[str]
    api: str | None
    count: int
    where: str
    support: support.Support

    @property
    def checked(self) -> list[str]:
        """The dtypes the table is asked about: the inputs', or a factory's output."""
        return self.dtypes or self.out


@dataclass
class Readiness:
    command: list[str]
    runtime: str
    device: str
    exit_status: int
    seconds: float
    cpu_seconds: float
    root: str
    processes: list[dict[str, Any]] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    cuda: list[dict[str, Any]] = field(default_factory=list)
    syncs: list[dict[str, Any]] = field(default_factory=list)
    not_emulated: list[dict[str, Any]] = field(default_factory=list)
    out: str | None = None  # the OUT the command ran in, where it ran in one
    findings: list[Finding] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(o.count for o in self.operators)

    @property
    def failed_cuda(self) -> list[dict[str, Any]]:
        return [c for c in self.cuda if c["raised"]]

    @property
    def problems(self) -> list[Operator]:
        """Operators the table does not support with the dtypes used."""
        return [o for o in self.operators
                if o.support.status in (support.UNSUPPORTED, support.DTYPE_NOT_LISTED)]

    def fallbacks(self) -> list[dict[str, Any]]:
        """float64 and complex work on the NPU, and bf16 where the table lists no bf16."""
        rows: Counter[tuple[str, str, str, str]] = Counter()
        first: dict[tuple[str, str, str, str], str] = {}
        for o in self.operators:
            used = set(o.dtypes) | set(o.out)
            odd = [d for d in used if d in FALLBACK_DTYPES]
            if "bfloat16" in o.support.missing:
                odd.append("bfloat16")
            for dtype in odd:
                listed = (dtype in o.support.dtypes if o.support.dtypes
                          else o.support.status == support.LISTED)
                verdict = ("listed" if listed else
                           "not supported" if o.support.status == support.UNSUPPORTED
                           else "not listed")
                key = (o.api or o.op, o.op, dtype, verdict)
                rows[key] += o.count
                first.setdefault(key, o.where)
        return [{"api": api, "op": op, "dtype": dtype, "table": verdict, "count": count,
                 "where": first[(api, op, dtype, verdict)]}
                for (api, op, dtype, verdict), count in sorted(rows.items())]


def _merge(entries: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """Entries with equal ``key`` fields as one, counts added, tests listed."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for entry in entries:
        k = tuple(str(entry.get(f)) for f in key)
        row = merged.get(k)
        if row is None:
            row = merged[k] = {**entry, "count": 0, "tests": []}
            row.pop("test", None)
        row["count"] += int(entry.get("count", 1))
        test = entry.get("test")
        if test and test not in row["tests"]:
            row["tests"].append(test)
    return list(merged.values())


def find_out(root: Path) -> Path | None:
    """The OUT of ``covo-port apply`` that ``root`` is in (or is), if any."""
    for folder in (root, *root.parents):
        if (folder / MANIFEST_DIR / MANIFEST_NAME).is_file():
            return folder
    return None


def build(command: list[str], runtime: str, device: str, finished: Any, root: Path
          ) -> Readiness:
    """The report of a finished :func:`covo_port.verify.launch.run`."""
    tables = support.tables()
    report = Readiness(command=command, runtime=runtime, device=device,
                       exit_status=finished.exit_status, seconds=round(finished.seconds, 3),
                       cpu_seconds=round(finished.cpu_seconds, 3), root=str(root))
    ops: dict[tuple[str, ...], Operator] = {}
    for record in finished.records:
        report.processes.append({"pid": record.get("pid"), "argv": record.get("argv", []),
                                 "seconds": record.get("seconds")})
        for entry in record.get("ops", []):
            key = (entry["op"], ",".join(entry["dtypes"]), ",".join(entry.get("out", [])),
                   str(entry.get("api")))
            found = ops.get(key)
            if found is None:
                checked = entry["dtypes"] or entry.get("out", [])
                ops[key] = Operator(entry["op"], entry["dtypes"], entry.get("out", []),
                                    entry.get("api"), entry["count"], entry["where"],
                                    tables.lookup(entry.get("api"), entry["op"], checked))
            else:
                found.count += entry["count"]
    report.operators = sorted(ops.values(), key=lambda o: (_ORDER[o.support.status], -o.count,
                                                           o.op))
    every = finished.records
    report.refusals = _merge([e for r in every for e in r.get("refusals", [])],
                             ("api", "dtypes", "where"))
    report.cuda = _merge([e for r in every for e in r.get("cuda", [])], ("api", "where", "raised"))
    report.syncs = _merge([e for r in every for e in r.get("syncs", [])], ("kind",))
    report.not_emulated = _merge([e for r in every for e in r.get("not_emulated", [])],
                                 ("api", "where"))
    out = find_out(root)
    if out is not None:
        try:
            report.findings = list(Manifest.read(out).findings)
            report.out = str(out)
        except ManifestError:
            pass  # a damaged manifest: no findings to add, the run's report stands
    return report


# ---------------------------------------------------------------------------------------------


def to_json(r: Readiness) -> dict[str, Any]:
    return {
        "tool": "covo-port", "command": "run", "schema": SCHEMA, "version": __version__,
        "argv": r.command, "runtime": r.runtime, "device": r.device,
        "exit_status": r.exit_status, "seconds": r.seconds, "cpu_seconds": r.cpu_seconds,
        "root": r.root, "processes": r.processes,
        "operators": [{"op": o.op, "dtypes": o.dtypes, "out": o.out, "api": o.api,
                       "count": o.count, "where": o.where, "table_api": o.support.api,
                       "support": o.support.status, "missing_dtypes": list(o.support.missing)}
                      for o in r.operators],
        "unsupported": r.refusals, "cuda_calls": r.cuda, "dtype_fallbacks": r.fallbacks(),
        "syncs": r.syncs, "not_emulated": r.not_emulated, "out": r.out,
        "findings": [asdict(f) | {"severity": f.severity.value} for f in r.findings],
    }


def _dtypes(o: Operator) -> str:
    ins = ", ".join(o.dtypes) or "-"
    return ins if not o.out or o.out == o.dtypes else f"{ins} -> {', '.join(o.out)}"


def _tests(tests: list[str]) -> str:
    return ", ".join(tests[:3]) + (f" (+{len(tests) - 3})" if len(tests) > 3 else "") or "-"


def render_markdown(r: Readiness, title: str | None = None) -> str:
    device = {"emulate": f"{r.device}, emulated on the CPU", "torch_npu": r.device,
              "none": "the CPU (no NPU)"}[r.runtime]
    if r.refusals or r.failed_cuda or r.not_emulated:
        verdict = "NOT READY"
    elif r.problems:
        verdict = (f"READY, {len(r.problems)} operator/dtype combination(s) to check on "
                   "hardware,")
    else:
        verdict = "READY"
    lines = [f"# {title or 'covo-port run: operator readiness'}", "",
             f"**{verdict}** for Ascend: {code(' '.join(r.command))} on {device}, exit status "
             f"{r.exit_status}, {r.seconds:.1f} s ({r.cpu_seconds:.1f} s of CPU), "
             f"{len(r.processes)} Python process(es) reported; {len(r.operators)} operator/dtype "
             f"combination(s), {r.calls} call(s) on the NPU. covo-port {__version__}.", ""]
    if r.runtime == "emulate":
        lines += ["> " + EMULATION_LIMITS, ""]
    lines += _unsupported(r) + _cuda(r) + _not_emulated(r) + _operators(r) + _fallbacks(r)
    lines += _syncs(r) + _findings(r)
    return "\n".join(lines).rstrip("\n") + "\n"


def _unsupported(r: Readiness) -> list[str]:
    lines = ["## Refused: what Ascend cannot run", ""]
    if not r.refusals:
        return [*lines, "Nothing was refused.", ""]
    return lines + table(("API", "dtypes", "line", "why", "calls", "tests"), [
        (e["api"], ", ".join(e["dtypes"]) or "-", e["where"], e["reason"], e["count"],
         _tests(e["tests"])) for e in r.refusals])


def _cuda(r: Readiness) -> list[str]:
    lines = ["## CUDA on an Ascend host", ""]
    if not r.cuda:
        return [*lines, "No CUDA call.", ""]
    lines += ["The host has no CUDA device: a call that needs one fails (as without an NVIDIA "
              "driver); `torch.cuda.is_available()` answers False, so code that branches on it "
              "takes its CPU path on the NPU host.", ""]
    return lines + table(("API", "line", "result", "calls", "tests"), [
        (e["api"], e["where"], "failed" if e["raised"] else "False", e["count"],
         _tests(e["tests"])) for e in r.cuda])


def _not_emulated(r: Readiness) -> list[str]:
    if not r.not_emulated:
        return []
    return ["## `torch.npu` APIs the emulation does not model", "",
            "torch_npu has them; this run cannot tell what they do on Ascend:", "",
            *table(("API", "line", "calls"), [(e["api"], e["where"], e["count"])
                                              for e in r.not_emulated])]


def _operators(r: Readiness) -> list[str]:
    lines = ["## Operators on the NPU", ""]
    if not r.operators:
        return [*lines, "No operator ran on the NPU.", ""]
    statuses = Counter(o.support.status for o in r.operators)
    lines += ["Every ATen operator that ran on the NPU, per dtypes (inputs -> outputs where they "
              "differ) and the torch API that reached it, judged by torch_npu 2.8's tables for "
              "that API: " + ", ".join(f"{n} {s}" for s, n in sorted(
                  statuses.items(), key=lambda kv: _ORDER[kv[0]])) + ".", ""]
    return lines + table(("operator", "dtypes", "API", "calls", "first line", "torch_npu 2.8"), [
        (o.op, _dtypes(o), o.api or "-", o.count, o.where, o.support.describe())
        for o in r.operators])


def _fallbacks(r: Readiness) -> list[str]:
    rows = r.fallbacks()
    lines = ["## Dtype fallbacks", ""]
    if not rows:
        return [*lines, "No float64 or complex work on the NPU, no bf16 where the table lists "
                "none.", ""]
    lines += ["float64 and complex work on the NPU (Ascend's AI cores compute neither; torch_npu "
              "refuses or runs such operators on the AI CPU, slowly), and bf16 where the table "
              "lists no bf16:", ""]
    return lines + table(("API", "operator", "dtype", "torch_npu 2.8", "calls", "first line"), [
        (f["api"], f["op"], f["dtype"], f["table"], f["count"], f["where"]) for f in rows])


def _syncs(r: Readiness) -> list[str]:
    lines = ["## Host <-> device synchronisations", ""]
    if not r.syncs:
        return [*lines, "None counted.", ""]
    lines += ["Each copies an NPU value to the host and waits for the device:", ""]
    return lines + table(("call", "count", "first line"), [
        (e["kind"], e["count"], e["where"]) for e in r.syncs])


def _findings(r: Readiness) -> list[str]:
    if r.out is None:
        return []
    lines = [f"## Findings `apply` left open in `{r.out}`", ""]
    if not r.findings:
        return [*lines, "None.", ""]
    return lines + table(("line", "rule", "severity", "message"), [
        (f"{f.path}:{f.line}", f.rule, f.severity.value, f.message) for f in r.findings])
