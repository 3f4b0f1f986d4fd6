"""Small libcst helpers that several rules share.

Every helper takes the rule (a :class:`~covo_port.rule.PythonRule` visitor, for its metadata)
and a node of the module that the rule visits. None of them mutates anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    Assignment,
    ComprehensionScope,
    ImportAssignment,
    QualifiedName,
    QualifiedNameProvider,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

if TYPE_CHECKING:
    from covo_port.rule import PythonRule

#: ``**``, ``*``, ``/``...: operators that bind tighter than ``+`` (an ``a + b`` put in their place
#: needs parentheses). Shifts and bitwise operators bind looser.
_TIGHTER_THAN_SUM = (cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.MatrixMultiply,
                     cst.Power)


def module_name(rule: PythonRule, node: cst.CSTNode, module: str = "torch") -> str | None:
    """The name under which ``module`` is reachable at ``node`` (``torch``, or ``t`` after
    ``import torch as t``), or None where no name certainly means it there.

    A name counts only where it resolves to the import and to nothing else: a parameter or a
    local variable called ``torch`` is not the module.
    """
    scope = rule.get_metadata(ScopeProvider, node, None)
    if scope is None:
        return None
    wanted = {QualifiedName(module, QualifiedNameSource.IMPORT)}
    candidates: list[str] = []
    chain: Scope | None = scope
    while chain is not None:
        candidates.extend(a.name for a in chain.assignments if isinstance(a, ImportAssignment))
        chain = None if chain.parent is chain else chain.parent
    # The module's own name first, then aliases in the order they were bound.
    for name in sorted(set(candidates), key=lambda n: (n != module, candidates.index(n))):
        if "." not in name and scope.get_qualified_names_for(name) == wanted:
            return name
    return None


def is_imported(rule: PythonRule, node: cst.CSTNode) -> bool:
    """Whether ``node`` names something an import brought in (``np.fft.fft``, ``librosa``), as
    opposed to a value (``x.stft``, ``self.stft``, ``torch.stft(...).abs``)."""
    root = node
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name):
        return False
    names = rule.get_metadata(QualifiedNameProvider, node, set())
    return any(q.source is QualifiedNameSource.IMPORT for q in names)


def dotted(name: str) -> cst.Name | cst.Attribute:
    """``"torch.amp.autocast"`` as an expression node."""
    head, *rest = name.split(".")
    node: cst.Name | cst.Attribute = cst.Name(head)
    for part in rest:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def as_keyword(arg: cst.Arg, name: str) -> cst.Arg:
    """``arg`` passed as ``name=value`` (no spaces around ``=``; its comma kept)."""
    return arg.with_changes(
        keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                              whitespace_after=cst.SimpleWhitespace("")),
    )


def keyword_arg(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def argument(call: cst.Call, index: int, name: str) -> cst.Arg | None:
    """The argument given for parameter ``name`` (``index``-th positional), or None."""
    given = keyword_arg(call, name)
    if given is not None:
        return given
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional[:index + 1]):
        return None
    return positional[index] if index < len(positional) else None


def _separator(opening: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    """What goes between two arguments so they look like the call's others: the line break and
    indent of a call laid out one argument per line (without its comment), else one space."""
    if isinstance(opening, cst.ParenthesizedWhitespace):
        return opening.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
    return cst.SimpleWhitespace(" ")


def prepend_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """``f(a)`` -> ``f(new, a)``, following the call's layout."""
    if not call.args:
        return call.with_changes(args=[arg])
    comma = cst.Comma(whitespace_after=_separator(call.whitespace_before_args))
    return call.with_changes(args=[arg.with_changes(comma=comma), *call.args])


