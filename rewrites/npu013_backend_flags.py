"""NPU013: ``torch.backends.cudnn`` / ``torch.backends.cuda.matmul`` flags on the NPU."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node

from covo_port.lib.imports import ImportAware
from covo_port.lib.names import binds_module, dotted, imported_names, is_dotted, is_outermost
from covo_port.lib.values import is_constant
from covo_port.model import Category, Example, PythonSource, Safety, Severity

_CUDNN = "torch.backends.cudnn"
#: words of a dotted name that may reach a backend flag (see BackendFlags._may_be_backend)
_BACKEND_WORDS = frozenset({"backends", "cudnn", "cuda"})
_MATMUL = "torch.backends.cuda.matmul"
# Flags that select CUDA libraries' algorithms: nothing on the NPU reads them.
_INERT = {
    f"{_CUDNN}.benchmark": "cuDNN autotuning",
    f"{_CUDNN}.enabled": "the cuDNN switch",
    f"{_MATMUL}.allow_fp16_reduced_precision_reduction": "cuBLAS fp16 reduced-precision reduction",
    f"{_MATMUL}.allow_bf16_reduced_precision_reduction": "cuBLAS bf16 reduced-precision reduction",
    f"{_MATMUL}.allow_fp16_accumulation": "cuBLAS fp16 accumulation",
}
# TF32 -> the NPU's HF32 (torch_npu: torch.npu.conv / torch.npu.matmul .allow_hf32; defaults on
# for convolutions and off for matmul, as torch's TF32 flags).
_HF32 = {
    f"{_CUDNN}.allow_tf32": "torch.npu.conv.allow_hf32",
    f"{_MATMUL}.allow_tf32": "torch.npu.matmul.allow_hf32",
}
_DETERMINISTIC = f"{_CUDNN}.deterministic"
# torch.backends.cuda names that torch_npu shares (the SDPA switches are global in torch).
_SHARED = {"sdp_kernel", "SDPAParams", "SDPBackend", "enable_flash_sdp", "enable_math_sdp",
           "enable_mem_efficient_sdp", "enable_cudnn_sdp", "flash_sdp_enabled",
           "math_sdp_enabled", "mem_efficient_sdp_enabled", "cudnn_sdp_enabled",
           "can_use_flash_attention", "can_use_efficient_attention", "can_use_cudnn_attention",
           "is_flash_attention_available", "allow_fp16_bf16_reduction_math_sdp",
           "fp16_bf16_reduction_math_sdp_allowed"}




class BackendFlags(ImportAware, id="NPU013", name="backend-flags", category=Category.BACKENDS,
                   severity=Severity.INFO, triggers=("cuda", "cudnn"),
                   declines='a flag that is read, or set through an alias'):
    """cudnn / cuda.matmul flags: removed where inert, TF32 -> HF32, determinism kept

    ## What it does

    Removes cudnn / cuda.matmul flags that nothing reads on the NPU, turns TF32 switches
    into the NPU's HF32 ones, and keeps cudnn.deterministic as
    `torch.use_deterministic_algorithms(..., warn_only=True)`.

    ## Why it breaks on Ascend

    torch.backends.cudnn.* and torch.backends.cuda.matmul.* steer NVIDIA's libraries; on an
    Ascend host nothing reads them, so a port that keeps them looks configured but is not.
    Assignments are rewritten: cudnn.benchmark, cudnn.enabled and the cuBLAS
    reduced-precision switches are removed (a block left empty gets `pass`);
    cudnn.allow_tf32 and cuda.matmul.allow_tf32 become torch.npu.conv.allow_hf32 /
    torch.npu.matmul.allow_hf32 (HF32 is the NPU's reduced-precision float32, with the same
    defaults); cudnn.deterministic = V becomes torch.use_deterministic_algorithms(V,
    warn_only=True), the switch torch_npu documents for deterministic NPU kernels
    (warn_only: like the cuDNN flag, never an error; a literal False, the default, is
    removed). Each is reported (info). Reading a flag, the cudnn.flags() context and other
    CUDA-only backend settings (cufft_plan_cache, preferred_linalg_library...) are left and
    reported.

    ## Example

    ```python
    import torch
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = True
    torch.backends.cuda.matmul.allow_tf32 = True  # faster
    torch.backends.cudnn.allow_tf32 = args.tf32
    ```

    becomes

    ```python
    import torch
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.npu.matmul.allow_hf32 = True  # faster
    torch.npu.conv.allow_hf32 = args.tf32
    ```

    ## Fix safety

    Safe: the removed flags are inert on the NPU; HF32 is the NPU's counterpart of TF32;
    determinism is kept.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._handled: set[int] = set()
        #: names that imports bound to something under torch.backends (`import ... as C`)
        self._aliases: set[str] = set()

    def _may_be_backend(self, node: cst.BaseExpression) -> bool:
        """A cheap test before resolving ``node``'s names (which costs a scope analysis of
        the file): a dotted name that spells a backend module, or starts at an alias of one."""
        text = get_full_name_for_node(node)
        if text is None:
            return False
        parts = text.split(".")
        return parts[0] in self._aliases or not _BACKEND_WORDS.isdisjoint(parts)

    def _bind(self, names: Sequence[cst.ImportAlias], module: str) -> None:
        for alias in names:
            full = f"{module}.{get_full_name_for_node(alias.name) or ''}".strip(".")
            if _BACKEND_WORDS.isdisjoint(full.split(".")):
                continue
            if alias.evaluated_alias is not None:
                self._aliases.add(alias.evaluated_alias)
            elif module:  # `from torch.backends import cudnn`; `import torch.backends.cudnn`
                self._aliases.add(full.rsplit(".", 1)[-1])  # is used by its full name

    def visit_Import(self, node: cst.Import) -> None:
        super().visit_Import(node)
        self._bind(node.names, "")

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        super().visit_ImportFrom(node)
        if node.module is not None and not isinstance(node.names, cst.ImportStar):
            self._bind(node.names, get_full_name_for_node(node.module) or "")

    def _flag(self, node: cst.BaseExpression) -> str | None:
        if not self._may_be_backend(node):
            return None
        names = imported_names(self, node) & {*_INERT, *_HF32, _DETERMINISTIC}
        return min(names) if names else None

    def visit_Assign(self, node: cst.Assign) -> None:
        flags = [self._flag(t.target) for t in node.targets]
        if not any(flags):
            return
        for target in node.targets:
            self._handled.add(id(target.target))
        flag = flags[0]
        if len(node.targets) != 1 or flag is None:
            self.report(node, "a CUDA backend flag assigned together with other names: port by "
                        "hand (see `covo-port rules NPU013`)")
            return
        short = flag.removeprefix("torch.backends.")
        if flag in _INERT:
            self._remove(node, f"{short} removed: {_INERT[flag]} does not exist on the NPU")
        elif flag in _HF32:
            target = _HF32[flag]
            self.replace(node.targets[0].target, dotted(target), f"{short} -> {target}")
            self.report(node, f"{short} -> {target}: HF32 is the NPU's reduced-precision float32")
        elif is_constant(node.value, "False"):
            self._remove(node, f"{short} = False removed: deterministic algorithms are off by "
                         "default")
        elif self._torch_bound(node):
            call = cst.parse_expression("torch.use_deterministic_algorithms(V, warn_only=True)")
            assert isinstance(call, cst.Call)
            call = call.with_changes(args=[call.args[0].with_changes(value=node.value),
                                           call.args[1]])
            self.replace(node, cst.Expr(call), f"{short} -> torch.use_deterministic_algorithms "
                         "(it also makes the CPU and every other operator deterministic)",
                         safety=Safety.UNSAFE)
            self.report(node, f"{short} -> torch.use_deterministic_algorithms(..., "
                        "warn_only=True): the switch torch_npu honours for NPU kernels")

    def _torch_bound(self, node: cst.Assign) -> bool:
        root: cst.BaseExpression = node.targets[0].target
        while isinstance(root, cst.Attribute):
            root = root.value
        if binds_module(self, root, "torch"):
            return True
        self.report(node, "cudnn.deterministic reached through an alias in a module that does "
                    "not `import torch`: write torch.use_deterministic_algorithms(..., "
                    "warn_only=True)")
        return False

    def _remove(self, node: cst.Assign, message: str) -> None:
        """Remove the assignment; a block it leaves empty gets ``pass``."""
        line = self.parent(node)
        if not isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            return
        if len(line.body) > 1:
            index = line.body.index(node)

            def drop(updated: cst.CSTNode) -> cst.CSTNode:
                assert isinstance(updated, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
                body = [s for i, s in enumerate(updated.body) if i != index]
                body[-1] = body[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
                return updated.with_changes(body=body)

            self.replace(line, drop, message)
        elif isinstance(line, cst.SimpleStatementLine) and self._has_siblings(line) and not any(
                e.comment for e in line.leading_lines) and line.trailing_whitespace.comment is None:
            self.replace(line, cst.RemovalSentinel.REMOVE, message)
        else:
            self.replace(node, cst.Pass(), message)
        self.report(node, message)

    def _has_siblings(self, line: cst.SimpleStatementLine) -> bool:
        block = self.parent(line)
        return isinstance(block, (cst.Module, cst.IndentedBlock)) and len(block.body) > 1

    # -- everything else under torch.backends.cudnn / torch.backends.cuda -------------------------
    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._other(node)

    def visit_Name(self, node: cst.Name) -> None:
        self._other(node)

    def _other(self, node: cst.Name | cst.Attribute) -> None:
        if self.in_import or id(node) in self._handled or not is_outermost(self, node) or (
                not is_dotted(node)) or not self._may_be_backend(node):
            return
        for name in sorted(imported_names(self, node)):
            if name.startswith(f"{_CUDNN}.") or name == _CUDNN:
                what = "reads a cuDNN setting" if name != f"{_CUDNN}.flags" else (
                    "cudnn.flags() switches cuDNN settings")
            elif name.startswith("torch.backends.cuda.") and (
                    name.split(".")[3] not in _SHARED):
                what = "uses a CUDA backend setting"
            else:
                continue
            self.report(node, f"{name} {what}: it has no effect on the NPU (left as is)")
            return

    examples = (
        Example(
            "import torch\n"
            "torch.manual_seed(0)\n"
            "torch.backends.cudnn.benchmark = True\n"
            "torch.backends.cudnn.deterministic = True\n"
            "torch.backends.cuda.matmul.allow_tf32 = True  # faster\n"
            "torch.backends.cudnn.allow_tf32 = args.tf32\n",
            "import torch\n"
            "torch.manual_seed(0)\n"
            "torch.use_deterministic_algorithms(True, warn_only=True)\n"
            "torch.npu.matmul.allow_hf32 = True  # faster\n"
            "torch.npu.conv.allow_hf32 = args.tf32\n",
            findings=4,
            unsafe_fixes=True,
        ),
        Example(  # by default the switch to every operator's determinism is only proposed
            "import torch\ntorch.backends.cudnn.deterministic = True\n",
            findings=2,
        ),
        Example(
            "import torch\n"
            "from torch.backends import cudnn\n"
            "if args.fast:\n"
            "    cudnn.benchmark = True\n"
            "else:\n"
            "    # reproducible runs\n"
            "    cudnn.deterministic = args.deterministic\n"
            "    cudnn.benchmark = False\n"
            "x = 1; torch.backends.cudnn.enabled = False\n",
            "import torch\n"
            "from torch.backends import cudnn\n"
            "if args.fast:\n"
            "    pass\n"
            "else:\n"
            "    # reproducible runs\n"
            "    torch.use_deterministic_algorithms(args.deterministic, warn_only=True)\n"
            "x = 1\n",
            findings=4,
            unsafe_fixes=True,
        ),
        Example(
            "import torch\n"
            "if torch.backends.cudnn.benchmark:\n    pass\n"
            "with torch.backends.cudnn.flags(enabled=False):\n    pass\n"
            "torch.backends.cuda.cufft_plan_cache.max_size = 0\n",
            findings=3,
        ),
        Example(
            "import torch\n"
            "torch.backends.cuda.enable_flash_sdp(False)\n"
            "torch.backends.mps.is_available()\n",
        ),
    )
