"""NPU106: NVML-based GPU monitoring (pynvml, GPUtil, gpustat...) reported."""

from __future__ import annotations

from covo_port.lib.packages import PackageRule
from covo_port.model import Category, Example

_MEMORY = ("torch.npu.mem_get_info() / torch.npu.memory_allocated() / "
           "torch.npu.max_memory_allocated() for memory, torch.npu.utilization() for load, "
           "torch.npu.device_count() for devices, `npu-smi info` from the shell")


class Nvml(PackageRule, id="NPU106", name="nvml", category=Category.PROFILING,
           triggers=("nvml", "GPUtil", "gpustat", "nvidia_smi", "nvitop")):
    """pynvml / GPUtil / gpustat (NVML) reported (-> torch.npu memory APIs, npu-smi)

    ## What it does

    Reports NVML libraries (pynvml, GPUtil, gpustat), with the torch.npu queries and npu-smi
    to use instead.

    ## Why it breaks on Ascend

    pynvml (nvidia-ml-py), py3nvml, nvidia_smi, GPUtil, gpustat and nvitop read NVIDIA's
    management library (libnvidia-ml): on an Ascend host nvmlInit() fails (or the package
    finds no GPU), so free-memory checks, "pick the least busy GPU" helpers and monitoring
    threads break or pick nothing. The NPU's answers: torch.npu.mem_get_info(),
    memory_allocated(), max_memory_allocated() and utilization() (torch_npu),
    torch.npu.device_count(), and the npu-smi command line tool (`npu-smi info`) where a
    process is watched from outside. The queries do not map one to one (units, handles), so
    nothing is rewritten: each import and each call is reported (guarded imports as info).

    ## Example

    ```python
    import GPUtil
    gpu = GPUtil.getFirstAvailable(order='memory')[0]
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: the queries return other structures.
    """

    packages = ("pynvml", "py3nvml", "nvidia_smi", "GPUtil", "gpustat", "nvitop")
    library = "NVML (NVIDIA's management library) finds no device on an Ascend host"
    instead = (("", f"use {_MEMORY}"),)
    examples = (
        Example(
            "import pynvml\n"
            "pynvml.nvmlInit()\n"
            "handle = pynvml.nvmlDeviceGetHandleByIndex(0)\n"
            "free = pynvml.nvmlDeviceGetMemoryInfo(handle).free\n",
            findings=4,
        ),
        Example(
            "import GPUtil\n"
            "gpu = GPUtil.getFirstAvailable(order='memory')[0]\n",
            findings=2,
        ),
        Example(
            "def nvml_stats(nvml):\n"
            "    return nvml.query()\n"
            "print('pynvml is optional')\n",
        ),
    )
