"""Emulation overhead: a project's test suite on the CPU vs the ported suite on the emulated NPU.

For each suite: ``covo-port apply`` SRC into a temporary OUT, then, ``--repeat`` times and
alternating, the test command on the source tree on the plain CPU (OUT's pristine commit,
extracted, as ``verify --tests`` runs it) and on OUT under ``--emulate npu`` with the recorder
(as ``covo-port run`` and ``verify --tests`` run it). Prints wall-clock and CPU seconds (user +
system of the whole process tree: the machine may be shared, CPU time is the steadier figure)
and their ratios, best of the repeats, and the number of tests that passed in each run (the
ported suite may run more: tests skipped without CUDA run on the NPU).

    python benchmarks/emulation_overhead.py --suite NAME SRC "TEST COMMAND" [--suite ...]
    python benchmarks/emulation_overhead.py            # the fixture examples/tiny_tagger

The goal: the emulated run within 2x the plain CPU run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from covo_port.model import RunOptions, get_target
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree
from covo_port.verify import launch
from covo_port.verify.profiles import tests

ROOT = Path(__file__).resolve().parents[1]
GOAL = 2.0


def measure(command: str, tree: Path, runtime: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and passed tests of one run of ``command`` in ``tree``."""
    finished = launch.run(command, launch.Launch(runtime, tree, clean=True, capture=True))
    passed = sum(1 for o in tests.outcomes(finished.tests, tree).values()
                 if o.outcome == "passed")
    return finished.seconds, finished.cpu_seconds, passed


def suite(name: str, src: Path, command: str, repeat: int) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory(prefix="covo-port-bench-") as tmp:
        out, source = Path(tmp) / "out", Path(tmp) / src.name
        apply_tree(src, out, get_target("npu"), RunOptions())
        tests.pristine_source(out, Manifest.read(out), source)
        runs: dict[str, list[tuple[float, float, int]]] = {"cpu": [], "npu": []}
        for _ in range(repeat):
            runs["cpu"].append(measure(command, source, "none"))
            runs["npu"].append(measure(command, out, "emulate"))
    cpu_wall, cpu_cpu = min(r[0] for r in runs["cpu"]), min(r[1] for r in runs["cpu"])
    npu_wall, npu_cpu = min(r[0] for r in runs["npu"]), min(r[1] for r in runs["npu"])
    return {"suite": name, "passed_cpu": runs["cpu"][0][2], "passed_npu": runs["npu"][0][2],
            "cpu_wall": cpu_wall, "cpu_cpu": cpu_cpu, "npu_wall": npu_wall, "npu_cpu": npu_cpu,
            "wall_ratio": npu_wall / cpu_wall, "cpu_ratio": npu_cpu / cpu_cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", nargs=3, action="append", metavar=("NAME", "SRC", "CMD"),
                        help="a test suite: its name, its source tree, its test command")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each (best is shown)")
    args = parser.parse_args()
    suites = args.suite or [("tiny_tagger", str(ROOT / "examples" / "tiny_tagger"),
                             f"{sys.executable} -m pytest -q")]
    print(f"{'suite':<24} {'passed cpu/npu':>14} {'cpu wall':>9} {'npu wall':>9} {'ratio':>6} "
          f"{'cpu s':>8} {'npu s':>8} {'ratio':>6}")
    worst = 0.0
    for name, src, command in suites:
        r = suite(name, Path(src).resolve(), command, args.repeat)
        worst = max(worst, float(r["cpu_ratio"]))
        print(f"{name:<24} {r['passed_cpu']:>6}/{r['passed_npu']:<7} {r['cpu_wall']:>8.1f}s "
              f"{r['npu_wall']:>8.1f}s {r['wall_ratio']:>5.2f}x {r['cpu_cpu']:>7.1f}s "
              f"{r['npu_cpu']:>7.1f}s {r['cpu_ratio']:>5.2f}x", flush=True)
    print(f"worst CPU-time ratio {worst:.2f}x (goal: within {GOAL:.0f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
