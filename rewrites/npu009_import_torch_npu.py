"""NPU009: ``import torch_npu`` where the ported program first needs the NPU."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

import libcst as cst

from covo_port.lib.tree import nodes_in
from covo_port.lib.treefacts import IMPORT, imported_modules, module_names
from covo_port.model import Category, Example, ImportStyle, PythonRule, Severity, Target, TreeIndex

#: Facts of the tree (TreeIndex words): a package's __init__.py, a Python module, a module
#: with a ``__main__`` guard, a module that imports torch, a module that mentions CUDA, and
#: ``console:<module>`` for the modules that console scripts name (pyproject, setup.cfg/py).
PACKAGE, PYTHON, MAIN, TORCH, CUDA, CONSOLE = (
    "package", "python", "main", "torch", "cuda", "console:")
_IMPORTS_TORCH = re.compile(rb"^[ \t]*(?:import[ \t]+torch\b|from[ \t]+torch\b)", re.M)
_USES_CUDA = (b"cuda", b"nccl", b"CUDA_VISIBLE_DEVICES")
_ENTRY_POINT = re.compile(rb"""=\s*["']?([A-Za-z_][\w.]*)\s*:\s*[A-Za-z_][\w.]*""")
_BUILD_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
def _imports_torch(statement: cst.CSTNode) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.Import) and any(
                cst.helpers.get_full_name_for_node(alias.name).split(".")[0] == "torch"
                for alias in small.names):
            return True
        if isinstance(small, cst.ImportFrom) and small.module is not None and not small.relative \
                and cst.helpers.get_full_name_for_node(small.module).split(".")[0] == "torch":
            return True
    return False


def _is_docstring_or_future(statement: cst.BaseStatement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString,
                                                                cst.ConcatenatedString)):
        return True
    return isinstance(small, cst.ImportFrom) and isinstance(small.module, cst.Name) and (
        small.module.value == "__future__")


def _has_main_guard(module: cst.Module) -> bool:
    return any(isinstance(s, cst.If) and isinstance(s.test, cst.Comparison)
               and isinstance(s.test.left, cst.Name) and s.test.left.value == "__name__"
               for s in module.body)


@dataclass(frozen=True)
class _Layout:
    """What NPU009 reads of a tree's index for every module: the package folders, the
    modules that console scripts name and the dotted names of the modules that mention CUDA."""

    packages: frozenset[str]
    consoles: frozenset[str]
    cuda: frozenset[str]


#: The layout of the tree index seen last (a run has one; worked out once, not per module).
_layouts: list[tuple[TreeIndex, _Layout]] = []


def _layout(tree: TreeIndex) -> _Layout:
    if not _layouts or _layouts[0][0] is not tree:
        rule = ImportTorchNpu.id
        _layouts[:] = [(tree, _Layout(
            frozenset(posixpath.dirname(f) for f in tree.files_with(rule, PACKAGE)),
            frozenset(word.removeprefix(CONSOLE) for word in tree.words.get(rule, {})
                      if word.startswith(CONSOLE)),
            frozenset(name for f in tree.files_with(rule, CUDA) for name in module_names(f))))]
    return _layouts[0][1]


def _is_entry(tree: TreeIndex, path: str, main: bool) -> bool:
    """Whether the module ``path`` is where a program starts: a ``__main__`` guard
    (``main``), a notebook, ``__main__.py``, a module outside every package, or one that a
    console script names."""
    if main or path.endswith(".ipynb") or posixpath.basename(path) == "__main__.py":
        return True
    layout = _layout(tree)
    if posixpath.dirname(path) not in layout.packages:
        return True
    dotted = path.removesuffix(".py").replace("/", ".")
    return any(dotted == c or dotted.endswith("." + c) for c in layout.consoles)


def _imports_cuda_module(tree: TreeIndex, path: str) -> bool:
    """Whether the module ``path`` imports a module of the tree that mentions CUDA."""
    return any(path in tree.files_with(ImportTorchNpu.id, IMPORT + name)
               for name in _layout(tree).cuda)


