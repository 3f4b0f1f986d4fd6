"""Names: what a dotted name resolves to through the imports, and building dotted names."""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    ImportAssignment,
    QualifiedName,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

from covo_port.model import PythonRule


def full_name(node: cst.CSTNode) -> str | None:
    """``a.b.c`` as text for a dotted name (None for anything else)."""
    return get_full_name_for_node(node)


def is_dotted(node: cst.BaseExpression) -> bool:
    """``a.b.c`` made of names only (not ``a().b`` or ``a[0].b``)."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def is_outermost(rule: PythonRule, node: cst.CSTNode) -> bool:
    """Whether ``node`` is a whole dotted name, not the ``a.b`` inside ``a.b.c``."""
    parent = rule.parent(node)
    return not (isinstance(parent, cst.Attribute) and parent.value is node)


def dotted(name: str) -> cst.Name | cst.Attribute:
    """``"torch.amp.autocast"`` as an expression node."""
    head, *rest = name.split(".")
    node: cst.Name | cst.Attribute = cst.Name(head)
    for part in rest:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def imported_names(rule: PythonRule, node: cst.CSTNode) -> set[str]:
    """Qualified names of ``node`` that come from imports (a local ``torch = ...`` is not torch)."""
    return rule.file.imported_names(node)


def is_imported(rule: PythonRule, node: cst.CSTNode) -> bool:
    """Whether ``node`` names something an import brought in (``np.fft.fft``, ``librosa``), as
    opposed to a value (``x.stft``, ``self.stft``, ``torch.stft(...).abs``)."""
    root = node
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name):
        return False
    return bool(rule.file.imported_names(node))


def module_name(rule: PythonRule, node: cst.CSTNode, module: str = "torch") -> str | None:
    """The name under which ``module`` is reachable at ``node`` (``torch``, or ``t`` after
    ``import torch as t``), or None where no name certainly means it there.

    A name counts only where it resolves to the import and to nothing else: a parameter or a
    local variable called ``torch`` is not the module.
    """
    scope = rule.get_metadata(ScopeProvider, node, None)
    if scope is None:
        return None
    wanted = {QualifiedName(module, QualifiedNameSource.IMPORT)}
    candidates: list[str] = []
    chain: Scope | None = scope
    while chain is not None:
        candidates.extend(a.name for a in chain.assignments if isinstance(a, ImportAssignment))
        chain = None if chain.parent is chain else chain.parent
    # The module's own name first, then aliases in the order they were bound.
    for name in sorted(set(candidates), key=lambda n: (n != module, candidates.index(n))):
        if "." not in name and scope.get_qualified_names_for(name) == wanted:
            return name
    return None


def binds_module(rule: PythonRule, node: cst.CSTNode, name: str) -> bool:
    """True where the name ``name`` at ``node`` is certainly ``import name[.sub]``'s module."""
    scope = rule.get_metadata(ScopeProvider, node, None)
    if scope is None or name not in scope:
        return False
    assignments = scope[name]
    if not assignments:
        return False
    for assignment in assignments:
        statement = getattr(assignment, "node", None)
        if not isinstance(statement, cst.Import):
            return False
        if not any(_binds(alias, name) for alias in statement.names):
            return False
    return True


def _binds(alias: cst.ImportAlias, name: str) -> bool:
    full = get_full_name_for_node(alias.name) or ""
    if alias.asname is None:
        return full.split(".")[0] == name
    bound = alias.asname.name
    return isinstance(bound, cst.Name) and bound.value == name and full == name


def references(rule: PythonRule, node: cst.CSTNode, name: str) -> list[cst.CSTNode]:
    """Nodes that read the name ``name`` bound by the statement ``node``."""
    scope = rule.get_metadata(ScopeProvider, node, None)
    if scope is None:
        return []
    found: list[cst.CSTNode] = []
    for assignment in scope.assignments[name]:
        if getattr(assignment, "node", None) is node:
            found.extend(access.node for access in assignment.references)
    return found


def assigning_statements(rule: PythonRule, name: cst.Name,
                         kinds: tuple[type[cst.CSTNode], ...]) -> list[cst.CSTNode] | None:
    """The statements (of ``kinds``) that bind the variable ``name`` reads in its scope; None
    where the name has no scope or is not bound there."""
    scope = rule.get_metadata(ScopeProvider, name, None)
    if scope is None or name.value not in scope:
        return None
    found: list[cst.CSTNode] = []
    for assignment in scope[name.value]:
        statement = getattr(assignment, "node", None)
        while statement is not None and not isinstance(statement, kinds):
            statement = rule.parent(statement)
        if statement is not None:
            found.append(statement)
    return found
