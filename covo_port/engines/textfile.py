"""What the config and build engines share: the ``# covo-port:`` comments of line-based
formats (suppressions, and ``--annotate`` notes as text edits).

A suppression comment (``# covo-port: ignore[NPU019]``) covers the findings and rewrites that
start on its line (see :mod:`covo_port.engines.directives`); annotations go on their own line
above the finding's line (above the first line of a ``\\``-continued line), indented like it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from covo_port.engines.directives import ANNOTATED, Ignores, annotation_text, stands_above
from covo_port.engines.textedit import LineIndex, TextEdit
from covo_port.model import Change, Finding, Suppressed, SuppressedKind

__all__ = ["annotation_edits", "comment_ignores", "suppress"]

_IGNORE_TEXT = re.compile(r"covo-port:[ \t]*ignore\b")


def comment_ignores(path: str, text: str, known: frozenset[str], markers: Sequence[str] = ("#",),
                    attach: dict[int, int] | None = None) -> Ignores:
    """The suppression comments of a line-based file: a comment starts at the last of
    ``markers`` before ``covo-port: ignore`` on its line. ``attach`` moves a comment's line
    (a Dockerfile comment line counts on the instruction below it)."""
    comments = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _IGNORE_TEXT.search(line)
        if match is None:
            continue
        cut = max(line.rfind(marker, 0, match.start()) for marker in markers)
        if cut >= 0:
            comments.append(((attach or {}).get(number, number), line[cut:]))
    return Ignores(path, comments, known)


def suppress(ignores: Ignores, path: str, findings: list[Finding], edits: list[TextEdit],
             lines: dict[int, Iterable[int]] | None = None) -> list[Suppressed]:
    """Move what ``ignores`` covers out of ``findings`` and ``edits`` (in place); ``lines``
    maps a line to the lines whose comments also cover it (its statement's)."""
    suppressed: list[Suppressed] = []
    if not ignores:
        return suppressed

    def covered(rule: str, line: int) -> bool:
        return ignores.covers(rule, [line, *(lines or {}).get(line, ())])

    kept = []
    for finding in findings:
        if covered(finding.rule, finding.line):
            suppressed.append(Suppressed(finding.rule, path, finding.line,
                                         SuppressedKind.FINDING, finding.message))
        else:
            kept.append(finding)
    findings[:] = kept
    kept_edits = []
    for edit in edits:
        if covered(edit.rule, edit.change.line):
            suppressed.append(Suppressed(edit.rule, path, edit.change.line,
                                         SuppressedKind.CHANGE, edit.change.message))
        else:
            kept_edits.append(edit)
    edits[:] = kept_edits
    return suppressed


def annotation_edits(path: str, text: str, findings: Iterable[Finding],
                     firsts: dict[int, int] | None = None) -> list[TextEdit]:
    """Insertions of ``# covo-port: RULE message`` above each warning or error finding's line
    (``firsts`` maps a line to the first line of the statement that holds it)."""
    lines = text.splitlines(keepends=True)
    raw = [line.encode("utf-8", errors="surrogateescape") for line in lines]
    index = LineIndex(text)
    seen: set[tuple[int, str]] = set()
    edits = []
    for finding in findings:
        if finding.severity not in ANNOTATED:
            continue
        first = (firsts or {}).get(finding.line, finding.line)
        while 1 < first <= len(lines) and lines[first - 2].rstrip("\r\n").endswith("\\"):
            first -= 1  # never between a continued line and its continuation
        note = annotation_text(finding.rule, finding.message)
        if (first, note) in seen or first > len(lines) or stands_above(raw, first, note):
            continue
        seen.add((first, note))
        line = lines[first - 1]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        newline = line[len(line.rstrip("\r\n")):] or "\n"
        offset = index.line_start(first)
        change = Change(finding.rule, path, first, 1, first, 1, "", note,
                        f"annotated: {finding.message}", annotation=True)
        edits.append(TextEdit(finding.rule, offset, offset, indent + note + newline, change))
    return edits
