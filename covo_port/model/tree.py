"""Facts about the whole source tree that a per-file rule may need.

Rules see one file at a time (and may run in worker processes), so what a rule must know about
the rest of SRC is gathered once, before the per-file pass, into this small picklable index: for
each rule that declares ``needs_tree``, which files hold each word that its ``tree_words``
extracts from a file's bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TreeIndex:
    """rule id -> word -> the files of SRC that hold it."""

    words: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)

    def files_with(self, rule: str, word: str) -> frozenset[str]:
        """The files in which ``rule`` found ``word``."""
        return self.words.get(rule, {}).get(word, frozenset())

    def used_elsewhere(self, rule: str, word: str, path: str) -> bool:
        """Whether ``word`` (as ``rule`` extracts words) occurs in a file other than ``path``."""
        return bool(self.words.get(rule, {}).get(word, frozenset()) - {path})
