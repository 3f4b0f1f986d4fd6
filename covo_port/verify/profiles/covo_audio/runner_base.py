"""What every action of the runner (:mod:`.runner`) shares inside its fresh interpreter: the
JSON result it rewrites after every step, the one-line description of an exception, the
runtime behind the ``npu`` device, and device synchronisation."""

from __future__ import annotations

import json
import os
import traceback
from pathlib import Path
from typing import Any

MESSAGE_LIMIT = 600


class Record:
    """The action's JSON result, rewritten (atomically) after every step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {}

    def step(self, name: str) -> None:
        self.data["step"] = name
        self.save()

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)


def describe(exc: BaseException, root: Path) -> str:
    """One line: the exception's type and message, and the innermost frame inside ``root``."""
    message = " ".join(str(exc).split()) or "(no message)"
    if len(message) > MESSAGE_LIMIT:
        message = message[:MESSAGE_LIMIT] + " ..."
    text = f"{type(exc).__name__}: {message}"
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<"):  # <frozen ...>, <string>: no file of the tree
            continue
        path = Path(frame.filename).resolve()
        if root in path.parents:
            where = f"{path.relative_to(root).as_posix()}:{frame.lineno}"
    if where is not None and where not in text:
        text += f" (at {where})"
    return text


def setup_runtime(runtime: str) -> None:
    """Make the ``npu`` device exist: the CPU emulation, or the real torch_npu."""
    if runtime == "emulate":
        from covo_port.verify import emulation

        emulation.install(strict=True)
    elif runtime == "torch_npu":
        import torch_npu  # noqa: F401  (registers the npu device with torch)


def synchronize(device: str) -> None:
    import torch

    module = getattr(torch, device.partition(":")[0], None)
    if device != "cpu" and hasattr(module, "synchronize"):
        module.synchronize()


def read_wav(path: Path) -> tuple[Any, int]:
    """Mono float32 samples (a torch tensor) and the sample rate, read with soundfile."""
    import soundfile
    import torch

    samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return torch.from_numpy(samples.mean(axis=1)), int(rate)
