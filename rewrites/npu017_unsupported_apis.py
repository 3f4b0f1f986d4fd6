"""NPU017: calls of the torch APIs that torch_npu 2.8 lists as unsupported (Ascend's table)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import ScopeProvider

from covo_port.lib.extensions import compiles_cuda
from covo_port.lib.names import imported_names, is_outermost
from covo_port.lib.pytree import imported_names as pytree_imports
from covo_port.lib.tree import nodes_in
from covo_port.model import Category, Example, PythonRule, PythonSource, Safety, Target

#: Huawei's table (covo_port/data/ascend/, Mulan PSL v2): {"op_list": {torch API: "-"}}.
TABLE = ("data", "ascend", "op_list_2_8.json")
#: Entries that another rule rewrites or reports: never reported twice.
OWNERS = (
    ("torch.cuda.", "NPU010"),
    ("torch.backends.cudnn.", "NPU013"),
    ("torch.backends.cuda.preferred_linalg_library", "NPU013"),
    ("torch.backends.cuda.sdp_kernel", "NPU007"),
    ("torch.autograd.profiler.emit_nvtx", "NPU014"),
)
#: Calls that certainly return a torch.Tensor (for ``x.to_sparse()``-style method entries).
TENSOR_FACTORIES = frozenset(f"torch.{f}" for f in (
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "rand", "randn",
    "randint", "randperm", "arange", "linspace", "logspace", "eye", "zeros_like", "ones_like",
    "empty_like", "full_like", "rand_like", "randn_like", "randint_like", "stack", "cat"))
_CPP_LOAD = "torch.utils.cpp_extension.load"


def raw_table() -> dict[str, str]:
    """The table as Huawei ships it."""
    text = resources.files("covo_port").joinpath(*TABLE).read_text(encoding="utf-8")
    table = json.loads(text)["op_list"]
    assert isinstance(table, dict)
    return table


def normalize(name: str) -> str:
    """A table name as torch spells it: the one bare entry (``to_sparse``) is a Tensor method."""
    return name if name.startswith("torch.") else f"torch.Tensor.{name}"


def owner(name: str) -> str | None:
    """The rule that already handles ``name``, if another one does."""
    for prefix, rule in OWNERS:
        if name == prefix or (prefix.endswith(".") and name.startswith(prefix)):
            return rule
    return None


@cache
def unsupported() -> frozenset[str]:
    """The names NPU017 reports: the table, normalised, less what other rules handle."""
    return frozenset(n for n in map(normalize, raw_table()) if owner(n) is None)


@cache
def constructors() -> dict[str, frozenset[str]]:
    """class -> the identifiers that build one (its own name; for Tensor, the factories)."""
    classes = {cls for found in members().values() for cls in found}
    made = {cls: {cls.rsplit(".", 1)[1]} for cls in classes}
    made.setdefault("torch.Tensor", set()).update(f.rsplit(".", 1)[1] for f in TENSOR_FACTORIES)
    return {cls: frozenset(names) for cls, names in made.items()}


@cache
def members() -> dict[str, frozenset[str]]:
    """method/attribute name -> the classes whose member of that name is in the table."""
    found: dict[str, set[str]] = {}
    for name in unsupported():
        owner_class, _, member = name.rpartition(".")
        if owner_class.rsplit(".", 1)[-1][:1].isupper():
            found.setdefault(member, set()).add(owner_class)
    return {member: frozenset(classes) for member, classes in found.items()}


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@cache
def entry_words() -> tuple[frozenset[str], ...]:
    """For each table entry that is not a class member, the words after ``torch`` in its name:
    a file can reach ``torch.nn.GRU`` only by writing "nn" and "GRU" (in a use or an import)."""
    member_names = {f"{cls}.{member}" for member, classes in members().items()
                    for cls in classes}
    return tuple(frozenset(name.split(".")[1:]) for name in sorted(unsupported())
                 if name not in member_names)


@cache
def member_call() -> re.Pattern[bytes]:
    """A call of a table member as a method: ``.to_sparse(``."""
    names = b"|".join(re.escape(m.encode()) for m in sorted(members()))
    return re.compile(rb"\.[\s\\]*(" + names + rb")[\s\\]*\(")


def _member_call(source: bytes, words: set[str]) -> bool:
    """A call of a table member as a method, with a constructor of its class in ``words``."""
    return any(not constructors()[cls].isdisjoint(words)
               for call in member_call().finditer(source)
               for cls in members()[call.group(1).decode()])


def _names_an_entry(tree: ast.Module) -> bool:
    """Whether a name or attribute chain of ``tree``, read through an absolute import of its
    first name (any of them, anywhere), is a table entry."""
    bound = pytree_imports(tree)
    table = unsupported()
    for node in ast.walk(tree):
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in bound:
            rest = "".join(f".{p}" for p in reversed(parts))
            if any(full + rest in table for full in bound[node.id]):
                return True
    return False


class UnsupportedApis(PythonRule, id="NPU017", name="unsupported-apis",
                      category=Category.OPERATORS, safety=Safety.REPORT, cuda_only=True,
                      triggers=("torch",)):
    """calls of torch APIs that torch_npu 2.8 lists as unsupported (240, Ascend's table)

    ## What it does

    Reports each use of a torch API that torch_npu 2.8 lists as unsupported (Ascend's own
    table), resolved through the imports.

    ## Why it breaks on Ascend

    Huawei's migration tool ships the list of torch APIs that torch_npu 2.8 does not support
    (op_list_2_8.json, 240 entries: e.g. torch.fft.fftshift, torch.nn.GRU, torch.std_mean,
    torch.nn.functional.max_pool1d, Tensor.to_sparse, torch.func.vmap): on the NPU they
    raise or fall back to the CPU. covo-port reports each use so that a port learns before
    it runs what the NPU will refuse: names resolved through the imports (`import torch.fft
    as F; F.fftshift(x)`, `from torch.fft import fftshift`), used as a call, a decorator, a
    base class or a value; uses as a type (annotations, isinstance, except clauses) are not.
    Methods of a class in the list (Tensor.to_sparse, Adam.step...) are reported on an
    object only where its class is certain: the result of a constructor or a tensor factory
    (torch.zeros(...)), or a name assigned nothing else in its scope (or a parameter
    annotated with the class). What to do depends on the API: compute it another way
    (fftshift is a torch.roll), keep that step on the CPU (x.cpu()), or use the NPU's
    operator. Table entries that another rule handles are left to it (torch.cuda.* to
    NPU010, cudnn and backend flags to NPU013, sdp_kernel to NPU007, emit_nvtx to NPU014,
    cpp_extension.load of CUDA sources to NPU107).

    ## Example

    ```python
    import torch
    import torch.fft as F
    from torch.fft import ifftshift
    spec = F.fftshift(torch.fft.fft(x))
    back = ifftshift(spec)
    std, mean = torch.std_mean(x, dim=0)
    ```

    is reported (3 findings) and left as it is.

    ## Fix safety

    Report only: the fix (another formulation, the CPU, an NPU operator) depends on the
    code.
    """

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """Every word of an entry's name, or a member's call with a constructor of its class
        (what the visitor needs before it reports); most torch files have neither."""
        if not super().might_match(source, target):
            return False
        words = set(_WORD.findall(source.decode("latin-1")))  # table names are ASCII
        return _member_call(source, words) or any(parts <= words for parts in entry_words())

    @classmethod
    def might_match_code(cls, code: bytes, tree: ast.Module, target: Target) -> bool:
        """As :meth:`might_match` on the code, and for the entries: a dotted name that an
        import binds and that, read through the import, is in the table (what the visitor
        looks at before it resolves the name)."""
        if not super(PythonRule, cls).might_match(code, target):
            return False
        words = set(_WORD.findall(code.decode("latin-1")))
        if _member_call(code, words):
            return True
        return any(parts <= words for parts in entry_words()) and _names_an_entry(tree)

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._skip = 0  # inside an import, an annotation or an except clause's type
        #: names inside the second argument of isinstance/issubclass (types, not uses)
        self._type_args: set[int] = set()
        #: name bound by an import -> what it imports (`from torch import nn`: nn -> torch.nn),
        #: for a cheap guess at a dotted name before resolving it (which costs a scope analysis
        #: of the file); built as the imports come, which is before their uses in practice
        self._imports: dict[str, str] = {}
        #: identifiers seen that build an instance of a class in the table (see constructors)
        self._seen: set[str] = set()

    def _binds(self, aliases: Sequence[cst.ImportAlias], module: str | None) -> None:
        """Record what ``aliases`` bind (``module``: the module of a ``from`` import)."""
        for alias in aliases:
            full = get_full_name_for_node(alias.name) or ""
            if alias.asname is not None:
                bound = alias.asname.name
                if isinstance(bound, cst.Name):
                    self._imports[bound.value] = f"{module}.{full}" if module else full
            elif module:
                self._imports[full] = f"{module}.{full}"
            else:
                self._imports[full.split(".", 1)[0]] = full.split(".", 1)[0]

    def visit_Import(self, node: cst.Import) -> None:
        self._skip += 1
        self._binds(node.names, module=None)

    def leave_Import(self, original_node: cst.Import) -> None:
        self._skip -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._skip += 1
        module = get_full_name_for_node(node.module) if node.module is not None else None
        if module and not node.relative and not isinstance(node.names, cst.ImportStar):
            self._binds(node.names, module=module)

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self._skip -= 1

    def visit_Annotation(self, node: cst.Annotation) -> None:
        self._skip += 1

    def leave_Annotation(self, original_node: cst.Annotation) -> None:
        self._skip -= 1

    def visit_ExceptHandler_type(self, node: cst.ExceptHandler) -> None:
        self._skip += 1

    def leave_ExceptHandler_type(self, node: cst.ExceptHandler) -> None:
        self._skip -= 1

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value in ("isinstance", "issubclass") \
                and len(node.args) > 1:
            self._type_args.update(id(n) for n in nodes_in(
                node.args[1].value, cst.Name, cst.Attribute))

    def leave_Call(self, original_node: cst.Call) -> None:
        func = original_node.func  # the receiver's own names are seen by now
        if not isinstance(func, cst.Attribute) or self._skip:
            return
        for cls in sorted(members().get(func.attr.value, ())):
            if not constructors()[cls].isdisjoint(self._seen) and self._instance_of(
                    func.value, cls):
                self._report(original_node, f"{cls}.{func.attr.value}")
                return

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._reference(node, node.attr.value)

    def visit_Name(self, node: cst.Name) -> None:
        self._reference(node, node.value)

    def _reference(self, node: cst.Name | cst.Attribute, last: str) -> None:
        self._seen.add(last)
        if self._skip or not self._candidate(node):
            return
        if not is_outermost(self, node) or id(node) in self._type_args:
            return  # a part of a longer dotted name; a type that isinstance() tests
        names = imported_names(self, node) & unsupported()
        if not names:
            return
        name = min(names)
        if name == _CPP_LOAD:
            parent = self.parent(node)
            if isinstance(parent, cst.Call) and parent.func is node and compiles_cuda(
                    self, parent):
                return  # NPU107 reports it
        self._report(node, name)

    def _candidate(self, node: cst.Name | cst.Attribute) -> bool:
        """Whether ``node`` may name a table entry: a dotted name whose root an import bound
        and which, read through that import, is in the table (resolved exactly later)."""
        root: cst.BaseExpression = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if not isinstance(root, cst.Name) or root.value not in self._imports:
            return False
        dotted = get_full_name_for_node(node)
        if dotted is None:
            return False
        guess = self._imports[root.value] + dotted[len(root.value):]
        return guess in unsupported()

    def _report(self, node: cst.CSTNode, name: str) -> None:
        self.report(node, f"{name} is on torch_npu 2.8's list of unsupported APIs (Ascend's "
                    "op_list_2_8): on the NPU it fails or falls back to the CPU; compute it "
                    "another way, or run this step on the CPU")

    def _instance_of(self, node: cst.BaseExpression, cls: str) -> bool:
        """Whether ``node`` is certainly an instance of ``cls`` (see the rationale)."""
        if isinstance(node, cst.Call):
            made = imported_names(self, node.func)
            return cls in made or (cls == "torch.Tensor" and not made.isdisjoint(
                TENSOR_FACTORIES))
        if not isinstance(node, cst.Name):
            return False
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None or node.value not in scope:
            return False
        assignments = list(scope[node.value])
        return bool(assignments) and all(
            self._binds_instance(getattr(a, "node", None), cls) for a in assignments)

    def _binds_instance(self, bound: cst.CSTNode | None, cls: str) -> bool:
        if isinstance(bound, cst.Param):
            return bound.annotation is not None and cls in imported_names(
                self, bound.annotation.annotation)
        if not isinstance(bound, cst.Name):
            return False
        target = self.parent(bound)
        statement = self.parent(target) if isinstance(target, cst.AssignTarget) else None
        return isinstance(statement, cst.Assign) and len(statement.targets) == 1 and (
            isinstance(statement.value, cst.Call) and self._instance_of(statement.value, cls))

    examples = (
        Example(
            "import torch\n"
            "import torch.fft as F\n"
            "from torch.fft import ifftshift\n"
            "spec = F.fftshift(torch.fft.fft(x))\n"
            "back = ifftshift(spec)\n"
            "std, mean = torch.std_mean(x, dim=0)\n",
            findings=3,
        ),
        Example(
            "import torch.nn as nn\n"
            "import torch\n"
            "class Encoder(nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.rnn = nn.GRU(80, 256, batch_first=True)\n"
            "sparse = torch.zeros(4, 4).to_sparse()\n"
            "def f(x: torch.Tensor):\n"
            "    return x.unique_consecutive()\n",
            findings=3,
        ),
        Example(
            "import torch\n"
            "from torch import nn\n"
            "def shift(x: torch.Tensor, rnn: nn.GRU):\n"
            "    if isinstance(rnn, nn.GRU):\n"
            "        return torch.roll(x, x.shape[-1] // 2, dims=-1)\n"
            "y = frame.to_sparse()\n"
            "torch.cuda.memory_usage(0)\n"
            "z = F.fftshift(x)\n",
        ),
    )
