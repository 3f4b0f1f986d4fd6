"""``# covo-port:`` comments: suppressions read from the source, annotations written into OUT.

Suppression: a comment ``# covo-port: ignore[NPU104]`` (several codes: ``ignore[NPU104,NPU017]``;
every rule: a bare ``# covo-port: ignore``) switches off the findings *and* the rewrites of those
rules that start on its line. The comment may stand on the line where the finding or rewrite
starts, or on the first or last line of the statement that holds it (a Python statement or a
shell command spanning several lines; for a compound statement, the first line of its header).
Nothing is dropped silently: what a comment switched off is kept as :class:`Suppressed` records,
counted in the report and listed in the manifest. A code that names no rule is itself reported.

Annotation (``apply --annotate``): each warning or error finding of a rule gets the comment
``# covo-port: NPU104 <message>`` on its own line above the statement that holds it, indented
like it, so the open work is visible in OUT itself. It always goes above the statement's first
line (a comment there can never land inside a multi-line string or break a continued shell line),
and is not written again where the same comment already stands directly above (a second apply
of OUT adds nothing). Info findings are not annotated: they describe a rewrite that was made.
Annotations are changes of the rule that found the line (``Change.annotation``), so
``covo-port diff``, ``diff --rule`` and that rule's commit in OUT show them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from covo_port.rule import Change, Finding, Severity

if TYPE_CHECKING:
    from covo_port.pyengine import PyFile
    from covo_port.shell import ShellFile, TextEdit

ENGINE_RULE = "NPU000"
_IGNORE = re.compile(r"covo-port:[ \t]*ignore\b(?:\[(?P<codes>[^\]\n]*)\])?")
_MAYBE_IGNORE = re.compile(rb"covo-port:[ \t]*ignore\b")
_CODE = re.compile(r"NPU\d{3}")
_ANNOTATED = (Severity.WARNING, Severity.ERROR)


@dataclass(frozen=True)
class Suppressed:
    """A finding or a rewrite that a ``# covo-port: ignore`` comment switched off."""

    rule: str
    path: str
    line: int
    kind: str  # "finding" or "change"
    message: str


@dataclass(frozen=True)
class Ignore:
    """One ``# covo-port: ignore[...]`` comment: the rules it names (None: every rule)."""

    line: int
    codes: frozenset[str] | None

    def covers(self, rule: str) -> bool:
        return self.codes is None or rule in self.codes


def annotation_text(rule: str, message: str) -> str:
    """The comment ``--annotate`` writes for a finding (one line, whatever the message)."""
    return f"# covo-port: {rule} {' '.join(message.split())}"


def _known_rules() -> frozenset[str]:
    from covo_port.registry import all_rules  # the registry imports the rules, which import us

    return frozenset(rule.id for rule in all_rules())


class Ignores:
    """The suppression comments of one file, by line, and the findings about bad ones."""

    def __init__(self, path: str, comments: Iterable[tuple[int, str]]) -> None:
        self.by_line: dict[int, list[Ignore]] = {}
        self.findings: list[Finding] = []
        for line, text in comments:
            match = _IGNORE.search(text)
            if match is None:
                continue
            codes = None
            if match.group("codes") is not None:
                named = [c.strip().upper() for c in match.group("codes").split(",")]
                unknown = [c for c in named if c not in _known_rules()]
                for code in unknown:
                    what = "names no rule" if _CODE.fullmatch(code) else "is not a rule code"
                    self.findings.append(Finding(
                        ENGINE_RULE, path, line, 1, Severity.WARNING,
                        f"covo-port: ignore[{match.group('codes')}]: {code!r} {what} "
                        "(`covo-port rules` lists them); it suppresses nothing"))
                codes = frozenset(c for c in named if c not in unknown)
            self.by_line.setdefault(line, []).append(Ignore(line, codes))

    def __bool__(self) -> bool:
        return bool(self.by_line)

    def covers(self, rule: str, lines: Iterable[int]) -> bool:
        return any(ignore.covers(rule) for line in set(lines)
                   for ignore in self.by_line.get(line, ()))


def _above(lines: list[bytes], first: int, text: str) -> bool:
    """Whether ``text`` already stands in the comment block directly above line ``first``."""
    wanted = text.encode("utf-8", errors="surrogateescape")
    index = first - 2
    while index >= 0 and lines[index].lstrip().startswith(b"#"):
        if lines[index].strip() == wanted:
            return True
        index -= 1
    return False


