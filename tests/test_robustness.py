"""Input that `apply` must survive: each case says what the user sees (one line naming the path
or option, the exit code), that SRC is untouched, and that no partial OUT or temporary sibling
folder is left behind (issue 7)."""

from __future__ import annotations

import ast
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import libcst as cst
import pytest
from click.testing import CliRunner

from covo_port.cli import main
from covo_port.pipeline.manifest import Manifest

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
DEVICE_LINE = b'x = torch.device("cuda")'
PORTED_LINE = b'x = torch.device("npu")'


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.output


def apply(src: Path, out: Path, *extra: str) -> tuple[int, str]:
    return run("apply", src, "--out", out, "--no-patches", *extra)


def fingerprint(root: Path) -> str:
    """Everything under ``root`` (never following links): paths, kinds, modes, link targets and
    file contents (size and mtime where a file cannot be read)."""
    digest = hashlib.sha256()
    if not os.path.lexists(root):
        return "absent"
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            st = os.lstat(path)
            digest.update(f"{path.relative_to(root)}\0{st.st_mode}\0".encode())
            if stat.S_ISLNK(st.st_mode):
                digest.update(os.fsencode(os.readlink(path)))
            elif stat.S_ISREG(st.st_mode):
                try:
                    digest.update(path.read_bytes())
                except PermissionError:
                    digest.update(f"{st.st_size}\0{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def leftovers(out: Path) -> list[Path]:
    """Temporary folders of an apply into ``out`` (``.out.covo-port-*``) still lying about."""
    return sorted(out.parent.glob(f".{out.name}.covo-port-*"))


def previous_out(out: Path) -> None:
    """An earlier output of apply at ``out`` (what --force may replace)."""
    out.mkdir()
    (out / "previous.txt").write_text("the last port")
    Manifest(version="0", target="npu", source="/elsewhere").write(out)


def error_line(output: str) -> str:
    """The single line of an input error (exit 2)."""
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("covo-port: error: "), output
    return lines[0]


def finding(out: Path, path: str) -> tuple[int, str, str]:
    """(line, severity, message) of the engine's one finding (NPU000) on ``path``."""
    found = [f for f in Manifest.read(out).findings if f.path == path and f.rule == "NPU000"]
    assert len(found) == 1, found
    return found[0].line, found[0].severity.value, found[0].message


def make_src(root: Path, files: dict[str, bytes]) -> Path:
    src = root / "src"
    src.mkdir()
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    return src


GOOD = b'import torch\n' + DEVICE_LINE + b'\n'


# -- Python that cannot be parsed: copied unchanged, reported with file:line, exit 1 ------------

def _deep(opening: str, closing: str, depth: int) -> bytes:
    return GOOD + f"y = {opening * depth}{closing * depth}\n".encode()


def _python_recursion() -> tuple[bytes, int, str]:
    """A unary chain: some Pythons' parsers give up on it (RecursionError), others take it and
    the engine refuses it as too deep for libcst."""
    source = GOOD + b"y = " + b"-" * 5000 + b"1\n"
    try:
        ast.parse(source)
    except RecursionError:
        return source, 1, ("cannot parse: too deeply nested (RecursionError in Python's own "
                           "parser too)")
    return source, 3, "nested 5002 levels deep: more than libcst can parse safely (1000)"


#: name -> (source, line reported, words of the message)
UNPARSABLE: dict[str, tuple[bytes, int, str]] = {
    "py2_print.py": (b'import torch\nprint "on", torch.device("cuda")\n', 2,
                     "cannot parse: SyntaxError: Missing parentheses in call to 'print'"),
    "py2_octal.py": (GOOD + b"mode = 0755\n", 3, "cannot parse: SyntaxError: leading zeros in "
                     "decimal integer literals are not permitted; use an 0o prefix for octal "
                     "integers"),
    "python_limit.py": (_deep("[", "]", 250), 3,
                        "cannot parse: SyntaxError: too many nested parentheses"),
    "libcst_recursion.py": (_deep("[", "]", 190), 3,
                            "too deeply nested for libcst (Python's recursion limit)"),
    "python_recursion.py": _python_recursion(),
    "libcst_grammar.py": (GOOD + b"y = " + b" ".join([b'"a"'] * 5000) + b"\n", 3,
                          "cannot parse: libcst cannot parse it: Syntax Error @ 3:1."),
    "null_byte.py": (GOOD + b"y = 1\n" * 3000 + b'z = "\0"\n', 3003,
                     "cannot parse: a null byte in the source (Python refuses it too)"),
    "bad_utf8.py": (GOOD + b's = "\xff"\n', 3, "cannot parse: SyntaxError: (unicode error) "
                    "'utf-8' codec can't decode byte 0xff"),
    "unknown_cookie.py": (b"# -*- coding: klingon -*-\n" + GOOD, 1,
                          "cannot parse: SyntaxError: unknown encoding: klingon"),
    # libcst prints `except E :` back without its blank: an edit on that line cannot be made
    "edit_on_unfaithful_line.py": (b"import torch\ntry:\n    pass\n"
                                   b"except torch.cuda.OutOfMemoryError :\n    pass\n", 4,
                                   "an edit falls on a line that libcst does not print back "
                                   "byte for byte"),
}


@pytest.fixture(scope="module")
def unparsable_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path, Path]:
    root = tmp_path_factory.mktemp("unparsable")
    src = make_src(root, {"good.py": GOOD, **{n: s for n, (s, _, _) in UNPARSABLE.items()}})
    before = fingerprint(src)
    code, output = apply(src, root / "out")
    assert fingerprint(src) == before
    assert not leftovers(root / "out")
    return code, output, src, root / "out"


