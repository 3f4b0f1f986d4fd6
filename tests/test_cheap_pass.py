"""The fast paths of the Python engine: the cheap pass before libcst (comments and docstrings
trigger no rule), positions from one plain print, the read-only walk of the rules, no print of
files without edits; and that none of them changes an outcome (against the unoptimised path,
``COVO_PORT_REFERENCE=1``)."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from covo_port.engines import EngineConfig, rewrite_file
from covo_port.engines.python import cheap
from covo_port.engines.python.cheap import code_view
from covo_port.engines.python.positions import Positions
from covo_port.engines.python.verdict import python_verdict
from covo_port.engines.python.walk import visit_batched
from covo_port.model import RunOptions, Target, get_target
from covo_port.registry import engine_config, get_rule

CONFIG = engine_config(get_target("npu", ()), RunOptions())
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The sources that libcst parses from now on."""
    parsed: list[bytes] = []
    real = cst.parse_module

    def spy(source: Any, *args: Any, **kwargs: Any) -> cst.Module:
        parsed.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr("covo_port.engines.python.cst.parse_module", spy)
    return parsed


# -- the cheap pass ---------------------------------------------------------------------------
COMMENTED = (b"# Runs on cuda, see torch.cuda.synchronize()\n"
             b'"""Moves the model to cuda: model.cuda()."""\n'
             b"import torch\n\n\n"
             b"def f(x):\n"
             b"    '''Docstring: x.cuda(), device=\"cuda:0\".'''\n"
             b"    return x + 1  # not x.cuda()\n")


def test_a_file_with_cuda_only_in_comments_and_docstrings_is_not_parsed(
        parses: list[bytes]) -> None:
    kind, outcome = rewrite_file("quiet.py", COMMENTED, CONFIG)
    assert (kind, outcome.changed, outcome.findings, outcome.error) == ("python", False, [], None)
    assert parses == []


def test_a_file_with_cuda_in_its_code_is_parsed(parses: list[bytes]) -> None:
    source = COMMENTED + b"y = f(1).cuda()\n"
    _, outcome = rewrite_file("loud.py", source, CONFIG)
    assert parses[0] == source
    assert [rule for rule, _ in outcome.stages] == ["NPU001", "NPU009"]
    assert b"y = f(1).npu()" in outcome.output(source)
    assert b"# Runs on cuda" in outcome.output(source)  # comments are not rewritten


def test_strings_used_as_code_count(parses: list[bytes]) -> None:
    source = b'import torch\nx = torch.zeros(3, device="cuda")  # cuda in "a # b" too\n'
    _, outcome = rewrite_file("s.py", source, CONFIG)
    assert parses[0] == source
    assert b'device="npu"' in outcome.output(source)


def test_a_rule_whose_words_stand_only_in_comments_does_not_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[tuple[str, ...]] = []
    real = rewrite_file.__globals__["rewrite_python"]

    def spy(source: bytes, path: str, rules: Any, *args: Any) -> Any:
        ran.append(tuple(r.id for r in rules))
        return real(source, path, rules, *args)

    monkeypatch.setattr("covo_port.engines.rewrite_python", spy)
    source = b"import torch\n# with torch.autocast('cuda'): ...\nx = torch.zeros(1).cuda()\n"
    rewrite_file("r.py", source, CONFIG)
    assert "NPU001" in ran[0] and "NPU003" not in ran[0]  # NPU003: "autocast" in a comment


def test_a_suppression_comment_keeps_the_file_parsed(parses: list[bytes]) -> None:
    source = b"# uses cuda\nx = 1  # covo-port: ignore[NPU999]\n"
    _, outcome = rewrite_file("ignored.py", source, CONFIG)
    assert parses == [source]  # the comment's unknown code is reported, as before
    assert [f.line for f in outcome.findings] == [2]


