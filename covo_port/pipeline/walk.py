"""Walking SRC: every file, folder, link and special file, in a stable order."""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from covo_port.pipeline.manifest import MANIFEST_DIR

SKIP_DIRS = {".git", "__pycache__", MANIFEST_DIR, ".hg", ".svn"}


class EntryKind(str, enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    SPECIAL = "special"  # FIFO, socket, device
    UNREADABLE = "unreadable"  # a folder that cannot be listed


@dataclass
class Entry:
    """One thing found under SRC."""

    rel: str
    kind: EntryKind
    mode: int = 0
    error: str = ""  # why an unreadable folder cannot be listed
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
            if d in SKIP_DIRS or (full.resolve() in excluded and not full.is_symlink()):
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
            rel = full.relative_to(src).as_posix()
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                yield Entry(rel, EntryKind.SYMLINK)
            elif stat.S_ISREG(st.st_mode):
                yield Entry(rel, EntryKind.FILE, stat.S_IMODE(st.st_mode))
            else:
                yield Entry(rel, EntryKind.SPECIAL)
    yield from _unreadable(src, errors)
