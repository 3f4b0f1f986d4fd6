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
from covo_port.report.categories import category_counts


def summary(manifest: Manifest) -> dict[str, Any]:
    statuses = Counter(f.status for f in manifest.files)
    per_rule = Counter(c.rule for c in manifest.changes)
    findings = Counter(f.severity.value for f in manifest.findings)
    rows, total = category_counts(manifest)
    return {
        "files": len(manifest.files) - statuses[FileStatus.ADDED],
        "changed": statuses[FileStatus.CHANGED],
        "added": statuses[FileStatus.ADDED],
        "unchanged": statuses[FileStatus.UNCHANGED] + statuses[FileStatus.COPIED],
        "failed": statuses[FileStatus.FAILED],
        "skipped": statuses[FileStatus.SKIPPED],
        "excluded": statuses[FileStatus.EXCLUDED],
        "changes": len(manifest.changes),
        "changes_per_rule": dict(sorted(per_rule.items())),
        "findings": dict(sorted(findings.items())),
        "annotations": sum(1 for c in manifest.changes if c.annotation),
        "suppressed": len(manifest.suppressed),
        "unsafe_fixes_proposed": sum(1 for f in manifest.findings if f.fix is not None),
        "unsafe_fixes_applied": sum(1 for c in manifest.changes if c.unsafe),
        "categories": [row.to_json() for row in rows],
        "constructs": total.to_json(),
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
    columns = ("scanned", "changed", "unchanged", "excluded", "failed", "skipped")
    for col in columns:
        files.add_column(col, justify="right")
    files.add_row(*(str(s["files"] if col == "scanned" else s[col]) for col in columns))
    console.print(files)
    for record in manifest.files:
        if record.status is FileStatus.ADDED:
            console.print(f"added: {escape(record.path)} (the helpers of "
                          f"{', '.join(record.rules)}, imported by the modules that use them)")
    if s["excluded"]:
        console.print(f"excluded: {s['excluded']} file(s) copied unchanged, not rewritten "
                      "(--include/--exclude, .gitignore, generated; the manifest says why)")

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

    _render_categories(manifest, console)

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


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{100 * share:.1f}%"


def _render_categories(manifest: Manifest, console: Console) -> None:
    """CUDA constructs per category: rewritten / proposed / reported / suppressed, converted."""
    rows, total = category_counts(manifest)
    if not rows:
        return
    table = Table(title="CUDA constructs per category", header_style="bold")
    table.add_column("category")
    for col in ("rewritten", "proposed", "reported", "suppressed", "converted"):
        table.add_column(col, justify="right")
    for row in [*rows, total]:
        table.add_row(row.category, str(row.rewritten), str(row.proposed), str(row.reported),
                      str(row.suppressed), _percent(row.converted),
                      style="bold" if row is total else None)
    console.print(table)


def check_failed(result: Result) -> bool:
    """Whether ``covo-port check`` fails: a rewrite pending, or a warning or error finding."""
    return result.pending or any(f.severity is not Severity.INFO
                                 for f in result.manifest.findings)


def render_check(result: Result, console: Console) -> None:
    """``covo-port check``'s report: one line per pending rewrite and per finding, in file and
    line order (``path:line:col: RULE ...``, as linters print them), then one line of totals."""
    manifest = result.manifest
    lines: list[tuple[str, int, int, str]] = []
    for c in manifest.changes:
        if not c.annotation:
            lines.append((c.path, c.line, c.column,
                          f"{c.rule} [bold]would rewrite[/]: {escape(c.message)}"))
    for f in manifest.findings:
        style = _SEVERITY_STYLE[f.severity]
        lines.append((f.path, f.line, f.column,
                      f"{f.rule} [{style}]{f.severity.value}[/]: {escape(f.message)}"))
    for path, line, column, text in sorted(lines, key=lambda x: x[:3]):
        console.print(f"{escape(path)}:{line}:{column}: {text}", soft_wrap=True,
                      highlight=False)
    s = summary(manifest)
    checked = s["files"] - s["excluded"]
    if not check_failed(result):
        console.print(f"covo-port: {checked} file(s) checked: no CUDA-only code")
        return
    rewrites = sum(1 for c in manifest.changes if not c.annotation)
    files = len({path for path, *_ in lines})
    problems = sum(1 for f in manifest.findings if f.severity is not Severity.INFO)
    parts = []
    if rewrites:
        parts.append(f"{rewrites} rewrite(s) pending (`covo-port apply` makes them)")
    if problems:
        parts.append(f"{problems} warning or error finding(s) (a `# covo-port: ignore[RULE]` "
                     "comment on the line accepts one)")
    console.print(f"covo-port: {checked} file(s) checked, {files} to port: "
                  + "; ".join(parts))
