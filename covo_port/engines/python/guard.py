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
from libcst.metadata import PositionProvider, QualifiedNameProvider, ScopeProvider

from covo_port.engines.python.branches import (
    callee,
    chain_tests,
    deciding_test,
    dtypes_tested,
    ends_in_jump,
    inside,
    later_statements,
    subject,
)
from covo_port.engines.python.file import Edit, PyFile
from covo_port.lib.ascend_ops import supported_dtypes
from covo_port.lib.consumers import consumer_of
from covo_port.lib.tree import calls_in, nodes_in
from covo_port.model import ENGINE_CODE, Finding, PythonRule, Severity

_BLOCKING = (Severity.WARNING, Severity.ERROR)
#: Keyword arguments that select CUDA-only kernels of the library they are given to.
CUDA_ONLY_KEYWORDS = {"load_in_8bit": "bitsandbytes 8-bit weights",
                      "load_in_4bit": "bitsandbytes 4-bit weights",
                      "replace_with_kernel_inject": "DeepSpeed's CUDA inference kernels",
                      "use_flash_attention_2": "flash-attn 2"}
#: Keyword values that do.
CUDA_ONLY_VALUES = {"flash_attention_2": "flash-attn 2", "flash_attention_3": "flash-attn 3",
                    "inductor": "TorchInductor, whose GPU code is Triton for CUDA"}
