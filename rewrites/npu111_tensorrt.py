"""NPU111: TensorRT and the CUDA runtime bindings (pycuda, cuda-python, numba.cuda) reported."""

from __future__ import annotations

import libcst as cst
from libcst.helpers import get_full_name_for_node

from covo_port.lib.packages import PackageRule
from covo_port.model import Category, Example

#: cuda-python's modules. A bare ``import cuda`` may be a project's own module, so only these
#: count: ``from cuda import cudart``, ``from cuda.bindings import runtime``, ``import cuda.core``.
_CUDA_PYTHON = ("cuda", "cudart", "nvrtc", "ccuda", "ccudart", "cnvrtc", "bindings", "core")
_ENGINE = ("export the model to ONNX and convert it for the NPU with ATC (`atc --framework=5`) "
           "into an .om model run by ACL / ais_bench, or keep it in torch on the NPU "
           "(torch_npu; torchair for graph mode)")
_RUNTIME = ("allocate and copy with torch tensors on the NPU (torch.npu streams and events), "
            "or with ACL (pyACL: acl.rt.*) where a raw device runtime is needed")


class TensorRT(PackageRule, id="NPU111", name="tensorrt", category=Category.KERNELS,
               triggers=("tensorrt", "pycuda", "cuda", "trt")):
    """TensorRT, pycuda, cuda-python and numba.cuda reported (-> ATC/.om, torch.npu)

    ## What it does

    Reports TensorRT, pycuda, cuda-python and numba.cuda, with the Ascend tools to use
    instead.

    ## Why it breaks on Ascend

    TensorRT (tensorrt, torch_tensorrt, tensorrt_llm) builds engines that run only on NVIDIA
    GPUs, and pycuda, cuda-python (from cuda import cudart) and numba.cuda call the CUDA
    driver and runtime directly: none of them loads on an Ascend host. Ascend's counterparts
    are not drop-in replacements: an inference engine is an ONNX export converted by ATC
    into an .om model and run with ACL (or the model stays in torch on the NPU, with
    torchair for graph mode); device memory, streams and events are torch.npu's, or ACL's
    (acl.rt.*) for raw runtime calls. So nothing is rewritten: each import is reported (a
    guarded import as info), as are the calls that build an engine or a runtime context.

    ## Example

    ```python
    from numba import cuda, njit
    @cuda.jit
    def add(a, b):
        pass
    ```

    is reported (1 finding) and left as it is.

    ## Fix safety

    Report only: these runtimes have no NPU port.
    """

    packages = ("tensorrt", "torch_tensorrt", "tensorrt_llm", "pycuda", "cuda", "numba")
    library = "TensorRT and the CUDA driver/runtime exist only on NVIDIA GPUs"
    instead = (
        ("", f"on the NPU, {_ENGINE}"),
        ("pycuda", f"on the NPU, {_RUNTIME}"),
        ("cuda", f"on the NPU, {_RUNTIME}"),
        ("numba.cuda", "write the kernel with torch / torch_npu operators, or as an Ascend C "
                       "custom operator"),
    )
    report_calls = False
    @classmethod
    def ours(cls, name: str) -> bool:
        top, _, rest = name.partition(".")
        if top == "cuda":
            return rest.split(".", 1)[0] in _CUDA_PYTHON
        if top == "numba":
            return rest == "cuda" or rest.startswith("cuda.")
        return top in cls.packages

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        module = get_full_name_for_node(node.module) if node.module is not None else None
        if node.relative or module not in ("cuda", "numba") or isinstance(
                node.names, cst.ImportStar):
            super().visit_ImportFrom(node)
            return
        for alias in node.names:  # `from cuda import cudart`, `from numba import cuda`
            name = f"{module}.{get_full_name_for_node(alias.name)}"
            if self.ours(name):
                self.report_import(alias, name)

    def visit_Call(self, node: cst.Call) -> None:
        names = [n for n in self.library_names(node.func)
                 if n.rsplit(".", 1)[-1] in ("Builder", "Runtime", "compile", "make_context")]
        if names:
            self.report_use(node, f"{names[0]}(...): {self.library}; {self.advice(names[0])}")

    examples = (
        Example(  # a module that imports them at its top level is not rewritten at all
            "def build_engine(onnx_path):\n"
            "    import tensorrt as trt\n"
            "    import pycuda.autoinit  # noqa\n"
            "    import pycuda.driver as cuda\n"
            "    from cuda import cudart\n"
            "    logger = trt.Logger(trt.Logger.WARNING)\n"
            "    return trt.Runtime(logger)\n",
            findings=5,
        ),
        Example(
            "from numba import cuda, njit\n"
            "@cuda.jit\n"
            "def add(a, b):\n"
            "    pass\n",
            findings=1,
        ),
        Example(
            "try:\n    import torch_tensorrt\nexcept ImportError:\n    torch_tensorrt = None\n",
            findings=1,
        ),
        Example(
            "import cuda\n"
            "from cuda import kernels\n"
            "from numba import njit\n"
            "trt_engine = None  # tensorrt would be faster\n",
        ),
    )
