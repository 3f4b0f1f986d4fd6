"""What runs first in every Python process that ``covo-port run`` starts.

The launcher (:mod:`covo_port.verify.launch`) puts a folder first on the child's
``PYTHONPATH`` whose ``sitecustomize.py`` calls :func:`start`. Python imports ``sitecustomize``
at start-up in every interpreter that reads ``PYTHONPATH`` (a script, ``python -m pytest``, a
console script, a multiprocessing child, a subprocess of those), so the emulation reaches the
whole process tree. Nothing happens until the process imports torch: a Python process that
never does (pip, a build helper) runs as it would, and pays nothing.

When torch has been imported, per ``$COVO_PORT_RUN``: ``emulate`` installs the NPU emulation
(strict: what Ascend cannot run is refused), makes ``$COVO_PORT_RUN_DEVICE`` the current NPU
and starts the recorder; ``torch_npu`` imports the real torch_npu, sets the device and records;
``none`` does nothing (the plain CPU run of ``verify --tests``). The recorder writes this
process's record into ``$COVO_PORT_RUN_RECORDS`` when it exits.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

MODE = "COVO_PORT_RUN"
DEVICE = "COVO_PORT_RUN_DEVICE"
RECORDS = "COVO_PORT_RUN_RECORDS"
BOOT = "COVO_PORT_RUN_BOOT"


def start() -> None:
    """Called by the boot folder's ``sitecustomize``: wait for torch, then run the other
    ``sitecustomize`` the boot folder shadows (a distribution's, a virtualenv's)."""
    mode = os.environ.get(MODE, "none")
    if mode in ("emulate", "torch_npu"):
        if "torch" in sys.modules:
            _after_torch(mode)
        else:
            sys.meta_path.insert(0, _TorchFinder(mode))
    _chain()


def _chain() -> None:
    boot = os.environ.get(BOOT)
    rest = [p for p in sys.path if not boot or os.path.abspath(p or ".") != boot]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


def _after_torch(mode: str) -> None:
    import torch

    from covo_port.verify import emulation

    index = int(os.environ.get(DEVICE, "npu:0").partition(":")[2] or 0)
    folder = Path(os.environ[RECORDS]) if os.environ.get(RECORDS) else None
    if mode == "emulate":
        emulation.install(strict=True)
    else:
        import torch_npu  # noqa: F401  (the real one: registers the npu device)
    torch.npu.set_device(index)
    emulation.record(folder, mode)


class _TorchLoader(importlib.abc.Loader):
    """torch's own loader, then the emulation or the recorder once torch is complete."""

    def __init__(self, inner: Any, mode: str) -> None:
        self.inner = inner
        self.mode = mode

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.inner.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _after_torch(self.mode)

    def __getattr__(self, name: str) -> Any:  # resource readers and the like: torch's
        return getattr(self.inner, name)


class _TorchFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of the first ``import torch``, once."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def find_spec(self, fullname: str, path: Any, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        if spec is not None and spec.loader is not None:
            spec.loader = _TorchLoader(spec.loader, self.mode)
        return spec
