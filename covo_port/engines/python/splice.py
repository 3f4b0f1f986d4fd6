"""Carrying libcst's print of an edited tree over onto the source, for the few lines that libcst
does not print back byte for byte.

The lines are matched in time that grows with the file's length, not its square: lines common
to both sides at their start and end are matched first, then the lines that occur exactly once
on each side anchor the match (the longest run of such lines in the same order), and the gaps
between anchors are matched the same way, down to gaps small enough for difflib (a gap without
anchors, of the same length on both sides, is matched line by line in place). Lines that stay
unmatched are only ever treated as changed, so a poorer match can make a file be reported
(an edit on a line that is not known to be printed faithfully), never make it wrong.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from difflib import SequenceMatcher

#: gaps this small (lines on either side multiplied) are matched by difflib
SMALL_GAP = 64 * 64

Opcode = tuple[str, int, int, int, int]


def _anchors(a: Sequence[bytes], b: Sequence[bytes], alo: int, ahi: int, blo: int,
             bhi: int) -> list[tuple[int, int]]:
    """The lines found once in ``a[alo:ahi]`` and once in ``b[blo:bhi]``, as (i, j) pairs: the
    longest run of them that is in the same order on both sides."""
    seen_a: dict[bytes, int] = {}
    for i in range(alo, ahi):
        seen_a[a[i]] = -1 if a[i] in seen_a else i
    seen_b: dict[bytes, int] = {}
    for j in range(blo, bhi):
        seen_b[b[j]] = -1 if b[j] in seen_b else j
    pairs = sorted((i, seen_b[line]) for line, i in seen_a.items()
                   if i >= 0 and seen_b.get(line, -1) >= 0)
    # longest increasing run of j (patience sorting), with back links to rebuild it
    tails: list[int] = []  # j of the last pair of the best run of each length
    ends: list[int] = []  # index in pairs of that last pair
    back = [-1] * len(pairs)
    for k, (_, j) in enumerate(pairs):
        n = bisect_left(tails, j)
        if n == len(tails):
            tails.append(j)
            ends.append(k)
        else:
            tails[n], ends[n] = j, k
        back[k] = ends[n - 1] if n else -1
    run = []
    k = ends[-1] if ends else -1
    while k >= 0:
        run.append(pairs[k])
        k = back[k]
    return run[::-1]


def matching_lines(a: Sequence[bytes], b: Sequence[bytes]) -> list[tuple[int, int]]:
    """Pairs (i, j) of equal lines ``a[i] == b[j]``, increasing in both i and j."""
    matched: list[tuple[int, int]] = []
    # a stack of work, popped in order: a gap to match, or a pair already matched
    todo: list[tuple[int, int, int, int] | tuple[int, int]] = [(0, len(a), 0, len(b))]
    while todo:
        item = todo.pop()
        if len(item) == 2:
            matched.append(item)  # type: ignore[arg-type]
            continue
        alo, ahi, blo, bhi = item  # type: ignore[misc]
        while alo < ahi and blo < bhi and a[alo] == b[blo]:
            matched.append((alo, blo))
            alo, blo = alo + 1, blo + 1
        tail = []
        while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
            ahi, bhi = ahi - 1, bhi - 1
            tail.append((ahi, bhi))
        todo.extend(tail)  # popped after the gap: in order
        if alo == ahi or blo == bhi:
            continue
        if (ahi - alo) * (bhi - blo) <= SMALL_GAP:
            blocks = SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            for i, j, n in reversed(blocks.get_matching_blocks()):
                todo.extend((alo + i + k, blo + j + k) for k in reversed(range(n)))
            continue
        anchors = _anchors(a, b, alo, ahi, blo, bhi)
        if not anchors:
            if ahi - alo == bhi - blo:  # lines changed in place: equal ones at equal offsets
                todo.extend((i, blo + i - alo) for i in reversed(range(alo, ahi))
                            if a[i] == b[blo + i - alo])
            continue  # else nothing anchors this gap: its lines count as changed
        gaps: list[tuple[int, int, int, int] | tuple[int, int]] = []
        i0, j0 = alo, blo
        for i, j in anchors:
            gaps += [(i0, i, j0, j), (i, j)]
            i0, j0 = i + 1, j + 1
        gaps.append((i0, ahi, j0, bhi))
        todo.extend(reversed(gaps))
    return matched


def opcodes(a: Sequence[bytes], b: Sequence[bytes]) -> list[Opcode]:
    """What turns ``a`` into ``b``, as :meth:`difflib.SequenceMatcher.get_opcodes` says it."""
    codes: list[Opcode] = []
    i0 = j0 = 0
    for i, j in [*matching_lines(a, b), (len(a), len(b))]:
        if i > i0 or j > j0:
            tag = "replace" if i > i0 and j > j0 else "delete" if i > i0 else "insert"
            codes.append((tag, i0, i, j0, j))
        if i < len(a):
            if codes and codes[-1][0] == "equal":
                _, e1, _, f1, _ = codes.pop()
                codes.append(("equal", e1, i + 1, f1, j + 1))
            else:
                codes.append(("equal", i, i + 1, j, j + 1))
        i0, j0 = i + 1, j + 1
    return codes


class Splice:
    """Carries libcst's print of an edited tree over onto the source, where libcst's print of the
    unedited tree (``printed``) is not byte for byte the source: the lines that the edits changed
    come from the new print, every other line from the source."""

    def __init__(self, source: bytes, printed: bytes) -> None:
        self.source = source.splitlines(keepends=True)
        self.printed = printed.splitlines(keepends=True)
        #: printed line -> the same line in the source, for the lines libcst printed faithfully
        self.faithful: dict[int, int] = dict(matching_lines(self.printed, self.source))
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
        for tag, i1, i2, j1, j2 in opcodes(self.printed, lines):
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
