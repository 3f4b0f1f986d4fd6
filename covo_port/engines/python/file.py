"""The Python file that the rules of one run share: its tree, lazily resolved metadata, and the
edits and findings the rules record (the :class:`~covo_port.model.PythonSource` the rules see)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import (
    BatchableMetadataProvider,
    CodeRange,
    MetadataWrapper,
    PositionProvider,
    QualifiedName,
    QualifiedNameProvider,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)
from libcst.metadata.base_provider import ProviderT

from covo_port.engines.python import cheap
from covo_port.engines.python.bindings import Bindings, Reach, bindings_of
from covo_port.engines.python.positions import Positions
from covo_port.lib.imports import import_bindings
from covo_port.lib.tree import parent_map
from covo_port.model import (
    Change,
    Finding,
    NewNode,
    PythonRule,
    Replacement,
    RunOptions,
    Safety,
    Severity,
    SupportHelper,
    Target,
    TreeIndex,
)


@dataclass
class Edit:
    """A rewrite a rule recorded: ``node`` becomes ``new`` (a node, or a function of the node
    as the rules before left it)."""

    rule: type[PythonRule]
    node: cst.CSTNode
    new: NewNode
    change: Change

    def apply(self, updated: cst.CSTNode) -> Replacement:
        return self.new(updated) if callable(self.new) else self.new


@cache
def _visitor_names(provider: ProviderT) -> frozenset[str]:
    """The visit_/leave_ methods of a metadata provider (libcst finds them with inspect, which
    costs more than a small file's scope analysis: once per provider, not per file)."""
    return frozenset(provider().get_visitors())


class _QualifiedNames(Mapping[cst.CSTNode, Collection[QualifiedName]]):
    """What libcst's QualifiedNameProvider gives, ``scope.get_qualified_names_for(node)`` (no
    names for a node without a scope), worked out for the nodes that rules ask about: the
    provider prepares it for every node of the tree, a pass that costs as much as the scope
    analysis itself."""

    def __init__(self, wrapper: MetadataWrapper,
                 resolve: Callable[[ProviderT], Mapping[cst.CSTNode, Any]] | None = None,
                 imported: Callable[[cst.CSTNode], Collection[QualifiedName] | None] | None = None,
                 ) -> None:
        #: how the scopes are resolved: the wrapper's own way, unless the file has a faster
        self._resolve = resolve or wrapper.resolve
        #: the names known from the imports alone, where that is certain (else None)
        self._imported = imported
        self._names: dict[cst.CSTNode, Collection[QualifiedName]] = {}

    @property
    def _scopes(self) -> Mapping[cst.CSTNode, Scope | None]:
        return self._resolve(ScopeProvider)  # resolved once, then kept

    def __getitem__(self, node: cst.CSTNode) -> Collection[QualifiedName]:
        names = self._names.get(node)
        if names is None and self._imported is not None:
            names = self._imported(node)
        if names is None:
            scope = self._scopes.get(node)
            names = set() if scope is None else scope.get_qualified_names_for(node)
        self._names[node] = names
        return names

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._scopes)

    def __len__(self) -> int:
        return len(self._scopes)


