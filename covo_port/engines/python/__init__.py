"""The Python engine: one libcst parse, one batched pass of all rules, edits applied per rule.

Rules record edits keyed by the nodes of the parsed module; the engine then applies them with a
single transformer, rule after rule, so that the output of every prefix of the rule list (one
stage per rule that changed something) is available for the per-rule commits.
"""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import libcst as cst

from covo_port.engines.config import EngineConfig
from covo_port.engines.outcome import FileOutcome
from covo_port.engines.python import cheap
from covo_port.engines.python.apply import Applier
from covo_port.engines.python.directives import Note, PythonDirectives
from covo_port.engines.python.file import Edit, PyFile
from covo_port.engines.python.gate import runtime_module
from covo_port.engines.python.guard import enforce
from covo_port.engines.python.splice import Splice
from covo_port.engines.python.verdict import (
    MAX_PYTHON_BYTES,
    Verdict,
    internal_error,
    parse_error_message,
    python_verdict,
)
from covo_port.engines.python.walk import visit_batched
from covo_port.model import ENGINE_CODE, Finding, PythonRule, Severity

__all__ = ["MAX_PYTHON_BYTES", "is_python", "rewrite_python"]


def is_python(name: str, head: bytes) -> bool:
    """``*.py``/``*.pyi`` files, and files whose shebang names python."""
    if name.endswith((".py", ".pyi")):
        return True
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"#!") and b"python" in first


def _unchanged(line: int, message: str) -> FileOutcome:
    return FileOutcome(error=f"{message}; copied unchanged", error_line=line)


def rewrite_python(source: bytes, path: str, rules: Sequence[type[PythonRule]],
                   config: EngineConfig, verdict: Verdict | None = None) -> FileOutcome:
    """Run ``rules`` over ``source``; never raises for bad input (see ``FileOutcome.error``).

    A file that cannot be parsed, or that libcst cannot process, is copied unchanged with an
    error; so is a file on which a rule fails (a bug: the run goes on, and reports it).
    ``verdict``: Python's verdict on ``source`` where the caller has it already (the cheap
    pass), so that it is made once per file.
    """
    if not rules:
        return FileOutcome()
    if len(source) > MAX_PYTHON_BYTES:
        return FileOutcome(findings=[Finding(
            ENGINE_CODE, path, 1, 1, Severity.WARNING,
            f"{len(source) / 2**20:.1f} MB of Python: larger than the "
            f"{MAX_PYTHON_BYTES // 2**20} MB that libcst rewrites in reasonable memory; "
            "copied unchanged")])
    if verdict is None:
        verdict = python_verdict(source)
    if verdict.refusal is not None:
        return _unchanged(verdict.line, verdict.refusal)
    gated = runtime_module(source)
    if gated is not None:
        return FileOutcome(findings=[Finding(ENGINE_CODE, path, gated[0], 1, Severity.WARNING,
                                             gated[1])])
    with _fewer_collections():
        try:
            module = cst.parse_module(source)
        except (cst.ParserSyntaxError, UnicodeDecodeError, LookupError, SyntaxError) as exc:
            line, message = parse_error_message(source, exc)
            return _unchanged(line, f"cannot parse: {message}")
        try:
            return _rewrite(module, source, path, rules, config,
                            verdict.tree if cheap.FAST_PATHS else None)
        except RecursionError:
            return _unchanged(verdict.line,
                              "too deeply nested for libcst (Python's recursion limit)")
        except Exception as exc:  # a rule's bug costs this file (reported), never the run
            return _unchanged(1, internal_error(exc))


