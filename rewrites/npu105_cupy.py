"""NPU105: CuPy (``cupy``) imports and its CUDA kernels reported."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.packages import PackageRule
from covo_port.model import Category, Example

#: CuPy objects that compile CUDA C source: each one is a kernel to port by hand.
KERNELS = {"cupy.RawKernel", "cupy.RawModule", "cupy.ElementwiseKernel", "cupy.ReductionKernel",
           "cupy.fuse", "cupyx.jit.rawkernel"}


class Cupy(PackageRule, id="NPU105", name="cupy", category=Category.KERNELS, triggers=("cupy",)):
    """cupy imports and CUDA kernels (RawKernel, ElementwiseKernel...) reported

    ## What it does

    Reports cupy imports and CUDA kernels written with it.

    ## Why it breaks on Ascend

    CuPy is a NumPy for NVIDIA GPUs (and ROCm): its arrays live in CUDA memory and its
    kernels are CUDA C, so neither exists on an Ascend host. Array code maps to torch
    tensors on the NPU (torch.from_dlpack and DLPack exchanges included) or to NumPy on the
    host; a kernel written as CUDA C source (cupy.RawKernel, RawModule, ElementwiseKernel,
    ReductionKernel, cupyx.jit.rawkernel) must be rewritten with torch / torch_npu operators
    or as an Ascend C custom operator. Each import of cupy/cupyx and each kernel
    construction is reported (a guarded import as info); the many ordinary array calls are
    not listed one by one.

    ## Example

    ```python
    import cupy as cp

    square = cp.RawKernel(r'''
    extern "C" __global__ void square(float* x, int n) {
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) x[i] *= x[i];
    }''', 'square')
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: CUDA kernels must be ported by hand.
    """

    packages = ("cupy", "cupyx", "cupy_backends")
    library = "CuPy runs on NVIDIA/AMD GPUs only"
    instead = (
        ("", "use torch tensors on the NPU (or NumPy on the host) instead of CuPy arrays"),
    )
    report_calls = False
    def visit_Call(self, node: cst.Call) -> None:
        names = [n for n in self.library_names(node.func) if n in KERNELS]
        if names:
            self.report_use(node, f"{names[0]}(...) compiles a CUDA kernel: rewrite it with torch "
                            "/ torch_npu operators, or as an Ascend C custom operator")

    examples = (
        Example(
            "import cupy as cp\n"
            "square = cp.ElementwiseKernel('float32 x', 'float32 y', 'y = x * x', 'square')\n"
            "y = square(cp.arange(4, dtype=cp.float32))\n"
            "k = cp.RawKernel(r'extern \"C\" __global__ void f() {}', 'f')\n",
            findings=3,
        ),
        Example(
            "try:\n    import cupy\nexcept ImportError:\n    cupy = None\n",
            findings=1,
        ),
        Example(
            "cupy = 'not the package'\n"
            "print(cupy.upper())\n"
            "use_cupy = False  # cupy would be faster\n",
        ),
    )
