"""The ``tests`` profile (``covo-port verify OUT --tests CMD``): any project, proved by its own
test command, run twice.

1. **Source**: CMD in the source tree that ``apply`` ported, on the CPU: OUT's pristine commit
   (the exact tree apply read) extracted into a temporary folder, or a copy of SRC where OUT has
   no history; SRC itself is never executed nor written. CUDA is hidden, as on an Ascend host.
2. **Port**: CMD in OUT on the NPU (``--emulate npu``: the CPU emulation in every Python process
   CMD starts; ``--device npu:N``: the real device), recording what reaches the NPU.
3. **Comparison**: per test (pytest's node ids, through :mod:`covo_port.verify.pytest_plugin`;
   a command that runs no pytest is one test, its exit status the outcome). A test that passed
   on the source and does not pass on the port is a *regression*, shown with its error and its
   cause: the operator Ascend cannot run, the CUDA call the host cannot answer, or the
   ``torch.npu`` API the emulation does not model, each with its line; "unexplained" otherwise.
   Tests that do not pass on the source on the CPU are listed, not counted.

The verification passes when no test regresses. Both runs leave the trees as they were (no
bytecode, no pytest cache).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from covo_port import __version__
from covo_port.pipeline.git import clean_env, git_executable
from covo_port.pipeline.gitout import base_commit
from covo_port.pipeline.manifest import Manifest
from covo_port.verify import core, launch, readiness
from covo_port.verify.core import StageResult
from covo_port.verify.markdown import code, table

NAME = "tests"
STAGES = (
    (1, "source", "Tests on the source (CPU)"),
    (2, "port", "Tests on OUT (NPU)"),
    (3, "comparison", "Comparison"),
)
SCHEMA = 1
DEFAULT_TIMEOUT = 3600.0
WHOLE_COMMAND = "(the whole command)"  # the one "test" of a command that runs no pytest
_PHASES = ("collect", "setup", "call", "teardown")


@dataclass(frozen=True)
class TestsOptions:
    out: Path  # absolute
    command: str
    device: str = "npu:0"
    emulate: bool = False
    timeout: float | None = None

    @property
    def runtime(self) -> str:
        return "emulate" if self.emulate else "torch_npu"


@dataclass
class Outcome:
    nodeid: str
    outcome: str  # passed, failed, error, skipped, xfailed, xpassed
    message: str | None = None
    where: str | None = None
    seconds: float = 0.0


@dataclass
class TestRun:
    """One run of the test command."""

    tree: str
    runtime: str
    exit_status: int
    seconds: float
    cpu_seconds: float
    timed_out: bool
    outcomes: dict[str, Outcome]
    output: str
    origin: str = ""  # where the tree came from (the source run)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.outcomes.values():
            counts[o.outcome] = counts.get(o.outcome, 0) + 1
        return counts


@dataclass
class Verification(core.Verification):
    expected_stages: int = len(STAGES)
    source: TestRun | None = None
    port: TestRun | None = None
    readiness: readiness.Readiness | None = None
    regressions: list[dict[str, Any]] = field(default_factory=list)
    not_on_source: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0  # tests that passed on both


# ---------------------------------------------------------------------------------------------
# The source tree, never executed in place
# ---------------------------------------------------------------------------------------------


def pristine_source(out: Path, manifest: Manifest, dest: Path) -> str:
    """Put the tree that apply ported into ``dest``; say where it came from."""
    base = base_commit(out)
    exe = git_executable()
    if base is not None and exe is not None:
        dest.mkdir(parents=True)
        proc = subprocess.Popen([exe, f"--git-dir={out / '.git'}", "archive", "--format=tar",
                                 base], env=clean_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
            archive.extractall(dest, filter="data")
        if proc.wait() == 0:
            return f"OUT's pristine commit {base[:12]} (the tree apply read), extracted"
        shutil.rmtree(dest)
    source = Path(manifest.source)
    if not source.is_dir():
        raise FileNotFoundError(f"the source tree {source} named by OUT's manifest is not "
                                "there, and OUT holds no pristine commit")
    shutil.copytree(source, dest, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache"))
    return f"a copy of {source}"


# ---------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------


def outcomes(lines: list[dict[str, Any]], root: Path) -> dict[str, Outcome]:
    """Per test, its outcome from the plugin's per-phase lines (each phase once: a report that
    pytest-xdist forwards arrives twice)."""
    phases: dict[str, dict[str, dict[str, Any]]] = {}
    for line in lines:
        nodeid, when = str(line.get("nodeid", "")), str(line.get("when", ""))
        if when in _PHASES:
            phases.setdefault(nodeid, {}).setdefault(when, line)
    result = {}
    for nodeid, seen in phases.items():
        outcome, line = _combine(seen)
        where = line.get("where") if line else None
        if where:
            path, _, number = where.rpartition(":")
            with contextlib.suppress(ValueError):  # outside the tree (a library): as it is
                where = f"{Path(path).relative_to(root).as_posix()}:{number}"
        result[nodeid] = Outcome(nodeid, outcome, line.get("message") if line else None,
                                 where, sum(float(p.get("seconds", 0)) for p in seen.values()))
    return result


def _combine(seen: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any] | None]:
    """One outcome for a test from its phases, and the line that decided it."""
    for when in ("collect", "setup"):
        line = seen.get(when)
        if line is not None and line["outcome"] == "failed":
            return "error", line
    setup = seen.get("setup")
    if setup is not None and setup["outcome"] == "skipped":
        return ("xfailed" if setup.get("xfail") else "skipped"), setup
    call = seen.get("call")
    if call is not None and call["outcome"] != "passed":
        if call.get("xfail"):
            return "xfailed", call
        return call["outcome"], call
    teardown = seen.get("teardown")
    if teardown is not None and teardown["outcome"] == "failed":
        return "error", teardown
    if call is None:
        return "error", None  # set up, never called: the run ended under it
    return ("xpassed" if call.get("xfail") else "passed"), None


def run_tests(options: TestsOptions, tree: Path, runtime: str, origin: str = ""
              ) -> tuple[TestRun, launch.Finished]:
    spec = launch.Launch(runtime, tree, device=options.device, clean=True, capture=True,
                         timeout=options.timeout or DEFAULT_TIMEOUT)
    finished = launch.run(options.command, spec)
    found = outcomes(finished.tests, tree)
    if not finished.tests:  # no pytest: the command is the one test
        lines = [line for line in finished.output.splitlines() if line.strip()]
        found = {WHOLE_COMMAND: Outcome(
            WHOLE_COMMAND, "passed" if finished.returncode == 0 else "failed",
            None if finished.returncode == 0 else
            f"exit status {finished.exit_status}" + (f": {lines[-1]}" if lines else ""),
            seconds=finished.seconds)}
    run = TestRun(str(tree), runtime, finished.exit_status, round(finished.seconds, 3),
                  round(finished.cpu_seconds, 3), finished.timed_out, found, finished.output,
                  origin)
    return run, finished


# ---------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------


def _causes(nodeid: str, outcome: Outcome | None, report: readiness.Readiness
            ) -> list[dict[str, Any]]:
    """What the port's run recorded during ``nodeid`` that explains its failure."""
    causes = [{"kind": "unsupported operator", "what": e["api"]
               + (f" on {', '.join(e['dtypes'])}" if e["dtypes"] else ""), "where": e["where"]}
              for e in report.refusals if nodeid in e["tests"]]
    causes += [{"kind": "CUDA call on an Ascend host", "what": e["api"], "where": e["where"]}
               for e in report.failed_cuda if nodeid in e["tests"]]
    causes += [{"kind": "torch.npu API not emulated", "what": e["api"], "where": e["where"]}
               for e in report.not_emulated if nodeid in e["tests"]]
    message = (outcome.message or "") if outcome else ""
    if not causes and "is not supported on Ascend" in message:
        causes.append({"kind": "unsupported operator", "what": message.split(" is not")[0],
                       "where": message.rpartition(": ")[2].split(" — ")[0]})
    if not causes and "Found no NVIDIA driver" in message:
        causes.append({"kind": "CUDA call on an Ascend host", "what": "CUDA",
                       "where": message.rpartition(": ")[2].rstrip(")")})
    return causes


