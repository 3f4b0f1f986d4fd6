"""Never half: a probe is switched to the NPU only where what it guards can run there.

A *probe* is a test that decides whether CUDA is there (``x.is_cuda``,
``torch.cuda.is_available()``, ``device.type == "cuda"``, ``"cuda" in dev``): the rules switch it
to the NPU (``x.is_npu``...). Where the code it guards holds something that cannot run on the NPU
(a finding of a rule whose findings mark CUDA-only code: a Triton kernel, flash-attn, a
``torch.cuda`` call with no NPU twin, a compute-capability query...), switching the probe would
send the NPU into that code, where the source, on an Ascend host, took its CUDA-free path. So
the whole test is left as it was (every edit inside it dropped), the CUDA-free path runs on the
NPU, and a finding says why.

What a probe guards: for an ``if``/``elif`` test, its branches and, where a branch ends in a
jump (return, raise, continue, break), the rest of the block after the ``if``; for a conditional
expression, its two values; for a ``while`` test, its body; for the left side of ``and``/``or``,
the right side (and, where the boolean expression is itself a test, what that test guards); for
``name = <probe>``, what every test that reads the name in its scope guards.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import libcst as cst
from libcst.metadata import ScopeProvider

from covo_port.engines.python.file import Edit, PyFile
from covo_port.model import Finding, PythonRule, Severity

_JUMPS = (cst.Return, cst.Raise, cst.Continue, cst.Break)
_BLOCKING = (Severity.WARNING, Severity.ERROR)


def _ends_in_jump(block: cst.BaseSuite | None) -> bool:
    if isinstance(block, cst.IndentedBlock) and block.body:
        last = block.body[-1]
        return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], _JUMPS)
    if isinstance(block, cst.SimpleStatementSuite) and block.body:
        return isinstance(block.body[-1], _JUMPS)
    return False


def _later_statements(node: cst.CSTNode, parents: Mapping[cst.CSTNode, cst.CSTNode]
                      ) -> list[cst.CSTNode]:
    """The statements after ``node`` in the block that holds it."""
    block = parents.get(node)
    body = getattr(block, "body", None)
    if not isinstance(body, (list, tuple)):
        return []
    index = next((i for i, s in enumerate(body) if s is node), None)
    return [] if index is None else list(body[index + 1:])


class Guard:
    """Finds the probes of one file and what they guard."""

    def __init__(self, file: PyFile, rules: Sequence[type[PythonRule]]) -> None:
        self.file = file
        self.parents = file.parents
        cuda_only = {rule.id for rule in rules if rule.cuda_only}
        #: every node that holds (or is) a node of a blocking finding -> that finding
        self.blocked: dict[int, Finding] = {}
        #: the node of each blocking finding -> those findings
        self.sources: dict[int, list[Finding]] = {}
        for finding, node in zip(file.findings, file.finding_nodes, strict=True):
            if finding.rule in cuda_only and finding.severity in _BLOCKING and finding.fix is None:
                self.sources.setdefault(id(node), []).append(finding)
                current: cst.CSTNode | None = node
                while current is not None and id(current) not in self.blocked:
                    self.blocked[id(current)] = finding
                    current = self.parents.get(current)

    def _guarded_by_test(self, test: cst.CSTNode) -> Iterator[cst.CSTNode]:
        """What the outcome of the test expression ``test`` decides."""
        owner = self.parents.get(test)
        if isinstance(owner, cst.If) and owner.test is test:
            yield owner.body
            if owner.orelse is not None:
                yield owner.orelse
            head: cst.CSTNode = owner
            while isinstance(up := self.parents.get(head), cst.If) and up.orelse is head:
                head = up
            if _ends_in_jump(owner.body) or (
                    isinstance(owner.orelse, cst.Else) and _ends_in_jump(owner.orelse.body)):
                yield from _later_statements(head, self.parents)
        elif isinstance(owner, cst.IfExp) and owner.test is test:
            yield owner.body
            yield owner.orelse
        elif isinstance(owner, cst.While) and owner.test is test:
            yield owner.body
        elif isinstance(owner, cst.BooleanOperation) and owner.left is test:
            yield owner.right
            yield from self._guarded_by_test(owner)
        elif isinstance(owner, cst.UnaryOperation | cst.Comparison | cst.ComparisonTarget):
            yield from self._guarded_by_test(owner)

    def probe(self, node: cst.CSTNode, seen: frozenset[int] = frozenset()
              ) -> tuple[cst.CSTNode, list[cst.CSTNode]] | None:
        """(the test expression, what it guards) where ``node`` is part of a test, else None.
        ``seen``: the assignments followed so far (``x = x and y`` reads itself)."""
        child: cst.CSTNode = node
        parent = self.parents.get(child)
        while parent is not None:
            if (isinstance(parent, cst.If | cst.While | cst.IfExp) and parent.test is child) or (
                    isinstance(parent, cst.BooleanOperation) and parent.left is child):
                guarded = list(self._guarded_by_test(child))
                return self._outermost_test(child), guarded
            if isinstance(parent, cst.BaseStatement | cst.BaseSmallStatement):
                break
            child, parent = parent, self.parents.get(parent)
        if isinstance(parent, cst.Assign) and parent.value is child and id(parent) not in seen:
            guarded = list(self._guarded_by_name(parent, seen | {id(parent)}))
            return (child, guarded) if guarded else None
        return None

    def _outermost_test(self, test: cst.CSTNode) -> cst.CSTNode:
        """The whole test expression that ``test`` is part of (``a and b`` for ``a``)."""
        while isinstance(up := self.parents.get(test), cst.BooleanOperation | cst.UnaryOperation):
            test = up
        return test

    def _guarded_by_name(self, assign: cst.Assign, seen: frozenset[int]
                         ) -> Iterator[cst.CSTNode]:
        """What the tests that read ``name`` (the target of ``name = <probe>``) guard."""
        for target in assign.targets:
            if not isinstance(target.target, cst.Name):
                continue
            scope = self.file.metadata(ScopeProvider, target.target, None)
            if scope is None:
                continue
            for assignment in scope.assignments[target.target.value]:
                for access in assignment.references:
                    found = self.probe(access.node, seen)
                    if found is not None:
                        yield found[0]
                        yield from found[1]

    def feeding(self, node: cst.CSTNode, rule: str) -> Finding | None:
        """The blocking finding of another rule whose node holds ``node`` (an edit there feeds
        that code); a rule's own finding on what it rewrites is a caveat, not a block."""
        current: cst.CSTNode | None = node
        while current is not None:
            found = next((f for f in self.sources.get(id(current), ()) if f.rule != rule), None)
            if found is not None:
                return found
            current = self.parents.get(current)
        return None

    def blocking(self, guarded: list[cst.CSTNode]) -> Finding | None:
        return next((self.blocked[id(g)] for g in guarded if id(g) in self.blocked), None)


