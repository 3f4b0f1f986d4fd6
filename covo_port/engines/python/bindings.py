"""Qualified names of dotted names from the module's imports alone, where that is certain: the
answer libcst's scope analysis gives, without the analysis (a third of a run's time on a large
tree went into it, mostly to learn that ``torch.cuda.x`` is ``torch.cuda.x``).

The bindings come from Python's own tree of the file (the cheap pass has it): every name that
anything binds anywhere, and the imports of the module's own scope. A name is answered here only
where imports are the only thing that binds it anywhere in the file, one at least at module
scope, and either every one of them is a plain ``import a.b`` (at module scope or in a function:
the name then means what it says wherever it is read) or there is just one of them, at module
scope (``import a.b as n``, ``from m import n``); anything else (a name also assigned, a
parameter, another import inside a function, a star import, two different imports of one name)
is left to the scope analysis. tests/test_bindings.py checks the answers against libcst's, node
for node, on code written for it and on real code.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import libcst as cst
import libcst.helpers
from libcst.metadata import QualifiedName, QualifiedNameSource

from covo_port.lib.pytree import statements


@dataclass(frozen=True)
class _Import:
    """One alias of a module-scope import: ``module`` ("" for ``import x``; dots for relative
    imports), the dotted ``name`` imported and the name it binds under ``alias``."""

    module: str
    name: str
    alias: str | None

    @property
    def plain(self) -> bool:
        """``import a.b``: the bound name means what it says."""
        return not self.module and self.alias is None

    def qualified(self, full: str) -> set[QualifiedName]:
        """libcst's ImportAssignment.get_qualified_names_for(full)."""
        parts = self.name.split(".")
        for count in range(len(parts), 0, -1):
            real = ".".join(parts[:count])
            bound = self.alias if self.alias is not None else real
            if self.module.endswith("."):
                real = self.module + real
            elif self.module:
                real = f"{self.module}.{real}"
            if not full.startswith(bound):
                continue
            rest = full[len(bound):]
            if rest and not rest.startswith("."):
                continue
            rest = rest.lstrip(".")
            return {QualifiedName(f"{real}.{rest}" if rest else real,
                                 QualifiedNameSource.IMPORT)}
        return set()


@dataclass
class Bindings:
    """What binds each name in a module (see the module's docstring)."""

    #: module-scope imports, by the name they bind
    imports: dict[str, list[_Import]] = field(default_factory=dict)
    #: the imports in functions and classes, by the name they bind
    nested: dict[str, list[_Import]] = field(default_factory=dict)
    #: names bound in any other way, anywhere (assignments, parameters, definitions,
    #: ``global``/``nonlocal``, ``except ... as``, patterns)
    other: set[str] = field(default_factory=set)
    star: bool = False

    def qualified(self, full: str) -> set[QualifiedName] | None:
        """The qualified names of a dotted name ``full`` (``a.b.c``), or None where only the
        scope analysis can tell."""
        head = full.split(".", 1)[0]
        imports = self.imports.get(head)
        if self.star or not imports or head in self.other:
            return None
        nested = self.nested.get(head, [])
        if all(i.plain for i in (*imports, *nested)):  # whichever binds it, it is `full`
            return {QualifiedName(full, QualifiedNameSource.IMPORT)}
        if len(imports) != 1 or nested:
            return None
        return imports[0].qualified(full)

    def unbound(self, head: str) -> set[QualifiedName] | None:
        """For a name that nothing in the module binds: the builtin it names, if any (for
        ``str.join`` too, as libcst answers); None for any name that something binds."""
        if (self.star or head in self.imports or head in self.nested or head in self.other
                or head.startswith("__")):  # a module's own __name__, __file__...
            return None
        if hasattr(builtins, head):
            return {QualifiedName(f"builtins.{head}", QualifiedNameSource.BUILTIN)}
        return set()

    def nested_only(self, full: str) -> set[QualifiedName] | None:
        """For a name that only imports in functions (or classes) bind, every one of them to
        the same: the qualified names of ``full`` where one of them is in scope (elsewhere it
        has none); None for any other name."""
        head = full.split(".", 1)[0]
        nested = self.nested.get(head)
        if (self.star or not nested or head in self.imports or head in self.other
                or hasattr(builtins, head)):
            return None
        answers = [i.qualified(full) for i in nested]
        return answers[0] if all(a == answers[0] for a in answers) else None


    def imported(self, full: str) -> set[QualifiedName] | None:
        """The qualified names of ``full`` that come from imports: none where no import binds
        its first name, else :meth:`qualified` (None: only the scope analysis can tell)."""
        head = full.split(".", 1)[0]
        if not self.star and head not in self.imports and head not in self.nested:
            return set()
        return self.qualified(full)


