"""Runs the Python rules over one file: one parse, one metadata wrapper, one batched pass.

Rules record edits keyed by the nodes of the wrapped module; the engine then applies them with a
single transformer, rule after rule, so that the output of every prefix of the rule list (one
stage per rule that changed something) is available for the per-rule commits.
"""

from __future__ import annotations

import ast
import traceback
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cached_property
from pathlib import Path

import libcst as cst
from libcst.metadata import (
    MetadataWrapper,
    QualifiedName,
    QualifiedNameProvider,
    Scope,
    ScopeProvider,
)
from libcst.metadata.base_provider import ProviderT

from covo_port.cstutil import import_bindings, parent_map
from covo_port.directives import Note, PythonDirectives, with_notes
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
                 tree: TreeIndex | None = None, source: bytes = b""):
        self.path = path
        self.module = module
        #: The file's bytes, for cheap tests before a walk of the tree.
        self.source = source
        self.target = target
        self.options = options
        #: The rest of SRC, where the run has it (None: this file is the whole program).
        self.tree = tree
        self.edits: list[Edit] = []
        self.findings: list[Finding] = []
        #: The node of each finding (for suppressions and annotations), in step with findings.
        self.finding_nodes: list[cst.CSTNode] = []

    @cached_property
    def parents(self) -> Mapping[cst.CSTNode, cst.CSTNode]:
        """Each node's parent (see cstutil.parent_map), built when a rule first asks."""
        return parent_map(self.module)

    @cached_property
    def imports(self) -> Mapping[str, set[str]]:
        """What the module's imports bind (see cstutil.import_bindings)."""
        return import_bindings(self.module)

    def may_reach(self, node: cst.BaseExpression, component: str) -> bool:
        """Whether the dotted name ``node`` can resolve, through imports, to a name with
        ``component`` in it (``torch.cuda.x`` for "cuda"): False only where it certainly cannot,
        a test to make before resolving it (which costs a scope analysis of the file)."""
        text = cst.helpers.get_full_name_for_node(node)
        if text is None:
            return True
        parts = text.split(".")
        if component in parts or "*" in self.imports:
            return True
        return any(component in full.split(".") for full in self.imports.get(parts[0], ()))

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
        self.finding_nodes.append(node)

    def edited_by(self, rule_id: str) -> bool:
        return any(e.rule.id == rule_id for e in self.edits)


class _Applier(cst.CSTTransformer):
    def __init__(self, edits: Sequence[Edit], notes: Sequence[Note] = ()) -> None:
        super().__init__()
        self._edits: dict[int, list[Edit]] = {}
        for edit in edits:
            self._edits.setdefault(id(edit.node), []).append(edit)
        self._notes: dict[int, list[str]] = {}
        for note in notes:
            self._notes.setdefault(id(note.anchor), []).append(note.text)
        #: the anchors that got their annotations (a rewrite may have removed others)
        self.annotated: set[int] = set()

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
        if id(original_node) in self._notes and pieces:  # apply --annotate: above the first
            pieces[0] = with_notes(pieces[0], self._notes[id(original_node)])
            self.annotated.add(id(original_node))
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except SyntaxError as syntax:
        return syntax.lineno or 1, f"{type(syntax).__name__}: {syntax.msg}"
    except (ValueError, RecursionError, MemoryError) as other:
        return 1, f"{type(other).__name__}: {other}".splitlines()[0]
    if isinstance(exc, cst.ParserSyntaxError):
        return exc.raw_line, "libcst cannot parse it: " + str(exc).strip().splitlines()[0]
    return 1, f"{type(exc).__name__}: {exc}".splitlines()[0]


#: libcst takes about 0.9 GB of memory per MB of Python (and minutes): larger files, generated
#: tables rather than code that a port changes, are copied unchanged with a warning.
MAX_PYTHON_BYTES = 2 * 1024 * 1024

#: libcst's native parser overflows its stack (which kills the process) on nesting that Python
#: accepts, e.g. an ``and`` chain of ~5000 terms; its Python side hits the recursion limit far
#: earlier, so a file nested deeper than this is refused before libcst sees it.
MAX_NESTING = 1000


def _unchanged(line: int, message: str) -> FileOutcome:
    return FileOutcome(error=f"{message}; copied unchanged", error_line=line)


