"""OUT as a git repository (pristine commit + one commit per rule) and its patch series."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.model import RunOptions, get_target
from covo_port.pipeline import gitout
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree

from .gitrepo import FIXTURE, git, make_repo, tree_of

PORT = "covo-port <covo-port@localhost>"


def _source_tree(root: Path) -> Path:
    """The audit fixture plus the file shapes a patch series must carry exactly."""
    tree = root / "tree"
    shutil.copytree(FIXTURE, tree)
    (tree / "scripts").mkdir()
    run = tree / "scripts" / "run.sh"
    run.write_bytes(b"#!/bin/sh\nCUDA_VISIBLE_DEVICES=0 python example.py")  # no final newline
    run.chmod(0o755)
    (tree / "legacy").mkdir()
    (tree / "legacy" / "crlf.py").write_bytes(b"import torch\r\n\r\nx = y.cuda()\r\n")
    odd = tree / "odd dir"
    odd.mkdir()
    (odd / 'na\u00efve "q".py').write_text("import torch\nz = w.cuda()\n")
    (tree / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (tree / "alias.py").symlink_to("example.py")
    return tree


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    make_repo(src, _source_tree(tmp_path))
    return src


@pytest.fixture(scope="module")
def ported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(source, OUT, what apply printed) of one full apply, shared by the tests that only read;
    the patches are in OUT, under .covo-port/patches."""
    root = tmp_path_factory.mktemp("ported")
    src = root / "src"
    make_repo(src, _source_tree(root))
    cwd = Path.cwd()
    os.chdir(root)
    try:
        printed = _apply(src, "--out", root / "out")
    finally:
        os.chdir(cwd)
    return src, root / "out", printed


