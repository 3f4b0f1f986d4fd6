"""torch_npu 2.8's operator tables (``covo_port/data/ascend/``) read by name, without torch:
what the readiness report says of each API that reached the NPU.

``supported_op_2_8.json`` maps a torch API name to a note in Chinese, some with a dtype list;
``op_list_2_8.json`` lists the APIs torch_npu 2.8 does not support at all (both read by
:mod:`covo_port.lib.ascend_ops`). The emulation reads the same tables through
:mod:`covo_port.verify.emulation._table`, keyed by the objects torch calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from covo_port.lib.ascend_ops import TOKENS, dtype_tokens, read_table

SUPPORTED = "supported"  # listed, with every dtype used
DTYPE_NOT_LISTED = "dtype not listed"  # listed, but not with (some of) the dtypes used
LISTED = "listed, no dtype list"  # listed with conditions or a bare "-": nothing to check
UNSUPPORTED = "unsupported"  # in torch_npu's list of unsupported APIs
NOT_IN_TABLES = "not in the tables"


@dataclass(frozen=True)
class Support:
    api: str | None  # the table's name that answered, None when none did
    status: str
    dtypes: tuple[str, ...] = ()  # the dtypes it lists (torch names), where it lists some
    missing: tuple[str, ...] = ()  # the dtypes used that it does not list

    def describe(self) -> str:
        if self.status == DTYPE_NOT_LISTED:
            return f"{self.status}: {', '.join(self.missing)} (lists {', '.join(self.dtypes)})"
        return self.status


class Tables:
    """Both tables, by API name."""

    def __init__(self) -> None:
        self.notes = read_table("supported_op_2_8.json")
        self.unsupported = frozenset(read_table("op_list_2_8.json"))

    def lookup(self, api: str | None, op: str, dtypes: list[str]) -> Support:
        """What the tables say of ``dtypes`` on the API that reached ATen operator ``op``
        (``aten::add``); where they do not list that API (or none is known), of the torch
        names that ``op`` has."""
        short = op.split("::", 1)[-1].strip("_")
        names = [api] if api else []
        names += [f"torch.{short}", f"torch.Tensor.{short}", f"torch.nn.functional.{short}"]
        for name in names:
            if name in self.unsupported:
                return Support(name, UNSUPPORTED)
            note = self.notes.get(name)
            if note is None:
                continue
            tokens = dtype_tokens(note)
            if tokens is None:
                return Support(name, LISTED)
            listed = tuple(dict.fromkeys(TOKENS[t] for t in tokens))
            missing = tuple(d for d in dtypes if d not in listed)
            return Support(name, DTYPE_NOT_LISTED if missing else SUPPORTED, listed, missing)
        return Support(None, NOT_IN_TABLES)


@cache
def tables() -> Tables:
    return Tables()
