"""Runs the Python rules over one file: one parse, one metadata wrapper, one batched pass.

Rules record edits keyed by the nodes of the wrapped module; the engine then applies them with a
single transformer, rule after rule, so that the output of every prefix of the rule list (one
stage per rule that changed something) is available for the per-rule commits.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper

from covo_port.outcome import FileOutcome
from covo_port.rule import Change, Finding, PythonRule, RunOptions, Severity
from covo_port.target import Target
from covo_port.treeindex import TreeIndex

Replacement = cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel
NewNode = cst.CSTNode | Callable[[cst.CSTNode], Replacement]


@dataclass
class Edit:
    rule: type[PythonRule]
    node: cst.CSTNode
    new: NewNode
    change: Change
    uses_target_device: bool

    def apply(self, updated: cst.CSTNode) -> Replacement:
        return self.new(updated) if callable(self.new) else self.new


class PyFile:
    """The file that the Python rules of one run share: its tree, target, edits and findings."""

    def __init__(self, path: str, module: cst.Module, target: Target, options: RunOptions,
                 tree: TreeIndex | None = None):
        self.path = path
        self.module = module
        self.target = target
        self.options = options
        #: The rest of SRC, where the run has it (None: this file is the whole program).
        self.tree = tree
        self.edits: list[Edit] = []
        self.findings: list[Finding] = []

    def code(self, node: cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel) -> str:
        if isinstance(node, cst.RemovalSentinel):
            return ""
        if isinstance(node, cst.FlattenSentinel):
            return "".join(self.module.code_for_node(n) for n in node.nodes)
        return self.module.code_for_node(node)

    def add_edit(
        self,
        rule: PythonRule,
        node: cst.CSTNode,
        new: NewNode,
        message: str,
        uses_target_device: bool,
    ) -> None:
        pos = rule.position(node)
        after = new(node) if callable(new) else new
        change = Change(
            rule=rule.id,
            path=self.path,
            line=pos.start.line,
            column=pos.start.column + 1,
            end_line=pos.end.line,
            end_column=pos.end.column + 1,
            before=self.code(node),
            after=self.code(after),
            message=message,
        )
        self.edits.append(Edit(type(rule), node, new, change, uses_target_device))

    def add_finding(
        self, rule: PythonRule, node: cst.CSTNode, message: str, severity: Severity
    ) -> None:
        pos = rule.position(node)
        self.findings.append(
            Finding(rule.id, self.path, pos.start.line, pos.start.column + 1, severity, message)
        )

    def edited_by(self, rule_id: str) -> bool:
        return any(e.rule.id == rule_id for e in self.edits)


class _Applier(cst.CSTTransformer):
    def __init__(self, edits: Sequence[Edit]) -> None:
        super().__init__()
        self._edits: dict[int, list[Edit]] = {}
        for edit in edits:
            self._edits.setdefault(id(edit.node), []).append(edit)

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> Replacement:
        # The pieces that later edits of the same node act on: the node itself while an edit
        # keeps it (e.g. puts siblings around it), else every piece of its type that an edit
        # split it into (one import line made two: each gets the next rule's edit).
        pieces: list[cst.CSTNode] = [updated_node]
        targets: list[cst.CSTNode] = [updated_node]
        for edit in self._edits.get(id(original_node), ()):
            new_pieces: list[cst.CSTNode] = []
            new_targets: list[cst.CSTNode] = []
            for piece in pieces:
                if not any(piece is t for t in targets):
                    new_pieces.append(piece)
                    continue
                made = _nodes(edit.apply(piece))
                new_pieces.extend(made)
                kept = [n for n in made if n is piece]
                new_targets.extend(kept or [n for n in made if type(n) is type(original_node)])
            pieces, targets = new_pieces, new_targets
        if len(pieces) == 1:
            return pieces[0]
        return cst.FlattenSentinel(pieces) if pieces else cst.RemovalSentinel.REMOVE


def _nodes(replacement: Replacement) -> tuple[cst.CSTNode, ...]:
    if isinstance(replacement, cst.FlattenSentinel):
        return tuple(replacement.nodes)
    if isinstance(replacement, cst.RemovalSentinel):
        return ()
    return (replacement,)


def parse_error_message(source: bytes, exc: Exception) -> tuple[int, str]:
    """(line, one-line message) for a parse failure, in Python's own words where it has some."""
    try:
        ast.parse(source)
    except SyntaxError as syntax:
        return syntax.lineno or 1, f"{type(syntax).__name__}: {syntax.msg}"
    except (ValueError, RecursionError, MemoryError) as other:
        return 1, f"{type(other).__name__}: {other}".splitlines()[0]
    if isinstance(exc, cst.ParserSyntaxError):
        return exc.raw_line, "libcst cannot parse it: " + str(exc).strip().splitlines()[0]
    return 1, f"{type(exc).__name__}: {exc}".splitlines()[0]


def rewrite_python(
    source: bytes,
    path: str,
    rules: Sequence[type[PythonRule]],
    target: Target,
    options: RunOptions,
    tree: TreeIndex | None = None,
) -> FileOutcome:
    """Run ``rules`` over ``source``; never raises for bad input (see ``FileOutcome.error``)."""
    outcome = FileOutcome()
    if not rules:
        return outcome
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, UnicodeDecodeError, LookupError, SyntaxError) as exc:
        outcome.error_line, message = parse_error_message(source, exc)
        outcome.error = f"cannot parse: {message}; copied unchanged"
        return outcome
    except RecursionError:
        outcome.error = "cannot parse: nesting too deep for the parser; copied unchanged"
        return outcome

    wrapper = MetadataWrapper(module)
    file = PyFile(path, wrapper.module, target, options, tree)
    ordered = sorted(rules, key=lambda r: r.sort_key())
    visitors = [rule(file) for rule in ordered]
    by_phase: dict[int, list[PythonRule]] = {}
    for visitor in visitors:
        by_phase.setdefault(visitor.phase, []).append(visitor)
    for phase in sorted(by_phase):
        wrapper.visit_batched(by_phase[phase])  # each visitor's finish() runs at leave_Module

    outcome.findings = list(file.findings)
    applied: list[Edit] = []
    previous = source
    for rule in ordered:
        edits = [e for e in file.edits if e.rule is rule]
        if not edits:
            continue
        candidate = applied + edits
        new_module = file.module.visit(_Applier(candidate))
        new_bytes = new_module.bytes
        if new_bytes == previous:
            continue
        applied = candidate
        outcome.stages.append((rule.id, new_bytes))
        outcome.changes.extend(e.change for e in edits)
        previous = new_bytes

    if outcome.stages:
        try:
            cst.parse_module(outcome.stages[-1][1])
        except cst.ParserSyntaxError as exc:  # a rule bug: never write code that does not parse
            outcome.stages.clear()
            outcome.changes.clear()
            outcome.error_line = exc.raw_line
            outcome.error = "a rewrite produced invalid Python; file left unchanged (please report)"
    return outcome
