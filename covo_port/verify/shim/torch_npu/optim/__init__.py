"""``torch_npu.optim`` of the NPU emulation: what transformers' Trainer imports."""

from __future__ import annotations

import torch


class NpuFusedAdamW(torch.optim.AdamW):
    """torch_npu's fused AdamW: the same update as ``torch.optim.AdamW``, which computes it
    here (the emulated NPU's tensors are CPU tensors)."""
