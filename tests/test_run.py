"""`covo-port run` and `covo-port verify --tests`: any command, any project, under the NPU.

The end-to-end tests start real interpreters: a script whose own child is a Python process
too, and the project's fixture `examples/tiny_tagger` (a small CUDA project with its own pytest
suite), ported by apply and verified by its tests. The report's pieces (merging records,
judging operators by torch_npu's tables, combining pytest's phases) are tested on data.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.verify import launch, readiness, support
from covo_port.verify.profiles import tests as tests_profile

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
TAGGER = ROOT / "examples" / "tiny_tagger"


def covo_port(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command line, as a user runs it, in ``cwd``."""
    script = "import sys; from covo_port.cli import main; sys.exit(main())"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", script, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, check=False)


def line_of(path: Path, marker: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if marker in line)


# ---------------------------------------------------------------------------------------------
# covo-port run: a script and its child process
# ---------------------------------------------------------------------------------------------

SCRIPT = """\
import os, subprocess, sys
import torch

x = torch.randn(8, 8, device="npu")
y = (x @ x).relu()
total = y.sum().item()  # MARK-ITEM
exact = torch.linspace(0, 1, 5, dtype=torch.float64, device="npu").exp()  # MARK-F64
try:
    torch.var_mean(x)  # MARK-VAR
except RuntimeError as exc:
    print("refused:", type(exc).__name__)
try:
    x.cuda()  # MARK-CUDA
except RuntimeError as exc:
    print("cuda:", str(exc)[:40])
print("cuda available:", torch.cuda.is_available(), torch.cuda.device_count())
print("chained:", os.environ.get("OTHER_SITECUSTOMIZE"))
subprocess.run([sys.executable, "-c", "import torch; torch.ones(3, device='npu').neg()"],
               check=True)
sys.exit(3)
"""


