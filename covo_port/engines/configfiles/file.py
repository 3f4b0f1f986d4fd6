"""The config file that the config rules of one run share (the
:class:`~covo_port.model.ConfigSource` they see): its entries, the value edits and findings."""

from __future__ import annotations

from collections.abc import Sequence

from covo_port.engines.textedit import LineIndex, TextEdit
from covo_port.model import (
    Change,
    ConfigEntry,
    Finding,
    Rule,
    RunOptions,
    Severity,
    Target,
)

NOT_IN_PLACE = ("not rewritten: the value is not written as it is here (escapes, a block "
                "scalar, a YAML anchor that other keys share, or a value over several lines)")


class ConfigFile:
    """What the config rules of one run share: the file's text and entries, edits, findings."""

    def __init__(self, path: str, format: str, text: str, entries: Sequence[ConfigEntry],
                 target: Target, options: RunOptions) -> None:
        self.path = path
        self.format = format
        self.text = text
        self.entries = entries
        self.target = target
        self.options = options
        self.edits: list[TextEdit] = []
        self.findings: list[Finding] = []
        self.index = LineIndex(text)

    def replace(self, rule: type[Rule], entry: ConfigEntry, new: str, message: str) -> None:
        """Record that the string ``entry.value`` becomes ``new``."""
        if not entry.editable or not isinstance(entry.value, str):
            self.report(rule, entry, f"{message}: {NOT_IN_PLACE}", Severity.WARNING)
            return
        line, column = self.index.line_col(entry.start)
        end_line, end_column = self.index.line_col(entry.end)
        change = Change(rule.id, self.path, line, column, end_line, end_column,
                        self.text[entry.start:entry.end], new, message)
        self.edits.append(TextEdit(rule.id, entry.start, entry.end, new, change))

    def report(self, rule: type[Rule], entry: ConfigEntry, message: str,
               severity: Severity | None = None) -> None:
        """Record a finding at ``entry``."""
        self.findings.append(Finding(rule.id, self.path, entry.line, entry.column,
                                     severity or rule.severity, message))