def compare(v: Verification) -> StageResult:
    stage = core.new_stage(STAGES, 3)
    assert v.source is not None and v.port is not None and v.readiness is not None
    src, port = v.source.outcomes, v.port.outcomes
    for nodeid in sorted(set(src) | set(port)):
        before, after = src.get(nodeid), port.get(nodeid)
        if before is None or before.outcome != "passed":
            v.not_on_source.append({
                "test": nodeid, "source": before.outcome if before else "not run",
                "reason": (before.message if before else None), "port":
                after.outcome if after else "not run"})
        elif after is not None and after.outcome == "passed":
            v.unchanged += 1
        else:
            causes = _causes(nodeid, after, v.readiness)
            v.regressions.append({
                "test": nodeid, "port": after.outcome if after else "not run",
                "error": after.message if after else "the test did not run on OUT",
                "where": after.where if after else None, "causes": causes,
                "explained": bool(causes)})
    counted = v.unchanged + len(v.regressions)
    explained = sum(1 for r in v.regressions if r["explained"])
    if not counted:
        stage.data = {"counted": 0, "not_on_source": len(v.not_on_source)}
        return stage.fail("no test passed on the source: nothing was compared, nothing proved")
    stage.data = {"counted": counted, "passed_on_both": v.unchanged,
                  "regressions": len(v.regressions), "explained": explained,
                  "not_on_source": len(v.not_on_source)}
    stage.summary = (f"{v.unchanged}/{counted} test(s) that pass on the source pass on OUT; "
                     f"{len(v.regressions)} regression(s) ({explained} explained); "
                     f"{len(v.not_on_source)} not passing on the source (not counted)")
    if v.regressions:
        first = v.regressions[0]
        cause = (f"{first['causes'][0]['kind']}: {first['causes'][0]['what']} at "
                 f"{first['causes'][0]['where']}" if first["causes"] else "unexplained")
        return stage.fail(f"{len(v.regressions)} test(s) pass on the source and not on OUT, "
                          f"first {first['test']} ({cause})")
    stage.status = "pass"
    return stage


