"""``torch_npu.profiler`` of the NPU emulation: torch's profiler under torch_npu's names.

The emulated NPU computes on the CPU, so tracing the CPU records its work: ``NPU`` activity is
the CPU activity here.
"""

from __future__ import annotations

from torch.profiler import (
    ProfilerAction,
    profile,
    record_function,
    schedule,
    tensorboard_trace_handler,
)
from torch.profiler import ProfilerActivity as _TorchActivity

__all__ = ["ProfilerAction", "ProfilerActivity", "profile", "record_function", "schedule",
           "tensorboard_trace_handler"]


class ProfilerActivity:
    """``torch_npu.profiler.ProfilerActivity``: ``CPU`` and ``NPU``."""

    CPU = _TorchActivity.CPU
    NPU = _TorchActivity.CPU
