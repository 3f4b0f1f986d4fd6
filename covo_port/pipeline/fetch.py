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
from dataclasses import dataclass
from pathlib import Path

from covo_port.model import UserError
from covo_port.pipeline.checkout import differs, read_checkout, resolve
from covo_port.pipeline.git import PROTOCOLS, GitError, git_bytes, git_executable
from covo_port.pipeline.writer import remove_stale, temporary_folder

UPSTREAM_URL = "https://github.com/Tencent/Covo-Audio"
UPSTREAM_COMMIT = "710384c52c056ddd1c0e2517c341b5a5ae5f35f0"
#: Where ``fetch`` clones and ``apply`` reads by default. A folder of its own inside upstream/:
#: upstream/README.md belongs to this project and would collide with the upstream's README.md.
DEFAULT_DEST = Path("upstream") / "Covo-Audio"

_SHA = re.compile(r"^[0-9a-f]{40}$")
#: ``<transport>::<address>``: git runs a remote helper (``ext::`` runs any command)
_HELPER = re.compile(r"^(?P<transport>[A-Za-z0-9][A-Za-z0-9+.-]*)::")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")


class FetchError(UserError):
    """Why a fetch did not happen: one line for the user (exit 2)."""


@dataclass(frozen=True)
class Fetched:
    dest: Path
    commit: str
    reused: bool


def _git_reason(exc: Exception) -> str:
    """The words of git's error, without its ``fatal:`` prefix."""
    reason = str(exc).rsplit(" failed: ", 1)[-1]
    return reason.removeprefix("fatal: ").removeprefix("error: ")


def _check_arg(name: str, value: str) -> None:
    if not value or value.startswith("-"):
        raise FetchError(f"{name} {value!r} is not valid")


def check_source(source: str) -> None:
    """Refuse a ``--from`` that would make git run a program: a remote helper
    (``ext::``, ``fd::``...) or a scheme other than the plain transports."""
    helper = _HELPER.match(source)
    if helper:
        raise FetchError(f"--from {source!r}: the {helper.group('transport')}:: transport is "
                         "refused (give a URL (https://, ssh://, git://, file://), a path or a "
                         "bundle)")
    scheme = _SCHEME.match(source)
    if scheme and scheme.group("scheme").lower() not in PROTOCOLS:
        raise FetchError(f"--from {source!r}: the {scheme.group('scheme')}:// transport is "
                         f"refused (known: {', '.join(PROTOCOLS)})")


def _reuse(dest: Path, ref: str) -> Fetched:
    """DEST exists: accept it if it is a clean checkout of ``ref``, else refuse."""
    if not os.path.lexists(dest / ".git"):
        raise FetchError(f"{dest} exists and is not a git checkout; remove it or choose "
                         "another DEST")
    checkout = read_checkout(dest)
    if checkout is None:
        raise FetchError(f"{dest} is a git repository without commits; remove it or choose "
                         "another DEST")
    head = checkout.commit
    wanted = resolve(dest, ref)
    if wanted != head:
        raise FetchError(f"{dest} holds commit {head[:12]}, not {ref[:12]}; it is left as it "
                         "is (remove it or choose another DEST)")
    if differs(checkout):
        raise FetchError(f"{dest} holds {head[:12]} but has local changes; they are left as "
                         "they are (commit, stash or remove them, or choose another DEST)")
    return Fetched(dest, head, reused=True)


def fetch(dest: Path = DEFAULT_DEST, ref: str = UPSTREAM_COMMIT,
          source: str = UPSTREAM_URL) -> Fetched:
    """Clone ``source`` into ``dest`` at ``ref`` (or reuse a clean checkout of it)."""
    _check_arg("--ref", ref)
    _check_arg("--from", source)
    check_source(source)
    if git_executable() is None:
        raise FetchError("git is not installed (or not on PATH): install git and run again")
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise FetchError(f"{dest} exists and is not a folder")
        if any(dest.iterdir()):
            return _reuse(dest, ref)
    if os.path.isdir(source) or os.path.isfile(source):
        source = str(Path(source).resolve())

    target = dest.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    tmp = temporary_folder(target, "fetch-")
    clone = tmp / "clone"
    try:
        try:
            git_bytes(["clone", "--quiet", "--no-checkout", "--", source, str(clone)], tmp)
        except GitError as exc:
            hint = "" if os.path.exists(source) else (
                "; without network access, clone it on a machine that has it (or `git bundle "
                "create`) and give that copy with --from PATH_OR_BUNDLE")
            raise FetchError(f"cannot clone {source}: {_git_reason(exc)}{hint}") from None
        commit = resolve(clone, ref)
        if commit is None or (_SHA.match(ref.lower()) and commit != ref.lower()):
            raise FetchError(f"commit {ref} does not exist in {source}")
        try:
            git_bytes(["checkout", "--quiet", "--detach", commit, "--"], clone,
                      git_dir=clone / ".git", work_tree=clone)
        except GitError as exc:
            raise FetchError(f"cannot check out {commit[:12]}: {_git_reason(exc)}") from None
        checkout = read_checkout(clone)
        if checkout is None or differs(checkout):  # git warns, yet exits 0, on a missing blob
            raise FetchError(f"the checkout of {commit[:12]} from {source} is incomplete (a "
                             "file's content is missing from that repository)")
        if target.is_dir():
            target.rmdir()  # empty, checked above
        os.rename(clone, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Fetched(dest, commit, reused=False)
