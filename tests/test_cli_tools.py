"""The command line as the tools people already use have taught them: a dry-run diff, rules
selected with commas or names, progress in CI logs, a command list that is not cut short,
one-line errors that start on the first line, no tool-branded comments on request."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from covo_port.cli import COMMANDS, main
from covo_port.registry import all_rules
from covo_port.report import progress
from covo_port.report.progress import LineProgress

README = Path(__file__).resolve().parents[1] / "README.md"
ENTRY = 'import torch\nmodel = build().to("cuda:0")\nx = y.cuda()\n'
CAPABILITY = ("import torch\n"
              "if torch.cuda.get_device_capability()[0] >= 8:\n"
              "    dtype = torch.bfloat16\n"
              "else:\n"
              "    dtype = torch.float16\n")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "entry.py").write_text(ENTRY)
    (src / "run.sh").write_text("CUDA_VISIBLE_DEVICES=1 python entry.py\n")
    (src / "clean.py").write_text("x = 1\n")
    return src


def test_diff_prints_a_patch_and_writes_nothing(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = invoke("apply", str(src), "--out", str(out), "--diff")
    assert code == 1, "something would change"
    assert not out.exists() and not (tmp_path / "patches").exists()
    assert stdout.startswith("--- a/entry.py\n+++ b/entry.py\n")
    assert "+import torch_npu\n" in stdout and '-model = build().to("cuda:0")' in stdout
    assert "check: 2 file(s) would change" in stderr, "the report goes to stderr"
    # the diff is the one apply makes: git applies it to a copy of SRC
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    subprocess.run(["git", "apply", "-p1", "-"], input=stdout, text=True, cwd=copy, check=True)
    invoke("apply", str(src), "--out", str(out), "--no-patches")
    for name in ("entry.py", "run.sh", "clean.py"):
        assert (copy / name).read_bytes() == (out / name).read_bytes()


def test_diff_of_a_clean_tree_is_empty(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    code, stdout, _ = invoke("apply", str(tmp_path / "src"), "--diff")
    assert (code, stdout) == (0, "")
    code, _, stderr = invoke("apply", str(tmp_path / "src"), "--diff", "--format", "sarif")
    assert code == 2 and "--diff prints a diff" in stderr


def rules_run(src: Path, *args: str) -> dict[str, int]:
    code, stdout, _ = invoke("apply", str(src), "--check", "--json", *args)
    assert code == 1
    return json.loads(stdout)["summary"]["changes_per_rule"]


def test_select_takes_commas_and_names_and_ignore_drops_rules(src: Path) -> None:
    assert set(rules_run(src, "--select", "NPU001,cuda-visible-devices")) == {"NPU001", "NPU002"}
    assert set(rules_run(src, "--select", "npu001", "--select", "NPU002")) == {"NPU001",
                                                                             "NPU002"}
    everything = rules_run(src)
    assert {"NPU001", "NPU002", "NPU009"} <= set(everything)
    assert set(rules_run(src, "--ignore", "NPU002,import-torch-npu")) == {"NPU001"}
    code, stdout, stderr = invoke("apply", str(src), "--check", "--ignore", "NPU001,bogus")
    assert code == 2 and not stdout
    assert stderr.startswith("covo-port: error: --ignore bogus: unknown rule 'bogus'")


def test_no_comments_leaves_out_the_tool_branded_comment(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "m.py").write_text(CAPABILITY)
    invoke("apply", str(src), "--out", str(tmp_path / "with"), "--no-patches")
    invoke("apply", str(src), "--out", str(tmp_path / "without"), "--no-patches",
           "--no-comments")
    with_comment = (tmp_path / "with" / "m.py").read_text()
    note = next(line for line in with_comment.splitlines(keepends=True)
                if line.startswith("# covo-port NPU006: "))
    without = (tmp_path / "without" / "m.py").read_text()
    assert without == with_comment.replace(note, "")
    assert "dtype = torch.float16\n" in without and "covo-port" not in without


def test_progress_lines_where_no_bar_can_be_drawn(monkeypatch: pytest.MonkeyPatch, src: Path,
                                                  tmp_path: Path) -> None:
    code, _, stderr = invoke("apply", str(src), "--out", str(tmp_path / "out"), "--no-patches")
    assert (code, stderr) == (0, ""), "a run shorter than the interval prints nothing"
    monkeypatch.setattr(progress, "INTERVAL", 0.0)  # a line after every file
    code, _, stderr = invoke("apply", str(src), "--out", str(tmp_path / "o2"), "--no-patches")
    lines = stderr.splitlines()
    assert code == 0 and len(lines) == 3
    assert re.fullmatch(r"covo-port: rewriting: 1/3 files \(33%\), \d+\.\d files/s.*", lines[0])
    assert re.fullmatch(r"covo-port: rewriting: 2/3 files \(67%\), .*", lines[1])
    assert re.fullmatch(r"covo-port: rewriting: 3/3 files in \d+\.\d s( \(.* files/s\))?",
                        lines[2])
    # FORCE_COLOR makes rich take a CI log for a terminal: still lines, no live bar
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, _, stderr = invoke("apply", str(src), "--check")
    assert re.search(r"^covo-port: checking: 1/3 files \(33%\), ", stderr, re.M)


def test_progress_line_every_interval() -> None:
    now = [100.0]
    buffer = io.StringIO()
    lines = LineProgress(Console(file=buffer, width=60), "rewriting", interval=5.0,
                         clock=lambda: now[0])
    lines.start(2800)
    for n in range(1, 2801):
        now[0] += 0.01  # 100 files/s
        lines.step(f"f{n}.py")
    lines.finish()
    text = buffer.getvalue().splitlines()
    assert text[0] == ("covo-port: rewriting: 500/2,800 files (18%), 100.0 files/s, about 23 s "
                       "left")
    assert len(text) == 5 + 1, "one line every 5 s of a 28 s run, and the last"
    assert text[-1] == "covo-port: rewriting: 2,800/2,800 files in 28.0 s (100.0 files/s)"


def test_check_is_quiet_on_stderr(src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(src)
    code, _, stderr = invoke("check", "clean.py")
    assert (code, stderr) == (0, ""), "pre-commit shows a hook's output: nothing to say"


def test_command_list_is_not_cut_short() -> None:
    code, stdout, _ = invoke("--help")
    commands = stdout.split("Commands:\n", 1)[1]
    assert code == 0 and "..." not in commands
    for name, (_, line) in COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(line)}$", stdout, re.M), name
        assert len(f"  {name}   {line}") <= 80


def test_errors_start_on_the_first_line(tmp_path: Path) -> None:
    for args in (["apply", str(tmp_path / "missing")], ["check", str(tmp_path / "missing")],
                 ["apply", str(tmp_path), "--device-map", "cuda1=npu0"]):
        code, stdout, stderr = invoke(*args)
        assert code == 2 and not stdout
        assert stderr.startswith("covo-port: error: ") and stderr.count("\n") == 1


def test_rules_json_documentation_is_clean() -> None:
    code, stdout, _ = invoke("rules", "--json")
    assert code == 0
    data = {r["id"]: r for r in json.loads(stdout)}
    for rule in all_rules():
        entry = data[rule.id]
        assert entry["rationale"] == entry["docs"]["Why it breaks on Ascend"]
        for title, text in entry["docs"].items():
            assert text == text.strip()
            prose = re.sub(r"```.*?```", "", text, flags=re.S)  # code keeps its indentation
            indented = [line for line in prose.splitlines() if line[:1].isspace()]
            assert not indented, f"{rule.id} {title}: {indented[0]!r}"


def test_verify_names_the_readme_install_command(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    import covo_port.cli.verify as verify_cli

    out = tmp_path / "out"
    (tmp_path / "src").mkdir()
    invoke("apply", str(tmp_path / "src"), "--out", str(out), "--no-patches")
    monkeypatch.setattr(verify_cli, "VERIFY_NEEDS", ("covo_port_no_such_module",))
    code, _, stderr = invoke("verify", str(out), "--emulate", "npu")
    assert code == 2
    command = re.search(r"\((\.venv/bin/pip install [^)]*)\)", stderr)
    assert command, stderr
    assert command.group(1) in README.read_text()
