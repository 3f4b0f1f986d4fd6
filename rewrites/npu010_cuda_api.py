"""NPU010: the ``torch.cuda`` API -> ``torch.npu``, driven by the table in
:mod:`covo_port.lib.cuda_api`."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import ScopeProvider

from covo_port.lib.calls import insert_arg, keyword, positional_count
from covo_port.lib.cuda_api import NPU_MODULE, Action, ApiEntry, lookup
from covo_port.lib.imports import ImportAware, ImportMove, alias_key, move_imports
from covo_port.lib.names import (
    binds_module,
    dotted,
    imported_names,
    is_dotted,
    is_outermost,
    references,
)
from covo_port.lib.strings import new_string
from covo_port.model import Category, Example, PythonSource


class _Form(enum.Enum):
    """How a use reaches torch.cuda."""

    FULL = "full"  # torch.cuda.x, with torch imported
    ALIAS = "alias"  # tc.x after `import torch.cuda as tc`
    NAME = "name"  # x after `from torch.cuda import x`


_CLASS_BASE = "class-base"


class CudaApi(ImportAware, id="NPU010", name="torch-cuda-api", category=Category.CUDA_API,
              cuda_only=True, triggers=("cuda",),
              declines='no NPU twin, a submodule as a value, or torch not imported'):
    """torch.cuda.* API -> torch.npu.* (table of every public name), the rest reported

    ## What it does

    Rewrites each use of the `torch.cuda` API to its NPU twin from a table of every public
    name: `torch.cuda.X` -> `torch.npu.X`, renamed twins, `from torch.cuda import X` ->
    `from torch_npu.npu import X`, `GradScaler` and `custom_fwd/bwd` -> their `torch.amp`
    forms with the NPU device.

    ## Why it breaks on Ascend

    torch.cuda's functions look for a CUDA device, which an Ascend host does not have: even
    torch.cuda.synchronize() or torch.cuda.manual_seed() raise or silently do nothing.
    torch_npu provides the twin of nearly every one in torch.npu (142 names in
    torch_npu.npu.__all__: devices, streams, events, memory statistics and the caching
    allocator, RNG state, graphs, legacy tensor types); Huawei's runtime shim rebinds
    torch.cuda to it. covo-port rewrites each use statically from a table kept as data:
    torch.cuda.X -> torch.npu.X, renamed twins (CUDAGraph -> NPUGraph), `from torch.cuda
    import X` -> `from torch_npu.npu import X` (works before `import torch_npu`),
    torch.cuda.amp.GradScaler(...) -> torch.amp.GradScaler("npu", ...) and
    custom_fwd/custom_bwd -> torch.amp.custom_fwd(device_type="npu") (the non-deprecated
    forms), torch.cuda.OutOfMemoryError -> torch.OutOfMemoryError (the same class, which
    torch_npu raises). Uses through a module alias (`import torch.cuda as tc`) are rewritten
    to torch.npu.X where `torch` is imported; through torch under another name (`import torch
    as th`), th.cuda.X -> th.npu.X. get_device_properties/get_device_capability
    (NPU006) and autocast (NPU003) are left to their rules. A name with no NPU twin (nvtx,
    jiterator, get_arch_list, NVML queries...) is reported by name with what to use instead,
    never guessed.

    ## Example

    ```python
    from torch.cuda import synchronize, Event as CudaEvent, CUDAGraph
    from torch.cuda.memory import memory_allocated
    synchronize()
    ```

    becomes

    ```python
    from torch_npu.npu import synchronize, Event as CudaEvent, NPUGraph as CUDAGraph
    from torch_npu.npu import memory_allocated
    synchronize()
    ```

    ## Fix safety

    Safe: torch_npu's twins take the same arguments (Huawei's runtime shim binds torch.cuda
    to them).
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._moves: dict[int, dict[tuple[str, str | None], ImportMove]] = {}

    # -- imports -----------------------------------------------------------------------------
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        super().visit_ImportFrom(node)
        module = get_full_name_for_node(node.module) if node.module is not None else None
        if node.relative or module is None or not (
                module == "torch.cuda" or module.startswith("torch.cuda.")):
            return
        if isinstance(node.names, cst.ImportStar):
            self.report(node, f"`from {module} import *`: the names it binds cannot be followed; "
                        "import them by name so that they can be ported")
            return
        moves = self._import_moves(node, module)
        if moves:
            names = ", ".join(sorted(f"{m.name}" for m in moves.values()))
            targets = ", ".join(sorted({m.module for m in moves.values()}))
            move_imports(self, node, moves, f"from {module} import ... -> from {targets} "
                         f"import {names}")

    def _import_moves(self, node: cst.ImportFrom,
                      module: str) -> dict[tuple[str, str | None], ImportMove]:
        if id(node) in self._moves:
            return self._moves[id(node)]
        moves: dict[tuple[str, str | None], ImportMove] = {}
        assert not isinstance(node.names, cst.ImportStar)
        for alias in node.names:
            name, asname = alias_key(alias)
            local = asname or name
            entry, _ = lookup([*module.split(".")[2:], name])
            refs = references(self, node, local)
            if entry.action is Action.NPU:
                moves[(name, asname)] = ImportMove(NPU_MODULE, entry.target, asname or (
                    name if entry.target != name else None))
            elif entry.action in (Action.TORCH, Action.GRAD_SCALER, Action.CUSTOM_FN):
                if entry.action is Action.GRAD_SCALER and any(
                        self._context(ref) == _CLASS_BASE for ref in refs):
                    continue  # subclassed: reported at the class, the import stays
                target_module, _, target_name = entry.target.rpartition(".")
                moves[(name, asname)] = ImportMove(target_module, target_name, asname)
            elif entry.action is Action.REPORT and not refs:
                self._report_entry(alias, f"{module}.{name}", entry)
        self._moves[id(node)] = moves
        return moves

    # -- uses --------------------------------------------------------------------------------
    def visit_Name(self, node: cst.Name) -> None:
        self._check(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._check(node)

    def _check(self, node: cst.Name | cst.Attribute) -> None:
        if self.in_import:
            return
        if not is_outermost(self, node):
            return  # only the longest dotted chain is looked at
        if not is_dotted(node):
            return  # `torch.cuda.f().x`: the inner `torch.cuda.f` is looked at on its own
        if not self.file.may_reach(node, "cuda"):
            return
        qualified = sorted(q for q in imported_names(self, node)
                           if q == "torch.cuda" or q.startswith("torch.cuda."))
        if not qualified:
            return
        parts = qualified[0].split(".")[2:]
        entry, consumed = lookup(parts)
        sub: cst.BaseExpression = node
        for _ in range(len(parts) - consumed):
            if not isinstance(sub, cst.Attribute):
                break
            sub = sub.value
        form = self._form(sub)
        shown = "torch.cuda" + "".join(f".{p}" for p in parts[:consumed])
        self._act(entry, sub, form, shown)

    def _form(self, node: cst.BaseExpression) -> _Form:
        if isinstance(node, cst.Name):
            return _Form.NAME
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and root.value == "torch" and "torch" in imported_names(
                self, root):
            return _Form.FULL
        return _Form.ALIAS

    def _context(self, node: cst.CSTNode) -> str | None:
        parent = self.parent(node)
        if isinstance(parent, cst.Call) and parent.func is node:
            return "call"
        if isinstance(parent, cst.Decorator) and parent.decorator is node:
            return "decorator"
        if isinstance(parent, cst.Arg) and isinstance(self.parent(parent), cst.ClassDef):
            return _CLASS_BASE
        return None

    def _act(self, entry: ApiEntry, node: cst.BaseExpression, form: _Form, shown: str) -> None:
        action = entry.action
        if action is Action.REPORT:
            self._report_entry(node, shown, entry)
        elif action is Action.NAMESPACE:
            self.report(node, f"{shown} used as a value: its members cannot be followed; "
                        f"use the torch.npu names (see `covo-port rules {self.id}`)")
        elif action is Action.ROOT:
            self._qualified(node, form, "torch.npu", f"{shown} -> torch.npu")
        elif action in (Action.NPU, Action.TORCH) and form is not _Form.NAME:  # names: imports
            target = f"torch.npu.{entry.target}" if action is Action.NPU else entry.target
            self._qualified(node, form, target, f"{shown} -> {target}")
        elif action is Action.GRAD_SCALER:
            self._grad_scaler(entry, node, form, shown)
        elif action is Action.CUSTOM_FN:
            self._custom_fn(entry, node, form, shown)

    def _report_entry(self, node: cst.CSTNode, shown: str, entry: ApiEntry) -> None:
        self.report(node, f"{shown} has no NPU twin: {entry.note}", entry.severity)

    def _can_qualify(self, node: cst.BaseExpression, form: _Form, target: str) -> bool:
        """Whether ``node`` may be written as the dotted ``target`` (``torch`` is bound)."""
        if form == _Form.FULL or binds_module(self, node, "torch"):
            return True
        self.report(node, f"{self.file.module.code_for_node(node)} reaches torch.cuda through an "
                    f"alias in a module that does not `import torch`: write {target} "
                    "(after `import torch`)")
        return False

    def _qualified(self, node: cst.BaseExpression, form: _Form, target: str, message: str) -> None:
        alias = self._torch_alias(node) if form is _Form.ALIAS else None
        if alias is not None and target.startswith("torch."):  # `import torch as th`: th.npu
            self.replace(node, dotted(alias + target.removeprefix("torch")), message)
        elif self._can_qualify(node, form, target):
            self.replace(node, dotted(target), message)

    def _torch_alias(self, node: cst.BaseExpression) -> str | None:
        """``th`` where ``node`` is ``th.cuda...`` and ``th`` is torch itself, imported under
        another name."""
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and imported_names(self, root) == {"torch"}:
            return root.value
        return None

    def _import_moved(self, node: cst.BaseExpression) -> bool:
        """Whether the ``from torch.cuda... import`` that binds the name ``node`` moves it."""
        scope = self.get_metadata(ScopeProvider, node, None)
        if not isinstance(node, cst.Name) or scope is None:
            return False
        for assignment in scope[node.value]:
            statement = getattr(assignment, "node", None)
            if isinstance(statement, cst.ImportFrom) and statement.module is not None:
                module = get_full_name_for_node(statement.module) or ""
                moves = self._import_moves(statement, module)
                if any((m.asname or m.name) == node.value for m in moves.values()):
                    return True
        return False

    def _new_func(self, node: cst.BaseExpression, form: _Form, target: str) -> cst.BaseExpression:
        return node if form == _Form.NAME else dotted(target)

    def _grad_scaler(self, entry: ApiEntry, node: cst.BaseExpression, form: _Form,
                     shown: str) -> None:
        context = self._context(node)
        if context == _CLASS_BASE:
            self.report(node, f"{shown} subclassed: its constructor has no device argument, "
                        f"{entry.target}'s takes the device first; port the subclass by hand "
                        f'({entry.target} with "npu")')
            return
        if (form == _Form.NAME and not self._import_moved(node)) or (
                form == _Form.ALIAS and not self._can_qualify(node, form, entry.target)):
            return
        new_func = self._new_func(node, form, entry.target)
        if context == "call" and self._call_with(
                node, new_func, form, lambda args: 0, cst.Arg(new_string("npu")),
                f'{shown}(...) -> {entry.target}("npu", ...)'):
            return
        if form != _Form.NAME:
            self.replace(node, new_func, f"{shown} -> {entry.target}")
        self.report(node, f"{shown} used without a call: {entry.target} takes the device as its "
                    f'first argument; pass "npu" where it is constructed')

    def _call_with(self, node: cst.BaseExpression, new_func: cst.BaseExpression, form: _Form,
                   where: Callable[[Sequence[cst.Arg]], int], arg: cst.Arg,
                   message: str) -> bool:
        """Rewrite the call of ``node``: its new name, and ``arg`` inserted at ``where``."""
        call = self.parent(node)
        if not isinstance(call, cst.Call):
            return False

        def rewrite(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Call)
            return insert_arg(updated, where(updated.args), arg).with_changes(
                func=new_func if form is not _Form.NAME else updated.func)

        self.replace(call, rewrite, message)
        return True

    def _custom_fn(self, entry: ApiEntry, node: cst.BaseExpression, form: _Form,
                   shown: str) -> None:
        context = self._context(node)
        device_arg = keyword("device_type", new_string("npu"))
        message = f'{shown} -> {entry.target}(device_type="npu")'
        if context not in ("call", "decorator"):
            self.report(node, f"{shown} used as a value: {entry.target} needs "
                        'device_type="npu"; port this use by hand')
            return
        if form == _Form.ALIAS and not self._can_qualify(node, form, entry.target):
            return
        new_func = self._new_func(node, form, entry.target)
        if context == "call" and self._call_with(node, new_func, form, positional_count,
                                                 device_arg, message):
            return
        self.replace(node, cst.Call(func=new_func, args=[device_arg.with_changes(
            comma=cst.MaybeSentinel.DEFAULT)]), message)

    examples = (
        Example(
            "import torch\n"
            "torch.cuda.synchronize()\n"
            "n = torch.cuda.device_count()  # devices\n"
            "start = torch.cuda.Event(enable_timing=True)\n"
            "peak = torch.cuda.memory.max_memory_allocated(0)\n"
            "g = torch.cuda.CUDAGraph()\n"
            "try:\n    run()\nexcept torch.cuda.OutOfMemoryError:\n"
            "    torch.cuda.empty_cache()\n",
            "import torch\n"
            "torch.npu.synchronize()\n"
            "n = torch.npu.device_count()  # devices\n"
            "start = torch.npu.Event(enable_timing=True)\n"
            "peak = torch.npu.max_memory_allocated(0)\n"
            "g = torch.npu.NPUGraph()\n"
            "try:\n    run()\nexcept torch.OutOfMemoryError:\n"
            "    torch.npu.empty_cache()\n",
        ),
        Example(
            "from torch.cuda import synchronize, Event as CudaEvent, CUDAGraph\n"
            "from torch.cuda.memory import memory_allocated\n"
            "synchronize()\n",
            "from torch_npu.npu import synchronize, Event as CudaEvent, NPUGraph as CUDAGraph\n"
            "from torch_npu.npu import memory_allocated\n"
            "synchronize()\n",
        ),
        Example(
            "import torch\n"
            "from torch.cuda.amp import GradScaler, autocast\n"
            "scaler = GradScaler(enabled=use_amp)\n"
            "other = torch.cuda.amp.GradScaler()\n"
            "class F(torch.autograd.Function):\n"
            "    @staticmethod\n    @torch.cuda.amp.custom_fwd(cast_inputs=torch.float32)\n"
            "    def forward(ctx, x):\n        return x\n"
            "    @staticmethod\n    @torch.cuda.amp.custom_bwd\n"
            "    def backward(ctx, g):\n        return g\n",
            "import torch\n"
            "from torch.cuda.amp import autocast\n"
            "from torch.amp import GradScaler\n"
            'scaler = GradScaler("npu", enabled=use_amp)\n'
            'other = torch.amp.GradScaler("npu")\n'
            "class F(torch.autograd.Function):\n"
            '    @staticmethod\n    @torch.amp.custom_fwd(device_type="npu", '
            "cast_inputs=torch.float32)\n"
            "    def forward(ctx, x):\n        return x\n"
            '    @staticmethod\n    @torch.amp.custom_bwd(device_type="npu")\n'
            "    def backward(ctx, g):\n        return g\n",
        ),
        Example(
            "import torch\nimport torch.cuda as tc\nfrom torch import cuda\n"
            "tc.manual_seed_all(0)\nif cuda.is_available():\n    cuda.set_device(0)\n",
            "import torch\nimport torch.cuda as tc\nfrom torch import cuda\n"
            "torch.npu.manual_seed_all(0)\nif torch.npu.is_available():\n"
            "    torch.npu.set_device(0)\n",
        ),
        Example(
            "import torch.cuda as tc\ntc.synchronize()\n",
            findings=1,
        ),
        Example(  # the stream left whole: its handle has no NPU twin (NPU001 reports it)
            "import torch\n"
            "handle = torch.cuda.current_stream().cuda_stream\n",
            findings=1,
            with_rules=("NPU001",),
        ),
        Example(
            "import torch\n"
            "torch.cuda.nvtx.range_push('step')\n"
            "archs = torch.cuda.get_arch_list()\n"
            "from torch.cuda import jiterator\n",
            findings=3,
        ),
        Example(
            "import torch\n"
            "props = torch.cuda.get_device_properties(0)\n"
            "with torch.cuda.amp.autocast():\n    pass\n"
            "def f(torch):\n    torch.cuda.synchronize()\n"
            "x.cuda.synchronize()\n",
        ),
    )
