"""Imports: what a module's imports bind, moving imported names, and knowing when a visit is
inside an import statement."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.helpers import get_full_name_for_node

from covo_port.lib.names import dotted
from covo_port.model import PythonRule, PythonSource


def import_bindings(module: cst.Module) -> dict[str, set[str]]:
    """Every name that an import anywhere in ``module`` binds -> the dotted names it was bound
    to (``import torch.cuda as tc``: tc -> {torch.cuda}; ``from torch.cuda import amp``: amp ->
    {torch.cuda.amp}; ``import torch.cuda``: torch -> {torch}); ``*`` -> the modules of star
    imports. Found by walking the statements only (imports are statements), which is cheap
    next to a scope analysis: rules use it to skip names that cannot reach what they look for."""
    bound: dict[str, set[str]] = {}
    stack: list[cst.CSTNode] = list(module.body)
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine | cst.SimpleStatementSuite):
            for small in node.body:
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        full = get_full_name_for_node(alias.name) or ""
                        name = alias.evaluated_alias or full.split(".", 1)[0]
                        bound.setdefault(name, set()).add(
                            full if alias.evaluated_alias else name)
                elif isinstance(small, cst.ImportFrom):
                    module_name = ("." * len(small.relative)) + (
                        get_full_name_for_node(small.module) or "" if small.module else "")
                    if isinstance(small.names, cst.ImportStar):
                        bound.setdefault("*", set()).add(module_name)
                        continue
                    for alias in small.names:
                        dot = "" if module_name.endswith(".") else "."
                        full = f"{module_name}{dot}{get_full_name_for_node(alias.name) or ''}"
                        name = alias.evaluated_alias or alias.evaluated_name
                        bound.setdefault(name, set()).add(full)
            continue
        for name in ("body", "orelse", "handlers", "finalbody", "cases"):
            child = getattr(node, name, None)
            if isinstance(child, cst.IndentedBlock):
                stack.extend(child.body)
            elif isinstance(child, (list, tuple)):
                stack.extend(child)
            elif isinstance(child, cst.CSTNode):
                stack.append(child)
    return bound


def from_module(node: cst.ImportFrom) -> str | None:
    """The absolute module of ``from M import ...`` (None for relative imports)."""
    if node.relative or node.module is None:
        return None
    return get_full_name_for_node(node.module)


class ImportAware(PythonRule):
    """A rule base that knows when the visit is inside an import statement (names there are
    what the import binds, not uses). Subclasses extend ``visit_Import``/``visit_ImportFrom``
    by calling ``super()``."""

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self.in_import = 0

    def visit_Import(self, node: cst.Import) -> None:
        self.in_import += 1

    def leave_Import(self, original_node: cst.Import) -> None:
        self.in_import -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.in_import += 1

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self.in_import -= 1


@dataclass(frozen=True)
class ImportMove:
    """An imported name that moves: ``from <module> import <name> as <asname>``."""

    module: str
    name: str
    asname: str | None


def alias_key(alias: cst.ImportAlias) -> tuple[str, str | None]:
    """(imported name, ``as`` name or None) of one alias of an import."""
    asname = alias.asname.name if alias.asname else None
    return (get_full_name_for_node(alias.name) or "",
            asname.value if isinstance(asname, cst.Name) else None)


def _moved_alias(alias: cst.ImportAlias, move: ImportMove) -> cst.ImportAlias:
    if move.asname is None or move.asname == move.name:
        asname = None
    elif alias.asname is not None:
        asname = alias.asname.with_changes(name=cst.Name(move.asname))
    else:
        asname = cst.AsName(name=cst.Name(move.asname))
    return alias.with_changes(name=cst.Name(move.name), asname=asname)


def _split_import(node: cst.ImportFrom, module: str,
                  moves: dict[tuple[str, str | None], ImportMove]) -> list[cst.ImportFrom]:
    if isinstance(node.names, cst.ImportStar) or from_module(node) != module:
        return [node]
    groups: dict[str, list[cst.ImportAlias]] = {module: []}  # what stays comes first
    for alias in node.names:
        move = moves.get(alias_key(alias))
        if move is None:
            groups.setdefault(module, []).append(alias)
        else:
            groups.setdefault(move.module, []).append(_moved_alias(alias, move))
    # Each group ends the way the statement ended: no comma outside parentheses, the original
    # last comma (and the line break before ")") inside.
    last_comma = node.names[-1].comma if node.lpar is not None else cst.MaybeSentinel.DEFAULT
    return [node.with_changes(module=dotted(target),
                              names=[*aliases[:-1], aliases[-1].with_changes(comma=last_comma)])
            for target, aliases in groups.items() if aliases]


def move_imports(rule: PythonRule, node: cst.ImportFrom,
                 moves: dict[tuple[str, str | None], ImportMove], message: str) -> None:
    """Record that the names in ``moves`` (keyed by (name, asname)) come from other modules.

    ``from a import x, y`` with ``y`` moving becomes two statements, each on its own line where
    the original was alone on its line. Edits that other rules made inside the statement survive.
    """
    module = get_full_name_for_node(node.module) if node.module is not None else None
    if not moves or module is None:
        return
    line = rule.parent(node)
    if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
        def rewrite_line(updated: cst.CSTNode) -> cst.CSTNode | cst.FlattenSentinel:
            assert isinstance(updated, cst.SimpleStatementLine)
            body: list[cst.BaseSmallStatement] = []
            for small in updated.body:
                body.extend(_split_import(small, module, moves)
                            if isinstance(small, cst.ImportFrom) else [small])
            if len(body) == 1 or len(updated.body) != 1:
                return updated.with_changes(body=body)
            lines = [updated.with_changes(body=[body[0]])]
            lines += [cst.SimpleStatementLine(body=[small]) for small in body[1:]]
            return cst.FlattenSentinel(lines)

        rule.replace(line, rewrite_line, message)
        return

    def rewrite_small(updated: cst.CSTNode) -> cst.CSTNode | cst.FlattenSentinel:
        assert isinstance(updated, cst.ImportFrom)
        parts = _split_import(updated, module, moves)
        return parts[0] if len(parts) == 1 else cst.FlattenSentinel(parts)

    rule.replace(node, rewrite_small, message)
