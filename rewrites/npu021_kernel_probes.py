"""NPU021: what picks the CUDA-kernel path, across modules, reported (so its probe stays)."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.consumers import ConsumerKind, consumers
from covo_port.lib.imports import ImportAware, from_module
from covo_port.lib.names import full_name, imported_names
from covo_port.lib.tree import nodes_in
from covo_port.lib.treefacts import (
    IMPORT,
    imported_modules,
    imports_at_module_level,
    module_names,
)
from covo_port.model import (
    Category,
    Example,
    PythonSource,
    Safety,
    Target,
    TreeIndex,
)

#: The tree fact of a module that imports a library of CUDA kernels (triton, flash_attn...).
KERNELS = "kernels"
#: The tree fact of a module that imports one only inside a function (a lazy import).
LAZY_KERNELS = "kernels-in-functions"
_PREDICATE = re.compile(r"avail|support|fused|kernel|triton|flash|use_|can_|enable|check",
                        re.I)
_PROBE_WORDS = (b"is_cuda", b"is_available", b"cuda")


def kernel_libraries() -> set[str]:
    return {name for name, c in consumers().items() if c.kind is ConsumerKind.KERNELS}


def _is_probe(rule: ImportAware, node: cst.CSTNode) -> bool:
    """``x.is_cuda``, ``torch.cuda.is_available()``/``device_count()``, a device type
    compared with "cuda"."""
    if isinstance(node, cst.Attribute) and node.attr.value == "is_cuda":
        return True
    if isinstance(node, cst.Call) and not imported_names(rule, node.func).isdisjoint(
            {"torch.cuda.is_available", "torch.cuda.device_count"}):
        return True
    return isinstance(node, cst.Comparison) and any(
        isinstance(part, cst.SimpleString) and part.evaluated_value == "cuda"  # type: ignore
        for part in (node.left, *(t.comparator for t in node.comparisons)))


def _with_packages(modules: set[str], tree: TreeIndex | None, rule: str,
                   path: str) -> set[str]:
    """``modules`` and the packages whose ``__init__`` imports one of them, to a fixpoint."""
    found, todo = set(modules), list(modules)
    while todo and tree is not None:
        for init in tree.files_with(rule, IMPORT + todo.pop()):
            if init.endswith("__init__.py") and init != path:
                new = module_names(init) - found
                found |= new
                todo.extend(new)
    return found


class KernelProbes(ImportAware, id="NPU021", name="cuda-kernel-probes", category=Category.KERNELS,
                   safety=Safety.REPORT, cuda_only=True, triggers=("cuda",), needs_tree=True):
    """probes and calls that pick CUDA kernels (Triton, flash-attn...), across modules

    ## What it does

    Reports what makes a CUDA probe pick a path of CUDA kernels, so that the probe is not
    switched to the NPU (the port's guard leaves a probe that holds or guards such a report):
    calls of functions imported from a module of the tree that uses a library of CUDA kernels
    (Triton, flash-attn, xFormers, apex, mamba-ssm, bitsandbytes...), in a module that holds a
    CUDA probe which may choose them; and, in modules that use one, availability predicates
    (`return HAVE_TRITON and torch.cuda.is_available()`), kernel flags (`USE_FUSED =
    x.is_cuda`) and test skips (`pytest.mark.skipif(not torch.cuda.is_available(), ...)`) that
    decide on a CUDA probe.

    ## Why it breaks on Ascend

    Code that calls CUDA kernels usually checks for CUDA first and falls back to plain torch
    where it is absent: on an Ascend host the fallback runs. Switching the check to the NPU
    (`x.is_npu`, `torch.npu.is_available()`) sends NPU tensors into the kernels, which cannot
    run there, or runs tests of CUDA kernels that used to be skipped. Where the kernel call is
    in another module of the tree, only the tree shows it.

    ## Example

    ```python
    from .kernels.entropy import entropy_from_logits  # a module that imports triton
    def entropy(logits):
        if not logits.is_cuda:
            return eager_entropy(logits)
        return entropy_from_logits(logits)
    ```

    `entropy_from_logits(logits)` is reported, so `logits.is_cuda` stays: the NPU takes the
    eager path.

    ## Fix safety

    Report only: whether the kernel path can run on the NPU (Triton-Ascend, an NPU operator)
    is a decision for a human; until then the CUDA-free path runs, as in the source.
    """

    @classmethod
    def tree_words(cls, path: str, data: bytes) -> set[str]:
        if not path.endswith(".py"):
            return set()
        modules = imported_modules(path, data)
        words = {IMPORT + name for name in modules}
        libraries = kernel_libraries()
        if imports_at_module_level(path, data, libraries):  # not one function's lazy import
            words.add(KERNELS)
        elif any(name.split(".", 1)[0] in libraries for name in modules):
            words.add(LAZY_KERNELS)
        return words

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        return any(word in source for word in _PROBE_WORDS)

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        libraries = kernel_libraries()
        tree = file.tree
        kernel_files = tree.files_with(self.id, KERNELS) if tree is not None else frozenset()
        #: dotted names of the tree's modules that use a library of CUDA kernels, and of the
        #: packages that import one in their __init__ (``import kernels`` of a script beside)
        self._kernel_modules = _with_packages(
            {name for f in kernel_files for name in module_names(f) if f != file.path},
            tree, self.id, file.path)
        imported = imported_modules(file.path, file.source)
        #: whether this module uses kernels (a library, or a kernel module of the tree)
        self._uses_kernels = file.path in kernel_files or any(
            name.split(".", 1)[0] in libraries or name in self._kernel_modules
            for name in imported)
        #: local names bound by imports from the tree's kernel modules -> that module
        self._from_kernels: dict[str, str] = {}
        #: calls into the tree's kernel modules: reported where the module holds a CUDA probe
        self._kernel_calls: list[tuple[cst.Call, str]] = []

    def visit_Import(self, node: cst.Import) -> None:
        super().visit_Import(node)
        for alias in node.names:
            module = full_name(alias.name)
            if module in self._kernel_modules:
                bound = alias.evaluated_alias or module.split(".", 1)[0]
                self._from_kernels[bound] = module

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        super().visit_ImportFrom(node)
        module = from_module(node) or self._relative(node)
        if module is None or module not in self._kernel_modules or isinstance(
                node.names, cst.ImportStar):
            return
        for alias in node.names:
            self._from_kernels[alias.evaluated_alias or alias.evaluated_name] = module

    def _relative(self, node: cst.ImportFrom) -> str | None:
        if not node.relative:
            return None
        text = "." * len(node.relative) + (full_name(node.module) or "" if node.module else "")
        found = imported_modules(self.file.path, f"from {text} import x".encode())
        return min(found, key=len, default=None)  # the module, not module.x

    def visit_Call(self, node: cst.Call) -> None:
        if self.in_import:
            return
        root: cst.BaseExpression = node.func
        while isinstance(root, cst.Attribute):
            root = root.value
        module = self._from_kernels.get(root.value) if isinstance(root, cst.Name) else None
        if module is not None and self._uses_kernels:
            self._kernel_calls.append((node, module))
        elif self._skip_marker(node) and (self._uses_kernels or self._tests_kernel_users()):
            self.report(node, "a test skip that decides on CUDA, in a module that uses CUDA "
                        "kernels (or tests a module that does): left on CUDA, so that these "
                        "tests stay skipped on the NPU")

    def _tests_kernel_users(self) -> bool:
        """Whether this module imports (anywhere, lazily too) a module of the tree that uses
        CUDA kernels (in a function too), or one that imports such a module: a test of code
        that calls CUDA kernels."""
        tree = self.file.tree
        if tree is None:
            return False
        users = self._kernel_modules | {name for f in tree.files_with(self.id, LAZY_KERNELS)
                                        if f != self.file.path for name in module_names(f)}
        users |= {name for used in users for f in tree.files_with(self.id, IMPORT + used)
                  if f != self.file.path for name in module_names(f)}
        return not users.isdisjoint(imported_modules(self.file.path, self.file.source))

    def _skip_marker(self, node: cst.Call) -> bool:
        name = full_name(node.func) or ""
        return name.rsplit(".", 1)[-1] in ("skipif", "skipIf", "skipUnless") and any(
            _is_probe(self, probe) for arg in node.args[:1]
            for probe in nodes_in(arg.value, cst.Attribute, cst.Call, cst.Comparison))

    def visit_Return(self, node: cst.Return) -> None:
        if self._uses_kernels and node.value is not None and self._has_probe(node.value):
            function = self._function(node)
            if function is not None and _PREDICATE.search(function):
                self.report(node, f"{function}() tells whether the CUDA kernels may be used, "
                            "from a CUDA probe: left on CUDA, so it says no on the NPU")

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._uses_kernels or not self._has_probe(node.value):
            return
        names = [n for t in node.targets if (n := full_name(t.target))]
        if any(_PREDICATE.search(n) for n in names):
            self.report(node, f"{names[0]} tells whether the CUDA kernels may be used, from a "
                        "CUDA probe: left on CUDA, so it is false on the NPU")

    def finish(self) -> None:
        """The calls into kernel modules, where a CUDA probe in this module may choose them
        (a module without one never mentions CUDA in its code, whatever its comments say)."""
        if not self._kernel_calls or not self._has_probe(self.file.module):
            return
        for node, module in self._kernel_calls:
            self.report(node, f"calls {full_name(node.func)} from {module}, which uses CUDA "
                        "kernels: a CUDA probe that chooses this call is left on CUDA, so the "
                        "NPU takes the other path; port the kernels, then the probe")

    def _has_probe(self, node: cst.CSTNode) -> bool:
        return any(_is_probe(self, n) for n in nodes_in(
            node, cst.Attribute, cst.Call, cst.Comparison))

    def _function(self, node: cst.CSTNode) -> str | None:
        current = self.parent(node)
        while current is not None and not isinstance(current, cst.FunctionDef):
            current = self.parent(current)
        return current.name.value if current is not None else None

    examples = (
        Example(
            "import torch\nimport triton\n"
            "def fused_available():\n    return HAVE_TRITON and torch.cuda.is_available()\n"
            "USE_FUSED = torch.cuda.is_available()\n",
            findings=2,
        ),
        Example(
            "import pytest, torch\nfrom flash_attn import flash_attn_func\n"
            "pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='CUDA')\n",
            findings=1,
        ),
        Example(  # no library of CUDA kernels: nothing to say
            "import torch\n"
            "def available():\n    return torch.cuda.is_available()\n"
            "device = 'cuda' if torch.cuda.is_available() else 'cpu'\n",
        ),
    )
