"""The qualified names that the Python engine knows from a module's imports alone
(engines.python.bindings) are libcst's, node for node, wherever it answers without the scopes."""

from __future__ import annotations

import ast
import importlib.util
import itertools
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, QualifiedNameProvider

from covo_port.engines.python.bindings import bindings_of
from covo_port.engines.python.file import PyFile
from covo_port.model import RunOptions, get_target

ROOT = Path(__file__).resolve().parents[1]

BINDINGS = '''\
"""Every way of binding a name that the bindings must tell apart."""
import os, torch
import torch.nn
import torch.nn.functional as F
import numpy as np, scipy.signal as sig
from torch import cuda, nn as tnn
from torch.cuda import amp
from . import sibling
from .. import parent
from .pkg.mod import thing as other_thing, helper
try:
    import torchaudio
except ImportError:
    torchaudio = None
try:
    from apex import amp as apex_amp
except ImportError:
    from torch.cuda import amp as apex_amp
if torch.cuda.is_available():
    import triton
else:
    import triton.language as triton
import json
json = None
import re
del re

x = torch.cuda.is_available() and cuda.device_count() and F.relu(torch.nn.Linear(2, 2))
y = np.fft.fft(sig.stft(amp.autocast, tnn.Module, sibling.f, parent.g, other_thing, helper))
z = torchaudio.load, apex_amp.scale_loss, triton.jit, json.dumps, os.path.join, print, len
w = os.environ.F, x.np, helper(F=1, np=2)  # after a dot, as a keyword: not the imports
u = str.join, dict.fromkeys, ValueError.mro, bool(1), x.len, undefined.attr, __name__.upper
c = os.environ.get("X").upper, super(Model).f, torch.Generator().seed, {"a": 1}.get, undefined().x
d = "".join, (x == 1).nonzero().view, x[0].cuda, np.zeros(2)[0].item, f"{x}".format, (1).real


def f(torch_like, *args, np=np, **kwargs):
    import librosa
    global json
    os = kwargs.pop("os")
    with open(os) as handle, torch.no_grad():
        for index, item in enumerate(args):
            lam = lambda amp: amp + index
            squares = [cuda for cuda in range(3)]
            if (walrus := len(squares)) > 2:
                pass
    try:
        pass
    except ValueError as error:
        print(error, librosa.load, handle, item, lam, walrus, torch_like.cuda())
    match kwargs:
        case {"a": captured, **rest}:
            print(captured, rest)
    return torch.device("cuda"), F.silu


class Model(tnn.Module):
    nn = tnn
    device = torch.device("cuda")

    def forward(self, x, **kw):
        return self.nn.functional.relu(x, inplace=kw.get("inplace")).to(device=self.device)


@torch.no_grad()
def decorated(f=torch.float16) -> torch.Tensor:
    return torch.zeros(2, dtype=f)


def lazy():
    import torch  # a function's own plain imports of a name the module imports plainly
    import torch.nn
    import os.path
    import librosa.feature  # imported here only: unbound outside
    return torch.cuda.synchronize(), torch.nn.functional.relu, os.path.sep, librosa.feature.mfcc


class Lazy:
    import torch
    import amp  # another import of a name the module binds with `from ... import amp`
    device = torch.device("cuda"), amp.autocast


print(librosa.feature.mfcc, amp.autocast, torch.cuda.device_count())


def outer():  # names that only imports in functions bind
    from .pkg import lazy_helper
    import deepspeed
    from .a import twice

    def inner(x=lazy_helper):
        return lazy_helper(x), deepspeed.zero.Init, twice

    return [deepspeed.comm for _ in range(2)], lambda: lazy_helper.attr, inner


def other_twice():
    from .b import twice  # another import of the name: the scopes tell
    return twice


@wrapping.decorator  # read where no import of it is in scope
def uses_wrapping(default=wrapping.x) -> wrapping.T:
    import wrapping
    return wrapping.y


class Holder:
    import yaml_lib
    conf = yaml_lib.load

    def method(self):
        return yaml_lib.dump, deepspeed.zero


print(deepspeed, lazy_helper.x, Holder)
'''


