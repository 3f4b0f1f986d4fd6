"""Running git for covo-port: the one place it runs, with nothing of the user's or of a
repository's configuration that could run a program or change what covo-port writes.

Every command gets the environment of :func:`clean_env` (no system or user config, no ``GIT_*``
overrides, only the plain transports) and the options of :data:`SAFE_OPTIONS` (no fsmonitor,
no hooks, no signature checks). A repository's own ``.git/config`` is still read by git; what in
it could run a program is switched off by those options, or by the command's own options where
it has them (``--no-ext-diff --no-textconv`` wherever a diff is shown). OUT's repository is always
named explicitly (``--git-dir=OUT/.git --work-tree=OUT``): git never looks for it, so it never
finds one of the user's. A source checkout is only ever read with commands that touch neither
its index nor its work tree (see :mod:`covo_port.pipeline.checkout`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from covo_port.model import UserError

AUTHOR = "covo-port"
EMAIL = "covo-port@localhost"
#: the identity of OUT's commits unless ``apply --author`` names another author
IDENTITY = f"{AUTHOR} <{EMAIL}>"
#: the transports git may use (GIT_ALLOW_PROTOCOL): never ``ext::`` or ``fd::``
PROTOCOLS = ("file", "git", "http", "https", "ssh")
#: options of every git command: what a repository's config could make git run, switched off
SAFE_OPTIONS = (
    "-c", "core.fsmonitor=false",
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "log.showSignature=false",
)

_IDENTITY = re.compile(r"^(?P<name>[^<>\n]*[^<>\s])\s*<(?P<email>[^<>\s]+)>$")


class GitError(UserError):
    """A git command failed, or git is missing where it is required: one line for the user."""


def git_executable() -> str | None:
    """The git program that covo-port runs (GIT_PYTHON_GIT_EXECUTABLE, else git on PATH)."""
    return shutil.which(os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git")


def parse_identity(text: str) -> tuple[str, str]:
    """(name, email) of ``'Name <email>'``; GitError (one line) for anything else."""
    m = _IDENTITY.match(text.strip())
    if m is None:
        raise GitError(f"--author {text!r}: give it as 'Name <email>'")
    return m.group("name"), m.group("email")


def clean_env(date: int | None = None) -> dict[str, str]:
    """The environment of covo-port's own git commands: no user config, no GIT_* overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",  # a read never refreshes (writes) an index
        GIT_ALLOW_PROTOCOL=":".join(PROTOCOLS),
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


def git_bytes(args: list[str], cwd: Path, *, git_dir: Path | None = None,
              work_tree: Path | None = None, stdin: int | None = None,
              check: bool = True, config: Sequence[str] = ()) -> bytes:
    """Run one git command in ``cwd``; its stdout. ``git_dir``/``work_tree``: the repository,
    named explicitly (git then never searches for one). ``config``: ``key=value`` settings for
    this command only. GitError with git's own words."""
    exe = git_executable()
    if exe is None:
        raise GitError("git is not installed (or not on PATH)")
    where = []
    if git_dir is not None:
        where.append(f"--git-dir={git_dir}")
    if work_tree is not None:
        where.append(f"--work-tree={work_tree}")
    settings = [part for setting in config for part in ("-c", setting)]
    proc = subprocess.run([exe, *where, *SAFE_OPTIONS, *settings, *args], cwd=cwd,
                          env=clean_env(),
                          stdin=stdin if stdin is not None else subprocess.DEVNULL,
                          capture_output=True)
    if check and proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
        raise GitError(f"git {args[0]} failed: {lines[-1]}")
    return proc.stdout


def run_git(args: list[str], repo: Path, stdin: int | None = None,
            config: Sequence[str] = ()) -> str:
    """Run one git command on the repository whose work tree is ``repo`` (``repo/.git``),
    never on any other; its stdout as text (file names' bytes kept as surrogates)."""
    repo = repo.absolute()
    return git_bytes(args, repo, git_dir=repo / ".git", work_tree=repo, stdin=stdin,
                     config=config).decode(errors="surrogateescape")


def init_repo(repo: Path) -> None:
    """Make a new repository at ``repo/.git``. Refuses a ``repo`` that holds a ``.git`` already
    (a ``.git`` file would make git initialise the repository it points to)."""
    repo = repo.absolute()
    if os.path.lexists(repo / ".git"):
        raise GitError(f"{repo} already holds a .git: not making a repository there")
    git_bytes(["init", "-q", "--", str(repo)], repo.parent)