def append_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """``f(a)`` -> ``f(a, new)``, following the call's layout and keeping a trailing comma and
    the comments after the last argument where they were."""
    if not call.args:
        return call.with_changes(args=[arg])
    *head, last = call.args
    opening = call.whitespace_before_args
    comma = last.comma
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after,
                                                   cst.ParenthesizedWhitespace) \
            and isinstance(opening, cst.ParenthesizedWhitespace):
        closing = comma.whitespace_after  # line break (and comment) before ")"
        last = last.with_changes(comma=comma.with_changes(
            whitespace_after=closing.with_changes(last_line=opening.last_line)))
        arg = arg.with_changes(comma=cst.Comma(whitespace_after=closing.with_changes(
            first_line=cst.TrailingWhitespace(), empty_lines=[])))
    elif isinstance(comma, cst.Comma):
        last = last.with_changes(comma=comma.with_changes(
            whitespace_after=cst.SimpleWhitespace(" ")))
        arg = arg.with_changes(comma=cst.Comma(whitespace_after=comma.whitespace_after))
    else:
        last = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*head, last, arg])


def method_call(receiver: cst.BaseExpression, method: str) -> cst.Call:
    """``receiver.method()``, with parentheses around a receiver that needs them."""
    if not receiver.lpar and not isinstance(receiver, cst.Name | cst.Attribute | cst.Subscript
                                                | cst.Call):
        receiver = receiver.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name(method)))


def sum_needs_parentheses(node: cst.BaseExpression, parent: cst.CSTNode | None) -> bool:
    """Whether an ``a + b`` that replaces ``node`` (a child of ``parent``) needs parentheses to
    keep its meaning (and its rounding: ``x + (a + b)`` stays grouped)."""
    if node.lpar:
        return False  # the replacement keeps node's own parentheses
    if isinstance(parent, cst.Attribute | cst.Subscript):
        return parent.value is node
    if isinstance(parent, cst.Call):
        return parent.func is node
    if isinstance(parent, cst.UnaryOperation | cst.Await):
        return True
    if isinstance(parent, cst.BinaryOperation):
        if isinstance(parent.operator, _TIGHTER_THAN_SUM):
            return True
        return isinstance(parent.operator, cst.Add | cst.Subtract) and parent.right is node
    return False


def function_scope(scope: Scope) -> Scope:
    """The scope a comprehension sits in (comprehensions see their function's names)."""
    while isinstance(scope, ComprehensionScope) and scope.parent is not scope:
        scope = scope.parent
    return scope


def assigned_values(
    rule: PythonRule, name: cst.Name, *, same_scope: bool = True
) -> list[cst.BaseExpression] | None:
    """The values of every assignment of the variable that ``name`` reads, or None where one of
    them is not a plain ``name = value`` (a parameter, a loop target, an unpacking, an
    import...) or the name is not assigned at all.

    Flow-insensitive on purpose: all assignments of the variable in the scope that defines it,
    wherever they are (a later assignment in a loop reaches earlier reads). With ``same_scope``
    the variable must belong to the function (or module) that reads it, not to an enclosing
    one. ``x += ...`` is left out: in-place updates keep a tensor's dtype.
    """
    scope = rule.get_metadata(ScopeProvider, name, None)
    if scope is None or name not in scope.accesses:
        return None
    referents = {r for access in scope.accesses[name] for r in access.referents}
    owners = {r.scope for r in referents}
    if len(owners) != 1:
        return None
    owner = owners.pop()
    if same_scope and owner is not function_scope(scope):
        return None
    values: list[cst.BaseExpression] = []
    for assignment in owner.assignments[name.value]:
        if not isinstance(assignment, Assignment) or not isinstance(assignment.node, cst.Name):
            return None
        parent = rule.parent(assignment.node)
        if isinstance(parent, cst.AugAssign) and parent.target is assignment.node:
            continue
        value = _value_of(rule, assignment.node)
        if value is None:
            return None
        values.append(value)
    return values or None


def _value_of(rule: PythonRule, target: cst.Name) -> cst.BaseExpression | None:
    parent = rule.parent(target)
    if isinstance(parent, cst.AssignTarget):
        statement = rule.parent(parent)
        return statement.value if isinstance(statement, cst.Assign) else None
    if isinstance(parent, cst.AnnAssign | cst.NamedExpr) and parent.target is target:
        return parent.value
    return None


