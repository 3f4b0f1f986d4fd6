"""``torch.npu`` of the emulated machine: what ported code and transformers call.

Registered by ``install()`` with ``torch._register_device_module("npu", ...)``. Devices are
the Registry's; memory figures are the bytes of the tensors that live on each emulated NPU
(there is no caching allocator, so "reserved" equals "allocated"). The CPU runs every operator
synchronously, so synchronising, streams and events only keep the bookkeeping; the emulated
NPUs share the CPU's random generator.

A name that torch_npu 2.8's ``torch.npu`` has but this module does not model (graphs, dump,
overflow flags, allocator settings...) raises :class:`NotEmulated` (a NotImplementedError, so
that ``hasattr`` does not quietly answer False either) and is recorded by ``covo-port run``; a
name torch_npu does not have raises AttributeError, as there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import TracebackType

import torch

from covo_port.verify.emulation import _record
from covo_port.verify.emulation._device import Registry
from covo_port.verify.emulation._errors import NotEmulated, caller_location

DEVICE_NAME = "Ascend910 (emulated on CPU)"
# An Atlas 800T A2 NPU (Ascend 910B2), for code that sizes its work by the device: the fields
# torch_npu's get_device_properties has (its support table: name, total_memory, L2_cache_size,
# cube_core_num, vector_core_num).
TOTAL_MEMORY = 64 * 1024**3
CUBE_CORES = 24
VECTOR_CORES = 48
L2_CACHE = 192 * 1024**2

Device = int | str | torch.device | None

_registry: Registry | None = None


def bind(registry: Registry) -> None:
    """Use ``registry``'s devices (called once, by install())."""
    global _registry
    _registry = registry


def _devices() -> Registry:
    if _registry is None:
        raise RuntimeError("torch.npu: the NPU emulation is not installed")
    return _registry


def _index(device: Device) -> int:
    registry = _devices()
    if device is None:
        return registry.current
    if isinstance(device, int):
        registry.check_index(device)
        return device
    index = registry.npu_index(device)
    if index is None:
        raise ValueError(f"{device!r} is not an NPU device")
    return index


@cache
def torch_npu_names() -> frozenset[str]:
    """``torch_npu.npu.__all__`` (the table shipped in covo_port/data)."""
    text = resources.files("covo_port").joinpath("data", "torch_npu_npu_all.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def __getattr__(name: str) -> object:
    if name in torch_npu_names():
        where = caller_location()
        if _record.active is not None:
            _record.active.not_modelled(name, where)
        raise NotEmulated(name, where)
    raise AttributeError(f"module 'torch.npu' has no attribute {name!r} (neither has "
                         "torch_npu 2.8's torch.npu)")


def is_available() -> bool:
    return True


def device_count() -> int:
    return _devices().count


def current_device() -> int:
    return _devices().current


def set_device(device: Device) -> None:
    _devices().current = _index(device)


class device:  # torch.npu.device, named as torch.cuda.device
    """Context manager that makes ``device`` the current NPU for its block."""

    def __init__(self, device: Device) -> None:
        self.index = _index(device)
        self.previous = self.index

    def __enter__(self) -> None:
        self.previous = current_device()
        set_device(self.index)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        set_device(self.previous)


def synchronize(device: Device = None) -> None:
    """Nothing is pending: the CPU ran every operator when it was called."""
    _index(device)


def is_initialized() -> bool:
    return True


def init() -> None:
    """Nothing to initialise."""


def manual_seed(seed: int) -> None:
    torch.default_generator.manual_seed(int(seed))


def manual_seed_all(seed: int) -> None:
    manual_seed(seed)


def seed() -> None:
    torch.default_generator.seed()


def seed_all() -> None:
    seed()


def initial_seed() -> int:
    return torch.default_generator.initial_seed()


def get_rng_state(device: Device = None) -> torch.Tensor:
    """The generator's state (the emulated NPUs share the CPU's generator)."""
    _index(device)
    return torch.default_generator.get_state()


def set_rng_state(new_state: torch.Tensor, device: Device = None) -> None:
    _index(device)
    torch.default_generator.set_state(new_state)


def get_rng_state_all() -> list[torch.Tensor]:
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states: list[torch.Tensor]) -> None:
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


def _is_in_bad_fork() -> bool:
    """Asked by torch.manual_seed before it seeds the NPUs."""
    return False


def empty_cache() -> None:
    """No cache to empty: an emulated NPU tensor's memory goes back when torch frees it."""


def memory_allocated(device: Device = None) -> int:
    return _devices().allocated[_index(device)]


def max_memory_allocated(device: Device = None) -> int:
    return _devices().peak[_index(device)]


def memory_reserved(device: Device = None) -> int:
    return memory_allocated(device)


def max_memory_reserved(device: Device = None) -> int:
    return max_memory_allocated(device)


def reset_peak_memory_stats(device: Device = None) -> None:
    registry, index = _devices(), _index(device)
    registry.peak[index] = registry.allocated[index]


def mem_get_info(device: Device = None) -> tuple[int, int]:
    """(free, total) bytes of the NPU."""
    return TOTAL_MEMORY - memory_allocated(device), TOTAL_MEMORY


def get_device_name(device: Device = None) -> str:
    _index(device)
    return DEVICE_NAME


@dataclass(frozen=True)
class NPUDeviceProperties:
    name: str
    total_memory: int
    cube_core_num: int
    vector_core_num: int
    L2_cache_size: int  # torch_npu's field name


def get_device_properties(device: Device = None) -> NPUDeviceProperties:
    _index(device)
    return NPUDeviceProperties(DEVICE_NAME, TOTAL_MEMORY, CUBE_CORES, VECTOR_CORES, L2_CACHE)


def is_bf16_supported() -> bool:
    return True


def get_amp_supported_dtype() -> list[torch.dtype]:
    """The dtypes autocast("npu") accepts (asked by torch.autocast)."""
    return [torch.float16, torch.bfloat16]


class Event:
    """An NPU event: ``record()`` takes the time, as the work before it is already done."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False) -> None:
        self.enable_timing = enable_timing
        self._recorded: float | None = None

    def record(self, stream: Stream | None = None) -> None:
        self._recorded = time.perf_counter()

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        """Nothing to wait for."""

    def wait(self, stream: Stream | None = None) -> None:
        """Nothing to wait for."""

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds from this event to ``end_event``."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("Both events must be created with enable_timing=True")
        if self._recorded is None or end_event._recorded is None:
            raise RuntimeError("Both events must be recorded before elapsed_time()")
        return (end_event._recorded - self._recorded) * 1000.0


class Stream:
    """An NPU stream; work on it is done by the time it is queued."""

    def __init__(self, device: Device = None, priority: int = 0) -> None:
        self.device = torch.device("npu", _index(device))
        self.priority = priority

    def query(self) -> bool:
        return True

    def synchronize(self) -> None:
        """Nothing to wait for."""

    def wait_event(self, event: Event) -> None:
        """Nothing to wait for."""

    def wait_stream(self, stream: Stream) -> None:
        """Nothing to wait for."""

    def record_event(self, event: Event | None = None) -> Event:
        event = Event() if event is None else event
        event.record(self)
        return event


def current_stream(device: Device = None) -> Stream:
    return Stream(device)


def default_stream(device: Device = None) -> Stream:
    return Stream(device)
