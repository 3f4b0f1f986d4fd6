"""``torch.cuda`` on the emulated Ascend host: the module is there, no CUDA device is.

An Ascend server has no NVIDIA driver: ``torch.cuda.is_available()`` is False, ``device_count()``
is 0, and everything that needs the device (``torch.cuda.current_device()``, ``set_device``,
``synchronize``, ``x.cuda()``, ``torch.zeros(..., device="cuda")``, ``torch.cuda.Stream()``)
fails in torch's lazy CUDA initialisation with torch's own message, "Found no NVIDIA driver on
your system". The emulation makes any host behave so, a GPU machine included, so that a line the
port missed fails here as it would there; what merely queues work for later
(``torch.cuda.manual_seed``) or answers from the uninitialised state (``memory_allocated``,
``empty_cache``) behaves as on that host too.

Every failure, and every ``is_available()`` asked from the project's own code (where a
half-port silently takes its CPU branch), is told to the recorder of ``covo-port run``, if any.
On a real Ascend host :func:`observe` only listens: torch's own ``torch.cuda`` answers.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch

from covo_port.verify.emulation import _record
from covo_port.verify.emulation._errors import caller_location, project_caller

NO_DRIVER = ("Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU "
             "and installed a driver from http://www.nvidia.com/Download/index.aspx")
_CUDA_DIR = os.path.dirname(torch.cuda.__file__) + os.sep


def _tell(api: str, where: str, raised: bool) -> None:
    if _record.active is not None:
        _record.active.cuda_call(api, where, raised)


def _api() -> str:
    """The torch.cuda function that the current call entered by (outermost frame in
    torch/cuda/), else the C++ path's description."""
    frame: Any = sys._getframe(2)
    name = None
    while frame is not None:
        if frame.f_code.co_filename.startswith(_CUDA_DIR):
            name = frame.f_code.co_name
        elif name is not None:
            break
        frame = frame.f_back
    if name is None or name.startswith("_"):
        return "a CUDA device (tensor or module moved to cuda)"
    return f"torch.cuda.{name}"


def install() -> None:
    """Make this process's ``torch.cuda`` that of a host without a CUDA device."""
    cuda = torch.cuda

    def _lazy_init() -> None:
        where = caller_location()
        _tell(_api(), where, True)
        raise RuntimeError(f"{NO_DRIVER} (covo-port: an emulated Ascend host has no CUDA "
                           f"device: {where})")

    def is_available() -> bool:
        where = project_caller()
        if where is not None:
            _tell("torch.cuda.is_available", where, False)
        return False

    def stream_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        _lazy_init()  # raises

    cuda._lazy_init = _lazy_init  # type: ignore[assignment]
    cuda.is_available = is_available  # type: ignore[assignment]
    cuda.device_count = lambda: 0  # type: ignore[assignment]
    cuda.is_initialized = lambda: False  # type: ignore[assignment]
    cuda.Stream.__new__ = stream_new  # type: ignore[method-assign]


def observe() -> None:
    """On a real Ascend host: tell the recorder of the CUDA calls, answered by torch itself."""
    cuda = torch.cuda
    lazy_init, available = cuda._lazy_init, cuda.is_available

    def _lazy_init() -> None:
        try:
            lazy_init()
        except Exception:
            _tell(_api(), caller_location(), True)
            raise

    def is_available() -> bool:
        answer = available()
        where = project_caller()
        if where is not None and not answer:
            _tell("torch.cuda.is_available", where, False)
        return answer

    cuda._lazy_init = _lazy_init  # type: ignore[assignment]
    cuda.is_available = is_available  # type: ignore[assignment]
