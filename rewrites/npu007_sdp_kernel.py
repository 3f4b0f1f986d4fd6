"""NPU007: ``torch.backends.cuda.sdp_kernel(...)`` -> ``torch.nn.attention.sdpa_kernel([...])``."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.modulefn import helper_state, place_helper
from covo_port.lib.runtime import function_source
from covo_port.model import Category, Example, PythonRule, PythonSource

SDP_KERNEL = "torch.backends.cuda.sdp_kernel"
HELPER = "_sdpa_backends"
#: sdp_kernel's parameters, in its order, with the backend each one enables (all default True).
FLAGS = (
    ("enable_flash", "FLASH_ATTENTION"),
    ("enable_math", "MATH"),
    ("enable_mem_efficient", "EFFICIENT_ATTENTION"),
    ("enable_cudnn", "CUDNN_ATTENTION"),
)
#: The order in which sdp_kernel lists the enabled backends.
LIST_ORDER = ("enable_flash", "enable_mem_efficient", "enable_math", "enable_cudnn")

HELPER_SOURCE = function_source("sdpa_backends", HELPER)


def _literal_bool(node: cst.BaseExpression) -> bool | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


class SdpKernel(PythonRule, id="NPU007", name="sdp-kernel", category=Category.BACKENDS,
                triggers=("sdp_kernel",),
                declines='arguments that are not literal booleans (reported)'):
    """torch.backends.cuda.sdp_kernel(...) -> torch.nn.attention.sdpa_kernel([...])

    ## What it does

    Rewrites the deprecated `torch.backends.cuda.sdp_kernel(...)` context to
    `torch.nn.attention.sdpa_kernel([...])` with the same backends.

    ## Why it breaks on Ascend

    torch.backends.cuda.sdp_kernel is deprecated (a FutureWarning on every call in torch
    2.9) and named after CUDA; its portable successor torch.nn.attention.sdpa_kernel takes
    the list of allowed scaled-dot-product-attention backends. torch's own sdp_kernel is
    nothing but that list built from its flags (flash, memory-efficient, math, cuDNN; each
    True by default, cuDNN included) handed to sdpa_kernel, so the rewrite passes exactly
    the same list: literal True/False flags become a literal list; flags known only at run
    time (variables, **config._asdict()) go through a small helper function, which builds
    the list the same way: imported from the package's support module `_covo_port_npu.py`
    (written once by the run) where the module is imported as part of its package, else
    inserted once into the module. An empty list behaves as before
    (attention then fails for want of a backend). Like the original, the list never holds
    OVERRIDEABLE, the backend through which a PrivateUse1 device such as the NPU may provide
    its own fused attention. Uses that cannot be rewritten in place (imported under another
    name, unknown arguments, sdp_kernel passed around uncalled) are reported.

    ## Example

    ```python
    import torch
    with torch.backends.cuda.sdp_kernel(enable_flash=False, enable_math=True,
                                        enable_mem_efficient=False):
        y = attend(q, k, v)
    ```

    becomes

    ```python
    import torch
    with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.MATH,
                                         torch.nn.attention.SDPBackend.CUDNN_ATTENTION]):
        y = attend(q, k, v)
    ```

    (shown folded here: the rewrite writes the list on one line)

    ## Fix safety

    Safe: the same choice of attention backends, through the device-neutral API.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._called: set[int] = set()
        self._dynamic: list[tuple[cst.Call, cst.Name]] = []

    def visit_Call(self, node: cst.Call) -> None:
        if not self.is_name(node.func, SDP_KERNEL):
            return
        self._called.add(id(node.func))
        torch = self._torch_name(node.func)
        if torch is None:
            self.report(node, "sdp_kernel imported under another name: rewrite it by hand as "
                        "torch.nn.attention.sdpa_kernel([...SDPBackend...])")
            return
        flags = self._flags(node)
        if flags is None:
            self.report(node, "sdp_kernel with arguments it does not take: not rewritten")
        elif all(v is not None for v in flags.values()):
            self._static(node, torch, flags)
        else:
            self._dynamic.append((node, torch))

    def leave_Attribute(self, original_node: cst.Attribute) -> None:
        if id(original_node) not in self._called and self.is_name(original_node, SDP_KERNEL):
            self.report(original_node, "torch.backends.cuda.sdp_kernel used without a call: "
                        "not rewritten; torch.nn.attention.sdpa_kernel takes a backend list")

    def _torch_name(self, func: cst.BaseExpression) -> cst.Name | None:
        """``torch`` (or its alias) in ``torch.backends.cuda.sdp_kernel``."""
        node = func
        for attr in ("sdp_kernel", "cuda", "backends"):
            if not isinstance(node, cst.Attribute) or node.attr.value != attr:
                return None
            node = node.value
        return node if isinstance(node, cst.Name) and self.is_name(node, "torch") else None

    def _flags(self, call: cst.Call) -> dict[str, bool | None] | None:
        """Each flag's literal value (None: known only at run time); None for bad arguments."""
        names = [name for name, _ in FLAGS]
        flags: dict[str, bool | None] = dict.fromkeys(names, True)
        positional = 0
        for arg in call.args:
            if arg.star:
                return dict.fromkeys(names, None)
            if arg.keyword is None:
                if positional == len(names):
                    return None
                name = names[positional]
                positional += 1
            elif arg.keyword.value in flags:
                name = arg.keyword.value
            else:
                return None
            flags[name] = _literal_bool(arg.value)
        return flags

    def _static(self, call: cst.Call, torch: cst.Name, flags: dict[str, bool | None]) -> None:
        backends = dict(FLAGS)
        enabled = [backends[name] for name in LIST_ORDER if flags[name]]
        items = ", ".join(f"{torch.value}.nn.attention.SDPBackend.{b}" for b in enabled)
        new_func = cst.parse_expression(f"{torch.value}.nn.attention.sdpa_kernel")
        new_arg = cst.Arg(cst.parse_expression(f"[{items}]"))
        self.replace(call, lambda updated: updated.with_changes(func=new_func, args=[new_arg]),
                     f"sdp_kernel(...) -> sdpa_kernel([{', '.join(enabled)}])")

    def finish(self) -> None:
        if not self._dynamic:
            return
        state = helper_state(self, HELPER)
        if state == "taken":
            for call, _ in self._dynamic:
                self.report(call, f"sdp_kernel with flags known only at run time, and the name "
                            f"{HELPER} is taken in this module: not rewritten")
            return
        for call, torch in self._dynamic:
            new_func = cst.parse_expression(f"{torch.value}.nn.attention.sdpa_kernel")

            def rewrite(node: cst.CSTNode, new_func: cst.BaseExpression = new_func
                        ) -> cst.CSTNode:
                updated = cst.ensure_type(node, cst.Call)
                inner = cst.Call(func=cst.Name(HELPER), args=updated.args)
                return updated.with_changes(func=new_func, args=[cst.Arg(inner)])

            self.replace(call, rewrite, f"sdp_kernel(...) -> sdpa_kernel({HELPER}(...))")
        if state == "free":
            place_helper(self, self._dynamic[0][0], HELPER, HELPER_SOURCE,
                         f"{HELPER}(): the backend list of sdp_kernel's flags, built at run time")

    examples = (
        Example(
            "import torch\n"
            "with torch.backends.cuda.sdp_kernel(enable_flash=False, enable_math=True,\n"
            "                                    enable_mem_efficient=False):\n"
            "    y = attend(q, k, v)\n",
            "import torch\n"
            "with torch.nn.attention.sdpa_kernel([torch.nn.attention.SDPBackend.MATH, "
            "torch.nn.attention.SDPBackend.CUDNN_ATTENTION]):\n"
            "    y = attend(q, k, v)\n",
        ),
        Example(
            "import torch as th\n"
            "from collections import namedtuple\n\n"
            "Flags = namedtuple('Flags', ['enable_flash', 'enable_math', 'enable_mem_efficient'])\n"
            "\n\n"
            "class Attention:\n"
            "    def run(self, q, flags):\n"
            "        with th.backends.cuda.sdp_kernel(**flags._asdict()):  # pick kernels\n"
            "            return q\n",
            "import torch as th\n"
            "from collections import namedtuple\n\n"
            "Flags = namedtuple('Flags', ['enable_flash', 'enable_math', 'enable_mem_efficient'])\n"
            "\n\n" + HELPER_SOURCE + "\n\n"
            "class Attention:\n"
            "    def run(self, q, flags):\n"
            "        with th.nn.attention.sdpa_kernel(_sdpa_backends(**flags._asdict())):"
            "  # pick kernels\n"
            "            return q\n",
        ),
        Example(
            "import torch\n\n\n"
            "def a(flash):\n"
            "    with torch.backends.cuda.sdp_kernel(flash, True):\n"
            "        pass\n"
            "    with torch.backends.cuda.sdp_kernel(enable_math=flash):\n"
            "        pass\n",
            "import torch\n\n\n" + HELPER_SOURCE + "\n\n"
            "def a(flash):\n"
            "    with torch.nn.attention.sdpa_kernel(_sdpa_backends(flash, True)):\n"
            "        pass\n"
            "    with torch.nn.attention.sdpa_kernel(_sdpa_backends(enable_math=flash)):\n"
            "        pass\n",
        ),
        Example(
            "from torch.backends.cuda import sdp_kernel\n"
            "import torch\n"
            "with sdp_kernel(enable_math=False):\n    pass\n"
            "ctx = torch.backends.cuda.sdp_kernel\n"
            "with torch.backends.cuda.sdp_kernel(enable_triton=True):\n    pass\n",
            findings=3,
        ),
        Example(
            "import torch\n"
            "def _sdpa_backends():\n    return []\n"
            "with torch.backends.cuda.sdp_kernel(**cfg):\n    pass\n"
            "with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):\n"
            "    pass\n",
            findings=1,
        ),
    )
