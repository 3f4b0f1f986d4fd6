"""The shell script that the shell rules of one run share (the
:class:`~covo_port.model.ShellSource` they see): text, lexed commands, edits and findings."""

from __future__ import annotations

from covo_port.engines.shell.lexer import lex
from covo_port.engines.textedit import LineIndex, TextEdit
from covo_port.model import Change, Finding, Rule, RunOptions, Severity, Target


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
        self._lines = LineIndex(text)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of ``offset``."""
        return self._lines.line_col(offset)

    def line_start(self, line: int) -> int:
        """Offset of the first character of 1-based ``line``."""
        return self._lines.line_start(line)

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

