"""The CSV view of a run: one row per change or finding, to open in a spreadsheet (the form in
which Huawei's migration tool hands its users what it found).

Columns: kind (``change``, ``finding``, ``proposed``: an unsafe fix not applied, ``suppressed``:
switched off by a ``# covo-port: ignore`` comment), rule, name, category, file, line, column,
severity (findings only), message, before, after (the code a change or a proposed fix
replaces, and with what). Rows are in the order of the manifest (file, then line).
Spreadsheet programs read the UTF-8 byte-order mark that starts the text as "this is UTF-8".
"""

from __future__ import annotations

import csv
import io

from covo_port.pipeline.result import Result
from covo_port.registry import all_rules
from covo_port.report.categories import category

COLUMNS = ("kind", "rule", "name", "category", "file", "line", "column", "severity", "message",
           "before", "after")
BOM = "\ufeff"
Row = tuple[str, str, str, str, str, int, int, str, str, str, str]


def to_csv(result: Result) -> str:
    """The run's changes and findings as CSV text (with a byte-order mark, CRLF rows)."""
    manifest = result.manifest
    names = {r.id: r.name for r in all_rules()}
    rows: list[Row] = []

    def row(kind: str, rule: str, path: str, line: int, column: int, severity: str,
            message: str, before: str, after: str) -> Row:
        return (kind, rule, names.get(rule, "covo-port"), category(rule), path, line, column,
                severity, message, before, after)

    for change in manifest.changes:
        if not change.annotation:
            rows.append(row("change", change.rule, change.path, change.line, change.column, "",
                            change.message, change.before, change.after))
    for finding in manifest.findings:
        fix = finding.fix
        rows.append(row("proposed" if fix else "finding", finding.rule, finding.path,
                        finding.line, finding.column, finding.severity.value, finding.message,
                        fix.before if fix else "", fix.after if fix else ""))
    for suppressed in manifest.suppressed:
        rows.append(row("suppressed", suppressed.rule, suppressed.path, suppressed.line, 1,
                        "", suppressed.message, "", ""))
    order = {record.path: n for n, record in enumerate(manifest.files)}
    rows.sort(key=lambda r: (order.get(r[4], len(order)), r[5], r[6]))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return BOM + buffer.getvalue()
