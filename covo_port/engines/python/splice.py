"""Carrying libcst's print of an edited tree over onto the source, for the few lines that libcst
does not print back byte for byte."""

from __future__ import annotations

from difflib import SequenceMatcher


class Splice:
    """Carries libcst's print of an edited tree over onto the source, where libcst's print of the
    unedited tree (``printed``) is not byte for byte the source: the lines that the edits changed
    come from the new print, every other line from the source."""

    def __init__(self, source: bytes, printed: bytes) -> None:
        self.source = source.splitlines(keepends=True)
        self.printed = printed.splitlines(keepends=True)
        #: printed line -> the same line in the source, for the lines libcst printed faithfully
        self.faithful: dict[int, int] = {}
        matcher = SequenceMatcher(None, self.printed, self.source, autojunk=False)
        for tag, i1, i2, j1, _ in matcher.get_opcodes():
            if tag == "equal":
                self.faithful.update(zip(range(i1, i2), range(j1, j1 + i2 - i1), strict=True))
        self.conflict = 1  # the line where onto_source last gave up

    def _source_range(self, i1: int, i2: int) -> tuple[int, int] | None:
        """The source lines that printed lines ``i1:i2`` are (an insertion point if empty)."""
        if i1 == i2:
            if i1 in self.faithful:
                return self.faithful[i1], self.faithful[i1]
            if i1 - 1 in self.faithful:
                return self.faithful[i1 - 1] + 1, self.faithful[i1 - 1] + 1
            return None
        if i1 not in self.faithful or i2 - 1 not in self.faithful:
            return None
        start, end = self.faithful[i1], self.faithful[i2 - 1] + 1
        if end - start != i2 - i1 or any(i not in self.faithful for i in range(i1, i2)):
            return None
        return start, end

    def onto_source(self, new: bytes) -> bytes | None:
        """``new`` with the source's own bytes on every line the edits left alone; None if an
        edit touches a line that libcst does not print faithfully."""
        lines = new.splitlines(keepends=True)
        out: list[bytes] = []
        at = 0
        matcher = SequenceMatcher(None, self.printed, lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            where = self._source_range(i1, i2)
            if where is None or where[0] < at:
                self.conflict = i1 + 1
                return None
            out += self.source[at:where[0]]
            out += lines[j1:j2]
            at = where[1]
        out += self.source[at:]
        return b"".join(out)