def _inside(node: cst.CSTNode, container: cst.CSTNode,
            parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    current: cst.CSTNode | None = node
    while current is not None:
        if current is container:
            return True
        current = parents.get(current)
    return False


def enforce(file: PyFile, rules: Sequence[type[PythonRule]]) -> None:
    """Drop the edits of every test whose probe guards code that cannot run on the target, and
    report each such test once."""
    if not file.edits or not file.findings:
        return
    guard = Guard(file, rules)
    if not guard.blocked:
        return
    left: list[tuple[cst.CSTNode, Finding, Edit]] = []
    for edit in file.edits:
        inner = guard.feeding(edit.node, edit.change.rule)
        if inner is not None and all(t is not edit.node for t, _, _ in left):
            left.append((edit.node, inner, edit))  # feeds code that cannot run on the NPU
            continue
        found = guard.probe(edit.node)
        if found is None:
            continue
        test, guarded = found
        blocking = guard.blocking([test, *guarded])
        if blocking is not None and all(t is not test for t, _, _ in left):
            left.append((test, blocking, edit))
    if not left:
        return
    dropped = [e for e in file.edits
               if any(_inside(e.node, test, file.parents) for test, _, _ in left)]
    file.edits[:] = [e for e in file.edits if all(e is not d for d in dropped)]
    for test, blocking, edit in left:
        others = sum(1 for d in dropped if _inside(d.node, test, file.parents)) - 1
        more = f" ({others} other rewrite(s) in this test left too)" if others > 0 else ""
        file.findings.append(Finding(
            edit.change.rule, file.path, edit.change.line, edit.change.column, Severity.WARNING,
            f"{edit.change.message}: not rewritten: this code feeds, holds or guards code that "
            f"cannot run on the NPU ({blocking.rule} at line {blocking.line}: "
            f"{_short(blocking.message)}); left whole, as it was, so the CUDA-free path runs on "
            f"the NPU{more}"))
        file.finding_nodes.append(test)


def _short(message: str, limit: int = 90) -> str:
    return message if len(message) <= limit else message[:limit - 3].rstrip() + "..."
