"""What a run produces, file by file and as a whole.

One chain from a file to the manifest: an engine makes a
:class:`~covo_port.engines.FileOutcome` of a file's bytes; the pipeline wraps it with the
file's manifest record and output as a :class:`FileResult` (what a worker process sends back);
the run's :class:`Result` gathers them into the :class:`Manifest`, the outputs and OUT's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from covo_port.engines import FileOutcome
from covo_port.model import FileStatus, Finding, Severity, SupportHelper
from covo_port.pipeline.cache import Entry
from covo_port.pipeline.manifest import FileRecord, Manifest


@dataclass
class GitInfo:
    """The history written into OUT: the pristine commit, then one commit per rule."""

    base: str
    commits: list[tuple[str, str]] = field(default_factory=list)  # (rule id, commit)


@dataclass
class FileResult:
    """One file's share of a run: its manifest record, what the engine made of it (findings of
    the pipeline's own included), and its output bytes where it changed."""

    record: FileRecord
    outcome: FileOutcome = field(default_factory=FileOutcome)
    output: bytes | None = None
    #: a changed file's bytes as they were read (OUT's pristine commit holds them)
    source: bytes | None = None
    #: what the engine made of the file, as the run's cache keeps it (pipeline.cache)
    cached: Entry | None = None

    def finding(self, finding: Finding) -> FileResult:
        self.outcome.findings.append(finding)
        return self


@dataclass
class Result:
    manifest: Manifest
    check: bool
    out: Path | None
    outputs: dict[str, bytes] = field(default_factory=dict)
    stages: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    #: the changed files' bytes as they were read, for OUT's pristine commit
    sources: dict[str, bytes] = field(default_factory=dict)
    #: OUT's git history (pristine commit, one commit per rule); None without git or OUT.
    git: GitInfo | None = None
    #: the patch series written into OUT (``apply`` without ``--patches``/``--no-patches``)
    patches: list[Path] | None = None
    #: the helpers that the changed files import from support modules (pipeline.support)
    support: list[SupportHelper] = field(default_factory=list)
    #: the engines' outcomes, for OUT's cache (path -> entry, see pipeline.cache)
    cache: dict[str, Entry] = field(default_factory=dict)

    def add(self, file: FileResult, keep_stages: bool) -> None:
        """Gather one file's result (in the order of the walk)."""
        self.manifest.files.append(file.record)
        self.manifest.changes.extend(file.outcome.changes)
        self.manifest.findings.extend(file.outcome.findings)
        self.manifest.suppressed.extend(file.outcome.suppressed)
        if file.cached is not None:
            self.cache[file.record.path] = file.cached
        if file.record.status is FileStatus.CHANGED:
            self.support.extend(h for h in file.outcome.support if h not in self.support)
        if file.output is not None:
            self.outputs[file.record.path] = file.output
            if keep_stages:
                self.stages[file.record.path] = file.outcome.stages
                if file.source is not None:
                    self.sources[file.record.path] = file.source

    @property
    def pending(self) -> bool:
        return any(f.status in (FileStatus.CHANGED, FileStatus.ADDED)
                   for f in self.manifest.files)

    @property
    def has_errors(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.manifest.findings)

    @property
    def exit_code(self) -> int:
        if self.has_errors or (self.check and self.pending):
            return 1
        return 0