@pytest.mark.parametrize(("source", "code"), [
    # a BOM: Python's columns do not count it
    (b"\xef\xbb\xbfs = '#'  # cuda\n", b"\xef\xbb\xbfs = '#'        \n"),
    (b"x = 1\r\ny = '#'  # cuda\r\nz = 2\r\n", b"x = 1\r\ny = '#'        \r\nz = 2\r\n"),
    (b"x = 1\rs = 'a#b'  # cuda\r", b"x = 1\rs = 'a#b'        \r"),
    (b"s = f'{x!r:>{w}} #'  # cuda\n", b"s = f'{x!r:>{w}} #'        \n"),
    ("s = '\u00e9#'  # cuda \u00e9\n".encode(), "s = '\u00e9#'           \n".encode()),
    (b"def f():\n    '''doc\n    cuda'''\n    return 1\n",
     b"def f():\n          \n           \n    return 1\n"),
    # a comment between the parts of one string literal stays (inside the literal's span)
    (b"t = ('a'  # cuda\n     'b')\n", b"t = ('a'  # cuda\n     'b')\n"),
])
def test_the_code_view_blanks_comments_and_docstrings_only(source: bytes, code: bytes) -> None:
    assert code_view(source, python_verdict(source)) == code


def test_the_code_view_keeps_what_it_cannot_place() -> None:
    latin = b"# -*- coding: latin-1 -*-\ns = '\xe9'  # cuda\n"
    assert code_view(latin, python_verdict(latin)) is None  # columns would not be bytes
    broken = b"def f(:\n    x.cuda()  # cuda\n"
    assert code_view(broken, python_verdict(broken)) is None  # libcst will say why


# -- positions, the walk, and prints ------------------------------------------------------
SOURCES = [
    b"@d(x)\nasync def f(a: int = 1, *b, c, **d) -> T[x]:\n"
    b"    async with a as (b, c), d: pass\n"
    b"    return [y async for y in z if y] or {k: v for k, v in w}\n"
    b"    yield f'{a!r:>{b}}' + (lambda q=1: q)()\n"
    b"match p:\n    case {'a': [1, *r]} | C(x=2) if g: del q[1:2, ::3]\n"
    b"try:\n    import a.b as c\nexcept* (E, F) as e:\n    raise X from e\n",
    b"from . import (a,\n    b as c)\nfrom m import *\nclass K(B, metaclass=M):\n"
    b"\tx: int = (yield)\n\tdef g[T](self, /, p=(q := 3)) -> None: ...\n",
    b"if a:\r\n    b = '''x\r\ny'''\r\nelif c:\r\n    pass\r\nelse: d  # end",
    "s = '\u00e9\u4e2d'; t = u'\U0001f600' \\\n    + 'x'\n\n\n# last\n".encode(),
    b"x = 1\r",
    b"",
]


def _corpus() -> Iterator[bytes]:
    yield from SOURCES
    for path in sorted((ROOT / "examples" / "covo_mini").glob("**/*.py")):
        yield path.read_bytes()


@pytest.mark.parametrize("source", list(_corpus()))
def test_positions_are_libcsts(source: bytes) -> None:
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    positions = Positions(module)
    assert positions.code == module.code
    assert len(positions) == len(expected)
    assert {node: positions[node] for node in expected} == dict(expected)


def _every_callback() -> dict[str, Callable[[cst.CSTNode], None]]:
    names = []
    for cls in vars(cst).values():
        if isinstance(cls, type) and issubclass(cls, cst.CSTNode) and dataclasses.is_dataclass(
                cls):
            names += [f"visit_{cls.__name__}", f"leave_{cls.__name__}"]
            names += [f"{what}_{cls.__name__}_{field.name}" for field in dataclasses.fields(cls)
                      for what in ("visit", "leave")]
    return dict.fromkeys(names)  # type: ignore[arg-type]


