"""NPU010: the ``torch.cuda`` API -> ``torch.npu`` (table-driven); helpers the NPU01x rules share.

The table is data (``covo_port/data/torch_cuda_api.tsv``): one row per public ``torch.cuda`` name of
torch 2.9.1 and per submodule, saying whether it becomes ``torch.npu.<twin>`` (the twin is in
``torch_npu.npu.__all__``, ``covo_port/data/torch_npu_npu_all.txt``), a torch API (``GradScaler``,
``custom_fwd``, ``OutOfMemoryError``), another rule's business, or a finding. A ``torch.cuda`` name
the table does not list but that ``torch_npu.npu.__all__`` has is rewritten to it, as Huawei's
runtime shim rebinds ``torch.cuda`` to ``torch_npu.npu``; anything else is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import QualifiedNameProvider, QualifiedNameSource, ScopeProvider

from covo_port.pyengine import PyFile
from covo_port.rule import Example, PythonRule, Severity

NPU_MODULE = "torch_npu.npu"  # importable before or after `import torch_npu`, unlike torch.npu


# -- the data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApiEntry:
    """One row of the table (``name`` relative to ``torch.cuda``)."""

    name: str
    action: str  # npu | torch | grad_scaler | custom_fn | rule | report | namespace | root
    target: str
    device_params: tuple[int, ...] = ()
    severity: Severity | None = None
    note: str = ""


def _data_text(name: str) -> str:
    return resources.files("covo_port").joinpath("data", name).read_text(encoding="utf-8")


@cache
def npu_all() -> tuple[str, ...]:
    """``torch_npu.npu.__all__`` (142 names), in the order torch_npu declares them."""
    return tuple(
        line.strip() for line in _data_text("torch_npu_npu_all.txt").splitlines()
        if line.strip() and not line.startswith("#")
    )


@cache
def api_table() -> dict[str, ApiEntry]:
    """The rows of ``torch_cuda_api.tsv`` by name."""
    rows: dict[str, ApiEntry] = {}
    lines = [line for line in _data_text("torch_cuda_api.tsv").splitlines()
             if line and not line.startswith("#")]
    header = lines[0].split("\t")
    for line in lines[1:]:
        cell = dict(zip(header, line.split("\t"), strict=True))
        params = cell["device_params"]
        rows[cell["cuda_name"]] = ApiEntry(
            name=cell["cuda_name"],
            action=cell["action"],
            target=cell["target"],
            device_params=tuple(int(p) for p in params.split(",")) if params != "-" else (),
            severity=Severity(cell["severity"]) if cell["severity"] != "-" else None,
            note=cell["note"] if cell["note"] != "-" else "",
        )
    return rows


_ROOT = ApiEntry("", "root", "")


def lookup(parts: Sequence[str]) -> tuple[ApiEntry, int]:
    """What ``torch.cuda.<parts>`` is: (entry, how many of ``parts`` the entry names)."""
    if not parts:
        return _ROOT, 0
    table = api_table()
    for k in range(len(parts), 0, -1):
        entry = table.get(".".join(parts[:k]))
        if entry is None:
            continue
        if entry.action != "namespace" or k == len(parts):
            return entry, k
        member = parts[k]
        if entry.target == "flat":  # torch.cuda.memory.x is torch.cuda.x
            found = table.get(member) or _shim_entry(member)
            if found is not None:
                return found, k + 1
        return _unknown(".".join(parts[: k + 1])), k + 1
    return table.get(parts[0]) or _shim_entry(parts[0]) or _unknown(parts[0]), 1


def _shim_entry(name: str) -> ApiEntry | None:
    if name in npu_all():
        return ApiEntry(name, "npu", name, note="torch_npu.npu.__all__ (transfer_to_npu rebinding)")
    return None


def _unknown(name: str) -> ApiEntry:
    return ApiEntry(name, "report", "-", severity=Severity.WARNING,
                    note="neither a public torch.cuda name of torch 2.9.1 nor in "
                         "torch_npu.npu.__all__: no known NPU twin")


def cuda_device_params(qualified: str) -> tuple[int, ...]:
    """Positional indexes of the device parameters of ``torch.cuda.<...>`` (empty if none)."""
    parts = qualified.split(".")
    if parts[:2] != ["torch", "cuda"]:
        return ()
    entry, consumed = lookup(parts[2:])
    return entry.device_params if consumed == len(parts) - 2 else ()


# -- helpers the NPU01x rules share -------------------------------------------------------------
def imported_names(rule: PythonRule, node: cst.CSTNode) -> set[str]:
    """Qualified names of ``node`` that come from imports (a local ``torch = ...`` is not torch)."""
    return {q.name for q in rule.get_metadata(QualifiedNameProvider, node, set())
            if q.source == QualifiedNameSource.IMPORT}


def binds_module(rule: PythonRule, node: cst.CSTNode, name: str) -> bool:
    """True where the name ``name`` at ``node`` is certainly ``import name[.sub]``'s module."""
    scope = rule.get_metadata(ScopeProvider, node, None)
    if scope is None or name not in scope:
        return False
    assignments = scope[name]
    if not assignments:
        return False
    for assignment in assignments:
        statement = getattr(assignment, "node", None)
        if not isinstance(statement, cst.Import):
            return False
        if not any(_binds(alias, name) for alias in statement.names):
            return False
    return True