@pytest.mark.parametrize("name", sorted(UNPARSABLE))
def test_unparsable_python_is_copied_and_reported(
        unparsable_run: tuple[int, str, Path, Path], name: str) -> None:
    code, output, src, out = unparsable_run
    _, line, message = UNPARSABLE[name]
    assert code == 1, "errors make the run exit 1, so CI notices"
    assert (out / name).read_bytes() == (src / name).read_bytes()
    reported_line, severity, text = finding(out, name)
    assert (reported_line, severity) == (line, "error")
    assert text.startswith(message) and text.endswith("; copied unchanged")
    printed = [row for row in output.splitlines() if row.startswith(f"{name}:")]
    assert printed == [f"{name}:{line}:1: NPU000 error: {text}"]


def test_the_run_goes_on_past_unparsable_files(unparsable_run: tuple[int, str, Path, Path]
                                               ) -> None:
    _, _, src, out = unparsable_run
    assert PORTED_LINE in (out / "good.py").read_bytes()
    copied = {p.name for p in out.iterdir() if p.is_file()}
    assert copied == {p.name for p in src.iterdir()}, "OUT is whole"
    statuses = {f.path: f.status for f in Manifest.read(out).files}
    assert statuses == {"good.py": "changed", **dict.fromkeys(UNPARSABLE, "failed")}


def test_nesting_that_crashes_libcst_is_refused_before_it(tmp_path: Path) -> None:
    """libcst's native parser overflows its stack on a long `and` chain (the process dies with
    SIGSEGV): the engine refuses the file first. Run in a subprocess, so a regression shows as a
    failed test rather than a dead test run."""
    chain = b"ok = x" + b" and x" * 6000 + b"\n"
    src = make_src(tmp_path, {"chain.py": GOOD + chain, "good.py": GOOD})
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "covo_port", "apply", str(src), "--out",
                           str(out), "--no-patches", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    [refused] = [f for f in data["findings"] if f["path"] == "chain.py"]
    assert (refused["line"], refused["severity"]) == (3, "error")
    assert re.fullmatch(r"nested 6\d\d\d levels deep: more than libcst can parse safely "
                        r"\(1000\); copied unchanged", refused["message"])
    assert (out / "chain.py").read_bytes() == GOOD + chain
    assert PORTED_LINE in (out / "good.py").read_bytes()