class _Recorder(cst.BatchableCSTVisitor):
    """Every callback libcst can make, recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, int]] = []
        self._callbacks = {name: self._record(name) for name in _every_callback()}

    def _record(self, name: str) -> Callable[[cst.CSTNode], None]:
        return lambda node: self.log.append((name, id(node)))

    def get_visitors(self) -> dict[str, Callable[[cst.CSTNode], None]]:
        return self._callbacks


@pytest.mark.parametrize("source", list(_corpus()))
def test_the_read_only_walk_makes_libcsts_callbacks_in_its_order(source: bytes) -> None:
    module = cst.parse_module(source)
    theirs, ours = _Recorder(), _Recorder()
    cst.visit_batched(module, [theirs])
    visit_batched(module, [ours])
    assert ours.log == theirs.log


def test_a_parsed_file_without_edits_is_not_printed(monkeypatch: pytest.MonkeyPatch,
                                                    parses: list[bytes]) -> None:
    printed: list[cst.Module] = []
    real = cst.Module._codegen

    def spy(self: cst.Module, *args: Any, **kwargs: Any) -> None:
        printed.append(self)
        real(self, *args, **kwargs)

    monkeypatch.setattr(cst.Module, "_codegen", spy)
    source = b"import torch\nx = torch.ones(2).to(torch.float16)  # cuda\nn = y.cuda_count\n"
    _, outcome = rewrite_file("plain.py", source, CONFIG)
    assert parses == [source]  # "cuda" in code: NPU018 looks, and finds nothing to do
    assert (outcome.changes, outcome.findings, printed) == ([], [], [])


# -- the same outcome as the unoptimised path -------------------------------------------------
def _reference_sources() -> Iterator[tuple[str, bytes]]:
    for path in sorted((ROOT / "examples").glob("**/*.py")):
        yield str(path.relative_to(ROOT)), path.read_bytes()
    for index, source in enumerate(SOURCES):
        yield f"fixture{index}.py", source
    yield "commented.py", COMMENTED
    yield "annotated.py", (b"import torch\n# covo-port: ignore[NPU001]\nx = y.cuda()\n"
                           b"z = torch.cuda.get_device_properties(0).total_memory  # cuda\n")


@pytest.mark.parametrize(("path", "source"), list(_reference_sources()))
def test_the_fast_paths_change_no_outcome(path: str, source: bytes,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    options = RunOptions(annotate=True)
    config = engine_config(get_target("npu", ("cuda:1=npu:0",)), options)
    fast = rewrite_file(path, source, config)
    monkeypatch.setattr(cheap, "FAST_PATHS", False)
    slow = rewrite_file(path, source, config)
    assert fast == slow


def test_a_rule_may_narrow_the_cheap_pass_with_pythons_tree(parses: list[bytes]) -> None:
    class MethodsOnly(get_rule("NPU001")):  # type: ignore[misc,valid-type]
        """NPU001, asked only where Python's tree holds a `.cuda` attribute."""

        @classmethod
        def might_match_code(cls, code: bytes, tree: ast.Module, target: Target) -> bool:
            return any(isinstance(node, ast.Attribute) and node.attr == "cuda"
                       for node in ast.walk(tree))

    config = EngineConfig(CONFIG.target, CONFIG.options, (MethodsOnly,), CONFIG.known)
    _, outcome = rewrite_file("strings.py", b'name = "cuda"\n', config)
    assert (parses, outcome.changed) == ([], False)  # the default would have parsed it
    _, outcome = rewrite_file("calls.py", b"y = x.cuda()\n", config)
    assert outcome.output(b"y = x.cuda()\n") == b"y = x.npu()\n"


def _port(tmp_path: Path, name: str, files: dict[str, str]) -> dict[str, str]:
    from covo_port.pipeline.run import apply_tree

    src = tmp_path / "src"
    for path, text in files.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text)
    out = tmp_path / name
    apply_tree(src, out, get_target("npu"), RunOptions(), jobs=1)
    return {path: (out / path).read_text() for path in files}


