"""Helpers written once per package (issue 12, class 10): the modules of a package that a rule
rewrites import its helper from one support module that apply adds to OUT, in that rule's
commit; where such an import is not certain to work, the module keeps its own copy and the
change says why. The ported modules are executed on the simulated Ascend host."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.model import SUPPORT_MODULE, FileStatus, RunOptions, get_target
from covo_port.pipeline.gitout import base_commit, rule_commits
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import apply_tree
from covo_port.verify.emulation import shim_path

from .gitrepo import git

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = f"pkg/{SUPPORT_MODULE}.py"


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


#: three modules of one package (two levels of it), each with its own relative import
PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/util.py": "def peak(x):\n    return float(x.abs().max())\n",
    "pkg/a.py": """\
        import torchaudio

        from .util import peak


        def read(path):
            wav, sr = torchaudio.load(path)
            return peak(wav), sr
        """,
    "pkg/b.py": """\
        \"\"\"Frames.\"\"\"
        from torchaudio import load as load_audio
        from . import util


        def frames(path):
            return load_audio(path, num_frames=100)[0].shape[1]
        """,
    "pkg/sub/__init__.py": "",
    "pkg/sub/c.py": """\
        import torchaudio
        from ..util import peak


        def channels(path):
            return torchaudio.load(path)[0].shape[0]
        """,
}


def _apply(src: Path, out: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["apply", str(src), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return result.output


def _run_on_ascend(out: Path, code: str) -> dict:
    """Run ``code`` in OUT on the simulated Ascend host (the NPU emulation installed); it
    prints one JSON line."""
    env = {"PYTHONPATH": f"{shim_path()}:{ROOT}", "PATH": "/usr/bin:/bin"}
    script = "from covo_port.verify import emulation; emulation.install()\n" + code
    proc = subprocess.run([sys.executable, "-c", script], cwd=out, capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "stereo.wav"
    samples = np.stack([np.linspace(-0.5, 0.5, 800), np.zeros(800)], 1)
    soundfile.write(path, samples, 16000, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def ported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("support")
    src = _write(root / "src", PACKAGE)
    return src, root / "out", _apply(src, root / "out")


def test_three_package_modules_import_one_support_module(ported: tuple[Path, Path, str],
                                                         wav: Path) -> None:
    src, out, printed = ported
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob(f"{SUPPORT_MODULE}*")) == [
        SUPPORT]
    support = (out / SUPPORT).read_text()
    assert support.count("def _torchaudio_load(") == 1 and "not an NPU fix" in support
    for rel, dots in (("pkg/a.py", "."), ("pkg/b.py", "."), ("pkg/sub/c.py", "..")):
        text = (out / rel).read_text()
        assert f"from {dots}{SUPPORT_MODULE} import _torchaudio_load\n" in text
        assert "def _torchaudio_load" not in text and "_torchaudio_load(path" in text
    assert not (src / SUPPORT).exists()  # the source is never written
    assert f"added: {SUPPORT}" in printed
    # executed: every ported module imports, and its function reads the file (torchaudio here
    # has no torchcodec: the helper's soundfile fallback is what runs)
    got = _run_on_ascend(out, f"""
