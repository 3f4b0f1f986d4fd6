"""Git-native output: OUT as a git repository (pristine commit + one commit per rule) and the
``git format-patch`` series of those rule commits.

The history is written with ``git fast-import`` while OUT is still the temporary folder of the
atomic write, so an interrupted run leaves nothing behind. Every git command runs on OUT's own
``.git``, named explicitly, with the user's and the system's git configuration switched off and
``GIT_*`` variables removed (see :mod:`covo_port.pipeline.git`), so the commits (identity,
dates, hashes) and the patches depend only on the input: the same source commit gives the same
OUT history on any machine and from any folder, with or without a git identity configured. The
pristine commit names the source by its commit and its network URL, never by a local path.
Dates come from ``SOURCE_DATE_EPOCH`` when set, else from SRC's commit, else the epoch. The
committer is always ``covo-port <covo-port@localhost>`` (``diff`` finds its commits by it); the
author too, unless ``apply --author`` names another.

``OUT/.covo-port/`` (the manifest, and the patch series by default) is not part of any commit:
it is listed in OUT's ``.git/info/exclude``, so ``git status`` in OUT is clean after apply and
the tree of OUT's last commit is exactly what ``git am`` of the patches gives on a clone of the
source commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from covo_port import __version__
from covo_port.model import ENGINE_CODE, FileKind, FileStatus, Finding, Rule, Severity
from covo_port.pipeline.checkout import Checkout, public_url
from covo_port.pipeline.git import (
    EMAIL,
    IDENTITY,
    GitError,
    git_bytes,
    git_executable,
    init_repo,
    parse_identity,
    run_git,
)
from covo_port.pipeline.manifest import MANIFEST_DIR
from covo_port.pipeline.result import GitInfo, Result
from covo_port.pipeline.walk import Entry, EntryKind

BRANCH = "main"
#: in a patches folder: the patches covo-port wrote there (name -> sha256); no other file of
#: the folder is ever replaced or removed
PATCHES_LIST = ".covo-port-patches.json"


def _quote(path: str) -> bytes:
    """A path as fast-import reads it: C-style quoted, every unusual byte escaped."""
    out = bytearray(b'"')
    for byte in os.fsencode(path):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif 0x20 <= byte < 0x7F:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    out += b'"'
    return bytes(out)


def _date(source_date: int | None) -> int:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return int(epoch)
    return source_date or 0


def _tracked(path: str) -> bool:
    """Whether git can hold ``path`` (it refuses any component named .git)."""
    return all(part.lower() != ".git" for part in path.split("/"))


def _pristine_message(result: Result, url: str | None) -> str:
    manifest = result.manifest
    commit = manifest.source_commit
    subject = "Pristine source" + (f": {url}" if url else "") + (
        f" at {commit[:12]}" if commit else " (not a git checkout)")
    body = [f"Source: {url}"] if url else []
    body.append(f"Commit: {commit or 'none (SRC is not a git checkout)'}")
    if manifest.source_dirty:
        body.append("SRC's files differ from that commit (uncommitted changes or untracked "
                    "files): this tree holds them as they were.")
    body += ["", f"The tree that covo-port {__version__} rewrote for target {manifest.target};",
             "each following commit is one rule's rewrite."]
    return subject + "\n\n" + "\n".join(body) + "\n"


def _rule_message(rule: type[Rule] | None, rule_id: str, counts: dict[str, int],
                  added: dict[str, list[str]]) -> str:
    """The commit message of one rule's rewrite: its summary, whether it fixes a problem that
    is not the NPU's (a reviewer may drop it), and what it changed and added, per file."""
    lines = [f"{path}: added, with {', '.join(added[path])}" if path in added
             else f"{path}: {n} change{'s' if n != 1 else ''}" for path, n in counts.items()]
    body = ""
    if rule is not None and rule.fixes_non_npu:
        body = (f"Not an NPU fix: {rule.fixes_non_npu}\nA reviewer may drop this commit "
                "(the rest of the port does not depend on it).\n\n")
    summary = rule.summary if rule is not None else ""
    return f"{rule_id}: {summary}\n\n" + body + "\n".join(lines) + "\n"


