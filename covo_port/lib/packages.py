"""What the NPU1xx diagnostics share: finding imports and uses of CUDA-only libraries.

:class:`PackageRule` is the base of the rules that report a CUDA-only package (triton,
flash_attn, xformers, apex, cupy, pynvml). Names are resolved through the imports (``import
flash_attn as fa``, ``from flash_attn import flash_attn_func``), never matched as text: a local
variable that happens to be called ``triton`` is not the package.
"""

from __future__ import annotations

import re
from typing import ClassVar

import libcst as cst
from libcst.helpers import get_full_name_for_node

from covo_port.lib.names import imported_names
from covo_port.lib.tree import calls_in
from covo_port.model import PythonRule, PythonSource, Safety, Severity, Target

_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
OPTIONAL = ("optional import (guarded by try/except ImportError or an availability test): on "
            "the NPU the fallback path runs; check that it is the one you want")


def _catches_import_error(handler: cst.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elements if isinstance(handler.type, cst.Tuple) else [handler.type]
    for kind in kinds:
        node = kind.value if isinstance(kind, cst.Element) else kind
        name = get_full_name_for_node(node) or ""
        if name.rsplit(".", 1)[-1] in _IMPORT_ERRORS:
            return True
    return False


def _availability_test(test: cst.BaseExpression) -> bool:
    """``if is_flash_attn_available():``, ``if find_spec("triton"):`` and the like."""
    for call in calls_in(test):
        name = (get_full_name_for_node(call.func) or "").rsplit(".", 1)[-1]
        if "available" in name or name == "find_spec":
            return True
    return False


def _type_checking(test: cst.BaseExpression) -> bool:
    return (get_full_name_for_node(test) or "").rsplit(".", 1)[-1] == "TYPE_CHECKING"


class PackageRule(PythonRule, safety=Safety.REPORT, cuda_only=True):
    """Reports the imports of ``packages`` and (``report_calls``) each call of their names."""

    #: Top-level import names of the library.
    packages: ClassVar[tuple[str, ...]]
    #: Why it does not run on the NPU, for the messages ("flash-attn's kernels are CUDA-only").
    library: ClassVar[str]
    #: (qualified-name prefix, what to use on the NPU); the longest prefix wins, "" is the default.
    instead: ClassVar[tuple[tuple[str, str], ...]]
    #: Whether each call of one of the library's names is reported too (not only the imports).
    report_calls: ClassVar[bool] = True

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        #: names that imports of the library bound so far (a cheap test before resolving)
        self._bound: set[str] = set()

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """An import statement naming the library: every report starts from one."""
        if not super().might_match(source, target):
            return False
        words = b"|".join(re.escape(p.encode()) for p in cls.packages)
        return re.search(rb"\b(?:import|from)\b[^\n]*\b(?:" + words + rb")\b", source) is not None

    @classmethod
    def ours(cls, name: str) -> bool:
        return name.split(".", 1)[0] in cls.packages

    @classmethod
    def advice(cls, name: str) -> str:
        matches = [(prefix, text) for prefix, text in cls.instead
                   if prefix == "" or name == prefix or name.startswith(prefix + ".")]
        return max(matches, key=lambda match: len(match[0]))[1]

    def _context(self, node: cst.CSTNode) -> str | None:
        """"skip" under ``if TYPE_CHECKING:``, "optional" where guarded, else None."""
        child: cst.CSTNode = node
        parent = self.parent(child)
        while parent is not None:
            if isinstance(parent, cst.If) and child is parent.body:
                if _type_checking(parent.test):
                    return "skip"
                if _availability_test(parent.test):
                    return "optional"
            if isinstance(parent, cst.Try) and child is parent.body and any(
                    _catches_import_error(h) for h in parent.handlers):
                return "optional"
            child, parent = parent, self.parent(parent)
        return None

    def report_use(self, node: cst.CSTNode, message: str) -> None:
        """Report ``node``: an info where guarded (the NPU takes the other path), nothing
        under ``if TYPE_CHECKING:`` (never runs)."""
        context = self._context(node)
        if context == "optional":
            self.report(node, f"{message} ({OPTIONAL})", Severity.INFO)
        elif context is None:
            self.report(node, message)

    def report_import(self, alias: cst.ImportAlias | cst.ImportFrom, name: str,
                      module: bool = False) -> None:
        if isinstance(alias, cst.ImportAlias):
            bound = alias.asname.name if alias.asname is not None else None
            if isinstance(bound, cst.Name):
                self._bound.add(bound.value)
            elif bound is None:
                self._bound.add(name.split(".", 1)[0] if module else name.rsplit(".", 1)[1])
        self.report_use(alias, f"imports {name}: {self.library}; {self.advice(name)}")

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = get_full_name_for_node(alias.name) or ""
            if self.ours(name):
                self.report_import(alias, name, module=True)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = get_full_name_for_node(node.module) or ""
        if not self.ours(module):
            return
        if isinstance(node.names, cst.ImportStar):
            self.report_import(node, f"{module}.*")
            return
        for alias in node.names:
            self.report_import(alias, f"{module}.{get_full_name_for_node(alias.name)}")

    def library_names(self, node: cst.BaseExpression) -> list[str]:
        """The library's qualified names that ``node`` resolves to through imports."""
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if not isinstance(root, cst.Name) or root.value not in self._bound:
            return []  # not a name the library's imports bound (so far in the file)
        return sorted(n for n in imported_names(self, node) if self.ours(n))

    def visit_Call(self, node: cst.Call) -> None:
        if not self.report_calls:
            return
        names = self.library_names(node.func)
        if names:
            self.report_use(node, f"{names[0]}(...): {self.library}; {self.advice(names[0])}")
