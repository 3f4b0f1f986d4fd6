"""Values: what a variable may hold, which expressions are safe to repeat, operator binding."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
from libcst.metadata import Assignment, ComprehensionScope, Scope, ScopeProvider

from covo_port.model import PythonRule

#: ``**``, ``*``, ``/``...: operators that bind tighter than ``+`` (an ``a + b`` put in their place
#: needs parentheses). Shifts and bitwise operators bind looser.
_TIGHTER_THAN_SUM = (cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.MatrixMultiply,
                     cst.Power)


def is_constant(node: cst.CSTNode, *names: str) -> bool:
    """Whether ``node`` is one of the builtin constants ``names`` (``True``, ``False``,
    ``None``) written as such."""
    return isinstance(node, cst.Name) and node.value in names


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