def _python_verdict(source: bytes) -> tuple[int, str | None]:
    """What Python's own parser says before libcst sees ``source``: (line, refusal).

    ``refusal`` is None to go ahead, ``line`` then being the line nested deepest (for a
    RecursionError in libcst later); otherwise the file is refused at ``line``: a null byte, or
    nesting beyond Python's limits or beyond :data:`MAX_NESTING`. Other syntax errors are left to
    libcst, which knows newer grammar than the running Python may.
    """
    if b"\0" in source:
        return (source.count(b"\n", 0, source.index(b"\0")) + 1,
                "cannot parse: a null byte in the source (Python refuses it too)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes etc.: not this tool's business
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            if (exc.msg or "").startswith("too many") or "too complex" in (exc.msg or ""):
                return exc.lineno or 1, f"cannot parse: {type(exc).__name__}: {exc.msg}"
            return 1, None
        except (RecursionError, MemoryError) as exc:
            return 1, (f"cannot parse: too deeply nested ({type(exc).__name__} in Python's own "
                       "parser too)")
        except ValueError:
            return 1, None  # libcst reports it in its own words
    depth, line = 0, 1
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, ast.BoolOp):  # flat in Python's tree, one level per link in libcst's
            level += len(node.values) - 1
        if level > depth:
            depth, line = level, getattr(node, "lineno", line)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    if depth > MAX_NESTING:
        return line, (f"nested {depth} levels deep: more than libcst can parse safely "
                      f"({MAX_NESTING})")
    return line, None


def _internal_error(exc: Exception) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    text = str(exc).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return f"internal error ({type(exc).__name__}{detail}{where}; please report)"


class _Splice:
    """Carries libcst's print of an edited tree over onto the source, where libcst's print of the
    unedited tree (``printed``) is not byte for byte the source: the lines that the edits changed
    come from the new print, every other line from the source."""

    def __init__(self, source: bytes, printed: bytes) -> None:
        self.source = source.splitlines(keepends=True)
        self.printed = printed.splitlines(keepends=True)
        #: printed line -> the same line in the source, for the lines libcst printed faithfully
        self.faithful: dict[int, int] = {}
        matcher = SequenceMatcher(None, self.printed, self.source, autojunk=False)
        for tag, i1, i2, j1, _ in matcher.get_opcodes():
            if tag == "equal":
                self.faithful.update(zip(range(i1, i2), range(j1, j1 + i2 - i1), strict=True))
        self.conflict = 1  # the line where onto_source last gave up

    def _source_range(self, i1: int, i2: int) -> tuple[int, int] | None:
        """The source lines that printed lines ``i1:i2`` are (an insertion point if empty)."""
        if i1 == i2:
            if i1 in self.faithful:
                return self.faithful[i1], self.faithful[i1]
            if i1 - 1 in self.faithful:
                return self.faithful[i1 - 1] + 1, self.faithful[i1 - 1] + 1
            return None
        if i1 not in self.faithful or i2 - 1 not in self.faithful:
            return None
        start, end = self.faithful[i1], self.faithful[i2 - 1] + 1
        if end - start != i2 - i1 or any(i not in self.faithful for i in range(i1, i2)):
            return None
        return start, end

    def onto_source(self, new: bytes) -> bytes | None:
        """``new`` with the source's own bytes on every line the edits left alone; None if an
        edit touches a line that libcst does not print faithfully."""
        lines = new.splitlines(keepends=True)
        out: list[bytes] = []
        at = 0
        matcher = SequenceMatcher(None, self.printed, lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            where = self._source_range(i1, i2)
            if where is None or where[0] < at:
                self.conflict = i1 + 1
                return None
            out += self.source[at:where[0]]
            out += lines[j1:j2]
            at = where[1]
        out += self.source[at:]
        return b"".join(out)


def rewrite_python(
    source: bytes,
    path: str,
    rules: Sequence[type[PythonRule]],
    target: Target,
    options: RunOptions,
    tree: TreeIndex | None = None,
) -> FileOutcome:
    """Run ``rules`` over ``source``; never raises for bad input (see ``FileOutcome.error``).

    A file that cannot be parsed, or that libcst cannot process, is copied unchanged with an
    error; so is a file on which a rule fails (a bug: the run goes on, and reports it).
    """
    if not rules:
        return FileOutcome()
    if len(source) > MAX_PYTHON_BYTES:
        return FileOutcome(findings=[Finding(
            "NPU000", path, 1, 1, Severity.WARNING,
            f"{len(source) / 2**20:.1f} MB of Python: larger than the "
            f"{MAX_PYTHON_BYTES // 2**20} MB that libcst rewrites in reasonable memory; "
            "copied unchanged")])
    deepest, refusal = _python_verdict(source)
    if refusal is not None:
        return _unchanged(deepest, refusal)
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, UnicodeDecodeError, LookupError, SyntaxError) as exc:
        line, message = parse_error_message(source, exc)
        return _unchanged(line, f"cannot parse: {message}")
    try:
        return _rewrite(module, source, path, rules, target, options, tree)
    except RecursionError:
        return _unchanged(deepest, "too deeply nested for libcst (Python's recursion limit)")
    except Exception as exc:  # a rule's bug costs this file (reported), never the whole run
        return _unchanged(1, _internal_error(exc))