def _run_stage(number: int, run: TestRun) -> StageResult:
    stage = core.new_stage(STAGES, number)
    stage.seconds = run.seconds
    counts = ", ".join(f"{n} {k}" for k, n in sorted(run.counts().items()))
    stage.summary = (f"{len(run.outcomes)} test(s): {counts}; exit status {run.exit_status}, "
                     f"{run.seconds:.1f} s ({run.cpu_seconds:.1f} s of CPU)")
    stage.data = {"tree": run.tree, "exit_status": run.exit_status, "counts": run.counts()}
    if run.timed_out:
        return stage.fail(f"time limit reached; {stage.summary}")
    if list(run.outcomes) == [WHOLE_COMMAND] and run.exit_status == 127:
        return stage.fail(f"the command was not found: {run.outcomes[WHOLE_COMMAND].message}")
    if number == 1 and not any(o.outcome == "passed" for o in run.outcomes.values()):
        whole = run.outcomes.get(WHOLE_COMMAND) if len(run.outcomes) == 1 else None
        return stage.fail(
            f"the command failed on the source on the CPU ({whole.message}) and no pytest test "
            "reported: nothing to compare; run it there by hand (`python -m pytest` must be the "
            "Python that has pytest and covo-port: activate their venv)" if whole else
            f"no test passed on the source on the CPU ({len(run.outcomes)} run): nothing to "
            "compare")
    stage.status = "pass"
    return stage


