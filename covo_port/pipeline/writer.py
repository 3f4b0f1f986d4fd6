"""Writing OUT: built in a temporary sibling folder and renamed into place at the end.

The temporary folders are named ``.<OUT>.covo-port-<host>.<pid>-*`` (``-old-`` for the previous
OUT while it is swapped out), so that a later run can tell the ones whose process is gone (a
``kill -9``, a power cut) and remove them: :func:`remove_stale`. An existing OUT is replaced
only if it is what it was when the run began (:func:`snapshot`): a file put into it during the
run, or another run's output, is never deleted.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from covo_port.model import ENGINE_CODE, FileKind, FileStatus, Finding, Rule, Severity, UserError
from covo_port.pipeline.cache import write_cache
from covo_port.pipeline.checkout import Checkout
from covo_port.pipeline.gitout import build_repo, patches_folder, write_patches
from covo_port.pipeline.result import Result
from covo_port.pipeline.signals import terminate_as_interrupt
from covo_port.pipeline.walk import Entry, EntryKind

#: what an existing OUT was when the run began: (path, kind, size, mtime, inode) of everything
#: in it but its .git, and OUT's own inode; None where there was no OUT
Snapshot = frozenset[tuple[str, int, int, int, int]]

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())[:32] or "host"


class OutputChanged(UserError):
    """OUT changed while the run was writing: it is left as it is."""


def snapshot(out: Path) -> Snapshot | None:
    """What ``out`` holds now (None if it does not exist); compared again just before OUT is
    replaced."""
    try:
        root = os.lstat(out)
    except FileNotFoundError:
        return None
    found = {("", stat.S_IFMT(root.st_mode), 0, 0, root.st_ino)}
    for dirpath, dirnames, filenames in os.walk(out):
        base = Path(dirpath)
        if base == out:
            dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in dirnames + filenames:
            full = base / name
            try:
                st = os.lstat(full)
            except FileNotFoundError:
                continue
            found.add((full.relative_to(out).as_posix(), stat.S_IFMT(st.st_mode), st.st_size,
                       st.st_mtime_ns, st.st_ino))
    return frozenset(found)


def _prefix(out: Path, kind: str = "") -> str:
    return f".{out.name}.covo-port-{kind}{_HOST}.{os.getpid()}-"


def temporary_folder(out: Path, kind: str = "") -> Path:
    """A new private folder beside ``out`` named after this process (see :func:`remove_stale`);
    ``kind``: ``old-`` for a swapped-out OUT, ``fetch-`` for a clone."""
    return Path(tempfile.mkdtemp(prefix=_prefix(out, kind), dir=out.parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _own_folder(path: Path) -> bool:
    """Whether ``path`` is a folder (not a link to one) of this user, as covo-port makes them."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and (not hasattr(os, "getuid") or st.st_uid == os.getuid())


def remove_stale(out: Path) -> list[str]:
    """Remove the temporary folders of ``out`` that runs on this host left behind when they
    were killed (their process is gone); a previous OUT found swapped out, with no OUT in its
    place, is put back first. Returns the names removed."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.covo-port-(?P<kind>old-|fetch-)?"
                         rf"{re.escape(_HOST)}\.(?P<pid>\d+)-[^/]*$")
    removed = []
    try:
        names = sorted(os.listdir(out.parent))
    except OSError:
        return removed
    for name in names:
        m = pattern.match(name)
        stale = out.parent / name
        if m is None or _alive(int(m.group("pid"))) or not _own_folder(stale):
            continue
        if m.group("kind") == "old-" and _own_folder(stale / "tree") and not os.path.lexists(out):
            os.rename(stale / "tree", out)  # killed mid-swap: the previous OUT comes back
        shutil.rmtree(stale, ignore_errors=True)
        removed.append(name)
    return removed


def _copy(src: Path, dest: Path, rel: str, result: Result) -> None:
    """Copy an unchanged file of SRC; one that vanished from SRC since it was read is reported
    and left out (it costs that file only)."""
    try:
        shutil.copy2(src / rel, dest, follow_symlinks=False)
    except FileNotFoundError:
        if os.path.lexists(src / rel):
            raise
        record = next(r for r in result.manifest.files if r.path == rel)
        record.status, record.kind = FileStatus.FAILED, FileKind.UNREADABLE
        record.error = "gone from SRC during the run"
        result.manifest.findings.append(Finding(
            ENGINE_CODE, rel, 1, 1, Severity.ERROR,
            "removed from SRC during the run: it is not in OUT"))


def write_tree(src: Path, out: Path, entries: list[Entry], result: Result,
               rules: Sequence[type[Rule]], *, checkout: Checkout | None = None,
               author: str | None = None, expected: Snapshot | None = None,
               patches: bool = False, cache_key: str | None = None) -> None:
    """Write OUT atomically: a temporary sibling folder, renamed into place at the end.
    ``rules``: the run's rules (their commits in OUT's history).

    ``expected``: what OUT held when the run began (see :func:`snapshot`); OUT is replaced only
    if it still holds exactly that. ``patches``: also write the patch series into
    ``OUT/.covo-port/patches/`` (``result.patches`` lists them). ``cache_key``: write
    ``result.cache`` into ``OUT/.covo-port/`` with this key (see pipeline.cache)."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_folder(out)
    try:
        os.chmod(tmp, stat.S_IMODE(os.stat(src).st_mode))  # mkdtemp makes it private
        with terminate_as_interrupt():
            records = {r.path: r for r in result.manifest.files}
            for entry in entries:
                dest = tmp / entry.rel
                if entry.kind is EntryKind.DIR:
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                record = records[entry.rel]
                if record.status is FileStatus.SKIPPED or record.kind is FileKind.UNREADABLE:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                if record.kind is FileKind.SYMLINK:
                    os.symlink(record.link or "", dest)
                elif entry.rel in result.outputs:
                    dest.write_bytes(result.outputs[entry.rel])
                    os.chmod(dest, entry.mode)
                else:
                    _copy(src, dest, entry.rel, result)
            for record in result.manifest.files:
                if record.status is FileStatus.ADDED:  # support modules (pipeline.support)
                    dest = tmp / record.path
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with open(dest, "xb") as file:  # never over a file of SRC
                        file.write(result.outputs[record.path])
                    os.chmod(dest, record.mode)
            result.git = build_repo(tmp, entries, result, rules, checkout, author)
            if patches and result.git is not None:
                written = write_patches(tmp, patches_folder(tmp))
                result.patches = [patches_folder(out) / p.name for p in written]
            result.manifest.write(tmp)
            if cache_key is not None:
                write_cache(tmp, cache_key, result.cache)
            _swap(out, tmp, expected)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _swap(out: Path, tmp: Path, expected: Snapshot | None) -> None:
    """Rename ``tmp`` to ``out``, the previous OUT (if it is still as ``expected``) removed."""
    if snapshot(out) != expected:
        raise OutputChanged(f"{out} changed while this run was writing (a file was put into "
                            "it, or another run wrote it); it is left as it is and nothing "
                            "was written")
    if expected is None:
        os.rename(tmp, out)
        return
    old = temporary_folder(out, "old-")
    try:
        os.rename(out, old / "tree")
        os.rename(tmp, out)
    finally:
        if not os.path.lexists(out) and os.path.lexists(old / "tree"):
            os.rename(old / "tree", out)  # interrupted or refused: OUT stays
        shutil.rmtree(old, ignore_errors=True)
