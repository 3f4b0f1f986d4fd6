"""NPU107: ``torch.utils.cpp_extension`` builds of CUDA sources (CUDAExtension, .cu) reported."""

from __future__ import annotations

import re

import libcst as cst
from libcst.metadata import ScopeProvider

from covo_port.pyengine import PyFile
from covo_port.rewrites.npu010_cuda_api import imported_names
from covo_port.rule import Example, PythonRule, Severity

MODULE = "torch.utils.cpp_extension"
_CUDA_SOURCE = re.compile(r"\.(?:cu|cuh)$")
_BUILDERS = {f"{MODULE}.CppExtension", f"{MODULE}.load", f"{MODULE}.load_inline"}
ADVICE = ("port the CUDA kernels to torch / torch_npu operators or to an Ascend C custom "
          "operator, and build C++ code that calls the NPU with "
          "torch_npu.utils.cpp_extension.NpuExtension")


def _strings(node: cst.CSTNode) -> list[str]:
    """The literal text of the strings in ``node`` (f-strings: their last literal part)."""
    found: list[str] = []

    class _Find(cst.CSTVisitor):
        def visit_SimpleString(self, string: cst.SimpleString) -> None:
            value = string.evaluated_value
            if isinstance(value, str):
                found.append(value)

        def visit_FormattedString(self, string: cst.FormattedString) -> bool:
            if string.parts and isinstance(string.parts[-1], cst.FormattedStringText):
                found.append(string.parts[-1].value)
            return False

    node.visit(_Find())
    return found


def names_cuda_sources(rule: PythonRule, node: cst.BaseExpression) -> bool:
    """Whether ``node`` (a sources argument) names a ``.cu``/``.cuh`` file, directly or through
    a variable whose assignments in the same scope do."""
    nodes: list[cst.CSTNode] = [node]
    if isinstance(node, cst.Name):
        scope = rule.get_metadata(ScopeProvider, node, None)
        if scope is not None and node.value in scope:
            for assignment in scope[node.value]:
                statement = getattr(assignment, "node", None)
                while statement is not None and not isinstance(
                        statement, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                    statement = rule.parent(statement)
                if statement is not None:
                    nodes.append(statement)
    return any(_CUDA_SOURCE.search(text.rstrip()) or "*.cu" in text
               for part in nodes for text in _strings(part))


def compiles_cuda(rule: PythonRule, call: cst.Call) -> bool:
    """Whether ``call`` (CppExtension / load / load_inline) compiles CUDA code."""
    for arg in call.args:
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword == "cuda_sources" and not (isinstance(arg.value, cst.Name)
                                              and arg.value.value == "None"):
            return True
        if keyword == "with_cuda" and isinstance(arg.value, cst.Name) and (
                arg.value.value == "True"):
            return True
        if keyword in (None, "sources") and names_cuda_sources(rule, arg.value):
            return True
    return False


class CppExtension(PythonRule):
    id = "NPU107"
    summary = "torch.utils.cpp_extension builds of CUDA code (CUDAExtension, .cu sources)"
    rationale = """
    torch.utils.cpp_extension compiles CUDA sources with nvcc against the CUDA toolkit:
    CUDAExtension in a setup.py, CppExtension / load() / load_inline() given .cu files,
    cuda_sources or with_cuda=True, and code that reads cpp_extension.CUDA_HOME. None of it
    builds on an Ascend host (no nvcc, no CUDA runtime), and the kernels inside would not run on
    the NPU anyway. Each such build is reported: the CUDA kernels must be ported (to torch /
    torch_npu operators, or to an Ascend C custom operator), and C++ code that calls the NPU is
    built with torch_npu.utils.cpp_extension.NpuExtension (with torch's BuildExtension).
    Builds of C++ sources only are left alone: they compile for the host CPU.
    """
    severity = Severity.WARNING
    triggers = ("cpp_extension",)
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

    def __init__(self, file: PyFile) -> None:
        super().__init__(file)
        self._in_import = 0

    def visit_Import(self, node: cst.Import) -> None:
        self._in_import += 1

    def leave_Import(self, original_node: cst.Import) -> None:
        self._in_import -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._in_import += 1

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self._in_import -= 1

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
        if self._in_import or f"{MODULE}.CUDA_HOME" not in imported_names(self, node):
            return
        parent = self.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return
        self.report(node, f"reads {MODULE}.CUDA_HOME, the CUDA toolkit's location (None on an "
                    "Ascend host): the NPU's toolkit is CANN (ASCEND_HOME_PATH / "
                    "ASCEND_TOOLKIT_HOME)")
