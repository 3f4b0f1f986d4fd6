"""The shape of tests and branches, for the guard: what a test decides, the tests of an
``if``/``elif`` chain, the object an argument is, the dtypes a test asks for."""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

JUMPS = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def ends_in_jump(block: cst.BaseSuite | None) -> bool:
    if isinstance(block, cst.IndentedBlock) and block.body:
        last = block.body[-1]
        return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], JUMPS)
    if isinstance(block, cst.SimpleStatementSuite) and block.body:
        return isinstance(block.body[-1], JUMPS)
    return False


def later_statements(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
                      ) -> list[cst.CSTNode]:
    """The statements after ``node`` in the block that holds it."""
    block = parents.get(node)
    body = getattr(block, "body", None)
    if not isinstance(body, (list, tuple)):
        return []
    index = next((i for i, s in enumerate(body) if s is node), None)
    return [] if index is None else list(body[index + 1:])


#: ``torch.<name>`` dtypes that a test may compare with -> torch's own name of the dtype
DTYPES = {"float16": "float16", "half": "float16", "bfloat16": "bfloat16",
           "float64": "float64", "double": "float64"}


def dtypes_tested(comparison: cst.Comparison) -> list[tuple[str, str]]:
    """(``x``, the dtype) for ``x.dtype == torch.float16`` (or ``is``)."""
    left = comparison.left
    if not (isinstance(left, cst.Attribute) and left.attr.value == "dtype"
            and isinstance(left.value, cst.Name)):
        return []
    found = []
    for target in comparison.comparisons:
        value = target.comparator
        if isinstance(target.operator, cst.Equal | cst.Is) and isinstance(
                value, cst.Attribute) and isinstance(value.value, cst.Name) and (
                value.value.value == "torch") and value.attr.value in DTYPES:
            found.append((left.value.value, DTYPES[value.attr.value]))
    return found


def callee(call: cst.Call) -> str | None:
    """The name a call calls: ``f`` of ``f(...)``, ``m`` of ``x.m(...)``."""
    func = call.func
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return func.value if isinstance(func, cst.Name) else None


def chain_tests(test: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
                 ) -> list[cst.CSTNode]:
    """The tests of the ``if``/``elif`` chain whose test is ``test`` (empty for another test)."""
    owner = parents.get(test)
    if not isinstance(owner, cst.If) or owner.test is not test:
        return []
    head: cst.CSTNode = owner
    while isinstance(up := parents.get(head), cst.If) and up.orelse is head:
        head = up
    tests: list[cst.CSTNode] = []
    current: cst.CSTNode | None = head
    while isinstance(current, cst.If):
        tests.append(current.test)
        current = current.orelse
    return tests


def subject(value: cst.BaseExpression) -> str | None:
    """``x`` for ``x``, ``x.reshape(...)``, ``x[..., ::2]``, ``x.T``: the object whose dtype an
    argument keeps (a call of anything else makes a new one)."""
    while True:
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            value = value.func.value
        elif isinstance(value, cst.Attribute | cst.Subscript):
            value = value.value
        else:
            return value.value if isinstance(value, cst.Name) else None


def inside(node: cst.CSTNode, container: cst.CSTNode,
            parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    current: cst.CSTNode | None = node
    while current is not None:
        if current is container:
            return True
        current = parents.get(current)
    return False


def deciding_test(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
                   ) -> cst.CSTNode | None:
    """The test of the nearest ``if`` or conditional expression whose outcome decides whether
    ``node`` runs (``node`` in a branch, not in the test)."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, cst.IfExp | cst.If) and child is not parent.test:
            return parent.test
        child, parent = parent, parents.get(parent)
    return None
