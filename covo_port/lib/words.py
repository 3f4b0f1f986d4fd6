"""Words of raw text: the identifiers a rule looks for across a whole tree."""

from __future__ import annotations

_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def words_containing(data: bytes, part: bytes) -> set[bytes]:
    """The words (runs of ``[A-Za-z0-9_]``) of ``data`` with ``part`` (lower case) in them, any
    case (``cuda_config``, ``useCUDA``, ``is_cuda`` for b"cuda"). Found from each occurrence
    outwards: a pattern that tries every position of every word is quadratic, minutes on a
    large tree."""
    lower = data.lower()
    found = set()
    at = lower.find(part)
    while at != -1:
        start = at
        while start and data[start - 1] in _WORD_BYTES:
            start -= 1
        end = at + len(part)
        while end < len(data) and data[end] in _WORD_BYTES:
            end += 1
        found.add(data[start:end])
        at = lower.find(part, end)
    return found
