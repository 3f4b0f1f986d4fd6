"""torch_npu 2.8's operator tables (Huawei's ``op_list_2_8.json``: the torch APIs it does not
support; ``supported_op_2_8.json``: those it does, with a note in Chinese), shipped in
``covo_port/data/ascend/`` under their Mulan PSL v2 licence.

Only notes of the one regular form ``支持<dtype>，<dtype>、...和<dtype>`` ("supports ...", up to
the first ``<br>``) give a dtype list (:func:`dtype_tokens`); every other note (conditions per
argument, "may fall back to the CPU", ...) gives none.
"""

from __future__ import annotations

import json
import re
from functools import cache

from covo_port.lib.datafiles import data_text

#: The tables' dtype tokens, as torch names dtypes (``str(torch.float32)`` less ``torch.``).
TOKENS = {
    "bf16": "bfloat16", "fp16": "float16", "fp32": "float32", "fp64": "float64",
    "double": "float64", "uint8": "uint8", "int8": "int8", "int16": "int16", "int32": "int32",
    "int64": "int64", "bool": "bool", "complex64": "complex64", "complex128": "complex128",
}
_SEPARATORS = r"\s*(?:，|、|,|和)\s*"
_TOKEN = "|".join(sorted(TOKENS, key=len, reverse=True))
_DTYPE_LIST = re.compile(rf"^支持\s*((?:{_TOKEN})(?:{_SEPARATORS}(?:{_TOKEN}))*)\s*$")


def read_table(filename: str) -> dict[str, str]:
    """One of the two tables: API name -> note."""
    table = json.loads(data_text("ascend", filename))["op_list"]
    assert isinstance(table, dict)
    return table


def unsupported_table() -> dict[str, str]:
    """The table of unsupported APIs as Huawei ships it: {torch API: "-"}."""
    return read_table("op_list_2_8.json")


def normalize(name: str) -> str:
    """A table name as torch spells it: the one bare entry (``to_sparse``) is a Tensor method."""
    return name if name.startswith("torch.") else f"torch.Tensor.{name}"


def dtype_tokens(note: str) -> tuple[str, ...] | None:
    """The dtype tokens a note lists (``"支持bf16，fp16，fp32<br>..."``), or None if none."""
    match = _DTYPE_LIST.match(note.split("<br>", 1)[0].strip())
    if match is None:
        return None
    return tuple(re.split(_SEPARATORS, match.group(1)))


@cache
def supported_dtypes(api: str) -> frozenset[str] | None:
    """The dtypes (torch names: ``float16``) the table of supported APIs lists for ``api``
    (``torch.view_as_complex``), or None where it lists none (or does not list ``api``)."""
    tokens = dtype_tokens(_supported().get(api, ""))
    return None if tokens is None else frozenset(TOKENS[t] for t in tokens)


@cache
def _supported() -> dict[str, str]:
    return read_table("supported_op_2_8.json")
