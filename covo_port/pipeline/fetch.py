"""``covo-port fetch``: the upstream Covo-Audio, cloned at the commit this project was built for.

The pin (URL and commit) lives here and only here. A DEST that already holds the wanted commit,
clean, is reused; anything else in DEST is refused, never reset: it may be someone's work. A new
clone is made in a temporary sibling folder and renamed into place, so an interrupted or failed
fetch leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from covo_port.model import UserError
from covo_port.pipeline.git import git_executable

UPSTREAM_URL = "https://github.com/Tencent/Covo-Audio"
UPSTREAM_COMMIT = "710384c52c056ddd1c0e2517c341b5a5ae5f35f0"
#: Where ``fetch`` clones and ``apply`` reads by default. A folder of its own inside upstream/:
#: upstream/README.md belongs to this project and would collide with the upstream's README.md.
DEFAULT_DEST = Path("upstream") / "Covo-Audio"

_SHA = re.compile(r"^[0-9a-f]{40}$")


class FetchError(UserError):
    """Why a fetch did not happen: one line for the user (exit 2)."""


@dataclass(frozen=True)
class Fetched:
    dest: Path
    commit: str
    reused: bool


def _git_reason(exc: Exception) -> str:
    """The line of git's stderr that says what went wrong."""
    stderr = getattr(exc, "stderr", "") or str(exc)
    lines = [line.strip().removeprefix("stderr:").strip().strip("'\"").strip()
             for line in str(stderr).splitlines()]
    lines = [line for line in lines if line]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines or ["unknown error"])[-1]
    return reason.removeprefix("fatal: ").removeprefix("error: ")


def _check_arg(name: str, value: str) -> None:
    if not value or value.startswith("-"):
        raise FetchError(f"{name} {value!r} is not valid")


def _resolve(repo: object, ref: str) -> str | None:
    """The commit ``ref`` names in ``repo`` (also as a remote branch), or None."""
    import git

    for candidate in (ref, f"origin/{ref}"):
        try:
            return repo.commit(candidate).hexsha  # type: ignore[attr-defined]
        except (git.exc.GitError, git.exc.BadName, git.exc.BadObject, ValueError):
            continue
    return None


def _reuse(dest: Path, ref: str) -> Fetched:
    """DEST exists: accept it if it is a clean checkout of ``ref``, else refuse."""
    import git

    try:
        repo = git.Repo(dest)
        if Path(repo.working_tree_dir or "").resolve() != dest.resolve():
            raise git.exc.InvalidGitRepositoryError(str(dest))
    except (git.exc.InvalidGitRepositoryError, git.exc.NoSuchPathError):
        raise FetchError(f"{dest} exists and is not a git checkout; remove it or choose "
                         "another DEST") from None
    try:
        head = repo.head.commit.hexsha
    except ValueError:
        raise FetchError(f"{dest} is a git repository without commits; remove it or choose "
                         "another DEST") from None
    wanted = _resolve(repo, ref)
    if wanted != head:
        raise FetchError(f"{dest} holds commit {head[:12]}, not {ref[:12]}; it is left as it "
                         "is (remove it or choose another DEST)")
    if repo.is_dirty(untracked_files=False):
        raise FetchError(f"{dest} holds {head[:12]} but has local changes; they are left as "
                         "they are (commit, stash or remove them, or choose another DEST)")
    return Fetched(dest, head, reused=True)


def fetch(dest: Path = DEFAULT_DEST, ref: str = UPSTREAM_COMMIT,
          source: str = UPSTREAM_URL) -> Fetched:
    """Clone ``source`` into ``dest`` at ``ref`` (or reuse a clean checkout of it)."""
    _check_arg("--ref", ref)
    _check_arg("--from", source)
    if git_executable() is None:
        raise FetchError("git is not installed (or not on PATH): install git and run again")
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise FetchError(f"{dest} exists and is not a folder")
        if any(dest.iterdir()):
            return _reuse(dest, ref)
    if os.path.isdir(source) or os.path.isfile(source):
        source = str(Path(source).resolve())

    import git

    target = dest.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.covo-port-fetch-", dir=target.parent))
    try:
        try:
            repo = git.Repo.clone_from(source, tmp / "clone", no_checkout=True,
                                       env={"GIT_TERMINAL_PROMPT": "0"})
        except git.exc.GitCommandError as exc:
            raise FetchError(f"cannot clone {source}: {_git_reason(exc)}") from None
        commit = _resolve(repo, ref)
        if commit is None or (_SHA.match(ref.lower()) and commit != ref.lower()):
            raise FetchError(f"commit {ref} does not exist in {source}")
        try:
            repo.git.checkout("--quiet", "--detach", commit)
        except git.exc.GitCommandError as exc:
            raise FetchError(f"cannot check out {commit[:12]}: {_git_reason(exc)}") from None
        repo.close()
        if target.is_dir():
            target.rmdir()  # empty, checked above
        os.rename(tmp / "clone", target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Fetched(dest, commit, reused=False)
