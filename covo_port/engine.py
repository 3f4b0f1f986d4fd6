"""Applies the rules to a whole tree: walk SRC, rewrite what the rules claim, copy the rest.

OUT is built in a temporary sibling folder and renamed into place at the end, so an interrupted
or failed run never leaves a half-written tree, and SRC is only ever read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from contextlib import closing, suppress
from dataclasses import dataclass, field
from pathlib import Path

from covo_port import __version__
from covo_port.directives import Suppressed
from covo_port.filetypes import Config, rewrite_file
from covo_port.gitout import GitInfo
from covo_port.manifest import FileRecord, Manifest
from covo_port.parallel import WorkerDied, default_jobs, map_ordered
from covo_port.rule import Change, Finding, RunOptions, Severity
from covo_port.target import Target
from covo_port.treeindex import TreeIndex
from covo_port.walk import Entry, walk
from covo_port.writer import write_tree

MAX_REWRITE_BYTES = 10 * 1024 * 1024
ENGINE_RULE = "NPU000"


class InputError(Exception):
    """Bad input from the user (paths, options): one line for the user, exit 2."""


@dataclass
class Result:
    manifest: Manifest
    check: bool
    out: Path | None
    outputs: dict[str, bytes] = field(default_factory=dict)
    stages: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    #: OUT's git history (pristine commit, one commit per rule); None without git or OUT.
    git: GitInfo | None = None

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
    jobs: int | None = None,
) -> Result:
    """Rewrite ``src`` into ``out`` (or, with ``check``, compute what would change).

    ``jobs`` worker processes rewrite the files (default: one per core; 1: this process only);
    the result is the same whatever their number.
    """
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs {jobs}: give 1 or more processes (default: one per core)")
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
    if any(rule.needs_tree for rule in config.rules):
        config.tree = TreeIndex.build(src, (e.rel for e in entries if e.kind == "file"),
                                      MAX_REWRITE_BYTES)
    if on_start:
        on_start(sum(1 for e in entries if e.kind != "dir"))

    keep = keep_stages or not (check or out is None)  # for OUT's per-rule commits
    files = [e for e in entries if e.kind != "dir"]
    done = map_ordered(process_file, (src, config, keep), files,
                       default_jobs() if jobs is None else jobs, _source_bytes(src, files))
    try:
        with closing(done):
            for entry, file in done:
                file.add_to(result)
                if progress:
                    progress(entry.rel)
    except WorkerDied as exc:
        first, last = exc.items[0].rel, exc.items[-1].rel
        raise InputError(f"a worker process died (killed or out of memory?) while rewriting "
                         f"{first} .. {last}; nothing was written") from None
    if check or out is None:
        return result
    try:
        write_tree(src, out, entries, result)
    except OSError as exc:  # a read-only or full destination: OUT is left as it was
        raise InputError(f"cannot write {out}: {exc.strerror or exc}; nothing was written"
                         ) from None
    return result


def _source_bytes(src: Path, files: list[Entry]) -> int:
    """Roughly how much the rules will parse: the size of the files named like source."""
    total = 0
    for entry in files:
        if entry.kind == "file" and entry.rel.endswith((".py", ".pyi", ".sh", ".ipynb")):
            with suppress(OSError):
                total += (src / entry.rel).stat().st_size
    return total


@dataclass
class FileResult:
    """What one file adds to a run's :class:`Result` (what a worker process sends back)."""

    record: FileRecord
    findings: list[Finding]
    changes: list[Change]
    output: bytes | None
    stages: list[tuple[str, bytes]] | None
    suppressed: list[Suppressed] = field(default_factory=list)

    def add_to(self, result: Result) -> None:
        result.manifest.files.append(self.record)
        result.manifest.changes.extend(self.changes)
        result.manifest.findings.extend(self.findings)
        result.manifest.suppressed.extend(self.suppressed)
        if self.output is not None:
            result.outputs[self.record.path] = self.output
        if self.stages is not None:
            result.stages[self.record.path] = self.stages


def process_file(src: Path, config: Config, keep: bool, entry: Entry) -> FileResult:
    """Rewrite one file of ``src`` (in this process or a worker): its share of the Result."""
    scratch = Result(Manifest(version=__version__, target=config.target.name, source=str(src)),
                     check=not keep, out=None)
    record = _process(src, entry, config, scratch, keep)
    return FileResult(record, scratch.manifest.findings, scratch.manifest.changes,
                      scratch.outputs.get(entry.rel), scratch.stages.get(entry.rel),
                      scratch.manifest.suppressed)


def _finding(path: str, message: str, severity: Severity, line: int = 1) -> Finding:
    return Finding(ENGINE_RULE, path, line, 1, severity, message)


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
    if entry.kind == "unreadable":
        manifest.findings.append(_finding(
            entry.rel, f"cannot read this folder: {entry.error}; it is not in OUT", Severity.ERROR))
        return FileRecord(entry.rel, "unreadable", "failed", error=entry.error)
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
            _finding(entry.rel, f"cannot read: {exc.strerror}; it is not in OUT", Severity.ERROR))
        return FileRecord(entry.rel, "unreadable", "failed")
    kind, outcome = rewrite_file(entry.rel, source, config)
    manifest.changes.extend(outcome.changes)
    manifest.findings.extend(outcome.findings)
    manifest.suppressed.extend(outcome.suppressed)
    record = FileRecord(entry.rel, kind, "unchanged", mode=entry.mode,
                        source_sha256=_sha256(source))
    if outcome.error:
        manifest.findings.append(
            _finding(entry.rel, outcome.error, Severity.ERROR, outcome.error_line))
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
