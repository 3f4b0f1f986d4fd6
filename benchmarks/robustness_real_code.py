"""Every rule over every ``.py`` file of large installed packages: no crash, every output parses,
a second run changes nothing.

    python benchmarks/robustness_real_code.py [PACKAGE_OR_FOLDER ...] [--jobs N] [--limit N]

Packages default to ``transformers`` and ``torch`` (those installed). Each file goes through the
same per-file path as ``covo-port apply`` (``filetypes.rewrite_file``) with every rule, opt-in
ones included, and the package's own tree index. Exit status 1 if any file crashed, gave an output
that does not parse, or changed again on a second run; files the engine refused (Python that
cannot be parsed, nesting libcst cannot take) are counted and listed, not failures.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from covo_port.engines import EngineConfig, rewrite_file
from covo_port.model import RunOptions, get_target
from covo_port.pipeline.run import build_tree_index
from covo_port.registry import all_rules, engine_config, optimizations

DEFAULT_PACKAGES = ("transformers", "torch")
INTERNAL = ("internal error", "a rewrite produced invalid Python")


@dataclass
class FileResult:
    path: str
    size: int
    seconds: float = 0.0
    kind: str = ""
    changes: Counter[str] = field(default_factory=Counter)
    findings: int = 0
    refused: str | None = None  # the engine's own "copied unchanged" verdict (not a failure)
    crash: str | None = None  # an exception out of rewrite_file, or a rule failure it caught
    unparsable: str | None = None
    not_idempotent: bool = False


_config: EngineConfig | None = None


def _init(config: EngineConfig) -> None:
    global _config
    _config = config


def _parses(data: bytes) -> str | None:
    """None if ``data`` parses with libcst (and with Python, where Python parses the source)."""
    try:
        cst.parse_module(data)
    except Exception as exc:  # reported, whatever it is
        return f"libcst: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    return None


def _python_parses(data: bytes) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(data)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def check(job: tuple[str, str]) -> FileResult:
    root, rel = job
    assert _config is not None
    source = (Path(root) / rel).read_bytes()
    result = FileResult(rel, len(source))
    start = time.perf_counter()
    try:
        result.kind, outcome = rewrite_file(rel, source, _config)
    except Exception as exc:  # a crash is what this counts
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        result.crash = f"{type(exc).__name__}: {exc} ({Path(frame.filename).name}:{frame.lineno})"
        return result
    finally:
        result.seconds = time.perf_counter() - start
    result.findings = len(outcome.findings)
    result.changes = Counter(c.rule for c in outcome.changes)
    if outcome.error:
        if outcome.error.startswith(INTERNAL):
            result.crash = f"line {outcome.error_line}: {outcome.error}"
        else:
            result.refused = f"line {outcome.error_line}: {outcome.error}"
    if not outcome.changed:
        return result
    output = outcome.output(source)
    result.unparsable = _parses(output)
    if result.unparsable is None and _python_parses(source) and not _python_parses(output):
        result.unparsable = "Python's parser refuses the output"
    again = rewrite_file(rel, output, _config)[1]
    result.not_idempotent = again.output(output) != output
    return result


def package_roots(names: list[str]) -> Iterator[Path]:
    for name in names:
        folder = Path(name)
        if folder.is_dir():
            yield folder
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            print(f"{name}: not installed, skipped", file=sys.stderr)
            continue
        yield Path(next(iter(spec.submodule_search_locations)))


def run(root: Path, jobs: int, limit: int | None) -> list[FileResult]:
    rels = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py")
                  if p.is_file() and not p.is_symlink())[:limit]
    options = RunOptions(optimize=frozenset(optimizations()),
                         select=frozenset(r.id for r in all_rules()))
    config = engine_config(get_target("npu"), options)
    config.tree = build_tree_index(root, rels, config.rules)
    jobs_list = [(str(root), rel) for rel in rels]
    if jobs == 1:
        _init(config)
        return [check(job) for job in jobs_list]
    with ProcessPoolExecutor(jobs, initializer=_init, initargs=(config,)) as pool:
        return list(pool.map(check, jobs_list, chunksize=8))


def report(root: Path, results: list[FileResult], seconds: float) -> int:
    changes: Counter[str] = Counter()
    for r in results:
        changes.update(r.changes)
    kinds = Counter(r.kind for r in results if r.kind)
    crashed = [r for r in results if r.crash]
    unparsable = [r for r in results if r.unparsable]
    not_idempotent = [r for r in results if r.not_idempotent]
    refused = [r for r in results if r.refused]
    print(f"== {root}")
    print(f"files: {len(results)} ({sum(r.size for r in results) / 2**20:.1f} MB); "
          f"kinds: {dict(kinds)}")
    print(f"changed files: {sum(1 for r in results if r.changes)}; changes: "
          f"{sum(changes.values())} {dict(sorted(changes.items()))}; "
          f"findings: {sum(r.findings for r in results)}")
    print(f"crashes: {len(crashed)}; outputs that do not parse: {len(unparsable)}; "
          f"not idempotent: {len(not_idempotent)}; refused by the engine: {len(refused)}")
    print(f"time: {seconds:.1f} s wall; per file: "
          f"{sum(r.seconds for r in results) / max(len(results), 1) * 1000:.0f} ms mean, "
          f"slowest: " + ", ".join(f"{r.path} {r.seconds:.1f} s" for r in
                                   sorted(results, key=lambda r: -r.seconds)[:3]))
    for label, rows, detail in (("CRASH", crashed, "crash"), ("UNPARSABLE", unparsable,
                                                             "unparsable"),
                                ("REFUSED", refused, "refused")):
        for r in rows:
            print(f"  {label} {r.path}: {getattr(r, detail)}")
    for r in not_idempotent:
        print(f"  NOT IDEMPOTENT {r.path}")
    return 1 if crashed or unparsable or not_idempotent else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=list(DEFAULT_PACKAGES),
                        help="installed package names or source folders")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--limit", type=int, help="only the first N files of each package")
    args = parser.parse_args()
    status = 0
    for root in package_roots(args.packages):
        start = time.perf_counter()
        results = run(root, args.jobs, args.limit)
        status |= report(root, results, time.perf_counter() - start)
    return status


if __name__ == "__main__":
    sys.exit(main())
