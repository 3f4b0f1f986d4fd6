"""What the format readers share: the error a reader raises for a file its library refuses."""

from __future__ import annotations

from covo_port.engines.outcome import FileOutcome
from covo_port.model import ENGINE_CODE, Finding, Severity


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


def text_body(source: bytes, path: str, label: str,
              unchecked: str) -> tuple[str, str] | FileOutcome:
    """(the byte-order mark or "", the text after it) of a UTF-8 file; a file that is not
    UTF-8 is a finding (``unchecked``: what is then not checked) and is copied unchanged."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        return FileOutcome(findings=[Finding(ENGINE_CODE, path, 1, 1, Severity.WARNING,
                                             f"not UTF-8: not read as {label}; copied "
                                             f"unchanged, {unchecked}")])
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    return bom, text[len(bom):]


def unreadable(path: str, exc: ConfigParseError, label: str, unchecked: str) -> FileOutcome:
    """The finding for a file its format's library cannot read (copied unchanged)."""
    return FileOutcome(findings=[Finding(
        ENGINE_CODE, path, exc.line, 1, Severity.WARNING,
        f"not read as {label} ({exc.message}): copied unchanged, {unchecked}")])
