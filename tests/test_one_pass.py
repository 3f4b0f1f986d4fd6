"""A file costs one parse, whatever the rules; only the rules that can match run, and only the
metadata that they ask for is computed."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Sequence
from functools import wraps
from pathlib import Path
from typing import Any

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libcst._metadata_dependent import LazyValue
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from covo_port import engines
from covo_port.engines import python as pyengine
from covo_port.engines import rewrite_file
from covo_port.engines.python.file import PyFile, _QualifiedNames
from covo_port.lib.imports import import_bindings
from covo_port.lib.tree import parent_map
from covo_port.lib.words import words_containing
from covo_port.model import PythonRule, RunOptions, get_target
from covo_port.registry import all_rules, engine_config, python_rules

NAMES = '''
import os, torch
import torch.nn.functional as F
from torch import cuda as c, device
from . import sibling
from .pkg.mod import thing as other
try:
    import numpy as np
except ImportError:
    np = None
if os.name == "nt":
    from a import b as alias
else:
    from d import e as alias
abs(-1)
torch.cuda.is_available()


class Model(torch.nn.Module):
    scale = F.relu
    def forward(self, x, *args, y=device("cpu"), **kwargs):
        global np
        def inner(z=c.current_device()):
            nonlocal x
            return [torch.abs(v) for v in z if alias(v)], lambda q: other(q)
        @torch.no_grad()
        def decorated(): ...
        return self.scale(x).to(y), sibling.f(np.zeros(1)), super().forward(x)

torch = None
torch.zeros(1)
'''


def test_qualified_names_are_what_libcst_s_provider_gives() -> None:
    wrapper = MetadataWrapper(cst.parse_module(NAMES), unsafe_skip_copy=True)
    expected = wrapper.resolve(QualifiedNameProvider)
    ours = _QualifiedNames(wrapper)
    named = 0
    for node, lazy in expected.items():
        names = lazy() if isinstance(lazy, LazyValue) else lazy  # the provider defers the work
        assert ours[node] == names, wrapper.module.code_for_node(node)
        named += bool(names)
    assert named > 40


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The rule ids of every rewrite_python call that rewrite_file makes."""
    calls: list[tuple[str, ...]] = []
    real = engines.rewrite_python

    def spy(source: bytes, path: str, rules: Sequence[type[PythonRule]], *args: Any) -> Any:
        calls.append(tuple(r.id for r in rules))
        return real(source, path, rules, *args)

    monkeypatch.setattr(engines, "rewrite_python", spy)
    return calls


CONFIG = engine_config(get_target("npu", ()), RunOptions())


def test_a_file_without_any_trigger_word_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    kind, outcome = rewrite_file("plain.py", b"print(1 + 2)\n", CONFIG)
    assert (kind, outcome.changed, outcome.findings, calls) == ("python", False, [], [])


def test_only_rules_that_might_match_run_and_every_later_phase(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy(monkeypatch)
    source = b"import torch\nx = torch.zeros(3, device=0)\n"  # NPU011's "device", no "cuda"
    _, outcome = rewrite_file("ints.py", source, CONFIG)
    rules = python_rules(CONFIG.rules)
    later = {r.id for r in rules if r.phase > min(r.phase for r in rules)}
    triggered = {r.id for r in rules if r.might_match(source, CONFIG.target)}
    assert later and "NPU011" in triggered and "NPU001" not in triggered
    assert "NPU017" not in triggered  # "torch" occurs, but no API of its table
    assert set(calls[0]) == triggered | later
    # the later-phase rule still sees NPU011's edit: import torch_npu is added
    assert [rule for rule, _ in outcome.stages] == ["NPU011", "NPU009"]
    assert b"import torch_npu" in outcome.stages[-1][1]


def test_all_rules_see_one_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bytes] = []
    real = cst.parse_module

    def spy(source: Any, *args: Any, **kwargs: Any) -> cst.Module:
        parsed.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pyengine.cst, "parse_module", spy)
    source = (b"import torch\nimport torch.distributed as dist\n"
              b'dist.init_process_group("nccl")\nx = torch.randn(2).cuda()\n')
    _, outcome = rewrite_file("m.py", source, CONFIG)
    assert len(outcome.stages) >= 3  # several rules changed it
    assert parsed == [source, outcome.stages[-1][1]]  # the source, then the check of the output


