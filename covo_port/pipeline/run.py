"""Applies the rules to a whole tree: walk SRC, rewrite what the rules claim, copy the rest.

OUT is built in a temporary sibling folder and renamed into place at the end, so an interrupted
or failed run never leaves a half-written tree, and SRC is only ever read: its files, and its
git repository through :mod:`covo_port.pipeline.checkout` (nothing of its configuration runs).
An existing OUT is replaced (``--force``) only if it is empty or an earlier output of apply.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from contextlib import closing, suppress
from pathlib import Path

from covo_port import __version__
from covo_port.engines import ENGINES, EngineConfig, FileOutcome, rewrite_file
from covo_port.engines.python.verdict import internal_error
from covo_port.model import (
    ENGINE_CODE,
    FileKind,
    FileStatus,
    Finding,
    Rule,
    RunOptions,
    Severity,
    Target,
    TreeIndex,
    UserError,
)
from covo_port.pipeline.cache import Entry as CacheEntry
from covo_port.pipeline.cache import OutcomeCache, encode, run_key
from covo_port.pipeline.checkout import differs, read_checkout
from covo_port.pipeline.git import parse_identity
from covo_port.pipeline.manifest import FileRecord, Manifest, ManifestError
from covo_port.pipeline.parallel import WorkerDied, default_jobs, map_ordered
from covo_port.pipeline.result import FileResult, Result
from covo_port.pipeline.select import (
    FileSelection,
    excluded_result,
    generated_result,
    select_files,
)
from covo_port.pipeline.support import add_support, tree_layout
from covo_port.pipeline.walk import Entry, EntryKind, walk
from covo_port.pipeline.writer import Snapshot, remove_stale, snapshot, write_tree
from covo_port.registry import engine_config

MAX_REWRITE_BYTES = 10 * 1024 * 1024


class InputError(UserError):
    """Bad input from the user (paths, options): one line for the user, exit 2."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise InputError(f"output {out} exists and is not empty (use --force to replace it)")
        try:
            Manifest.read(out)
        except ManifestError:
            raise InputError(f"output {out} holds files that covo-port did not write (no "
                             f"readable .covo-port/manifest.json): --force replaces only an "
                             "empty folder or an earlier output of apply") from None


def check_patches(src: Path, patches: Path) -> None:
    """Refuse a patches folder inside SRC (the source is never written)."""
    s, p = src.resolve(), patches.resolve()
    if p == s or s in p.parents:
        raise InputError(f"--patches {patches} is inside the source {src}; the source is never "
                         "modified: put the patches beside it")


