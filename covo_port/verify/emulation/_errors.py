"""The errors the emulation raises, and where in the user's code a call came from."""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

# Frames in these packages are the machinery between the user's line and the operator.
_LIBRARIES = ("torch", "torchaudio", "transformers", "covo_port")
#: The project whose lines are "the user's" (``covo-port run`` sets it to the folder the
#: command runs in): a frame under it is preferred to one in a third-party package.
ROOT_VARIABLE = "COVO_PORT_RUN_ROOT"


class _Frames:
    """Which files are library machinery, and how a user file is shown (cached per file until
    one more of the libraries is imported)."""

    def __init__(self) -> None:
        self._kinds: dict[str, tuple[int, str]] = {}  # filename -> (kind, shown)
        self._loaded: tuple[bool, ...] = ()
        self._roots: tuple[str, ...] = ()
        paths = sysconfig.get_paths()
        self._stdlib = str(Path(paths["stdlib"]).resolve()) + os.sep
        self._site = tuple(str(Path(paths[key]).resolve()) + os.sep
                           for key in ("purelib", "platlib"))
        root = os.environ.get(ROOT_VARIABLE)
        self.project = str(Path(root).resolve()) + os.sep if root else None

    def kind(self, filename: str) -> tuple[int, str]:
        """(0 library, 1 other code, 2 the project's code) and the path to show."""
        loaded = tuple(name in sys.modules for name in _LIBRARIES)
        if loaded != self._loaded:
            self._loaded, self._kinds = loaded, {}
            named = [Path(module.__file__).resolve().parent for name in _LIBRARIES
                     if (module := sys.modules.get(name)) is not None
                     and getattr(module, "__file__", None)]
            self._roots = tuple(str(root) + os.sep for root in named)
        known = self._kinds.get(filename)
        if known is not None:
            return known
        path = str(Path(filename).resolve())
        if path.startswith(self._roots) or (path.startswith(self._stdlib)
                                            and not path.startswith(self._site)):
            kind = 0
        elif self.project is not None and path.startswith(self.project):
            kind = 2
        else:
            kind = 1
        try:
            shown = Path(path).relative_to(Path.cwd()).as_posix()
        except ValueError:
            shown = path
        self._kinds[filename] = (kind, shown)
        return kind, shown


_frames: _Frames | None = None


def caller_location() -> str:
    """``path:line`` of the innermost frame of the project (``$COVO_PORT_RUN_ROOT``) or, where
    no frame is, the innermost frame outside torch, torchaudio, transformers, covo-port and the
    standard library; the path relative to the working directory when under it."""
    global _frames
    if _frames is None:
        _frames = _Frames()
    frame = sys._getframe(1)
    fallback = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith("<"):
            kind, shown = _frames.kind(filename)
            if kind == 2 or (kind == 1 and _frames.project is None):
                return f"{shown}:{frame.f_lineno}"
            if kind == 1 and fallback is None:
                fallback = f"{shown}:{frame.f_lineno}"
        frame = frame.f_back
    return fallback or "(no caller outside the libraries)"


def project_caller() -> str | None:
    """``path:line`` of the caller's caller where that is the project's own code (or, without a
    project, code outside the libraries); None where a library asked."""
    global _frames
    if _frames is None:
        _frames = _Frames()
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith("<"):
        frame = frame.f_back
    if frame is None:
        return None
    kind, shown = _frames.kind(frame.f_code.co_filename)
    if kind == 2 or (kind == 1 and _frames.project is None):
        return f"{shown}:{frame.f_lineno}"
    return None


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


class NotEmulated(NotImplementedError):
    """A ``torch.npu`` API that torch_npu has but the emulation does not model: this run cannot
    tell how it behaves on Ascend, so it refuses rather than answer with a guess."""

    def __init__(self, name: str, where: str) -> None:
        self.name = name
        self.where = where
        super().__init__(f"torch.npu.{name} exists in torch_npu 2.8 but covo-port's NPU "
                         f"emulation does not model it, so this run cannot tell what it does "
                         f"on Ascend: {where}")