def _aliases(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, _Import]]:
    """(the name it binds, the import) for each alias of an import statement but ``*``."""
    plain = isinstance(node, ast.Import)
    module = "" if isinstance(node, ast.Import) else "." * node.level + (node.module or "")
    for alias in node.names:
        if alias.name == "*":
            continue
        bound = alias.asname or (alias.name.split(".", 1)[0] if plain else alias.name)
        yield bound, _Import(module, alias.name, alias.asname)


def _record(imports: dict[str, list[_Import]], node: ast.Import | ast.ImportFrom,
            bindings: Bindings) -> None:
    for bound, found in _aliases(node):
        imports.setdefault(bound, []).append(found)
    bindings.star = bindings.star or any(alias.name == "*" for alias in node.names)


_STORES = (ast.Store, ast.Del)


def bindings_of(tree: ast.Module) -> Bindings:
    """The :class:`Bindings` of a module, from Python's tree of it."""
    bindings = Bindings()
    module_level: set[int] = set()  # the imports of the module's own scope
    for statement in statements(tree, into_definitions=False):
        if isinstance(statement, ast.Import | ast.ImportFrom):
            module_level.add(id(statement))
            _record(bindings.imports, statement, bindings)
    other = bindings.other
    for node in ast.walk(tree):
        kind = type(node)
        if kind is ast.Name:
            if isinstance(node.ctx, _STORES):  # type: ignore[attr-defined]
                other.add(node.id)  # type: ignore[attr-defined]
        elif kind is ast.arg:
            other.add(node.arg)  # type: ignore[attr-defined]
        elif kind in (ast.Import, ast.ImportFrom):
            if id(node) not in module_level:
                _record(bindings.nested, node, bindings)  # type: ignore[arg-type]
        elif kind in (ast.Global, ast.Nonlocal):
            other.update(node.names)  # type: ignore[attr-defined]
        elif kind is not ast.alias:
            name = getattr(node, "name", None)  # defs, classes, except/match captures,
            if isinstance(name, str):  # type parameters
                other.add(name)
            rest = getattr(node, "rest", None)  # {**rest} in a mapping pattern
            if isinstance(rest, str):
                other.add(rest)
    return bindings


class Reach:
    """Whether a name that only imports in functions bind is in scope at a node: an import of
    it in the body of a function that holds the node (a closure's too), not in a function
    that merely decorates, annotates or gives a default to something there. Class bodies are
    left to the scope analysis (a method does not see its class's names)."""

    def __init__(self, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> None:
        self._parents = parents
        self._imports: dict[cst.CSTNode, set[str]] = {}

    def __call__(self, node: cst.CSTNode, head: str) -> bool | None:
        """True where an import in a function that holds ``node`` binds ``head``, False where
        none does, None where a class's own imports of it may (only the scopes can tell)."""
        child, parent = node, self._parents.get(node)
        while parent is not None:
            if (isinstance(parent, cst.FunctionDef | cst.ClassDef) and child is parent.body
                    and head in self._bound(parent)):
                return True if isinstance(parent, cst.FunctionDef) else None
            child, parent = parent, self._parents.get(parent)
        return False

    def _bound(self, scope: cst.FunctionDef | cst.ClassDef) -> set[str]:
        """The names that the imports of ``scope``'s own body bind (not nested functions')."""
        found = self._imports.get(scope)
        if found is None:
            found = self._imports[scope] = set()
            stack: list[cst.CSTNode] = [scope.body]
            while stack:
                node = stack.pop()
                if isinstance(node, cst.Import | cst.ImportFrom):
                    if isinstance(node.names, cst.ImportStar):
                        continue
                    for alias in node.names:
                        name = cst.helpers.get_full_name_for_node(
                            alias.asname.name if alias.asname else alias.name) or ""
                        found.add(name if alias.asname or isinstance(node, cst.ImportFrom)
                                  else name.split(".", 1)[0])
                elif not isinstance(node, cst.FunctionDef | cst.ClassDef | cst.BaseExpression):
                    stack.extend(node.children)
        return found