@pytest.fixture(scope="module")
def script_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("run")
    (folder / "prog.py").write_text(SCRIPT)
    other = folder / "other-site"  # a sitecustomize of the environment's: still run
    other.mkdir()
    (other / "sitecustomize.py").write_text(
        "import os\nos.environ['OTHER_SITECUSTOMIZE'] = 'ran'\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(other)
    script = "import sys; from covo_port.cli import main; sys.exit(main())"
    proc = subprocess.run(
        [sys.executable, "-c", script, "run", "--emulate", "npu", "--json", "--report",
         "run.json", "--", sys.executable, "prog.py"], cwd=folder, env=env,
        capture_output=True, text=True, timeout=600, check=False)
    return {"proc": proc, "folder": folder,
            "report": json.loads((folder / "run.json").read_text())}


def test_run_passes_the_exit_status_and_the_output_through(script_run: dict[str, Any]) -> None:
    proc = script_run["proc"]
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "refused: UnsupportedOnNPU" in proc.stdout
    assert "cuda: Found no NVIDIA driver on your system" in proc.stdout
    assert "cuda available: False 0" in proc.stdout
    assert "chained: ran" in proc.stdout  # the environment's own sitecustomize ran too
    assert "1 refused, 1 failed CUDA call(s)" in proc.stderr
    assert script_run["report"]["exit_status"] == 3


def test_run_records_every_python_process_with_the_users_lines(
        script_run: dict[str, Any]) -> None:
    report, prog = script_run["report"], script_run["folder"] / "prog.py"
    assert len(report["processes"]) == 2  # the script and its child
    ops = {(o["op"], tuple(o["dtypes"]), o["api"]): o for o in report["operators"]}
    mm = ops[("aten::mm", ("float32",), "torch.Tensor.matmul")]
    assert mm["where"] == "prog.py:5" and mm["support"] == support.SUPPORTED
    assert ("aten::neg", ("float32",), "torch.Tensor.neg") in ops  # in the child process
    item = line_of(prog, "MARK-ITEM")
    assert {"kind": "item()", "count": 1, "where": f"prog.py:{item}", "tests": []} in \
        report["syncs"]
    f64 = line_of(prog, "MARK-F64")
    fallbacks = {(f["api"], f["dtype"], f["where"]) for f in report["dtype_fallbacks"]}
    assert ("torch.Tensor.exp", "float64", f"prog.py:{f64}") in fallbacks
    [refused] = report["unsupported"]
    assert (refused["api"], refused["where"]) == ("torch.var_mean",
                                                  f"prog.py:{line_of(prog, 'MARK-VAR')}")
    cuda = {(c["api"], c["where"], c["raised"]) for c in report["cuda_calls"]}
    assert ("a CUDA device (tensor or module moved to cuda)",
            f"prog.py:{line_of(prog, 'MARK-CUDA')}", True) in cuda
    assert ("torch.cuda.is_available", f"prog.py:{line_of(prog, 'is_available')}",
            False) in cuda


def test_run_markdown_report_and_errors(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("import torch\ntorch.zeros(2, device='npu').sum()\n")
    proc = covo_port("run", "--emulate", "npu", "--report", "r.md", "--", sys.executable,
                     "ok.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("# covo-port run: operator readiness\n\n**READY** for Ascend")
    assert "| aten::sum | float32 | torch.Tensor.sum | 1 | ok.py:2 | supported |" in md
    assert "no out-of-memory" in md  # what the emulation does not model

    missing = covo_port("run", "--emulate", "npu", "--", "no-such-program-here", cwd=tmp_path)
    assert missing.returncode == 127 and missing.stderr.count("\n") == 1
    assert "no-such-program-here" in missing.stderr
    both = covo_port("run", "--emulate", "npu", "--device", "npu:0", "--", "true",
                     cwd=tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr
    if importlib.util.find_spec("torch_npu") is None:
        real = covo_port("run", "--", "true", cwd=tmp_path)
        assert real.returncode == 2 and "covo-port run --emulate npu" in real.stderr


def test_real_device_recording_counts_the_device_operators(tmp_path: Path) -> None:
    """--device npu:N records through DeviceRecording; checked here on the CPU device type."""
    script = textwrap.dedent("""
        import json, torch
        from covo_port.verify.emulation import _record
        recorder = _record.Recorder("torch_npu", lambda func: None, None)
        _record.record_device(recorder, "cpu")
        torch.ones(3).add(1)
        print(json.dumps([(o["op"], o["dtypes"], o["where"]) for o in recorder.data()["ops"]]))
    """)
    (tmp_path / "dev.py").write_text(script)
    proc = subprocess.run([sys.executable, "dev.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=True)
    ops = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ["aten::add", ["float32"], "dev.py:6"] in ops


# ---------------------------------------------------------------------------------------------
# The report's pieces, on data
# ---------------------------------------------------------------------------------------------


def test_tables_judge_apis_and_dtypes() -> None:
    tables = support.tables()
    assert tables.lookup("torch.var_mean", "aten::var_mean", ["float32"]).status == \
        support.UNSUPPORTED
    silu = tables.lookup("torch.nn.functional.silu", "aten::silu", ["bfloat16"])
    assert (silu.status, silu.missing) == (support.DTYPE_NOT_LISTED, ("bfloat16",))
    assert tables.lookup("torch.Tensor.matmul", "aten::mm", ["float32"]).status == \
        support.SUPPORTED
    # an API the tables do not name: the operator's own torch names answer
    relu = tables.lookup("torch.Tensor.relu", "aten::relu", ["float32"])
    assert relu.api == "torch.nn.functional.relu"
    assert tables.lookup(None, "aten::no_such_op", []).status == support.NOT_IN_TABLES


def test_readiness_merges_the_records_of_every_process(tmp_path: Path) -> None:
    op = {"op": "aten::exp", "dtypes": ["float64"], "out": ["float64"],
          "api": "torch.Tensor.exp", "count": 2, "where": "a.py:3", "test": None}
    refusal = {"api": "torch.var_mean", "dtypes": [], "reason": "r", "hint": None,
               "where": "a.py:9", "test": "t::one", "count": 1}
    records = [{"pid": 1, "argv": ["a.py"], "ops": [op], "refusals": [refusal]},
               {"pid": 2, "argv": ["-c"], "ops": [{**op, "count": 3}],
                "refusals": [{**refusal, "test": "t::two"}],
                "syncs": [{"kind": "item()", "count": 4, "where": "b.py:1"}]}]
    finished = launch.Finished(0, 1.0, 0.5, records=records)
    report = readiness.build(["python", "a.py"], "emulate", "npu:0", finished, tmp_path)
    [exp] = report.operators
    assert exp.count == 5 and exp.support.status == support.DTYPE_NOT_LISTED
    [merged] = report.refusals
    assert merged["count"] == 2 and merged["tests"] == ["t::one", "t::two"]
    assert report.fallbacks() == [{"api": "torch.Tensor.exp", "op": "aten::exp",
                                   "dtype": "float64", "table": "not listed", "count": 5,
                                   "where": "a.py:3"}]
    md = readiness.render_markdown(report)
    assert "**NOT READY** for Ascend" in md and "| item() | 4 | b.py:1 |" in md
    assert report.out is None and "Findings" not in md  # not run inside an OUT


def test_pytest_phases_combine_into_one_outcome_per_test(tmp_path: Path) -> None:
    def line(nodeid: str, when: str, outcome: str, **extra: Any) -> dict[str, Any]:
        return {"nodeid": nodeid, "when": when, "outcome": outcome, "xfail": False,
                "message": None, "where": None, "seconds": 0.1, **extra}

    failing = line("t::b", "call", "failed", message="boom",
                   where=f"{tmp_path / 'pkg' / 'm.py'}:7")
    lines = [line("t::a", "setup", "passed"), line("t::a", "call", "passed"),
             line("t::a", "teardown", "passed"),
             line("t::b", "setup", "passed"), failing, failing,  # xdist: reported twice
             line("t::c", "setup", "skipped", message="no GPU"),
             line("t::d", "setup", "failed", message="fixture"),
             line("t::e", "call", "skipped", xfail=True),
             line("t/m.py", "collect", "failed", message="ImportError")]
    found = tests_profile.outcomes(lines, tmp_path)
    assert {k: v.outcome for k, v in found.items()} == {
        "t::a": "passed", "t::b": "failed", "t::c": "skipped", "t::d": "error",
        "t::e": "xfailed", "t/m.py": "error"}
    assert (found["t::b"].message, found["t::b"].where) == ("boom", "pkg/m.py:7")


# ---------------------------------------------------------------------------------------------
# covo-port verify --tests on the fixture project
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tagger_verify(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("tagger")
    out = folder / "ported"
    code = CliRunner().invoke(main, ["apply", str(TAGGER), "--out", str(out), "--no-patches"])
    assert code.exit_code == 0, code.output
    proc = covo_port("verify", "ported", "--emulate", "npu", "--tests",
                     f"{sys.executable} -m pytest -q", "--json", "--report", "r.md",
                     cwd=folder)
    return {"proc": proc, "out": out, "data": json.loads(proc.stdout),
            "md": (folder / "r.md").read_text()}


@pytest.mark.slow
def test_verify_tests_finds_the_two_regressions_with_their_causes(
        tagger_verify: dict[str, Any]) -> None:
    data = tagger_verify["data"]
    assert tagger_verify["proc"].returncode == 1
    assert [s["status"] for s in data["stages"]] == ["pass", "pass", "fail"]
    assert data["source_run"]["origin"].startswith("OUT's pristine commit")
    assert data["passed_on_both"] == 4
    by_test = {r["test"]: r for r in data["regressions"]}
    assert set(by_test) == {
        "tests/test_features.py::test_standardise_gives_zero_mean_unit_variance",
        "tests/test_model.py::test_to_accelerator_keeps_the_values"}
    ported = tagger_verify["out"] / "tagger"  # the lines are OUT's
    features, device = ported / "features.py", ported / "device.py"
    [unsupported] = by_test[
        "tests/test_features.py::test_standardise_gives_zero_mean_unit_variance"]["causes"]
    assert unsupported == {"kind": "unsupported operator", "what": "torch.var_mean",
                           "where": f"tagger/features.py:{line_of(features, 'var_mean(')}"}
    [cuda] = by_test["tests/test_model.py::test_to_accelerator_keeps_the_values"]["causes"]
    assert cuda["kind"] == "CUDA call on an Ascend host"
    assert cuda["where"] == f"tagger/device.py:{line_of(device, 'batch.to(BACKEND')}"
    assert all(r["explained"] for r in data["regressions"])
    # skipped without CUDA on the source: listed, not counted; it runs on the NPU
    assert data["not_on_source"] == [{
        "test": "tests/test_gpu_only.py::test_mixed_precision_forward", "source": "skipped",
        "reason": "Skipped: needs a GPU", "port": "passed"}]


@pytest.mark.slow
def test_verify_tests_report_and_clean_trees(tagger_verify: dict[str, Any]) -> None:
    data, md, out = tagger_verify["data"], tagger_verify["md"], tagger_verify["out"]
    ready = data["readiness"]
    assert ready["out"] == str(out)  # run inside an OUT: apply's open findings are in it
    assert {(f["rule"], f["path"]) for f in ready["findings"]} >= {
        ("NPU001", "tagger/device.py"), ("NPU017", "tagger/features.py")}
    assert any(o["op"] == "aten::_fft_r2c" for o in ready["operators"])
    assert any(s["kind"] == "item()" for s in ready["syncs"])
    assert "## Regressions: pass on the source (CPU), not on OUT (NPU)" in md
    assert "| tests/test_gpu_only.py::test_mixed_precision_forward | skipped |" in md
    assert "### Refused: what Ascend cannot run" in md
    status = subprocess.run(["git", "-C", str(out), "status", "--porcelain"],
                            capture_output=True, text=True, check=True)
    assert status.stdout == ""  # no bytecode, no pytest cache in OUT
    assert not list(TAGGER.rglob("__pycache__")) and not list(TAGGER.rglob(".pytest_cache"))


def test_verify_tests_runs_a_command_without_pytest_as_one_test(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "check.py").write_text(
        "import torch\nassert torch.ones(2, device='cuda' if torch.cuda.is_available() "
        "else 'cpu').sum().item() == 2\n")
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["apply", str(src), "--out", str(out),
                                     "--no-patches"]).exit_code == 0
    proc = covo_port("verify", str(out), "--emulate", "npu", "--tests",
                     f"{sys.executable} check.py", "--json", cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert proc.returncode == 0, data["stages"]
    assert list(data["port_run"]["outcomes"]) == [tests_profile.WHOLE_COMMAND]
    assert data["passed_on_both"] == 1
    assert data["readiness"]["operators"]  # the check ran on the emulated NPU


def test_verify_tests_fails_where_nothing_passed_on_the_source(tmp_path: Path) -> None:
    """A command that runs no test there (a Python without pytest, a wrong path) proves
    nothing: the verification fails and says why, never a PASS with nothing compared."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["apply", str(tmp_path / "src"), "--out", str(out),
                                     "--no-patches"]).exit_code == 0
    proc = covo_port("verify", str(out), "--emulate", "npu", "--tests",
                     f"{sys.executable} -c 'raise SystemExit(4)'", "--json", cwd=tmp_path)
    data = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [s["status"] for s in data["stages"]] == ["fail", "pass", "fail"]
    assert "the command failed on the source on the CPU (exit status 4)" in \
        data["stages"][0]["error"]
    assert "nothing was compared" in data["stages"][2]["error"]


def test_verify_tests_refuses_covo_audio_options(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    assert CliRunner().invoke(main, ["apply", str(tmp_path / "src"), "--out", str(out),
                                     "--no-patches"]).exit_code == 0
    result = CliRunner().invoke(main, ["verify", str(out), "--emulate", "npu", "--tests",
                                       "pytest", "--mode", "a2ta"])
    assert result.exit_code == 2 and "--mode: options of the Covo-Audio profile" in \
        result.stderr
