"""A property of every run (issue 14): whatever the tree, wherever an interrupt lands in the
write (a file copied, a rewrite written, a git command, a rename, the manifest, the patches),
SRC's bytes and its .git are as they were, no temporary folder is left, and OUT is either the
complete output (the same, byte for byte and hash for hash, as an uninterrupted run gives) or
what it was before the run (absent, empty, or the previous output)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from covo_port.model import RunOptions, get_target
from covo_port.pipeline import gitout, writer
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree

from .gitrepo import git
from .test_properties import sources
from .test_safety import every_byte

SHELL = [b"#!/bin/bash\nCUDA_VISIBLE_DEVICES=0,1 python train.py\n", b"echo plain\n",
         b"#!/bin/sh\nexport NCCL_DEBUG=INFO\ntorchrun --backend nccl x.py\n"]
NAMES = st.sampled_from(["a", "b", "pkg", "pkg/sub", "caf\u00e9", "odd name"])


@st.composite
def trees(draw: st.DrawFn) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for _ in range(draw(st.integers(1, 6))):
        folder = draw(NAMES)
        kind = draw(st.sampled_from(["py", "sh", "txt", "bin"]))
        data = (draw(sources()) if kind == "py" else draw(st.sampled_from(SHELL))
                if kind == "sh" else draw(st.binary(max_size=64)))
        files[f"{folder}/f{len(files)}.{kind}"] = data
    return files


def _make(root: Path, files: dict[str, bytes], repo: str) -> Path:
    src = root / "src"
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    if repo != "none":
        git("init", "-q", cwd=src)
        git("add", "-A", cwd=src)
        git("commit", "-q", "-m", "tree", cwd=src)
    if repo == "worktree":  # SRC's .git is a file naming the real repository
        git("worktree", "add", "-q", "--detach", root / "wt", cwd=src)
        return root / "wt"
    return src


#: what the write does, in the modules where it does it: an interrupt may land on any call
WRITES = [(shutil, "copy2"), (Path, "write_bytes"), (os, "symlink"), (os, "rename"),
          (os, "chmod"), (gitout, "run_git"), (gitout, "init_repo"), (writer, "write_patches"),
          (Manifest, "write")]


@contextmanager
def interrupt_at(call: int) -> Iterator[list[int]]:
    """Raise KeyboardInterrupt at the ``call``-th call of any of :data:`WRITES`."""
    count = [0]
    with ExitStack() as stack:
        for owner, name in WRITES:
            real = getattr(owner, name)

            def wrapped(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
                count[0] += 1
                if count[0] == call:
                    raise KeyboardInterrupt
                return _real(*args, **kwargs)

            stack.enter_context(mock.patch.object(owner, name, wrapped))
        yield count


def _apply(src: Path, out: Path) -> None:
    apply_tree(src, out, get_target("npu"), RunOptions(), force=True, jobs=1, patches=True)


def _state(out: Path) -> tuple[dict[str, bytes], str | None]:
    """OUT's files (its .git aside) and its HEAD."""
    if not out.exists():
        return {}, None
    files = {k: v for k, v in every_byte(out).items() if not k.startswith(".git/")}
    head = git("rev-parse", "HEAD", cwd=out).strip() if (out / ".git").is_dir() else None
    return files, head


@settings(max_examples=25, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=trees(), repo=st.sampled_from(["none", "repo", "worktree"]),
       before=st.sampled_from(["absent", "empty", "previous"]), call=st.integers(1, 60))
def test_an_interrupted_write_leaves_out_complete_or_as_it_was(
        files: dict[str, bytes], repo: str, before: str, call: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src = _make(root, files, repo)
        reference = root / "reference"
        _apply(src, reference)
        complete = _state(reference)
        out = root / "out"
        if before == "empty":
            out.mkdir()
        elif before == "previous":
            shutil.copytree(reference, out, symlinks=True)
            (out / "edited-since.txt").write_text("an older output\n")
        previous = _state(out)
        src_bytes, repo_bytes = every_byte(src), every_byte(src.parent / "src")
        interrupted = False
        with interrupt_at(call):
            try:
                _apply(src, out)
            except KeyboardInterrupt:
                interrupted = True
        assert every_byte(src) == src_bytes and every_byte(root / "src") == repo_bytes
        assert not list(root.glob(".out.covo-port-*")), "no temporary folder is left"
        state = _state(out)
        if interrupted:
            assert state in (complete, previous)
        else:
            assert state == complete