def _apply(*args: str | Path) -> str:
    result = CliRunner().invoke(main, ["apply", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


def _log(out: Path) -> list[str]:
    return git("log", "--reverse", "--format=%an <%ae>|%cn <%ce>|%s", cwd=out).splitlines()


def test_out_history_is_the_pristine_tree_then_one_commit_per_rule(
        ported: tuple[Path, Path, str]) -> None:
    source, out, _ = ported
    manifest = Manifest.read(out)
    changed_rules = [r for r in manifest.rules if any(c.rule == r for c in manifest.changes)]
    log = _log(out)
    assert [line.split("|")[0] for line in log] == [PORT] * (1 + len(changed_rules))
    assert [line.split("|")[1] for line in log] == [PORT] * (1 + len(changed_rules))
    subjects = [line.split("|")[2] for line in log]
    head = git("rev-parse", "HEAD", cwd=source).strip()
    assert subjects[0] == f"Pristine source at {head[:12]}"  # never a local path
    assert [s.split(":")[0] for s in subjects[1:]] == changed_rules
    assert {"NPU001", "NPU002", "NPU006", "NPU007", "NPU008"} <= set(changed_rules)
    # the pristine commit is exactly the source commit's tree
    assert tree_of(out, f"HEAD~{len(changed_rules)}") == tree_of(source)
    body = git("log", "-1", "--format=%B", "--grep=^NPU002:", cwd=out).strip()
    assert body.splitlines()[2:] == ["example.sh: 1 change", "scripts/run.sh: 1 change"]
    assert git("status", "--porcelain", "--ignored=no", cwd=out) == ""
    assert ".covo-port/manifest.json" not in git("ls-files", cwd=out)
    git("check-ignore", "-q", ".covo-port/manifest.json", cwd=out)


def test_each_rule_commit_holds_that_rule_stage(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = apply_tree(source, out, get_target("npu"), RunOptions(), keep_stages=True)
    assert result.git is not None
    commits = dict(result.git.commits)
    assert gitout.rule_commits(out) == result.git.commits
    for path, stages in result.stages.items():
        for rule_id, data in stages:
            shown = gitout.pristine_file(out, commits[rule_id], path)
            assert shown == data, (path, rule_id)
        assert gitout.pristine_file(out, result.git.base, path) == (source / path).read_bytes()
    assert (out / "scripts" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert git("ls-files", "-s", "scripts/run.sh", cwd=out).startswith("100755")
    assert git("ls-files", "-s", "alias.py", cwd=out).startswith("120000")


def test_patches_applied_with_git_am_give_out_exactly(
        ported: tuple[Path, Path, str], tmp_path: Path) -> None:
    source, out, printed = ported
    patches = sorted((out / ".covo-port" / "patches").glob("*.patch"))
    assert len(patches) == len(gitout.rule_commits(out))
    assert f"patches: {len(patches)} in {out}/.covo-port/patches/" in printed
    assert not (out.parent / "patches").exists()
    clone = tmp_path / "clone"
    git("clone", "-q", source, clone, cwd=tmp_path)
    git("am", "-q", "--keep-cr", *patches, cwd=clone)
    assert tree_of(clone) == tree_of(out)
    assert (clone / "scripts" / "run.sh").read_bytes().endswith(b"python example.py")
    assert (clone / "legacy" / "crlf.py").read_bytes() == (out / "legacy" / "crlf.py").read_bytes()


def test_output_is_reproducible_whatever_the_git_config(
        ported: tuple[Path, Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, out, _ = ported
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Someone Else\n\temail = else@example.com\n"
        "[format]\n\tsignOff = true\n\tnumbered = false\n[diff]\n\tnoprefix = true\n"
        "[core]\n\tautocrlf = true\n[init]\n\tdefaultBranch = trunk\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(source / ".git"))  # must not redirect covo-port's git
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Somebody")
    _apply(source, "--out", tmp_path / "b", "--patches", tmp_path / "pb")
    monkeypatch.delenv("GIT_DIR")
    assert git("rev-parse", "HEAD", cwd=out) == git("rev-parse", "HEAD", cwd=tmp_path / "b")
    assert git("symbolic-ref", "HEAD", cwd=tmp_path / "b").strip() == "refs/heads/main"
    first = {p.name: p.read_bytes() for p in (out / ".covo-port" / "patches").iterdir()}
    second = {p.name: p.read_bytes() for p in (tmp_path / "pb").iterdir()}
    assert first == second and first
    assert git("status", "--porcelain", cwd=tmp_path / "b") == ""


def test_patch_folder_is_replaced_and_can_be_moved_or_skipped(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _apply(source, "--out", tmp_path / "out", "--select", "NPU001", "--select", "NPU002")
    inside = tmp_path / "out" / ".covo-port" / "patches"
    assert [p.name[:12] for p in sorted(inside.glob("*.patch"))] == ["0001-NPU001-",
                                                                     "0002-NPU002-"]
    assert not (tmp_path / "patches").exists()  # never relative to the current folder
    printed = _apply(source, "--out", tmp_path / "out2", "--no-patches", "--select", "NPU002")
    assert "patches:" not in printed and not (tmp_path / "out2" / ".covo-port" / "patches"
                                              ).exists()
    elsewhere = tmp_path / "elsewhere"
    _apply(source, "--out", tmp_path / "out3", "--patches", elsewhere, "--select", "NPU002")
    assert [p.name[:12] for p in elsewhere.glob("*.patch")] == ["0001-NPU002-"]
    assert not (tmp_path / "out3" / ".covo-port" / "patches").exists()
    check = CliRunner().invoke(main, ["apply", str(source), "--out", str(tmp_path / "o4"),
                                      "--check", "--patches", str(tmp_path / "never"),
                                      "--select", "NPU002"])
    assert check.exit_code == 1 and not (tmp_path / "never").exists()


def test_only_the_patches_covo_port_wrote_are_ever_replaced_or_removed(
        source: Path, tmp_path: Path) -> None:
    dest = tmp_path / "series"
    dest.mkdir()
    (dest / "0042-mine.patch").write_text("a patch of my own\n")
    (dest / "notes.txt").write_text("mine\n")
    _apply(source, "--out", tmp_path / "a", "--patches", dest, "--select", "NPU001",
           "--select", "NPU002")
    ours = sorted(p.name for p in dest.glob("0*-NPU*.patch"))
    assert [n[:12] for n in ours] == ["0001-NPU001-", "0002-NPU002-"]
    # a later run replaces what the earlier one wrote, and only that
    _apply(source, "--out", tmp_path / "b", "--patches", dest, "--select", "NPU002")
    names = sorted(p.name for p in dest.iterdir())
    assert [n[:12] for n in names if "NPU" in n] == ["0001-NPU002-"]
    assert ours[1] not in names and "0042-mine.patch" in names and "notes.txt" in names
    assert (dest / "0042-mine.patch").read_text() == "a patch of my own\n"
    # a patch of ours that was edited since is the user's now: never overwritten
    edited = next(dest.glob("0001-NPU002-*.patch"))
    edited.write_text("my edit\n")
    result = CliRunner().invoke(main, ["apply", str(source), "--out", str(tmp_path / "c"),
                                       "--patches", str(dest), "--select", "NPU002"])
    assert result.exit_code == 2 and "covo-port did not write it" in result.output
    assert edited.read_text() == "my edit\n"


def test_patches_inside_the_source_are_refused(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (source / "fix.patch").write_text("the source's own patch\n")
    before = {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()}
    for patches in (source, source / "patches"):
        result = CliRunner().invoke(main, ["apply", str(source), "--out", str(tmp_path / "o"),
                                           "--patches", str(patches)])
        assert result.exit_code == 2 and "inside the source" in result.output
    monkeypatch.chdir(source)  # the old default, patches/<target>, was relative to here
    _apply(".", "--out", tmp_path / "o2", "--select", "NPU002")
    assert {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()} == before
    assert not (source / "patches").exists()


def test_diff_rule_shows_that_rule_commit_only(ported: tuple[Path, Path, str]) -> None:
    _, out, _ = ported
    runner = CliRunner()
    shown = runner.invoke(main, ["diff", str(out), "--rule", "npu002", "--no-color"])
    assert shown.exit_code == 0
    assert f"Author: {PORT}" in shown.output and "NPU002: " in shown.output
    assert "+ASCEND_RT_VISIBLE_DEVICES=2,3 python example.py" in shown.output
    assert "\\ No newline at end of file" in shown.output
    assert "sdpa_kernel" not in shown.output and ".npu()" not in shown.output
    stat = runner.invoke(main, ["diff", str(out), "--rule", "NPU002", "--stat"])
    assert "example.sh" in stat.output and "2 files changed" in stat.output
    none = runner.invoke(main, ["diff", str(out), "--rule", "NPU012"])
    assert none.exit_code == 0 and "NPU012 changed nothing" in none.output
    unknown = runner.invoke(main, ["diff", str(out), "--rule", "NPU999"])
    assert unknown.exit_code == 2 and "unknown rule" in unknown.output


def test_plain_diff_reads_the_pristine_commit_and_older_outputs_still_work(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    _apply(source, "--out", out, "--no-patches", "--select", "NPU008")
    runner = CliRunner()
    before = runner.invoke(main, ["diff", str(out), "--no-color"]).output
    assert "+    samples, rate = _torchaudio_load(path)" in before
    moved = tmp_path / "src-moved"
    source.rename(moved)  # the source is gone: OUT's history still has it
    assert runner.invoke(main, ["diff", str(out), "--no-color"]).output == before
    moved.rename(source)
    shutil.rmtree(out / ".git")  # an output of a covo-port without git output
    assert runner.invoke(main, ["diff", str(out), "--no-color"]).output == before
    no_git = runner.invoke(main, ["diff", str(out), "--rule", "NPU002"])
    assert no_git.exit_code == 2 and "no git history" in no_git.output


def test_interrupted_git_step_leaves_nothing(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = gitout.run_git

    def interrupted(args: list[str], cwd: Path, stdin: int | None = None,
                    config: Sequence[str] = ()) -> str:
        if args[0] == "fast-import":
            raise KeyboardInterrupt
        return real(args, cwd, stdin, config)

    monkeypatch.setattr(gitout, "run_git", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        apply_tree(source, out, get_target("npu"), RunOptions(select=frozenset({"NPU002"})))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src", "tree"]


def test_without_git_out_is_a_plain_folder_with_a_warning(
        source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(gitout, "git_executable", lambda: None)
    printed = _apply(source, "--out", tmp_path / "out", "--select", "NPU002")
    assert not (tmp_path / "out" / ".git").exists()
    assert "git is not installed" in printed and "patches:" not in printed
    assert not (tmp_path / "patches").exists()


def test_source_without_git_gets_a_dated_pristine_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234567890")
    src = tmp_path / "plain"
    shutil.copytree(FIXTURE, src)
    out = tmp_path / "out"
    apply_tree(src, out, get_target("npu"), RunOptions(select=frozenset({"NPU002"})))
    assert git("log", "--format=%at %ct", cwd=out).split("\n")[0] == "1234567890 1234567890"
    message = git("log", "--reverse", "--format=%B", cwd=out).split("\n\n")
    assert message[0] == "Pristine source (not a git checkout)"
    assert "Commit: none (SRC is not a git checkout)" in message[1]
    assert git("status", "--porcelain", cwd=out) == ""
    assert os.path.isdir(out / ".covo-port")
