"""NPU006: code paths chosen by the CUDA compute capability, folded for a device that has none."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import ScopeProvider

from covo_port.model import Category, Example, PythonRule, PythonSource

PROPERTIES = "torch.cuda.get_device_properties"
CAPABILITY = "torch.cuda.get_device_capability"
#: The model of the target: no CUDA architecture, i.e. compute capability 0.0.
MAJOR = MINOR = 0
NOTE = "# covo-port NPU006: compute-capability test folded (an NPU has no CUDA architecture)"

_COMPARE: dict[type, Callable[[object, object], bool]] = {
    cst.Equal: operator.eq, cst.NotEqual: operator.ne, cst.LessThan: operator.lt,
    cst.LessThanEqual: operator.le, cst.GreaterThan: operator.gt,
    cst.GreaterThanEqual: operator.ge,
}


class _Unknown(Exception):
    """The expression does not depend on the compute capability alone."""


@dataclass
class _Query:
    """One get_device_properties/get_device_capability call and what it feeds."""

    call: cst.Call
    kind: str  # "properties" or "capability"
    statement: cst.SimpleStatementLine | None = None  # `name = call` / `major, minor = call`
    names: dict[int, str] = field(default_factory=dict)  # id(Name access) -> what it holds
    accesses: list[cst.Name] = field(default_factory=list)


class DeviceProperties(PythonRule, id="NPU006", name="capability-branches",
                       category=Category.CUDA_API, cuda_only=True,
                       triggers=("get_device_properties", "get_device_capability"),
                       declines='the result is used beyond if-tests against constants'):
    """CUDA compute-capability tests (get_device_properties/capability) folded

    ## What it does

    Evaluates if-tests and conditional expressions on the CUDA compute capability
    (`get_device_properties().major`, `get_device_capability()`) for capability 0.0, keeps
    the branch that takes, drops the other and removes the query.

    ## Why it breaks on Ascend

    torch.cuda.get_device_properties(...) and get_device_capability(...) raise where there
    is no CUDA device, so code that picks a path by compute capability (token2wav's
    attention __init__ checks for an sm_80 GPU) cannot even be built on an Ascend host. The
    NPU has no CUDA architecture: torch_npu's get_device_capability returns None ("CANN has
    no corresponding concept") and the device properties of torch_npu 2.9 carry no
    major/minor, so renaming to torch.npu would fail on the attribute instead. Where the
    result is used only in comparisons of .major/.minor (or of the capability tuple) with
    constants, in if/elif tests and conditional expressions, those tests are evaluated for
    compute capability 0.0 (no CUDA feature present): the branch that path takes is kept,
    the other is dropped, and the query itself is removed. Any other use (a name, the memory
    size, a test mixed with other conditions) is reported, not guessed.

    ## Example

    ```python
    import torch
    major, minor = torch.cuda.get_device_capability()
    if major < 8:
        dtype = torch.float16
    elif minor >= 6:
        dtype = 'bf16-fast'
    else:
        dtype = torch.bfloat16
    flash = 'fa2' if torch.cuda.get_device_capability(0) >= (8, 0) else 'math'
    ```

    becomes

    ```python
    import torch
    # covo-port NPU006: compute-capability test folded (an NPU has no CUDA architecture)
    dtype = torch.float16
    flash = 'math'
    ```

    ## Fix safety

    Safe: the kept branch is the one the code takes on a device without the tested CUDA
    features, the path the source itself provides for that case.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._queries: list[_Query] = []
        self._tests: list[cst.BaseExpression] = []  # If/IfExp tests, in source order

    # -- collecting --------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self.is_name(node.func, PROPERTIES):
            self._queries.append(_Query(node, "properties"))
        elif self.is_name(node.func, CAPABILITY):
            self._queries.append(_Query(node, "capability"))

    def visit_If(self, node: cst.If) -> None:
        self._tests.append(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._tests.append(node.test)

    # -- which names hold a query's result ---------------------------------------------------
    def _bind(self, query: _Query) -> bool:
        """Find the statement binding the query's result and every read of those names."""
        assign = self.parent(query.call)
        line = self.parent(assign) if isinstance(assign, cst.Assign) else None
        if not isinstance(assign, cst.Assign) or not isinstance(line, cst.SimpleStatementLine) \
                or len(line.body) != 1 or len(assign.targets) != 1:
            return False
        target = assign.targets[0].target
        if isinstance(target, cst.Name):
            names = {target: query.kind}
        elif query.kind == "capability" and isinstance(target, (cst.Tuple, cst.List)) and len(
                target.elements) == 2 and all(isinstance(e.value, cst.Name) and not isinstance(
                e, cst.StarredElement) for e in target.elements):
            names = {e.value: part for e, part in zip(target.elements, ("major", "minor"),
                                                       strict=True)}
        else:
            return False
        scope = self.get_metadata(ScopeProvider, line, None)
        if scope is None:
            return False
        for name, holds in names.items():
            assignments = scope.assignments[name.value]
            if len(assignments) != 1:
                return False
            for access in next(iter(assignments)).references:
                if not isinstance(access.node, cst.Name):
                    return False
                query.names[id(access.node)] = holds
                query.accesses.append(access.node)
        query.statement = line
        return True

    # -- evaluating a test for compute capability 0.0 ----------------------------------------
    def _value(self, node: cst.BaseExpression, held: dict[int, str], used: list[int]) -> object:
        """The value of ``node`` on a device with no CUDA architecture; _Unknown if it depends
        on anything else. ``used`` collects the query results read."""
        if isinstance(node, cst.Integer):
            return int(node.evaluated_value)
        if isinstance(node, cst.Tuple):
            return tuple(self._value(e.value, held, used) for e in node.elements)
        kind = held.get(id(node))
        if kind in ("capability", "major", "minor"):
            used.append(id(node))
            return {"capability": (MAJOR, MINOR), "major": MAJOR, "minor": MINOR}[kind]
        if isinstance(node, cst.Attribute) and node.attr.value in ("major", "minor") and held.get(
                id(node.value)) == "properties":
            used.append(id(node.value))
            return MAJOR if node.attr.value == "major" else MINOR
        if isinstance(node, cst.Subscript) and held.get(id(node.value)) == "capability" and len(
                node.slice) == 1 and isinstance(index := node.slice[0].slice, cst.Index) \
                and isinstance(index.value, cst.Integer) and index.value.value in ("0", "1"):
            used.append(id(node.value))
            return (MAJOR, MINOR)[int(index.value.value)]
        if isinstance(node, cst.Comparison):
            left, result = self._value(node.left, held, used), True
            for target in node.comparisons:
                compare = _COMPARE.get(type(target.operator))
                right = self._value(target.comparator, held, used)
                if compare is None:
                    raise _Unknown
                try:
                    result = result and compare(left, right)
                except TypeError:
                    raise _Unknown from None
                left = right
            return result
        if isinstance(node, cst.BooleanOperation):
            left = self._value(node.left, held, used)
            right = self._value(node.right, held, used)
            return (left and right) if isinstance(node.operator, cst.And) else (left or right)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            return not self._value(node.expression, held, used)
        raise _Unknown

    # -- rewriting ---------------------------------------------------------------------------
    def finish(self) -> None:
        if not self._queries:
            return
        held: dict[int, str] = {}
        reads: list[set[int]] = []  # per query: the nodes that read its result
        for query in self._queries:
            if self._bind(query):
                held.update(query.names)
                reads.append({id(n) for n in query.accesses})
            else:
                held[id(query.call)] = query.kind
                reads.append({id(query.call)})
        tests: dict[int, tuple[bool, set[int]]] = {}
        for test in self._tests:
            used: list[int] = []
            try:
                value = self._value(test, held, used)
            except _Unknown:
                continue
            if used and isinstance(value, bool):
                tests[id(test)] = (value, set(used))
        # A query goes only where every read of it is in a folded test; a test folds only where
        # every query it reads goes.
        ok = set(range(len(self._queries)))
        while True:
            covered = set().union(*(used for _, used in tests.values()))
            bad = {i for i in ok if not reads[i] or not reads[i] <= covered}
            if not bad:
                break
            ok -= bad
            stale = set().union(*(reads[i] for i in bad))
            tests = {t: (v, used) for t, (v, used) in tests.items() if not used & stale}
        for i, query in enumerate(self._queries):
            if i not in ok:
                self.report(query.call, self._unsupported_message(query))
        removed = {id(q.statement) for i, q in enumerate(self._queries)
                   if i in ok and q.statement is not None}
        self._rewrite({t: v for t, (v, _) in tests.items()}, removed)

    def _unsupported_message(self, query: _Query) -> str:
        name = "get_device_properties" if query.kind == "properties" else "get_device_capability"
        return (f"torch.cuda.{name}() raises without a CUDA device, and its result is used "
                "beyond if-tests of the compute capability against constants: not rewritten; "
                "choose the NPU's path by hand (an NPU has no CUDA compute capability)")

    def _rewrite(self, folded: dict[int, bool], removed: set[int]) -> None:
        heads: list[cst.If] = []
        for test in self._tests:
            if id(test) not in folded:
                continue
            owner = self.parent(test)
            if isinstance(owner, cst.IfExp):
                value = folded[id(test)]
                self.replace(owner, lambda u, v=value: _ifexp_branch(u, v),
                             f"compute-capability test folded to {value} (capability 0.0: "
                             "no CUDA architecture on the NPU)")
                continue
            head = cst.ensure_type(owner, cst.If)
            while isinstance(up := self.parent(head), cst.If) and up.orelse is head:
                head = up
            if all(h is not head for h in heads):
                heads.append(head)
        for head in heads:
            self._fold_if(head, folded, removed)
        for query in self._queries:
            if query.statement is not None and id(query.statement) in removed:
                self.replace(query.statement, cst.RemovalSentinel.REMOVE,
                             "compute-capability query removed (only its folded tests read it)")

    def _fold_if(self, head: cst.If, folded: dict[int, bool], removed: set[int]) -> None:
        values = _chain_values(head, folded)
        siblings = list(getattr(self.parent(head), "body", ()))
        index = next(i for i, s in enumerate(siblings) if s is head)
        previous = siblings[index - 1] if index > 0 else None
        carried = previous.leading_lines if previous is not None and id(previous) in removed \
            else ()
        others_left = any(s is not head and id(s) not in removed for s in siblings)

        def fold(node: cst.CSTNode) -> cst.FlattenSentinel | cst.RemovalSentinel:
            updated = cst.ensure_type(node, cst.If)
            statements = _fold_chain(updated, values)
            if not statements:
                if others_left:
                    return cst.RemovalSentinel.REMOVE
                statements = [cst.SimpleStatementLine([cst.Pass()])]
            notes = [cst.EmptyLine(comment=cst.Comment(NOTE))] if self.file.options.comments else []
            first = statements[0]
            own = first.leading_lines if values[0] is not None else ()  # else: the head itself
            lines = [*carried, *updated.leading_lines, *notes, *own]
            return cst.FlattenSentinel([first.with_changes(leading_lines=lines), *statements[1:]])

        self.replace(head, fold, "compute-capability test folded for capability 0.0 (no CUDA "
                                 "architecture on the NPU)")

    examples = (
        Example(
            "import torch\n\n\nclass Attention:\n"
            "    def __init__(self):\n"
            "        self.slow = (True, True)\n"
            "        props = torch.cuda.get_device_properties(torch.device('cuda'))\n"
            "        if props.major == 8 and props.minor == 0:\n"
            "            # an sm_80 GPU\n"
            "            self.fast = (True, False)\n"
            "        else:\n"
            "            self.fast = (False, True)  # older GPUs\n"
            "        self.n = 1\n",
            "import torch\n\n\nclass Attention:\n"
            "    def __init__(self):\n"
            "        self.slow = (True, True)\n"
            f"        {NOTE}\n"
            "        self.fast = (False, True)  # older GPUs\n"
            "        self.n = 1\n",
        ),
        Example(
            "import torch\n"
            "major, minor = torch.cuda.get_device_capability()\n"
            "if major < 8:\n"
            "    dtype = torch.float16\n"
            "elif minor >= 6:\n"
            "    dtype = 'bf16-fast'\n"
            "else:\n"
            "    dtype = torch.bfloat16\n"
            "flash = 'fa2' if torch.cuda.get_device_capability(0) >= (8, 0) else 'math'\n",
            "import torch\n"
            f"{NOTE}\n"
            "dtype = torch.float16\n"
            "flash = 'math'\n",
        ),
        Example(
            "import torch\n"
            "def f(props):\n"
            "    if props.major >= 8:\n"
            "        return 1\n"
            "cap = torch.cuda.get_device_capability(0)\n"
            "if cap[0] >= 8 and verbose:\n    pass\n"
            "mem = torch.cuda.get_device_properties(0).total_memory\n",
            findings=2,
        ),
        Example(
            "import torch\n"
            "props = torch.cuda.get_device_properties(0)\n"
            "if props.major >= 9:\n    use_fp8()\n"
            "print(props.name)\n",
            findings=1,
        ),
    )


def _chain_values(head: cst.If, folded: dict[int, bool]) -> list[bool | None]:
    values = []
    node: cst.If | cst.Else | None = head
    while isinstance(node, cst.If):
        values.append(folded.get(id(node.test)))
        node = node.orelse
    return values


def _statements(block: cst.BaseSuite) -> list[cst.BaseStatement]:
    if isinstance(block, cst.IndentedBlock):
        return list(block.body)
    return [cst.SimpleStatementLine(list(cst.ensure_type(block, cst.SimpleStatementSuite).body))]


def _fold_chain(node: cst.If, values: Sequence[bool | None]) -> list[cst.BaseStatement]:
    """The statements an if/elif/else chain comes to, its folded tests decided."""
    value = values[0]
    if value is None:  # a test left as it is: keep this `if`, fold what follows it
        rest = node.orelse
        if isinstance(rest, cst.If):
            tail = _fold_chain(rest, values[1:])
            if len(tail) == 1 and isinstance(tail[0], cst.If):
                rest = tail[0]
            elif tail:
                rest = cst.Else(cst.IndentedBlock(tail))
            else:
                rest = None
        return [node.with_changes(orelse=rest)]
    if value:
        return _statements(node.body)
    if isinstance(node.orelse, cst.If):
        return _fold_chain(node.orelse, values[1:])
    if isinstance(node.orelse, cst.Else):
        return _statements(node.orelse.body)
    return []


def _ifexp_branch(node: cst.CSTNode, value: bool) -> cst.BaseExpression:
    ifexp = cst.ensure_type(node, cst.IfExp)
    branch = ifexp.body if value else ifexp.orelse
    return branch.with_changes(lpar=[*ifexp.lpar, *branch.lpar], rpar=[*branch.rpar, *ifexp.rpar])