_STATEMENTS = (cst.SimpleStatementLine, cst.Decorator, cst.BaseCompoundStatement)


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
        #: the module's functions and classes that hold (or call one that holds) such code
        self.blocked_defs = self._blocked_definitions()

    def _blocked_definitions(self) -> dict[str, Finding]:
        defs = {d.name.value: d for d in self.file.module.body
                if isinstance(d, cst.FunctionDef | cst.ClassDef)}
        found = {name: self.blocked[id(d)] for name, d in defs.items() if id(d) in self.blocked}
        changed = True
        while changed:  # a function that calls a blocked one is blocked too
            changed = False
            for name, node in defs.items():
                if name not in found:
                    callee = self._calls_into(node, found)
                    if callee is not None:
                        found[name], changed = callee, True
        return found

    @staticmethod
    def _calls_into(node: cst.CSTNode, defs: Mapping[str, Finding]) -> Finding | None:
        """A finding of one of ``defs`` that ``node`` calls (``f(...)``, ``Cls.apply(...)``,
        ``kernel[grid](...)``)."""
        for call in calls_in(node):
            assert isinstance(call, cst.Call)
            root: cst.BaseExpression = call.func
            while isinstance(root, cst.Attribute | cst.Subscript):
                root = root.value
            if isinstance(root, cst.Name) and root.value in defs:
                return defs[root.value]
        return None

    def _foreign(self, node: cst.CSTNode) -> Finding | None:
        """A call in ``node`` that hands work to a library with its own devices, or that asks
        for CUDA-only kernels by a keyword (``load_in_8bit=True``, ``attn_implementation=
        "flash_attention_2"``, ``backend="inductor" if <probe> else ...``): a synthetic finding
        that says which."""
        for string in nodes_in(node, cst.SimpleString):
            value = string.evaluated_value
            if isinstance(value, str) and value in CUDA_ONLY_VALUES:
                return self._synthetic(string, f"{value!r} asks for {CUDA_ONLY_VALUES[value]}")
        for call in calls_in(node):
            assert isinstance(call, cst.Call)
            why = None
            names = self.file.metadata(QualifiedNameProvider, call.func, set())
            consumer = next((c for q in names if (c := consumer_of(q.name)) is not None), None)
            if consumer is not None:
                why = f"it hands work to {consumer.library}"
            called = callee(call)
            if called is not None and "cuda" in called.lower() and called != "cuda" and not any(
                    q.name.startswith("torch.cuda") for q in names):
                why = f"it calls {called}, which by its name runs CUDA code"
            for arg in call.args:
                keyword = arg.keyword.value if arg.keyword is not None else None
                off = isinstance(arg.value, cst.Name) and arg.value.value == "False"
                if keyword in CUDA_ONLY_KEYWORDS and not off:
                    why = f"`{keyword}=` asks for {CUDA_ONLY_KEYWORDS[keyword]}"
            if why is not None:
                return self._synthetic(call, why)
        return None

    def dtype_gap(self, test: cst.CSTNode, guarded: list[cst.CSTNode]) -> Finding | None:
        """A call in ``guarded`` that gives an object the test asks the dtype of to an API that
        Ascend's table supports without that dtype (``x.is_cuda and x.dtype == torch.float16``
        guarding ``torch.view_as_complex(x...)``: the table lists fp32 and fp64 only)."""
        tested = [pair for c in nodes_in(test, cst.Comparison) for pair in dtypes_tested(c)]
        if not tested:
            return None
        for region in guarded:
            for call in calls_in(region):
                given = {subject(a.value) for a in call.args}
                dtypes = {dtype for subject, dtype in tested if subject in given}
                if not dtypes:
                    continue
                for name in self.file.metadata(QualifiedNameProvider, call.func, set()):
                    listed = supported_dtypes(name.name)
                    missing = dtypes - listed if listed is not None else set()
                    if missing:
                        return self._synthetic(call, (
                            f"{name.name} on {', '.join(sorted(missing))} (Ascend's table "
                            f"lists {', '.join(sorted(listed or ()))})"))
        return None

    def _synthetic(self, node: cst.CSTNode, why: str) -> Finding:
        where = self.file.metadata(PositionProvider, node, None)
        line = where.start.line if where is not None else 1
        return Finding(ENGINE_CODE, self.file.path, line, 1, Severity.WARNING,
                       f"{why}, which does not run on the NPU")

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
            if ends_in_jump(owner.body) or (
                    isinstance(owner.orelse, cst.Else) and ends_in_jump(owner.orelse.body)):
                yield from later_statements(head, self.parents)
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

    def _test_of(self, node: cst.CSTNode) -> tuple[cst.CSTNode | None, cst.CSTNode | None]:
        """(the test that ``node`` is part of, or None; else the Assign whose value holds
        ``node``, or None)."""
        child: cst.CSTNode = node
        parent = self.parents.get(child)
        while parent is not None:
            if (isinstance(parent, cst.If | cst.While | cst.IfExp) and parent.test is child) or (
                    isinstance(parent, cst.BooleanOperation) and parent.left is child):
                return child, None
            if isinstance(parent, cst.BaseStatement | cst.BaseSmallStatement):
                break
            child, parent = parent, self.parents.get(parent)
        if isinstance(parent, cst.Assign) and parent.value is child:
            return None, parent
        return None, None

    def probe(self, node: cst.CSTNode) -> tuple[cst.CSTNode, list[cst.CSTNode]] | None:
        """(the test expression, what it guards) where ``node`` is part of a test, or of a
        value assigned to names that tests read (followed through further assignments, each
        once: ``x = x and y`` reads itself), else None."""
        test, assign = self._test_of(node)
        if test is not None:
            return self._outermost_test(test), list(self._guarded_by_test(test))
        if assign is None:
            return None
        guarded: list[cst.CSTNode] = []
        seen = {id(assign)}
        todo = [assign]
        while todo:
            for reader in self._readers(todo.pop()):
                test, further = self._test_of(reader)
                if test is not None:
                    guarded += [self._outermost_test(test), *self._guarded_by_test(test)]
                elif further is not None and id(further) not in seen:
                    seen.add(id(further))
                    todo.append(further)
        return (assign.value, guarded) if guarded else None

    def _outermost_test(self, test: cst.CSTNode) -> cst.CSTNode:
        """The whole test expression that ``test`` is part of (``a and b`` for ``a``)."""
        while isinstance(up := self.parents.get(test), cst.BooleanOperation | cst.UnaryOperation):
            test = up
        return test

    def _readers(self, assign: cst.Assign) -> Iterator[cst.CSTNode]:
        """The nodes that read the names ``assign`` binds."""
        for target in assign.targets:
            if not isinstance(target.target, cst.Name):
                continue
            scope = self.file.metadata(ScopeProvider, target.target, None)
            if scope is None:
                continue
            for assignment in scope.assignments[target.target.value]:
                for access in assignment.references:
                    yield access.node

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
        """Why the code ``guarded`` cannot run on the NPU (None: it can, as far as known)."""
        found = next((self.blocked[id(g)] for g in guarded if id(g) in self.blocked), None)
        for region in guarded:
            if found is not None:
                break
            found = self._calls_into(region, self.blocked_defs) or self._foreign(region)
        return found

    def statement(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The statement (or decorator) that holds ``node``."""
        current: cst.CSTNode | None = node
        while current is not None and not isinstance(current, _STATEMENTS):
            current = self.parents.get(current)
        return current


def enforce(file: PyFile, rules: Sequence[type[PythonRule]]) -> None:
    """Drop the edits of every test whose probe guards code that cannot run on the target, or
    a value whose rewrite is only proposed (an unsafe fix: a probe switched to the NPU would
    hand it the CUDA value), and report each such test once."""
    if not file.edits:
        return
    guard = Guard(file, rules)
    left: list[tuple[cst.CSTNode, Finding, Edit]] = []
    for finding, node in zip(file.findings, file.finding_nodes, strict=True):
        test = deciding_test(node, file.parents) if finding.fix is not None else None
        edit = next((e for e in file.edits if test is not None
                     and inside(e.node, test, file.parents)), None)
        if test is not None and edit is not None and all(t is not test for t, _, _ in left):
            left.append((test, finding, edit))
    _keep_chains_with_npu_branches(file)
    for edit in file.edits:
        inner = guard.feeding(edit.node, edit.change.rule)
        if inner is not None and all(t is not edit.node for t, _, _ in left):
            left.append((edit.node, inner, edit))  # feeds code that cannot run on the NPU
            continue
        found = guard.probe(edit.node)
        if found is None:
            continue
        test, guarded = found
        statement = guard.statement(edit.node)
        blocking = guard.blocking([test, *guarded, *([statement] if statement else [])]) or (
            guard.dtype_gap(test, guarded))
        if blocking is not None and all(t is not test for t, _, _ in left):
            left.append((test, blocking, edit))
    if not left:
        return
    dropped = [e for e in file.edits
               if any(inside(e.node, test, file.parents) for test, _, _ in left)]
    file.edits[:] = [e for e in file.edits if all(e is not d for d in dropped)]
    for test, blocking, edit in left:
        others = sum(1 for d in dropped if inside(d.node, test, file.parents)) - 1
        more = f" ({others} other rewrite(s) in this test left too)" if others > 0 else ""
        file.findings.append(Finding(
            edit.change.rule, file.path, edit.change.line, edit.change.column, Severity.WARNING,
            f"{edit.change.message}: not rewritten: this code feeds, holds or guards code that "
            f"cannot run on the NPU ({blocking.rule} at line {blocking.line}: "
            f"{_short(blocking.message)}); left whole, as it was, so the CUDA-free path runs on "
            f"the NPU{more}"))
        file.finding_nodes.append(test)


def _keep_chains_with_npu_branches(file: PyFile) -> None:
    """An ``if``/``elif`` chain that already has a branch for the NPU keeps its CUDA branch:
    switched, it would be a second, unreachable NPU branch."""
    seen: set[int] = set()
    for edit in list(file.edits):
        current: cst.CSTNode | None = edit.node
        while current is not None and not isinstance(file.parents.get(current), cst.If):
            current = file.parents.get(current)
        tests = chain_tests(current, file.parents) if current is not None else []
        npu = next((t for t in tests if t is not current
                    and "npu" in file.module.code_for_node(t).lower()), None)
        if npu is None or id(current) in seen:
            continue
        seen.add(id(current))
        branch = file.parents[current]
        assert isinstance(branch, cst.If)
        dropped = [e for e in file.edits if inside(e.node, current, file.parents)
                   or inside(e.node, branch.body, file.parents)]
        file.edits[:] = [e for e in file.edits if all(e is not d for d in dropped)]
        line = file.metadata(PositionProvider, npu, None)
        file.findings.append(Finding(
            edit.change.rule, file.path, edit.change.line, edit.change.column, Severity.INFO,
            f"{edit.change.message}: not rewritten: this if/elif chain already has a branch for "
            f"the NPU (line {line.start.line if line else '?'}); its CUDA branch is left as it "
            "is"))
        file.finding_nodes.append(current)


def _short(message: str, limit: int = 90) -> str:
    return message if len(message) <= limit else message[:limit - 3].rstrip() + "..."
