"""NPU016's matcher: a model built from its config, then given a checkpoint's weights by
``load_state_dict(load_file(...))``, and the plan to rewrite it, or why it is not rewritten."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import CodeRange, ScopeProvider

from covo_port.lib.tree import calls_in, nodes_in
from covo_port.lib.values import assigned_values, is_side_effect_free
from covo_port.model import PythonRule
from covo_port.rewrites.npu016_startup.names import LOAD_FILE, META

#: Calls on the model that are as good on a model whose parameters are on meta.
_META_SAFE_METHODS = {"to", "eval", "train", "requires_grad_", "half", "float", "bfloat16",
                      "double"}
_DTYPES = {f"torch.{name}" for name in (
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex64",
    "complex128", "int8", "uint8", "int16", "short", "int32", "int", "int64", "long", "bool")}
_CLASS_NAME = re.compile(r"[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*")
_CONFIG_LOADERS = {"from_pretrained", "from_dict", "from_json_file"}


class NotMatched(Exception):
    """Why a build-then-load was not rewritten (the finding's message)."""


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr.value}"
    return None


def _method_call(node: cst.BaseExpression) -> tuple[cst.BaseExpression, str] | None:
    """(receiver, method) of ``receiver.method(...)``."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value, node.func.attr.value
    return None


def _statement_value(statement: cst.CSTNode, var: str) -> cst.BaseExpression | None:
    """The expression of ``var = <expr>`` or ``<expr>`` (one statement on its line)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Expr):
        return small.value
    if isinstance(small, cst.Assign) and len(small.targets) == 1 \
            and _is_name(small.targets[0].target, var):
        return small.value
    return None


@dataclass
class Move:
    """A ``.to(...)`` with a device: the statement or call that loses it."""

    statement: cst.SimpleStatementLine
    call: cst.Call
    index: int  # of the device argument
    whole_statement: bool  # `model = model.to(device)`: the statement goes


@dataclass
class Plan:
    var: str
    build: cst.SimpleStatementLine
    loader: cst.BaseStatement
    move: Move | None = None
    load_calls: list[cst.Call] = field(default_factory=list)
    load_files: list[cst.Call] = field(default_factory=list)


