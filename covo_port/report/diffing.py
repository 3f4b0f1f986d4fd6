"""``covo-port diff``: what apply changed, read back from OUT and its manifest."""

from __future__ import annotations

import difflib
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from covo_port.model import FileStatus
from covo_port.pipeline.gitout import base_commit, pristine_file
from covo_port.pipeline.manifest import Manifest, ManifestError
from covo_port.pipeline.result import Result


@dataclass(frozen=True)
class FileDiff:
    path: str
    rules: tuple[str, ...]
    text: str
    added: int
    removed: int


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _inside(root: Path, path: str) -> Path:
    """``root/path``, refused (ManifestError) unless it is a regular file inside ``root``: a
    crafted manifest, or a link put into OUT, never makes diff read a file elsewhere."""
    full = root / path
    real = full.resolve()
    if root.resolve() not in real.parents or full.is_symlink():
        raise ManifestError(f"{full} is not a file inside {root}; re-run `covo-port apply`")
    if not real.is_file():
        raise ManifestError(f"{full} is gone (or not a file); re-run `covo-port apply`")
    return real


def file_diffs(out: Path, manifest: Manifest) -> list[FileDiff]:
    """Unified diffs of every changed file. The source side comes from OUT's pristine commit
    where OUT is a git repository written by apply, else from the manifest's source, shown only
    if it still has the bytes that apply read."""
    src = Path(manifest.source)
    base = base_commit(out)
    diffs = []
    for record in manifest.files:
        if record.status not in (FileStatus.CHANGED, FileStatus.ADDED):
            continue
        if record.status is FileStatus.ADDED:  # a support module: not in the source
            before = None
        elif base is not None:
            before = pristine_file(out, base, record.path)
        else:
            try:
                before = _inside(src, record.path).read_bytes()
            except OSError:
                raise ManifestError(f"source file {src / record.path} is gone; "
                                    "re-run `covo-port apply`") from None
            if hashlib.sha256(before).hexdigest() != record.source_sha256:
                raise ManifestError(
                    f"{src / record.path} changed since apply; re-run `covo-port apply`")
        try:
            after = _inside(out, record.path).read_bytes()
        except OSError as exc:
            raise ManifestError(f"cannot read {out / record.path}: {exc.strerror}") from None
        diffs.append(unified(record.path, tuple(record.rules), before, after))
    return diffs


def unified(path: str, rules: tuple[str, ...], before: bytes | None, after: bytes) -> FileDiff:
    """The unified diff of one file, ``a/PATH`` -> ``b/PATH`` (what ``git apply`` reads);
    ``before`` None: a file that the run added (``/dev/null`` -> ``b/PATH``)."""
    lines = list(difflib.unified_diff(_lines(before or b""), _lines(after),
                                      "/dev/null" if before is None else f"a/{path}",
                                      f"b/{path}"))
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
    added = sum(1 for x in lines if x.startswith("+") and not x.startswith("+++"))
    removed = sum(1 for x in lines if x.startswith("-") and not x.startswith("---"))
    return FileDiff(path, rules, text, added, removed)


def run_diffs(src: Path, result: Result) -> list[FileDiff]:
    """The unified diffs of what a run changed (or, in check mode, would change), from SRC and
    the run's outputs: ``apply --diff`` writes nothing."""
    return [unified(record.path, tuple(record.rules),
                    None if record.status is FileStatus.ADDED else (src / record.path).read_bytes(),
                    result.outputs[record.path])
            for record in result.manifest.files
            if record.status in (FileStatus.CHANGED, FileStatus.ADDED)]


def stat_rows(manifest: Manifest, diffs: list[FileDiff]) -> tuple[list[tuple], list[tuple]]:
    """(per-file rows, per-rule rows) for ``diff --stat``."""
    per_file_rule = Counter((c.path, c.rule) for c in manifest.changes)
    files = []
    for d in diffs:
        counts = ", ".join(f"{rule}×{per_file_rule[(d.path, rule)]}" for rule in d.rules)
        files.append((d.path, d.added, d.removed, counts))
    per_rule = Counter(c.rule for c in manifest.changes)
    rule_files = Counter(rule for (_, rule) in per_file_rule)
    rules = [(rule, per_rule[rule], rule_files[rule]) for rule in sorted(per_rule)]
    return files, rules
