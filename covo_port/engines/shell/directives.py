"""``# covo-port:`` comments in shell scripts: suppressions and ``--annotate`` notes (see
:mod:`covo_port.engines.directives`)."""

from __future__ import annotations

from covo_port.engines.directives import ANNOTATED, Ignores, annotation_text, stands_above
from covo_port.engines.shell.file import ShellFile
from covo_port.engines.textedit import TextEdit
from covo_port.model import Change, Finding, Suppressed, SuppressedKind


class ShellDirectives:
    """Suppressions and annotations of one shell script, on its lexed commands."""

    def __init__(self, file: ShellFile, known_rules: frozenset[str]) -> None:
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
        self.ignores = Ignores(file.path, comments, known_rules)
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
                                                  SuppressedKind.FINDING, finding.message))
            else:
                kept.append(finding)
        file.findings[:] = kept
        edits: list[TextEdit] = []
        for edit in file.edits:
            if self.ignores.covers(edit.rule, self._lines(edit.change.line)):
                self.suppressed.append(Suppressed(edit.rule, file.path, edit.change.line,
                                                  SuppressedKind.CHANGE, edit.change.message))
            else:
                edits.append(edit)
        file.edits[:] = edits

    def annotate(self) -> None:
        """Add an insertion edit above each warning or error finding's command."""
        file = self.file
        raw = [line.encode("utf-8", errors="surrogateescape") for line in self.lines]
        seen: set[tuple[int, str]] = set()
        for finding in list(file.findings):
            if finding.severity not in ANNOTATED:
                continue
            first, _ = self.span(finding.line)
            while first > 1 and self.lines[first - 2].rstrip("\r\n").endswith("\\"):
                first -= 1  # never between a continued line and its continuation
            text = annotation_text(finding.rule, finding.message)
            if (first, text) in seen or first > len(self.lines) or stands_above(raw, first, text):
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
