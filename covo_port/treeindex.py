"""Facts about the whole source tree that a per-file rule may need.

Rules see one file at a time (and may run in worker processes), so what they must know about the
rest of SRC is gathered once, before the per-file pass, into a small picklable index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_WORD_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def cuda_words(data: bytes) -> set[bytes]:
    """The words (runs of ``[A-Za-z0-9_]``) of ``data`` with "cuda" in them, any case
    (``cuda_config``, ``useCUDA``, ``is_cuda``). Found from each "cuda" outwards: a pattern
    that tries every position of every word is quadratic, minutes on a large tree."""
    lower = data.lower()
    found = set()
    at = lower.find(b"cuda")
    while at != -1:
        start = at
        while start and data[start - 1] in _WORD_BYTES:
            start -= 1
        end = at + 4
        while end < len(data) and data[end] in _WORD_BYTES:
            end += 1
        found.add(data[start:end])
        at = lower.find(b"cuda", end)
    return found


@dataclass(frozen=True)
class TreeIndex:
    """Which files of SRC hold each CUDA-named identifier (as a word anywhere in their text:
    code, strings, comments, configs), so that renaming one can be confined to one file."""

    cuda_words: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def used_elsewhere(self, word: str, path: str) -> bool:
        """Whether ``word`` occurs in any file of the tree other than ``path``."""
        return bool(self.cuda_words.get(word, frozenset()) - {path})

    @classmethod
    def build(cls, root: Path, paths: Iterable[str], max_bytes: int) -> TreeIndex:
        """Index the files ``paths`` (relative to ``root``); files larger than ``max_bytes`` or
        unreadable are left out (they are copied unchanged and reported by the engine)."""
        words: dict[str, set[str]] = {}
        for rel in paths:
            full = root / rel
            try:
                if full.stat().st_size > max_bytes:
                    continue
                data = full.read_bytes()
            except OSError:
                continue
            if b"\0" in data[:8192]:
                continue
            for match in cuda_words(data):
                if not match[:1].isdigit():
                    words.setdefault(match.decode("ascii"), set()).add(rel)
        return cls({w: frozenset(files) for w, files in words.items()})
