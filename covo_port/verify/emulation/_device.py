"""Which tensors live on which emulated NPU.

Every tensor is a CPU tensor underneath. What makes one an NPU tensor is its storage being
registered here, with the NPU's index: views, ``param.data = ...`` and ``Parameter(t)`` share
the storage and so the device, as they would on a real device. A storage leaves the registry
when torch frees it; the bytes registered per NPU are its memory statistics.

A *transfer target* (``to("npu:1")``, ``device="npu"``, ``.cpu()``) is set, per thread, while
the call that names it runs: every tensor the call creates then belongs to that device.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch

HOST = -1  # transfer target: the CPU


class DeviceError(RuntimeError):
    """A device the emulated machine does not have (an index past the last NPU)."""


class Registry:
    """Storage -> NPU index, with the bytes each NPU holds now and at its peak."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.current = 0
        self.allocated = [0] * count
        self.peak = [0] * count
        self._where: dict[int, tuple[weakref.ref[torch.UntypedStorage], int]] = {}
        self._local = threading.local()

    # -- devices ---------------------------------------------------------------------------

    def npu_index(self, device: object) -> int | None:
        """The NPU index that ``device`` (``"npu"``, ``"npu:1"``, ``torch.device``) names, or
        None when it names no NPU; DeviceError past the last NPU."""
        if isinstance(device, str):
            if not device.startswith("npu"):
                return None
            device = torch.device(device)
        if not isinstance(device, torch.device) or device.type != "npu":
            return None
        index = self.current if device.index is None else device.index
        self.check_index(index)
        return index

    def check_index(self, index: int) -> None:
        if not 0 <= index < self.count:
            raise DeviceError(
                f"npu:{index}: the emulated machine has {self.count} NPU(s), npu:0 to "
                f"npu:{self.count - 1} (ASCEND_RT_VISIBLE_DEVICES sets how many)")

    # -- storages --------------------------------------------------------------------------

    @staticmethod
    def storage_of(tensor: torch.Tensor) -> torch.UntypedStorage | None:
        try:
            return tensor.untyped_storage()
        except (RuntimeError, NotImplementedError, TypeError):  # sparse, nested ...: none
            return None

    def index_of(self, tensor: torch.Tensor) -> int | None:
        """The NPU ``tensor`` lives on, None for the CPU."""
        storage = self.storage_of(tensor)
        return None if storage is None else self.storage_index(storage)

    def storage_index(self, storage: torch.UntypedStorage) -> int | None:
        entry = self._where.get(id(storage))
        if entry is None or entry[0]() is not storage:
            return None
        return entry[1]

    def place(self, storage: torch.UntypedStorage, index: int) -> None:
        """Register ``storage`` as memory of NPU ``index`` (until torch frees it); a storage
        already on an NPU stays where it is."""
        if self.storage_index(storage) is not None:
            return
        key, nbytes = id(storage), storage.nbytes()
        allocated, where = self.allocated, self._where

        def freed(_: object) -> None:
            if where.get(key, (None,))[0] is ref:
                del where[key]
                allocated[index] -= nbytes

        ref = weakref.ref(storage, freed)
        where[key] = (ref, index)
        allocated[index] += nbytes
        self.peak[index] = max(self.peak[index], allocated[index])

    # -- transfer targets ------------------------------------------------------------------

    def target(self) -> int | None:
        """This thread's transfer target: an NPU index, HOST, or None (none set)."""
        target: int | None = getattr(self._local, "target", None)
        return target

    @contextmanager
    def transfer(self, target: int) -> Iterator[None]:
        """Tensors created in the block belong to ``target`` (an NPU index or HOST)."""
        previous = self.target()
        self._local.target = target
        try:
            yield
        finally:
            self._local.target = previous
