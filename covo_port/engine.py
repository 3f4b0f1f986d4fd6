"""Applies the rules to a whole tree: walk SRC, rewrite what the rules claim, copy the rest.

OUT is built in a temporary sibling folder and renamed into place at the end, so an interrupted
or failed run never leaves a half-written tree, and SRC is only ever read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from covo_port import __version__
from covo_port.manifest import MANIFEST_DIR, FileRecord, Manifest
from covo_port.outcome import FileOutcome
from covo_port.pyengine import rewrite_python
from covo_port.registry import active_rules, python_rules, shell_rules
from covo_port.rule import Finding, Rule, RunOptions, Severity
from covo_port.shell import is_shell_script, rewrite_shell
from covo_port.target import Target

SKIP_DIRS = {".git", "__pycache__", MANIFEST_DIR, ".hg", ".svn"}
MAX_REWRITE_BYTES = 10 * 1024 * 1024
ENGINE_RULE = "NPU000"


class InputError(Exception):
    """Bad input from the user (paths, options): one line for the user, exit 2."""


@dataclass
class Config:
    """Everything a file's rewrite depends on (picklable, for worker processes)."""

    target: Target
    options: RunOptions
    rules: tuple[type[Rule], ...]

    @classmethod
    def make(cls, target: Target, options: RunOptions) -> Config:
        return cls(target, options, active_rules(options))


def is_python(name: str, head: bytes) -> bool:
    if name.endswith((".py", ".pyi")):
        return True
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"#!") and b"python" in first


def is_binary(head: bytes) -> bool:
    return b"\0" in head


def _might_match(source: bytes, rules: Sequence[type[Rule]]) -> bool:
    return any(word.encode() in source for rule in rules for word in rule.triggers)


def rewrite_file(path: str, source: bytes, config: Config) -> tuple[str, FileOutcome]:
    """(kind, outcome) for one file's bytes; ``kind`` is python, shell, binary or text."""
    name = path.rsplit("/", 1)[-1]
    head = source[:8192]
    if is_binary(head):
        return "binary", FileOutcome()
    if is_python(name, head):
        rules = python_rules(config.rules)
        if not _might_match(source, rules):
            return "python", FileOutcome()
        return "python", rewrite_python(source, path, rules, config.target, config.options)
    if is_shell_script(name, head):
        rules = shell_rules(config.rules)
        if not _might_match(source, rules):
            return "shell", FileOutcome()
        return "shell", rewrite_shell(source, path, rules, config.target, config.options)
    return "text", FileOutcome()


@dataclass
class Entry:
    """One thing found under SRC."""

    rel: str
    kind: str  # file, dir, symlink, special
    mode: int = 0


def walk(src: Path, exclude: Sequence[Path] = ()) -> Iterator[Entry]:
    """Everything under ``src`` in a stable order; symlinks are never followed."""
    excluded = {p.resolve() for p in exclude}
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
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
            yield Entry(rel_dir, "dir")
        for f in sorted(filenames):
            full = base / f
            rel = full.relative_to(src).as_posix()
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                yield Entry(rel, "symlink")
            elif stat.S_ISREG(st.st_mode):
                yield Entry(rel, "file", stat.S_IMODE(st.st_mode))
            else:
                yield Entry(rel, "special")


@dataclass
class Result:
    manifest: Manifest
    check: bool
    out: Path | None
    outputs: dict[str, bytes] = field(default_factory=dict)
    stages: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)

    @property
    def pending(self) -> bool:
        return any(f.status == "changed" for f in self.manifest.files)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.manifest.findings)

    @property
    def exit_code(self) -> int:
        if self.has_errors or (self.check and self.pending):
            return 1
        return 0


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _source_commit(src: Path) -> tuple[str | None, bool]:
    if not (src / ".git").exists():
        return None, False
    try:
        import git

        repo = git.Repo(src)
        return repo.head.commit.hexsha, repo.is_dirty(untracked_files=False)
    except (ImportError, ValueError, git.exc.GitError):
        return None, False