def build_repo(tmp: Path, entries: list[Entry], result: Result,
               rules: Sequence[type[Rule]] = (), checkout: Checkout | None = None,
               author: str | None = None) -> GitInfo | None:
    """Make ``tmp`` (OUT being written) a git repository holding the pristine tree and one
    commit per rule. ``checkout``: SRC's repository, if it is a checkout (its URL and date);
    ``author``: ``'Name <email>'`` of the commits [default: covo-port's own]. Returns None,
    with a warning finding, where git is not installed."""
    if git_executable() is None:
        result.manifest.findings.append(Finding(
            ENGINE_CODE, ".", 1, 1, Severity.WARNING,
            "git is not installed: OUT is a plain folder (no per-rule commits, no patches)"))
        return None
    manifest = result.manifest
    records = {r.path: r for r in manifest.files}
    url = public_url(checkout.url) if checkout else None
    date = f" {_date(checkout.date if checkout else None)} +0000"
    name, email = parse_identity(author or IDENTITY)
    written_by = (f"{name} <{email}>" + date).encode()
    committed_by = (IDENTITY + date).encode()

    def commit(stream: BinaryIO, message: str) -> None:
        data = message.encode(errors="surrogateescape")  # paths name files in bytes
        stream.write(b"commit refs/heads/" + BRANCH.encode() + b"\n")
        stream.write(b"author " + written_by + b"\ncommitter " + committed_by + b"\n")
        stream.write(b"data %d\n%s\n" % (len(data), data))

    def put(stream: BinaryIO, path: str, mode: str, data: bytes) -> None:
        stream.write(b"M " + mode.encode() + b" inline " + _quote(path) + b"\n")
        stream.write(b"data %d\n%s\n" % (len(data), data))

    modes: dict[str, str] = {}
    untracked = []
    with tempfile.TemporaryFile() as stream:
        commit(stream, _pristine_message(result, url))
        for entry in entries:
            record = records.get(entry.rel)
            if entry.kind is EntryKind.DIR or record is None or not os.path.lexists(
                    tmp / entry.rel):
                continue  # what OUT holds is what the pristine commit holds
            if not _tracked(entry.rel):
                untracked.append(entry.rel)
                continue
            if record.kind is FileKind.SYMLINK:
                put(stream, entry.rel, "120000", os.fsencode(record.link or ""))
                continue
            modes[entry.rel] = "100755" if entry.mode & 0o100 else "100644"
            pristine = result.sources.get(entry.rel)  # a changed file: its bytes as read
            put(stream, entry.rel, modes[entry.rel],
                (tmp / entry.rel).read_bytes() if pristine is None else pristine)

        added = {r.path: r for r in manifest.files if r.status is FileStatus.ADDED
                 and _tracked(r.path) and r.path not in modes}
        modes.update(dict.fromkeys(added, "100644"))
        helpers: dict[tuple[str, str], list[str]] = {}
        for helper in result.support:
            helpers.setdefault((helper.rule, helper.path), []).append(helper.name)
        by_id = {r.id: r for r in rules}
        per_file = Counter((c.rule, c.path) for c in manifest.changes)
        rule_ids = []
        for rule_id in manifest.rules:
            changed = {path: data for path, stages in sorted(result.stages.items())
                       for rid, data in stages if rid == rule_id and path in modes}
            if not changed:
                continue
            rule_ids.append(rule_id)
            counts = {path: per_file[(rule_id, path)] for path in changed}
            new = {path: sorted(helpers.get((rule_id, path), [])) for path in changed
                   if path in added}
            commit(stream, _rule_message(by_id.get(rule_id), rule_id, counts, new))
            for path, data in changed.items():
                put(stream, path, modes[path], data)
        stream.write(b"done\n")
        stream.seek(0)

        init_repo(tmp)
        # objects deflated fast and stored whole (no delta search, which costs as much as
        # the rest of the import): the history is the same, the pack a little larger (on
        # transformers 18 MB instead of 16; `git gc` packs it tighter) (issue 16)
        run_git(["fast-import", "--quiet", "--done", "--date-format=raw"], tmp,
                stdin=stream.fileno(), config=["core.compression=1", "pack.depth=0"])
    run_git(["symbolic-ref", "HEAD", f"refs/heads/{BRANCH}"], tmp)
    run_git(["reset", "-q"], tmp)
    (tmp / ".git" / "info").mkdir(exist_ok=True)
    (tmp / ".git" / "info" / "exclude").write_text(
        f"# covo-port's manifest of this output: not part of the port\n/{MANIFEST_DIR}/\n")
    for path in untracked:
        manifest.findings.append(Finding(
            ENGINE_CODE, path, 1, 1, Severity.WARNING,
            "git cannot hold a path with a .git component: in OUT but in no commit"))
    shas = run_git(["rev-list", "--reverse", "HEAD"], tmp).split()
    return GitInfo(base=shas[0], commits=list(zip(rule_ids, shas[1:], strict=True)))


