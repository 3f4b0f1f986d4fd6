"""Installing the emulation into the running process (see the package's docstring)."""

from __future__ import annotations

import os
import threading
from typing import Any

import torch

from covo_port.verify.emulation import _cuda, _npu
from covo_port.verify.emulation._device import Registry
from covo_port.verify.emulation._modes import Emulator
from covo_port.verify.emulation._table import AscendTable

DEFAULT_NPUS = 8  # an Atlas 800 training server, when ASCEND_RT_VISIBLE_DEVICES says nothing
_SERIALIZATION_PRIORITY = 5  # before torch's CPU tagger (10), so NPU storages are tagged npu:N


def npu_count() -> int:
    """How many NPUs the emulated machine has: those ASCEND_RT_VISIBLE_DEVICES lists."""
    visible = os.environ.get("ASCEND_RT_VISIBLE_DEVICES", "")
    listed = [item for item in visible.split(",") if item.strip()]
    return len(listed) or DEFAULT_NPUS


def _add_methods(registry: Registry) -> None:
    """``Tensor.is_npu``, ``Tensor.npu()`` and ``Module.npu()``, as torch_npu adds them."""

    def is_npu(self: torch.Tensor) -> bool:
        return registry.index_of(self) is not None

    def tensor_npu(self: torch.Tensor, device: int | str | torch.device | None = None,
                   non_blocking: bool = False) -> torch.Tensor:
        index = _npu._index(device)
        return self.to(torch.device("npu", index), non_blocking=non_blocking)

    def module_npu(self: torch.nn.Module,
                   device: int | str | torch.device | None = None) -> torch.nn.Module:
        return self._apply(lambda t: t.npu(device))

    torch.Tensor.is_npu = property(is_npu)  # type: ignore[attr-defined]
    torch.Tensor.npu = tensor_npu  # type: ignore[attr-defined]
    torch.nn.Module.npu = module_npu  # type: ignore[attr-defined]


def _register_serialization(registry: Registry) -> None:
    """``torch.save`` tags NPU storages ``npu:N``; ``torch.load`` puts them back there (also
    with ``map_location="npu:0"``)."""

    def tag(storage: Any) -> str | None:
        index = registry.storage_index(storage)
        return None if index is None else f"npu:{index}"

    def restore(storage: Any, location: str) -> Any:
        index = registry.npu_index(location)
        if index is None:
            return None
        registry.place(storage, index)
        return storage

    torch.serialization.register_package(_SERIALIZATION_PRIORITY, tag, restore)


def _mirror_autocast() -> None:
    """``torch.autocast("npu", ...)`` also sets CPU autocast for its block: the emulated NPU's
    operators are CPU operators, which only CPU autocast casts."""
    cls = torch.amp.autocast_mode.autocast
    enter, leave = cls.__enter__, cls.__exit__

    def __enter__(self: Any) -> Any:
        result = enter(self)
        if self.device == "npu" and not torch._jit_internal.is_scripting():
            host = torch.autocast("cpu", dtype=self.fast_dtype, enabled=self._enabled,
                                  cache_enabled=self._cache_enabled)
            host.__enter__()
            self.__dict__.setdefault("_covo_port_host", []).append(host)
        return result

    def __exit__(self: Any, *exc: Any) -> Any:
        if self.device == "npu" and not torch._jit_internal.is_scripting():
            self._covo_port_host.pop().__exit__(*exc)
        return leave(self, *exc)

    cls.__enter__ = __enter__  # type: ignore[method-assign]
    cls.__exit__ = __exit__  # type: ignore[method-assign]


def _route_accelerator() -> None:
    """``torch.accelerator`` (which answers ``npu`` now) reaches ``torch.npu`` for what its C++
    side would ask a real backend: the current device, synchronising, memory figures."""
    routes = {
        "current_device_index": _npu.current_device, "current_device_idx": _npu.current_device,
        "set_device_index": _npu.set_device, "set_device_idx": _npu.set_device,
        "synchronize": _npu.synchronize, "empty_cache": _npu.empty_cache,
        "memory_allocated": _npu.memory_allocated,
        "max_memory_allocated": _npu.max_memory_allocated,
        "memory_reserved": _npu.memory_reserved, "max_memory_reserved": _npu.max_memory_reserved,
        "reset_peak_memory_stats": _npu.reset_peak_memory_stats,
    }
    for name, function in routes.items():
        setattr(torch.accelerator, name, function)


def _follow_threads(emulator: Emulator) -> None:
    """Torch's modes are per thread: a thread started later runs with them too."""
    run = threading.Thread.run

    def run_emulated(self: threading.Thread) -> None:
        with emulator.modes():
            run(self)

    threading.Thread.run = run_emulated  # type: ignore[method-assign]


def install(strict: bool) -> Emulator:
    """Make this process's torch see ``npu`` devices backed by the CPU; return the state."""
    backend = torch._C._get_privateuse1_backend_name()
    if backend != "privateuseone":
        raise RuntimeError(f"torch's privateuse1 device is already named {backend!r} (a real "
                           "torch_npu?): the NPU emulation needs a process without it")
    registry = Registry(npu_count())
    emulator = Emulator(registry, AscendTable(), strict)
    torch.utils.rename_privateuse1_backend("npu")
    _npu.bind(registry)
    torch._register_device_module("npu", _npu)
    _add_methods(registry)
    _register_serialization(registry)
    _mirror_autocast()
    _route_accelerator()
    torch.nn.modules.module.register_module_forward_pre_hook(emulator.module_hook)
    _follow_threads(emulator)
    _cuda.install()
    emulator.activate()
    return emulator
