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


def parent_map(module: cst.Module) -> dict[cst.CSTNode, cst.CSTNode]:
    """Each node of ``module`` (but the module) -> its parent: what libcst's
    ParentNodeProvider gives, from a plain walk of the nodes' dataclass fields instead of a
    visitor pass (about ten times faster: it is resolved on most files that a rule parses)."""
    parents: dict[cst.CSTNode, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        for name in _fields(type(node)):
            value = getattr(node, name)
            children = value if isinstance(value, (list, tuple)) else (value,)
            for child in children:
                if isinstance(child, cst.CSTNode):
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
    stack: list[cst.CSTNode] = [node]
    while stack:
        each = stack.pop()
        if isinstance(each, types):
            found.append(each)
        children: list[cst.CSTNode] = []
        for name in _fields(type(each)):
            value = getattr(each, name)
            for child in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(child, cst.CSTNode):
                    children.append(child)
        stack.extend(reversed(children))
    return found


def calls_in(node: cst.CSTNode) -> list[cst.Call]:
    """Every call inside ``node`` (itself included)."""
    return nodes_in(node, cst.Call)
