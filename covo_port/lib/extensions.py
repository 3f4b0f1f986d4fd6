"""``torch.utils.cpp_extension`` builds: which of them compile CUDA code."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.names import assigning_statements
from covo_port.lib.strings import texts_in
from covo_port.model import PythonRule

CPP_EXTENSION = "torch.utils.cpp_extension"
_CUDA_SOURCE = re.compile(r"\.(?:cu|cuh)$")


def names_cuda_sources(rule: PythonRule, node: cst.BaseExpression) -> bool:
    """Whether ``node`` holds the name of a CUDA source file (``.cu``, ``.cuh``, ``*.cu``), or is
    a variable whose assignments in the same scope do."""
    nodes: list[cst.CSTNode] = [node]
    if isinstance(node, cst.Name):
        nodes += assigning_statements(
            rule, node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) or []
    return any(_CUDA_SOURCE.search(text.rstrip()) or "*.cu" in text
               for part in nodes for text in texts_in(part))


def compiles_cuda(rule: PythonRule, call: cst.Call) -> bool:
    """Whether a cpp_extension build call compiles CUDA code (.cu sources, cuda_sources,
    with_cuda=True)."""
    for arg in call.args:
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword == "cuda_sources" and not (isinstance(arg.value, cst.Name)
                                              and arg.value.value == "None"):
            return True
        if keyword == "with_cuda" and isinstance(arg.value, cst.Name) and (
                arg.value.value == "True"):
            return True
        if keyword in (None, "sources") and names_cuda_sources(rule, arg.value):
            return True
    return False
