"""``OUT/.covo-port/cache.json``: what the engines made of each file in the run that wrote OUT,
reused by the next ``apply`` into the same OUT for the files whose bytes did not change.

An engine's outcome is a function of the file's path and bytes and of the run's context (the
target, the options, the rules, what the rules know of the whole tree); the cache is keyed by
the file's path and SHA-256, and it is used only when the run's key is the one it was written
with. The key covers that context and everything that could make the same input come out
differently: covo-port's version and Python's, the size and time of each file of covo-port's
code and data (an edited rule invalidates it), the versions of the parsers the engines use, and
the reference switch (``COVO_PORT_REFERENCE``). A cache that cannot be read, or of another key,
is not used: every file is then rewritten afresh. ``apply --no-cache`` does not read it.

The cache is covo-port's own file in OUT (never in SRC, never in the port's commits), written
with the manifest; it holds text, not code: reading it runs nothing.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import sys
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

from covo_port import __version__
from covo_port.engines import EngineConfig, FileOutcome
from covo_port.engines.python import cheap
from covo_port.model import Change, FileKind, Finding, Severity, Suppressed, SuppressedKind
from covo_port.model.support import SupportHelper
from covo_port.pipeline.manifest import MANIFEST_DIR, dumps

CACHE_NAME = "cache.json"
SCHEMA = 1
#: the distributions whose parsers and printers make the engines' outputs (their names as
#: their ``.dist-info`` folders spell them, which hold the version)
PARSERS = frozenset({"libcst", "ruamel_yaml", "ruamel.yaml", "tomlkit", "configupdater",
                     "python_dotenv", "pip_requirements_parser", "dockerfile_parse",
                     "tree_sitter", "tree_sitter_bash", "packaging"})

#: one file's cache entry: [its SHA-256, the engine's outcome as JSON data]
Entry = list[Any]


@cache
def _code_stamp() -> str:
    """covo-port's version and each file of its code and data (path, size, time)."""
    import covo_port
    import covo_port.rewrites

    digest = hashlib.sha256(f"{__version__} {sys.version}".encode())
    roots = {Path(p) for p in covo_port.__path__} | {Path(p) for p in covo_port.rewrites.__path__}
    for root in sorted(roots):
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                stat = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    for folder in sys.path:  # name-version.dist-info of each parser installed
        try:
            names = sorted(os.listdir(folder or "."))
        except OSError:
            continue
        digest.update(" ".join(n for n in names if n.endswith(".dist-info")
                               and n.split("-", 1)[0].lower() in PARSERS).encode() + b"\n")
    return digest.hexdigest()


def run_key(config: EngineConfig) -> str:
    """What every file's outcome depends on besides its path and bytes, as one digest."""
    tree = config.tree
    context = {
        "schema": SCHEMA,
        "code": _code_stamp(),
        "fast": cheap.FAST_PATHS,
        "target": [config.target.name, sorted(config.target.device_map.items())],
        "options": asdict(config.options),
        "rules": [r.id for r in config.rules],
        "known": sorted(config.known),
        "tree": None if tree is None else [
            sorted((rule, sorted((w, sorted(f)) for w, f in words.items()))
                   for rule, words in tree.words.items()),
            sorted(tree.packages),
            sorted((k, None if v is None else sorted(v)) for k, v in tree.support.items())],
    }
    text = json.dumps(context, default=_json_default, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="surrogateescape")  # any bytes, exactly back


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} in a cache key")


def encode(kind: FileKind, outcome: FileOutcome) -> dict[str, Any]:
    """An engine's ``outcome`` as JSON data."""

    def fields(record: Any) -> dict[str, Any]:
        return {k: _plain(v) for k, v in asdict(record).items()}

    return {
        "kind": kind.value,
        "stages": [[rule, _text(data)] for rule, data in outcome.stages],
        "changes": [fields(c) for c in outcome.changes],
        "findings": [fields(f) for f in outcome.findings],
        "error": outcome.error,
        "error_line": outcome.error_line,
        "suppressed": [fields(s) for s in outcome.suppressed],
        "support": [fields(h) for h in outcome.support],
    }


def decode(data: dict[str, Any]) -> tuple[FileKind, FileOutcome]:
    """The outcome that :func:`encode` wrote; KeyError/TypeError/ValueError where malformed."""

    def finding(f: dict[str, Any]) -> Finding:
        fix = f.get("fix")
        return Finding(**{**f, "severity": Severity(f["severity"]),
                          "fix": Change(**fix) if fix is not None else None})

    return FileKind(data["kind"]), FileOutcome(
        stages=[(str(rule), text.encode("utf-8", errors="surrogateescape"))
                for rule, text in data["stages"]],
        changes=[Change(**c) for c in data["changes"]],
        findings=[finding(f) for f in data["findings"]],
        error=data["error"],
        error_line=int(data["error_line"]),
        suppressed=[Suppressed(**{**s, "kind": SuppressedKind(s["kind"])})
                    for s in data["suppressed"]],
        support=[SupportHelper(**h) for h in data["support"]],
    )


class OutcomeCache:
    """The entries of an earlier run (path -> [SHA-256, outcome data]) that a run may reuse."""

    def __init__(self, entries: dict[str, Entry] | None = None) -> None:
        self.entries = entries or {}

    @classmethod
    def read(cls, out: Path, key: str) -> OutcomeCache:
        """The cache in ``out`` if it was written with ``key``; an empty one otherwise."""
        path = out / MANIFEST_DIR / CACHE_NAME
        try:
            if path.is_symlink() or path.parent.is_symlink():
                return cls()
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict) or data.get("key") != key:
            return cls()
        entries = data.get("files")
        return cls(entries) if isinstance(entries, dict) else cls()

    def get(self, path: str, sha256: str) -> tuple[FileKind, FileOutcome, Entry] | None:
        """The outcome of ``path`` with these bytes, and its entry; None where there is none
        (or it is malformed)."""
        entry = self.entries.get(path)
        if not isinstance(entry, list) or len(entry) != 2 or entry[0] != sha256:
            return None
        try:
            kind, outcome = decode(entry[1])
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        return kind, outcome, entry


def write_cache(out: Path, key: str, entries: dict[str, Entry]) -> None:
    """Write the entries of this run into ``out``."""
    folder = out / MANIFEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    text = dumps({"tool": "covo-port", "schema": SCHEMA, "key": key, "files": entries},
                 indent=None)
    (folder / CACHE_NAME).write_text(text + "\n", encoding="utf-8")
