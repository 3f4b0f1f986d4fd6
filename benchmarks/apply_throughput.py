"""`covo-port apply` throughput on a large real tree, against the floor of only parsing it; and
the whole `covo-port apply` command on the upstream.

    python benchmarks/apply_throughput.py [--tree PATH] [--jobs N] [--upstream PATH] [--runs N]

The tree defaults to the installed ``transformers`` package's source (thousands of files; it is
only read). One run prints:

* files and MB; the floor, libcst parse + codegen of the tree's Python files in the same pool of
  N processes that apply uses; apply with N processes (OUT in a temporary folder, no patch
  series: what `covo-port apply -j N --no-patches` runs, less printing the report), split into
  the per-file rewrite and writing OUT (copies, git history, manifest); `apply --check`; and
  their ratios to the floor. Each runs in a fresh process, timed by the wall clock and by CPU
  time (user + system of the process and of its children: workers, git). The ratios are of CPU
  seconds: other work on the machine stretches the wall clock, much less the CPU time.
* apply once more the unoptimised way (``COVO_PORT_REFERENCE=1``: no cheap pass before libcst,
  libcst's own position pass and traversals) and whether its OUT is byte-identical: a digest of
  every file of OUT, the manifest and the git history (every commit's hash).
* with ``--upstream PATH`` (the pinned upstream, as `covo-port fetch` clones it; skipped when
  absent): the command `covo-port apply PATH -o OUT --force` as a user runs it (patch series and
  report included, covo-port's bytecode cached as in an installed copy), wall time: the median
  of ``--runs`` runs into the same OUT (the first finds no cache there, the others reuse the
  outcomes of the unchanged files: all of them) and of as many with ``--no-cache``.
* peak memory (RSS) of the main process and of its largest child (a worker, or git).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import libcst as cst

from covo_port.engines.python import is_python
from covo_port.model import RunOptions, get_target
from covo_port.pipeline.cache import CACHE_NAME
from covo_port.pipeline.manifest import MANIFEST_DIR
from covo_port.pipeline.parallel import default_jobs, map_ordered
from covo_port.pipeline.run import MAX_REWRITE_BYTES, apply_tree
from covo_port.pipeline.walk import walk

#: apply's CPU time against the floor's (apply parses a fraction of the files: it should cost
#: less than parsing them all).
GOAL = 0.8
#: `covo-port apply` on the upstream, seconds of wall time (median).
UPSTREAM_GOAL = 0.6
REFERENCE = "COVO_PORT_REFERENCE"
NO_BYTECODE = "PYTHONDONTWRITEBYTECODE"


def default_tree() -> Path:
    spec = importlib.util.find_spec("transformers")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("transformers is not installed: give a tree with --tree PATH")
    return Path(next(iter(spec.submodule_search_locations)))


def python_files(tree: Path) -> list[str]:
    """The files apply would treat as Python."""
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


def phase(name: str, tree: Path, jobs: int, out: Path | None) -> dict[str, object]:
    """One measurement, in this (fresh) process."""
    started = time.perf_counter()
    data: dict[str, object] = {}
    if name == "floor":
        files = python_files(tree)
        size = sum((tree / rel).stat().st_size for rel in files)
        parsed = sum(ok for _, ok in map_ordered(parse_and_print, (tree,), files, jobs, size))
        data.update(files=len(files), parsed=parsed, mb=size / 1e6)
    else:
        last = started

        def step(path: str) -> None:
            nonlocal last
            last = time.perf_counter()

        result = apply_tree(tree, out, get_target("npu", ()), RunOptions(),
                            check=name == "check", jobs=jobs, progress=step)
        manifest = result.manifest
        data.update(rewrite=last - started, files=len(manifest.files),
                    changed=sum(f.status == "changed" for f in manifest.files),
                    changes=len(manifest.changes), findings=len(manifest.findings))
    data["seconds"] = time.perf_counter() - started
    data["peak_main_mb"], data["peak_child_mb"] = peak_mb()
    return data


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, tree: Path, jobs: int, out: Path | None = None,
            reference: bool = False) -> dict[str, Any]:
    """``phase`` in a fresh process, with its wall and CPU time (its children's included)."""
    command = [sys.executable, __file__, "--phase", name, "--tree", str(tree),
               "--jobs", str(jobs)]
    if out is not None:
        command += ["--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != REFERENCE}
    if reference:
        env[REFERENCE] = "1"
    cpu, started = _cpu(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    if proc.returncode != 0:
        sys.exit(f"{name} failed:\n{proc.stderr}")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    data.update(wall=wall, cpu=cpu)
    return data


def out_digest(out: Path) -> str:
    """sha256 of OUT: every file (path, mode, bytes; the manifest without the source's path)
    and the git history (every commit's hash, which covers its tree, message and dates). The
    cache is left out: its key names the path a run took (the unoptimised one has its own)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if ".git" not in p.relative_to(out).parts):
        rel = path.relative_to(out).as_posix()
        if rel == f"{MANIFEST_DIR}/{CACHE_NAME}":
            continue
        if path.is_symlink():
            digest.update(f"{rel} -> {os.readlink(path)}\n".encode())
        elif path.is_file():
            data = path.read_bytes()
            if rel == ".covo-port/manifest.json":
                manifest = json.loads(data)
                manifest.pop("source", None)
                data = json.dumps(manifest, sort_keys=True).encode()
            digest.update(f"{rel} {path.stat().st_mode:o} {len(data)}\n".encode())
            digest.update(data)
    history = subprocess.run(["git", "-C", str(out), "log", "--format=%H"], capture_output=True,
                             text=True, check=True).stdout
    digest.update(history.encode())
    return digest.hexdigest()


def upstream_runs(upstream: Path, runs: int, *options: str) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of `covo-port apply UPSTREAM -o OUT --force [OPTIONS]`, ``runs``
    times into the same OUT (from the second run on, apply may reuse OUT's cache), each after
    one run into another OUT that leaves Python's bytecode of covo-port cached, as an
    installed covo-port has it (in a temporary folder: ``PYTHONPYCACHEPREFIX``)."""
    command = [str(Path(sys.executable).with_name("covo-port"))]
    if not Path(command[0]).exists():
        command = [sys.executable, "-m", "covo_port"]
    timings = []
    with tempfile.TemporaryDirectory(prefix="covo-port-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in (REFERENCE, NO_BYTECODE)}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "bytecode")
        subprocess.run([*command, "apply", str(upstream), "-o", "warm-up"], cwd=tmp, env=env,
                       capture_output=True, check=False)
        for _ in range(runs):
            cpu, started = _cpu(), time.perf_counter()
            proc = subprocess.run([*command, "apply", str(upstream), "-o", "out", "--force",
                                   *options], cwd=tmp, env=env, capture_output=True, text=True,
                                  check=False)
            timings.append((time.perf_counter() - started, _cpu() - cpu))
            if proc.returncode not in (0, 1):
                sys.exit(f"covo-port apply {upstream} failed:\n{proc.stderr}")
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, help="the tree to port [default: transformers]")
    parser.add_argument("--jobs", "-j", type=int, default=default_jobs(),
                        help="processes, for apply and the floor alike [default: all cores]")
    parser.add_argument("--upstream", type=Path,
                        help="the upstream checkout (`covo-port fetch`), for the start-up figure")
    parser.add_argument("--runs", type=int, default=5, help="runs on the upstream [default: 5]")
    parser.add_argument("--phase", choices=("floor", "apply", "check"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    tree = (args.tree or default_tree()).resolve()
    if args.jobs < 1 or args.runs < 1:
        parser.error("--jobs and --runs must be 1 or more")
    if args.phase:
        print(json.dumps(phase(args.phase, tree, args.jobs, args.out)))
        return 0

    entries = [e for e in walk(tree) if e.kind == "file"]
    size = sum((tree / e.rel).stat().st_size for e in entries)
    print(f"tree: {tree}")
    print(f"jobs: {args.jobs} (cores available: {default_jobs()}); "
          f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="covo-port-bench-") as tmp:
        floor = measure("floor", tree, args.jobs)
        apply = measure("apply", tree, args.jobs, Path(tmp) / "fast")
        check = measure("check", tree, args.jobs)
        reference = measure("apply", tree, args.jobs, Path(tmp) / "reference", reference=True)
        same = out_digest(Path(tmp) / "fast") == out_digest(Path(tmp) / "reference")
    print(f"files: {len(entries)} ({size / 1e6:.1f} MB); Python: {floor['files']} "
          f"({floor['mb']:.1f} MB)")
    print(f"apply: {apply['changed']} file(s) changed, {apply['changes']} change(s), "
          f"{apply['findings']} finding(s)")
    print(f"{'':<32}{'CPU s':>8}{'wall s':>8}  peak RSS MB: main / largest child")
    rows = [("floor (parse + codegen)", floor), ("apply", apply), ("apply --check", check),
            ("apply, unoptimised (reference)", reference)]
    for label, row in rows:
        print(f"{label:<32}{row['cpu']:>8.1f}{row['wall']:>8.1f}  {row['peak_main_mb']:>6.0f} / "
              f"{row['peak_child_mb']:.0f}")
    print(f"  apply: per-file rewrite {apply['rewrite']:.1f} s wall, writing OUT (copies, git "
          f"history, manifest) {apply['seconds'] - apply['rewrite']:.1f} s wall")
    print("ratios of CPU seconds (user + system, children included; the wall clock depends on "
          "the machine's other load):")
    ratio = apply["cpu"] / floor["cpu"]
    print(f"  apply / floor: {ratio:.2f} (goal <= {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})"
          f"; wall: {apply['wall'] / floor['wall']:.2f}")
    print(f"  check / floor: {check['cpu'] / floor['cpu']:.2f}; "
          f"wall: {check['wall'] / floor['wall']:.2f}")
    print(f"  unoptimised apply / floor: {reference['cpu'] / floor['cpu']:.2f}; "
          f"apply is {reference['cpu'] / apply['cpu']:.1f}x faster")
    print(f"OUT (files, manifest, git history) identical to the unoptimised path's: "
          f"{'yes' if same else 'NO'}")
    if args.upstream is None or not args.upstream.is_dir():
        print("upstream: not measured (give the `covo-port fetch` checkout with --upstream)")
    else:
        upstream = args.upstream.resolve()
        timings = upstream_runs(upstream, args.runs)
        wall = statistics.median(t[0] for t in timings)
        cpu = statistics.median(t[1] for t in timings)
        print(f"upstream: `covo-port apply {args.upstream} -o OUT --force`, {args.runs} runs into "
              f"the same OUT: median {wall:.2f} s wall (goal <= {UPSTREAM_GOAL}: "
              f"{'met' if wall <= UPSTREAM_GOAL else 'NOT met'}), {cpu:.2f} s CPU; the first "
              f"(no cache in OUT yet) {timings[0][0]:.2f} s wall")
        fresh = upstream_runs(upstream, args.runs, "--no-cache")
        print(f"  with --no-cache (every file rewritten, as into a new OUT): median "
              f"{statistics.median(t[0] for t in fresh):.2f} s wall, "
              f"{statistics.median(t[1] for t in fresh):.2f} s CPU")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
