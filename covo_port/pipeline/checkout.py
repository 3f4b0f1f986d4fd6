"""Reading a git checkout that is not covo-port's (SRC, or the DEST of a fetch) without running
anything its configuration names and without writing to it.

Only commands that read refs and objects run on it (``rev-parse``, ``cat-file``, ``ls-tree``,
``config --get``), with its ``.git`` named explicitly: none of them reads the index or the work
tree, so no fsmonitor, clean filter, hook or diff driver that its ``.git/config`` names can
run, and no index is refreshed. Whether the files differ from the commit is decided here, by
hashing them the way git hashes blobs. A ``.git`` *file* (a linked worktree, a submodule) is
followed by git itself to the repository it names, which is only read.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from covo_port.pipeline.git import GitError, git_bytes

#: a URL git reaches over the network: scheme://... or scp-like user@host:path
_NETWORK = re.compile(r"^(?:(?:https?|ssh|git|ftps?|git\+ssh|ssh\+git)://|[^/:@]+@[^/:]+:)",
                      re.I)
_USERINFO = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@]*@", re.I)
_BLOCK = 1 << 20


@dataclass(frozen=True)
class Checkout:
    """What a checkout's repository says of it."""

    root: Path
    commit: str
    date: int  # the commit's committer date (seconds since the epoch)
    url: str | None  # remote.origin.url as configured, if any

    def git(self, args: list[str], check: bool = True) -> bytes:
        return git_bytes(args, self.root, git_dir=self.root.absolute() / ".git", check=check)


def read_checkout(root: Path) -> Checkout | None:
    """The checkout whose work tree is ``root`` (``root/.git`` a folder, or a file that names
    one); None where ``root`` is none or its repository has no commit. Never a repository
    above ``root``."""
    dotgit = root / ".git"
    if not (dotgit.is_dir() or dotgit.is_file()):
        return None
    probe = Checkout(root, "", 0, None)
    try:
        commit = probe.git(["rev-parse", "--verify", "-q", "HEAD^{commit}"]).decode().strip()
        raw = probe.git(["cat-file", "commit", commit])
    except (GitError, UnicodeDecodeError):
        return None
    date = 0
    for line in raw.split(b"\n\n", 1)[0].splitlines():
        if line.startswith(b"committer "):
            date = int(line.rsplit(b" ", 2)[1])
    url = probe.git(["config", "--get", "remote.origin.url"], check=False).decode(
        errors="replace").strip() or None
    return Checkout(root, commit, date, url)


def resolve(root: Path, ref: str) -> str | None:
    """The commit ``ref`` names in the repository of the checkout at ``root`` (also as
    origin's branch)."""
    probe = Checkout(root, "", 0, None)
    for candidate in (ref, f"origin/{ref}"):
        try:
            return probe.git(["rev-parse", "--verify", "-q", "--end-of-options",
                                 f"{candidate}^{{commit}}"]).decode().strip()
        except GitError:
            continue
    return None


def public_url(url: str | None) -> str | None:
    """``url`` if it names a network location (any password removed), else None: a local
    path names a folder of one machine, not the source."""
    if not url or not _NETWORK.match(url):
        return None
    return _USERINFO.sub(r"\g<scheme>", url) if url.lower().startswith(("http", "ftp")) else url


def _blob_hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm, b"blob %d\0" % os.path.getsize(path))
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def differs(checkout: Checkout, files: Iterable[str] | None = None) -> bool:
    """Whether the work tree differs from the commit: a tracked file changed, gone, or of
    another mode; with ``files`` (paths relative to the root), also one of them not in the
    commit. Submodules (gitlinks) and what lies under them are not compared. Where git cannot
    list the commit (a shallow or broken repository), it is taken to differ."""
    try:
        listing = checkout.git(["ls-tree", "-r", "-z", "-l", "--full-tree", checkout.commit])
    except GitError:
        return True
    tracked: dict[str, tuple[str, str, int]] = {}
    gitlinks: list[str] = []
    for item in listing.split(b"\0"):
        if not item:
            continue
        meta, _, name = item.partition(b"\t")
        mode, _, sha, size = meta.split()
        path = os.fsdecode(name)
        if mode == b"160000":
            gitlinks.append(path + "/")
            continue
        # size "-" for a gitlink, "BAD" for an object missing from a partial clone: unknown
        tracked[path] = (mode.decode(), sha.decode(), int(size) if size.isdigit() else -1)
    for path, (mode, sha, size) in tracked.items():
        if _file_differs(checkout.root / path, mode, sha, size):
            return True
    for path in files or ():
        if path not in tracked and not path.startswith(tuple(gitlinks)) and all(
                part.lower() != ".git" for part in path.split("/")):
            return True
    return False


def _file_differs(full: Path, mode: str, sha: str, size: int) -> bool:
    algorithm = "sha1" if len(sha) == 40 else "sha256"
    try:
        st = os.lstat(full)
        if mode == "120000":
            if not stat.S_ISLNK(st.st_mode):
                return True
            target = os.fsencode(os.readlink(full))
            return hashlib.new(algorithm, b"blob %d\0" % len(target) + target).hexdigest() != sha
        if not stat.S_ISREG(st.st_mode) or st.st_size != size != -1:
            return True
        if bool(st.st_mode & 0o100) != (mode == "100755"):
            return True
        return _blob_hash(full, algorithm) != sha
    except OSError:
        return True
