"""The error the emulation raises, and where in the user's code a call came from."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

# Frames in these packages are the machinery between the user's line and the operator.
_LIBRARIES = ("torch", "torchaudio", "transformers", "covo_port")


def _is_library(path: str, roots: tuple[str, ...], stdlib: str, site: tuple[str, ...]) -> bool:
    if path.startswith(roots):
        return True
    return path.startswith(stdlib) and not path.startswith(site)


def caller_location() -> str:
    """``path:line`` of the innermost frame outside torch, torchaudio, transformers, covo-port
    and the standard library; the path relative to the working directory when under it."""
    named = [Path(module.__file__).resolve().parent for name in _LIBRARIES
             if (module := sys.modules.get(name)) is not None and getattr(module, "__file__", None)]
    roots = tuple(str(root) + os.sep for root in named)
    paths = sysconfig.get_paths()
    stdlib = str(Path(paths["stdlib"]).resolve()) + os.sep
    site = tuple(str(Path(paths[key]).resolve()) + os.sep for key in ("purelib", "platlib"))
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<"):
            path = Path(filename).resolve()
            if not _is_library(str(path), roots, stdlib, site):
                try:
                    shown = path.relative_to(Path.cwd()).as_posix()
                except ValueError:
                    shown = str(path)
                return f"{shown}:{frame.f_lineno}"
        frame = frame.f_back
    return "(no caller outside the libraries)"


class UnsupportedOnNPU(RuntimeError):
    """A call that Ascend NPUs cannot run, caught by the CPU emulation of ``covo-port verify``.

    The message names the API or ATen operator, the dtype(s), why, and the user's ``file:line``.
    """

    def __init__(self, api: str, *, dtypes: tuple[str, ...], reason: str, where: str,
                 hint: str | None) -> None:
        self.api = api
        self.dtypes = dtypes
        self.reason = reason
        self.where = where
        self.hint = hint
        subject = f"{api} on {', '.join(dtypes)}" if dtypes else api
        message = f"{subject} is not supported on Ascend ({reason}): {where}"
        super().__init__(message + (f" — {hint}" if hint else ""))