#: Allocations between two young-generation collections while libcst works on a file.
_YOUNG_COLLECTION = 20_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Python's cyclic garbage collector, run less often while libcst builds and walks a tree:
    hundreds of thousands of young objects, few of them in cycles, that each collection scans
    (5-10% of the time at the default of 700 allocations); as it was after."""
    before = gc.get_threshold()
    if cheap.FAST_PATHS and before[0] and before[0] < _YOUNG_COLLECTION:
        gc.set_threshold(_YOUNG_COLLECTION, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _run_rules(file: PyFile, ordered: Sequence[type[PythonRule]],
               directives: PythonDirectives) -> None:
    """One batched pass per phase; suppressions applied before later phases see the edits."""
    by_phase: dict[int, list[PythonRule]] = {}
    for rule in ordered:
        by_phase.setdefault(rule.phase, []).append(rule(file))
    for phase in sorted(by_phase):
        visitors = by_phase[phase]
        if all(set(v.get_visitors()) <= {"leave_Module"} for v in visitors):
            for visitor in visitors:  # rules that only look at the result (NPU009):
                visitor.leave_Module(file.module)  # their finish(), with no walk of the tree
        elif cheap.FAST_PATHS:
            visit_batched(file.module, visitors)  # each finish() at leave_Module
        else:
            cst.visit_batched(file.module, visitors)
        directives.suppress(file)
        if phase == min(by_phase):
            enforce(file, ordered)  # never half: probes that guard CUDA-only code stay


def _rewrite(module: cst.Module, source: bytes, path: str,
             rules: Sequence[type[PythonRule]], config: EngineConfig,
             python_tree: ast.Module | None) -> FileOutcome:
    outcome = FileOutcome()
    file = PyFile(path, module, source, config.target, config.options, config.tree,
                  python_tree)
    ordered = sorted(rules, key=lambda r: r.sort_key())
    directives = PythonDirectives(file, source, path, config.known)
    _run_rules(file, ordered, directives)

    outcome.findings = [*directives.ignores.findings, *file.findings]
    outcome.suppressed = directives.suppressed
    notes = directives.notes(file) if config.options.annotate else {}
    if not file.edits and not any(notes.values()):
        return outcome  # nothing to print
    # libcst prints a few things differently from how it read them: it drops a last bare "\r"
    # (put back after every stage) and the blank in `except E :` (such lines are taken from the
    # source, see Splice)
    printed = file.printed()
    tail = b"\r" if source.endswith(b"\r") and not printed.endswith(b"\r") else b""
    splice = Splice(source, printed + tail) if printed + tail != source else None

    applied: list[Edit] = []
    applied_notes: list[Note] = []
    annotated: set[int] = set()
    previous = source
    for rule in ordered:
        edits = [e for e in file.edits if e.rule is rule]
        rule_notes = notes.get(rule.id, [])
        if not edits and not rule_notes:
            continue
        candidate = applied + edits
        applier = Applier(candidate, applied_notes + rule_notes,
                          file.parents if cheap.FAST_PATHS else None)
        new_bytes = file.module.visit(applier).bytes + tail
        if splice is not None:
            spliced = splice.onto_source(new_bytes)
            if spliced is None:
                return _unchanged(splice.conflict, "an edit falls on a line that libcst does "
                                  "not print back byte for byte")
            new_bytes = spliced
        if new_bytes == previous:
            continue
        applied, applied_notes, annotated = candidate, applied_notes + rule_notes, applier.annotated
        outcome.stages.append((rule.id, new_bytes))
        outcome.changes.extend(e.change for e in edits)
        outcome.changes.extend(n.change for n in rule_notes)
        previous = new_bytes
    lost = {id(n.change) for n in applied_notes if id(n.anchor) not in annotated}
    if lost:  # annotations of statements that a rewrite removed
        outcome.changes = [c for c in outcome.changes if id(c) not in lost]

    if outcome.stages:
        try:
            cst.parse_module(outcome.stages[-1][1])
        except cst.ParserSyntaxError as exc:  # a rule bug: never write code that does not parse
            outcome.stages.clear()
            outcome.changes.clear()
            outcome.error_line = exc.raw_line
            outcome.error = "a rewrite produced invalid Python; file left unchanged (please report)"
    changed_by = {rule_id for rule_id, _ in outcome.stages}
    outcome.support = [h for h in file.support if h.rule in changed_by]
    return outcome
