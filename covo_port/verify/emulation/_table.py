"""torch_npu 2.8's operator tables (``covo_port/data/ascend/``) as data the emulation checks.

``supported_op_2_8.json`` maps a torch API name to a note in Chinese. Only notes of the one
regular form ``支持<dtype>，<dtype>、...和<dtype>`` ("supports ...", up to the first ``<br>``)
give a dtype list (:func:`covo_port.lib.ascend_ops.dtype_tokens`); every other note
(conditions per argument, "may fall back to the CPU",
"inference only", ...) gives none and nothing is checked against it.
``op_list_2_8.json`` lists the APIs torch_npu 2.8 does not support at all.

Names are resolved to the objects a ``TorchFunctionMode`` receives (``torch.abs``,
``torch.Tensor.abs``, ``torch.nn.functional.silu``, property getters) by attribute lookup from
the already imported ``torch`` namespaces, never by importing a module: a name that does not
resolve (``torch.onnx...``, ``torch.distributed.elastic...``) is simply not checked at run
time. ``torch.nn`` module classes listed as unsupported (or whose ``forward`` is) are kept
apart: they are checked when such a module is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch

from covo_port.lib.ascend_ops import dtype_tokens, read_table

DTYPE_NAMES: dict[str, torch.dtype] = {
    "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32,
    "fp64": torch.float64, "double": torch.float64, "uint8": torch.uint8, "int8": torch.int8,
    "int16": torch.int16, "int32": torch.int32, "int64": torch.int64, "bool": torch.bool,
    "complex64": torch.complex64, "complex128": torch.complex128,
}
# Where the emulation looks names up: namespaces that `import torch` has already loaded.
_NAMESPACES = ("torch.Tensor.", "torch.nn.", "torch.fft.", "torch.linalg.", "torch.special.")
# Operators that reach a TorchFunctionMode as their own function, not as the method the table
# names (``x + y`` arrives as Tensor.add, but ``x ** 2`` as Tensor.__pow__).
_OPERATORS = {
    "__pow__": "pow", "__rpow__": "pow", "__ipow__": "pow_", "__rsub__": "sub",
    "__rtruediv__": "div", "__rdiv__": "div", "__floordiv__": "floor_divide",
    "__rfloordiv__": "floor_divide", "__rmatmul__": "matmul", "__eq__": "eq",
    "__invert__": "bitwise_not",
}


def dtype_list(note: str) -> frozenset[torch.dtype] | None:
    """The dtypes a note lists (``"支持bf16，fp16，fp32<br>..."``), or None if it lists none."""
    tokens = dtype_tokens(note)
    return None if tokens is None else frozenset(DTYPE_NAMES[token] for token in tokens)


@dataclass(frozen=True)
class ApiEntry:
    """One torch API as torch_npu 2.8's tables describe it."""

    name: str
    dtypes: frozenset[torch.dtype] | None  # None: no dtype list to check against
    unsupported: bool = False


def _resolve(name: str) -> Any:
    """The object ``name`` denotes, found by attribute lookup only; None if it is not there."""
    parts = name.split(".")
    if parts[0] != "torch" or not (len(parts) == 2 or name.startswith(_NAMESPACES)):
        return None
    obj: Any = torch
    for part in parts[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return None if isinstance(obj, ModuleType) else obj


def _module_class(name: str) -> type[torch.nn.Module] | None:
    """The ``torch.nn`` module class that ``name`` (``torch.nn.GRU``, ``X.forward``) names;
    not one an attribute merely points to (``torch.nn.LazyLinear.cls_to_become`` is Linear)."""
    base = name.removesuffix(".forward")
    obj = _resolve(base)
    if (isinstance(obj, type) and issubclass(obj, torch.nn.Module)
            and obj.__name__ == base.rsplit(".", 1)[1]):
        return obj
    return None


def _key(obj: Any) -> Any:
    """What a TorchFunctionMode receives for ``obj``: a property's getter, else the object."""
    if isinstance(obj, property) or type(obj).__name__ == "getset_descriptor":
        return obj.__get__
    return obj


def _merge(old: ApiEntry, new: ApiEntry) -> ApiEntry:
    """Two names of one object (``torch.conv1d`` is ``torch.nn.functional.conv1d``): the more
    permissive reading wins, so that nothing is refused that either name allows."""
    dtypes = None if old.dtypes is None or new.dtypes is None else old.dtypes | new.dtypes
    return ApiEntry(old.name, dtypes, old.unsupported and new.unsupported)


class AscendTable:
    """The two tables, keyed by the objects the emulation's modes see."""

    def __init__(self) -> None:
        supported = read_table("supported_op_2_8.json")
        unsupported = read_table("op_list_2_8.json")
        self.by_name: dict[str, ApiEntry] = {
            name: ApiEntry(name, dtype_list(note)) for name, note in supported.items()}
        self.by_name.update(
            (name, ApiEntry(name, None, unsupported=True)) for name in unsupported)
        self.by_object: dict[Any, ApiEntry] = {}
        self.modules: dict[type[torch.nn.Module], str] = {}
        for entry in self.by_name.values():
            if entry.unsupported and (cls := _module_class(entry.name)) is not None:
                self.modules.setdefault(cls, entry.name)
                continue
            obj = _resolve(entry.name)
            if obj is None or isinstance(obj, type):
                continue
            key = _key(obj)
            if not callable(key):
                continue
            old = self.by_object.get(key)
            self.by_object[key] = entry if old is None else _merge(old, entry)
        for operator, method in _OPERATORS.items():
            named = self.by_name.get(f"torch.Tensor.{method}")
            if named is not None:
                self.by_object.setdefault(getattr(torch.Tensor, operator), named)

    def dtypes(self, name: str) -> frozenset[torch.dtype]:
        """The dtype list of ``name``, which must have one."""
        dtypes = self.by_name[name].dtypes
        if dtypes is None:
            raise KeyError(f"{name}: torch_npu's table lists no dtypes for it")
        return dtypes