# -- reading OUT's history back ------------------------------------------------------------------

def is_port_repo(out: Path) -> bool:
    """Whether ``out`` is a git repository that ``covo-port apply`` wrote."""
    return base_commit(out) is not None


def base_commit(out: Path) -> str | None:
    """OUT's pristine commit: the root commit that covo-port committed, if any."""
    if not (out / ".git").is_dir():
        return None  # never the history of a repository that merely contains OUT
    try:
        roots = run_git(["rev-list", "--max-parents=0", "--format=%H %ce", "HEAD"], out)
    except GitError:
        return None
    for line in roots.splitlines():
        sha, _, email = line.partition(" ")
        if email == EMAIL:
            return sha
    return None


def rule_commits(out: Path) -> list[tuple[str, str]]:
    """(rule id, commit) of every rule commit in OUT, oldest first."""
    base = base_commit(out)
    if base is None:
        return []
    log = run_git(["log", "--reverse", "--format=%H %ce %s", f"{base}..HEAD"], out)
    commits = []
    for line in log.splitlines():
        sha, _, rest = line.partition(" ")
        email, _, subject = rest.partition(" ")
        rule_id, colon, _ = subject.partition(":")
        if colon and email == EMAIL:
            commits.append((rule_id, sha))
    return commits


def show_rule(out: Path, rule_id: str, stat: bool = False) -> str | None:
    """``git show`` of the commit of ``rule_id`` in OUT; None if that rule changed nothing.
    No diff driver or text conversion that OUT's configuration names is run."""
    for rid, sha in rule_commits(out):
        if rid == rule_id:
            return run_git(["show", "--no-color", "--no-ext-diff", "--no-textconv",
                            "--format=medium", "--stat" if stat else "--patch", sha], out)
    return None


def pristine_file(out: Path, base: str, path: str) -> bytes:
    """The bytes of ``path`` in OUT's pristine commit."""
    out = out.absolute()
    try:
        return git_bytes(["cat-file", "blob", f"{base}:{path}"], out, git_dir=out / ".git")
    except GitError:
        raise GitError(f"{path} is not in OUT's pristine commit {base[:12]}") from None


def patches_folder(out: Path) -> Path:
    """Where ``apply`` writes the patch series by default: inside OUT, beside the manifest."""
    return out / MANIFEST_DIR / "patches"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _owned(dest: Path) -> dict[str, str]:
    """The patches that covo-port wrote into ``dest`` (name -> sha256), as its list says."""
    try:
        data = json.loads((dest / PATCHES_LIST).read_text(encoding="utf-8"))
        listed = data["patches"]
        return {str(k): str(v) for k, v in listed.items()
                if isinstance(k, str) and "/" not in k and k.endswith(".patch")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_patches(out: Path, dest: Path) -> list[Path]:
    """``git format-patch`` of OUT's rule commits into ``dest``, replacing the patches that an
    earlier run wrote there (listed in ``dest``/.covo-port-patches.json) and nothing else: a
    file of the same name that covo-port did not write, or that was edited since, is never
    replaced (GitError, and nothing is written)."""
    base = base_commit(out)
    if base is None:
        raise GitError(f"{out} is not a git repository written by covo-port apply")
    dest.mkdir(parents=True, exist_ok=True)
    owned = {name: sha for name, sha in _owned(dest).items()
             if (dest / name).is_file() and _sha256(dest / name) == sha}
    staging = Path(tempfile.mkdtemp(prefix=".covo-port-patches-", dir=dest))
    try:
        run_git(["format-patch", "--quiet", "--no-signature", "--no-ext-diff", "--no-textconv",
                 "-o", str(staging.resolve()), f"{base}..HEAD"], out)
        new = sorted(staging.iterdir())
        for patch in new:
            if os.path.lexists(dest / patch.name) and patch.name not in owned:
                raise GitError(f"{dest / patch.name} exists and covo-port did not write it (or "
                               "it was edited since): not replaced; move it or choose another "
                               "--patches folder")
        for name in set(owned) - {p.name for p in new}:
            (dest / name).unlink()
        written = []
        for patch in new:
            os.replace(patch, dest / patch.name)
            written.append(dest / patch.name)
        listing = {"tool": "covo-port", "patches": {p.name: _sha256(p) for p in written}}
        (dest / PATCHES_LIST).write_text(json.dumps(listing, indent=2) + "\n", encoding="utf-8")
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
