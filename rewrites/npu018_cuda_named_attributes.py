"""NPU018: attributes named for CUDA (``self.cuda_config``) renamed, where confined."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import libcst as cst

from covo_port.lib.pytree import methods
from covo_port.lib.words import words_containing
from covo_port.model import Category, Example, PythonRule, PythonSource, Severity, Target

_PART = re.compile(r"(?<![A-Za-z0-9])cuda(?![A-Za-z0-9])", re.IGNORECASE)
_RECORD_FACTORIES = {"collections.namedtuple", "typing.NamedTuple"}
_RECORD_BASES = {"typing.NamedTuple"}
_RECORD_DECORATORS = {"dataclasses.dataclass"}


def renamed(name: str, device: str) -> str | None:
    """``cuda_config`` -> ``npu_config`` (each ``_``-separated ``cuda`` part, case kept)."""
    parts = name.split("_")
    if not any(p.lower() == "cuda" for p in parts):
        return None

    def swap(part: str) -> str:
        if part.lower() != "cuda":
            return part
        return device.upper() if part.isupper() else (
            device.capitalize() if part[0].isupper() else device)

    return "_".join(swap(p) for p in parts)


@dataclass
class _Attribute:
    """One CUDA-named attribute of one class, as its methods use it through ``self``."""

    cls: str
    names: list[cst.Name] = field(default_factory=list)  # every `self.X` attr Name
    values: list[cst.BaseExpression] = field(default_factory=list)  # what `self.X = ...` assigns


class CudaNamedAttributes(PythonRule, id="NPU018", name="cuda-named-attributes",
                          category=Category.DEVICES, severity=Severity.INFO,
                          triggers=("cuda", "CUDA", "Cuda"), needs_tree=True,
                          declines='the name is used in another file or in a string '
                                   '(left as it is)'):
    """attributes named for CUDA (self.cuda_config) renamed for the target, if confined

    ## What it does

    Renames attributes named for CUDA (`self.cuda_config`) after the target where the name
    is confined to one class of one file.

    ## Why it breaks on Ascend

    After the port, an attribute such as self.cuda_config holds the NPU's settings
    (token2wav's attention keeps the accelerator's SDPA choice there and picks it when
    q.is_npu): the code runs, but a reviewer, and a residual-CUDA grep, read it as CUDA-only
    code. Renaming is safe only where nothing else can reach the name: the attribute is used
    only through self in one class of this file, its name appears in no other file of the
    tree and in no string (getattr, register_buffer, state-dict keys), and it holds plain
    data (a literal or a namedtuple / dataclass / NamedTuple defined in the module), never a
    module, parameter or tensor whose name would change checkpoint keys. Anything else is
    left as it is and reported at info level.

    ## Example

    ```python
    class Runner:
        def __init__(self, flag):
            self.use_CUDA = flag
            self.CUDA_streams = (1, 2)
        def go(self):
            return self.use_CUDA, self.CUDA_streams
    ```

    becomes (`use_CUDA` holds `flag`, which may be a module, parameter or tensor: it keeps its
    name, reported)

    ```diff
     class Runner:
         def __init__(self, flag):
             self.use_CUDA = flag
    -        self.CUDA_streams = (1, 2)
    +        self.NPU_streams = (1, 2)
         def go(self):
    -        return self.use_CUDA, self.CUDA_streams
    +        return self.use_CUDA, self.NPU_streams
    ```

    ## Fix safety

    Safe: renamed only where no other file, string or getattr can reach the name.
    """


    @classmethod
    def might_match_code(cls, code: bytes, tree: ast.Module, target: Target) -> bool:
        """A method that reads or sets an attribute of a parameter (its ``self``) named for
        CUDA (``self.cuda_config``): only those are renamed."""
        return super().might_match_code(code, tree, target) and any(
            isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in params and _PART.search(node.attr) is not None
            for method, params in methods(tree) for node in ast.walk(method))

    @classmethod
    def tree_words(cls, path: str, data: bytes) -> set[str]:
        """The CUDA-named words of a file (code, strings, comments, configs alike)."""
        return {w.decode("ascii") for w in words_containing(data, b"cuda")
                if not w[:1].isdigit()}

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._records: set[str] = set()  # module-level names of plain record types
        self._classes: list[tuple[str, str | None]] = []  # (class, self name of the method)
        self._attributes: dict[tuple[str, str], _Attribute] = {}
        self._names: dict[str, int] = {}  # every Name in the module by value
        self._strings: list[str] = []

    # -- what the module defines -------------------------------------------------------------
    def _may_be(self, node: cst.BaseExpression, names: set[str]) -> bool:
        """A cheap test before ``is_name`` (which costs a scope analysis of the file)."""
        return any(self.file.may_reach(node, name.rsplit(".", 1)[1]) for name in names)

    def visit_Assign(self, node: cst.Assign) -> None:
        if isinstance(node.value, cst.Call) and self._may_be(node.value.func, _RECORD_FACTORIES) \
                and self.is_name(node.value.func, *_RECORD_FACTORIES):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self._records.add(target.target.value)
        for target in node.targets:
            self._assigned(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._assigned(node.target, node.value)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        decorators = [d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
                      for d in node.decorators]
        if any(self._may_be(b.value, _RECORD_BASES) and self.is_name(b.value, *_RECORD_BASES)
               for b in node.bases) or any(
                self._may_be(d, _RECORD_DECORATORS) and self.is_name(d, *_RECORD_DECORATORS)
                for d in decorators):
            self._records.add(node.name.value)
        self._classes.append((node.name.value, None))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self._classes and self._classes[-1][1] is None and node.params.params:
            cls = self._classes[-1][0]
            self._classes.append((cls, node.params.params[0].name.value))
        else:
            self._classes.append(("", None))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._classes.pop()

    def visit_Name(self, node: cst.Name) -> None:
        self._names[node.value] = self._names.get(node.value, 0) + 1

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        self._strings.append(value if isinstance(value, str) else value.decode("latin-1"))

    def visit_FormattedStringText(self, node: cst.FormattedStringText) -> None:
        self._strings.append(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        attribute = self._self_attribute(node)
        if attribute is not None:
            attribute.names.append(node.attr)

    # -- helpers -----------------------------------------------------------------------------
    def _self_attribute(self, node: cst.BaseExpression) -> _Attribute | None:
        if not (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name)
                and self._classes):
            return None
        cls, me = self._classes[-1]
        if me is None or node.value.value != me or not _PART.search(node.attr.value):
            return None
        return self._attributes.setdefault((cls, node.attr.value), _Attribute(cls))

    def _assigned(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        attribute = self._self_attribute(target)
        if attribute is not None:
            attribute.values.append(value)

    def _plain(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString, cst.Comparison)):
            return True
        if isinstance(value, cst.Name):
            return value.value in ("True", "False", "None")
        if isinstance(value, (cst.Tuple, cst.List)):
            return all(self._plain(e.value) for e in value.elements)
        if isinstance(value, cst.IfExp):
            return self._plain(value.body) and self._plain(value.orelse)
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
            return value.func.value in self._records and all(
                self._plain(a.value) for a in value.args)
        return False

    # -- decision ----------------------------------------------------------------------------
    def finish(self) -> None:
        device = self.file.target.device_type
        owners: dict[str, set[str]] = {}
        for (cls, name) in self._attributes:
            owners.setdefault(name, set()).add(cls)
        for (cls, name), attribute in self._attributes.items():
            new = renamed(name, device)
            if new is None:
                continue  # `cudaConfig`: no `_`-separated part to rename; not reported
            reason = self._why_not(name, new, attribute, owners[name])
            first = attribute.names[0]
            if reason is not None:
                self.report(first, f"attribute self.{name} is named for CUDA; left as it is "
                                   f"({reason})")
                continue
            for node in attribute.names:
                self.replace(node, cst.Name(new),
                             f"self.{name} -> self.{new} (used only in class {cls} of this file)")

    def _why_not(self, name: str, new: str, attribute: _Attribute,
                 owners: set[str]) -> str | None:
        if len(owners) > 1:
            return "more than one class of this file uses the name"
        if self._names.get(name, 0) != len(attribute.names):
            return "the name is used outside the class's own self.<name>"
        if any(re.search(rf"\b{re.escape(name)}\b", s) for s in self._strings):
            return "the name appears in a string (getattr, state-dict keys...)"
        tree = self.file.tree
        if tree is not None and tree.used_elsewhere(self.id, name, self.file.path):
            return "other files of the project use the name"
        if self._names.get(new, 0):
            return f"{new} is already taken"
        if not attribute.values:
            return "it is never assigned in the class"
        if not all(self._plain(v) for v in attribute.values):
            return "it may hold a module, parameter or tensor, whose name is a checkpoint key"
        return None

    examples = (
        Example(
            "from collections import namedtuple\n"
            "Kernels = namedtuple('Kernels', ['flash', 'math'])\n"
            "class Attention:\n"
            "    def __init__(self):\n"
            "        self.cpu_kernels = Kernels(True, True)\n"
            "        self.cuda_kernels = Kernels(False, True)  # for the accelerator\n"
            "    def forward(self, q):\n"
            "        return self.cuda_kernels if q.is_npu else self.cpu_kernels\n",
            "from collections import namedtuple\n"
            "Kernels = namedtuple('Kernels', ['flash', 'math'])\n"
            "class Attention:\n"
            "    def __init__(self):\n"
            "        self.cpu_kernels = Kernels(True, True)\n"
            "        self.npu_kernels = Kernels(False, True)  # for the accelerator\n"
            "    def forward(self, q):\n"
            "        return self.npu_kernels if q.is_npu else self.cpu_kernels\n",
        ),
        Example(
            "class Runner:\n"
            "    def __init__(self, flag):\n"
            "        self.use_CUDA = flag\n"
            "        self.CUDA_streams = (1, 2)\n"
            "    def go(self):\n"
            "        return self.use_CUDA, self.CUDA_streams\n",
            "class Runner:\n"
            "    def __init__(self, flag):\n"
            "        self.use_CUDA = flag\n"
            "        self.NPU_streams = (1, 2)\n"
            "    def go(self):\n"
            "        return self.use_CUDA, self.NPU_streams\n",
            findings=1,
        ),
        Example(  # a submodule: its name is a checkpoint key
            "import torch.nn as nn\n"
            "class Net(nn.Module):\n"
            "    def __init__(self):\n"
            "        self.cuda_proj = nn.Linear(2, 2)\n",
            findings=1,
        ),
        Example(  # reached from outside the class, and by name in a string
            "class A:\n"
            "    def __init__(self):\n"
            "        self.cuda_mode = 1\n"
            "class B:\n"
            "    def __init__(self):\n"
            "        self.cuda_flag = 2\n"
            "a = A()\n"
            "print(a.cuda_mode, getattr(B(), 'cuda_flag'))\n",
            findings=2,
        ),
        Example(  # the new name is taken
            "class C:\n"
            "    def __init__(self):\n"
            "        self.cuda_size = 1\n"
            "        self.npu_size = 2\n",
            findings=1,
        ),
        Example("cuda_available = False\nclass D:\n    x = cuda_available\n"),
    )