def test_a_failing_rule_costs_one_file_not_the_run(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from covo_port.rewrites.npu001_device_strings import DeviceStrings

    real = DeviceStrings.visit_Call

    def visit_call(self: DeviceStrings, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "boom":
            raise KeyError("boom")
        real(self, node)

    monkeypatch.setattr(DeviceStrings, "visit_Call", visit_call)
    src = make_src(tmp_path, {"bad.py": GOOD + b"boom()\n", "good.py": GOOD})
    out = tmp_path / "out"
    code, _ = apply(src, out, "--jobs", "1")  # the patched rule runs in this process
    assert code == 1
    line, severity, message = finding(out, "bad.py")
    assert (line, severity) == (1, "error")
    assert message.startswith("internal error (KeyError: 'boom' at test_robustness.py:")
    assert message.endswith("; please report); copied unchanged")
    assert (out / "bad.py").read_bytes() == GOOD + b"boom()\n"
    assert PORTED_LINE in (out / "good.py").read_bytes()


# -- encodings and line endings: byte-exact outside the edit -------------------------------------

IMPORT = b"import torch_npu"

#: name -> (source, expected output)
ENCODINGS: dict[str, tuple[bytes, bytes]] = {
    "bom.py": (b"\xef\xbb\xbfimport torch\n" + DEVICE_LINE + b"\n",
               b"\xef\xbb\xbfimport torch\n" + IMPORT + b"\n" + PORTED_LINE + b"\n"),
    "latin1.py": (b"# -*- coding: latin-1 -*-\nimport torch\nname = 'caf\xe9'\n" + DEVICE_LINE
                  + b"  # \xe0 la carte\n",
                  b"# -*- coding: latin-1 -*-\nimport torch\n" + IMPORT + b"\nname = 'caf\xe9'\n"
                  + PORTED_LINE + b"  # \xe0 la carte\n"),
    "gbk.py": (b"# coding: gbk\nimport torch\n" + DEVICE_LINE + b"  # \xd6\xd0\xce\xc4\n",
               b"# coding: gbk\nimport torch\n" + IMPORT + b"\n" + PORTED_LINE
               + b"  # \xd6\xd0\xce\xc4\n"),
    "crlf.py": (b"import torch\r\n" + DEVICE_LINE + b"\r\ny = 1\r\n",
                b"import torch\r\n" + IMPORT + b"\r\n" + PORTED_LINE + b"\r\ny = 1\r\n"),
    "mixed.py": (b"import torch\r\n" + DEVICE_LINE + b"\ny = 1\r\nz = 2\n",
                 b"import torch\r\n" + IMPORT + b"\r\n" + PORTED_LINE + b"\ny = 1\r\nz = 2\n"),
    "cr.py": (b"import torch\r" + DEVICE_LINE + b"\ry = 1\r",
              b"import torch\r" + IMPORT + b"\r" + PORTED_LINE + b"\ry = 1\r"),
    "cr_last_line.py": (b"import torch\rmodel = 1\r" + DEVICE_LINE + b"\r",
                        b"import torch\r" + IMPORT + b"\rmodel = 1\r" + PORTED_LINE + b"\r"),
    "tabs_formfeed.py": (b"import torch\n\x0c\nif True:\n\t" + DEVICE_LINE + b"\t# tab\n\x0c\n"
                         b"def f():\n\treturn 1\n",
                         b"import torch\n" + IMPORT + b"\n\x0c\nif True:\n\t" + PORTED_LINE
                         + b"\t# tab\n\x0c\ndef f():\n\treturn 1\n"),
    "no_newline.py": (b"import torch\n" + DEVICE_LINE,
                      b"import torch\n" + IMPORT + b"\n" + PORTED_LINE),
    "except_blank.py": (b"import torch\r\ntry:\r\n    pass\r\nexcept ValueError :\r\n    "
                        + DEVICE_LINE + b"\r\n",
                        b"import torch\r\n" + IMPORT + b"\r\ntry:\r\n    pass\r\n"
                        b"except ValueError :\r\n    " + PORTED_LINE + b"\r\n"),
    "run.sh": (b"#!/bin/bash\r\n# caf\xe9\r\nCUDA_VISIBLE_DEVICES=0 python x.py\r\n",
               b"#!/bin/bash\r\n# caf\xe9\r\nASCEND_RT_VISIBLE_DEVICES=0 python x.py\r\n"),
}


@pytest.fixture(scope="module")
def encodings_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, Path]:
    root = tmp_path_factory.mktemp("encodings")
    src = make_src(root, {name: before for name, (before, _) in ENCODINGS.items()})
    before = fingerprint(src)
    code, _ = apply(src, root / "out")
    assert fingerprint(src) == before
    return code, src, root / "out"


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_rewrites_keep_encoding_and_line_endings(encodings_run: tuple[int, Path, Path],
                                                 name: str) -> None:
    code, _, out = encodings_run
    assert code == 0
    assert (out / name).read_bytes() == ENCODINGS[name][1]
    assert not [f for f in Manifest.read(out).findings if f.rule == "NPU000"]


def test_file_names_that_are_not_utf8_or_hold_a_line_break(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    names = [os.fsencode(src) + b"/caf\xe9.py", os.fsencode(src) + b"/two\nlines.py"]
    try:
        for name in names:
            Path(os.fsdecode(name)).write_bytes(GOOD)
    except OSError:
        pytest.skip("this file system takes UTF-8 names only")
    out = tmp_path / "out"
    code, _ = apply(src, out)
    assert code == 0
    for name in names:
        ported = out / os.path.basename(os.fsdecode(name))
        assert ported.read_bytes() == b"import torch\n" + IMPORT + b"\n" + PORTED_LINE + b"\n"
    records = {f.path: f.status for f in Manifest.read(out).files}
    assert records == {os.fsdecode(b"caf\xe9.py"): "changed", "two\nlines.py": "changed"}


# -- binary, empty, huge, symlinks, FIFOs --------------------------------------------------------

HUGE = 10 * 1024 * 1024 + 1
LARGE_PYTHON = 2 * 1024 * 1024 + 1


@pytest.fixture(scope="module")
def kinds_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path, Path, Path]:
    root = tmp_path_factory.mktemp("kinds")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.py").write_bytes(GOOD)
    src = make_src(root, {
        "binary.py": b"\x00\x01" + GOOD,
        "image.png": b"\x89PNG\r\n\x1a\n\x00cuda:0",
        "empty.py": b"",
        "empty.sh": b"",
        "huge.py": GOOD + b"#" * (HUGE - len(GOOD) - 1) + b"\n",
        "large.py": GOOD + b"#" * (LARGE_PYTHON - len(GOOD) - 1) + b"\n",
        "pkg/mod.py": GOOD,
    })
    links = {
        "to_file.py": "pkg/mod.py",
        "to_folder": "pkg",
        "dangling.py": "missing.py",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "self_loop": "self_loop",
        "pkg/up_and_out.py": "../../outside/secret.py",
        "absolute_out": str(outside),
        "escape_folder": "../outside",
    }
    for name, target in links.items():
        os.symlink(target, src / name)
    os.mkfifo(src / "pipe")
    before_src, before_outside = fingerprint(src), fingerprint(outside)
    code, output = apply(src, root / "out")
    assert fingerprint(src) == before_src
    assert fingerprint(outside) == before_outside, "nothing outside SRC is touched"
    assert not leftovers(root / "out")
    return code, output, src, root / "out", outside


def test_kinds_run_completes_with_warnings_only(
        kinds_run: tuple[int, str, Path, Path, Path]) -> None:
    code, _, _, out, _ = kinds_run
    assert code == 0
    assert {f.severity.value for f in Manifest.read(out).findings if f.rule == "NPU000"} == {
        "warning"}


@pytest.mark.parametrize("name", ["binary.py", "image.png", "empty.py", "empty.sh"])
def test_binary_and_empty_files_are_copied_byte_for_byte(
        kinds_run: tuple[int, str, Path, Path, Path], name: str) -> None:
    _, _, src, out, _ = kinds_run
    assert (out / name).read_bytes() == (src / name).read_bytes()
    record = next(f for f in Manifest.read(out).files if f.path == name)
    assert record.status == "unchanged"
    assert record.kind == ("binary" if name in ("binary.py", "image.png") else
                           "python" if name.endswith(".py") else "shell")


def test_huge_file_is_copied_unchanged_with_a_warning(
        kinds_run: tuple[int, str, Path, Path, Path]) -> None:
    _, output, src, out, _ = kinds_run
    assert (out / "huge.py").read_bytes() == (src / "huge.py").read_bytes()
    line, severity, message = finding(out, "huge.py")
    assert (line, severity) == (1, "warning")
    assert message == "10.0 MB: larger than the 10 MB rewrite limit; copied unchanged"
    assert f"huge.py:1:1: NPU000 warning: {message}" in output.splitlines()


def test_large_python_is_copied_unchanged_with_a_warning(
        kinds_run: tuple[int, str, Path, Path, Path]) -> None:
    """Python that libcst would need gigabytes for is not parsed."""
    _, output, src, out, _ = kinds_run
    assert (out / "large.py").read_bytes() == (src / "large.py").read_bytes()
    line, severity, message = finding(out, "large.py")
    assert (line, severity) == (1, "warning")
    assert message == ("2.0 MB of Python: larger than the 2 MB that libcst rewrites in "
                       "reasonable memory; copied unchanged")
    assert f"large.py:1:1: NPU000 warning: {message}" in output.splitlines()


def test_symlinks_are_copied_as_links_and_never_followed(
        kinds_run: tuple[int, str, Path, Path, Path]) -> None:
    _, _, src, out, outside = kinds_run
    links = ["to_file.py", "to_folder", "dangling.py", "loop_a", "loop_b", "self_loop",
             "pkg/up_and_out.py", "absolute_out", "escape_folder"]
    for name in links:
        assert (out / name).is_symlink(), name
        assert os.readlink(out / name) == os.readlink(src / name), name
    records = {f.path: f for f in Manifest.read(out).files}
    assert {records[n].kind for n in links} == {"symlink"}
    assert {records[n].status for n in links} == {"copied"}
    # what the links point to is processed once, where it lives in SRC, and never outside it
    assert PORTED_LINE in (out / "pkg/mod.py").read_bytes()
    assert not [p for p in records if p.startswith(("to_folder/", "escape_folder/",
                                                    "absolute_out/"))]
    assert (outside / "secret.py").read_bytes() == GOOD


def test_fifo_is_skipped_and_reported(kinds_run: tuple[int, str, Path, Path, Path]) -> None:
    _, output, _, out, _ = kinds_run
    assert not os.path.lexists(out / "pipe")
    _, severity, message = finding(out, "pipe")
    assert (severity, message) == ("warning",
                                   "not a regular file (FIFO, socket or device): skipped")
    assert f"pipe:1:1: NPU000 warning: {message}" in output.splitlines()
    assert next(f for f in Manifest.read(out).files if f.path == "pipe").status == "skipped"


# -- unreadable files and folders ----------------------------------------------------------------

@pytest.fixture(params=["chmod", "patched"])
def unreadable(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[Callable[[Path], None]]:
    """Make a file or folder unreadable: really (chmod 000; root reads anything, so skipped
    there) or by making the reads fail the way they would."""
    locked: list[Path] = []

    def lock(path: Path) -> None:
        locked.append(path)
        if request.param == "chmod":
            path.chmod(0)

    if request.param == "chmod" and IS_ROOT:
        pytest.skip("root reads files whatever their mode")
    if request.param == "patched":
        read_bytes, scandir = Path.read_bytes, os.scandir

        def denied(path: object) -> OSError:
            return PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

        def fake_read_bytes(self: Path) -> bytes:
            if self in locked:
                raise denied(self)
            return read_bytes(self)

        def fake_scandir(path: str | Path = ".") -> Iterator[os.DirEntry[str]]:
            if Path(path) in locked:
                raise denied(path)
            return scandir(path)

        monkeypatch.setattr(Path, "read_bytes", fake_read_bytes)
        monkeypatch.setattr(os, "scandir", fake_scandir)
    yield lock
    for path in locked:
        path.chmod(0o755)


def test_unreadable_file_and_folder_are_reported_not_skipped_silently(
        tmp_path: Path, unreadable: Callable[[Path], None]) -> None:
    src = make_src(tmp_path, {"secret.py": GOOD, "locked/inner.py": GOOD, "good.py": GOOD})
    unreadable(src / "secret.py")
    unreadable(src / "locked")
    before = fingerprint(src)
    out = tmp_path / "out"
    code, output = apply(src, out, "--jobs", "1")  # patched reads happen in this process
    assert code == 1
    assert fingerprint(src) == before
    assert finding(out, "secret.py") == (
        1, "error", "cannot read: Permission denied; it is not in OUT")
    assert finding(out, "locked") == (
        1, "error", "cannot read this folder: Permission denied; it is not in OUT")
    assert "secret.py:1:1: NPU000 error: cannot read: Permission denied; it is not in OUT" in (
        output.splitlines())
    assert not os.path.lexists(out / "secret.py") and not os.path.lexists(out / "locked")
    assert PORTED_LINE in (out / "good.py").read_bytes()
    assert not leftovers(out)


# -- paths that make no sense: one line, exit 2, SRC untouched, nothing written -----------------

def _path_cases(tmp: Path, src: Path) -> dict[str, tuple[list[str | Path], str]]:
    """name -> (arguments after `apply`, the whole error line after "covo-port: error: ")."""
    (tmp / "a_file").write_text("x")
    (tmp / "full").mkdir()
    (tmp / "full" / "mine.txt").write_text("mine")
    os.symlink(src, tmp / "alias")
    return {
        "src_missing": ([tmp / "nope", "--out", tmp / "out"],
                        f"source {tmp / 'nope'} does not exist"),
        "src_is_a_file": ([src / "a.py", "--out", tmp / "out"],
                          f"source {src / 'a.py'} is not a folder (give the root of the project "
                          "to port)"),
        "out_is_src": ([src, "--out", src],
                       f"output {src} is the source itself; the source is never modified"),
        "out_is_src_spelled_otherwise": ([src, "--out", tmp / "alias"],
                                         f"output {tmp / 'alias'} is the source itself; the "
                                         "source is never modified"),
        "out_inside_src": ([src, "--out", src / "ported"],
                           f"output {src / 'ported'} is inside the source {src}; put it beside "
                           "the source"),
        "out_inside_src_through_a_link": ([src, "--out", tmp / "alias" / "ported"],
                                          f"output {tmp / 'alias' / 'ported'} is inside the "
                                          f"source {src}; put it beside the source"),
        "out_contains_src": ([src, "--out", tmp],
                             f"output {tmp} contains the source {src}; choose another output"),
        "out_is_a_file": ([src, "--out", tmp / "a_file"],
                          f"output {tmp / 'a_file'} exists and is not a folder"),
        "out_not_empty": ([src, "--out", tmp / "full"],
                          f"output {tmp / 'full'} exists and is not empty (use --force to "
                          "replace it)"),
    }


@pytest.mark.parametrize("case", [
    "src_missing", "src_is_a_file", "out_is_src", "out_is_src_spelled_otherwise",
    "out_inside_src", "out_inside_src_through_a_link", "out_contains_src", "out_is_a_file",
    "out_not_empty"])
def test_bad_paths_are_refused(tmp_path: Path, case: str) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    args, message = _path_cases(tmp_path, src)[case]
    out = Path(args[-1])
    before_src, before_out, before_tmp = fingerprint(src), fingerprint(out), fingerprint(tmp_path)
    code, output = run("apply", *args, "--no-patches")
    assert code == 2
    assert error_line(output) == f"covo-port: error: {message}"
    assert (fingerprint(src), fingerprint(out)) == (before_src, before_out)
    assert fingerprint(tmp_path) == before_tmp, "nothing written anywhere"


def test_unreadable_source_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    if IS_ROOT:  # root may read anything: make the permission check say what it would
        monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: Path(path) != src)
    else:
        src.chmod(0)
    try:
        code, output = apply(src, tmp_path / "out")
    finally:
        src.chmod(0o755)
    assert code == 2
    assert output.strip().splitlines()[-1] == (
        f"Error: Invalid value for '[SRC]': Path '{src}' is not readable.")
    assert not os.path.lexists(tmp_path / "out") and not leftovers(tmp_path / "out")


# -- a destination that cannot be written: one line, exit 2, no partial OUT ----------------------

@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs file systems (root only, where mounting is allowed)."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                              capture_output=True)
        if proc.returncode != 0:
            pytest.skip("cannot mount a tmpfs here")
        mounted.append(point)
        return point

    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def _refused_write(src: Path, out: Path, message: str) -> None:
    before = fingerprint(src)
    code, output = apply(src, out)
    assert code == 2
    assert error_line(output) == f"covo-port: error: cannot write {out}: {message}; nothing " \
                                 "was written"
    assert fingerprint(src) == before
    assert not os.path.lexists(out) and not leftovers(out)


def test_read_only_destination(tmp_path: Path) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    if IS_ROOT:
        pytest.skip("root writes into read-only folders (see the tmpfs and patched cases)")
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        _refused_write(src, parent / "out", "Permission denied")
    finally:
        parent.chmod(0o755)


def test_read_only_file_system(tmp_path: Path, tiny_tmpfs: Callable[..., Path]) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    _refused_write(src, tiny_tmpfs("ro", "ro,size=1m") / "out", "Read-only file system")


def test_read_only_destination_patched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})

    def mkdtemp(*args: object, **kwargs: object) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    _refused_write(src, tmp_path / "out", "Read-only file system")


