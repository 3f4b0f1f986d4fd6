"""Which files of SRC the rules rewrite: ``--include`` / ``--exclude`` patterns, the
``.gitignore`` files of SRC, and files marked generated.

A file left out is still copied into OUT byte for byte (OUT stays a complete copy of SRC), as
ruff leaves excluded files unlinted: its manifest record has the status ``excluded`` and says
why, and the report counts it. Patterns are gitignore-style (pathspec's ``GitIgnoreSpec``),
relative to SRC: ``*.py`` matches at any depth, ``/setup.py`` only at the top, ``docs/`` a folder
and everything in it, ``!keep.py`` takes a file back.

``.gitignore`` files are read where git reads them: each applies below its own folder, a deeper
one overrides a shallower one, ``SRC/.git/info/exclude`` applies everywhere, and nothing under
an ignored folder can be taken back (git's rule). Gitignored files are also left out of what
the tree-wide rules (NPU018) read of the project: they are not in the repository the patches
apply to.

A file whose first lines carry ``@generated`` or ``Code generated ... DO NOT EDIT`` in a comment
is the output of another tool: a rewrite would be lost at its next regeneration. Where the rules
would change or report something in it, it is copied unchanged with a warning that says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pathspec import GitIgnoreSpec

from covo_port.engines import EngineConfig, FileOutcome, rewrite_file
from covo_port.model import ENGINE_CODE, FileKind, FileStatus, Finding, Severity, UserError
from covo_port.pipeline.manifest import FileRecord
from covo_port.pipeline.result import FileResult
from covo_port.pipeline.walk import Entry, EntryKind

#: How many of a file's first lines may hold its "generated" marker.
GENERATED_LINES = 10
_GENERATED = re.compile(
    rb"^[ \t]*(?:#|//)[^\n]*?(?P<marker>@generated\b|\bgenerated\b[^\n]*\bdo not edit\b)",
    re.IGNORECASE | re.MULTILINE)


class SelectionError(UserError):
    """A path given to ``check`` that is not a file or folder under the root."""


@dataclass(frozen=True)
class FileSelection:
    """What a run rewrites of SRC (the rest is copied unchanged)."""

    #: Gitignore-style patterns: where given, only the files that match one are rewritten.
    include: tuple[str, ...] = ()
    #: Gitignore-style patterns of files not to rewrite.
    exclude: tuple[str, ...] = ()
    #: Leave the files that SRC's ``.gitignore`` files ignore unrewritten.
    gitignore: bool = True
    #: Only these files and folders (relative to SRC) are looked at, for ``covo-port check``
    #: (which writes nothing); a file named here is checked even where a .gitignore ignores it.
    paths: tuple[str, ...] | None = None


def _spec(patterns: Sequence[str]) -> GitIgnoreSpec | None:
    return GitIgnoreSpec.from_lines(patterns) if patterns else None


def _matching(spec: GitIgnoreSpec, path: str) -> str | None:
    """The pattern of ``spec`` that decides ``path`` in its favour (None: no pattern or a
    negated one)."""
    result = spec.check_file(path)
    if not result.include or result.index is None:
        return None
    return str(spec.patterns[result.index].pattern)


class GitIgnores:
    """The ``.gitignore`` files of a tree (and its ``.git/info/exclude``), read as git does."""

    def __init__(self, src: Path, files: Sequence[str]) -> None:
        #: (folder prefix, spec, where it was read), shallow to deep: a later one decides
        self._specs: list[tuple[str, GitIgnoreSpec, str]] = []
        info = src / ".git" / "info" / "exclude"
        if info.is_file():
            self._add("", info, ".git/info/exclude")
        ignores = [r for r in files if PurePosixPath(r).name == ".gitignore"]
        for rel in sorted(ignores, key=lambda r: (r.count("/"), r)):
            folder = rel[: -len(".gitignore")]
            self._add(folder, src / rel, rel)
        self._folders: dict[str, str | None] = {}

    def _add(self, prefix: str, path: Path, label: str) -> None:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return  # an unreadable .gitignore is reported as an unreadable file by the run
        self._specs.append((prefix, GitIgnoreSpec.from_lines(lines), label))

    def _decide(self, path: str) -> str | None:
        """Why ``path`` (a folder ends with "/") is ignored by the files themselves, or None."""
        verdict: str | None = None
        for prefix, spec, label in self._specs:
            if not path.startswith(prefix) or path == prefix:
                continue
            result = spec.check_file(path[len(prefix):])
            if result.include is None or result.index is None:
                continue
            pattern = spec.patterns[result.index].pattern
            verdict = f"{label}: {pattern}" if result.include else None
        return verdict

    def _folder(self, folder: str) -> str | None:
        """Why ``folder`` ("a/b/") or one above it is ignored, or None."""
        if folder not in self._folders:
            parent = folder[: folder.rstrip("/").rfind("/") + 1]
            self._folders[folder] = (self._folder(parent) if parent else None) \
                or self._decide(folder)
        return self._folders[folder]

    def ignored(self, rel: str) -> str | None:
        """Why the file ``rel`` is ignored (the file and pattern), or None."""
        if not self._specs:
            return None
        folder = rel[: rel.rfind("/") + 1]
        return (self._folder(folder) if folder else None) or self._decide(rel)


def _named(paths: Sequence[str], rel: str) -> bool:
    return any(p == "." or rel == p or rel.startswith(p + "/") for p in paths)


def select_files(src: Path, entries: Sequence[Entry],
                 selection: FileSelection | None) -> tuple[list[Entry], list[str]]:
    """(the entries a run processes, the files the tree-wide rules read of the project).

    Files the selection leaves out get ``Entry.excluded`` (why); with ``paths``, entries outside
    them are not processed at all."""
    files = [e for e in entries if e.kind is not EntryKind.DIR]
    if selection is None:
        return files, [e.rel for e in files if e.kind is EntryKind.FILE]
    include, exclude = _spec(selection.include), _spec(selection.exclude)
    ignores = GitIgnores(src, [e.rel for e in files if e.kind is EntryKind.FILE]) \
        if selection.gitignore else None
    named = set(selection.paths or ())
    chosen, program = [], []
    for entry in files:
        if selection.paths is not None and not _named(selection.paths, entry.rel):
            if entry.kind is EntryKind.FILE and not (ignores and ignores.ignored(entry.rel)):
                program.append(entry.rel)
            continue
        chosen.append(entry)
        if entry.kind is not EntryKind.FILE:
            continue
        ignored = ignores.ignored(entry.rel) if ignores and entry.rel not in named else None
        if ignored is None:
            program.append(entry.rel)
        if include is not None and _matching(include, entry.rel) is None:
            entry.excluded = "not matched by --include"
        elif exclude is not None and (pattern := _matching(exclude, entry.rel)) is not None:
            entry.excluded = f"--exclude {pattern}"
        elif ignored is not None:
            entry.excluded = ignored
    return chosen, program


def check_paths(root: Path, paths: Sequence[Path]) -> tuple[str, ...]:
    """``paths`` (files or folders) relative to ``root``, POSIX-style; one line if one is not
    there or not under ``root``."""
    rels = []
    base = root.resolve()
    for path in paths:
        full = (root / path).resolve() if not path.is_absolute() else path.resolve()
        if not full.exists():
            raise SelectionError(f"{path} does not exist")
        try:
            rel = full.relative_to(base).as_posix()
        except ValueError:
            raise SelectionError(f"{path} is not under {root} (run check from the "
                                 "project's root)") from None
        rels.append(rel)
    return tuple(rels)


def excluded_result(src: Path, config: EngineConfig, entry: Entry) -> FileResult | None:
    """The record of a file the selection leaves out: copied unchanged and never parsed (its
    kind from its name and first bytes). None where it cannot be read: the run reports that."""
    try:
        with (src / entry.rel).open("rb") as handle:
            head = handle.read(8192)
    except OSError:
        return None
    kind, _ = rewrite_file(entry.rel, head, dataclasses.replace(config, rules=()))
    return FileResult(FileRecord(entry.rel, kind, FileStatus.EXCLUDED, mode=entry.mode,
                                 excluded=entry.excluded))


def generated_marker(source: bytes) -> tuple[int, str] | None:
    """(line, marker) where a comment in the first lines of ``source`` marks it generated."""
    head = b"\n".join(source.split(b"\n", GENERATED_LINES)[:GENERATED_LINES])
    match = _GENERATED.search(head)
    if match is None:
        return None
    line = head.count(b"\n", 0, match.start()) + 1
    return line, match.group("marker").decode("utf-8", errors="replace")


def generated_result(entry: Entry, source: bytes, kind: FileKind,
                     outcome: FileOutcome) -> FileResult | None:
    """A file marked generated in which the rules would change or report something: copied
    unchanged, with a warning. None for any other file (and for one that failed to parse,
    whose error says more)."""
    if outcome.error or not (outcome.changes or outcome.findings):
        return None
    found = generated_marker(source)
    if found is None:
        return None
    line, marker = found
    digest = hashlib.sha256(source).hexdigest()
    record = FileRecord(entry.rel, kind, FileStatus.EXCLUDED, mode=entry.mode,
                        source_sha256=digest, output_sha256=digest,
                        excluded=f"generated ({marker}, line {line})")
    rewrites = sum(1 for c in outcome.changes if not c.annotation)
    message = (f"marked generated ({marker!r}, line {line}): not rewritten, so "
               f"{rewrites} rewrite(s) and {len(outcome.findings)} finding(s) of the rules are "
               "left in it; port what generates it, then regenerate it")
    return FileResult(record).finding(
        Finding(ENGINE_CODE, entry.rel, line, 1, Severity.WARNING, message))