class _QualifiedNames(Mapping[cst.CSTNode, Collection[QualifiedName]]):
    """What libcst's QualifiedNameProvider gives, ``scope.get_qualified_names_for(node)`` (no
    names for a node without a scope), worked out for the nodes that rules ask about: the
    provider prepares it for every node of the tree, a pass that costs as much as the scope
    analysis itself."""

    def __init__(self, wrapper: MetadataWrapper) -> None:
        self._wrapper = wrapper
        self._names: dict[cst.CSTNode, Collection[QualifiedName]] = {}

    @property
    def _scopes(self) -> Mapping[cst.CSTNode, Scope | None]:
        return self._wrapper.resolve(ScopeProvider)  # resolved once, kept by the wrapper

    def __getitem__(self, node: cst.CSTNode) -> Collection[QualifiedName]:
        names = self._names.get(node)
        if names is None:
            scope = self._scopes.get(node)
            names = self._names[node] = set() if scope is None else (
                scope.get_qualified_names_for(node))
        return names

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._scopes)

    def __len__(self) -> int:
        return len(self._scopes)


class _LazyMetadata(Mapping[ProviderT, Mapping[cst.CSTNode, object]]):
    """A rule's metadata, each provider resolved on the file's wrapper (which keeps it for all
    rules) when a rule first asks for it.

    Each provider costs a pass over the whole tree, and most files need only some of what the
    rules declare: positions only where something is recorded, scopes and qualified names only
    where a rule asks about a name.
    """

    def __init__(self, wrapper: MetadataWrapper, declared: Collection[ProviderT],
                 names: _QualifiedNames) -> None:
        self._wrapper = wrapper
        self._declared = declared
        self._names = names

    def __getitem__(self, provider: ProviderT) -> Mapping[cst.CSTNode, object]:
        if provider not in self._declared:
            raise KeyError(provider)
        if provider is QualifiedNameProvider:
            return self._names
        return self._wrapper.resolve(provider)

    def __contains__(self, provider: object) -> bool:
        return provider in self._declared

    def __iter__(self) -> Iterator[ProviderT]:
        return iter(self._declared)

    def __len__(self) -> int:
        return len(self._declared)


def _rewrite(
    module: cst.Module,
    source: bytes,
    path: str,
    rules: Sequence[type[PythonRule]],
    target: Target,
    options: RunOptions,
    tree: TreeIndex | None,
) -> FileOutcome:
    outcome = FileOutcome()
    # libcst prints a few things differently from how it read them: it drops a last bare "\r"
    # (put back after every stage) and the blank in `except E :` (such lines are taken from the
    # source, see _Splice)
    printed = module.bytes
    tail = b"\r" if source.endswith(b"\r") and not printed.endswith(b"\r") else b""
    splice = _Splice(source, printed + tail) if printed + tail != source else None

    # `module` was just parsed and is only read: no node occurs twice in it, so the wrapper may
    # use it as it is (its default deep copy costs about as much as the parse)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    file = PyFile(path, wrapper.module, target, options, tree, source)
    ordered = sorted(rules, key=lambda r: r.sort_key())
    visitors = [rule(file) for rule in ordered]
    by_phase: dict[int, list[PythonRule]] = {}
    names = _QualifiedNames(wrapper)
    for visitor in visitors:
        visitor.metadata = _LazyMetadata(wrapper, visitor.get_inherited_dependencies(), names)
        by_phase.setdefault(visitor.phase, []).append(visitor)
    directives = PythonDirectives(wrapper, source, path)
    for phase in sorted(by_phase):
        phase_visitors = by_phase[phase]
        if all(set(v.get_visitors()) <= {"leave_Module"} for v in phase_visitors):
            for visitor in phase_visitors:  # rules that only look at the result (NPU009):
                visitor.leave_Module(file.module)  # their finish(), with no walk of the tree
        else:
            cst.visit_batched(file.module, phase_visitors)  # each finish() at leave_Module
        directives.suppress(file)  # `# covo-port: ignore`, before later phases see the edits

    outcome.findings = [*directives.ignores.findings, *file.findings]
    outcome.suppressed = directives.suppressed
    notes = directives.notes(file) if options.annotate else {}
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
        applier = _Applier(candidate, applied_notes + rule_notes)
        new_module = file.module.visit(applier)
        new_bytes = new_module.bytes + tail
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
    return outcome
