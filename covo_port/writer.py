"""Writing OUT: built in a temporary sibling folder and renamed into place at the end."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from covo_port.gitout import build_repo
from covo_port.walk import Entry

if TYPE_CHECKING:
    from covo_port.engine import Result


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so cleanup runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_tree(src: Path, out: Path, entries: list[Entry], result: Result) -> None:
    """Write OUT atomically: a temporary sibling folder, renamed into place at the end."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.covo-port-", dir=out.parent))
    os.chmod(tmp, stat.S_IMODE(os.stat(src).st_mode))  # mkdtemp makes it private
    try:
        with _terminate_as_interrupt():
            records = {r.path: r for r in result.manifest.files}
            for entry in entries:
                dest = tmp / entry.rel
                if entry.kind == "dir":
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                record = records[entry.rel]
                dest.parent.mkdir(parents=True, exist_ok=True)
                if record.kind == "symlink":
                    os.symlink(record.link or "", dest)
                elif record.status == "skipped" or record.kind == "unreadable":
                    continue
                elif entry.rel in result.outputs:
                    dest.write_bytes(result.outputs[entry.rel])
                    os.chmod(dest, entry.mode)
                else:
                    shutil.copy2(src / entry.rel, dest, follow_symlinks=False)
            result.git = build_repo(tmp, src, entries, result)
            result.manifest.write(tmp)
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.covo-port-old-", dir=out.parent))
                try:
                    os.rename(out, old / "tree")
                    os.rename(tmp, out)
                finally:
                    if not os.path.lexists(out) and os.path.lexists(old / "tree"):
                        os.rename(old / "tree", out)  # interrupted or refused: OUT stays
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