import json
from pkg.a import read
from pkg.b import frames
from pkg.sub.c import channels
print(json.dumps([read({str(wav)!r}), frames({str(wav)!r}), channels({str(wav)!r})]))
""")
    assert got == [[0.5, 16000], 100, 2]


def test_the_support_module_is_listed_and_in_the_rule_commit(
        ported: tuple[Path, Path, str]) -> None:
    _, out, _ = ported
    record = next(r for r in Manifest.read(out).files if r.path == SUPPORT)
    assert record.status is FileStatus.ADDED and record.rules == ["NPU008"]
    base = base_commit(out)
    assert base is not None
    assert SUPPORT not in git("ls-tree", "-r", "--name-only", base, cwd=out).split()
    (rule, sha), = rule_commits(out)
    assert rule == "NPU008"
    assert git("show", "--format=", "--name-status", sha, cwd=out).splitlines()[0] == (
        f"A\t{SUPPORT}")
    message = git("log", "-1", "--format=%B", sha, cwd=out)
    assert "Not an NPU fix: torchaudio 2.9 decodes only through torchcodec" in message
    assert "A reviewer may drop this commit" in message
    assert f"{SUPPORT}: added, with _torchaudio_load" in message
    patches = sorted((out / ".covo-port" / "patches").glob("*.patch"))
    assert f"+++ b/{SUPPORT}" in patches[0].read_text()


def test_diff_shows_the_added_file(ported: tuple[Path, Path, str]) -> None:
    _, out, _ = ported
    shown = CliRunner().invoke(main, ["diff", str(out), "--no-color"])
    assert shown.exit_code == 0
    assert f"--- /dev/null\n+++ b/{SUPPORT}\n" in shown.output
    assert "+def _torchaudio_load(" in shown.output
    stat = CliRunner().invoke(main, ["diff", str(out), "--stat"])
    assert SUPPORT in stat.output


def test_a_second_apply_changes_nothing(ported: tuple[Path, Path, str], tmp_path: Path) -> None:
    _, out, _ = ported
    again = tmp_path / "again"
    result = apply_tree(out, again, get_target("npu"), RunOptions(), jobs=1)
    assert not result.pending and not result.manifest.changes
    for rel in (SUPPORT, "pkg/a.py", "pkg/sub/c.py"):
        assert (again / rel).read_bytes() == (out / rel).read_bytes()


def test_a_new_use_on_a_second_apply_imports_the_existing_support_module(
        ported: tuple[Path, Path, str], tmp_path: Path) -> None:
    _, out, _ = ported
    src = tmp_path / "src"
    for path in out.rglob("*.py"):
        if ".covo-port" not in path.parts:
            _write(src, {path.relative_to(out).as_posix(): path.read_text()})
    _write(src, {"pkg/d.py": "import torchaudio\nfrom . import a\nx = torchaudio.load\n"
                             "def f(p):\n    return torchaudio.load(p)\n"})
    result = apply_tree(src, tmp_path / "out", get_target("npu"), RunOptions(), jobs=1)
    assert [r.path for r in result.manifest.files if r.status is FileStatus.ADDED] == []
    text = (tmp_path / "out" / "pkg" / "d.py").read_text()
    assert f"from .{SUPPORT_MODULE} import _torchaudio_load" in text
    assert (tmp_path / "out" / SUPPORT).read_bytes() == (out / SUPPORT).read_bytes()


@pytest.mark.parametrize(("files", "module", "why"), [
    ({"scripts/run.py": "import torchaudio\n\n\ndef main(p):\n    return torchaudio.load(p)[1]\n"},
     "scripts/run.py", "not a package"),
    ({"pkg/__init__.py": "", "pkg/abs.py": "import torchaudio\nfrom pkg import util\n\n\n"
                                           "def main(p):\n    return torchaudio.load(p)[1]\n",
      "pkg/util.py": ""},
     "pkg/abs.py", "no relative import"),
    ({"pkg/__init__.py": "", "pkg/util.py": "", f"pkg/{SUPPORT_MODULE}.py": "MINE = 1\n",
      "pkg/m.py": "import torchaudio\nfrom . import util\n\n\n"
                  "def main(p):\n    return torchaudio.load(p)[1]\n"},
     "pkg/m.py", "is not covo-port's"),
    ({"pkg/__init__.py": "", "pkg/util.py": "", f"pkg/{SUPPORT_MODULE}/__init__.py": "",
      "pkg/m.py": "import torchaudio\nfrom . import util\n\n\n"
                  "def main(p):\n    return torchaudio.load(p)[1]\n"},
     "pkg/m.py", "is not covo-port's"),
], ids=["script-folder", "absolute-imports", "clash-file", "clash-folder"])
def test_where_the_import_is_not_certain_the_module_keeps_its_copy(
        tmp_path: Path, wav: Path, files: dict[str, str], module: str, why: str) -> None:
    src = _write(tmp_path / "src", files)
    out = tmp_path / "out"
    result = apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    assert [r.path for r in result.manifest.files if r.status is FileStatus.ADDED] == []
    text = (out / module).read_text()
    assert "def _torchaudio_load(" in text and "_covo_port_npu import" not in text
    assert any(why in c.message for c in result.manifest.changes if c.path == module)
    for rel in files.keys() - {module}:  # the source's own support-like files stay as they are
        assert (out / rel).read_text() == (src / rel).read_text()
    name = module.removesuffix(".py").replace("/", ".")
    got = _run_on_ascend(out / module.split("/")[0] if module.startswith("scripts/") else out,
                         f"import json, runpy\n"
                         f"ns = runpy.run_path({str(out / module)!r})\n"
                         f"print(json.dumps(ns['main']({str(wav)!r})))\n"
                         if module.startswith("scripts/") else
                         f"import json, importlib\n"
                         f"m = importlib.import_module({name!r})\n"
                         f"print(json.dumps(m.main({str(wav)!r})))\n")
    assert got == 16000


def test_a_module_imports_from_the_highest_folder_its_imports_reach(tmp_path: Path) -> None:
    src = _write(tmp_path / "src", {
        "pkg/__init__.py": "", "pkg/sub/__init__.py": "", "pkg/sub/x.py": "",
        "pkg/sub/near.py": "import torchaudio\nfrom . import x\ny = torchaudio.load('a')\n",
    })
    out = tmp_path / "out"
    result = apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    added = [r.path for r in result.manifest.files if r.status is FileStatus.ADDED]
    assert added == [f"pkg/sub/{SUPPORT_MODULE}.py"]  # one dot proves the own folder only
    assert f"from .{SUPPORT_MODULE} import _torchaudio_load" in (
        out / "pkg/sub/near.py").read_text()


SDP = """\
    import torch
    import torchaudio
    from . import util


    def attend(q, flash):
        with torch.backends.cuda.sdp_kernel(enable_flash=flash):
            return torchaudio.load(q)
    """


def test_each_rule_adds_its_helpers_to_the_support_module_in_its_own_commit(
        tmp_path: Path) -> None:
    src = _write(tmp_path / "src", {"pkg/__init__.py": "", "pkg/util.py": "", "pkg/m.py": SDP})
    out = tmp_path / "out"
    _apply(src, out, "--no-patches")
    text = (out / "pkg/m.py").read_text()
    assert f"from .{SUPPORT_MODULE} import _sdpa_backends\n" in text
    assert f"from .{SUPPORT_MODULE} import _torchaudio_load\n" in text
    commits = dict(rule_commits(out))
    first = git("show", f"{commits['NPU007']}:{SUPPORT}", cwd=out)
    last = git("show", f"{commits['NPU008']}:{SUPPORT}", cwd=out)
    assert "def _sdpa_backends(" in first and "def _torchaudio_load(" not in first
    assert "def _sdpa_backends(" in last and "def _torchaudio_load(" in last
    assert "not an NPU fix" not in first and "not an NPU fix" in last
    got = _run_on_ascend(out, "import json\nfrom pkg._covo_port_npu import _sdpa_backends\n"
                              "import pkg.m\nprint(json.dumps(len(_sdpa_backends(False))))\n")
    assert got == 3


def test_rules_say_which_rewrite_fixes_a_problem_that_is_not_the_npu_s() -> None:
    runner = CliRunner()
    table = runner.invoke(main, ["rules", "--markdown"]).output
    npu008 = next(line for line in table.splitlines() if line.startswith("| NPU008 |"))
    assert "rewrites (non-NPU fix)" in npu008
    shown = runner.invoke(main, ["rules", "NPU008"]).output
    assert "not an NPU fix: torchaudio 2.9" in shown
    data = json.loads(runner.invoke(main, ["rules", "NPU008", "--json"]).output)
    assert "torchcodec" in data[0]["fixes_non_npu"]
