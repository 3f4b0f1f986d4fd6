"""OUT/.covo-port/cache.json: a second apply into the same OUT reuses what the first made of the
files that did not change, and its OUT is byte for byte the OUT of a fresh run."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.engines import rewrite_file
from covo_port.model import ENGINE_CODE, RunOptions, get_target
from covo_port.pipeline import cache as cache_module
from covo_port.pipeline import run as pipeline_run
from covo_port.pipeline.cache import CACHE_NAME, decode, encode, run_key
from covo_port.pipeline.git import git_bytes
from covo_port.pipeline.manifest import MANIFEST_DIR
from covo_port.pipeline.run import apply_tree
from covo_port.registry import engine_config

CHECKOUT = Path(__file__).resolve().parents[1]
TREES = [CHECKOUT / "examples" / "covo_mini", CHECKOUT / "examples" / "tiny_tagger",
         CHECKOUT / "tests" / "fixtures" / "covo_audit"]

#: files of kinds and contents the examples lack: bytes that are not UTF-8 in a rewritten
#: file, a suppression, a config and a build file with findings, a file that does not parse
ODD_FILES = {
    "latin1.py": b"# -*- coding: latin-1 -*-\n# caf\xe9\nimport torch\n"
                 b"x = torch.zeros(2).cuda()  # \xff\n",
    "quiet.py": b"import torch\ny = torch.ones(1).cuda()  # covo-port: ignore[NPU001]\n",
    "conf/train.yaml": b"trainer:\n  accelerator: cuda\nmodel:\n  device: cuda:0\n",
    "requirements-gpu.txt": b"torch==2.1.0+cu121\nflash-attn>=2.5\n",
    "broken.py": b"import torch\ndef f(:\n    torch.cuda.synchronize()\n",
}


def _tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for tree in TREES:
        shutil.copytree(tree, src / tree.name)
    for rel, data in ODD_FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    return src


def _digest(out: Path) -> str:
    """Every file of OUT but the cache (path, mode, bytes), and every commit's hash."""
    digest = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if ".git" not in p.relative_to(out).parts):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and rel != f"{MANIFEST_DIR}/{CACHE_NAME}":
            digest.update(f"{rel} {path.stat().st_mode:o}\n".encode() + path.read_bytes())
    digest.update(git_bytes(["log", "--format=%H"], out, git_dir=out / ".git"))
    return digest.hexdigest()