@pytest.mark.parametrize("existing_out", [False, True])
def test_full_disk_patched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                           existing_out: bool) -> None:
    """The disk fills up half-way through the copy: the temporary folder goes, a previous OUT
    (replaced with --force) stays as it was."""
    src = make_src(tmp_path, {f"m{i}.py": GOOD for i in range(6)} | {"data.txt": b"x" * 100})
    out = tmp_path / "out"
    if existing_out:
        previous_out(out)
    before_out = fingerprint(out)
    real_write = Path.write_bytes
    writes: list[Path] = []

    def write_bytes(self: Path, data: bytes) -> int:  # the second rewritten file hits the wall
        writes.append(self)
        if len(writes) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    before = fingerprint(src)
    code, output = apply(src, out, "--force")
    assert code == 2
    assert error_line(output) == (f"covo-port: error: cannot write {out}: No space left on "
                                  "device; nothing was written")
    assert len(writes) == 2 and writes[0].parent.name.startswith(".out.covo-port-"), \
        "it failed half-way through the temporary folder"
    assert fingerprint(src) == before
    assert fingerprint(out) == before_out
    assert not leftovers(out)


def test_full_disk_real(tmp_path: Path, tiny_tmpfs: Callable[..., Path]) -> None:
    src = make_src(tmp_path, {"a.py": GOOD, "blob.bin": os.urandom(1_500_000)})
    disk = tiny_tmpfs("full", "size=1m")
    before = fingerprint(src)
    code, output = apply(src, disk / "out")
    assert code == 2
    line = error_line(output)
    assert "No space left on device" in line or "git fast-import failed" in line, line
    assert fingerprint(src) == before
    assert list(disk.iterdir()) == [], "no partial OUT, no temporary folder"


