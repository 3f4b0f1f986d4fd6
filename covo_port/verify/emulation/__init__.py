"""Ascend NPUs emulated on the CPU, for ``covo-port verify --emulate npu``.

No NPU exists in CI. ``install()`` makes a process's torch accept ``npu`` / ``npu:N`` devices,
registers ``torch.npu`` and gives tensors and modules ``.npu()`` / ``is_npu``, so a ported
program runs unmodified; every operator computes on the CPU. What Ascend cannot run fails
with ``UnsupportedOnNPU``, naming the API or ATen operator, the dtype, the reason and the
user's ``file:line``. The checks come from torch_npu 2.8's own tables
(``covo_port/data/ascend/``; which facts are enforced: ``_modes``). It is an emulation for
catching incompatibilities, not a performance model: its timings are the CPU's.

How: tensors stay CPU tensors; a registry of storages says which live on which NPU (so
``x.device`` answers ``npu:0`` for them and code takes its NPU branches). A global
``TorchFunctionMode`` maps device arguments and checks API calls, a ``TorchDispatchMode``
places operator results and checks kernels; threads started after ``install()`` get both.

The host is an Ascend host: ``torch.cuda`` is there but has no device, and fails as it does
without an NVIDIA driver (``_cuda``), so a line the port missed fails here as it would there.
``record(folder)`` (``covo-port run``) counts what reaches the NPUs in this process and writes it
to ``folder`` when the process exits (``_record``); on a real Ascend device it records torch_npu's
operators instead.

What the emulation does not model: performance (every operator runs on the CPU, at CPU speed),
device memory limits (an NPU "holds" whatever the host's memory holds), the precision of Ascend's
fused kernels (results are the CPU kernels' results, bit for bit), asynchronous execution
(every operator has finished when it returns), and the ``torch.npu`` APIs that ``_npu`` does not
provide (they raise ``NotEmulated``).

``shim_path()`` is a directory with a ``torch_npu`` package that installs the emulation when
imported: prepended to a subprocess's PYTHONPATH, ``import torch_npu`` in the ported code (and
transformers' NPU probes) find it. Importing ``covo_port`` registers nothing; only
``install()`` does, in the process that calls it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from covo_port.verify.emulation._errors import NotEmulated, UnsupportedOnNPU

if TYPE_CHECKING:
    from covo_port.verify.emulation._modes import Emulator
    from covo_port.verify.emulation._record import Recorder

__all__ = ["NotEmulated", "UnsupportedOnNPU", "install", "is_installed", "op_stats", "record",
           "shim_path", "unlisted_dtypes"]

_emulator: Emulator | None = None


def install(strict: bool = True) -> None:
    """Emulate Ascend NPUs in this process (idempotent; a later call sets ``strict``).

    ``strict``: refuse what Ascend does not support (``UnsupportedOnNPU``); without it the
    devices are emulated and operators counted, but nothing is refused.
    """
    global _emulator
    if _emulator is None:
        from covo_port.verify.emulation import _runtime

        _emulator = _runtime.install(strict)
    _emulator.strict = strict


def is_installed() -> bool:
    return _emulator is not None


def shim_path() -> Path:
    """The directory to put first on a subprocess's PYTHONPATH for ``import torch_npu``."""
    return Path(__file__).resolve().parent.parent / "shim"


def op_stats() -> dict[str, int]:
    """ATen operators run on the emulated NPUs since install(), with their counts."""
    return dict(_emulator.kernel_calls) if _emulator is not None else {}


def unlisted_dtypes() -> dict[str, int]:
    """``"api(dtype)"`` -> calls on an NPU with a dtype that torch_npu's table does not list
    for that API, where the emulation does not refuse it (see ``_modes``)."""
    return dict(_emulator.unlisted) if _emulator is not None else {}


def record(folder: Path | None, runtime: str = "emulate") -> Recorder:
    """Record what reaches the NPUs in this process (and in the threads and forked children it
    starts); the record goes to ``folder`` when the process exits (None: kept in memory).

    ``runtime``: ``emulate`` (call :func:`install` first) or ``torch_npu`` (a real device:
    torch_npu imported, operators on ``npu`` tensors counted, CUDA calls observed).
    """
    from covo_port.verify.emulation import _cuda, _record

    if runtime == "emulate":
        if _emulator is None:
            raise RuntimeError("record(): install() the emulation first")
        table = _emulator.table

        def known(func: object) -> str | None:
            entry = table.by_object.get(func)
            return entry.name if entry is not None else None

        recorder = _record.Recorder(runtime, known, folder)
        _emulator.recorder = recorder
    else:
        recorder = _record.Recorder(runtime, lambda func: None, folder)
        _record.record_device(recorder)
        _cuda.observe()
    _record.active = recorder
    return recorder
