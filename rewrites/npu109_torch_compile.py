"""NPU109: ``torch.compile`` modes, backends and inductor options that assume CUDA."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.names import imported_names
from covo_port.lib.strings import string_value
from covo_port.lib.values import is_constant
from covo_port.model import Category, Example, PythonRule, PythonSource, Safety, Target

_COMPILERS = {"torch.compile", "torch._dynamo.optimize"}
#: mode -> what it does that needs CUDA
_MODES = {
    "reduce-overhead": "records CUDA graphs",
    "max-autotune": "records CUDA graphs and autotunes Triton GPU kernels",
    "max-autotune-no-cudagraphs": "autotunes Triton GPU kernels",
}
_BACKENDS = {"cudagraphs": "replays CUDA graphs", "tensorrt": "compiles with NVIDIA TensorRT",
             "torch_tensorrt": "compiles with NVIDIA TensorRT"}
_INDUCTOR_CONFIG = "torch._inductor.config"
#: inductor settings (options= keys, or torch._inductor.config attributes) that need CUDA
_OPTIONS = {"triton.cudagraphs": "records CUDA graphs",
            "triton.cudagraph_trees": "records CUDA graphs",
            "max_autotune": "autotunes Triton GPU kernels",
            "max_autotune_gemm": "autotunes Triton GPU kernels",
            "max_autotune_pointwise": "autotunes Triton GPU kernels"}
_LAST = {name.rsplit(".", 1)[1] for name in _COMPILERS}
_SETTINGS = {key.rsplit(".", 1)[-1] for key in _OPTIONS}
ADVICE = ("on Ascend compile with TorchAir's backend, torch.compile(model, "
          "backend=torchair.get_npu_backend(compiler_config=torchair.CompilerConfig())), whose "
          "own config captures NPU graphs, or drop the setting")


class TorchCompile(PythonRule, id="NPU109", name="cuda-compile-modes", category=Category.KERNELS,
                   safety=Safety.REPORT, cuda_only=True,
                   triggers=("compile", "_dynamo", "_inductor")):
    """torch.compile modes/backends that assume CUDA (reduce-overhead, cudagraphs...)

    ## What it does

    Reports torch.compile modes, backends and inductor options that assume CUDA
    (reduce-overhead, cudagraphs, max-autotune...).

    ## Why it breaks on Ascend

    torch.compile's mode="reduce-overhead" records CUDA graphs, mode="max-autotune" also
    benchmarks Triton GPU kernels (max-autotune-no-cudagraphs only the latter),
    backend="cudagraphs" replays CUDA graphs and the TensorRT backends compile for NVIDIA
    GPUs; inductor options such as triton.cudagraphs or max_autotune (in options= or set on
    torch._inductor.config) do the same. On an Ascend host none of them has a CUDA device to
    work with. The graph compiler for the NPU is TorchAir (`import torchair`;
    torch.compile(model, backend=torchair.get_npu_backend(compiler_config=...)), whose
    CompilerConfig selects NPU graph capture); which settings to keep depends on the model,
    so nothing is rewritten: each such call and assignment is reported. A plain
    torch.compile(model) is left alone, and so are modes and backends known only at run
    time.

    ## Example

    ```python
    import torch._inductor.config as inductor_config
    from torch import compile as tc
    inductor_config.triton.cudagraphs = True
    m = tc(model, options={'max_autotune': True, 'epilogue_fusion': True})
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: the right NPU compile setup depends on the model.
    """

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """A compiler, and one of the modes, backends or settings that assume CUDA."""
        return super().might_match(source, target) and any(
            word in source for word in (b"reduce-overhead", b"max-autotune", b"max_autotune",
                                        b"cudagraph", b"tensorrt"))

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        #: local names of compile/optimize imported by name (`from torch import compile as tc`)
        self._callers: set[str] = set()

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        for alias in node.names:
            if isinstance(alias.name, cst.Name) and alias.name.value in _LAST:
                bound = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(bound, cst.Name):
                    self._callers.add(bound.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not ((isinstance(func, cst.Attribute) and func.attr.value in _LAST) or (
                isinstance(func, cst.Name) and func.value in self._callers)):
            return
        names = imported_names(self, node.func)
        compiler = min(names & _COMPILERS, default=None)
        if compiler is None:
            return
        for index, arg in enumerate(node.args):
            keyword = arg.keyword.value if arg.keyword is not None else None
            if compiler == "torch._dynamo.optimize" and keyword is None and index == 0:
                keyword = "backend"
            value = string_value(arg.value)
            if keyword == "mode" and value in _MODES:
                self.report(arg, f'{compiler}(mode="{value}") {_MODES[value]}: {ADVICE}')
            elif keyword == "backend" and value in _BACKENDS:
                self.report(arg, f'{compiler}(backend="{value}") {_BACKENDS[value]}: {ADVICE}')
            elif keyword == "options" and isinstance(arg.value, cst.Dict):
                for element in arg.value.elements:
                    key = string_value(element.key) if isinstance(
                        element, cst.DictElement) else None
                    if key in _OPTIONS and not is_constant(element.value, "False", "None"):
                        self.report(element, f'{compiler}(options={{"{key}": ...}}) '
                                    f"{_OPTIONS[key]}: {ADVICE}")

    def visit_Assign(self, node: cst.Assign) -> None:
        if is_constant(node.value, "False", "None") or not any(
                isinstance(t.target, cst.Attribute) and t.target.attr.value in _SETTINGS
                for t in node.targets):
            return
        for target in node.targets:
            for name in imported_names(self, target.target):
                setting = name.removeprefix(_INDUCTOR_CONFIG + ".")
                if name.startswith(_INDUCTOR_CONFIG + ".") and setting in _OPTIONS:
                    self.report(node, f"{name} = ... {_OPTIONS[setting]}: {ADVICE}")
                    return

    examples = (
        Example(
            "import torch\n"
            "fast = torch.compile(model, mode='reduce-overhead', fullgraph=True)\n"
            "graphs = torch.compile(model, backend='cudagraphs')\n"
            "@torch.compile(mode='max-autotune')\n"
            "def step(x):\n    return x * 2\n",
            findings=3,
        ),
        Example(
            "import torch._inductor.config as inductor_config\n"
            "from torch import compile as tc\n"
            "inductor_config.triton.cudagraphs = True\n"
            "m = tc(model, options={'max_autotune': True, 'epilogue_fusion': True})\n",
            findings=2,
        ),
        Example(
            "import torch, re\n"
            "m = torch.compile(model)\n"
            "n = torch.compile(model, mode=args.mode, dynamic=True)\n"
            "o = torch.compile(model, mode='default')\n"
            "pattern = re.compile('max-autotune')\n",
        ),
    )