# -- Python -------------------------------------------------------------------------------------
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
    """Suppressions and annotations of one Python file, on its metadata wrapper."""

    def __init__(self, wrapper: MetadataWrapper, source: bytes, path: str) -> None:
        self._wrapper = wrapper
        self.path = path
        self.source_lines = source.splitlines()
        self.suppressed: list[Suppressed] = []
        comments: list[tuple[int, str]] = []
        if _MAYBE_IGNORE.search(source):
            visitor = _Comments()
            wrapper.module.visit(visitor)
            positions = wrapper.resolve(PositionProvider)
            comments = [(positions[c].start.line, c.value) for c in visitor.found]
        self.ignores = Ignores(path, comments)

    def span(self, node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
             ) -> tuple[cst.CSTNode | None, int, int, int]:
        """(statement, node's line, statement's first line, its last line) for ``node``.

        The statement is the simple statement line, decorator or compound-statement header
        (``if``, ``def``, ``except``...) that holds ``node``; None for the module itself.
        """
        positions = self._wrapper.resolve(PositionProvider)
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
                                                  "finding", finding.message))
            else:
                kept_findings.append(finding)
                kept_nodes.append(node)
        file.findings[:], file.finding_nodes[:] = kept_findings, kept_nodes
        kept_edits = []
        for edit in file.edits:
            _, own, first, last = self.span(edit.node, file.parents)
            if self.ignores.covers(edit.change.rule, (own, first, last)):
                self.suppressed.append(Suppressed(edit.change.rule, self.path, edit.change.line,
                                                  "change", edit.change.message))
            else:
                kept_edits.append(edit)
        file.edits[:] = kept_edits

    def notes(self, file: PyFile) -> dict[str, list[Note]]:
        """The annotations of ``file``'s warning and error findings, by rule."""
        notes: dict[str, list[Note]] = {}
        seen: set[tuple[int, str]] = set()
        for finding, node in zip(file.findings, file.finding_nodes, strict=True):
            if finding.severity not in _ANNOTATED:
                continue
            anchor, _, first, _ = self.span(node, file.parents)
            text = annotation_text(finding.rule, finding.message)
            if anchor is None or (id(anchor), text) in seen or _above(
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


# -- shell --------------------------------------------------------------------------------------
class ShellDirectives:
    """Suppressions and annotations of one shell script, on its lexed commands."""

    def __init__(self, file: ShellFile) -> None:
        self.file = file
        self.lines = file.text.splitlines(keepends=True)
        #: line -> (first, last) line of the outermost command that covers it
        self._spans: dict[int, tuple[int, int]] = {}
        for words in file.scan.commands:
            first = file.line_col(words[0].start)[0]
            last = file.line_col(max(words[-1].end - 1, words[-1].start))[0]
            for line in range(first, last + 1):
                known = self._spans.get(line)
                if known is None or first < known[0] or (first == known[0] and last > known[1]):
                    self._spans[line] = (first, last)
        for start, end, operator in file.scan.heredocs:
            owner = self.span(file.line_col(operator)[0])
            for line in range(file.line_col(start)[0], file.line_col(max(end - 1, start))[0] + 1):
                self._spans.setdefault(line, owner)
        comments = [(file.line_col(start)[0], file.text[start:end])
                    for start, end in file.scan.comments]
        self.ignores = Ignores(file.path, comments)
        self.suppressed: list[Suppressed] = []

    def span(self, line: int) -> tuple[int, int]:
        return self._spans.get(line, (line, line))

    def _lines(self, line: int) -> tuple[int, int, int]:
        first, last = self.span(line)
        return line, first, last

    def suppress(self) -> None:
        """Move the findings and edits that a suppression covers out of the file."""
        if not self.ignores:
            return
        file = self.file
        kept: list[Finding] = []
        for finding in file.findings:
            if self.ignores.covers(finding.rule, self._lines(finding.line)):
                self.suppressed.append(Suppressed(finding.rule, file.path, finding.line,
                                                  "finding", finding.message))
            else:
                kept.append(finding)
        file.findings[:] = kept
        edits: list[TextEdit] = []
        for edit in file.edits:
            if self.ignores.covers(edit.rule, self._lines(edit.change.line)):
                self.suppressed.append(Suppressed(edit.rule, file.path, edit.change.line,
                                                  "change", edit.change.message))
            else:
                edits.append(edit)
        file.edits[:] = edits

    def annotate(self) -> None:
        """Add an insertion edit above each warning or error finding's command."""
        from covo_port.shell import TextEdit

        file = self.file
        raw = [line.encode("utf-8", errors="surrogateescape") for line in self.lines]
        seen: set[tuple[int, str]] = set()
        for finding in list(file.findings):
            if finding.severity not in _ANNOTATED:
                continue
            first, _ = self.span(finding.line)
            while first > 1 and self.lines[first - 2].rstrip("\r\n").endswith("\\"):
                first -= 1  # never between a continued line and its continuation
            text = annotation_text(finding.rule, finding.message)
            if (first, text) in seen or first > len(self.lines) or _above(raw, first, text):
                continue
            seen.add((first, text))
            line = self.lines[first - 1]
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            newline = line[len(line.rstrip("\r\n")):] or "\n"
            offset = file.line_start(first)
            change = Change(finding.rule, file.path, first, 1, first, 1, "", text,
                            f"annotated: {finding.message}", annotation=True)
            file.edits.append(TextEdit(finding.rule, offset, offset, indent + text + newline,
                                       change))
