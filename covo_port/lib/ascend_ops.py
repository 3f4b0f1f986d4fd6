"""torch_npu 2.8's list of unsupported torch APIs (Huawei's ``op_list_2_8.json``, shipped in
``covo_port/data/ascend/`` under its Mulan PSL v2 licence)."""

from __future__ import annotations

import json

from covo_port.lib.datafiles import data_text


def unsupported_table() -> dict[str, str]:
    """The table as Huawei ships it: {torch API: "-"}."""
    table = json.loads(data_text("ascend", "op_list_2_8.json"))["op_list"]
    assert isinstance(table, dict)
    return table


def normalize(name: str) -> str:
    """A table name as torch spells it: the one bare entry (``to_sparse``) is a Tensor method."""
    return name if name.startswith("torch.") else f"torch.Tensor.{name}"
