"""Device vocabulary: names that hold a device, and device strings."""

from __future__ import annotations

import re

#: ``"cuda"`` or ``"cuda:N"``.
CUDA_DEVICE = re.compile(r"^cuda(?::(\d+))?$")


def device_like(name: str) -> bool:
    """``device``, ``decode_device``, ``DEVICE``, ``--target-device``, ``device_type``..."""
    name = name.lstrip("-").replace("-", "_").lower().removesuffix("_type")
    return name == "device" or name.endswith("_device")
