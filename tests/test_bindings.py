"""The qualified names that the Python engine knows from a module's imports alone
(engines.python.bindings) are libcst's, node for node, wherever it answers without the scopes."""

from __future__ import annotations

import ast
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, QualifiedNameProvider

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
    assert answered >= 30


@pytest.mark.parametrize("path", sorted(
    p.relative_to(ROOT).as_posix() for folder in ("examples",)
    for p in (ROOT / folder).rglob("*.py")
    if "prompt" not in p.parts), ids=str)
def test_the_names_of_real_code_are_libcsts(path: str) -> None:
    _, wrong = _compare((ROOT / path).read_text(encoding="utf-8"))
    assert wrong == []


def test_imported_names_need_an_import_of_their_first_name() -> None:
    source = "import torch\nself.cuda = torch.cuda\nlocal = 1\nlocal.cuda()\n"
    file = PyFile("m.py", cst.parse_module(source), source.encode(), get_target("npu"),
                  RunOptions(), python_tree=ast.parse(source))
    names = {cst.helpers.get_full_name_for_node(n): file.imported_names(n)
             for n in file.parents if isinstance(n, cst.Attribute)}
    assert names == {"self.cuda": set(), "torch.cuda": {"torch.cuda"}, "local.cuda": set()}
