"""Never touch what is not ours: the user's repository, its configuration, files outside OUT,
whatever SRC, OUT or a manifest holds (issue 14). Each test names the numbered defect it
covers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.model import FileStatus, RunOptions, get_target
from covo_port.pipeline.git import clean_env
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree

from .gitrepo import FIXTURE, git, make_repo
from .helpers import alive, one_error_line, write_busy_tree

ROOT = Path(__file__).resolve().parents[1]
GOOD = b'import torch\nx = torch.device("cuda")\n'


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def every_byte(root: Path) -> dict[str, bytes]:
    """Every file and link under ``root`` (a repository's .git included), with its bytes."""
    found: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[rel] = b"-> " + os.fsencode(os.readlink(path))
            elif path.is_file():
                found[rel] = path.read_bytes()
    return found


# -- 1. SRC that is a linked worktree or a submodule ---------------------------------------------

def _linked_worktree(tmp_path: Path) -> tuple[Path, Path]:
    """(the user's repository, a worktree of it whose .git is a file)."""
    repo = tmp_path / "repo"
    make_repo(repo)
    git("worktree", "add", "-q", "-b", "feature", tmp_path / "wt", cwd=repo)
    return repo, tmp_path / "wt"


def _submodule(tmp_path: Path) -> tuple[Path, Path]:
    """(the superproject, its submodule checkout whose .git is a file)."""
    lib = tmp_path / "lib"
    make_repo(lib)
    top = tmp_path / "top"
    top.mkdir()
    (top / "README.md").write_text("top\n")
    git("init", "-q", cwd=top)
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", lib, "sub", cwd=top)
    git("commit", "-q", "-am", "with a submodule", cwd=top)
    return top, top / "sub"


@pytest.mark.parametrize("kind", ["worktree", "submodule"])
def test_1_a_src_whose_git_is_a_file_leaves_the_users_repository_as_it_was(
        tmp_path: Path, kind: str) -> None:
    repo, src = (_linked_worktree if kind == "worktree" else _submodule)(tmp_path)
    assert (src / ".git").is_file()
    (src / "example.py").write_text((src / "example.py").read_text() + "# uncommitted\n")
    before_repo, before_src = every_byte(repo), every_byte(src)
    head = git("rev-parse", "HEAD", cwd=src)
    out = tmp_path / "out"
    code, output = run("apply", src, "--out", out)
    assert code == 0, output
    assert every_byte(src) == before_src
    assert every_byte(repo) == before_repo, "refs, HEAD, index, config: all as they were"
    assert git("rev-parse", "HEAD", cwd=src) == head
    assert (out / ".git").is_dir() and not (out / ".git").is_file()
    assert git("rev-parse", "--absolute-git-dir", cwd=out).strip() == str(out / ".git")
    manifest = Manifest.read(out)
    assert manifest.source_commit == head.strip() and manifest.source_dirty
    assert ".git" not in {f.path for f in manifest.files}
    assert git("status", "--porcelain", cwd=out) == ""


def test_1_a_git_file_or_folder_inside_src_is_never_copied(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "vendor" / "dep").mkdir(parents=True)
    (src / "a.py").write_bytes(GOOD)
    (src / "vendor" / "dep" / ".git").write_text(f"gitdir: {tmp_path / 'elsewhere'}\n")
    (src / "vendor" / ".git").mkdir()
    (src / "vendor" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    out = tmp_path / "out"
    assert run("apply", src, "--out", out)[0] == 0
    assert not (out / "vendor" / "dep" / ".git").exists()
    assert not (out / "vendor" / ".git").exists()
    notes = {f.path: f.message for f in Manifest.read(out).findings}
    assert "git repository's metadata" in notes["vendor/.git"]
    assert "git repository's metadata" in notes["vendor/dep/.git"]


# -- 3. nothing that SRC's (or OUT's) git configuration names ever runs --------------------------

def _plant(config: Path, marker: Path) -> None:
    """Settings that run ``touch marker-...`` wherever git honours them."""
    with config.open("a") as f:
        f.write(f"[core]\n\tfsmonitor = touch {marker}-fsmonitor\n"
                f"\thooksPath = {marker.parent / 'hooks'}\n"
                f'[filter "x"]\n\tclean = touch {marker}-clean\n'
                f"\tsmudge = touch {marker}-smudge\n\tprocess = touch {marker}-process\n"
                f"[diff]\n\texternal = touch {marker}-external\n"
                f'[diff "x"]\n\ttextconv = touch {marker}-textconv\n'
                f"\tcommand = touch {marker}-command\n"
                f"[core]\n\tpager = touch {marker}-pager\n")
    hooks = marker.parent / "hooks"
    hooks.mkdir(exist_ok=True)
    for hook in ("post-checkout", "post-commit", "pre-commit", "post-index-change",
                 "reference-transaction", "fsmonitor-watchman"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {marker}-hook-{hook}\n")
        (hooks / hook).chmod(0o755)


def _ran(marker: Path) -> list[str]:
    return sorted(p.name for p in marker.parent.glob(f"{marker.name}-*"))


def test_3_the_configuration_of_src_and_out_never_runs(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_repo(src)
    (src / ".gitattributes").write_text("* filter=x diff=x\n")
    (src / "example.py").write_text((src / "example.py").read_text() + "# edited\n")
    marker = tmp_path / "PWNED"
    _plant(src / ".git" / "config", marker)
    out = tmp_path / "out"
    code, output = run("apply", src, "--out", out, "--patches", tmp_path / "series")
    assert code == 0, output
    assert _ran(marker) == []
    assert Manifest.read(out).source_dirty
    # OUT's repository is the user's to configure afterwards: diff runs none of it either
    _plant(out / ".git" / "config", marker)
    (out / ".git" / "info" / "attributes").write_text("* diff=x\n")
    for args in (["--rule", "NPU002"], ["--rule", "NPU002", "--stat"], [], ["--stat"]):
        code, shown = run("diff", out, "--no-color", *args)
        assert code == 0, shown
    assert "+ASCEND_RT_VISIBLE_DEVICES" in run("diff", out, "--rule", "NPU002")[1]
    assert _ran(marker) == []
    # fetch reads an existing DEST the same way
    dest = tmp_path / "dest"
    make_repo(dest)
    commit = git("rev-parse", "HEAD", cwd=dest).strip()
    _plant(dest / ".git" / "config", marker)
    code, fetched = run("fetch", dest, "--from", src, "--ref", commit)
    assert code == 0 and "reused" in fetched
    assert _ran(marker) == []


# -- 4. one odd file costs that file only --------------------------------------------------------

def _notebook(cells: list[object]) -> bytes:
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return (json.dumps(notebook, indent=1, sort_keys=True) + "\n").encode()


def _code_cell(source: str) -> dict[str, object]:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source.splitlines(keepends=True)}


def test_4_odd_files_each_cost_that_file_only(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    deep = "echo " + "$(" * 350 + "echo cuda" + ")" * 350 + "\n"
    files = {
        "deep.sh": b"#!/bin/bash\nCUDA_VISIBLE_DEVICES=0 python a.py\n" + deep.encode(),
        "not_objects.ipynb": _notebook([_code_cell("x.cuda()\n"), 42, "text"]),
        "markers.ipynb": _notebook([
            _code_cell("import torch\n# covo_port_nb cell 7\nx = torch.device('cuda')\n"),
            _code_cell("pass  # covo_port_nb magic 0\ny = z.cuda()\n"),
            _code_cell("!nvidia-smi\n")]),
        "good.py": GOOD,
    }
    for name, data in files.items():
        (src / name).write_bytes(data)
    out = tmp_path / "out"
    code, output = run("apply", src, "--out", out)
    assert code in (0, 1), output
    manifest = Manifest.read(out)
    status = {f.path: f.status for f in manifest.files}
    assert status["good.py"] is FileStatus.CHANGED, "the run goes on"
    assert (out / "not_objects.ipynb").read_bytes() == files["not_objects.ipynb"]
    assert any(f.path == "not_objects.ipynb" and "not an object" in f.message
               for f in manifest.findings)
    # the notebook's own text that looks like the engine's markers is just text
    marked = json.loads((out / "markers.ipynb").read_text())
    sources = ["".join(c["source"]) for c in marked["cells"]]
    assert sources[0] == ("import torch\nimport torch_npu\n# covo_port_nb cell 7\n"
                          "x = torch.device('npu')\n")
    assert sources[1] == "pass  # covo_port_nb magic 0\ny = z.npu()\n"
    assert sources[2] == "!nvidia-smi\n"
    # nesting that bash accepts is ported like any script (tree-sitter keeps its own stack)
    assert (out / "deep.sh").read_bytes() == files["deep.sh"].replace(
        b"CUDA_VISIBLE_DEVICES", b"ASCEND_RT_VISIBLE_DEVICES")


def test_4_a_file_deleted_from_src_during_the_run_costs_that_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from covo_port.pipeline import run as pipeline_run

    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.py", "b.py", "c.txt", "d.py"):
        (src / name).write_bytes(GOOD)
    real = pipeline_run.process_file

    def deleting(source: Path, config: object, keep: bool, cache: object,
                 entry: object) -> object:
        rel = entry.rel  # type: ignore[attr-defined]
        if rel == "a.py":  # one file goes before it is read, one after
            (src / "b.py").unlink()
            result = real(source, config, keep, cache, entry)  # type: ignore[arg-type]
            (src / "c.txt").unlink()
            return result
        return real(source, config, keep, cache, entry)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_run, "process_file", deleting)
    out = tmp_path / "out"
    result = apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    assert result.exit_code == 1
    assert sorted(p.name for p in out.iterdir()) == [".covo-port", ".git", "a.py", "d.py"]
    gone = {f.path: f.message for f in result.manifest.findings}
    assert "removed from SRC during the run" in gone["b.py"]
    assert "removed from SRC during the run" in gone["c.txt"]


# -- 7. every skip is a finding ------------------------------------------------------------------

def test_7_every_skipped_file_and_folder_is_a_finding(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for folder in (".hg", "__pycache__", "pkg/__pycache__", ".svn", "old/.covo-port"):
        (src / folder).mkdir(parents=True)
        (src / folder / "x").write_bytes(b"data")
    (src / ".covo-port").write_text("a file named like OUT's manifest folder\n")
    (src / "nul.py").write_bytes(GOOD + b"\0")
    (src / "nul.sh").write_bytes(b"#!/bin/sh\nCUDA_VISIBLE_DEVICES=0 python x.py\n\0")
    (src / "data.bin").write_bytes(b"\0cuda")
    out = tmp_path / "out"
    code, output = run("apply", src, "--out", out)
    assert code == 0, output
    manifest = Manifest.read(out)
    findings = {f.path: f for f in manifest.findings}
    for folder in (".hg", "__pycache__", "pkg/__pycache__", ".svn", "old/.covo-port",
                   ".covo-port"):
        assert folder in findings, folder
        assert findings[folder].message.endswith("not copied")
    assert (out / ".covo-port" / "manifest.json").is_file()
    for script in ("nul.py", "nul.sh"):
        assert "NUL byte" in findings[script].message
        assert findings[script].severity.value == "warning"
        assert (out / script).read_bytes() == (src / script).read_bytes()
    assert "data.bin" not in findings, "a binary file is no finding"
    assert not (out / ".hg").exists() and not (out / "pkg" / "__pycache__").exists()


# -- 8. bad JSON and crafted manifests -----------------------------------------------------------

def test_8_json_report_is_valid_utf8_whatever_the_file_names(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    name = os.fsencode(src) + b"/caf\xe9.py"
    try:
        Path(os.fsdecode(name)).write_bytes(GOOD)
    except OSError:
        pytest.skip("this file system takes UTF-8 names only")
    proc = subprocess.run([sys.executable, "-m", "covo_port", "apply", str(src), "--out",
                           str(tmp_path / "out"), "--json"], capture_output=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.decode("utf-8"))  # strict: invalid UTF-8 raises
    assert os.fsdecode(b"caf\xe9.py") in {f["path"] for f in data["files"]}
    assert b"caf\\udce9.py" in proc.stdout


@pytest.fixture
def ported(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE, src)
    out = tmp_path / "out"
    assert run("apply", src, "--out", out)[0] == 0
    return out


def _craft(out: Path, edit: object) -> None:
    path = out / ".covo-port" / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps(edit(data) if callable(edit) else edit))


@pytest.mark.parametrize("case", ["dotdot", "absolute", "link", "list", "target", "device_map",
                                  "deleted", "no_git_dotdot", "manifest_link"])
def test_8_a_crafted_manifest_never_makes_diff_read_outside_out(
        ported: Path, tmp_path: Path, case: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET\n")
    changed = next(f for f in Manifest.read(ported).files if f.status is FileStatus.CHANGED)

    def point(path: str) -> object:
        def edit(data: dict) -> dict:
            for f in data["files"]:
                if f["path"] == changed.path:
                    f["path"] = path
            return data
        return edit

    if case == "dotdot":
        _craft(ported, point("../secret.txt"))
    elif case == "absolute":
        _craft(ported, point(str(secret)))
    elif case == "link":
        (ported / changed.path).unlink()
        (ported / changed.path).symlink_to(secret)
    elif case == "list":
        _craft(ported, [{"tool": "covo-port"}])
    elif case == "target":
        _craft(ported, lambda d: {**d, "target": "tpu"})
    elif case == "device_map":
        _craft(ported, lambda d: {**d, "device_map": [1]})
    elif case == "deleted":
        (ported / changed.path).unlink()
    elif case == "manifest_link":
        secret.write_text('{"tool": "covo-port", "SECRET": 1}')
        (ported / ".covo-port" / "manifest.json").unlink()
        (ported / ".covo-port" / "manifest.json").symlink_to(secret)
    else:
        shutil.rmtree(ported / ".git")
        _craft(ported, lambda d: {**point("../secret.txt")(d), "source": str(tmp_path)})
    for args in ([], ["--stat"]):
        code, output = run("diff", ported, "--no-color", *args)
        assert code == 2, output
        assert "SECRET" not in output
        one_error_line(output)


def test_8_fetch_refuses_transports_that_run_programs(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    for source in (f"ext::sh -c touch% {marker}", "fd::17", "EXT::sh -c true",
                   "foo://example.com/x"):
        code, output = run("fetch", tmp_path / "dest", "--from", source)
        assert code == 2 and "refused" in one_error_line(output)
    assert not marker.exists() and not (tmp_path / "dest").exists()
    # one that git meets on its own (a redirect, a submodule's URL) it refuses itself
    assert clean_env()["GIT_ALLOW_PROTOCOL"] == "file:git:http:https:ssh"


# -- 15. the pristine commit names no local path; the author is the user's to choose -------------

def test_same_source_commit_gives_the_same_history_from_any_folder(tmp_path: Path) -> None:
    first = tmp_path / "one" / "checkout"
    first.parent.mkdir()
    make_repo(first)
    git("remote", "add", "origin", "https://user:token@example.com/team/project.git", cwd=first)
    second = tmp_path / "elsewhere" / "other-name"
    git("clone", "-q", first, second, cwd=tmp_path)
    git("remote", "set-url", "origin", "https://example.com/team/project.git", cwd=second)
    heads = []
    for src in (first, second):
        out = src.parent / "out"
        assert run("apply", src, "--out", out)[0] == 0
        heads.append(git("rev-parse", "HEAD", cwd=out))
        message = git("log", "--reverse", "--format=%B", cwd=out).split("\n\n")[0]
        assert message.startswith("Pristine source: https://example.com/team/project.git at ")
    assert heads[0] == heads[1]
    local = tmp_path / "local"
    git("clone", "-q", first, local, cwd=tmp_path)  # origin: a local path
    assert run("apply", local, "--out", tmp_path / "lout")[0] == 0
    body = git("log", "--reverse", "--format=%B", cwd=tmp_path / "lout")
    assert str(first) not in body and str(local) not in body and "user:token" not in body


def test_author_is_configurable_and_diff_still_finds_the_commits(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_repo(src)
    out = tmp_path / "out"
    code, output = run("apply", src, "--out", out, "--author", "Ada Lovelace <ada@example.org>")
    assert code == 0, output
    log = git("log", "--format=%an <%ae>|%cn <%ce>", cwd=out).splitlines()
    assert set(log) == {"Ada Lovelace <ada@example.org>|covo-port <covo-port@localhost>"}
    patch = next((out / ".covo-port" / "patches").glob("*.patch")).read_text()
    assert "From: Ada Lovelace <ada@example.org>" in patch
    assert "+ASCEND_RT_VISIBLE_DEVICES" in run("diff", out, "--rule", "NPU002")[1]
    code, output = run("apply", src, "--out", tmp_path / "o2", "--author", "nobody")
    assert code == 2 and "Name <email>" in one_error_line(output)


# -- 6. --force never deletes what covo-port did not write --------------------------------------

def leftovers(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.covo-port-*"))


@pytest.mark.parametrize("existing", [True, False])
def test_6_an_out_that_changes_during_the_run_is_left_as_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool) -> None:
    from covo_port.pipeline import writer

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_bytes(GOOD)
    out = tmp_path / "out"
    if existing:
        assert run("apply", src, "--out", out)[0] == 0
    real = writer.build_repo

    def meanwhile(*args: object, **kwargs: object) -> object:
        out.mkdir(exist_ok=True)  # the user's new work, or another run's output
        (out / "new-work.txt").write_text("mine")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "build_repo", meanwhile)
    code, output = run("apply", src, "--out", out, "--force")
    assert code == 2 and "changed while this run was writing" in one_error_line(output)
    assert (out / "new-work.txt").read_text() == "mine"
    assert (out / "a.py").exists() == existing
    assert not leftovers(out)


# -- 9. a killed run: no orphaned workers, its temporaries removed by the next run ---------------

LINUX_PROC = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()


def _workers(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with suppress(FileNotFoundError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.add(int(child))
    return found


@pytest.mark.skipif(not LINUX_PROC, reason="needs /proc/PID/task/TID/children (Linux)")
def test_9_kill_9_of_the_main_process_takes_its_workers_along(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_busy_tree(src)
    proc = subprocess.Popen([sys.executable, "-m", "covo_port", "apply", str(src), "--out",
                             str(tmp_path / "out"), "--no-patches", "-j", "2"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
            workers = _workers(proc.pid)
            time.sleep(0.1)
        assert len(workers) >= 2, "the workers did not start"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 30  # seconds, not minutes: a loaded machine is slow
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(w) for w in workers), "a worker outlived its killed parent"
    finally:
        proc.kill()
        for worker in workers:
            with suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)


SLOW_WRITE = '''
import shutil, sys, time
from pathlib import Path

marker = Path(sys.argv[1])

def slow(*args, **kwargs):
    marker.touch()
    time.sleep(60)

shutil.copy2 = slow
from covo_port.cli import main
main(sys.argv[2:], prog_name="covo-port")
'''


def test_9_a_later_run_removes_the_temporaries_of_a_killed_one(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_bytes(GOOD)
    (src / "notes.txt").write_text("copied, slowly\n")
    out = tmp_path / "out"
    script, marker = tmp_path / "slow.py", tmp_path / "started"
    script.write_text(SLOW_WRITE)
    proc = subprocess.Popen([sys.executable, str(script), str(marker), "apply", str(src),
                             "--out", str(out), "--no-patches", "-j", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert leftovers(out), "a kill -9 leaves the temporary folder"
    code, output = run("apply", src, "--out", out)
    assert code == 0, output
    assert not leftovers(out) and (out / "a.py").exists()
    assert any("left behind by an interrupted run" in f.message
               for f in Manifest.read(out).findings)


def test_9_a_previous_out_swapped_out_by_a_killed_run_is_put_back(tmp_path: Path) -> None:
    from covo_port.pipeline.writer import _HOST

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_bytes(GOOD)
    out = tmp_path / "out"
    assert run("apply", src, "--out", out)[0] == 0
    before = every_byte(out)
    gone = subprocess.Popen(["true"])
    gone.wait()
    old = tmp_path / f".out.covo-port-old-{_HOST}.{gone.pid}-x1y2"
    old.mkdir()
    os.rename(out, old / "tree")  # killed between the two renames of the swap
    mine = tmp_path / f".out.covo-port-{_HOST}.{os.getpid()}-alive"
    mine.mkdir()  # a live process's temporary folder is never touched
    elsewhere = tmp_path / "users-folder"
    (elsewhere / "tree").mkdir(parents=True)
    decoy = tmp_path / f".out.covo-port-old-{_HOST}.{gone.pid}-decoy"
    decoy.symlink_to(elsewhere)  # named like ours, but a link: never followed, never removed
    code, output = run("apply", src, "--out", out)
    assert code == 2 and "--force" in one_error_line(output)
    assert every_byte(out) == before
    assert leftovers(out) == [decoy, mine] and (elsewhere / "tree").is_dir()
