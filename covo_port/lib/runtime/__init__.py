"""Helper functions that rules insert into the code they port, kept as real modules of this
project (linted, unit-tested) and inserted as source text."""

from __future__ import annotations

import ast
import importlib
import inspect
from functools import cache


@cache
def function_source(module: str, name: str) -> str:
    """The source text of the top-level function ``name`` of ``covo_port.lib.runtime.<module>``,
    as it stands in the file (dedented, ending with one line break)."""
    source = inspect.getsource(importlib.import_module(f"{__name__}.{module}"))
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            lines = source.splitlines(keepends=True)
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            return "".join(lines[first - 1:node.end_lineno])
    raise LookupError(f"no function {name} in {module}")
