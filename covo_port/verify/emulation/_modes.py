"""The two modes that make the CPU act as Ascend NPUs, and the checks they run.

``DeviceMode`` (a ``TorchFunctionMode``) sees every torch API call: it turns ``npu`` device
arguments into the CPU while recording where the result belongs, answers ``Tensor.device`` /
``is_cpu`` / ``get_device`` for the emulated device, refuses ``numpy()`` of an NPU tensor as
torch does, and checks the call against torch_npu 2.8's API table. ``KernelMode`` (a
``TorchDispatchMode``) sees the ATen operators that reach a backend (after the composite ones
have been decomposed, as they would be for the NPU too): it places new NPU tensors, counts the
operators run on an NPU and checks the kernels whose dtypes the table gives.

Which table facts are enforced (``UnsupportedOnNPU``), and which are only counted:
- an API that ``op_list_2_8.json`` lists as unsupported, called on an NPU: enforced;
- a complex tensor passed to an API whose dtype list has no complex dtype: enforced (the
  reference port's blocker was ``Tensor.abs`` on complex64);
- every dtype outside the list, for the APIs in ``_ENFORCED`` (confirmed on Ascend hardware by
  the reference port): enforced;
- any other dtype outside an API's list: counted (``unlisted_dtypes()``), not refused. The
  table under-reports: it lists no bf16 for ``torch.nn.functional.silu`` or ``conv1d``, and no
  fp64 for ``Tensor.to``, yet the reference port ran Qwen2 and Whisper's encoder in bf16.
Calls that involve no NPU tensor (CPU work of the same program) are never checked.

With a recorder attached (``covo-port run``: :class:`covo_port.verify.emulation.Recorder`), the
modes also tell it every operator run on an NPU (with its dtypes and the API call that reached
it), every refusal, and every host<->device synchronisation (``item()``, ``tolist()``, ``cpu()``,
``bool()`` ... of an NPU tensor).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any, Protocol

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from covo_port.verify.emulation._device import HOST, Registry
from covo_port.verify.emulation._errors import UnsupportedOnNPU, caller_location
from covo_port.verify.emulation._table import DTYPE_NAMES, ApiEntry, AscendTable

_MAGNITUDE = "use real**2 + imag**2 for the squared magnitude (covo-port NPU004)"
_HINTS = {
    "torch.abs": _MAGNITUDE,
    "torch.Tensor.abs": _MAGNITUDE,
    "torch.stft": "cast the input and the window to float32 (covo-port NPU005)",
}
_UNSUPPORTED = "torch_npu 2.8 lists it as unsupported"
_UNSUPPORTED_HINT = "replace the call, or keep that step on the CPU (covo-port NPU017)"
_COMPLEX_HINT = "compute on torch.view_as_real(x) (real and imaginary parts)"
# APIs whose dtype list the reference port confirmed on Ascend: enforced in full.
_ENFORCED = frozenset({"torch.stft"})
# Tensor methods that read metadata and run no operator: whatever dtypes the table lists for
# them (Tensor.size: fp32 only), a complex tensor's size is not refused.
_METADATA = frozenset(f"torch.Tensor.{name}" for name in (
    "size", "dim", "ndimension", "numel", "nelement", "stride", "storage_offset",
    "element_size", "is_contiguous", "is_complex", "is_floating_point", "data_ptr",
    "get_device", "is_pinned", "is_shared", "shape", "dtype", "ndim", "device"))
# ATen kernels checked in the dispatch mode, with the API whose dtype list is theirs.
_KERNELS = {"abs": "torch.abs", "_fft_r2c": "torch.stft"}
_SHORT = {dtype: name for name, dtype in DTYPE_NAMES.items() if name != "double"}
# Tensor methods that copy an NPU tensor's value to the host (and wait for the device).
_SYNCS = {"item": "item()", "tolist": "tolist()", "__bool__": "bool()", "__float__": "float()",
          "__int__": "int()", "__index__": "index"}

Handler = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]


class Recorder(Protocol):
    """What the modes tell a recorder (see :mod:`covo_port.verify.emulation._record`)."""

    def kernel(self, func: torch._ops.OpOverload, inputs: list[torch.Tensor],
               outputs: list[torch.Tensor], api: Any) -> None: ...

    def refusal(self, error: UnsupportedOnNPU) -> None: ...

    def sync(self, kind: str) -> None: ...


def _tensors(args: Iterable[Any], kwargs: dict[str, Any]) -> Iterator[torch.Tensor]:
    """The tensors among the arguments, and inside list/tuple arguments (``torch.cat``)."""
    for value in chain(args, kwargs.values()):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from (item for item in value if isinstance(item, torch.Tensor))


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _listing(dtypes: frozenset[torch.dtype]) -> str:
    order = list(_SHORT)
    return ", ".join(_SHORT[d] for d in sorted(dtypes, key=order.index))


def _aten_name(api: str) -> str | None:
    short = api.rsplit(".", 1)[1]
    return f"aten::{short}" if hasattr(torch.ops.aten, short) else None


class Emulator:
    """The state behind the modes: devices, table, strictness, statistics."""

    def __init__(self, registry: Registry, table: AscendTable, strict: bool) -> None:
        self.registry = registry
        self.table = table
        self.strict = strict
        self.kernel_calls: Counter[str] = Counter()
        self.kernels_run = 0
        self.unlisted: Counter[str] = Counter()
        self._kernels = {getattr(torch.ops.aten, name): (api, table.dtypes(api))
                         for name, api in _KERNELS.items()}
        self._active: tuple[DeviceMode, KernelMode] | None = None
        self.recorder: Recorder | None = None
        self.current_api: Any = None  # the API call being run (with a recorder only)

    @contextmanager
    def modes(self) -> Iterator[None]:
        """Both modes, active in this thread for the block."""
        with DeviceMode(self), KernelMode(self):
            yield

    def activate(self) -> None:
        """Both modes, active in this thread from now on (torch's mode stacks do not own
        their modes: the emulator keeps them alive)."""
        self._active = (DeviceMode(self), KernelMode(self))
        for mode in self._active:
            mode.__enter__()

    # -- checks ----------------------------------------------------------------------------

    def refuse_dtypes(self, subject: str, dtypes: list[torch.dtype], api: str,
                      listed: frozenset[torch.dtype], aten: str | None) -> UnsupportedOnNPU:
        kind = "complex dtypes" if all(d.is_complex for d in dtypes) else "dtype"
        reason = ", ".join(filter(None, (aten, kind)))
        reason += f"; torch_npu 2.8 supports {_listing(listed)}"
        if api != subject:
            reason += f" for {api}"
        hint = _HINTS.get(api) or (_COMPLEX_HINT if kind == "complex dtypes" else None)
        return self.noted(UnsupportedOnNPU(subject, dtypes=tuple(_dtype_name(d) for d in dtypes),
                                           reason=reason, where=caller_location(), hint=hint))

    def noted(self, error: UnsupportedOnNPU) -> UnsupportedOnNPU:
        """``error``, told to the recorder before it is raised."""
        if self.recorder is not None:
            self.recorder.refusal(error)
        return error

    def check_call(self, entry: ApiEntry, args: tuple[Any, ...], kwargs: dict[str, Any],
                   target: int | None) -> list[torch.dtype]:
        """Refuse an API call that involves an NPU where the table says so; return the dtypes
        it uses that the table does not list but that are not refused."""
        tensors = list(_tensors(args, kwargs))
        if target is None and all(self.registry.index_of(t) is None for t in tensors):
            return []
        if entry.unsupported:
            raise self.noted(UnsupportedOnNPU(entry.name, dtypes=(), reason=_UNSUPPORTED,
                                              where=caller_location(), hint=_UNSUPPORTED_HINT))
        if entry.dtypes is None:
            return []
        dtypes = {t.dtype for t in tensors}
        if isinstance(kwargs.get("dtype"), torch.dtype):
            dtypes.add(kwargs["dtype"])
        missing = sorted(dtypes - entry.dtypes, key=str)
        refused = (missing if entry.name in _ENFORCED else
                   [] if entry.name in _METADATA else [d for d in missing if d.is_complex])
        if refused:
            raise self.refuse_dtypes(entry.name, refused, entry.name, entry.dtypes,
                                     _aten_name(entry.name))
        return missing

    def count_unlisted(self, entry: ApiEntry, dtypes: list[torch.dtype]) -> None:
        for dtype in dtypes:
            self.unlisted[f"{entry.name}({_dtype_name(dtype)})"] += 1

    def observe_kernel(self, func: torch._ops.OpOverload, tensors: list[torch.Tensor]) -> None:
        """Count an ATen operator run on an NPU; refuse it where its kernel lacks the dtype."""
        packet = func.overloadpacket
        self.kernel_calls[packet._qualified_op_name] += 1
        self.kernels_run += 1
        rule = self._kernels.get(packet)
        if rule is None or not tensors or not self.strict:
            return
        api, listed = rule
        if tensors[0].dtype not in listed:
            raise self.refuse_dtypes(packet._qualified_op_name, [tensors[0].dtype], api, listed,
                                     None)

    def module_hook(self, module: torch.nn.Module, args: tuple[Any, ...]) -> None:
        """Global forward pre-hook: refuse a module class that torch_npu does not support."""
        name = self.table.modules.get(type(module))
        if name is None or not self.strict:
            return
        held = chain(module.parameters(recurse=False), module.buffers(recurse=False),
                     _tensors(args, {}))
        if any(self.registry.index_of(t) is not None for t in held):
            raise self.noted(UnsupportedOnNPU(name, dtypes=(), reason=_UNSUPPORTED,
                                              where=caller_location(), hint=_UNSUPPORTED_HINT))

    # -- placing results -------------------------------------------------------------------

    def place_outputs(self, out: Any, index: int, inputs: set[int]) -> None:
        """Put the new storages among ``out`` on NPU ``index``; ``inputs``: the ids of the
        input storages, whose aliases stay where they are."""
        outputs = [out] if isinstance(out, torch.Tensor) else _tensors(
            out if isinstance(out, (list, tuple)) else (), {})
        for tensor in outputs:
            storage = self.registry.storage_of(tensor)
            if storage is not None and id(storage) not in inputs:
                self.registry.place(storage, index)


class DeviceMode(TorchFunctionMode):
    """Maps ``npu`` devices to the CPU at the API level and checks API calls."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator
        self.registry = emulator.registry
        tensor = torch.Tensor
        self.special: dict[Any, Handler] = {
            tensor.to: self._to,
            tensor.cpu: self._cpu,
            tensor.device.__get__: self._device,
            tensor.is_cpu.__get__: self._is_cpu,
            tensor.get_device: self._get_device,
            tensor.numpy: self._numpy,
            tensor.__array__: self._numpy,
        }
        for name in ("new_tensor", "new_empty", "new_empty_strided", "new_zeros", "new_ones",
                     "new_full", "__deepcopy__"):
            self.special[getattr(tensor, name)] = self._same_device
        for name in _SYNCS:
            self.special[getattr(tensor, name)] = self._sync

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        handler = self.special.get(func, self._generic)
        emulator = self.emulator
        if emulator.recorder is None:
            return handler(func, args, kwargs)
        outer, emulator.current_api = emulator.current_api, func
        try:
            return handler(func, args, kwargs)
        finally:
            emulator.current_api = outer

    def _generic(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        target = None
        if "device" in kwargs:
            target = self.registry.npu_index(kwargs["device"])
            if target is not None:
                kwargs = {**kwargs, "device": "cpu"}
        entry = self.emulator.table.by_object.get(func)
        unlisted: list[torch.dtype] = []
        if entry is not None and self.emulator.strict:
            unlisted = self.emulator.check_call(entry, args, kwargs, target)
        ran = self.emulator.kernels_run
        out = (func(*args, **kwargs) if target is None
               else self._call_on(func, args, kwargs, target))
        if unlisted and self.emulator.kernels_run > ran:  # metadata calls (dim, size) run none
            self.emulator.count_unlisted(entry, unlisted)
        return out

    def _call_on(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                 index: int | None) -> Any:
        """Run ``func`` with its new tensors going to NPU ``index`` (None: the CPU); a result
        that is still elsewhere (an input returned as is) is copied there."""
        with self.registry.transfer(HOST if index is None else index):
            out = func(*args, **kwargs)
            if isinstance(out, torch.Tensor) and self.registry.index_of(out) != index:
                out = out.clone()
            return out

    def _to(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tensor, rest = args[0], list(args[1:])
        source = self.registry.index_of(tensor)
        destination = source
        if rest and isinstance(rest[0], torch.Tensor):  # .to(other): other's device and dtype
            destination = self.registry.index_of(rest[0])
        else:
            positional = bool(rest) and isinstance(rest[0], (str, torch.device))
            device = rest[0] if positional else kwargs.get("device")
            if device is not None:
                index = self.registry.npu_index(device)
                if index is None and torch.device(device).type != "cpu":
                    return func(*args, **kwargs)  # meta, cuda ...: torch's own answer
                destination = index
                if positional:
                    rest[0] = "cpu"
                else:
                    kwargs = {**kwargs, "device": "cpu"}
        if destination == source:
            return func(tensor, *rest, **kwargs)
        if destination is None:
            self._note_sync("to(cpu)")
        return self._call_on(func, (tensor, *rest), kwargs, destination)

    def _cpu(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.registry.index_of(args[0]) is None:
            return func(*args, **kwargs)
        self._note_sync("cpu()")
        return self._call_on(func, args, kwargs, None)

    def _note_sync(self, kind: str) -> None:
        if self.emulator.recorder is not None:
            self.emulator.recorder.sync(kind)

    def _sync(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``item()``, ``tolist()``, ``bool(x)`` ...: a copy to the host, and a wait for the
        device, when ``x`` is on an NPU."""
        if args and isinstance(args[0], torch.Tensor) and (
                self.registry.index_of(args[0]) is not None):
            self._note_sync(_SYNCS[func.__name__])
        return self._generic(func, args, kwargs)

    def _same_device(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``new_*`` and ``__deepcopy__``: the result is where ``self`` is, unless told."""
        index = self.registry.index_of(args[0])
        if "device" in kwargs or index is None:
            return self._generic(func, args, kwargs)
        return self._call_on(func, args, kwargs, index)

    def _device(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        index = self.registry.index_of(args[0])
        return func(*args, **kwargs) if index is None else torch.device("npu", index)

    def _is_cpu(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self.registry.index_of(args[0]) is None and func(*args, **kwargs)

    def _get_device(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        index = self.registry.index_of(args[0])
        return func(*args, **kwargs) if index is None else index

    def _numpy(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        index = self.registry.index_of(args[0])
        if index is not None:
            raise TypeError(f"can't convert npu:{index} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        return func(*args, **kwargs)


class KernelMode(TorchDispatchMode):
    """Places the results of NPU operators on their NPU; counts and checks the operators."""

    def __init__(self, emulator: Emulator) -> None:
        super().__init__()
        self.emulator = emulator

    def __torch_dispatch__(self, func: torch._ops.OpOverload, types: Any,
                           args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        registry = self.emulator.registry
        tensors = list(_tensors(args, kwargs))
        storages = [s for t in tensors if (s := registry.storage_of(t)) is not None]
        target = registry.target()
        if target is None:
            index = next((i for s in storages if (i := registry.storage_index(s)) is not None),
                         None)
        else:
            index = None if target == HOST else target
        if index is None:
            return func(*args, **kwargs)
        emulator = self.emulator
        emulator.observe_kernel(func, tensors)
        out = func(*args, **kwargs)
        emulator.place_outputs(out, index, {id(s) for s in storages})
        if emulator.recorder is not None:  # the dtypes in and out (a cast, a factory's)
            made = [out] if isinstance(out, torch.Tensor) else list(
                _tensors(out if isinstance(out, (list, tuple)) else (), {}))
            emulator.recorder.kernel(func, tensors, made, emulator.current_api)
        return out
