"""NPU110: legacy tensor types that assume CUDA: "torch.cuda.FloatTensor" strings,
set_default_tensor_type with a CUDA type, and DoubleTensor (float64) types."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.imports import ImportAware
from covo_port.lib.names import imported_names, is_dotted, is_outermost
from covo_port.lib.strings import string_value
from covo_port.model import Category, Example, PythonSource, Safety

_KINDS = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
_CUDA_TYPE = re.compile(r"torch\.cuda\.(?P<kind>" + "|".join(_KINDS) + r")Tensor")
_DOUBLE = {"torch.DoubleTensor", "torch.cuda.DoubleTensor"}
_SET_DEFAULT = "torch.set_default_tensor_type"
FLOAT64 = ("a float64 tensor type: Ascend NPUs run most operators in fp16/bf16/fp32 only (no "
           "fp64 matmul or convolution), so float64 work fails or falls back to the CPU; use "
           "float32 on the NPU, or keep this tensor on the CPU")


class LegacyTensorTypes(ImportAware, id="NPU110", name="legacy-tensor-types",
                        category=Category.CUDA_API, safety=Safety.REPORT,
                        triggers=("cuda", "DoubleTensor", _SET_DEFAULT.rsplit(".", 1)[1])):
    """legacy tensor types: 'torch.cuda.FloatTensor' strings, set_default_tensor_type

    ## What it does

    Reports legacy CUDA tensor types ('torch.cuda.FloatTensor' strings,
    set_default_tensor_type).

    ## Why it breaks on Ascend

    The legacy typed-tensor API names the device in the type. NPU010 rewrites the attribute
    forms (torch.cuda.FloatTensor -> torch.npu.FloatTensor); what it cannot see is reported
    here. A type name in a string ("torch.cuda.HalfTensor") never matches on the NPU, where
    x.type() says "torch.npu.HalfTensor": a comparison silently turns False, and
    x.type("torch.cuda.FloatTensor") asks for CUDA. Compare dtype and device instead
    (x.dtype == torch.float16 and x.device.type == "npu") and convert with x.to(device,
    dtype). torch.set_default_tensor_type with a CUDA type (deprecated since torch 2.1)
    makes every factory allocate on the GPU: use torch.set_default_device("npu") and
    torch.set_default_dtype(...). DoubleTensor types (torch.DoubleTensor, torch.cuda.
    DoubleTensor) are float64, which Ascend NPUs compute for few operators: each use is
    reported so that float64 work stays on the CPU or becomes float32. CPU types used as
    constructors (torch.LongTensor(lengths)) are left alone: they build CPU tensors, as
    before.

    ## Example

    ```python
    import torch
    if x.type() == 'torch.cuda.HalfTensor':
        x = x.type("torch.cuda.FloatTensor")
    ```

    is reported (2 findings) and left as it is.

    ## Fix safety

    Report only: the modern form (dtype and device) depends on the code.
    """

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._set_default: set[int] = set()  # type arguments reported with their call
        self._aliases: set[str] = set()  # `from torch import DoubleTensor as F64`

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        super().visit_ImportFrom(node)
        if not isinstance(node.names, cst.ImportStar):
            self._aliases.update(a.asname.name.value for a in node.names
                                 if isinstance(a.asname, cst.AsName)
                                 and isinstance(a.asname.name, cst.Name)
                                 and isinstance(a.name, cst.Name)
                                 and a.name.value == "DoubleTensor")

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        last = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if last != _SET_DEFAULT.rsplit(".", 1)[1] or not node.args or (
                _SET_DEFAULT not in imported_names(self, node.func)):
            return
        kind = node.args[0].value
        text = string_value(kind)
        names = imported_names(self, kind) if is_dotted(kind) else set()
        if (text is not None and _CUDA_TYPE.fullmatch(text)) or any(
                n.startswith("torch.cuda.") for n in names):
            self._set_default.add(id(kind))
            self.report(node, f"{_SET_DEFAULT} with a CUDA type (deprecated since torch 2.1) "
                        "puts every new tensor on the GPU: use torch.set_default_device(\"npu\") "
                        "and torch.set_default_dtype(...)")

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        text = string_value(node)
        match = _CUDA_TYPE.fullmatch(text) if text is not None else None
        if match is None or id(node) in self._set_default:
            return
        self.report(node, f'"{text}" names a CUDA tensor type, which no tensor has on the NPU '
                    f'(x.type() gives "torch.npu.{match.group("kind")}Tensor"): compare x.dtype '
                    "and x.device.type, convert with x.to(device, dtype)")

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._double(node, node.attr.value)

    def visit_Name(self, node: cst.Name) -> None:
        self._double(node, node.value)

    def _double(self, node: cst.Name | cst.Attribute, last: str) -> None:
        if self.in_import or id(node) in self._set_default or (
                last != "DoubleTensor" and last not in self._aliases):
            return
        if not is_outermost(self, node):
            return
        names = imported_names(self, node) & _DOUBLE
        if names:
            self.report(node, f"{min(names)}: {FLOAT64}")

    examples = (
        Example(
            "import torch\n"
            "if x.type() == 'torch.cuda.HalfTensor':\n"
            "    x = x.type(\"torch.cuda.FloatTensor\")\n",
            findings=2,
        ),
        Example(
            "import torch\n"
            "torch.set_default_tensor_type(torch.cuda.FloatTensor)\n"
            "w = torch.DoubleTensor(3, 3)\n"
            "from torch import DoubleTensor as F64\n"
            "b = F64([1.0])\n",
            findings=3,
        ),
        Example(
            "import torch\n"
            "lengths = torch.LongTensor([10, 2])\n"
            "feat = torch.FloatTensor(embedding).to(device)\n"
            "y = x.type(torch.cuda.FloatTensor)\n"
            "print('expects a torch.cuda.FloatTensor')\n"
            "DoubleTensor = make_type()\n"
            "z = DoubleTensor(3)\n",
        ),
    )
