"""A read-only batched walk of a libcst tree: the callbacks of ``libcst.visit_batched``, in the
same order, without rebuilding the tree.

libcst visits a node by rebuilding it from its visited children (``_visit_and_replace_children``
constructs and validates a new node), even for a visitor that changes nothing: on a large
module that costs about as much as parsing it. The rules only read the tree, so here the walk
goes through each node's children in the order libcst visits them and calls the same
``visit_``/``leave_`` methods (attribute ones included), and nothing is built.

The order of a node type's children is read once per type from its own
``_visit_and_replace_children``: where that is the plain form libcst uses for nearly every node
(``return Node(field=visit_required(self, "field", self.field, visitor), ...)``), its
``visit_*`` calls name the fields, in order; a node of any other form is visited by libcst
itself (its subtree rebuilt, the callbacks the same).
"""

from __future__ import annotations

import ast
import linecache
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import libcst as cst

Callback = Callable[[cst.CSTNode], Any]


def _plain_field(call: ast.expr, field: str) -> bool:
    """Whether ``call`` is ``visit_*(self, "field", self.field, visitor)``."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and call.func.id.startswith("visit_") and len(call.args) == 4 and not call.keywords):
        return False
    owner, name, value, visitor = call.args
    return (isinstance(owner, ast.Name) and owner.id == "self"
            and isinstance(name, ast.Constant) and name.value == field
            and isinstance(value, ast.Attribute) and value.attr == field
            and isinstance(value.value, ast.Name) and value.value.id == "self"
            and isinstance(visitor, ast.Name) and visitor.id == "visitor")


def _function(method: Callable[..., Any]) -> ast.FunctionDef | None:
    """Python's tree of ``method``'s definition: the lines from its ``def`` to the first line
    indented no deeper (inspect.getsource finds the same lines with the tokenizer, four times
    slower: this runs for every node type a process meets); None if that is not one def."""
    code = getattr(method, "__code__", None)
    if code is None:
        return None
    lines = linecache.getlines(code.co_filename)
    start = code.co_firstlineno - 1
    if not lines[start:]:
        return None
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].lstrip().startswith(")")
                                or len(lines[end]) - len(lines[end].lstrip()) > indent):
        end += 1  # (a ")" at the def's own indent closes its parameters)
    try:
        parsed = ast.parse(textwrap.dedent("".join(lines[start:end])))
    except SyntaxError:
        return None
    function = parsed.body[0] if len(parsed.body) == 1 else None
    return function if isinstance(function, ast.FunctionDef) else None


@cache
def child_fields(cls: type[cst.CSTNode]) -> tuple[str, ...] | None:
    """The fields of ``cls`` that libcst visits, in its order; None where its
    ``_visit_and_replace_children`` is not of the plain form (see the module's docstring)."""
    function = _function(cls._visit_and_replace_children)
    if function is None:
        return None
    body = [s for s in function.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    returned = body[0].value
    if isinstance(returned, ast.Name) and returned.id == "self":
        return ()  # a leaf
    if not isinstance(returned, ast.Call) or returned.args:
        return None
    fields = []
    for keyword in returned.keywords:
        value = keyword.value
        if keyword.arg is None:
            return None
        if _plain_field(value, keyword.arg):
            fields.append(keyword.arg)
        elif not (isinstance(value, ast.Attribute) and value.attr == keyword.arg
                  and isinstance(value.value, ast.Name) and value.value.id == "self"):
            return None  # anything but a field copied as it is
    return tuple(fields)


class _Dispatch(cst.CSTVisitor):
    """The batched callbacks as a libcst visitor, for the nodes that libcst visits itself."""

    def __init__(self, methods: Mapping[str, Sequence[Callback]]) -> None:
        super().__init__()
        self._methods = methods

    def on_visit(self, node: cst.CSTNode) -> bool:
        for method in self._methods.get(f"visit_{type(node).__name__}", ()):
            method(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        for method in self._methods.get(f"leave_{type(original_node).__name__}", ()):
            method(original_node)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        for method in self._methods.get(f"visit_{type(node).__name__}_{attribute}", ()):
            method(node)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        for method in self._methods.get(
                f"leave_{type(original_node).__name__}_{attribute}", ()):
            method(original_node)


#: What the walk does at a node type: its visit_ and leave_ callbacks, and per child field the
#: field's name and its attribute callbacks (None: libcst visits the node itself).
_Plan = tuple[Sequence[Callback], Sequence[Callback],
              tuple[tuple[str, Sequence[Callback], Sequence[Callback]], ...] | None]


def visit_batched(module: cst.Module, visitors: Iterable[cst.BatchableCSTVisitor]) -> None:
    """What ``libcst.visit_batched(module, visitors)`` does to the visitors, read-only."""
    methods: dict[str, list[Callback]] = {}
    for visitor in visitors:
        for name, method in visitor.get_visitors().items():
            methods.setdefault(name, []).append(method)
    dispatch = _Dispatch(methods)
    plans: dict[type[cst.CSTNode], _Plan] = {}

    def plan(cls: type[cst.CSTNode]) -> _Plan:
        name = cls.__name__
        fields = child_fields(cls)
        made = plans[cls] = (
            methods.get(f"visit_{name}", ()), methods.get(f"leave_{name}", ()),
            None if fields is None else tuple(
                (field, methods.get(f"visit_{name}_{field}", ()),
                 methods.get(f"leave_{name}_{field}", ())) for field in fields))
        return made

    def walk(node: cst.CSTNode) -> None:
        before, after, fields = plans.get(type(node)) or plan(type(node))
        for method in before:
            method(node)
        if fields is None:
            node._visit_and_replace_children(dispatch)
        else:
            for field, entering, leaving in fields:
                for method in entering:
                    method(node)
                value = getattr(node, field)
                if isinstance(value, cst.CSTNode):
                    walk(value)
                elif isinstance(value, (list, tuple)):
                    for child in value:
                        walk(child)
                for method in leaving:
                    method(node)
        for method in after:
            method(node)

    walk(module)
