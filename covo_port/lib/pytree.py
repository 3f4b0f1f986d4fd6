"""Python's own tree of a file (``ast``), as the cheap pass hands it to a rule's
``might_match_code`` (quick looks that decide whether libcst must parse the file at all) and
to the Python engine's bindings: its statements, functions, methods and imports."""

from __future__ import annotations

import ast
from collections.abc import Iterator

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def statements(tree: ast.AST, into_definitions: bool = True) -> Iterator[ast.stmt]:
    """Every statement inside ``tree`` (not itself), at any depth, without walking into
    expressions (a tenth of the nodes); with ``into_definitions`` False, not into the bodies
    of functions and classes either (the statements of the module's own scope)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if not into_definitions and isinstance(node, _DEFINITIONS):
            continue
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, name, ()):
                if isinstance(child, ast.stmt):
                    yield child
                    stack.append(child)
                elif isinstance(child, ast.excepthandler | ast.match_case):
                    stack.append(child)


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function definition inside ``tree``, methods and nested functions included."""
    for node in statements(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def methods(tree: ast.AST) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef,
                                             frozenset[str]]]:
    """(method, the names of its positional parameters) for every function defined directly
    in a class body, at any depth."""
    for node in statements(tree):
        if isinstance(node, ast.ClassDef):
            for child in node.body:
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield child, frozenset(a.arg for a in (*child.args.posonlyargs,
                                                           *child.args.args))


def imported_names(tree: ast.AST) -> dict[str, set[str]]:
    """Every name that an absolute import anywhere in ``tree`` binds -> the dotted names it
    may stand for (``import torch.nn as tnn``: tnn -> {torch.nn}; ``import torch.nn``: torch ->
    {torch}; ``from torch import stft``: stft -> {torch.stft})."""
    bound: dict[str, set[str]] = {}
    for node in statements(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.asname or alias.name.split(".", 1)[0]
                bound.setdefault(head, set()).add(alias.name if alias.asname else head)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                bound.setdefault(alias.asname or alias.name, set()).add(
                    f"{node.module}.{alias.name}")
    return bound
