"""The ``torch.cuda`` API table: what each public name becomes on the NPU.

The table is data (``covo_port/data/torch_cuda_api.tsv``): one row per public ``torch.cuda`` name of
torch 2.9.1 and per submodule, saying whether it becomes ``torch.npu.<twin>`` (the twin is in
``torch_npu.npu.__all__``, ``covo_port/data/torch_npu_npu_all.txt``), a torch API (``GradScaler``,
``custom_fwd``, ``OutOfMemoryError``), another rule's business, or a finding. A ``torch.cuda`` name
the table does not list but that ``torch_npu.npu.__all__`` has becomes that twin, as Huawei's
runtime shim rebinds ``torch.cuda`` to ``torch_npu.npu``; anything else is reported.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from covo_port.lib.datafiles import data_text
from covo_port.model import Severity

#: Importable before or after ``import torch_npu``, unlike ``torch.npu``.
NPU_MODULE = "torch_npu.npu"


class Action(str, enum.Enum):
    """What a ``torch.cuda`` name becomes."""

    NPU = "npu"  # torch.npu.<target>
    TORCH = "torch"  # a torch API (<target> in full)
    GRAD_SCALER = "grad_scaler"  # torch.amp.GradScaler("npu", ...)
    CUSTOM_FN = "custom_fn"  # torch.amp.custom_fwd/bwd(device_type="npu")
    RULE = "rule"  # another rule's business
    REPORT = "report"  # no NPU twin: a finding
    NAMESPACE = "namespace"  # a submodule (its members are looked up)
    ROOT = "root"  # torch.cuda itself


@dataclass(frozen=True)
class ApiEntry:
    """One row of the table (``name`` relative to ``torch.cuda``)."""

    name: str
    action: Action
    target: str
    device_params: tuple[int, ...] = ()
    severity: Severity | None = None
    note: str = ""


@cache
def npu_all() -> tuple[str, ...]:
    """``torch_npu.npu.__all__`` (142 names), in the order torch_npu declares them."""
    return tuple(
        line.strip() for line in data_text("torch_npu_npu_all.txt").splitlines()
        if line.strip() and not line.startswith("#")
    )


@cache
def api_table() -> dict[str, ApiEntry]:
    """The rows of ``torch_cuda_api.tsv`` by name."""
    rows: dict[str, ApiEntry] = {}
    lines = [line for line in data_text("torch_cuda_api.tsv").splitlines()
             if line and not line.startswith("#")]
    header = lines[0].split("\t")
    for line in lines[1:]:
        cell = dict(zip(header, line.split("\t"), strict=True))
        params = cell["device_params"]
        rows[cell["cuda_name"]] = ApiEntry(
            name=cell["cuda_name"],
            action=Action(cell["action"]),
            target=cell["target"],
            device_params=tuple(int(p) for p in params.split(",")) if params != "-" else (),
            severity=Severity(cell["severity"]) if cell["severity"] != "-" else None,
            note=cell["note"] if cell["note"] != "-" else "",
        )
    return rows


_ROOT = ApiEntry("", Action.ROOT, "")


def lookup(parts: Sequence[str]) -> tuple[ApiEntry, int]:
    """What ``torch.cuda.<parts>`` is: (entry, how many of ``parts`` the entry names)."""
    if not parts:
        return _ROOT, 0
    table = api_table()
    for k in range(len(parts), 0, -1):
        entry = table.get(".".join(parts[:k]))
        if entry is None:
            continue
        if entry.action is not Action.NAMESPACE or k == len(parts):
            return entry, k
        member = parts[k]
        if entry.target == "flat":  # torch.cuda.memory.x is torch.cuda.x
            found = table.get(member) or _shim_entry(member)
            if found is not None:
                return found, k + 1
        return _unknown(".".join(parts[: k + 1])), k + 1
    return table.get(parts[0]) or _shim_entry(parts[0]) or _unknown(parts[0]), 1


def _shim_entry(name: str) -> ApiEntry | None:
    if name in npu_all():
        return ApiEntry(name, Action.NPU, name,
                        note="torch_npu.npu.__all__ (transfer_to_npu rebinding)")
    return None


def _unknown(name: str) -> ApiEntry:
    return ApiEntry(name, Action.REPORT, "-", severity=Severity.WARNING,
                    note="neither a public torch.cuda name of torch 2.9.1 nor in "
                         "torch_npu.npu.__all__: no known NPU twin")


def cuda_device_params(qualified: str) -> tuple[int, ...]:
    """Positional indexes of the device parameters of ``torch.cuda.<...>`` (empty if none)."""
    parts = qualified.split(".")
    if parts[:2] != ["torch", "cuda"]:
        return ()
    entry, consumed = lookup(parts[2:])
    return entry.device_params if consumed == len(parts) - 2 else ()
