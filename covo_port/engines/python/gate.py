"""Modules that exist for a CUDA-only runtime: reported once, not rewritten at all.

A module that imports TensorRT, TensorRT-LLM, Transformer Engine, vLLM... (the ``runtime`` rows of
``covo_port/data/device_consumers.tsv``) at its top level, not as an optional import, or whose
code is only Triton kernels and their launchers, is code for that runtime: rewriting a device
string or a probe inside it makes nothing run on the NPU, it only hides that the module needs
porting by hand. Such a module gets one finding and no edits.
"""

from __future__ import annotations

import ast

from covo_port.lib.consumers import ConsumerKind, consumers

_TRITON_DECORATORS = {"jit", "autotune", "heuristics"}


def _top_level_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import at the module's top level (not in try/if blocks)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _is_kernel(node: ast.stmt) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        _decorator_name(d) in _TRITON_DECORATORS for d in node.decorator_list)


def _launches(node: ast.stmt, kernels: set[str]) -> bool:
    """Whether ``node`` calls one of ``kernels`` with a grid: ``kernel[grid](...)``."""
    return any(isinstance(call, ast.Call) and isinstance(call.func, ast.Subscript)
               and isinstance(call.func.value, ast.Name) and call.func.value.id in kernels
               for call in ast.walk(node))


def _only_triton(tree: ast.Module) -> bool:
    """Triton kernels, their launchers, imports and constants: nothing else."""
    kernels = {n.name for n in tree.body if _is_kernel(n) and isinstance(n, ast.FunctionDef)}
    if not kernels:
        return False
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            continue
        if _is_kernel(node) or (isinstance(node, ast.FunctionDef) and _launches(node, kernels)):
            continue
        return False
    return True


def runtime_module(source: bytes) -> tuple[int, str] | None:
    """(line, why) where the module exists for a CUDA-only runtime, else None."""
    runtimes = {name: c for name, c in consumers().items() if c.kind is ConsumerKind.RUNTIME}
    if not any(name.encode() in source for name in (*runtimes, "triton")):
        return None  # the cheap test: no such name anywhere
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the engine reports what it cannot parse
    imports = _top_level_imports(tree)
    for line, name in imports:
        runtime = runtimes.get(name.split(".", 1)[0])
        if runtime is not None:
            return line, (f"this module exists for {runtime.library} (it imports {name}): "
                          f"nothing in it is rewritten, port it by hand ({runtime.advice})")
    triton = next((line for line, name in imports if name.split(".", 1)[0] == "triton"), None)
    if triton is not None and _only_triton(tree):
        return triton, ("this module holds only Triton kernels and their launchers: nothing in "
                        "it is rewritten; port the kernels to torch / torch_npu operators, or "
                        "build them with Triton-Ascend")
    return None