def all_values(
    rule: PythonRule,
    node: cst.BaseExpression,
    test: Callable[[cst.BaseExpression], bool],
    *,
    same_scope: bool = True,
) -> bool:
    """``test(node)``, or for a name, ``test`` of every value assigned to it (see
    :func:`assigned_values`)."""
    if isinstance(node, cst.Name):
        values = assigned_values(rule, node, same_scope=same_scope)
        return values is not None and all(test(v) for v in values)
    return test(node)


def is_side_effect_free(node: cst.BaseExpression) -> bool:
    """Names, attribute chains and subscripts with constant or name indices: expressions that
    can be written twice without running anything twice (``x``, ``a.b``, ``s[..., :-1]``)."""
    if isinstance(node, cst.Name | cst.Integer | cst.Float | cst.Ellipsis):
        return True
    if isinstance(node, cst.UnaryOperation):
        return isinstance(node.operator, cst.Minus | cst.Plus) and is_side_effect_free(
            node.expression)
    if isinstance(node, cst.Attribute):
        return is_side_effect_free(node.value)
    if isinstance(node, cst.Subscript):
        return is_side_effect_free(node.value) and all(
            _index_is_side_effect_free(element.slice) for element in node.slice)
    return False


def _index_is_side_effect_free(index: cst.BaseSlice) -> bool:
    if isinstance(index, cst.Index):
        return index.star is None and is_side_effect_free(index.value)
    if isinstance(index, cst.Slice):
        return all(part is None or is_side_effect_free(part)
                   for part in (index.lower, index.upper, index.step))
    return False


@cache
def _fields(cls: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def parent_map(module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
    """Each node of ``module`` (but the module) -> its parent: what libcst's
    ParentNodeProvider gives, from a plain walk of the nodes' dataclass fields instead of a
    visitor pass (about ten times faster: it is resolved on most files that a rule parses)."""
    parents: dict[cst.CSTNode, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        for name in _fields(type(node)):
            value = getattr(node, name)
            children = value if isinstance(value, (list, tuple)) else (value,)
            for child in children:
                if isinstance(child, cst.CSTNode):
                    parents[child] = node
                    stack.append(child)
    return parents


def import_bindings(module: cst.Module) -> dict[str, set[str]]:
    """Every name that an import anywhere in ``module`` binds -> the dotted names it was bound
    to (``import torch.cuda as tc``: tc -> {torch.cuda}; ``from torch.cuda import amp``: amp ->
    {torch.cuda.amp}; ``import torch.cuda``: torch -> {torch}); ``*`` -> the modules of star
    imports. Found by walking the statements only (imports are statements), which is cheap
    next to a scope analysis: rules use it to skip names that cannot reach what they look for."""
    bound: dict[str, set[str]] = {}
    stack: list[cst.CSTNode] = list(module.body)
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            for small in node.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        full = get_full_name_for_node(alias.name) or ""
                        name = alias.evaluated_alias or full.split(".", 1)[0]
                        bound.setdefault(name, set()).add(
                            full if alias.evaluated_alias else name)
                elif isinstance(small, cst.ImportFrom):
                    module_name = ("." * len(small.relative)) + (
                        get_full_name_for_node(small.module) or "" if small.module else "")
                    if isinstance(small.names, cst.ImportStar):
                        bound.setdefault("*", set()).add(module_name)
                        continue
                    for alias in small.names:
                        dot = "" if module_name.endswith(".") else "."
                        full = f"{module_name}{dot}{get_full_name_for_node(alias.name) or ''}"
                        name = alias.evaluated_alias or alias.evaluated_name
                        bound.setdefault(name, set()).add(full)
            continue
        for name in ("body", "orelse", "handlers", "finalbody", "cases"):
            child = getattr(node, name, None)
            if isinstance(child, cst.IndentedBlock):
                stack.extend(child.body)
            elif isinstance(child, (list, tuple)):
                stack.extend(child)
            elif isinstance(child, cst.CSTNode):
                stack.append(child)
    return bound

