"""Qualified names of dotted names from the module's imports alone, where that is certain: the
answer libcst's scope analysis gives, without the analysis (a third of a run's time on a large
tree went into it, mostly to learn that ``torch.cuda.x`` is ``torch.cuda.x``).

The bindings come from Python's own tree of the file (the cheap pass has it): every name that
anything binds anywhere, and the imports of the module's own scope. A name is answered here only
where imports at module scope are the only thing that binds it anywhere in the file, and either
every one of them is a plain ``import a.b`` (the name then means what it says) or there is just
one of them (``import a.b as n``, ``from m import n``); anything else (a name also assigned, a
parameter, an import inside a function, a star import, two different imports of one name) is
left to the scope analysis. tests/test_cheap_pass.py checks the answers against libcst's on
real code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from libcst.metadata import QualifiedName, QualifiedNameSource


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
    #: names bound in any other way, anywhere (assignments, parameters, definitions, imports
    #: in functions and classes, ``global``/``nonlocal``, ``except ... as``, patterns)
    other: set[str] = field(default_factory=set)
    #: the names that imports in functions and classes bind (also in ``other``)
    nested_imports: set[str] = field(default_factory=set)
    star: bool = False

    def qualified(self, full: str) -> set[QualifiedName] | None:
        """The qualified names of a dotted name ``full`` (``a.b.c``), or None where only the
        scope analysis can tell."""
        head = full.split(".", 1)[0]
        imports = self.imports.get(head)
        if self.star or not imports or head in self.other:
            return None
        if all(i.plain for i in imports):
            return {QualifiedName(full, QualifiedNameSource.IMPORT)}
        if len(imports) != 1:
            return None
        return imports[0].qualified(full)


    def imported(self, full: str) -> set[QualifiedName] | None:
        """The qualified names of ``full`` that come from imports: none where no import binds
        its first name, else :meth:`qualified` (None: only the scope analysis can tell)."""
        head = full.split(".", 1)[0]
        if not self.star and head not in self.imports and head not in self.nested_imports:
            return set()
        return self.qualified(full)


def _bound_name(alias: ast.alias) -> str:
    return alias.asname or alias.name.split(".", 1)[0]


def _module_imports(tree: ast.Module, bindings: Bindings) -> set[int]:
    """Record the imports of the module's own scope (its body and the blocks of its if, try,
    for, while, with and match statements); return their ids."""
    seen: set[int] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            seen.add(id(node))
            for alias in node.names:
                bindings.imports.setdefault(_bound_name(alias), []).append(
                    _Import("", alias.name, alias.asname))
        elif isinstance(node, ast.ImportFrom):
            seen.add(id(node))
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "*":
                    bindings.star = True
                    continue
                bindings.imports.setdefault(alias.asname or alias.name, []).append(
                    _Import(module, alias.name, alias.asname))
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for name in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(node, name, ()):
                    if isinstance(child, ast.stmt):
                        stack.append(child)
                    elif isinstance(child, ast.excepthandler | ast.match_case):
                        stack.extend(child.body)
    return seen


_STORES = (ast.Store, ast.Del)


def bindings_of(tree: ast.Module) -> Bindings:
    """The :class:`Bindings` of a module, from Python's tree of it."""
    bindings = Bindings()
    module_level = _module_imports(tree, bindings)
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
                for alias in node.names:  # type: ignore[attr-defined]
                    if alias.name == "*":
                        bindings.star = True
                    else:
                        bound = alias.asname or (alias.name if kind is ast.ImportFrom
                                                 else alias.name.split(".", 1)[0])
                        other.add(bound)
                        bindings.nested_imports.add(bound)
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
