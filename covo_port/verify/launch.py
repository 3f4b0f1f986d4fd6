"""Starting a command with the NPU emulation (or the recorder) in every Python process it starts.

The command's environment gets a *boot folder* first on ``PYTHONPATH``, holding three names
only: ``sitecustomize.py`` (which hands over to :mod:`covo_port.verify.child`), ``covo_port``
(a link to this package, so that an interpreter of another virtual environment finds it) and,
for the emulation, ``torch_npu`` (the emulated one). The variables of :mod:`.child` say what to
do; ``PYTEST_ADDOPTS`` loads :mod:`.pytest_plugin` into any pytest the command runs. Each Python
process writes its record into a folder the parent reads when the command has ended.

Not reached: interpreters started with ``-I``, ``-E`` or ``-S`` (they ignore ``PYTHONPATH`` or
``sitecustomize``) and processes that replace their environment; the report counts the
processes that did report.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import covo_port
from covo_port.verify import child
from covo_port.verify.core import read_json
from covo_port.verify.emulation import shim_path
from covo_port.verify.emulation._errors import ROOT_VARIABLE
from covo_port.verify.pytest_plugin import TESTLOG

PLUGIN = "covo_port.verify.pytest_plugin"
OUTPUT_TAIL = 8000  # characters of a captured command's output kept for the report
SITECUSTOMIZE = '''"""Written by covo-port: Ascend NPU emulation / recording in this process."""

from covo_port.verify import child

child.start()
'''


@dataclass(frozen=True)
class Launch:
    """How to start a command: ``runtime`` one of :data:`covo_port.verify.core.RUNTIMES`."""

    runtime: str
    root: Path  # the command's working directory, the project whose lines are the user's
    device: str = "npu:0"
    clean: bool = False  # leave the tree as it was: no bytecode, no pytest cache
    capture: bool = False  # the command's output goes to the report, not to the terminal
    timeout: float | None = None


@dataclass
class Finished:
    """A command that has ended, and what its processes recorded."""

    returncode: int
    seconds: float
    cpu_seconds: float  # user + system time of the command and everything it waited for
    timed_out: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)  # the pytest plugin's lines
    output: str = ""  # the tail of the captured output

    @property
    def exit_status(self) -> int:
        """As a shell reports it: 128 + N for a command killed by signal N."""
        return 128 - self.returncode if self.returncode < 0 else self.returncode


def make_boot(folder: Path, runtime: str) -> None:
    folder.mkdir(parents=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (folder / "covo_port").symlink_to(Path(covo_port.__file__).resolve().parent)
    if runtime == "emulate":
        (folder / "torch_npu").symlink_to(shim_path() / "torch_npu")


def environment(spec: Launch, boot: Path, records: Path, testlog: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(boot), env.get("PYTHONPATH")) if p)
    env.update({child.MODE: spec.runtime, child.BOOT: str(boot), child.DEVICE: spec.device,
                child.RECORDS: str(records), ROOT_VARIABLE: str(spec.root),
                TESTLOG: str(testlog)})
    options = [env.get("PYTEST_ADDOPTS", ""), "-p", PLUGIN]
    if spec.clean:
        options += ["-p", "no:cacheprovider"]
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTEST_ADDOPTS"] = " ".join(o for o in options if o)
    if spec.runtime == "none":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the plain run is a CPU run, on a GPU host too
    return env


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _read_lines(folder: Path) -> list[dict[str, Any]]:
    lines = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a killed process
            if isinstance(entry, dict):
                lines.append(entry)
    return lines


def run(command: list[str] | str, spec: Launch) -> Finished:
    """Run ``command`` (an argument list, or a shell command line) as ``spec`` says and wait
    for it; FileNotFoundError where the program does not exist."""
    with tempfile.TemporaryDirectory(prefix="covo-port-run-") as tmp:
        work = Path(tmp)
        boot, records, testlog = work / "boot", work / "records", work / "tests"
        make_boot(boot, spec.runtime)
        records.mkdir()
        testlog.mkdir()
        env = environment(spec, boot, records, testlog)
        output = open(work / "output.log", "w+b") if spec.capture else None  # noqa: SIM115
        cpu, started = _cpu_seconds(), time.perf_counter()
        timed_out = False
        try:
            proc = subprocess.Popen(command, cwd=spec.root, env=env,
                                    shell=isinstance(command, str), stdout=output,
                                    stderr=subprocess.STDOUT if output else None,
                                    start_new_session=spec.capture)
            try:
                returncode = proc.wait(spec.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                returncode, timed_out = proc.wait(), True
            except KeyboardInterrupt:
                if spec.capture:  # a session of its own: the interrupt did not reach it
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    raise
                returncode = proc.wait()  # on the same terminal, it was interrupted too
            finished = Finished(returncode, time.perf_counter() - started, _cpu_seconds() - cpu,
                                timed_out)
            if output is not None:
                output.seek(max(0, output.seek(0, os.SEEK_END) - 4 * OUTPUT_TAIL))
                finished.output = output.read().decode(errors="replace")[-OUTPUT_TAIL:]
        finally:
            if output is not None:
                output.close()
        finished.records = [r for p in sorted(records.glob("*.json")) if (r := read_json(p))]
        finished.tests = _read_lines(testlog)
        return finished
