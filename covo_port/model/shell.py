"""What a shell rule sees of a script (the ``scan`` of a :class:`ShellSource`): its simple
commands as words with offsets, the parameter expansions, comments and here-documents. The shell
engine produces it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")


@dataclass(frozen=True)
class Word:
    """One shell word: ``text`` is its raw source (quotes included), ``start``/``end`` offsets."""

    text: str
    start: int
    end: int

    @property
    def assignment_name(self) -> str | None:
        """``NAME`` for an assignment word ``NAME=value`` (unquoted name), else None."""
        m = _ASSIGNMENT.match(self.text)
        return m.group("name") if m else None


@dataclass(frozen=True)
class VarRef:
    """A parameter expansion ``$NAME`` or ``${NAME...}``: offsets of NAME itself."""

    name: str
    start: int
    end: int


@dataclass
class ShellScan:
    """A script as the shell reads it: commands, expansions, comments, here-documents."""

    commands: list[list[Word]] = field(default_factory=list)
    refs: list[VarRef] = field(default_factory=list)
    comments: list[tuple[int, int]] = field(default_factory=list)
    #: here-document bodies: (start, end, offset of their ``<<`` operator)
    heredocs: list[tuple[int, int, int]] = field(default_factory=list)
    #: (start, end) of the parts that the parser could not read as shell: no command there
    unreadable: list[tuple[int, int]] = field(default_factory=list)

    def in_comment(self, offset: int) -> bool:
        return any(start <= offset < end for start, end in self.comments)