def build_tree_index(src: Path, paths: Iterable[str], rules: Iterable[type[Rule]],
                     entries: Iterable[Entry] = ()) -> TreeIndex:
    """What the rules must know of SRC: its layout (package folders, support modules, from
    ``entries``) and, for each ``needs_tree`` rule, which files hold each of the words it
    extracts. Files over the size limit, unreadable or binary are left out (they are copied
    unchanged and reported)."""
    packages, support = tree_layout(src, entries)
    tree_rules = [r for r in rules if r.needs_tree]
    words: dict[str, dict[str, set[str]]] = {r.id: {} for r in tree_rules}
    for rel in paths if tree_rules else ():
        full = src / rel
        try:
            if full.stat().st_size > MAX_REWRITE_BYTES:
                continue
            data = full.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8192]:
            continue
        for rule in tree_rules:
            for word in rule.tree_words(rel, data):
                words[rule.id].setdefault(word, set()).add(rel)
    return TreeIndex({rule: {w: frozenset(f) for w, f in found.items()}
                      for rule, found in words.items()}, packages, support)


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
    selection: FileSelection | None = None,
    patches: bool = False,
    author: str | None = None,
    cache: bool = True,
) -> Result:
    """Rewrite ``src`` into ``out`` (or, with ``check``, compute what would change).

    ``jobs`` worker processes rewrite the files (default: one per core; 1: this process only);
    the result is the same whatever their number. ``selection`` says which files are rewritten
    (the rest is copied unchanged); None: every file. ``patches``: write the patch series into
    ``OUT/.covo-port/patches/``. ``author``: ``'Name <email>'`` of OUT's commits. ``cache``:
    reuse what the run that wrote OUT made of the files that did not change (pipeline.cache);
    a run that writes OUT always leaves its own cache there.
    """
    if jobs is not None and jobs < 1:
        raise InputError(f"--jobs {jobs}: give 1 or more processes (default: one per core)")
    if author is not None:
        parse_identity(author)
    writing = not check and out is not None
    check_paths(src, out if writing else None, force)
    stale = remove_stale(out.absolute()) if writing and out is not None else []
    if stale:  # a previous OUT that a killed run had swapped out may be back in place
        check_paths(src, out, force)
    expected: Snapshot | None = snapshot(out) if writing and out is not None else None
    config = engine_config(target, options)
    checkout = read_checkout(src)
    manifest = Manifest(
        version=__version__,
        target=target.name,
        device_map=dict(target.device_map),
        source=str(src.resolve()),
        source_commit=checkout.commit if checkout else None,
        rules=[r.id for r in config.rules],
        optimize=sorted(options.optimize),
        unsafe_fixes=options.unsafe_fixes,
        fix_safety={r.id: r.safety.value for r in config.rules},
    )
    manifest.findings += [_finding(".", f"removed {name}, left behind by an interrupted run",
                                   Severity.INFO) for name in stale]
    result = Result(manifest=manifest, check=check, out=None if check else out)
    entries = list(walk(src, exclude=[out] if out is not None else []))
    if checkout is not None:
        manifest.source_dirty = differs(checkout, (
            e.rel for e in entries if e.kind in (EntryKind.FILE, EntryKind.SYMLINK)))
    files, program = select_files(src, entries, selection)
    config.tree = build_tree_index(src, program, config.rules, entries)
    key = run_key(config) if writing else None
    earlier = None
    if key is not None and out is not None:  # OUT: an earlier output of apply, or nothing
        earlier = OutcomeCache.read(out, key) if cache and expected is not None else OutcomeCache()
    if on_start:
        on_start(len(files))

    keep = keep_stages or writing  # for OUT's per-rule commits
    done = map_ordered(process_file, (src, config, keep, earlier), files,
                       default_jobs() if jobs is None else jobs, _source_bytes(src, files))
    try:
        with closing(done):
            for entry, file in done:
                result.add(file, keep)
                if progress:
                    progress(entry.rel)
    except WorkerDied as exc:
        names = [e.rel for e in exc.items]
        where = ", ".join(names) if len(names) <= 3 else f"{names[0]} .. {names[-1]}"
        raise InputError(f"a worker process died (killed or out of memory?) while rewriting "
                         f"one of {len(names)} file(s) ({where}); nothing was written") from None
    add_support(result, config.rules, keep)
    if not writing or out is None:
        return result
    try:
        write_tree(src, out, entries, result, config.rules, checkout=checkout, author=author,
                   expected=expected, patches=patches, cache_key=key)
    except OSError as exc:  # a read-only or full destination: OUT is left as it was
        raise InputError(f"cannot write {out}: {exc.strerror or exc}; nothing was written"
                         ) from None
    return result


def _source_bytes(src: Path, files: list[Entry]) -> int:
    """Roughly how much the rules will parse: the size of the files named like source."""
    total = 0
    for entry in files:
        if entry.kind is EntryKind.FILE and entry.rel.endswith((".py", ".pyi", ".sh", ".ipynb")):
            with suppress(OSError):
                total += (src / entry.rel).stat().st_size
    return total


def _finding(path: str, message: str, severity: Severity, line: int = 1) -> Finding:
    return Finding(ENGINE_CODE, path, line, 1, severity, message)


def _claimed(name: str, head: bytes) -> FileKind | None:
    """The kind of the engine that claims a file of this name and first bytes, if any."""
    return next((engine.kind for engine in ENGINES if engine.claims(name, head)), None)


