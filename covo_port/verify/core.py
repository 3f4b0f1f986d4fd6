"""What every verification profile shares: stage results, the verification they add up to,
one-stage guards, and the runner that starts a profile's actions in fresh interpreters.

A profile (:mod:`covo_port.verify.profiles`) is a sequence of stages. Each stage ends as a
:class:`StageResult`, pass or fail with its figures and, on failure, the message of what went
wrong; nothing a stage meets stops the others (:func:`guarded`).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from covo_port.model import Finding
from covo_port.pipeline.manifest import Manifest

#: How the code under test reaches the ``npu`` device: the CPU emulation, a real Ascend device
#: through torch_npu, or no device at all (plain CPU code, e.g. the unported source tree).
RUNTIMES = ("emulate", "torch_npu", "none")
POLL_SECONDS = 0.5  # how often a watched action's result is read


@dataclass
class StageResult:
    number: int
    name: str
    title: str
    status: str = "fail"  # pass, fail
    seconds: float = 0.0
    summary: str = ""
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def fail(self, error: str) -> StageResult:
        self.status, self.error = "fail", error
        return self


@dataclass
class Verification:
    """A profile's run over OUT: its stages as they ended."""

    options: Any  # the profile's options (a frozen dataclass with at least ``out``)
    manifest: Manifest
    started: str
    stages: list[StageResult] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # the whole run, wall clock
    expected_stages: int = 0  # how many stages the profile has

    @property
    def passed(self) -> bool:
        return len(self.stages) == self.expected_stages and all(s.passed for s in self.stages)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def findings(self) -> list[Finding]:
        """What apply reported for a human (from OUT's manifest)."""
        return list(self.manifest.findings)


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())


def new_stage(table: tuple[tuple[int, str, str], ...], number: int) -> StageResult:
    """A failed-until-proven stage ``number`` of a profile's stage ``table``."""
    _, name, title = table[number - 1]
    return StageResult(number, name, title)


def guarded(table: tuple[tuple[int, str, str], ...], number: int,
            func: Callable[[], StageResult]) -> StageResult:
    """Run one stage; an unexpected exception becomes the stage's failure, with its message."""
    started = time.perf_counter()
    try:
        stage = func()
    except Exception as exc:
        stage = new_stage(table, number).fail(f"{type(exc).__name__}: {exc}")
    stage.seconds = stage.seconds or time.perf_counter() - started
    return stage


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; {} when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class Runner:
    """Starts ``python -m MODULE ACTION --result FILE --runtime R ...`` and reads the JSON
    result the action writes (again after every step, so a run cut short says how far it got).

    For the ``emulate`` runtime the emulated ``torch_npu`` goes first on ``PYTHONPATH``.
    """

    def __init__(self, work: Path, module: str) -> None:
        self.work = work
        self.module = module
        self.count = itertools.count(1)  # result file names; next() is atomic across threads

    def run(self, action: str, args: list[str], *, cwd: Path, runtime: str,
            limit: float, watch: Callable[[dict[str, Any]], None] | None = None
            ) -> tuple[dict[str, Any], str | None]:
        """The action's result and, if it failed, one line saying why. ``watch`` is told of the
        result each time its step changes while the action runs (read every
        :data:`POLL_SECONDS`)."""
        result = self.work / f"{next(self.count):02d}-{action}.json"
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        if runtime == "emulate":
            from covo_port.verify import emulation

            paths = [str(emulation.shim_path()), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        cmd = [sys.executable, "-m", self.module, action, "--result", str(result),
               "--runtime", runtime, *args]
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + limit
        step = None
        while True:
            wait = max(0.0, deadline - time.monotonic())
            try:
                _, stderr = proc.communicate(timeout=min(wait, POLL_SECONDS) if watch else wait)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    proc.kill()
                    proc.communicate()
                    data = read_json(result)
                    return data, (f"time limit of {limit:.0f} s reached during: "
                                  f"{data.get('step', 'start')}")
                if watch is not None:
                    data = read_json(result)
                    if data.get("step") != step:
                        step = data.get("step")
                        watch(data)
        data = read_json(result)
        if data.get("error"):
            return data, str(data["error"])
        if proc.returncode != 0:
            tail = [line for line in stderr.splitlines() if line.strip()][-1:]
            return data, f"runner exited with status {proc.returncode}" + (
                f": {tail[0].strip()}" if tail else "")
        return data, None
