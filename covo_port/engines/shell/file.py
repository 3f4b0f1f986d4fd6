"""The shell script that the shell rules of one run share (the
:class:`~covo_port.model.ShellSource` they see): text, lexed commands, edits and findings."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from covo_port.engines.shell.lexer import lex
from covo_port.model import Change, Finding, Rule, RunOptions, Severity, Target


@dataclass(frozen=True)
class TextEdit:
    rule: str
    start: int
    end: int
    new: str
    change: Change


class ShellFile:
    """What the shell rules of one run share: text, lexed commands, target, edits, findings."""

    def __init__(self, path: str, text: str, target: Target, options: RunOptions) -> None:
        self.path = path
        self.text = text
        self.target = target
        self.options = options
        self.scan = lex(text)
        self.edits: list[TextEdit] = []
        self.findings: list[Finding] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of ``offset``."""
        lo, hi = 0, len(self._line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self._line_starts[lo] + 1

    def line_start(self, line: int) -> int:
        """Offset of the first character of 1-based ``line``."""
        return self._line_starts[line - 1]

    def replace(self, rule: type[Rule], start: int, end: int, new: str, message: str) -> None:
        """Record that ``text[start:end]`` becomes ``new``."""
        line, col = self.line_col(start)
        end_line, end_col = self.line_col(end)
        change = Change(rule.id, self.path, line, col, end_line, end_col,
                        self.text[start:end], new, message)
        self.edits.append(TextEdit(rule.id, start, end, new, change))

    def report(self, rule: type[Rule], offset: int, message: str,
               severity: Severity | None = None) -> None:
        """Record a finding at ``offset``."""
        line, col = self.line_col(offset)
        self.findings.append(
            Finding(rule.id, self.path, line, col, severity or rule.severity, message)
        )


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    out, last = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):  # insertions first
        out.append(text[last : edit.start])
        out.append(edit.new)
        last = edit.end
    out.append(text[last:])
    return "".join(out)