def process_file(src: Path, config: EngineConfig, keep: bool, cache: OutcomeCache | None,
                 entry: Entry) -> FileResult:
    """Rewrite one file of ``src`` (in this process or a worker): its share of the Result.
    ``keep``: send back the per-rule stages (for OUT's history), not only the output.
    ``cache``: the outcomes of the run that wrote OUT, reused for the files whose bytes are
    the same; None: no cache is read or kept. Whatever the file holds, or if it vanishes
    meanwhile, it costs that file only."""
    full = src / entry.rel
    if entry.kind is EntryKind.SKIPPED:
        return FileResult(FileRecord(entry.rel, FileKind.METADATA, FileStatus.SKIPPED)).finding(
            _finding(entry.rel, f"{entry.error}: not copied", Severity.INFO))
    if entry.kind is EntryKind.SPECIAL:
        return FileResult(FileRecord(entry.rel, FileKind.SPECIAL, FileStatus.SKIPPED)).finding(
            _finding(entry.rel, "not a regular file (FIFO, socket or device): skipped",
                     Severity.WARNING))
    if entry.kind is EntryKind.UNREADABLE:
        return FileResult(FileRecord(entry.rel, FileKind.UNREADABLE, FileStatus.FAILED,
                                     error=entry.error)).finding(_finding(
            entry.rel, f"cannot read this folder: {entry.error}; it is not in OUT",
            Severity.ERROR))
    if entry.excluded and (excluded := excluded_result(src, config, entry)) is not None:
        return excluded
    try:
        if entry.kind is EntryKind.SYMLINK:
            return FileResult(FileRecord(entry.rel, FileKind.SYMLINK, FileStatus.COPIED,
                                         link=os.readlink(full)))
        size = full.stat().st_size
        if size > MAX_REWRITE_BYTES:
            return FileResult(FileRecord(entry.rel, FileKind.LARGE, FileStatus.UNCHANGED,
                                         mode=entry.mode)).finding(_finding(
                entry.rel, f"{size / 2**20:.1f} MB: larger than the 10 MB rewrite limit; "
                "copied unchanged", Severity.WARNING))
        source = full.read_bytes()
    except FileNotFoundError:
        return FileResult(FileRecord(entry.rel, FileKind.UNREADABLE, FileStatus.FAILED,
                                     error="gone from SRC during the run")).finding(_finding(
            entry.rel, "removed from SRC during the run: it is not in OUT", Severity.ERROR))
    except OSError as exc:
        return FileResult(FileRecord(entry.rel, FileKind.UNREADABLE, FileStatus.FAILED)).finding(
            _finding(entry.rel, f"cannot read: {exc.strerror}; it is not in OUT", Severity.ERROR))
    name, head = entry.rel.rsplit("/", 1)[-1], source[:8192]
    sha256 = _sha256(source)
    cached: CacheEntry | None = None
    if cache is not None and (hit := cache.get(entry.rel, sha256)) is not None:
        kind, outcome, cached = hit
    else:
        try:
            kind, outcome = rewrite_file(entry.rel, source, config)
        except Exception as exc:  # an engine's bug on odd input: this file only, reported
            kind = _claimed(name, head) or FileKind.TEXT
            outcome = FileOutcome(error=f"{internal_error(exc)}; copied unchanged")
        else:  # an engine's bug is not kept: the next run tries the file again
            if cache is not None:
                cached = [sha256, encode(kind, outcome)]
    if (generated := generated_result(entry, source, kind, outcome)) is not None:
        return generated
    record = FileRecord(entry.rel, kind, FileStatus.UNCHANGED, mode=entry.mode,
                        source_sha256=sha256)
    if kind is FileKind.BINARY and (claimed := _claimed(name, head)) is not None:
        outcome.findings.append(_finding(
            entry.rel, f"a NUL byte in its first 8 KB: read as binary, not as {claimed.value}; "
            "not rewritten, copied unchanged", Severity.WARNING))
    if outcome.error:
        outcome.findings.append(
            _finding(entry.rel, outcome.error, Severity.ERROR, outcome.error_line))
        record.status = FileStatus.FAILED
        record.error = outcome.error
    output = outcome.output(source)
    record.output_sha256 = _sha256(output)
    file = FileResult(record, outcome, cached=cached)
    if outcome.changed:
        record.status = FileStatus.CHANGED
        record.rules = [rule for rule, _ in outcome.stages]
        file.output = output
        if keep:
            file.source = source
        else:
            outcome.stages = []
    return file