def check_paths(src: Path, out: Path | None, force: bool) -> None:
    """Refuse paths that make no sense, with one line that says why."""
    if not src.exists():
        raise InputError(f"source {src} does not exist")
    if not src.is_dir():
        raise InputError(f"source {src} is not a folder (give the root of the project to port)")
    if out is None:
        return
    s, o = src.resolve(), out.resolve()
    if o == s:
        raise InputError(f"output {out} is the source itself; the source is never modified")
    if s in o.parents:
        raise InputError(f"output {out} is inside the source {src}; put it beside the source")
    if o in s.parents:
        raise InputError(f"output {out} contains the source {src}; choose another output")
    if out.exists() and not out.is_dir():
        raise InputError(f"output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"output {out} exists and is not empty (use --force to replace it)")


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


Progress = Callable[[str], None]


def apply_tree(
    src: Path,
    out: Path | None,
    target: Target,
    options: RunOptions,
    *,
    check: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    keep_stages: bool = False,
) -> Result:
    """Rewrite ``src`` into ``out`` (or, with ``check``, compute what would change)."""
    check_paths(src, None if check else out, force)
    config = Config.make(target, options)
    commit, dirty = _source_commit(src)
    manifest = Manifest(
        version=__version__,
        target=target.name,
        device_map=dict(target.device_map),
        source=str(src.resolve()),
        source_commit=commit,
        source_dirty=dirty,
        rules=[r.id for r in config.rules],
        optimize=sorted(options.optimize),
    )
    result = Result(manifest=manifest, check=check, out=None if check else out)
    entries = list(walk(src, exclude=[out] if out is not None else []))
    if on_start:
        on_start(sum(1 for e in entries if e.kind != "dir"))

    for entry in entries:
        if entry.kind == "dir":
            continue
        record = _process(src, entry, config, result, keep_stages)
        manifest.files.append(record)
        if progress:
            progress(entry.rel)
    if check or out is None:
        return result
    _write_tree(src, out, entries, result)
    return result


def _finding(path: str, message: str, severity: Severity) -> Finding:
    return Finding(ENGINE_RULE, path, 1, 1, severity, message)


def _process(src: Path, entry: Entry, config: Config, result: Result, keep: bool) -> FileRecord:
    manifest = result.manifest
    full = src / entry.rel
    if entry.kind == "symlink":
        return FileRecord(entry.rel, "symlink", "copied", link=os.readlink(full))
    if entry.kind == "special":
        manifest.findings.append(
            _finding(entry.rel, "not a regular file (FIFO, socket or device): skipped",
                     Severity.WARNING))
        return FileRecord(entry.rel, "special", "skipped")
    size = full.stat().st_size
    if size > MAX_REWRITE_BYTES:
        manifest.findings.append(_finding(
            entry.rel, f"{size / 2**20:.1f} MB: larger than the 10 MB rewrite limit; "
            "copied unchanged", Severity.WARNING))
        return FileRecord(entry.rel, "large", "unchanged", mode=entry.mode)
    try:
        source = full.read_bytes()
    except OSError as exc:
        manifest.findings.append(
            _finding(entry.rel, f"cannot read: {exc.strerror}", Severity.ERROR))
        return FileRecord(entry.rel, "unreadable", "failed")
    kind, outcome = rewrite_file(entry.rel, source, config)
    manifest.changes.extend(outcome.changes)
    manifest.findings.extend(outcome.findings)
    record = FileRecord(entry.rel, kind, "unchanged", mode=entry.mode,
                        source_sha256=_sha256(source))
    if outcome.error:
        manifest.findings.append(_finding(entry.rel, outcome.error, Severity.ERROR))
        record.status = "failed"
        record.error = outcome.error
    output = outcome.output(source)
    record.output_sha256 = _sha256(output)
    if outcome.changed:
        record.status = "changed"
        record.rules = [rule for rule, _ in outcome.stages]
        result.outputs[entry.rel] = output
        if keep:
            result.stages[entry.rel] = outcome.stages
    return record


def _write_tree(src: Path, out: Path, entries: list[Entry], result: Result) -> None:
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.covo-port-", dir=out.parent))
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
            result.manifest.write(tmp)
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.covo-port-old-", dir=out.parent))
                os.rename(out, old / "tree")
                os.rename(tmp, out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
