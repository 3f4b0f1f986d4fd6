"""Edits of a text by offset range, and offsets <-> 1-based lines and columns: what the shell,
config and build engines share (no parser is imported here)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from covo_port.model import Change


@dataclass(frozen=True)
class TextEdit:
    rule: str
    start: int
    end: int
    new: str
    change: Change


def apply_edits(text: str, edits: Sequence[TextEdit]) -> str:
    out, last = [], 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):  # insertions first
        out.append(text[last : edit.start])
        out.append(edit.new)
        last = edit.end
    out.append(text[last:])
    return "".join(out)


class LineIndex:
    """1-based lines and columns of offsets in a text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def line_start(self, line: int) -> int:
        return self._starts[min(max(line, 1), len(self._starts)) - 1]

    def offset(self, line: int, column: int) -> int:
        return self.line_start(line) + column - 1
