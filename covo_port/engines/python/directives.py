"""``# covo-port:`` comments in Python files: suppressions and ``--annotate`` notes (see
:mod:`covo_port.engines.directives`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from covo_port.engines.directives import (
    ANNOTATED,
    MAYBE_IGNORE,
    Ignores,
    annotation_text,
    stands_above,
)
from covo_port.model import Change, Suppressed, SuppressedKind

if TYPE_CHECKING:
    from covo_port.engines.python.file import PyFile

#: Nodes whose first line is where a statement (or a clause header) starts.
_HEADERS = (cst.BaseCompoundStatement, cst.ExceptHandler, cst.ExceptStarHandler, cst.Else,
            cst.Finally, cst.MatchCase)


class _Comments(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[cst.Comment] = []

    def visit_Comment(self, node: cst.Comment) -> None:
        self.found.append(node)


@dataclass(frozen=True)
class Note:
    """An annotation that ``--annotate`` puts above ``anchor`` (a statement or clause header)."""

    anchor: cst.CSTNode
    text: str
    change: Change


class PythonDirectives:
    """Suppressions and annotations of one Python file."""

    def __init__(self, file: PyFile, source: bytes, path: str, known: frozenset[str]) -> None:
        self._file = file
        self.path = path
        self.source_lines = source.splitlines()
        self.suppressed: list[Suppressed] = []
        comments: list[tuple[int, str]] = []
        if MAYBE_IGNORE.search(source):
            visitor = _Comments()
            file.module.visit(visitor)
            positions = file.positions
            comments = [(positions[c].start.line, c.value) for c in visitor.found]
        self.ignores = Ignores(path, comments, known)

    def span(self, node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
             ) -> tuple[cst.CSTNode | None, int, int, int]:
        """(statement, node's line, statement's first line, its last line) for ``node``.

        The statement is the simple statement line, decorator or compound-statement header
        (``if``, ``def``, ``except``...) that holds ``node``; None for the module itself.
        """
        positions = self._file.positions
        own = positions[node].start.line if node in positions else 1
        current: cst.CSTNode | None = node
        while current is not None:
            if isinstance(current, (cst.SimpleStatementLine, cst.Decorator)):
                where = positions[current]
                return current, own, where.start.line, where.end.line
            if isinstance(current, _HEADERS):
                first = positions[current].start.line
                return current, own, first, first
            current = parents.get(current)
        return None, own, own, own

    def suppress(self, file: PyFile) -> None:
        """Move the findings and edits that a suppression covers out of ``file``."""
        if not self.ignores:
            return
        kept_findings, kept_nodes = [], []
        for finding, node in zip(file.findings, file.finding_nodes, strict=True):
            _, own, first, last = self.span(node, file.parents)
            if self.ignores.covers(finding.rule, (own, first, last)):
                self.suppressed.append(Suppressed(finding.rule, self.path, finding.line,
                                                  SuppressedKind.FINDING, finding.message))
            else:
                kept_findings.append(finding)
                kept_nodes.append(node)
        file.findings[:], file.finding_nodes[:] = kept_findings, kept_nodes
        kept_edits = []
        for edit in file.edits:
            _, own, first, last = self.span(edit.node, file.parents)
            if self.ignores.covers(edit.change.rule, (own, first, last)):
                self.suppressed.append(Suppressed(edit.change.rule, self.path, edit.change.line,
                                                  SuppressedKind.CHANGE, edit.change.message))
            else:
                kept_edits.append(edit)
        file.edits[:] = kept_edits

    def notes(self, file: PyFile) -> dict[str, list[Note]]:
        """The annotations of ``file``'s warning and error findings, by rule."""
        notes: dict[str, list[Note]] = {}
        seen: set[tuple[int, str]] = set()
        for finding, node in zip(file.findings, file.finding_nodes, strict=True):
            if finding.severity not in ANNOTATED:
                continue
            anchor, _, first, _ = self.span(node, file.parents)
            text = annotation_text(finding.rule, finding.message)
            if anchor is None or (id(anchor), text) in seen or stands_above(
                    self.source_lines, first, text):
                continue
            seen.add((id(anchor), text))
            change = Change(finding.rule, self.path, first, 1, first, 1, "", text,
                            f"annotated: {finding.message}", annotation=True)
            notes.setdefault(finding.rule, []).append(Note(anchor, text, change))
        return notes


def with_notes(node: cst.CSTNode, texts: list[str]) -> cst.CSTNode:
    """``node`` (a statement or clause header) with ``texts`` as comment lines just above it."""
    lines = [cst.EmptyLine(indent=True, comment=cst.Comment(text)) for text in texts]
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:
        return node.with_changes(lines_after_decorators=[*node.lines_after_decorators, *lines])
    leading = getattr(node, "leading_lines", None)
    if leading is None:
        return node
    return node.with_changes(leading_lines=[*leading, *lines])


