"""What ``covo-port run`` records in each Python process it starts, written when it exits.

A :class:`Recorder` is told (by the emulation's modes, by the Ascend host's ``torch.cuda``, or
on a real Ascend device by :class:`DeviceRecording`) of every operator run on an NPU, every
refusal, every CUDA call and every host<->device synchronisation. Each process writes one JSON
file into ``$COVO_PORT_RUN_RECORDS`` when it exits (``atexit``; in a child that multiprocessing
forked, its exit finaliser); the parent merges them
(:mod:`covo_port.verify.readiness`). A forked child starts from empty counts of its own.

The first occurrence of each operator (per dtypes and API) pays for finding the user's line; a
repeat is one dictionary update.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from covo_port.verify.emulation._errors import UnsupportedOnNPU, caller_location

RECORDS_VARIABLE = "COVO_PORT_RUN_RECORDS"
SCHEMA = 1

#: The recorder of this process, once installed (the pytest plugin tells it the current test).
active: Recorder | None = None


def api_name(func: Any, known: Callable[[Any], str | None]) -> str:
    """A readable name for what a TorchFunctionMode received: the table's name where it lists
    it (``known``), else ``torch.Tensor.add``, ``torch.add``, ``torch.nn.functional.x``."""
    name = known(func)
    if name is not None:
        return name
    owner = getattr(func, "__self__", None)  # a property getter: getset_descriptor.__get__
    if getattr(func, "__name__", None) == "__get__" and owner is not None:
        return f"torch.Tensor.{owner.__name__}"
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if qualname is None:
        return repr(func)
    head, _, rest = qualname.partition(".")
    if head in ("TensorBase", "Tensor") and rest:
        return f"torch.Tensor.{rest}"
    if head == "_VariableFunctionsClass" and rest:  # torch.relu and the other C functions
        return f"torch.{rest}"
    module = getattr(func, "__module__", None) or "torch"
    if module.startswith("torch._C") or module == "torch._tensor":
        module = "torch"
    return f"{module}.{qualname}"


def _names(dtypes: frozenset[torch.dtype]) -> list[str]:
    return sorted(str(d).removeprefix("torch.") for d in dtypes)


class Recorder:
    """The counts of one process, and the file they go to."""

    def __init__(self, runtime: str, known: Callable[[Any], str | None],
                 folder: Path | None) -> None:
        self.runtime = runtime
        self.known = known
        self.folder = folder
        self.test: str | None = None  # the pytest node running now, told by the plugin
        #: Where set, names the part of the program a call belongs to (a component of a model):
        #: operators and refusals are counted per scope, and their records say it.
        self.scope: Callable[[], str] | None = None
        self._lock = threading.Lock()
        self._names: dict[Any, str] = {}
        self.modes: list[TorchDispatchMode] = []  # entered for good: kept alive here
        self._reset()
        if folder is not None:
            atexit.register(self.write)
            os.register_at_fork(after_in_child=self._forked)
            self._follow_multiprocessing()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.token = uuid.uuid4().hex[:8]
        self.started = time.time()
        self.written = False
        self.ops: dict[tuple[Any, frozenset[torch.dtype], frozenset[torch.dtype], Any,
                             str | None], list[Any]] = {}
        self.refusals: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.cuda: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.syncs: dict[str, list[Any]] = {}
        self.not_emulated: dict[tuple[Any, ...], dict[str, Any]] = {}

    # -- what the modes tell -----------------------------------------------------------------

    def kernel(self, func: torch._ops.OpOverload, inputs: list[torch.Tensor],
               outputs: list[torch.Tensor], api: Any) -> None:
        key = (func, frozenset(t.dtype for t in inputs), frozenset(t.dtype for t in outputs),
               api, self.scope() if self.scope is not None else None)
        entry = self.ops.get(key)
        if entry is None:
            self.ops[key] = [1, caller_location(), self.test]
        else:
            entry[0] += 1

    def refusal(self, error: UnsupportedOnNPU) -> None:
        scope = self.scope() if self.scope is not None else None
        key = (error.api, error.dtypes, error.where, self.test, scope)
        with self._lock:
            entry = self.refusals.setdefault(key, {
                "api": error.api, "dtypes": list(error.dtypes), "reason": error.reason,
                "hint": error.hint, "where": error.where, "test": self.test, "count": 0}
                | ({"scope": scope} if scope is not None else {}))
            entry["count"] += 1

    def sync(self, kind: str) -> None:
        entry = self.syncs.get(kind)
        if entry is None:
            self.syncs[kind] = [1, caller_location()]
        else:
            entry[0] += 1

    def cuda_call(self, api: str, where: str, raised: bool) -> None:
        key = (api, where, raised, self.test)
        with self._lock:
            entry = self.cuda.setdefault(key, {"api": api, "where": where, "raised": raised,
                                               "test": self.test, "count": 0})
            entry["count"] += 1

    def not_modelled(self, name: str, where: str) -> None:
        key = (name, where, self.test)
        with self._lock:
            entry = self.not_emulated.setdefault(key, {"api": f"torch.npu.{name}",
                                                       "where": where, "test": self.test,
                                                       "count": 0})
            entry["count"] += 1

    # -- the record --------------------------------------------------------------------------

    def _name(self, api: Any) -> str | None:
        if api is None:
            return None
        name = self._names.get(api)
        if name is None:
            name = self._names[api] = api_name(api, self.known)
        return name

    def data(self) -> dict[str, Any]:
        ops = [{"op": func.overloadpacket._qualified_op_name, "dtypes": _names(inputs),
                "out": _names(outputs), "api": self._name(api), "count": count,
                "where": where, "test": test} | ({"scope": scope} if scope is not None else {})
               for (func, inputs, outputs, api, scope), (count, where, test)
               in list(self.ops.items())]
        return {
            "schema": SCHEMA, "pid": self.pid, "argv": list(sys.argv), "cwd": os.getcwd(),
            "runtime": self.runtime, "seconds": round(time.time() - self.started, 3),
            "ops": ops, "refusals": list(self.refusals.values()),
            "cuda": list(self.cuda.values()),
            "syncs": [{"kind": kind, "count": count, "where": where}
                      for kind, (count, where) in list(self.syncs.items())],
            "not_emulated": list(self.not_emulated.values()),
        }

    def write(self) -> None:
        """This process's record, once, atomically (a process that never imported torch
        writes nothing: no torch, no record)."""
        if self.written or self.folder is None or os.getpid() != self.pid:
            return
        self.written = True
        target = self.folder / f"{self.pid}-{self.token}.json"
        tmp = target.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(self.data()))
            os.replace(tmp, target)
        except OSError as exc:  # the folder went away (the parent ended): say so, once
            print(f"covo-port run: could not write the record of process {self.pid}: {exc}",
                  file=sys.stderr)

    def _forked(self) -> None:
        self._lock = threading.Lock()
        self._reset()

    def _follow_multiprocessing(self) -> None:
        """A child that multiprocessing forks ends with os._exit (no atexit): write from its
        exit finaliser instead, registered after multiprocessing cleared the parent's."""
        from multiprocessing import util

        def after_fork(recorder: Recorder) -> None:
            util.Finalize(recorder, recorder.write, exitpriority=100)

        util.register_after_fork(self, after_fork)


