"""What the format readers share: the error a reader raises for a file its library refuses."""

from __future__ import annotations


class ConfigParseError(ValueError):
    """The format's library refuses the file (``line`` is 1-based, 1 where unknown)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.line = max(line, 1)


def quoted_range(text: str, start: int, end: int, value: str) -> tuple[int, int]:
    """(start, end) of ``value``'s characters inside the quoted text ``text[start:end]``, or
    (-1, -1) where they are not written as they are (escapes)."""
    inner_start, inner_end = start + 1, end - 1
    if inner_end - inner_start == len(value) and text[inner_start:inner_end] == value:
        return inner_start, inner_end
    return -1, -1
