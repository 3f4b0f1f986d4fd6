"""Shell queries that rules share."""

from __future__ import annotations

from collections.abc import Sequence

from covo_port.model import Word


def command_name(words: Sequence[Word]) -> tuple[int, Word | None]:
    """Index and word of the command name (after leading ``NAME=value`` assignments)."""
    for index, word in enumerate(words):
        if word.assignment_name is None:
            return index, word
    return len(words), None
