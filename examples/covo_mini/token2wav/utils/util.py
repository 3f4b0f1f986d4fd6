"""Config access, checkpoint loading and device helpers for token2wav."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

_NULL_WORDS = {"none", "null", "nil", "non"}


class JsonHParams(dict):
    """A dict whose keys are also attributes; nested dicts are wrapped too.

    Strings spelling a null value ("None", "null", ...) are read as ``None``.
    Being a plain ``dict`` underneath, it unpacks with ``**`` and dumps to JSON.
    """

    def __init__(self, **entries: Any) -> None:
        super().__init__()
        for key, value in entries.items():
            self[key] = self._wrap(value)

    @classmethod
    def _wrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and not isinstance(value, JsonHParams):
            return cls(**value)
        if isinstance(value, list):
            return [cls._wrap(item) for item in value]
        if isinstance(value, str) and value.strip().lower() in _NULL_WORDS:
            return None
        return value

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = self._wrap(value)

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def exist(self, key: str) -> bool:
        return key in self

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() if isinstance(v, JsonHParams) else v for k, v in self.items()}


def load_ckpt(model: nn.Module, model_path: str, map_location: Any = "cpu") -> nn.Module:
    """Load a state dict saved with ``torch.save`` (bare, or under a "model" key).

    Keys written by ``DataParallel``/DDP (``module.`` prefix) are accepted.
    """
    checkpoint = torch.load(model_path, map_location=map_location)
    if isinstance(checkpoint.get("model"), dict):
        checkpoint = checkpoint["model"]
    weights = OrderedDict((key.removeprefix("module."), value) for key, value in checkpoint.items())
    model.load_state_dict(weights)
    return model


def move(x: Any, device: str | torch.device = "cuda") -> Any:
    """Move every tensor inside ``x`` (tensor, dict, list or tuple) to ``device``."""
    if torch.is_tensor(x):
        return x.to(device)
    if isinstance(x, dict):
        return {key: move(value, device) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(move(value, device) for value in x)
    return x


def default_device() -> torch.device:
    """The first GPU when one is visible, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", 0)
    return torch.device("cpu")


def exists(value: Any) -> bool:
    return value is not None


def default(value: Any, fallback: Any) -> Any:
    return value if value is not None else fallback
