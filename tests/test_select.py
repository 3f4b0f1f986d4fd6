"""Which files apply rewrites: --include / --exclude, .gitignore (on by default), generated
files. Whatever is left out is still in OUT, byte for byte, and counted in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.model import FileStatus, get_target
from covo_port.model.rule import RunOptions
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree
from covo_port.pipeline.select import FileSelection, GitIgnores, generated_marker

CUDA = 'import torch\nx = torch.zeros(3, device="cuda")\n'


def tree(root: Path, files: dict[str, str]) -> Path:
    src = root / "src"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    return src


def apply(src: Path, out: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["apply", str(src), "--out", str(out), "--no-patches",
                                       "--json", *args], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def statuses(report: dict) -> dict[str, str]:
    return {f["path"]: f["status"] for f in report["files"]}


def test_gitignored_files_are_copied_unchanged_and_counted(tmp_path: Path) -> None:
    src = tree(tmp_path, {
        ".gitignore": "build/\n*.gen.py\n!keep.gen.py\n",
        "main.py": CUDA,
        "build/old.py": CUDA,
        "pkg/a.gen.py": CUDA,
        "pkg/keep.gen.py": CUDA,
        "pkg/.gitignore": "local.py\n",
        "pkg/local.py": CUDA,
    })
    out = tmp_path / "out"
    code, report = apply(src, out)
    assert code == 0
    status = statuses(report)
    assert status["main.py"] == status["pkg/keep.gen.py"] == "changed"
    for rel in ("build/old.py", "pkg/a.gen.py", "pkg/local.py"):
        assert status[rel] == "excluded", rel
        assert (out / rel).read_bytes() == (src / rel).read_bytes(), "OUT is a complete copy"
    assert report["summary"]["excluded"] == 3
    reasons = {f["path"]: f["excluded"] for f in report["files"] if f["excluded"]}
    assert reasons["build/old.py"] == ".gitignore: build/"
    assert reasons["pkg/local.py"] == "pkg/.gitignore: local.py"
    assert {f.path: f.excluded for f in Manifest.read(out).files}["pkg/a.gen.py"] == \
        ".gitignore: *.gen.py"

    code, report = apply(src, tmp_path / "all", "--no-gitignore")
    assert report["summary"]["excluded"] == 0
    assert statuses(report)["build/old.py"] == "changed"


def test_gitignore_follows_git(tmp_path: Path) -> None:
    src = tree(tmp_path, {
        ".gitignore": "data/\n/top.py\n",
        "data/.gitignore": "!x.py\n",  # git never looks inside an ignored folder
        "data/x.py": "",
        "sub/top.py": "",
        "top.py": "",
        "deep/er/.gitignore": "*.py\n!ok.py\n",
        "deep/er/no.py": "",
        "deep/er/ok.py": "",
        "deep/no.py": "",
    })
    (src / ".git" / "info").mkdir(parents=True)
    (src / ".git" / "info" / "exclude").write_text("private.py\n")
    (src / "private.py").write_text("")
    files = [p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file()]
    ignores = GitIgnores(src, files)
    assert ignores.ignored("data/x.py") == ".gitignore: data/"
    assert ignores.ignored("top.py") == ".gitignore: /top.py"
    assert ignores.ignored("sub/top.py") is None
    assert ignores.ignored("deep/er/no.py") == "deep/er/.gitignore: *.py"
    assert ignores.ignored("deep/er/ok.py") is None
    assert ignores.ignored("deep/no.py") is None
    assert ignores.ignored("private.py") == ".git/info/exclude: private.py"


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    src = tree(tmp_path, {"a/x.py": CUDA, "a/y.py": CUDA, "b/z.py": CUDA, "run.sh":
                          "CUDA_VISIBLE_DEVICES=0 python a/x.py\n", "third_party/t.py": CUDA})
    _, report = apply(src, tmp_path / "o1", "--include", "*.py", "--exclude", "third_party/",
                      "--exclude", "a/y.py")
    status = statuses(report)
    assert status["a/x.py"] == status["b/z.py"] == "changed"
    assert status["a/y.py"] == status["run.sh"] == status["third_party/t.py"] == "excluded"
    reasons = {f["path"]: f["excluded"] for f in report["files"]}
    assert reasons["run.sh"] == "not matched by --include"
    assert reasons["third_party/t.py"] == "--exclude third_party/"
    _, report = apply(src, tmp_path / "o2", "--include", "/a/", "--include", "!a/y.py")
    status = statuses(report)
    assert status["a/x.py"] == "changed"
    assert status["a/y.py"] == status["b/z.py"] == "excluded"


def test_excluded_files_still_count_for_tree_wide_rules(tmp_path: Path) -> None:
    """NPU018 renames an attribute only where no other file uses it: an --exclude'd file is
    still part of the program (it is in OUT, unchanged), so it keeps the name in place."""
    cls = "class M:\n    def __init__(self):\n        self.cuda_config = 1\n"
    use = "def f(m):\n    return m.cuda_config\n"
    src = tree(tmp_path, {"m.py": cls, "vendor/use.py": use})
    out = tmp_path / "out"
    apply(src, out, "--exclude", "vendor/")
    assert (out / "m.py").read_text() == cls
    (src / "vendor" / "use.py").unlink()
    apply(src, tmp_path / "alone")
    assert "self.npu_config" in (tmp_path / "alone" / "m.py").read_text(), "confined: renamed"


def test_excluded_files_are_not_read_for_findings(tmp_path: Path) -> None:
    src = tree(tmp_path, {"big.py": "x = 'cuda'\n" * 10, "main.py": CUDA})
    with (src / "big.py").open("ab") as handle:
        handle.truncate(11 * 2**20)  # over the rewrite limit: a warning unless excluded
    code, report = apply(src, tmp_path / "out", "--exclude", "big.py")
    assert code == 0 and not report["findings"]
    assert statuses(report)["big.py"] == "excluded"


@pytest.mark.parametrize(("text", "found"), [
    ("# @generated by tool\nimport torch\n", (1, "@generated")),
    ('"""Doc."""\n# Code generated by protoc-gen. DO NOT EDIT.\n',
     (2, "generated by protoc-gen. DO NOT EDIT")),
    ("# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n",
     (2, "Generated by the protocol buffer compiler.  DO NOT EDIT")),
    ("x = '@generated'\n", None),  # not a comment
    ("import torch\n" * 10 + "# @generated\n", None),  # not in the first lines
    ("# generated once, edit freely\n", None),
])
def test_generated_marker(text: str, found: tuple[int, str] | None) -> None:
    assert generated_marker(text.encode()) == found


def test_generated_files_are_left_with_a_finding(tmp_path: Path) -> None:
    src = tree(tmp_path, {
        "proto_pb2.py": "# Code generated by protoc. DO NOT EDIT.\n" + CUDA,
        "plain_pb2.py": "# @generated\nx = 1\n",  # nothing to port: no finding
        "main.py": CUDA,
    })
    out = tmp_path / "out"
    code, report = apply(src, out)
    assert code == 0, "a warning: exit 0"
    status = statuses(report)
    assert status["proto_pb2.py"] == "excluded" and status["plain_pb2.py"] == "unchanged"
    assert (out / "proto_pb2.py").read_bytes() == (src / "proto_pb2.py").read_bytes()
    (finding,) = [f for f in report["findings"] if f["path"] == "proto_pb2.py"]
    assert finding["rule"] == "NPU000" and finding["severity"] == "warning"
    assert finding["line"] == 1 and "marked generated" in finding["message"]
    assert "2 rewrite(s)" in finding["message"]
    assert not [c for c in report["changes"] if c["path"] == "proto_pb2.py"]


def test_api_without_a_selection_rewrites_every_file(tmp_path: Path) -> None:
    src = tree(tmp_path, {".gitignore": "*.py\n", "main.py": CUDA})
    result = apply_tree(src, tmp_path / "out", get_target("npu"), RunOptions())
    assert result.manifest.files[-1].status is FileStatus.CHANGED
    result = apply_tree(src, None, get_target("npu"), RunOptions(), check=True,
                        selection=FileSelection())
    assert result.manifest.files[-1].status is FileStatus.EXCLUDED


def test_gitignored_files_are_not_part_of_the_program(tmp_path: Path) -> None:
    """A gitignored copy (a build folder, a venv) is not in the repository the patches apply
    to: it does not stop NPU018 from renaming an attribute the project alone uses."""
    cls = "class M:\n    def __init__(self):\n        self.cuda_config = 1\n"
    src = tree(tmp_path, {".gitignore": "build/\n", "m.py": cls,
                          "build/lib/m.py": cls + "print(M().cuda_config)\n"})
    out = tmp_path / "out"
    apply(src, out)
    assert "self.npu_config" in (out / "m.py").read_text()