def _binds(alias: cst.ImportAlias, name: str) -> bool:
    full = get_full_name_for_node(alias.name) or ""
    if alias.asname is None:
        return full.split(".")[0] == name
    bound = alias.asname.name
    return isinstance(bound, cst.Name) and bound.value == name and full == name


def is_dotted(node: cst.BaseExpression) -> bool:
    """``a.b.c`` made of names only (not ``a().b`` or ``a[0].b``)."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def dotted(text: str) -> cst.Attribute | cst.Name:
    """``"torch.npu.synchronize"`` as an expression node."""
    node = cst.parse_expression(text)
    assert isinstance(node, (cst.Attribute, cst.Name))
    return node


def string_value(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def with_value(literal: cst.SimpleString, text: str) -> cst.SimpleString:
    """``literal`` holding ``text`` instead, in its own quotes and prefix."""
    return literal.with_changes(value=f"{literal.prefix}{literal.quote}{text}{literal.quote}")


def new_string(text: str) -> cst.SimpleString:
    return cst.SimpleString(f'"{text}"')


_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def insert_arg(call: cst.Call, index: int, arg: cst.Arg) -> cst.Call:
    """``call`` with ``arg`` inserted at ``index``, commas and line layout kept valid."""
    out = list(call.args)
    if index < len(out):
        before = out[index - 1].comma if index else None
        layout = before.whitespace_after if isinstance(before, cst.Comma) else (
            call.whitespace_before_args)
        comma = cst.Comma(whitespace_after=layout) if isinstance(
            layout, cst.ParenthesizedWhitespace) else _COMMA
        out.insert(index, arg.with_changes(comma=comma))
        return call.with_changes(args=out)
    if out and isinstance(out[-1].comma, cst.MaybeSentinel):
        out[-1] = out[-1].with_changes(comma=_COMMA)
    out.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    return call.with_changes(args=out)


def positional_count(args: Sequence[cst.Arg]) -> int:
    """Where positional arguments end (before the first keyword or ``*``/``**``)."""
    for index, arg in enumerate(args):
        if arg.keyword is not None or arg.star:
            return index
    return len(args)


@dataclass(frozen=True)
class ImportMove:
    """An imported name that moves: ``from <module> import <name> as <asname>``."""

    module: str
    name: str
    asname: str | None


def _alias_key(alias: cst.ImportAlias) -> tuple[str, str | None]:
    asname = alias.asname.name if alias.asname else None
    return (get_full_name_for_node(alias.name) or "",
            asname.value if isinstance(asname, cst.Name) else None)


def _moved_alias(alias: cst.ImportAlias, move: ImportMove) -> cst.ImportAlias:
    if move.asname is None or move.asname == move.name:
        asname = None
    elif alias.asname is not None:
        asname = alias.asname.with_changes(name=cst.Name(move.asname))
    else:
        asname = cst.AsName(name=cst.Name(move.asname))
    return alias.with_changes(name=cst.Name(move.name), asname=asname)


def _split_import(node: cst.ImportFrom, module: str,
                  moves: dict[tuple[str, str | None], ImportMove]) -> list[cst.ImportFrom]:
    if isinstance(node.names, cst.ImportStar) or node.relative or node.module is None or (
            get_full_name_for_node(node.module) != module):
        return [node]
    groups: dict[str, list[cst.ImportAlias]] = {module: []}  # what stays comes first
    for alias in node.names:
        move = moves.get(_alias_key(alias))
        if move is None:
            groups.setdefault(module, []).append(alias)
        else:
            groups.setdefault(move.module, []).append(_moved_alias(alias, move))
    # Each group ends the way the statement ended: no comma outside parentheses, the original
    # last comma (and the line break before ")") inside.
    last_comma = node.names[-1].comma if node.lpar is not None else cst.MaybeSentinel.DEFAULT
    return [node.with_changes(module=dotted(target),
                              names=[*aliases[:-1], aliases[-1].with_changes(comma=last_comma)])
            for target, aliases in groups.items() if aliases]


def move_imports(rule: PythonRule, node: cst.ImportFrom,
                 moves: dict[tuple[str, str | None], ImportMove], message: str) -> None:
    """Record that the names in ``moves`` (keyed by (name, asname)) come from other modules.

    ``from a import x, y`` with ``y`` moving becomes two statements, each on its own line where
    the original was alone on its line. Edits that other rules made inside the statement survive.
    """
    module = get_full_name_for_node(node.module) if node.module is not None else None
    if not moves or module is None:
        return
    line = rule.parent(node)
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
        def rewrite_line(updated: cst.CSTNode) -> cst.CSTNode | cst.FlattenSentinel:
            assert isinstance(updated, cst.SimpleStatementLine)
            body: list[cst.BaseSmallStatement] = []
            for small in updated.body:
                body.extend(_split_import(small, module, moves)
                            if isinstance(small, cst.ImportFrom) else [small])
            if len(body) == 1 or len(updated.body) != 1:
                return updated.with_changes(body=body)
            lines = [updated.with_changes(body=[body[0]])]
            lines += [cst.SimpleStatementLine(body=[small]) for small in body[1:]]
            return cst.FlattenSentinel(lines)

        rule.replace(line, rewrite_line, message)
        return

    def rewrite_small(updated: cst.CSTNode) -> cst.CSTNode | cst.FlattenSentinel:
        assert isinstance(updated, cst.ImportFrom)
        parts = _split_import(updated, module, moves)
        return parts[0] if len(parts) == 1 else cst.FlattenSentinel(parts)

    rule.replace(node, rewrite_small, message)


def references(rule: PythonRule, node: cst.CSTNode, name: str) -> list[cst.CSTNode]:
    """Nodes that read the name ``name`` bound by the statement ``node``."""
    scope = rule.get_metadata(ScopeProvider, node, None)
    if scope is None:
        return []
    found: list[cst.CSTNode] = []
    for assignment in scope.assignments[name]:
        if getattr(assignment, "node", None) is node:
            found.extend(access.node for access in assignment.references)
    return found


# -- the rule -----------------------------------------------------------------------------------
_FULL, _ALIAS, _NAME = "full", "alias", "name"
_CLASS_BASE = "class-base"


class CudaApi(PythonRule):
    id = "NPU010"
    summary = "torch.cuda.* API -> torch.npu.* (table of every public name), the rest reported"
    rationale = """
    torch.cuda's functions look for a CUDA device, which an Ascend host does not have: even
    torch.cuda.synchronize() or torch.cuda.manual_seed() raise or silently do nothing. torch_npu
    provides the twin of nearly every one in torch.npu (142 names in torch_npu.npu.__all__:
    devices, streams, events, memory statistics and the caching allocator, RNG state, graphs,
    legacy tensor types); Huawei's runtime shim rebinds torch.cuda to it. covo-port rewrites each
    use statically from a table kept as data: torch.cuda.X -> torch.npu.X, renamed twins
    (CUDAGraph -> NPUGraph), `from torch.cuda import X` -> `from torch_npu.npu import X` (works
    before `import torch_npu`), torch.cuda.amp.GradScaler(...) -> torch.amp.GradScaler("npu", ...)
    and custom_fwd/custom_bwd -> torch.amp.custom_fwd(device_type="npu") (the non-deprecated
    forms), torch.cuda.OutOfMemoryError -> torch.OutOfMemoryError (the same class, which
    torch_npu raises). Uses through a module alias (`import torch.cuda as tc`) are rewritten to
    torch.npu.X where `torch` is imported. get_device_properties/get_device_capability (NPU006)
    and autocast (NPU003) are left to their rules. A name with no NPU twin (nvtx, jiterator,
    get_arch_list, NVML queries...) is reported by name with what to use instead, never guessed.
    """
    severity = Severity.WARNING
    triggers = ("cuda",)
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

    def __init__(self, file: PyFile) -> None:
        super().__init__(file)
        self._in_import = 0
        self._moves: dict[int, dict[tuple[str, str | None], ImportMove]] = {}

    # -- imports -----------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        self._in_import += 1

    def leave_Import(self, original_node: cst.Import) -> None:
        self._in_import -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._in_import += 1
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

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self._in_import -= 1

    def _import_moves(self, node: cst.ImportFrom,
                      module: str) -> dict[tuple[str, str | None], ImportMove]:
        if id(node) in self._moves:
            return self._moves[id(node)]
        moves: dict[tuple[str, str | None], ImportMove] = {}
        assert not isinstance(node.names, cst.ImportStar)
        for alias in node.names:
            name, asname = _alias_key(alias)
            local = asname or name
            entry, _ = lookup([*module.split(".")[2:], name])
            refs = references(self, node, local)
            if entry.action == "npu":
                moves[(name, asname)] = ImportMove(NPU_MODULE, entry.target, asname or (
                    name if entry.target != name else None))
            elif entry.action in ("torch", "grad_scaler", "custom_fn"):
                if entry.action == "grad_scaler" and any(
                        self._context(ref) == _CLASS_BASE for ref in refs):
                    continue  # subclassed: reported at the class, the import stays
                target_module, _, target_name = entry.target.rpartition(".")
                moves[(name, asname)] = ImportMove(target_module, target_name, asname)
            elif entry.action == "report" and not refs:
                self._report_entry(alias, f"{module}.{name}", entry)
        self._moves[id(node)] = moves
        return moves

    # -- uses --------------------------------------------------------------------------------
    def visit_Name(self, node: cst.Name) -> None:
        self._check(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._check(node)

    def _check(self, node: cst.Name | cst.Attribute) -> None:
        if self._in_import:
            return
        parent = self.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
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

    def _form(self, node: cst.BaseExpression) -> str:
        if isinstance(node, cst.Name):
            return _NAME
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and root.value == "torch" and "torch" in imported_names(
                self, root):
            return _FULL
        return _ALIAS

    def _context(self, node: cst.CSTNode) -> str | None:
        parent = self.parent(node)
        if isinstance(parent, cst.Call) and parent.func is node:
            return "call"
        if isinstance(parent, cst.Decorator) and parent.decorator is node:
            return "decorator"
        if isinstance(parent, cst.Arg) and isinstance(self.parent(parent), cst.ClassDef):
            return _CLASS_BASE
        return None

    def _act(self, entry: ApiEntry, node: cst.BaseExpression, form: str, shown: str) -> None:
        action = entry.action
        if action == "report":
            self._report_entry(node, shown, entry)
        elif action == "namespace":
            self.report(node, f"{shown} used as a value: its members cannot be followed; "
                        f"use the torch.npu names (see `covo-port rules {self.id}`)")
        elif action == "root":
            self._qualified(node, form, "torch.npu", f"{shown} -> torch.npu")
        elif action in ("npu", "torch") and form != _NAME:  # names: their import moved
            target = f"torch.npu.{entry.target}" if action == "npu" else entry.target
            self._qualified(node, form, target, f"{shown} -> {target}",
                            uses_target_device=action == "npu")
        elif action == "grad_scaler":
            self._grad_scaler(entry, node, form, shown)
        elif action == "custom_fn":
            self._custom_fn(entry, node, form, shown)

    def _report_entry(self, node: cst.CSTNode, shown: str, entry: ApiEntry) -> None:
        self.report(node, f"{shown} has no NPU twin: {entry.note}", entry.severity)

    def _can_qualify(self, node: cst.BaseExpression, form: str, target: str) -> bool:
        """Whether ``node`` may be written as the dotted ``target`` (``torch`` is bound)."""
        if form == _FULL or binds_module(self, node, "torch"):
            return True
        self.report(node, f"{self.file.module.code_for_node(node)} reaches torch.cuda through an "
                    f"alias in a module that does not `import torch`: write {target} "
                    "(after `import torch`)")
        return False

    def _qualified(self, node: cst.BaseExpression, form: str, target: str, message: str, *,
                   uses_target_device: bool = True) -> None:
        if self._can_qualify(node, form, target):
            self.replace(node, dotted(target), message, uses_target_device=uses_target_device)

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

    def _new_func(self, node: cst.BaseExpression, form: str, target: str) -> cst.BaseExpression:
        return node if form == _NAME else dotted(target)

    def _grad_scaler(self, entry: ApiEntry, node: cst.BaseExpression, form: str,
                     shown: str) -> None:
        context = self._context(node)
        if context == _CLASS_BASE:
            self.report(node, f"{shown} subclassed: its constructor has no device argument, "
                        f"{entry.target}'s takes the device first; port the subclass by hand "
                        f'({entry.target} with "npu")')
            return
        if (form == _NAME and not self._import_moved(node)) or (
                form == _ALIAS and not self._can_qualify(node, form, entry.target)):
            return
        new_func = self._new_func(node, form, entry.target)
        call = self.parent(node)
        if context == "call" and isinstance(call, cst.Call):
            self.replace(
                call,
                lambda updated: insert_arg(updated, 0, cst.Arg(new_string("npu"))).with_changes(
                    func=new_func if form != _NAME else updated.func),
                f'{shown}(...) -> {entry.target}("npu", ...)',
                uses_target_device=True,
            )
            return
        if form != _NAME:
            self.replace(node, new_func, f"{shown} -> {entry.target}", uses_target_device=True)
        self.report(node, f"{shown} used without a call: {entry.target} takes the device as its "
                    f'first argument; pass "npu" where it is constructed')

    def _custom_fn(self, entry: ApiEntry, node: cst.BaseExpression, form: str,
                   shown: str) -> None:
        context = self._context(node)
        device_arg = cst.Arg(new_string("npu"), keyword=cst.Name("device_type"),
                             equal=cst.AssignEqual(cst.SimpleWhitespace(""),
                                                   cst.SimpleWhitespace("")))
        message = f'{shown} -> {entry.target}(device_type="npu")'
        if context not in ("call", "decorator"):
            self.report(node, f"{shown} used as a value: {entry.target} needs "
                        'device_type="npu"; port this use by hand')
            return
        if form == _ALIAS and not self._can_qualify(node, form, entry.target):
            return
        new_func = self._new_func(node, form, entry.target)
        call = self.parent(node)
        if context == "call" and isinstance(call, cst.Call):
            self.replace(
                call,
                lambda updated: insert_arg(updated, positional_count(updated.args),
                                           device_arg).with_changes(
                    func=new_func if form != _NAME else updated.func),
                message, uses_target_device=True)
            return
        self.replace(node, cst.Call(func=new_func, args=[device_arg.with_changes(
            comma=cst.MaybeSentinel.DEFAULT)]), message, uses_target_device=True)


def entries_by_action(names: Iterable[str]) -> dict[str, list[str]]:
    """``{action: [torch.cuda names]}`` for ``names`` (relative to torch.cuda)."""
    out: dict[str, list[str]] = {}
    for name in names:
        entry, _ = lookup(name.split("."))
        out.setdefault(entry.action, []).append(name)
    return out