class PyFile:
    """One Python file under rewrite: what the rules read, and what they record."""

    def __init__(self, path: str, module: cst.Module, source: bytes, target: Target,
                 options: RunOptions, tree: TreeIndex | None = None,
                 python_tree: ast.Module | None = None) -> None:
        self.path = path
        # `module` was just parsed and is only read: no node occurs twice in it, so the wrapper
        # may use it as it is (its default deep copy costs about as much as the parse)
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.module = self.wrapper.module
        self.source = source
        self.target = target
        self.options = options
        self.tree = tree
        self.edits: list[Edit] = []
        self.findings: list[Finding] = []
        #: The node of each finding (for suppressions and annotations), in step with findings.
        self.finding_nodes: list[cst.CSTNode] = []
        #: The helpers the rewritten module imports from a support module.
        self.support: list[SupportHelper] = []
        self._resolved: dict[ProviderT, Mapping[cst.CSTNode, Any]] = {}
        #: Python's own tree of the module (the cheap pass's), for the bindings of its names
        self._python_tree = python_tree
        self._names = _QualifiedNames(self.wrapper, self.resolve, self._imported_names)

    # -- what rules read ---------------------------------------------------------------------
    @cached_property
    def parents(self) -> Mapping[cst.CSTNode, cst.CSTNode]:
        """Each node's parent (see lib.tree.parent_map), built when a rule first asks."""
        return parent_map(self.module)

    @cached_property
    def imports(self) -> Mapping[str, set[str]]:
        """What the module's imports bind (see lib.imports.import_bindings)."""
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

    @cached_property
    def _bindings(self) -> Bindings | None:
        """What binds each name of the module, from Python's tree (None without one)."""
        return None if self._python_tree is None else bindings_of(self._python_tree)

    def _reference(self, node: cst.CSTNode) -> tuple[str, bool] | None:
        """The dotted text of ``node`` as libcst writes it (``a.b().c``: a.b.c) where it is a
        name, attribute or call that refers to what its first name is bound to, for the
        bindings to answer, with True; ("", False) for a name after a dot or as a keyword and
        for a name in an import, which libcst gives no names; None where only the scopes can
        tell."""
        if self._bindings is None or not isinstance(node, cst.Name | cst.Attribute | cst.Call):
            return None
        parent = self.parents.get(node)
        if isinstance(node, cst.Name) and (
                (isinstance(parent, cst.Attribute) and parent.attr is node)
                or (isinstance(parent, cst.Arg) and parent.keyword is node)):
            return "", False
        while isinstance(parent, cst.Attribute):
            parent = self.parents.get(parent)
        if isinstance(parent, cst.AsName):  # `import a as b`, `with x as b`, `except E as b`
            parent = self.parents.get(parent)
            if not isinstance(parent, cst.ImportAlias):
                return None
        if isinstance(parent, cst.ImportAlias | cst.ImportFrom):
            return "", False
        full = cst.helpers.get_full_name_for_node(node)  # `"".join`: "None.join", as libcst
        return None if full is None else (full, True)

    def _imported_names(self, node: cst.CSTNode) -> Collection[QualifiedName] | None:
        """The qualified names of a dotted name that only the module's imports bind, from the
        imports alone (see engines.python.bindings); None where the scopes must tell."""
        reference = self._reference(node)
        if reference is None or self._bindings is None:
            return None
        full, refers = reference
        if not refers:
            return set()
        names = self._bindings.unbound(full.split(".", 1)[0])
        if names is not None:
            return names
        names = self._bindings.qualified(full)
        if names is None and (where := self._bindings.nested_only(full)) is not None:
            reached = self._reach(node, full.split(".", 1)[0])
            names = None if reached is None else where if reached else set()
        return names

    @cached_property
    def _reach(self) -> Reach:
        return Reach(self.parents)

    def imported_names(self, node: cst.CSTNode) -> set[str]:
        reference = self._reference(node)
        known = None
        if reference is not None and reference[1] and self._bindings is not None:
            known = self._bindings.imported(reference[0])
        if known is None:
            known = {q for q in self._names[node] if q.source is QualifiedNameSource.IMPORT}
        return {q.name for q in known}

    def may_name(self, node: cst.CSTNode, names: Collection[str]) -> bool:
        """Whether ``node`` can resolve to one of the dotted ``names``: a name or attribute
        chain resolves through the imports that bind its first part (``F.stft`` with ``import
        torch.nn.functional as F``: torch.nn.functional.stft), or, where something else binds
        it (a definition, an assignment, a builtin), to its own text, with a prefix at most
        (``builtins.len``, ``f.<locals>.x``). Anything else may be anything."""
        if not isinstance(node, cst.Name | cst.Attribute) or "*" in self.imports:
            return True
        text = cst.helpers.get_full_name_for_node(node)
        if text is None:
            return True
        head, dot, rest = text.partition(".")
        bound = {full + dot + rest for full in self.imports.get(head, ())}
        return any(name in bound or name == text or name.endswith("." + text)
                   for name in names)

    def metadata(self, provider: ProviderT, node: cst.CSTNode, default: Any) -> Any:
        """``provider``'s value for ``node``: each provider costs a pass over the whole tree, so
        it is resolved (once, for every rule) only when a rule first asks for it; qualified
        names are worked out per node from the scopes."""
        values: Mapping[cst.CSTNode, object] = (
            self._names if provider is QualifiedNameProvider else self.resolve(provider))
        value = values.get(node, default)
        return value

    def resolve(self, provider: ProviderT) -> Mapping[cst.CSTNode, Any]:
        """``provider``'s values for the whole tree, computed once.

        Positions come from one plain print (engines.python.positions). A provider that does
        all its work when it meets the module (libcst's scopes and expression contexts: each
        walks the tree its own way) is run on the module alone, not in a batched traversal
        that would then walk every node for nothing.
        """
        values = self._resolved.get(provider)
        if values is not None:
            return values
        if not cheap.FAST_PATHS:
            values = self.wrapper.resolve(provider)
        elif provider is PositionProvider:
            values = self.positions
        elif issubclass(provider, BatchableMetadataProvider) and _visitor_names(provider) <= {
                "visit_Module", "leave_Module"}:
            instance = provider()
            instance.metadata = {dep: self.resolve(dep) for dep in
                                 instance.get_inherited_dependencies()}
            for name in ("visit_Module", "leave_Module"):
                if name in _visitor_names(provider):
                    getattr(instance, name)(self.module)
            values = dict(instance._computed)
        else:
            values = self.wrapper.resolve(provider)
        self._resolved[provider] = values
        return values

    @cached_property
    def positions(self) -> Mapping[cst.CSTNode, CodeRange]:
        """Each node's position, as PositionProvider gives it (see resolve)."""
        return Positions(self.module) if cheap.FAST_PATHS else self.resolve(PositionProvider)

    def printed(self) -> bytes:
        """libcst's print of the module as parsed (with the positions, where they were worked
        out: the same print)."""
        if isinstance(self.__dict__.get("positions"), Positions):
            return self.__dict__["positions"].code.encode(self.module.encoding)
        return self.module.bytes

    def code(self, node: Replacement, indent: str = "") -> str:
        """The source of ``node`` as it stands at its place in the module: the lines after its
        first indented by ``indent`` (the indentation of a statement's block), as the module's
        print indents them."""
        if isinstance(node, cst.RemovalSentinel):
            return ""
        nodes = node.nodes if isinstance(node, cst.FlattenSentinel) else (node,)
        if not indent:
            return "".join(self.module.code_for_node(n) for n in nodes)
        # Module.code_for_node with the block's indentation (libcst has no public form of it)
        state = CodegenState(default_indent=self.module.default_indent,
                             default_newline=self.module.default_newline, indent_tokens=[indent])
        for each in nodes:
            each._codegen(state)
        return "".join(state.tokens).removeprefix(indent)

    def _indent(self, node: cst.CSTNode, line: int, column: int) -> str:
        """The indentation of the block a statement stands in ("" for anything else)."""
        if column == 1 or not isinstance(node, cst.BaseStatement):
            return ""
        if line > len(self._lines):
            return ""
        start = self._lines[line - 1].decode(self.module.encoding, "replace")
        return start.removeprefix("\ufeff")[:column - 1]

    @cached_property
    def _lines(self) -> list[bytes]:
        return self.source.splitlines()  # \n, \r\n and \r, as libcst counts lines

    def recorded_changes(self) -> Sequence[Change]:
        return [edit.change for edit in self.edits]

    # -- what rules record -------------------------------------------------------------------
    def _position(self, rule: PythonRule, node: cst.CSTNode) -> tuple[int, int, int, int]:
        pos = rule.position(node)
        return pos.start.line, pos.start.column + 1, pos.end.line, pos.end.column + 1

    def add_edit(self, rule: PythonRule, node: cst.CSTNode, new: NewNode, message: str,
                 safety: Safety) -> None:
        """Record an edit; an unsafe one becomes a finding that proposes it, unless the run
        asks for unsafe fixes."""
        line, column, end_line, end_column = self._position(rule, node)
        after = new(node) if callable(new) else new
        unsafe = safety is Safety.UNSAFE
        indent = self._indent(node, line, column)
        change = Change(rule.id, self.path, line, column, end_line, end_column,
                        self.code(node, indent), self.code(after, indent), message, unsafe=unsafe)
        if unsafe and not self.options.unsafe_fixes:
            severity = Severity.ERROR if rule.severity is Severity.ERROR else Severity.WARNING
            self.findings.append(Finding(
                rule.id, self.path, line, column, severity,
                f"{message} (unsafe fix, not applied: it can change behaviour; "
                "`apply --unsafe-fixes` applies it)", fix=change))
            self.finding_nodes.append(node)
            return
        self.edits.append(Edit(type(rule), node, new, change))

    def add_finding(self, rule: PythonRule, node: cst.CSTNode, message: str,
                    severity: Severity) -> None:
        line, column, _, _ = self._position(rule, node)
        self.findings.append(Finding(rule.id, self.path, line, column, severity, message))
        self.finding_nodes.append(node)

    def add_support(self, helper: SupportHelper) -> None:
        if helper not in self.support:
            self.support.append(helper)