class _Counting:
    """rewrite_file, counting the files the engines are asked to rewrite."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def __call__(self, path: str, source: bytes, config: Any) -> Any:
        self.paths.append(path)
        return rewrite_file(path, source, config)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _Counting:
    counter = _Counting()
    monkeypatch.setattr(pipeline_run, "rewrite_file", counter)
    return counter


def _apply(src: Path, out: Path, options: RunOptions | None = None, cache: bool = True,
           device_map: tuple[str, ...] = ()) -> None:
    apply_tree(src, out, get_target("npu", device_map), options or RunOptions(), force=True,
               jobs=1, patches=True, cache=cache)


def test_a_second_run_rewrites_nothing_and_writes_the_same_out(tmp_path: Path,
                                                               counting: _Counting) -> None:
    src = _tree(tmp_path)
    _apply(src, tmp_path / "fresh")
    first = len(counting.paths)
    assert first > 20
    _apply(src, tmp_path / "fresh")  # into the OUT the first run wrote
    assert len(counting.paths) == first  # every file came from the cache
    _apply(src, tmp_path / "other", cache=False)
    assert _digest(tmp_path / "fresh") == _digest(tmp_path / "other")
    manifest = json.loads((tmp_path / "fresh" / MANIFEST_DIR / "manifest.json").read_text())
    assert {f["rule"] for f in manifest["findings"]} >= {"NPU201", ENGINE_CODE}
    assert {c["path"] for c in manifest["changes"]} >= {"latin1.py", "conf/train.yaml"}
    assert manifest["suppressed"]
    status = git_bytes(["status", "--porcelain", "--ignored"], tmp_path / "fresh",
                       git_dir=tmp_path / "fresh" / ".git")
    assert status == b"!! .covo-port/\n"  # the cache is no part of the port's history


def test_only_the_changed_file_is_rewritten_again(tmp_path: Path, counting: _Counting) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"
    _apply(src, out)
    counting.paths.clear()
    (src / "latin1.py").write_bytes(ODD_FILES["latin1.py"] + b"z = torch.cuda.device_count()\n")
    _apply(src, out)
    assert counting.paths == ["latin1.py"]
    _apply(src, tmp_path / "fresh", cache=False)
    assert _digest(out) == _digest(tmp_path / "fresh")


@pytest.mark.parametrize("change", ["options", "device map", "no cache", "code", "tree"])
def test_what_a_file_depends_on_besides_its_bytes_invalidates_the_cache(
        tmp_path: Path, counting: _Counting, monkeypatch: pytest.MonkeyPatch,
        change: str) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"
    _apply(src, out)
    first = len(counting.paths)
    options, device_map, cache = RunOptions(), (), True
    if change == "options":
        options = RunOptions(unsafe_fixes=True)
    elif change == "device map":
        device_map = ("cuda:1=npu:0",)
    elif change == "no cache":
        cache = False
    elif change == "code":  # an edited rule, or another version of covo-port or of a parser
        monkeypatch.setattr(cache_module, "_code_stamp", lambda: "another covo-port")
    else:  # what the rules know of the whole tree: a new entry module
        (src / "run_me.py").write_text("import torch\nif __name__ == '__main__':\n    pass\n")
    _apply(src, out, options, cache, device_map)
    assert len(counting.paths) >= 2 * first - 1  # all rewritten afresh


@pytest.mark.parametrize("damage", [
    b"", b"{not json", b"[]", b'{"key": 1}',
    b'{"tool": "covo-port", "schema": 1, "key": "KEY", "files": []}',
    b'{"tool": "covo-port", "schema": 1, "key": "KEY", "files": {"quiet.py": ["SHA", 5]}}',
    b'{"tool": "covo-port", "schema": 1, "key": "KEY", "files": {"quiet.py": ["SHA", '
    b'{"kind": "python", "stages": "x"}]}}',
])
def test_a_damaged_cache_is_not_used(tmp_path: Path, damage: bytes) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"
    _apply(src, out)
    path = out / MANIFEST_DIR / CACHE_NAME
    key = json.loads(path.read_text())["key"]
    sha = hashlib.sha256((src / "quiet.py").read_bytes()).hexdigest()
    path.write_bytes(damage.replace(b"KEY", key.encode()).replace(b"SHA", sha.encode()))
    _apply(src, out)
    _apply(src, tmp_path / "fresh", cache=False)
    assert _digest(out) == _digest(tmp_path / "fresh")


def test_a_cache_that_is_a_link_is_not_read(tmp_path: Path, counting: _Counting) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"
    _apply(src, out)
    path = out / MANIFEST_DIR / CACHE_NAME
    shutil.move(path, tmp_path / "elsewhere.json")
    path.symlink_to(tmp_path / "elsewhere.json")
    first = len(counting.paths)
    _apply(src, out)
    assert len(counting.paths) == 2 * first
    assert not path.is_symlink()  # OUT got its own cache


def test_outcomes_survive_the_round_trip(tmp_path: Path) -> None:
    src = _tree(tmp_path)
    config = engine_config(get_target("npu"), RunOptions(annotate=True))
    seen = 0
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        kind, outcome = rewrite_file(path.relative_to(src).as_posix(), path.read_bytes(), config)
        data = json.loads(json.dumps(encode(kind, outcome)))
        assert decode(data) == (kind, outcome)
        seen += bool(outcome.stages or outcome.findings or outcome.error)
    assert seen > 10


def test_the_run_key_is_the_same_in_every_process_and_for_equal_options() -> None:
    def key(**options: Any) -> str:
        return run_key(engine_config(get_target("npu"), RunOptions(**options)))

    assert key(select=frozenset({"NPU001", "NPU010", "NPU004"})) == key(
        select=frozenset({"NPU004", "NPU010", "NPU001"}))
    assert key() != key(annotate=True)


def test_apply_no_cache_rewrites_every_file(tmp_path: Path, counting: _Counting) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["apply", str(src), "-o", str(out)]).exit_code in (0, 1)
    first = len(counting.paths)
    result = runner.invoke(main, ["apply", str(src), "-o", str(out), "--force", "--no-cache"])
    assert result.exit_code in (0, 1), result.output
    assert len(counting.paths) == 2 * first
    assert (out / MANIFEST_DIR / CACHE_NAME).is_file()


def test_an_engine_s_failure_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _tree(tmp_path)
    out = tmp_path / "out"

    def failing(path: str, source: bytes, config: Any) -> Any:
        if path == "latin1.py":
            raise RuntimeError("an engine's bug")
        return rewrite_file(path, source, config)

    monkeypatch.setattr(pipeline_run, "rewrite_file", failing)
    _apply(src, out)
    counter = _Counting()
    monkeypatch.setattr(pipeline_run, "rewrite_file", counter)
    _apply(src, out)
    assert counter.paths == ["latin1.py"]  # tried again; the others came from the cache
    _apply(src, tmp_path / "fresh", cache=False)
    assert _digest(out) == _digest(tmp_path / "fresh")
