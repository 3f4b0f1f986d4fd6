"""``covo-port fetch``: clone at a commit, reuse or refuse what is there, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.pipeline.fetch import DEFAULT_DEST, UPSTREAM_COMMIT, UPSTREAM_URL

from .gitrepo import UPSTREAM_MIRROR, git, make_repo
from .helpers import one_error_line


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository of the fixture tree with two commits: (path, first, second)."""
    repo = tmp_path / "origin"
    first = make_repo(repo)
    (repo / "NOTES.md").write_text("a later commit\n")
    git("add", "NOTES.md", cwd=repo)
    git("commit", "-q", "-m", "later", cwd=repo)
    return repo, first, git("rev-parse", "HEAD", cwd=repo).strip()


def _fetch(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["fetch", *map(str, args)])
    return result.exit_code, result.output



def test_the_pin_lives_in_one_place() -> None:
    assert UPSTREAM_URL == "https://github.com/Tencent/Covo-Audio"
    assert UPSTREAM_COMMIT == "710384c52c056ddd1c0e2517c341b5a5ae5f35f0"
    assert Path("upstream/Covo-Audio") == DEFAULT_DEST
    root = Path(__file__).resolve().parents[1]
    holders = [p for p in (root / "covo_port").rglob("*.py") if UPSTREAM_COMMIT in p.read_text()]
    assert [p.name for p in holders] == ["fetch.py"]


def test_clone_at_a_commit_then_reuse(origin: tuple[Path, str, str], tmp_path: Path) -> None:
    repo, first, _ = origin
    dest = tmp_path / "up"
    code, out = _fetch(dest, "--from", repo, "--ref", first)
    assert code == 0 and first[:12] in out
    assert git("rev-parse", "HEAD", cwd=dest).strip() == first
    assert not (dest / "NOTES.md").exists()
    assert git("status", "--porcelain", cwd=dest) == ""
    code, out = _fetch(dest, "--from", repo, "--ref", first[:10])
    assert code == 0 and "reused" in out
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_clone_from_a_bundle_and_by_branch_name(origin: tuple[Path, str, str],
                                                  tmp_path: Path) -> None:
    repo, _, second = origin
    bundle = tmp_path / "covo.bundle"
    git("bundle", "create", bundle, "--all", cwd=repo)
    branch = git("symbolic-ref", "--short", "HEAD", cwd=repo).strip()
    code, _ = _fetch(tmp_path / "from-bundle", "--from", bundle, "--ref", second)
    assert code == 0
    assert git("rev-parse", "HEAD", cwd=tmp_path / "from-bundle").strip() == second
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _ = _fetch(empty, "--from", repo, "--ref", branch)
    assert code == 0 and git("rev-parse", "HEAD", cwd=empty).strip() == second


def test_what_is_there_is_refused_never_reset(origin: tuple[Path, str, str],
                                               tmp_path: Path) -> None:
    repo, first, second = origin
    dest = tmp_path / "up"
    assert _fetch(dest, "--from", repo, "--ref", first)[0] == 0
    code, out = _fetch(dest, "--from", repo, "--ref", second)
    assert code == 2 and f"holds commit {first[:12]}, not {second[:12]}" in one_error_line(out)
    (dest / "example.py").write_text("# my own edit\n")
    code, out = _fetch(dest, "--from", repo, "--ref", first)
    assert code == 2 and "has local changes" in one_error_line(out)
    assert (dest / "example.py").read_text() == "# my own edit\n"
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("work\n")
    code, out = _fetch(other, "--from", repo, "--ref", first)
    assert code == 2 and "is not a git checkout" in one_error_line(out)
    assert [p.name for p in other.iterdir()] == ["thesis.tex"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    code, out = _fetch(afile, "--from", repo)
    assert code == 2 and "is not a folder" in one_error_line(out)


def test_unknown_commit_and_unreachable_source(origin: tuple[Path, str, str],
                                               tmp_path: Path) -> None:
    repo, _, _ = origin
    dest = tmp_path / "up"
    code, out = _fetch(dest, "--from", repo)  # the pinned commit is not in the fixture repo
    assert code == 2
    assert f"commit {UPSTREAM_COMMIT} does not exist in {repo}" in one_error_line(out)
    code, out = _fetch(dest, "--from", repo, "--ref", "no-such-branch")
    assert code == 2 and "does not exist" in one_error_line(out)
    code, out = _fetch(dest, "--from", tmp_path / "nowhere")
    assert code == 2 and "nowhere' does not exist" in one_error_line(out)
    code, out = _fetch(dest, "--from", "http://127.0.0.1:9/Covo-Audio.git")
    line = one_error_line(out)
    assert code == 2 and "cannot clone http://127.0.0.1:9/Covo-Audio.git: " in line
    assert line.endswith("give that copy with --from PATH_OR_BUNDLE")  # what to do offline
    code, out = _fetch(dest, "--from", repo, "--ref", "--upload-pack=touch")
    assert code == 2 and "is not valid" in one_error_line(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["origin"]


def test_missing_git_is_one_line(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["PATH"] = str(bin_dir)
    proc = subprocess.run([sys.executable, "-c", "from covo_port.cli import main; main()",
                           "fetch", str(tmp_path / "up")],
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert one_error_line(proc.stderr).endswith("git is not installed (or not on PATH): "
                                                 "install git and run again")
    assert not (tmp_path / "up").exists()


def test_default_dest_and_apply_default_source(origin: tuple[Path, str, str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    repo, first, _ = origin
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    missing = runner.invoke(main, ["apply"])
    assert missing.exit_code == 2 and "run `covo-port fetch` first" in missing.output
    assert _fetch("--from", repo, "--ref", first)[0] == 0
    assert (tmp_path / "upstream" / "Covo-Audio" / "example.py").is_file()
    applied = runner.invoke(main, ["apply", "--out", "X"])
    assert applied.exit_code == 0, applied.output
    assert (tmp_path / "X" / "example.sh").read_text().count("ASCEND_RT_VISIBLE_DEVICES") == 1


@pytest.mark.skipif(not UPSTREAM_MIRROR.is_dir(), reason="no local mirror of the upstream")
def test_fetch_the_pinned_upstream_from_a_local_mirror(tmp_path: Path) -> None:
    code, out = _fetch(tmp_path / "up", "--from", UPSTREAM_MIRROR)
    assert code == 0, out
    assert git("rev-parse", "HEAD", cwd=tmp_path / "up").strip() == UPSTREAM_COMMIT
