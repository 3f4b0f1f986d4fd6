"""Running git for covo-port: one place, with the user's and the system's configuration switched
off, so that what covo-port writes depends only on its input."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from covo_port.model import UserError

AUTHOR = "covo-port"
EMAIL = "covo-port@localhost"


class GitError(UserError):
    """A git command failed, or git is missing where it is required: one line for the user."""


def git_executable() -> str | None:
    """The git program that covo-port runs (GIT_PYTHON_GIT_EXECUTABLE, else git on PATH)."""
    return shutil.which(os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git")


def clean_env(date: int | None = None) -> dict[str, str]:
    """The environment of covo-port's own git commands: no user config, no GIT_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=AUTHOR,
        GIT_AUTHOR_EMAIL=EMAIL,
        GIT_COMMITTER_NAME=AUTHOR,
        GIT_COMMITTER_EMAIL=EMAIL,
        LC_ALL="C",
        LANGUAGE="C",
    )
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"{date} +0000"
    return env


def run_git(args: list[str], cwd: Path, stdin: int | None = None) -> str:
    """Run one git command in ``cwd`` with :func:`clean_env`; GitError with git's own words."""
    exe = git_executable()
    if exe is None:
        raise GitError("git is not installed (or not on PATH)")
    proc = subprocess.run([exe, *args], cwd=cwd, env=clean_env(), stdin=stdin,
                          capture_output=True)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
        raise GitError(f"git {args[0]} failed: {lines[-1]}")
    return proc.stdout.decode(errors="surrogateescape")
