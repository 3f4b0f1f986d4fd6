"""Facts about the whole source tree that a per-file rule may need.

Rules see one file at a time (and may run in worker processes), so what a rule must know about
the rest of SRC is gathered once, before the per-file pass, into this small picklable index: for
each rule that declares ``needs_tree``, which files hold each word that its ``tree_words``
extracts from a file's bytes; and, for every rule, the tree's layout: its package folders and
the support modules (:mod:`covo_port.model.support`) already in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TreeIndex:
    """rule id -> word -> the files of SRC that hold it."""

    words: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    #: The folders of SRC that hold an ``__init__.py`` ("" for SRC itself).
    packages: frozenset[str] = frozenset()
    #: Each folder of SRC that holds something named like the support module -> the helpers
    #: that covo-port's support module there defines; None where it is not covo-port's.
    support: Mapping[str, frozenset[str] | None] = field(default_factory=dict)

    def files_with(self, rule: str, word: str) -> frozenset[str]:
        """The files in which ``rule`` found ``word``."""
        return self.words.get(rule, {}).get(word, frozenset())

    def used_elsewhere(self, rule: str, word: str, path: str) -> bool:
        """Whether ``word`` (as ``rule`` extracts words) occurs in a file other than ``path``."""
        return bool(self.words.get(rule, {}).get(word, frozenset()) - {path})
