"""Writing OUT: built in a temporary sibling folder and renamed into place at the end."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from covo_port.model import FileKind, FileStatus
from covo_port.pipeline.gitout import build_repo
from covo_port.pipeline.result import Result
from covo_port.pipeline.signals import terminate_as_interrupt
from covo_port.pipeline.walk import Entry, EntryKind


def write_tree(src: Path, out: Path, entries: list[Entry], result: Result,
               summaries: dict[str, str]) -> None:
    """Write OUT atomically: a temporary sibling folder, renamed into place at the end."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.covo-port-", dir=out.parent))
    os.chmod(tmp, stat.S_IMODE(os.stat(src).st_mode))  # mkdtemp makes it private
    try:
        with terminate_as_interrupt():
            records = {r.path: r for r in result.manifest.files}
            for entry in entries:
                dest = tmp / entry.rel
                if entry.kind is EntryKind.DIR:
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                record = records[entry.rel]
                dest.parent.mkdir(parents=True, exist_ok=True)
                if record.kind is FileKind.SYMLINK:
                    os.symlink(record.link or "", dest)
                elif record.status is FileStatus.SKIPPED or record.kind is FileKind.UNREADABLE:
                    continue
                elif entry.rel in result.outputs:
                    dest.write_bytes(result.outputs[entry.rel])
                    os.chmod(dest, entry.mode)
                else:
                    shutil.copy2(src / entry.rel, dest, follow_symlinks=False)
            result.git = build_repo(tmp, src, entries, result, summaries)
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