def _compare(source: str) -> tuple[int, list[tuple[str, set[str], set[str]]]]:
    """(nodes answered from the imports, disagreements with libcst) for ``source``."""
    module = cst.parse_module(source)
    file = PyFile("m.py", module, source.encode(), get_target("npu"), RunOptions(),
                  python_tree=ast.parse(source))
    theirs = MetadataWrapper(module, unsafe_skip_copy=True).resolve(QualifiedNameProvider)
    answered, wrong = 0, []
    for node, names in theirs.items():
        ours = file._imported_names(node)
        if ours is None:
            continue
        answered += 1
        expected = names() if callable(names) else names
        if set(ours) != set(expected):
            wrong.append((cst.helpers.get_full_name_for_node(node) or "", {q.name for q in ours},
                          {q.name for q in expected}))
    return answered, wrong


def test_the_names_that_only_imports_bind_are_libcsts() -> None:
    answered, wrong = _compare(BINDINGS)
    assert wrong == []
    assert answered >= 300


def test_the_bindings_answer_without_the_scopes_where_they_can() -> None:
    """Names that imports in functions bind (where one is in scope, and where none is),
    builtins, unbound names, attribute names and keywords, chains rooted in calls."""
    module = cst.parse_module(BINDINGS)
    file = PyFile("m.py", module, BINDINGS.encode(), get_target("npu"), RunOptions(),
                  python_tree=ast.parse(BINDINGS))
    answered = {(type(node).__name__, cst.helpers.get_full_name_for_node(node) or "",
                 frozenset(q.name for q in names))
                for node in file.parents if (names := file._imported_names(node)) is not None}
    assert answered >= {
        ("Attribute", "deepspeed.zero.Init", frozenset({"deepspeed.zero.Init"})),
        ("Name", "lazy_helper", frozenset({".pkg.lazy_helper"})),
        ("Attribute", "wrapping.decorator", frozenset()),  # no import of it in scope there
        ("Attribute", "str.join", frozenset({"builtins.str"})),
        ("Call", "bool", frozenset({"builtins.bool"})),
        ("Attribute", "undefined.attr", frozenset()),
        ("Name", "len", frozenset()),  # x.len: an attribute's name
        ("Name", "F", frozenset()),  # helper(F=1): a keyword
        ("Attribute", "torch.Generator.seed", frozenset({"torch.Generator.seed"})),
        ("Attribute", "None.get", frozenset({"builtins.None"})),
    }


@pytest.mark.parametrize("path", sorted(
    p.relative_to(ROOT).as_posix() for folder in ("examples",)
    for p in (ROOT / folder).rglob("*.py")
    if "prompt" not in p.parts), ids=str)
def test_the_names_of_real_code_are_libcsts(path: str) -> None:
    _, wrong = _compare((ROOT / path).read_text(encoding="utf-8"))
    assert wrong == []


TRANSFORMERS = importlib.util.find_spec("transformers")


def _nested(source: str) -> bool:
    """Whether a module reads CUDA names (what the rules ask about) and its functions import
    names."""
    return "cuda" in source and bool(bindings_of(ast.parse(source)).nested)


@pytest.mark.skipif(TRANSFORMERS is None, reason="transformers is not installed")
def test_the_names_of_real_code_with_imports_in_functions_are_libcsts() -> None:
    assert TRANSFORMERS is not None and TRANSFORMERS.submodule_search_locations
    root = Path(TRANSFORMERS.submodule_search_locations[0])
    sources = (p.read_text(encoding="utf-8") for p in sorted(root.glob("**/*.py")))
    picked = list(itertools.islice((s for s in sources if len(s) < 60_000
                                    and _nested(s)), 20))
    assert len(picked) == 20
    answered = 0
    for source in picked:
        count, wrong = _compare(source)
        assert wrong == []
        answered += count
    assert answered > 500


def test_imported_names_need_an_import_of_their_first_name() -> None:
    source = "import torch\nself.cuda = torch.cuda\nlocal = 1\nlocal.cuda()\n"
    file = PyFile("m.py", cst.parse_module(source), source.encode(), get_target("npu"),
                  RunOptions(), python_tree=ast.parse(source))
    names = {cst.helpers.get_full_name_for_node(n): file.imported_names(n)
             for n in file.parents if isinstance(n, cst.Attribute)}
    assert names == {"self.cuda": set(), "torch.cuda": {"torch.cuda"}, "local.cuda": set()}