def run_verify(opts: TestsOptions, manifest: Manifest,
               on_stage: Callable[[StageResult], None] | None = None,
               on_start: Callable[[int, str], None] | None = None) -> Verification:
    """The three stages; ``on_start`` is told of each (number, title) as it starts,
    ``on_stage`` of each as it ends."""
    v = Verification(opts, manifest, started=core.now())
    started = time.perf_counter()

    def start(number: int) -> None:
        if on_start:
            on_start(number, STAGES[number - 1][2])

    def done(stage: StageResult) -> None:
        v.stages.append(stage)
        if on_stage:
            on_stage(stage)

    with tempfile.TemporaryDirectory(prefix="covo-port-verify-tests-") as tmp:
        tree = Path(tmp) / (Path(manifest.source).name or "source")

        def source() -> StageResult:
            origin = pristine_source(opts.out, manifest, tree)
            v.source = run_tests(opts, tree, "none", origin)[0]
            return _run_stage(1, v.source)

        start(1)
        done(core.guarded(STAGES, 1, source))

    def port() -> StageResult:
        v.port, finished = run_tests(opts, opts.out, opts.runtime)
        v.readiness = readiness.build([opts.command], opts.runtime, opts.device, finished,
                                      opts.out)
        return _run_stage(2, v.port)

    start(2)
    done(core.guarded(STAGES, 2, port))
    if v.source is not None and v.port is not None:
        start(3)
        done(core.guarded(STAGES, 3, lambda: compare(v)))
    else:
        done(core.new_stage(STAGES, 3).fail("not run: a test run did not complete"))
    v.seconds = time.perf_counter() - started
    return v


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def to_json(v: Verification) -> dict[str, Any]:
    opts: TestsOptions = v.options

    def run(r: TestRun | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {"tree": r.tree, "origin": r.origin, "runtime": r.runtime,
                "exit_status": r.exit_status, "seconds": r.seconds,
                "cpu_seconds": r.cpu_seconds, "timed_out": r.timed_out, "counts": r.counts(),
                "outcomes": {k: asdict(o) for k, o in sorted(r.outcomes.items())}}

    return {
        "tool": "covo-port", "command": "verify", "profile": NAME, "schema": SCHEMA,
        "version": __version__, "started": v.started, "seconds": round(v.seconds, 3),
        "out": str(opts.out), "source": v.manifest.source, "target": v.manifest.target,
        "tests": opts.command, "device": opts.device, "emulated": opts.emulate,
        "stages": [asdict(s) | {"passed": s.passed} for s in v.stages],
        "source_run": run(v.source), "port_run": run(v.port),
        "passed_on_both": v.unchanged, "regressions": v.regressions,
        "not_on_source": v.not_on_source,
        "readiness": readiness.to_json(v.readiness) if v.readiness else None,
        "passed": v.passed, "exit_code": v.exit_code,
    }


def render_markdown(v: Verification) -> str:
    opts: TestsOptions = v.options
    device = f"{opts.device} (emulated on the CPU)" if opts.emulate else opts.device
    passed = sum(1 for s in v.stages if s.passed)
    lines = [f"# covo-port verify --tests: `{opts.out}`", "",
             f"**{'PASS' if v.passed else 'FAIL'}**: {passed}/{len(v.stages)} stages passed. "
             f"Test command {code(opts.command)}, on the source on the CPU and on OUT on "
             f"{device}. OUT ported from `{v.manifest.source}` (target {v.manifest.target}). "
             f"Run {v.started} by covo-port {__version__}, in {v.seconds:.0f} s.", "",
             "## Stages", ""]
    lines += table(("#", "stage", "result", "time", "figures"), [
        (s.number, s.title, s.status.upper(), f"{s.seconds:.1f} s", s.error or s.summary)
        for s in v.stages])
    if v.source is not None:
        lines += [f"The source ran from {v.source.origin}.", ""]
    lines += ["## Regressions: pass on the source (CPU), not on OUT (NPU)", ""]
    if v.regressions:
        lines += table(("test", "on OUT", "cause", "line", "error"), [
            (r["test"], r["port"], "; ".join(f"{c['kind']}: {c['what']}" for c in r["causes"])
             or "unexplained", "; ".join(str(c["where"]) for c in r["causes"])
             or r["where"] or "-", r["error"] or "-") for r in v.regressions])
    else:
        lines += ["None.", ""]
    lines += ["## Not passing on the source on the CPU (listed, not counted)", ""]
    if v.not_on_source:
        lines += table(("test", "on the source", "why", "on OUT"), [
            (n["test"], n["source"], n["reason"] or "-", n["port"]) for n in v.not_on_source])
    else:
        lines += ["None.", ""]
    if v.readiness is not None:
        body = readiness.render_markdown(v.readiness, "Readiness of the run on OUT")
        lines += ["#" + line if line.startswith("#") else line for line in body.splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"