def test_scopes_are_computed_only_where_a_rule_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    scoped: list[int] = []
    real = ScopeProvider.visit_Module

    @wraps(real)  # libcst finds visit_* methods by their __name__
    def spy(self: ScopeProvider, node: cst.Module) -> Any:
        scoped.append(1)
        return real(self, node)

    monkeypatch.setattr(ScopeProvider, "visit_Module", spy)
    # "abs" occurs (NPU004's trigger word) but there is no call for it to ask about
    _, outcome = rewrite_file("a.py", b"# abs\nx = 1\n", CONFIG)
    assert (outcome.changed, outcome.findings, scoped) == (False, [], [])
    # only imports bind `torch`: the names are known from them, without the scopes
    rewrite_file("b.py", b"import torch\nm = torch.abs(torch.fft.fft(x))\n", CONFIG)
    assert scoped == []
    # `torch` is also a parameter somewhere: only the scopes can tell which is which
    rewrite_file("c.py", b"import torch\nm = torch.abs(torch.fft.fft(x))\n"
                 b"def f(torch):\n    return torch.abs(x)\n", CONFIG)
    assert scoped == [1]


@pytest.mark.parametrize(("rule_id", "source", "might"), [
    ("NPU004", b"m = torch.abs(torch.randn(2))\n", False),  # abs, nothing complex
    ("NPU004", b"m = torch.abs(torch.stft(x, 400, return_complex=True))\n", True),
    ("NPU011", b"x = x.to(device)\nuse_device = True\n", False),  # computed: left alone
    ("NPU011", b"x = x.to(\n    0)\n", True),
    ("NPU011", b"y = torch.zeros(3, device = 1)\n", True),
    ("NPU011", b'y = torch.zeros(3, device=f"cuda:{rank}")\n', True),
    ("NPU102", b"from utils import is_flash_attn_available\n", False),  # not the package
    ("NPU102", b"import os, flash_attn\n", True),
    ("NPU109", b"model = torch.compile(model)\n", False),  # plain compile runs on the NPU
    ("NPU109", b'model = torch.compile(model, mode="reduce-overhead")\n', True),
    ("NPU015", b"cache = kwargs.get('past_key_values')\n", False),  # not in the hook
])
def test_rules_narrow_their_trigger_words(rule_id: str, source: bytes, might: bool) -> None:
    rule = next(r for r in all_rules() if r.id == rule_id)
    assert rule.might_match(source, get_target("npu")) is might
    assert any(w.encode() in source for w in rule.triggers), "never wider than the triggers"


@pytest.mark.parametrize(("rule_id", "source", "might"), [
    ("NPU015", "def prepare_inputs_for_generation(self, ids, **kw):\n    return ids\n"
     "def forward(self, past_key_values=None):\n    pass\n", False),  # not in the hook
    ("NPU015", "def prepare_inputs_for_generation(self, ids, **kw):\n"
     "    return kw.get('past_key_values')\n", True),
    ("NPU015", "class M:\n    async def prepare_inputs_for_generation(self, past_key_values):"
     "\n        pass\n", True),
    ("NPU018", "def move(x):\n    return x.cuda()\n", False),  # no attribute of a method's self
    ("NPU018", "class M:\n    def f(this):\n        return this.use_cuda\n", True),
    ("NPU018", "class M:\n    def f(self, /, other):\n        other.cuda_graph = 1\n", True),
    ("NPU017", "import torch\nstd_mean = stats.std_mean\nprint(std_mean(x))\n", False),
    ("NPU017", "import torch as t\nm = t.std_mean(x)\n", True),
    ("NPU017", "from torch import std_mean\ndef f(x):\n    return std_mean(x)\n", True),
])
def test_rules_narrow_the_cheap_pass_with_pythons_tree(rule_id: str, source: str,
                                                      might: bool) -> None:
    rule = next(r for r in all_rules() if r.id == rule_id)
    data = source.encode()
    assert rule.might_match(data, get_target("npu"))
    assert rule.might_match_code(data, ast.parse(source), get_target("npu")) is might


def test_with_a_device_map_every_device_index_counts() -> None:
    rule = next(r for r in all_rules() if r.id == "NPU011")
    source = b"x = x.to(device)\n"
    assert not rule.might_match(source, get_target("npu"))
    assert rule.might_match(source, get_target("npu", ("cuda:1=npu:0",)))


def test_every_rule_declares_its_trigger_words() -> None:
    for rule in all_rules():
        assert rule.triggers and all(isinstance(w, str) and w for w in rule.triggers), rule.id


