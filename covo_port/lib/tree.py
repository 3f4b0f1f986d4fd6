"""The shape of a module: parents, and the statements that hold a node."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import TypeVar

import libcst as cst

from covo_port.model import PythonRule

N = TypeVar("N", bound=cst.CSTNode)


@cache
def _fields(cls: type[cst.CSTNode]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


#: type -> whether its instances are libcst nodes (CSTNode is an ABC: isinstance() against it
#: costs a lookup in the ABC's caches, per child of every node of the tree)
_IS_NODE: dict[type, bool] = {}


def _children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The node's children, in the order of its fields."""
    children: list[cst.CSTNode] = []
    for name in _fields(type(node)):
        value = getattr(node, name)
        for child in value if type(value) in (list, tuple) else (value,):
            kind = type(child)
            is_node = _IS_NODE.get(kind)
            if is_node is None:
                is_node = _IS_NODE[kind] = issubclass(kind, cst.CSTNode)
            if is_node:
                children.append(child)
    return children


def parent_map(module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
    """Each node of ``module`` (but the module) -> its parent: what libcst's
    ParentNodeProvider gives, from a plain walk of the nodes' dataclass fields instead of a
    visitor pass (about ten times faster: it is resolved on most files that a rule parses)."""
    parents: dict[cst.CSTNode, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        for child in _children(node):
            parents[child] = node
            stack.append(child)
    return parents


def top_level_statement(rule: PythonRule, node: cst.CSTNode) -> cst.CSTNode | None:
    """The statement of the module's body that contains ``node``."""
    child, parent = node, rule.parent(node)
    while parent is not None and not isinstance(parent, cst.Module):
        child, parent = parent, rule.parent(parent)
    return child if parent is not None else None


def nodes_in(node: cst.CSTNode, *types: type[N]) -> list[N]:
    """The nodes of ``types`` inside ``node`` (itself included), in source order: what
    ``libcst.matchers.findall`` finds for plain type matchers, from a walk of the dataclass
    fields (libcst.matchers takes half a second to import, on every start of covo-port)."""
    found: list[N] = []
    wanted: dict[type, bool] = {}
    stack: list[cst.CSTNode] = [node]
    while stack:
        each = stack.pop()
        kind = type(each)
        match = wanted.get(kind)
        if match is None:
            match = wanted[kind] = issubclass(kind, types)
        if match:
            found.append(each)  # type: ignore[arg-type]
        stack.extend(reversed(_children(each)))
    return found


def calls_in(node: cst.CSTNode) -> list[cst.Call]:
    """Every call inside ``node`` (itself included)."""
    return nodes_in(node, cst.Call)