def test_a_rule_that_the_tree_needs_in_a_file_runs_there_whatever_its_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NPU009 gives a script that starts a CUDA program the guarded import whether "cuda"
    stands in its comments, nowhere in it, or only the unoptimised path reads them."""
    files = {"lib/__init__.py": "", "lib/model.py": "import torch\nnet = torch.nn.Linear(2, 2)"
             ".cuda()\n", "lib/util.py": "import torch\nz = torch.ones(2)\n",
             "commented.py": "import torch\nfrom lib import model  # runs on cuda\n",
             "plain.py": "import torch\nfrom lib.model import net\nprint(net)\n",
             "unrelated.py": "import torch\nfrom lib import util\n"}
    fast = _port(tmp_path, "fast", files)
    monkeypatch.setattr(cheap, "FAST_PATHS", False)
    assert _port(tmp_path, "slow", files) == fast
    guarded = "try:\n    import torch_npu\nexcept ImportError:\n    pass\n"
    assert fast["commented.py"] == "import torch\n" + guarded + files["commented.py"][13:]
    assert fast["plain.py"] == "import torch\n" + guarded + files["plain.py"][13:]
    assert (fast["unrelated.py"], fast["lib/util.py"]) == (files["unrelated.py"],
                                                           files["lib/util.py"])


def _examples() -> Iterator[Any]:
    from covo_port.registry import all_rules

    for rule in all_rules():
        for index, example in enumerate(rule.examples, 1):
            if example.path.endswith(".py"):
                yield pytest.param(example.before, id=f"{rule.id}-{index}")


@pytest.mark.parametrize("before", list(_examples()))
def test_trigger_words_in_comments_change_no_outcome(before: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The unoptimised path runs every rule whose trigger word stands in a comment, the fast
    path none of them: a rule must find nothing that its trigger words in the code do not
    announce (or widen its ``might_match``), else the two paths differ."""
    from covo_port.registry import all_rules

    words = sorted({w for r in all_rules() for w in r.triggers})
    source = (before + "\n# " + " ".join(words) + "\n").encode()
    config = engine_config(get_target("npu"), RunOptions(
        unsafe_fixes=True, optimize=frozenset({"startup"})))
    fast = rewrite_file("example.py", source, config)
    monkeypatch.setattr(cheap, "FAST_PATHS", False)
    assert rewrite_file("example.py", source, config) == fast


def _findings(tmp_path: Path, name: str, files: dict[str, str]) -> list[tuple[str, str, int]]:
    from covo_port.pipeline.run import apply_tree

    src = tmp_path / "src"
    for path, text in files.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_text(text)
    result = apply_tree(src, tmp_path / name, get_target("npu"), RunOptions(), jobs=1)
    return sorted((f.rule, f.path, f.line) for f in result.manifest.findings)


def test_calls_into_a_kernel_module_are_reported_where_a_probe_may_choose_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NPU021's report of a call into the tree's kernel module stands with a CUDA probe in the
    module, whatever its comments say: the fast and the unoptimised paths agree."""
    files = {"pkg/__init__.py": "", "pkg/fused.py": "import triton\ndef fused_norm(x):\n"
             "    return x\n",
             "pkg/quiet.py": "import torch\nfrom pkg.fused import fused_norm\n"
             "def norm(x):  # the cuda kernel\n    return fused_norm(x)\n",
             "pkg/probed.py": "import torch\nfrom pkg.fused import fused_norm\n"
             "def norm(x):\n    if torch.cuda.is_available():\n        return fused_norm(x)\n"
             "    return x\n"}
    fast = _findings(tmp_path, "fast", files)
    monkeypatch.setattr(cheap, "FAST_PATHS", False)
    assert _findings(tmp_path, "slow", files) == fast
    assert ("NPU021", "pkg/probed.py", 5) in fast
    assert not [f for f in fast if f[1] == "pkg/quiet.py"]
