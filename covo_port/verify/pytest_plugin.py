"""A pytest plugin that ``covo-port run`` and ``verify --tests`` load in the test processes they
start (``PYTEST_ADDOPTS=-p covo_port.verify.pytest_plugin``).

It tells the recorder which test is running, so that a refusal or a CUDA call is attributed to
its test, and (with ``$COVO_PORT_TESTLOG`` set) writes one JSON line per test phase into
``$COVO_PORT_TESTLOG/<pid>.jsonl``: node id, phase, outcome, and for a failure or a skip the
message and the ``path:line`` where it was raised. It changes nothing of pytest's own behaviour
or output.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

TESTLOG = "COVO_PORT_TESTLOG"
BOOT = "COVO_PORT_RUN_BOOT"  # covo_port.verify.child.BOOT (not imported: the plugin stays light)
_RECORD = "covo_port.verify.emulation._record"
MESSAGE_LIMIT = 2000


def _recorder() -> Any:
    module = sys.modules.get(_RECORD)  # loaded only where the emulation or recorder runs
    return getattr(module, "active", None)


def _write(entry: dict[str, Any]) -> None:
    folder = os.environ.get(TESTLOG)
    if not folder:
        return
    with open(os.path.join(folder, f"{os.getpid()}.jsonl"), "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def _crash(report: Any) -> tuple[str | None, str | None]:
    """The failure's (or skip's) message and where it was raised."""
    longrepr = report.longrepr
    if longrepr is None:
        return None, None
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        return str(longrepr[2]), f"{longrepr[0]}:{longrepr[1]}"
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:MESSAGE_LIMIT], _where(longrepr, crash)
    lines = [line for line in str(longrepr).splitlines() if line.strip()]
    return (lines[-1][:MESSAGE_LIMIT] if lines else None), None


def _where(longrepr: Any, crash: Any) -> str:
    """Where the failure was raised: the innermost frame that is not covo-port's own machinery
    (the emulation raises on behalf of the line that called it)."""
    boot = os.environ.get(BOOT)
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", [])
    for entry in reversed(entries):
        location = getattr(entry, "reprfileloc", None)
        if location is None:
            continue
        if not boot or not os.path.abspath(str(location.path)).startswith(boot + os.sep):
            return f"{location.path}:{location.lineno}"
    return f"{crash.path}:{crash.lineno}"


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    recorder = _recorder()
    if recorder is not None:
        recorder.test = nodeid


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    recorder = _recorder()
    if recorder is not None:
        recorder.test = None


def pytest_runtest_logreport(report: Any) -> None:
    message, where = _crash(report) if report.outcome != "passed" else (None, None)
    _write({"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
            "xfail": hasattr(report, "wasxfail"), "message": message, "where": where,
            "seconds": round(float(getattr(report, "duration", 0.0)), 4)})


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        message, where = _crash(report)
        _write({"nodeid": report.nodeid, "when": "collect", "outcome": "failed",
                "xfail": False, "message": message, "where": where, "seconds": 0.0})