class Matcher:
    """Recognises the pattern for ``rule`` (its metadata: names, parents, positions)."""

    def __init__(self, rule: PythonRule) -> None:
        self.rule = rule

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.rule.parent(node)

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.rule.position(node)

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        return self.rule.qualified_names(node)

    def is_name(self, node: cst.CSTNode, *names: str) -> bool:
        return self.rule.is_name(node, *names)

    def get_metadata(self, key: type[Any], node: cst.CSTNode, default: Any) -> Any:
        return self.rule.get_metadata(key, node, default)

    def code(self, node: cst.CSTNode) -> str:
        return self.rule.file.code(node)

    def is_build(self, call: cst.Call) -> bool:
        """``transformers.AutoModel*.from_config(...)`` or ``ModelClass(config, ...)``."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "from_config":
            return any(q.startswith("transformers.") and q.endswith(".from_config")
                       and _last(q.removesuffix(".from_config")).startswith("AutoModel")
                       for q in self.qualified_names(func))
        names = self.qualified_names(func) or {_dotted(func) or ""}
        if not any(_CLASS_NAME.fullmatch(_last(q)) and not _last(q).endswith("Config")
                   for q in names):
            return False
        given = next((a for a in call.args if a.keyword and a.keyword.value == "config"),
                     call.args[0] if call.args and call.args[0].keyword is None
                     and not call.args[0].star else None)
        return given is not None and self._is_config(given.value)

    def _is_config(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        if isinstance(node, cst.Attribute) and node.attr.value == "config":
            return True
        if isinstance(node, cst.Name) and depth == 0:
            values = assigned_values(self, node, same_scope=False)
            return bool(values) and all(self._is_config(v, 1) for v in values or ())
        if not isinstance(node, cst.Call):
            return False
        called = _dotted(node.func) or ""
        if _last(called) in _CONFIG_LOADERS:
            called = called[:-len(_last(called)) - 1]
        return _last(called).endswith("Config")

    def _variables(self, node: cst.CSTNode) -> list[cst.Name]:
        """The names in ``node`` that are variables (not ``x.attr``, not ``f(keyword=...)``)."""
        found = []
        for name in nodes_in(node, cst.Name):
            parent = self.parent(name)
            if (isinstance(parent, cst.Attribute) and parent.attr is name) \
                    or (isinstance(parent, cst.Arg) and parent.keyword is name):
                continue
            assert isinstance(name, cst.Name)
            found.append(name)
        return found

    def _uses(self, node: cst.CSTNode, var: str) -> list[cst.Name]:
        return [name for name in self._variables(node) if name.value == var]

    def _done(self, statement: cst.CSTNode) -> bool:
        """Whether ``statement`` already sits in ``with _covo_parameters_on_meta():``."""
        block = self.parent(statement)
        owner = self.parent(block) if block is not None else None
        return isinstance(owner, cst.With) and any(
            isinstance(item.item, cst.Call) and _is_name(item.item.func, META)
            for item in owner.items)

    def plan(self, call: cst.Call) -> Plan | None:
        """How to rewrite the build ``call``; None where nothing loads weights into it
        afterwards (not this pattern); raises NotMatched with the reason otherwise."""
        chain: list[cst.Call] = []  # method calls on the built model: .to(), .eval()...
        node: cst.CSTNode = call
        while isinstance(parent := self.parent(node), cst.Attribute) and parent.value is node \
                and isinstance(outer := self.parent(parent), cst.Call) and outer.func is parent:
            chain.append(outer)
            node = outer
        assign = self.parent(node)
        if not isinstance(assign, cst.Assign) or assign.value is not node \
                or len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
            return None
        statement, var = self.parent(assign), assign.targets[0].target.value
        block = self.parent(statement) if statement is not None else None
        if not isinstance(block, cst.Module | cst.IndentedBlock) or not isinstance(
                statement, cst.SimpleStatementLine) or len(statement.body) != 1 \
                or self._done(statement):
            return None
        body = list(block.body)
        later = body[body.index(statement) + 1:]
        loader = next((s for s in later if self._load_calls(s, var)), None)
        if loader is None:
            return None
        plan = Plan(var, statement, loader)
        self._meta_safe(chain, statement)
        moves = [self._move(statement, c) for c in chain]
        for between in later[:later.index(loader)]:
            uses = self._uses(between, var)
            if not uses:
                continue
            value = _statement_value(between, var)
            calls = self._method_chain(value, var) if value is not None else None
            if calls is None:
                line = self.position(uses[0]).start.line
                raise NotMatched(f"`{var}` is used on line {line} before its weights are loaded")
            assert isinstance(between, cst.SimpleStatementLine)
            self._meta_safe(calls, between)
            moves += [self._move(between, c, whole=len(calls) == 1 and value is calls[0])
                      for c in calls]
        found = [mv for mv in moves if mv is not None]
        if len(found) > 1:
            raise NotMatched("it is moved to a device more than once")
        plan.move = found[0] if found else None
        self._check_loader(plan)
        return plan

    def _meta_safe(self, calls: Sequence[cst.Call], statement: cst.CSTNode) -> None:
        for call in calls:
            parts = _method_call(call)
            if parts is not None and parts[1] not in _META_SAFE_METHODS:
                line = self.position(statement).start.line
                raise NotMatched(f"its `.{parts[1]}()` on line {line} needs its weights (a "
                                  "device move is rewritten as .to(device))")

    def _method_chain(self, value: cst.BaseExpression, var: str) -> list[cst.Call] | None:
        """The calls of a ``var.to(...).eval()``-like ``value`` (innermost first), or None."""
        calls: list[cst.Call] = []
        while (parts := _method_call(value)) is not None:
            assert isinstance(value, cst.Call)
            calls.append(value)
            value = parts[0]
        if not calls or not _is_name(value, var):
            return None
        calls.reverse()
        if any(self._uses(a, var) for c in calls for a in c.args):
            return None
        return calls

    def _move(self, statement: cst.SimpleStatementLine, call: cst.Call,
              whole: bool = False) -> Move | None:
        """The device part of a ``.to(...)`` call; None for calls that do not move."""
        parts = _method_call(call)
        if parts is None or parts[1] != "to":
            return None
        device = [n for n, a in enumerate(call.args) if self._arg_kind(call, n) == "device"]
        if not device:
            return None
        index = device[0]
        value = call.args[index].value
        if not self._repeatable(value):
            raise NotMatched(f"its device `{self.code(value)}` is not a name or a "
                              "literal (it would be evaluated again after loading)")
        return Move(statement, call, index, whole and len(call.args) == 1)

    def _arg_kind(self, call: cst.Call, index: int) -> str:
        arg = call.args[index]
        if arg.star:
            raise NotMatched("its .to() call unpacks arguments")
        if arg.keyword is not None:
            if arg.keyword.value in ("device", "dtype"):
                return arg.keyword.value
            return "other"
        if index > 1:
            return "other"
        kind = self._value_kind(arg.value)
        if kind is None and isinstance(arg.value, cst.Name):
            values = assigned_values(self, arg.value, same_scope=False) or []
            kinds = {self._value_kind(v) for v in values}
            kind = kinds.pop() if len(kinds) == 1 else None
        if kind is None:
            text = self.code(arg.value)
            raise NotMatched(f"`.to({text})` may be a device or a dtype: write "
                              f".to(device={text}) or .to(dtype={text})")
        return kind

    def _value_kind(self, node: cst.BaseExpression) -> str | None:
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString
                      | cst.Integer):
            return "device"
        if isinstance(node, cst.Call) and self.is_name(node.func, "torch.device"):
            return "device"
        if self.qualified_names(node) & _DTYPES:
            return "dtype"
        return None

    def _repeatable(self, node: cst.BaseExpression) -> bool:
        """Whether ``node`` may be evaluated again later, with the same value."""
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            return True
        if isinstance(node, cst.FormattedString):
            return all(is_side_effect_free(p.expression) for p in node.parts
                       if isinstance(p, cst.FormattedStringExpression))
        if isinstance(node, cst.Call) and self.is_name(node.func, "torch.device"):
            return all(not a.star and self._repeatable(a.value) for a in node.args)
        return is_side_effect_free(node)

    def _load_calls(self, statement: cst.CSTNode, var: str) -> list[cst.Call]:
        """The ``var.load_state_dict(...)`` calls in ``statement``."""
        return [c for c in calls_in(statement) if isinstance(c.func, cst.Attribute)
                and _is_name(c.func.value, var) and c.func.attr.value == "load_state_dict"]

    def _check_loader(self, plan: Plan) -> None:
        loader, var = plan.loader, plan.var
        if not isinstance(loader, cst.For | cst.SimpleStatementLine):
            kind = type(loader).__name__.lower()
            raise NotMatched(f"its weights are loaded inside a `{kind}` statement "
                              "(a `for` loop or a plain statement is rewritten)")
        plan.load_calls = self._load_calls(loader, var)
        receivers = {id(c.func.value) for c in plan.load_calls
                     if isinstance(c.func, cst.Attribute)}
        other = [u for u in self._uses(loader, var) if id(u) not in receivers]
        if other:
            line = self.position(other[0]).start.line
            raise NotMatched(f"`{var}` is used on line {line} while its weights are loaded")
        for load in plan.load_calls:
            if any(a.keyword is not None and a.keyword.value == "assign" for a in load.args):
                raise NotMatched("load_state_dict already has an assign= argument")
            given = next((a for a in load.args if a.keyword is None
                          or a.keyword.value == "state_dict"), None)
            if given is None or given.star:
                raise NotMatched("its load_state_dict call has no plain state dict argument")
            plan.load_files += self._load_files(plan, given.value)
        if plan.move is not None:
            self._check_not_rebound(plan)

    def _load_files(self, plan: Plan, state: cst.BaseExpression) -> list[cst.Call]:
        """The safetensors ``load_file`` calls that give the state dict ``state``."""
        calls: Sequence[cst.BaseExpression] = [state]
        if isinstance(state, cst.Name):
            calls = assigned_values(self, state) or []
            scope = self.get_metadata(ScopeProvider, state, None)
            accesses = scope.accesses[state] if scope is not None else set()
            for access in accesses:
                node = access.node
                if node is not state and not self._deleted(node):
                    line = self.position(node).start.line
                    raise NotMatched(f"its state dict `{state.value}` is also used on line "
                                      f"{line} (with assign=True it would share the model's "
                                      "tensors)")
        start = self.position(plan.build).start.line
        end = self.position(plan.loader).end.line
        files = []
        for call in calls:
            if not (isinstance(call, cst.Call) and self.is_name(call.func, LOAD_FILE)):
                raise NotMatched("its state dict does not come from safetensors' load_file "
                                  "(load_file(path, device=...) loads straight to the device)")
            if not start <= self.position(call).start.line <= end:
                raise NotMatched("its state dict is read by a load_file call outside the "
                                  "build-and-load statements")
            if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
                raise NotMatched("its load_file call has arguments beyond the file name")
            files.append(call)
        return files

    def _deleted(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is a target of ``del``."""
        parent = self.parent(node)
        while isinstance(parent, cst.Tuple | cst.List | cst.Element):
            parent = self.parent(parent)
        return isinstance(parent, cst.Del)

    def _check_not_rebound(self, plan: Plan) -> None:
        """The names in the device expression keep their value until the load has run."""
        assert plan.move is not None
        start = self.position(plan.move.statement).start.line
        end = self.position(plan.loader).end.line
        device = plan.move.call.args[plan.move.index].value
        for name in self._variables(device):
            scope = self.get_metadata(ScopeProvider, name, None)
            for assignment in scope.assignments[name.value] if scope is not None else ():
                if getattr(assignment, "node", None) is None:
                    continue  # a builtin: never assigned in the file
                line = self.position(assignment.node).start.line
                if start < line <= end:
                    raise NotMatched(f"its device `{name.value}` is assigned again on line "
                                      f"{line}, before the weights are loaded")


def _is_name(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name
