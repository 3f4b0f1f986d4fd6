"""`covo-port check` and the pre-commit hook built on it: a team that has ported keeps new
CUDA-only code out of its repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main

from .gitrepo import GIT_ENV, git

ROOT = Path(__file__).resolve().parents[1]
# a ported project: its modules import torch_npu where they use the NPU
BAD = "import torch\nimport torch_npu\nx = torch.zeros(3).cuda()\n"
GOOD = "import torch\nimport torch_npu\nx = torch.zeros(3).npu()\n"


def check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "bad.py").write_text(BAD)
    (root / "good.py").write_text(GOOD)
    (root / "pkg" / "run.sh").write_text("CUDA_VISIBLE_DEVICES=0 python good.py\n")
    (root / "pkg" / "info.py").write_text(  # an info finding only: NPU013 reads a flag
        "import torch\nimport torch_npu\nflag = torch.backends.cudnn.benchmark\n")
    monkeypatch.chdir(root)
    return root


def test_check_fails_on_cuda_only_code(project: Path) -> None:
    code, stdout, _ = check("bad.py", "good.py")
    assert code == 1
    assert "bad.py:3:" in stdout and "NPU001 would rewrite: .cuda() -> .npu()" in stdout
    assert "good.py" not in stdout
    assert stdout.splitlines()[-1].startswith("covo-port: 2 file(s) checked, 1 to port: ")
    assert (project / "bad.py").read_text() == BAD, "check writes nothing"


def test_check_passes_clean_code_and_info_findings(project: Path) -> None:
    assert check("good.py")[0] == 0
    code, stdout, _ = check("pkg/info.py")
    assert code == 0 and "NPU013 info" in stdout


def test_check_of_folders_and_acceptance_comments(project: Path) -> None:
    code, stdout, _ = check("pkg")
    assert code == 1 and "pkg/run.sh:1:1: NPU002 would rewrite" in stdout
    assert "bad.py" not in stdout
    (project / "bad.py").write_text(BAD.replace(".cuda()", ".cuda()  # covo-port: ignore"))
    assert check("bad.py")[0] == 0
    code, stdout, _ = check()  # the current folder
    assert code == 1 and "pkg/run.sh" in stdout and "bad.py" not in stdout


def test_check_of_a_gitignored_file_named_on_the_command_line(project: Path) -> None:
    (project / ".gitignore").write_text("bad.py\n")
    assert check()[0] == 1, "run.sh"
    assert "bad.py" not in check()[1], "ignored inside a folder"
    assert check("bad.py")[0] == 1, "checked when named"
    assert check("bad.py", "--exclude", "bad.py")[0] == 0


def test_check_in_machine_formats(project: Path) -> None:
    code, stdout, _ = check("bad.py", "--format", "sarif")
    assert code == 1
    (run,) = json.loads(stdout)["runs"]
    assert {r["ruleId"] for r in run["results"]} == {"NPU001"}
    code, stdout, _ = check("bad.py", "--diff")
    assert code == 1 and "+x = torch.zeros(3).npu()" in stdout


def test_check_refuses_paths_outside_the_project(project: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.py").write_text(BAD)
    code, _, stderr = check(str(tmp_path / "elsewhere.py"))
    assert code == 2 and "is not under" in stderr
    code, _, stderr = check("missing.py")
    assert code == 2 and stderr == "covo-port: error: missing.py does not exist\n"


def hook_repository(path: Path) -> str:
    """A git repository holding this checkout's package and hook definition, committed (what
    a project's .pre-commit-config.yaml points to); returns its commit."""
    path.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, path / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("covo_port", "rewrites"):
        shutil.copytree(ROOT / name, path / name, ignore=ignore)
    git("init", "-q", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "covo-port", cwd=path)
    return git("rev-parse", "HEAD", cwd=path).strip()


@pytest.mark.slow
def test_pre_commit_hook_blocks_cuda_only_code(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    rev = hook_repository(tmp_path / "covo-port")
    repo = tmp_path / "team"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {tmp_path / 'covo-port'}\n    rev: {rev}\n"
        "    hooks:\n      - id: covo-port\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env |= GIT_ENV | {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True,
                              timeout=600, check=False)

    installed = run(sys.executable, "-m", "pre_commit", "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (repo / "good.py").write_text(GOOD)
    git("add", "good.py", ".pre-commit-config.yaml", cwd=repo)
    clean = run("git", "commit", "-q", "-m", "clean code")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (repo / "bad.py").write_text(BAD)
    git("add", "bad.py", cwd=repo)
    blocked = run("git", "commit", "-q", "-m", "CUDA-only code")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, output
    assert "bad.py:3:" in output and "NPU001 would rewrite" in output
    assert git("log", "--format=%s", cwd=repo).split("\n")[0] == "clean code"
