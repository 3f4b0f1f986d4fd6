"""`covo-port apply` throughput on a large real tree, against the floor of only parsing it.

    python benchmarks/apply_throughput.py [--tree PATH] [--jobs N]

The tree defaults to the installed ``transformers`` package's source (thousands of files; it is
only read). One run prints: files and MB; the floor, libcst parse + codegen of the tree's Python
files in the same pool of N processes that apply uses; apply with N processes (OUT in a
temporary folder, no patch series: what `covo-port apply -j N --no-patches` runs, less printing
the report), split into the per-file rewrite and writing OUT (copies, git history, manifest);
the ratio apply / floor; `apply --check` on the whole tree (files with none of the rules'
trigger words are not parsed at all) against the same floor; and peak memory (RSS) of the main
process and of its largest child (a worker, or git). Each measurement runs in a fresh process.
Other work on the machine skews the times: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libcst as cst

from covo_port.engines.python import is_python
from covo_port.model import RunOptions, get_target
from covo_port.pipeline.parallel import default_jobs, map_ordered
from covo_port.pipeline.run import MAX_REWRITE_BYTES, apply_tree
from covo_port.pipeline.walk import walk
from covo_port.registry import active_rules, python_rules

GOAL = 1.3


def default_tree() -> Path:
    spec = importlib.util.find_spec("transformers")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("transformers is not installed: give a tree with --tree PATH")
    return Path(next(iter(spec.submodule_search_locations)))


def python_files(tree: Path) -> list[str]:
    """The files apply parses as Python (where a rule's trigger word is in them)."""
    found = []
    for entry in walk(tree):
        full = tree / entry.rel
        if entry.kind == "file" and full.stat().st_size <= MAX_REWRITE_BYTES:
            with full.open("rb") as f:
                head = f.read(8192)
            if b"\0" not in head and is_python(entry.rel.rsplit("/", 1)[-1], head):
                found.append(entry.rel)
    return found


def parse_and_print(tree: Path, rel: str) -> bool:
    """The floor's work for one file: parse it and print it back (False: libcst refuses it)."""
    try:
        cst.parse_module((tree / rel).read_bytes()).bytes  # noqa: B018
        return True
    except (cst.ParserSyntaxError, UnicodeDecodeError, RecursionError, SyntaxError):
        return False


def peak_mb() -> tuple[float, float]:
    """Peak RSS so far (MB) of this process and of its largest finished child."""
    unit = 2**20 if sys.platform == "darwin" else 2**10  # ru_maxrss: bytes on macOS, else KiB
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit / 2**20
    return own, child


def phase(name: str, tree: Path, jobs: int) -> dict[str, object]:
    """One measurement, in this (fresh) process."""
    started = time.perf_counter()
    data: dict[str, object] = {}
    if name == "floor":
        files = python_files(tree)
        size = sum((tree / rel).stat().st_size for rel in files)
        started = time.perf_counter()
        parsed = sum(ok for _, ok in map_ordered(parse_and_print, (tree,), files, jobs, size))
        data.update(files=len(files), parsed=parsed, mb=size / 1e6)
    else:
        last = started

        def step(path: str) -> None:
            nonlocal last
            last = time.perf_counter()

        with tempfile.TemporaryDirectory(prefix="covo-port-bench-") as tmp:
            result = apply_tree(tree, Path(tmp) / "out", get_target("npu", ()), RunOptions(),
                                check=name == "check", jobs=jobs, progress=step)
            data["seconds"] = time.perf_counter() - started  # not the temporary folder's removal
        manifest = result.manifest
        data.update(rewrite=last - started, files=len(manifest.files),
                    changed=sum(f.status == "changed" for f in manifest.files),
                    changes=len(manifest.changes), findings=len(manifest.findings))
    data.setdefault("seconds", time.perf_counter() - started)
    data["peak_main_mb"], data["peak_child_mb"] = peak_mb()
    return data


def measure(name: str, tree: Path, jobs: int) -> dict[str, object]:
    proc = subprocess.run([sys.executable, __file__, "--phase", name, "--tree", str(tree),
                           "--jobs", str(jobs)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, help="the tree to port [default: transformers]")
    parser.add_argument("--jobs", "-j", type=int, default=default_jobs(),
                        help="processes, for apply and the floor alike [default: all cores]")
    parser.add_argument("--phase", choices=("floor", "apply", "check"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    tree = (args.tree or default_tree()).resolve()
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    if args.phase:
        print(json.dumps(phase(args.phase, tree, args.jobs)))
        return 0

    entries = [e for e in walk(tree) if e.kind == "file"]
    size = sum((tree / e.rel).stat().st_size for e in entries)
    load = os.getloadavg()[0]
    print(f"tree: {tree}")
    print(f"jobs: {args.jobs} (cores available: {default_jobs()}); "
          f"load average before: {load:.2f}")
    floor = measure("floor", tree, args.jobs)
    apply = measure("apply", tree, args.jobs)
    check = measure("check", tree, args.jobs)
    rules = python_rules(active_rules(RunOptions()))
    target = get_target("npu")
    triggered = sum(any(r.might_match((tree / rel).read_bytes(), target) for r in rules)
                    for rel in python_files(tree))
    print(f"files: {len(entries)} ({size / 1e6:.1f} MB); Python: {floor['files']} "
          f"({floor['mb']:.1f} MB), {triggered} that a rule might match (parsed by apply)")
    print(f"apply: {apply['changed']} file(s) changed, {apply['changes']} change(s), "
          f"{apply['findings']} finding(s)")
    print(f"{'':<26}{'seconds':>9}  peak RSS MB: main / largest child")
    rows = [("floor (parse + codegen)", floor), ("apply", apply), ("apply --check", check)]
    for label, row in rows:
        print(f"{label:<26}{row['seconds']:>9.1f}  {row['peak_main_mb']:>6.0f} / "
              f"{row['peak_child_mb']:.0f}")
    print(f"  apply: per-file rewrite {apply['rewrite']:.1f} s, writing OUT (copies, git "
          f"history, manifest) {apply['seconds'] - apply['rewrite']:.1f} s")  # type: ignore[operator]
    ratio = apply["seconds"] / floor["seconds"]  # type: ignore[operator]
    print(f"ratio apply / floor: {ratio:.2f} (goal <= {GOAL})")
    print(f"ratio check / floor: {check['seconds'] / floor['seconds']:.2f}")  # type: ignore[operator]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
