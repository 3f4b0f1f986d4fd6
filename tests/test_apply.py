"""`apply`, `diff`, `rules` end to end on a small tree of the project's own."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import libcst as cst
import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.pipeline.manifest import Manifest

ENTRY = '''"""Entry point."""
import os
import torch  # framework

DEVICE = "cuda:0"


def main(args):
    model = build().to("cuda:0")   # keep this comment
    decoder = load(args, decode_device="cuda:1")
    print("cuda is optional")
    return model, decoder
'''

LIB = '''import torch


def helper(x):
    return x * 2
'''

SHELL = '''#!/bin/bash
# run on two GPUs
CUDA_VISIBLE_DEVICES=0,1 python entry.py "$@"
'''


def make_tree(root: Path) -> Path:
    src = root / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "entry.py").write_text(ENTRY)
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "lib.py").write_text(LIB)
    (src / "run.sh").write_text(SHELL)
    os.chmod(src / "run.sh", 0o755)
    (src / "data.bin").write_bytes(b"\x00\x01cuda:0\x00")
    (src / "notes.txt").write_text('use "cuda:0" here\n')
    (src / "empty_dir").mkdir()
    return src


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def run_stdout(*args: str) -> tuple[int, str]:
    """(exit code, stdout alone: without the progress lines on stderr)."""
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_tree(tmp_path)


def test_apply_rewrites_a_copy_and_never_touches_the_source(src: Path, tmp_path: Path) -> None:
    before = snapshot(src)
    out = tmp_path / "out"
    code, _ = run("apply", str(src), "--target", "npu", "--out", str(out))
    assert code == 0
    assert snapshot(src) == before

    entry = (out / "entry.py").read_text()
    assert 'DEVICE = "npu:0"' in entry
    assert 'build().to("npu:0")   # keep this comment' in entry
    assert 'decode_device="npu:1"' in entry
    assert 'print("cuda is optional")' in entry
    assert entry.count("import torch_npu\n") == 1
    assert "import torch  # framework\nimport torch_npu\n" in entry
    cst.parse_module(entry)
    assert (out / "run.sh").read_text().splitlines()[2].startswith("ASCEND_RT_VISIBLE_DEVICES=0,1")

    # untouched files are byte-identical; modes and empty folders kept
    for name in ("pkg/lib.py", "pkg/__init__.py", "data.bin", "notes.txt"):
        assert (out / name).read_bytes() == (src / name).read_bytes()
    assert stat.S_IMODE((out / "run.sh").stat().st_mode) == 0o755
    assert (out / "empty_dir").is_dir()
    assert not list(tmp_path.glob(".out.covo-port-*")), "temporary folder left behind"


def test_manifest_records_every_change(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("apply", str(src), "--out", str(out))
    manifest = Manifest.read(out)
    assert manifest.target == "npu"
    assert manifest.source == str(src.resolve())
    files = {f.path: f for f in manifest.files}
    assert files["entry.py"].status == "changed"
    assert files["entry.py"].rules == ["NPU001", "NPU009"]
    assert files["pkg/lib.py"].status == "unchanged"
    assert files["data.bin"].kind == "binary"
    change = next(c for c in manifest.changes if c.before == '"cuda:0"' and c.line == 9)
    assert (change.rule, change.path, change.after) == ("NPU001", "entry.py", '"npu:0"')
    assert change.column == len('    model = build().to(') + 1
    assert {c.rule for c in manifest.changes} == {"NPU001", "NPU002", "NPU009"}


def test_apply_is_idempotent_and_check_reports_pending(src: Path, tmp_path: Path) -> None:
    code, _ = run("apply", str(src), "--check")
    assert code == 1
    out = tmp_path / "out"
    run("apply", str(src), "--out", str(out))
    code, output = run("apply", str(out), "--check")
    assert code == 0, output
    out2 = tmp_path / "out2"
    run("apply", str(out), "--out", str(out2))

    def tree(root: Path) -> dict[str, bytes]:  # OUT's history and manifest name their own SRC
        return {k: v for k, v in snapshot(root).items()
                if not k.startswith((".covo-port", ".git/"))}

    assert tree(out2) == tree(out)


def test_check_writes_nothing(src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run("apply", str(src), "--check")
    assert code == 1
    assert "would change" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_diff_shows_exactly_the_edits(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("apply", str(src), "--out", str(out))
    code, text = run("diff", str(out), "--no-color")
    assert code == 0
    removed = [line for line in text.splitlines() if line.startswith("-") and
               not line.startswith("---")]
    added = [line for line in text.splitlines() if line.startswith("+") and
             not line.startswith("+++")]
    assert removed == [
        '-DEVICE = "cuda:0"',
        '-    model = build().to("cuda:0")   # keep this comment',
        '-    decoder = load(args, decode_device="cuda:1")',
        "-CUDA_VISIBLE_DEVICES=0,1 python entry.py \"$@\"",
    ]
    assert added[0] == "+import torch_npu"
    assert len(added) == 5
    assert "--- a/entry.py" in text and "+++ b/run.sh" in text

    code, text = run("diff", str(out), "--stat")
    assert code == 0
    assert "entry.py" in text and "NPU001×3" in text and "NPU002" in text


def test_diff_defaults_to_apply_output(src: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("apply", str(src))[0] == 0
    assert (tmp_path / "ported" / "npu" / "entry.py").exists()
    code, text = run("diff", "--no-color")
    assert code == 0 and "+++ b/entry.py" in text


def test_existing_output_needs_force(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("apply", str(src), "--out", str(out))[0] == 0
    (out / "stale.txt").write_text("from an earlier port")
    code, output = run("apply", str(src), "--out", str(out))
    assert code == 2 and "--force" in output
    code, _ = run("apply", str(src), "--out", str(out), "--force")
    assert code == 0  # an earlier output of apply is replaced whole
    assert not (out / "stale.txt").exists() and (out / "entry.py").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("apply", str(src), "--out", str(empty), "--force")[0] == 0


def test_force_never_replaces_a_folder_covo_port_did_not_write(
        src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    monkeypatch.chdir(mine)
    for out in (".", str(mine)):
        code, output = run("apply", str(src), "--out", out, "--force")
        assert code == 2 and "covo-port did not write" in output
        assert len(output.strip().splitlines()) == 1
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert (mine / "thesis.tex").read_text() == "years of work"


def test_unparsable_file_is_copied_and_reported(src: Path, tmp_path: Path) -> None:
    (src / "broken.py").write_text('x = "cuda:0"\ndef f(:\n    pass\n')
    out = tmp_path / "out"
    code, _ = run("apply", str(src), "--out", str(out))
    assert code == 1
    assert (out / "broken.py").read_bytes() == (src / "broken.py").read_bytes()
    assert (out / "entry.py").read_text().count("npu:0") == 2, "the run goes on"
    finding = next(f for f in Manifest.read(out).findings if f.path == "broken.py")
    assert finding.rule == "NPU000" and finding.severity.value == "error"
    assert finding.line == 2
    assert "cannot parse: SyntaxError" in finding.message


def test_json_report(src: Path, tmp_path: Path) -> None:
    code, output = run_stdout("apply", str(src), "--out", str(tmp_path / "out"), "--json")
    assert code == 0
    data = json.loads(output)
    assert data["summary"]["changed"] == 2
    assert data["summary"]["changes_per_rule"] == {"NPU001": 3, "NPU002": 1, "NPU009": 1}
    assert data["exit_code"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["apply", "{src}", "--device-map", "cuda:x=npu:0"], "left side 'cuda:x' is not a device"),
        (["apply", "{src}", "--device-map", "cuda1=npu0"], "left side 'cuda1' is not a device"),
        (["apply", "{src}", "--device-map", "cuda:1=npu0"], "right side 'npu0' is not a device"),
        (["apply", "{src}", "--device-map", "cuda:1"], "expected SRC=DST"),
        (["apply", "{src}", "--device-map", "npu:1=cuda:0"], "left side must be cuda:N"),
        (["apply", "{src}", "--optimize", "warp"], "unknown"),
        (["apply", "{src}", "--select", "NPU999"], "unknown rule"),
        (["diff", "{tmp}"], "not an output of `covo-port apply`"),
        (["rules", "NPU999"], "unknown rule"),
    ],
)
def test_input_errors_are_one_line_and_exit_2(src: Path, tmp_path: Path, args: list[str],
                                              message: str) -> None:
    filled = [a.format(src=src, tmp=tmp_path) for a in args]
    code, output = run(*filled)
    assert code == 2
    assert message in output
    assert len(output.strip().splitlines()) == 1


def test_device_map_renumbers(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("apply", str(src), "--out", str(out), "--device-map", "cuda:1=npu:0")
    assert 'decode_device="npu:0"' in (out / "entry.py").read_text()
    assert Manifest.read(out).device_map == {1: 0}


def test_rules_command_documents_every_rule() -> None:
    code, output = run("rules")
    assert code == 0 and "NPU001" in output and "NPU002" in output
    code, output = run("rules", "npu002")
    assert code == 0
    assert "ASCEND_RT_VISIBLE_DEVICES" in output and "Example 1" in output
    code, output = run("rules", "--json")
    data = json.loads(output)
    assert {r["id"] for r in data} >= {"NPU001", "NPU002", "NPU009"}
    assert all(r["examples"] for r in data)


def test_every_command_has_help() -> None:
    for command in ([], ["apply"], ["diff"], ["rules"]):
        code, output = run(*command, "--help")
        assert code == 0 and "Usage:" in output
