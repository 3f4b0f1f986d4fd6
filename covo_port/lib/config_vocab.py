"""What config keys and values mean (``covo_port/data/config_vocabulary.tsv``), for the config
rules and, later, the Python rules that read the same settings from code.

The table says which keys name a torch device or a process-group backend, which sections and
sibling keys make a mapping another library's settings (its own device vocabulary), and which
values (Lightning's accelerator, attention implementations, environment variables, container
GPU settings) need CUDA. Keys are compared normalized (:func:`normal_key`); patterns are fnmatch
patterns.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache

from covo_port.lib.datafiles import data_text
from covo_port.model import ConfigEntry

#: ``"cuda"`` or ``"cuda:N"``.
CUDA_DEVICE = re.compile(r"^cuda(?::(\d+))?$")
#: ``"nccl"``, or a ``device:backend`` list that names it (``"cpu:gloo,cuda:nccl"``).
NCCL_BACKEND = re.compile(r"^(?:nccl|(?:[a-z]+:[a-z]+,)*cuda:nccl(?:,[a-z]+:[a-z]+)*)$")
_WORDS = re.compile(r"[a-z0-9]+")
_TRUE = {"true", "yes", "on", "1"}


@dataclass(frozen=True)
class Term:
    """One row of the table."""

    kind: str
    pattern: str
    #: What the row is about (a library, a tool), for messages.
    name: str
    advice: str

    def matches(self, text: str) -> bool:
        return fnmatchcase(text, self.pattern)


@cache
def terms(kind: str) -> tuple[Term, ...]:
    """The rows of ``kind``, in the table's order."""
    rows = []
    for line in data_text("config_vocabulary.tsv").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        row_kind, pattern, name, advice = line.split("\t")
        if row_kind == kind:
            rows.append(Term(row_kind, pattern, name, advice))
    return tuple(rows)


@cache
def _any(kind: str) -> re.Pattern[str]:
    """One regular expression for all the patterns of ``kind`` (most texts match none)."""
    return re.compile("|".join(f"(?:{fnmatch.translate(t.pattern)})" for t in terms(kind))
                      or "(?!)")


def lookup(kind: str, text: str) -> Term | None:
    """The first row of ``kind`` whose pattern matches ``text``."""
    if not _any(kind).match(text):
        return None
    return next((term for term in terms(kind) if term.matches(text)), None)


def normal_key(key: str) -> str:
    """``Dist-Backend`` -> ``dist_backend``: lowercase, ``-`` and ``.`` as ``_``."""
    return key.lower().replace("-", "_").replace(".", "_")


def is_device_key(key: str | None) -> bool:
    """Whether a value under ``key`` is a torch device (``device``, ``eval_device``,
    ``map_location``, ``devices``...)."""
    return key is not None and lookup("device-key", normal_key(key)) is not None


def is_backend_key(key: str | None) -> bool:
    """Whether a value under ``key`` is a torch.distributed backend (``dist_backend``...)."""
    return key is not None and lookup("backend-key", normal_key(key)) is not None


def to_hccl(value: str, device_type: str) -> str:
    """``"nccl"`` -> ``"hccl"``, ``"cpu:gloo,cuda:nccl"`` -> ``"cpu:gloo,npu:hccl"``."""
    return value.replace("cuda:nccl", f"{device_type}:hccl").replace("nccl", "hccl")


def truthy(value: object) -> bool:
    """A switch that is on: ``true`` (any format's boolean) or ``"true"``/``"1"``/``"yes"``
    (INI and .env values are strings)."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


def setting(key: str | None, value: object) -> Term | None:
    """A ``key=value`` row of the accelerator or container kinds (``accelerator=gpu``)."""
    if key is None or isinstance(value, (dict, list)):
        return None
    text = f"{normal_key(key)}={str(value).lower()}"
    return lookup("accelerator", text) or lookup("container", text)


def attention(key: str | None, value: object) -> Term | None:
    """The CUDA-only attention implementation that ``key: value`` selects, if any."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        term = lookup("attention-value", lowered)
        if term is not None:
            return term
        if key is not None and lookup("attention-key", normal_key(key)):
            return lookup("attention-generic", lowered)
        return None
    if key is not None and truthy(value):
        return lookup("attention-flag", normal_key(key))
    return None


def environment(key: str | None) -> Term | None:
    """The row of an environment variable a config sets (``CUDA_VISIBLE_DEVICES``...)."""
    return lookup("environment", key) if key is not None else None


def _words(key: str | int) -> set[str]:
    if not isinstance(key, str):
        return set()
    normal = normal_key(key)
    return {normal, *_WORDS.findall(normal)}


class ConfigContext:
    """Which entries of a file belong to another library's settings (its own device
    vocabulary): a file the table names (a CI workflow), a section whose key or one of its words
    names a library (``vllm:``, ``deepspeed_config:``), or a mapping that holds one of the
    library's own keys (``compute_type`` beside ``device``: CTranslate2)."""

    def __init__(self, path: str, entries: Sequence[ConfigEntry]) -> None:
        self.file_term = lookup("foreign-path", path)
        self._entries = entries
        #: mapping path -> the keys it holds (of the scalars below it); built on first use
        self._children: dict[tuple[str | int, ...], set[str]] | None = None
        #: mapping path -> the row of a library key among them (found once per mapping)
        self._keyed: dict[tuple[str | int, ...], Term | None] = {}

    def foreign(self, entry: ConfigEntry) -> Term | None:
        """The row of the library whose settings hold ``entry`` (None: the program's own)."""
        if self.file_term is not None:
            return self.file_term
        for depth in range(len(entry.keys) - 1, -1, -1):
            term = self._keyed_term(entry.keys[:depth])
            if term is not None:
                return term
        strings = [k for k in entry.keys if isinstance(k, str)]
        for key in strings[:-1]:  # the sections above the value's own key
            term = _section_term(_words(key))
            if term is not None:
                return term
        return None

    def _keyed_term(self, mapping: tuple[str | int, ...]) -> Term | None:
        if self._children is None:
            self._children = {}
            for entry in self._entries:
                for depth, key in enumerate(entry.keys):
                    if isinstance(key, str):
                        self._children.setdefault(entry.keys[:depth], set()).add(
                            normal_key(key))
        if mapping not in self._keyed:
            self._keyed[mapping] = next(
                (t for k in self._children.get(mapping, ()) if (t := lookup("foreign-key", k))),
                None)
        return self._keyed[mapping]


def _section_term(words: Iterable[str]) -> Term | None:
    for word in words:
        term = lookup("foreign-section", word)
        if term is not None:
            return term
    return None


def key_path(entry: ConfigEntry) -> str:
    """``trainer.devices[0]``: the entry's keys as one would write them (or ``the value``)."""
    text = ""
    for key in entry.keys:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "the value"