def test_failed_swap_keeps_the_previous_out(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """--force replaces OUT by renaming; if the last rename fails, the old OUT is put back."""
    src = make_src(tmp_path, {"a.py": GOOD})
    out = tmp_path / "out"
    previous_out(out)
    before = fingerprint(out)
    rename = os.rename

    def failing_rename(source: str | Path, dest: str | Path) -> None:
        if Path(dest) == out and Path(source).name.startswith(".out.covo-port-"):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        rename(source, dest)

    monkeypatch.setattr(os, "rename", failing_rename)
    code, output = apply(src, out, "--force")
    assert code == 2
    assert error_line(output) == (f"covo-port: error: cannot write {out}: "
                                  f"{os.strerror(errno.EXDEV)}; nothing was written")
    assert fingerprint(out) == before
    assert not leftovers(out)


# -- interrupts: no partial OUT, the temporary folder is cleaned up ------------------------------

#: Runs the CLI with one step made slow, touching a marker file when it starts, so that the
#: test can send its signal exactly then.
SLOW_CLI = '''
import sys, time
from pathlib import Path

marker, phase = Path(sys.argv[1]), sys.argv[2]

def slow(*args, **kwargs):
    marker.touch()
    time.sleep(10)  # the signal comes in this window (a deferred interrupt waits for its end)

if phase == "rewrite":
    import libcst
    libcst.parse_module = slow
else:
    import shutil
    shutil.copy2 = slow

from covo_port.cli import main
main(sys.argv[3:], prog_name="covo-port")
'''


def _interruptible() -> None:
    """Ctrl-C as a user's terminal delivers it: a suite started in the background by a
    shell without job control ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(("phase", "signum", "existing_out"), [
    ("rewrite", signal.SIGINT, False),
    ("rewrite", signal.SIGTERM, False),
    ("write", signal.SIGINT, False),
    ("write", signal.SIGTERM, True),
])
def test_interrupt_leaves_no_partial_out(tmp_path: Path, phase: str, signum: signal.Signals,
                                         existing_out: bool) -> None:
    src = make_src(tmp_path, {"a.py": GOOD, "notes.txt": b"text\n", "b.py": GOOD})
    out = tmp_path / "out"
    if existing_out:
        previous_out(out)
    before_src, before_out = fingerprint(src), fingerprint(out)
    script, marker = tmp_path / "slow_cli.py", tmp_path / "started"
    script.write_text(SLOW_CLI)
    proc = subprocess.Popen([sys.executable, str(script), str(marker), phase, "apply", str(src),
                             "--out", str(out), "--no-patches", "--force", "--jobs", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_interruptible)
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), proc.communicate()
    if phase == "write":
        assert leftovers(out), "the temporary folder exists while the signal comes"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=180)  # generous: a loaded machine is slow to exit
    if signum == signal.SIGTERM and phase == "rewrite":
        # nothing is on disk yet: the default action (terminate) is as clean as it gets
        assert proc.returncode in (130, -signal.SIGTERM), stderr
    else:
        assert proc.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1] == "covo-port: interrupted; nothing was written"
    assert fingerprint(src) == before_src
    assert fingerprint(out) == before_out, "no OUT, or the previous OUT as it was"
    assert not leftovers(out)


# -- invalid arguments: exit 2, the option and the value named --------------------------------

def test_unknown_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    monkeypatch.chdir(tmp_path)
    before = fingerprint(tmp_path)
    code, output = run("apply", src, "--target", "gpu")
    assert code == 2
    assert output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--target': 'gpu' is not 'npu'.")
    assert "Traceback" not in output
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize(("maps", "message"), [
    (["cuda:0=npu:x"], "--device-map 'cuda:0=npu:x': the right side 'npu:x' is not a device "
                       "(expected e.g. npu:0)"),
    (["cuda:0=npu:-1"], "--device-map 'cuda:0=npu:-1': the right side 'npu:-1' is not a device "
                        "(expected e.g. npu:0)"),
    (["cuda:0=npu:0=npu:1"], "--device-map 'cuda:0=npu:0=npu:1': the right side 'npu:0=npu:1' "
                             "is not a device (expected e.g. npu:0)"),
    (["=npu:0"], "--device-map '=npu:0': the left side '' is not a device (expected e.g. "
                 "cuda:1)"),
    (["cuda:0=gpu:0"], "--device-map 'cuda:0=gpu:0': the right side must be npu:N, e.g. npu:0"),
    (["cuda:0=npu"], "--device-map 'cuda:0=npu': the right side must be npu:N, e.g. npu:0"),
    (["cuda=npu:0"], "--device-map 'cuda=npu:0': the left side must be cuda:N, e.g. cuda:1"),
    (["cuda:1=npu:0", "cuda:1=npu:1"], "--device-map: cuda:1 is mapped twice"),
])
def test_malformed_device_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              maps: list[str], message: str) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    monkeypatch.chdir(tmp_path)
    before = fingerprint(tmp_path)
    options = [arg for item in maps for arg in ("--device-map", item)]
    code, output = run("apply", src, *options)
    assert code == 2
    assert error_line(output) == f"covo-port: error: {message}"
    assert fingerprint(tmp_path) == before


@pytest.mark.parametrize(("value", "message"), [
    ("0", "covo-port: error: --jobs 0: give 1 or more processes (default: one per core)"),
    ("-2", "covo-port: error: --jobs -2: give 1 or more processes (default: one per core)"),
])
def test_jobs_below_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str,
                        message: str) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    monkeypatch.chdir(tmp_path)
    before = fingerprint(tmp_path)
    code, output = run("apply", src, "--jobs", value)
    assert code == 2
    assert error_line(output) == message
    assert fingerprint(tmp_path) == before


def test_jobs_not_a_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_src(tmp_path, {"a.py": GOOD})
    monkeypatch.chdir(tmp_path)
    code, output = run("apply", src, "--jobs", "many")
    assert code == 2
    assert output.strip().splitlines()[-1] == (
        "Error: Invalid value for '--jobs' / '-j': 'many' is not a valid integer.")


# -- the real-code benchmark (run on installed packages by hand or CI; here its plumbing) -------

def test_real_code_benchmark_reports_its_figures() -> None:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "robustness_real_code.py"),
                           str(root / "examples" / "covo_mini"), "--limit", "4"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1].startswith("files: 4 (")
    assert "crashes: 0; outputs that do not parse: 0; not idempotent: 0; refused by the " \
           "engine: 0" in lines
