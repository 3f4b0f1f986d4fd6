"""Human (rich) and machine (JSON) views of an apply run."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from covo_port.model import FileStatus, Severity, SuppressedKind
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.result import Result
from covo_port.registry import all_rules


def summary(manifest: Manifest) -> dict[str, Any]:
    statuses = Counter(f.status for f in manifest.files)
    per_rule = Counter(c.rule for c in manifest.changes)
    findings = Counter(f.severity.value for f in manifest.findings)
    return {
        "files": len(manifest.files),
        "changed": statuses[FileStatus.CHANGED],
        "unchanged": statuses[FileStatus.UNCHANGED] + statuses[FileStatus.COPIED],
        "failed": statuses[FileStatus.FAILED],
        "skipped": statuses[FileStatus.SKIPPED],
        "changes": len(manifest.changes),
        "changes_per_rule": dict(sorted(per_rule.items())),
        "findings": dict(sorted(findings.items())),
        "annotations": sum(1 for c in manifest.changes if c.annotation),
        "suppressed": len(manifest.suppressed),
        "unsafe_fixes_proposed": sum(1 for f in manifest.findings if f.fix is not None),
        "unsafe_fixes_applied": sum(1 for c in manifest.changes if c.unsafe),
    }


def to_json(result: Result) -> dict[str, Any]:
    data = result.manifest.to_json()
    data["summary"] = summary(result.manifest)
    data["check"] = result.check
    data["output"] = str(result.out) if result.out else None
    data["exit_code"] = result.exit_code
    return data


_SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def render(result: Result, console: Console) -> None:
    manifest = result.manifest
    s = summary(manifest)
    files = Table(title="Files", show_header=True, header_style="bold")
    for col in ("scanned", "changed", "unchanged", "failed", "skipped"):
        files.add_column(col, justify="right")
    files.add_row(str(s["files"]), str(s["changed"]), str(s["unchanged"]), str(s["failed"]),
                  str(s["skipped"]))
    console.print(files)

    if manifest.changes:
        summaries = {r.id: r.summary for r in all_rules()}
        rules = Table(title="Changes per rule", header_style="bold")
        rules.add_column("rule")
        rules.add_column("changes", justify="right")
        rules.add_column("files", justify="right")
        rules.add_column("summary")
        for rule_id, count in s["changes_per_rule"].items():
            n_files = len({c.path for c in manifest.changes if c.rule == rule_id})
            rules.add_row(rule_id, str(count), str(n_files), summaries.get(rule_id, ""))
        console.print(rules)

    if manifest.findings:
        # one unwrapped line per finding (path:line:col first, as compilers and linters print
        # them), so that editors and terminals can jump to it and grep can find it
        console.print(f"[bold]Findings that need a human ({len(manifest.findings)})[/]")
        order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
        for f in sorted(manifest.findings, key=lambda f: (order[f.severity], f.path, f.line)):
            style = _SEVERITY_STYLE[f.severity]
            console.print(f"{escape(f.path)}:{f.line}:{f.column}: {f.rule} "
                          f"[{style}]{f.severity.value}[/]: {escape(f.message)}",
                          soft_wrap=True, highlight=False)

    if manifest.suppressed:
        kinds = Counter(s.kind for s in manifest.suppressed)
        console.print(f"suppressed: {len(manifest.suppressed)} "
                      f"({kinds[SuppressedKind.FINDING]} finding(s), "
                      f"{kinds[SuppressedKind.CHANGE]} rewrite(s)) by `# covo-port: ignore` "
                      "comments; listed in the manifest")

    if s["unsafe_fixes_proposed"]:
        console.print(f"unsafe fixes: {s['unsafe_fixes_proposed']} proposed, not applied (they "
                      "can change behaviour; review them, then `--unsafe-fixes` applies them)")
    if s["unsafe_fixes_applied"]:
        console.print(f"unsafe fixes: {s['unsafe_fixes_applied']} applied (--unsafe-fixes)")

    if result.check:
        verdict = (f"{s['changed']} file(s) would change" if result.pending
                   else "nothing to change")
        console.print(f"check: {verdict}")
    elif result.out is not None:
        console.print(f"wrote {result.out} ({s['changed']} file(s) changed, "
                      f"{s['changes']} change(s))")