# -- the tree index, read before the per-file pass (in the main process) --------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(b"cudaCUDA_x1 .\xe9\n"))).map(bytes))
def test_cuda_words_are_every_word_holding_cuda(data: bytes) -> None:
    reference = re.compile(rb"[A-Za-z0-9_]*[Cc][Uu][Dd][Aa][A-Za-z0-9_]*")  # quadratic
    assert words_containing(data, b"cuda") == set(reference.findall(data))


def test_the_parent_map_is_libcsts_parent_provider() -> None:
    sources = [p.read_bytes() for p in sorted(Path(__file__).parents[1].glob(
        "examples/covo_mini/**/*.py"))]
    sources.append(b"@d(x)\nasync def f(a: int = 1, *b, c, **d) -> T[x]:\n"
                   b"    async with a as (b, c), d: pass\n"
                   b"    return [y async for y in z if y] or {k: v for k, v in w}\n"
                   b"    yield f'{a!r:>{b}}' + (lambda q=1: q)()\n"
                   b"match p:\n    case {'a': [1, *r]} | C(x=2) if g: del q[1:2, ::3]\n"
                   b"try:\n    import a.b as c\nexcept* (E, F) as e:\n    raise X from e\n")
    for source in sources:
        module = cst.parse_module(source)
        expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
        assert parent_map(module) == dict(expected)


def test_import_bindings_find_imports_in_every_block() -> None:
    module = cst.parse_module(
        b"import torch.cuda as tc\nimport torch.cuda\nfrom torch.cuda import amp as A, sync\n"
        b"from . import x\nif a: from torch import cuda\n"
        b"try:\n    import os\nexcept E:\n    from q import r\nfinally:\n    import s\n"
        b"def f():\n    class C:\n        import torch.cuda.amp as ampm\n"
        b"match z:\n    case 1:\n        import mm\n")
    assert import_bindings(module) == {
        "tc": {"torch.cuda"}, "torch": {"torch"}, "A": {"torch.cuda.amp"},
        "sync": {"torch.cuda.sync"}, "x": {".x"}, "cuda": {"torch.cuda"}, "os": {"os"},
        "r": {"q.r"}, "s": {"s"}, "ampm": {"torch.cuda.amp"}, "mm": {"mm"}}


@pytest.mark.parametrize(("source", "reachable"), [
    (b"import torch\nx = torch.npu.synchronize\n", False),
    (b"import torch\nx = torch.cuda.synchronize\n", True),
    (b"from torch import cuda as c\nx = c.synchronize\n", True),
    (b"from torch.cuda import synchronize as s\nx = s\n", True),
    (b"from torch.cuda import *\nx = synchronize\n", True),  # a star import: anything may
    (b"def f():\n    return s()\nfrom torch.cuda import synchronize as s\nx = s\n", True),
])
def test_may_reach_is_false_only_where_a_name_cannot_resolve_there(
        source: bytes, reachable: bool) -> None:
    module = cst.parse_module(source)
    file = PyFile("m.py", module, source, get_target("npu"), RunOptions())
    value = module.body[-1].body[0].value  # type: ignore[attr-defined]
    assert file.may_reach(value, "cuda") is reachable


def test_parsers_of_other_file_kinds_are_imported_only_for_such_files(tmp_path: Path) -> None:
    """A tree of Python files never imports the config, build and shell parsers; a YAML file
    imports ruamel.yaml and not the parsers of the other formats."""
    (tmp_path / "a.py").write_text("import torch\nx = torch.ones(2).cuda()\n")
    (tmp_path / "b.yaml").write_text("device: cuda\n")
    probe = (
        "import sys\nfrom pathlib import Path\n"
        "from covo_port.engines import rewrite_file\n"
        "from covo_port.model import RunOptions, get_target\n"
        "from covo_port.registry import engine_config\n"
        "config = engine_config(get_target('npu'), RunOptions())\n"
        "for name in sys.argv[1:]:\n"
        "    rewrite_file(name, (Path(sys.argv[0]).parent / name).read_bytes(), config)\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'ruamel', 'tomlkit',"
        " 'configupdater', 'dotenv', 'pip_requirements_parser', 'dockerfile_parse',"
        " 'tree_sitter'})))\n")
    script = tmp_path / "probe.py"
    script.write_text(probe)

    def loaded(*names: str) -> str:
        return subprocess.run([sys.executable, "-B", str(script), *names], capture_output=True,
                              text=True, check=True).stdout.strip()

    assert loaded("a.py") == ""
    assert loaded("a.py", "b.yaml") == "ruamel"
