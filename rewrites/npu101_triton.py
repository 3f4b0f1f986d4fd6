"""NPU101: Triton kernels (``import triton``, ``@triton.jit``, ``kernel[grid](...)``) reported."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ScopeProvider

from covo_port.lib.packages import PackageRule
from covo_port.model import Category, Example, PythonSource

ADVICE = ("port the kernel to torch / torch_npu operators, or build it for the NPU with "
          "Triton-Ascend (Huawei's Triton backend for Ascend, `pip install triton-ascend`; it "
          "covers most of triton.language, check its API support list)")


class Triton(PackageRule, id="NPU101", name="triton-kernels", category=Category.KERNELS,
             triggers=("triton",)):
    """Triton kernels (import triton, @triton.jit, kernel[grid](...)) reported

    ## What it does

    Reports Triton imports, `@triton.jit` kernels and their launches.

    ## Why it breaks on Ascend

    Triton compiles its kernels for NVIDIA (and AMD) GPUs: a @triton.jit function launched
    with kernel[grid](...) finds no GPU on an Ascend host, and `import triton` fails where
    Triton is not installed. Nothing rewrites a kernel safely, so each import of triton,
    each @triton.jit / @triton.autotune / @triton.heuristics decorator and each launch of
    such a kernel in the same file is reported. On the NPU: replace the kernel with torch or
    torch_npu operators (torch_npu.npu_* fused ops cover the common attention, norm and
    rotary kernels), or build it with Triton-Ascend, Huawei's Triton backend for Ascend
    NPUs. An import guarded by try/except ImportError or an availability test is reported as
    info; one under `if TYPE_CHECKING:` is not reported.

    ## Example

    ```python
    import triton
    import triton.language as tl

    @triton.jit
    def scale_kernel(x_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(x_ptr + offsets, tl.load(x_ptr + offsets) * 2, mask=offsets < n)

    scale_kernel[(triton.cdiv(n, 1024),)](x, n, BLOCK=1024)
    ```

    is reported (4 findings) and left as it is.

    ## Fix safety

    Report only: Triton kernels must be ported by hand.
    """

    packages = ("triton",)
    library = "Triton kernels compile for NVIDIA/AMD GPUs, not for the NPU"
    instead = (("", ADVICE),)
    report_calls = False
    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._kernels: set[int] = set()  # ids of the @triton.jit functions
        self._launches: list[tuple[cst.Call, cst.Name]] = []

    def visit_Decorator(self, node: cst.Decorator) -> None:
        target = node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator
        names = self.library_names(target)
        if not names:
            return
        self.report_use(node, f"@{names[0]}: a Triton kernel, which runs on NVIDIA/AMD GPUs "
                        f"only; {ADVICE}")
        function = self.parent(node)
        if isinstance(function, cst.FunctionDef):
            self._kernels.add(id(function))

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Subscript) and isinstance(func.value, cst.Name):
            self._launches.append((node, func.value))

    def finish(self) -> None:
        for call, name in self._launches:
            scope = self.get_metadata(ScopeProvider, name, None)
            if scope is None or name.value not in scope:
                continue
            # a builtin (`tuple[int](x)`) has no node: it is not a kernel
            bound = [getattr(a, "node", None) for a in scope[name.value]]
            if bound and all(b is not None and id(b) in self._kernels for b in bound):
                self.report_use(call, f"launches the Triton kernel {name.value}: it needs an "
                                f"NVIDIA/AMD GPU; {ADVICE}")

    examples = (
        Example(
            "import triton\n"
            "import triton.language as tl\n"
            "@triton.jit\n"
            "def add_kernel(x_ptr, n, BLOCK: tl.constexpr):\n"
            "    pid = tl.program_id(0)\n"
            "def add(x):\n"
            "    add_kernel[(4,)](x, x.numel(), BLOCK=128)\n"
            "class Add(torch.nn.Module):\n"
            "    forward = staticmethod(add)\n",
            findings=4,
        ),
        Example(
            "from triton import jit, autotune, Config\n"
            "@autotune(configs=[Config({'B': 64})], key=['n'])\n"
            "@jit\n"
            "def k(n):\n    pass\n"
            "print(k)\n",
            findings=5,
        ),
        Example(
            "try:\n    import triton\nexcept ImportError:\n    triton = None\n",
            findings=1,
        ),
        Example(
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    import triton\n"
            "triton_cfg = load()\n"
            "def f(triton):\n    return triton.jit\n"
            "print('needs triton')  # triton kernels below\n",
        ),
    )
