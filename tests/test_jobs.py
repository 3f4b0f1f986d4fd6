"""`apply -j N`: the per-file rewrite in worker processes gives exactly what one process gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.pipeline import parallel
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.parallel import WorkerDied, map_ordered
from covo_port.pipeline.walk import walk

from .helpers import alive, write_busy_tree

ROOT = Path(__file__).resolve().parents[1]

FILES = {
    "train.py": 'import torch\nmodel = model.to("cuda:0")\nx = torch.randn(3).cuda()\n',
    "dist.py": 'import torch.distributed as dist\ndist.init_process_group("nccl")\n',
    "spec.py": "import torch\ns = torch.stft(x, 400, return_complex=True).abs()\n",
    "broken.py": "import torch\ndevice = 'cuda'\ndef f(:\n    pass\n",
    "plain.py": "print('nothing to port here')\n",
    "quiet.py": "import torch\ny = torch.zeros(1).cuda()  # covo-port: ignore[NPU001]\n",
    "pkg/__init__.py": "",
    "pkg/amp.py": "from torch.cuda.amp import autocast\nwith autocast():\n    pass\n",
    "run.sh": "#!/bin/bash\nCUDA_VISIBLE_DEVICES=0 python train.py\n",
    "notes.txt": "cuda:0 in prose\n",
}


def make_tree(root: Path) -> Path:
    src = root / "src"
    for rel, text in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (src / "data.bin").write_bytes(b"\x00cuda\x00")
    (src / "link.py").symlink_to("train.py")
    return src


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def git_log(out: Path) -> str:
    return subprocess.run(["git", "-C", str(out), "log", "--format=%H %T %s"], check=True,
                          capture_output=True, text=True).stdout


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make even a tiny tree use worker processes, one file per task; lists the pools started."""
    started: list[int] = []

    class Spy(ProcessPoolExecutor):
        def __init__(self, workers: int, **kwargs: Any) -> None:
            started.append(workers)
            super().__init__(workers, **kwargs)

    monkeypatch.setattr(parallel, "POOL_MIN_WORK", 0)
    monkeypatch.setattr(parallel, "CHUNK", 1)
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", Spy)
    return started


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_two_jobs_give_the_same_out_manifest_and_report(
        tmp_path: Path, pool: list[int]) -> None:
    src = make_tree(tmp_path)
    outs, reports = [], []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        code, stdout, _ = run("apply", str(src), "--out", str(out), "--no-patches", "--json",
                              "-j", jobs)
        assert code == 1  # broken.py cannot be parsed: an error finding
        outs.append(out)
        report = json.loads(stdout)
        assert report.pop("output") == str(out)
        reports.append(report)
    assert pool == [2], "-j 1 must not start a pool, -j 2 must"
    one, two = outs
    assert tree_bytes(one) == tree_bytes(two)
    assert git_log(one) == git_log(two)
    assert (one / ".covo-port" / "manifest.json").read_bytes() == (
        two / ".covo-port" / "manifest.json").read_bytes()
    assert reports[0] == reports[1]
    manifest = Manifest.read(two)
    assert [f.path for f in manifest.files] == [e.rel for e in walk(src) if e.kind != "dir"]
    assert [(s.rule, s.path) for s in manifest.suppressed] == [("NPU001", "quiet.py")]
    changed = {f.path for f in manifest.files if f.status == "changed"}
    assert {"train.py", "dist.py", "pkg/amp.py", "run.sh"} <= changed


def test_a_parse_error_in_a_worker_is_reported_as_in_one_process(
        tmp_path: Path, pool: list[int]) -> None:
    src = make_tree(tmp_path)
    findings = []
    for jobs in ("1", "2"):
        code, stdout, _ = run("apply", str(src), "--check", "--json", "-j", jobs)
        assert code == 1
        findings.append([f for f in json.loads(stdout)["findings"] if f["path"] == "broken.py"])
    assert pool == [2]
    assert findings[0] == findings[1]
    (finding,) = findings[1]
    assert finding["rule"] == "NPU000" and finding["severity"] == "error"
    assert finding["line"] == 3 and "cannot parse" in finding["message"]


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_jobs_below_one_are_refused_in_one_line(tmp_path: Path, jobs: str) -> None:
    src = make_tree(tmp_path)
    code, _, stderr = run("apply", str(src), "--out", str(tmp_path / "out"), "--jobs", jobs)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and f"--jobs {jobs}:" in stderr
    assert not (tmp_path / "out").exists()


# -- the pool itself -----------------------------------------------------------------------------
def slow_square(delay: float, n: int) -> int:
    time.sleep(delay * (n % 3))  # later items often finish first
    return n * n


def fail_on(bad: int, n: int) -> int:
    if n == bad:
        raise ValueError(f"item {n} is bad")
    return n


def die_on(bad: int, n: int) -> int:
    if n == bad:
        os._exit(3)  # a crash or a kill: no exception comes back
    return n


def slow_first_die_on(bad: int, n: int) -> int:
    if n == 0:
        time.sleep(3)  # the first task is still running when a later one's worker dies
    return die_on(bad, n)


def test_results_come_in_the_order_of_the_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK", 2)
    items = list(range(20))
    got = list(map_ordered(slow_square, (0.02,), items, 3, parallel.POOL_MIN_WORK))
    assert got == [(n, n * n) for n in items]


def test_an_exception_in_a_worker_propagates_as_in_one_process() -> None:
    for jobs in (1, 2):
        with pytest.raises(ValueError, match="item 13 is bad"):
            list(map_ordered(fail_on, (13,), list(range(40)), jobs, parallel.POOL_MIN_WORK))


def test_a_worker_that_dies_names_the_items_of_its_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK", 4)
    with pytest.raises(WorkerDied) as caught:
        list(map_ordered(die_on, (9,), list(range(16)), 2, parallel.POOL_MIN_WORK))
    assert 9 in caught.value.items
    # a later task's worker dies while an earlier task still runs: that task is named too,
    # never only the earlier one whose result the caller was waiting for
    with pytest.raises(WorkerDied) as caught:
        list(map_ordered(slow_first_die_on, (9,), list(range(16)), 2, parallel.POOL_MIN_WORK))
    assert 9 in caught.value.items and len(caught.value.items) <= 2 * 4


def test_little_work_runs_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", None)  # any use would fail
    assert list(map_ordered(fail_on, (-1,), [1, 2], 8, parallel.POOL_MIN_WORK - 1)) == [
        (1, 1), (2, 2)]


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs /proc/PID/task/TID/children (Linux)")
def test_sigterm_stops_the_workers_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_busy_tree(src)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "covo_port", "apply", str(src), "--out",
                             str(out), "--no-patches", "-j", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers = _children(proc.pid)
            time.sleep(0.1)
        assert len(workers) >= 2, "the workers did not start"
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert b"interrupted; nothing was written" in stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(w) for w in workers), "a worker outlived the run"