class ImportTorchNpu(PythonRule, id="NPU009", name="import-torch-npu", category=Category.SETUP,
                     severity=Severity.INFO, triggers=("cuda",), phase=1, needs_tree=True):
    """import torch_npu in the entry modules of a ported program (or guarded)

    ## What it does

    Adds `import torch_npu` where the ported program first needs the NPU: in its entry
    modules (scripts, modules with a `__main__` guard, `__main__.py`, console scripts,
    notebooks), right after their own `import torch` (inside the function where torch is
    imported lazily). Library modules that use the NPU are left importable without torch_npu
    and say so; in a tree with no entry module they get the guarded form. `--import-style
    guarded` puts the guarded form (`try: import torch_npu` / `except ImportError: pass`) in
    every module that uses the NPU; `--import-style module` a plain import in each.

    ## Why it breaks on Ascend

    The "npu" device type, torch.npu, Tensor.npu() and NPU autocast exist only after `import
    torch_npu` has registered Ascend's backend with torch, once per process. Importing it in
    every library module (as Huawei's migration tool does) makes the library fail to import
    for its CPU and CUDA users, where torch_npu is not installed: the entry module of the
    program is where the NPU is first needed.

    ## Example

    ```python
    \"\"\"Entry point.\"\"\"
    import torch  # the framework

    if __name__ == "__main__":
        model.to("cuda:0")
    ```

    becomes

    ```python
    \"\"\"Entry point.\"\"\"
    import torch  # the framework
    import torch_npu

    if __name__ == "__main__":
        model.to("npu:0")
    ```

    ## Fix safety

    Safe: importing torch_npu registers the NPU backend and changes nothing else; the guarded
    form imports without it.
    """

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """A module that mentions CUDA, or an entry module (a ``__main__`` guard) that
        imports torch: it may need the import for the rest of the tree."""
        return super().might_match(source, target) or (
            b"__main__" in source and _IMPORTS_TORCH.search(source) is not None)

    @classmethod
    def tree_words(cls, path: str, data: bytes) -> set[str]:
        name = posixpath.basename(path)
        if name in _BUILD_FILES:
            return {CONSOLE + target.decode() for target in _ENTRY_POINT.findall(data)}
        words = set()
        if path.endswith((".py", ".ipynb")) and any(word in data for word in _USES_CUDA):
            words.add(CUDA)
        if not path.endswith(".py"):
            return words
        words.add(PYTHON)
        words.update(IMPORT + module for module in imported_modules(path, data))
        if name == "__init__.py":
            words.add(PACKAGE)
        if b"__main__" in data:
            words.add(MAIN)
        if _IMPORTS_TORCH.search(data):
            words.add(TORCH)
        return words

    # -- where the program starts -----------------------------------------------------------
    @classmethod
    def needed_in(cls, path: str, tree: TreeIndex) -> bool:
        """An entry module that imports torch and a module of the tree that mentions CUDA
        gets the (guarded) import even where its own text never mentions CUDA."""
        return path in tree.files_with(cls.id, TORCH) and _is_entry(
            tree, path, main=path in tree.files_with(cls.id, MAIN)) and _imports_cuda_module(
            tree, path)

    def _entries(self) -> list[str]:
        """The tree's entry modules that get the import: they import torch and mention CUDA
        or import a module of the tree that does (where the NPU is first needed)."""
        tree = self.file.tree
        if tree is None:
            return []
        torch_files = tree.files_with(self.id, TORCH)
        main, cuda = tree.files_with(self.id, MAIN), tree.files_with(self.id, CUDA)
        return sorted(f for f in tree.files_with(self.id, PYTHON)
                      if f in torch_files and _is_entry(tree, f, main=f in main)
                      and (f in cuda or (f in main and _imports_cuda_module(tree, f))))

    def _role(self) -> str:
        """"entry" for a module where the program starts, else "library"."""
        tree = self.file.tree
        if tree is None or _is_entry(tree, self.file.path, _has_main_guard(self.file.module)):
            return "entry"
        return "library"

    # -- the import -------------------------------------------------------------------------
    def finish(self) -> None:
        target = self.file.target
        runtime = target.runtime_module
        if runtime.encode() in self.file.source and self._already_imported(runtime):
            return
        if not self._torch_imported():
            return  # a module without torch (a config dict, a CLI) registers nothing
        uses = any(target.needs_runtime(c.after) for c in self.file.recorded_changes())
        style = self.file.options.import_style
        entry = self._role() == "entry"
        # an entry that does not use the NPU itself but starts a program whose modules may
        if entry and not uses and self.file.tree is not None and _imports_cuda_module(
                self.file.tree, self.file.path):
            if style is not ImportStyle.MODULE:
                self._insert(guarded=True)  # without torch_npu it still runs (CPU users)
            return
        if not uses:
            return
        if style is ImportStyle.MODULE or (style is ImportStyle.ENTRY and entry):
            self._insert(guarded=False)
        elif style is ImportStyle.GUARDED:
            self._insert(guarded=True)
        else:
            self._library()

    def _library(self) -> None:
        """A library module that uses the NPU: the entry modules import torch_npu."""
        runtime = self.file.target.runtime_module
        entries = self._entries()
        if not entries:
            self._insert(guarded=True)
            return
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more"
                                          if len(entries) > 3 else "")
        self.report(self.file.module, f"this library module uses the NPU: `import {runtime}` "
                    f"goes into the program's entry modules ({shown}), not here, so that it "
                    f"still imports without torch_npu; a program that imports it from elsewhere "
                    f"must import {runtime} first (or port with --import-style guarded)")

    def _torch_imported(self) -> bool:
        return any(_imports_torch(s) for s in self.file.module.body) or bool(
            self._lazy_torch_imports())

    def _lazy_torch_imports(self) -> list[cst.CSTNode]:
        """``import torch`` statements inside functions."""
        return [s for s in nodes_in(self.file.module, cst.SimpleStatementLine)
                if _imports_torch(s) and not any(s is t for t in self.file.module.body)]

    def _statement(self, guarded: bool) -> cst.BaseStatement:
        runtime = self.file.target.runtime_module
        if guarded:
            return cst.parse_statement(f"try:\n    import {runtime}\nexcept ImportError:\n"
                                       "    pass\n")
        return cst.parse_statement(f"import {runtime}\n")

    def _insert(self, guarded: bool) -> None:
        module = self.file.module
        runtime = self.file.target.runtime_module
        new_line = self._statement(guarded)
        form = "guarded " if guarded else ""
        anchor = next((s for s in module.body if _imports_torch(s)), None)
        if anchor is None:
            lazy = self._lazy_torch_imports()
            if lazy:
                for statement in lazy:
                    self.replace(statement, lambda u: cst.FlattenSentinel([u, new_line]),
                                 f"{form}import {runtime} where torch is imported")
                return
            prefix = 0
            while prefix < len(module.body) and _is_docstring_or_future(module.body[prefix]):
                prefix += 1
            if prefix == 0:
                self.replace(module.body[0],
                             lambda updated: cst.FlattenSentinel([new_line, updated]),
                             f"{form}import {runtime} at the top of the module")
                return
            anchor = module.body[prefix - 1]
        self.replace(anchor, lambda updated: cst.FlattenSentinel([updated, new_line]),
                     f"{form}import {runtime} after the module's torch import")

    def _already_imported(self, runtime: str) -> bool:
        """Any import of the runtime module, anywhere (try/except, if-guarded...)."""
        for node in nodes_in(self.file.module, cst.Import, cst.ImportFrom):
            if isinstance(node, cst.Import):
                names = [cst.helpers.get_full_name_for_node(a.name) for a in node.names]
            elif node.module is not None and not node.relative:
                names = [cst.helpers.get_full_name_for_node(node.module)]
            else:
                continue
            if any(name is not None and name.split(".")[0] == runtime for name in names):
                return True
        return False

    examples = (
        Example(
            '"""Entry point."""\nimport os\nimport torch  # the framework\n\nx = "cuda:0"\n'
            'model.to("cuda:0")\n',
            '"""Entry point."""\nimport os\nimport torch  # the framework\nimport torch_npu\n\n'
            'x = "cuda:0"\nmodel.to("npu:0")\n',
            with_rules=("NPU001",),
        ),
        Example(  # no torch here: torch_npu is imported where torch is (the entry modules)
            "from __future__ import annotations\n\ndef f(x):\n    return x.cuda()\n",
            "from __future__ import annotations\n\ndef f(x):\n    return x.npu()\n",
            with_rules=("NPU001",),
        ),
        Example(  # torch imported lazily: torch_npu too
            "def main(x):\n    import torch\n    return x.cuda()\n",
            "def main(x):\n    import torch\n    import torch_npu\n    return x.npu()\n",
            with_rules=("NPU001",),
        ),
        Example(
            "import torch\nimport torch_npu\nx = y.cuda()\n",
            "import torch\nimport torch_npu\nx = y.npu()\n",
            with_rules=("NPU001",),
        ),
        Example("import torch\nprint(torch.__version__)  # cuda\n", with_rules=("NPU001",)),
    )