class DeviceRecording(TorchDispatchMode):
    """On a real Ascend device (``covo-port run --device npu:N``): counts the operators whose
    tensors live on the NPU; torch_npu itself refuses what Ascend cannot run."""

    def __init__(self, recorder: Recorder, device_type: str = "npu") -> None:
        super().__init__()
        self.recorder = recorder
        self.device_type = device_type

    def __torch_dispatch__(self, func: torch._ops.OpOverload, types: Any,
                           args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)]
        out = func(*args, **kwargs)
        made = [out] if isinstance(out, torch.Tensor) else [
            t for t in (out if isinstance(out, (list, tuple)) else ())
            if isinstance(t, torch.Tensor)]
        if any(t.device.type == self.device_type for t in (*tensors, *made)):
            self.recorder.kernel(func, tensors, made, None)
        return out


def record_device(recorder: Recorder, device_type: str = "npu") -> None:
    """Count the operators on ``device_type`` in this thread and in threads started later."""
    mode = DeviceRecording(recorder, device_type)
    mode.__enter__()
    run = threading.Thread.run

    def run_recorded(self: threading.Thread) -> None:
        with DeviceRecording(recorder, device_type):
            run(self)

    threading.Thread.run = run_recorded  # type: ignore[method-assign]
    recorder.modes.append(mode)
