"""Walking SRC: every file, folder, link and special file, in a stable order."""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from covo_port.pipeline.manifest import MANIFEST_DIR

#: folders never copied into OUT, and why: each one found is a finding (see :func:`skipped`)
SKIP_DIRS = {
    ".git": "a git repository's metadata",
    ".hg": "a Mercurial repository's metadata",
    ".svn": "a Subversion working copy's metadata",
    "__pycache__": "Python's bytecode cache",
    MANIFEST_DIR: "covo-port's own folder (OUT gets its own)",
}


class EntryKind(str, enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    SPECIAL = "special"  # FIFO, socket, device
    UNREADABLE = "unreadable"  # a folder that cannot be listed
    SKIPPED = "skipped"  # never copied into OUT (``error`` says why)


@dataclass
class Entry:
    """One thing found under SRC."""

    rel: str
    kind: EntryKind
    mode: int = 0
    error: str = ""  # why an unreadable folder cannot be listed, or why it is skipped
    #: why the rules leave this file alone (--include/--exclude, .gitignore); see select.py
    excluded: str = ""


def _unreadable(src: Path, errors: list[OSError]) -> Iterator[Entry]:
    for exc in errors:
        rel = Path(exc.filename).relative_to(src).as_posix()
        yield Entry(rel, EntryKind.UNREADABLE, error=exc.strerror or str(exc))
    errors.clear()


def walk(src: Path, exclude: Sequence[Path] = ()) -> Iterator[Entry]:
    """Everything under ``src`` in a stable order; symlinks are never followed."""
    excluded = {p.resolve() for p in exclude}
    errors: list[OSError] = []  # folders os.walk cannot list: reported, never skipped silently
    for dirpath, dirnames, filenames in os.walk(src, onerror=errors.append, followlinks=False):
        yield from _unreadable(src, errors)
        base = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            full = base / d
            if (skip := skipped(src, full)) is not None:
                yield from skip
                continue
            if full.resolve() in excluded and not full.is_symlink():
                continue
            if full.is_symlink():
                filenames.append(d)
                continue
            keep.append(d)
        dirnames[:] = keep
        rel_dir = base.relative_to(src).as_posix()
        if rel_dir != ".":
            yield Entry(rel_dir, EntryKind.DIR)
        for f in sorted(filenames):
            full = base / f
            if (skip := skipped(src, full)) is not None:
                yield from skip
                continue
            rel = full.relative_to(src).as_posix()
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue  # gone since the folder was listed: not in SRC any more
            if stat.S_ISLNK(st.st_mode):
                yield Entry(rel, EntryKind.SYMLINK)
            elif stat.S_ISREG(st.st_mode):
                yield Entry(rel, EntryKind.FILE, stat.S_IMODE(st.st_mode))
            else:
                yield Entry(rel, EntryKind.SPECIAL)
    yield from _unreadable(src, errors)


def skipped(src: Path, full: Path) -> list[Entry] | None:
    """None where ``full`` (a folder, file or link in SRC) is walked as usual; else what the
    walk yields for it instead: nothing for SRC's own ``.git`` (its repository, recorded as the
    source commit), else one SKIPPED entry saying why it is not copied. A ``.git`` of any kind
    is never copied: in OUT it would make covo-port's git act on the repository it names."""
    name = full.name
    rel = full.relative_to(src).as_posix()
    if name.lower() == ".git":
        return [] if rel == ".git" else [Entry(rel, EntryKind.SKIPPED, error=SKIP_DIRS[".git"])]
    if name == MANIFEST_DIR and rel == name and not full.is_dir():
        return [Entry(rel, EntryKind.SKIPPED, error="OUT's manifest folder has this name")]
    if name in SKIP_DIRS and full.is_dir() and not full.is_symlink():
        return [Entry(rel, EntryKind.SKIPPED, error=SKIP_DIRS[name])]
    return None
