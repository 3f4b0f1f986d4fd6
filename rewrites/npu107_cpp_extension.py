"""NPU107: ``torch.utils.cpp_extension`` builds of CUDA sources (CUDAExtension, .cu) reported."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.extensions import CPP_EXTENSION as MODULE
from covo_port.lib.extensions import compiles_cuda
from covo_port.lib.imports import ImportAware
from covo_port.lib.names import imported_names, is_outermost
from covo_port.model import Category, Example, Safety

_BUILDERS = {f"{MODULE}.CppExtension", f"{MODULE}.load", f"{MODULE}.load_inline"}
ADVICE = ("port the CUDA kernels to torch / torch_npu operators or to an Ascend C custom "
          "operator, and build C++ code that calls the NPU with "
          "torch_npu.utils.cpp_extension.NpuExtension")


class CppExtension(ImportAware, id="NPU107", name="cuda-extensions", category=Category.KERNELS,
                   safety=Safety.REPORT, cuda_only=True, triggers=("cpp_extension",)):
    """torch.utils.cpp_extension builds of CUDA code (CUDAExtension, .cu sources)

    ## What it does

    Reports `torch.utils.cpp_extension` builds of CUDA code (CUDAExtension, .cu sources,
    cuda_sources, with_cuda, CUDA_HOME).

    ## Why it breaks on Ascend

    torch.utils.cpp_extension compiles CUDA sources with nvcc against the CUDA toolkit:
    CUDAExtension in a setup.py, CppExtension / load() / load_inline() given .cu files,
    cuda_sources or with_cuda=True, and code that reads cpp_extension.CUDA_HOME. None of it
    builds on an Ascend host (no nvcc, no CUDA runtime), and the kernels inside would not
    run on the NPU anyway. Each such build is reported: the CUDA kernels must be ported (to
    torch / torch_npu operators, or to an Ascend C custom operator), and C++ code that calls
    the NPU is built with torch_npu.utils.cpp_extension.NpuExtension (with torch's
    BuildExtension). Builds of C++ sources only are left alone: they compile for the host
    CPU.

    ## Example

    ```python
    from setuptools import setup
    from torch.utils.cpp_extension import BuildExtension, CUDAExtension
    setup(name='ops', ext_modules=[CUDAExtension('ops', ['ops.cpp', 'ops_kernel.cu'])],
          cmdclass={'build_ext': BuildExtension})
    ```

    is reported (1 finding) and left as it is.

    ## Fix safety

    Report only: CUDA kernels must be ported to NPU operators by hand.
    """

    def visit_Call(self, node: cst.Call) -> None:
        names = imported_names(self, node.func)
        if f"{MODULE}.CUDAExtension" in names:
            self.report(node, f"CUDAExtension builds CUDA sources with nvcc: {ADVICE}")
        elif not names.isdisjoint(_BUILDERS) and compiles_cuda(self, node):
            what = min(names & _BUILDERS).rsplit(".", 1)[1]
            self.report(node, f"{what}(...) compiles CUDA code (.cu sources, cuda_sources or "
                        f"with_cuda): {ADVICE}")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._cuda_home(node)

    def visit_Name(self, node: cst.Name) -> None:
        self._cuda_home(node)

    def _cuda_home(self, node: cst.Name | cst.Attribute) -> None:
        if self.in_import or f"{MODULE}.CUDA_HOME" not in imported_names(self, node):
            return
        if not is_outermost(self, node):
            return
        self.report(node, f"reads {MODULE}.CUDA_HOME, the CUDA toolkit's location (None on an "
                    "Ascend host): the NPU's toolkit is CANN (ASCEND_HOME_PATH / "
                    "ASCEND_TOOLKIT_HOME)")

    examples = (
        Example(
            "from setuptools import setup\n"
            "from torch.utils.cpp_extension import BuildExtension, CUDAExtension\n"
            "setup(name='ops', ext_modules=[CUDAExtension('ops', ['ops.cpp', 'ops_kernel.cu'])],\n"
            "      cmdclass={'build_ext': BuildExtension})\n",
            findings=1,
        ),
        Example(
            "import torch.utils.cpp_extension as ext\n"
            "import glob\n"
            "srcs = glob.glob('csrc/*.cu') + ['csrc/bind.cpp']\n"
            "ops = ext.load(name='ops', sources=srcs, verbose=True)\n"
            "inl = ext.load_inline('inl', cpp_sources=cpp, cuda_sources=cuda, functions=['f'])\n"
            "if ext.CUDA_HOME is None:\n    raise RuntimeError('no CUDA')\n",
            findings=3,
        ),
        Example(
            "from torch.utils.cpp_extension import load, CppExtension\n"
            "ops = load(name='cpu_ops', sources=['ops.cpp'])\n"
            "ext = CppExtension('m', ['m.cpp'], extra_compile_args=['-O3'])\n"
            "print('.cu files are built elsewhere')\n",
        ),
    )
