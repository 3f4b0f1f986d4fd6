"""Git repositories built in tests from the project's own fixture trees."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "covo_audit"
UPSTREAM_MIRROR = Path("/work/.mirror/Tencent+Covo-Audio/repo")

#: A test's own git identity and settings, whatever the machine's git configuration says.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Fixture Author",
    "GIT_AUTHOR_EMAIL": "fixture@example.com",
    "GIT_COMMITTER_NAME": "Fixture Author",
    "GIT_COMMITTER_EMAIL": "fixture@example.com",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
}


def git(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    proc = subprocess.run(["git", *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def make_repo(path: Path, tree: Path = FIXTURE) -> str:
    """A git repository at ``path`` whose one commit holds ``tree``; returns the commit."""
    shutil.copytree(tree, path, symlinks=True)
    git("init", "-q", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "fixture", cwd=path)
    return git("rev-parse", "HEAD", cwd=path).strip()


def tree_of(repo: Path, rev: str = "HEAD") -> str:
    return git("rev-parse", f"{rev}^{{tree}}", cwd=repo).strip()
