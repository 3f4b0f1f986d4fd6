"""NPU011: integer device indices and device strings built at run time (f-strings, +, %, format)."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.cuda_api import cuda_device_params
from covo_port.lib.names import imported_names
from covo_port.lib.strings import string_value, with_value
from covo_port.model import Category, Example, PythonRule, Severity, Target

# "cuda:" followed by one placeholder: the whole literal is a device template.
_PERCENT = re.compile(r"^cuda:%[sdi]$")
_FORMAT = re.compile(r"^cuda:\{[^{}]*\}$")
# A literal integer device: `.to(0)`, `.to(device=1)`, `device=0`, `torch.device(0)`.
_LITERAL_INDEX = re.compile(rb"(?:\.to|device)\s*\(\s*(?:device\s*=\s*)?\d|device\s*=\s*\d")
# Keywords whose integers are device ids that DDP/FSDP-style APIs take as ints.
_ID_KEYWORDS = ("device_ids", "output_device", "device_id")


def _torch_npu_twin(qualified: str) -> str:
    return "torch.cuda." + qualified.removeprefix("torch.npu.") if qualified.startswith(
        "torch.npu.") else qualified


class DeviceIndices(PythonRule, id="NPU011", name="device-indices", category=Category.DEVICES,
                    severity=Severity.INFO, triggers=("cuda", "device", ".to"),
                    declines='an index that is not a literal and not certainly a device '
                             '(reported)'):
    """device indices (.to(0), device=0, DDP device_ids) and f"cuda:{i}" device templates

    ## What it does

    Makes bare device indices explicit NPU devices (`.to(0)` -> `.to("npu:0")`, `device=0`,
    DDP `device_ids`) and rewrites f-string device templates (`f"cuda:{rank}"` ->
    `f"npu:{rank}"`); `--device-map` renumbers literal indices.

    ## Why it breaks on Ascend

    Device strings that the code assembles at run time never match a literal rule:
    f"cuda:{rank}", "cuda:" + str(i), "cuda:%d" % i and "cuda:{}".format(i) all name a
    device that does not exist on an Ascend host; their "cuda:" becomes "npu:" (the index is
    the program's own, so the numbering is kept). A bare integer device is already the NPU
    once torch_npu is imported (torch maps an int device to the registered PrivateUse1
    backend: torch.device(0) is npu:0), so computed indices (`.to(local_rank)`,
    device_ids=[rank]) are correct as they are and left alone; literal ones in `.to(0)`,
    `device=0` and `torch.device(0)` are made explicit ("npu:0"). Literal ids in
    device_ids=, output_device=, device_id= and the device arguments of the torch.cuda API
    stay integers unless --device-map renumbers them (then they become "npu:N", which those
    APIs accept, so that a second apply does not renumber them again). With a --device-map,
    every index computed at run time is reported: the map cannot be applied to it.

    ## Example

    ```python
    import torch
    device = f"cuda:{rank}"
    model = DDP(model, device_ids=[rank])
    ```

    becomes

    ```python
    import torch
    device = f"npu:{rank}"
    model = DDP(model, device_ids=[rank])
    ```

    ## Fix safety

    Safe: a bare index means the current accelerator, which is the NPU on the target.
    """

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """With a --device-map every device index counts; without one only literal ones
        (`.to(0)`, `device=0`, `torch.device(0)`) and "cuda:" templates do."""
        if target.device_map:
            return super().might_match(source, target)
        return b"cuda" in source or _LITERAL_INDEX.search(source) is not None

    # -- integers ------------------------------------------------------------------------------
    def _explicit(self, node: cst.Integer, how: str) -> None:
        """A literal integer device -> the target's device string (device map applied)."""
        text = self.file.target.device_string(int(node.evaluated_value))
        self.replace(node, cst.SimpleString(f'"{text}"'), f"{how}: device {node.value} -> "
                     f"{text!r}")

    def _map(self, node: cst.BaseExpression, how: str) -> None:
        """A device id that --device-map renumbers becomes the explicit device string (so that a
        second apply does not renumber it again); one computed at run time is reported."""
        if isinstance(node, cst.Integer):
            if self.file.target.map_index(int(node.evaluated_value)) != int(
                    node.evaluated_value):
                self._explicit(node, f"{how} (--device-map)")
        elif self.file.target.device_map and not isinstance(node, cst.SimpleString):
            self._unmappable(node, how)

    def _unmappable(self, node: cst.CSTNode, how: str) -> None:
        if self.file.target.device_map:
            self.report(node, f"{how}: the device index is computed at run time, so --device-map "
                        "cannot renumber it; map it in the code if this host needs it")

    def visit_Call(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None and not a.star]
        func = node.func
        # resolving the callee costs a scope analysis of the file: without a --device-map
        # only torch.device(N) needs it
        literal = len(positional) == 1 and isinstance(positional[0].value, cst.Integer)
        qualified = imported_names(self, func) if self.file.target.device_map or (
            literal and self.file.may_reach(func, "device")) else set()
        if isinstance(func, cst.Attribute) and func.attr.value == "to" and positional and (
                isinstance(positional[0].value, cst.Integer)):
            self._explicit(positional[0].value, ".to()")
        if "torch.device" in qualified and len(positional) == 1 and isinstance(
                positional[0].value, cst.Integer):
            self._explicit(positional[0].value, "torch.device()")
        elif "torch.device" in qualified and len(positional) == 2:
            self._map_computed_only(positional[1].value, "torch.device()")  # literals: NPU001
        for arg in node.args:
            keyword = arg.keyword.value if arg.keyword else None
            if keyword == "device" and isinstance(arg.value, cst.Integer):
                self._explicit(arg.value, "device=")
            elif keyword in _ID_KEYWORDS:
                values = arg.value.elements if isinstance(arg.value, (cst.List, cst.Tuple)) else (
                    [arg.value] if keyword != "device_ids" else [])
                for value in values:
                    element = value.value if isinstance(value, cst.Element) else value
                    self._map(element, f"{keyword}=")
        for name in qualified:
            for index in cuda_device_params(_torch_npu_twin(name)):
                if index < len(positional):
                    self._map(positional[index].value, f"{name}()")
        if isinstance(func, cst.Attribute) and func.attr.value == "cuda" and positional and (
                "torch.cuda" not in qualified):
            self._map_computed_only(positional[0].value, ".cuda()")

    def _map_computed_only(self, node: cst.BaseExpression, how: str) -> None:
        if not isinstance(node, (cst.Integer, cst.SimpleString)):
            self._unmappable(node, how)  # literal .cuda(N) indices are NPU001's

    # -- device templates ----------------------------------------------------------------------
    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        parts = node.parts
        if len(parts) == 2 and isinstance(parts[0], cst.FormattedStringText) and (
                parts[0].value == "cuda:") and isinstance(parts[1], cst.FormattedStringExpression):
            device = self.file.target.device_type
            self.replace(parts[0], parts[0].with_changes(value=f"{device}:"),
                         f'f"cuda:{{...}}" -> f"{device}:{{...}}"')
            self._unmappable(node, "f-string device")

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        left = node.left
        value = string_value(left)
        if value is None or not isinstance(left, cst.SimpleString):
            return
        if (isinstance(node.operator, cst.Add) and value == "cuda:") or (
                isinstance(node.operator, cst.Modulo) and _PERCENT.match(value)):
            self._template(left, value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        value = string_value(node.value)
        if node.attr.value == "format" and value is not None and _FORMAT.match(value) and (
                isinstance(node.value, cst.SimpleString)):
            self._template(node.value, value)

    def _template(self, literal: cst.SimpleString, value: str) -> None:
        device = self.file.target.device_type
        new = device + value.removeprefix("cuda")
        self.replace(literal, with_value(literal, new), f"{value!r} -> {new!r} (device template)")
        self._unmappable(literal, "device template")

    examples = (
        Example(
            "import torch\n"
            "x = x.to(0)\n"
            "y = torch.zeros(3, device=1)\n"
            "dev = torch.device(1)\n"
            'model = model.to(device=0, dtype=torch.float16)\n',
            "import torch\n"
            'x = x.to("npu:0")\n'
            'y = torch.zeros(3, device="npu:0")\n'
            'dev = torch.device("npu:0")\n'
            'model = model.to(device="npu:0", dtype=torch.float16)\n',
            device_map=("cuda:1=npu:0",),
        ),
        Example(
            "import torch\n"
            'device = torch.device(f"cuda:{args.local_rank}")\n'
            "name = 'cuda:' + str(rank)\n"
            'other = "cuda:%d" % rank\n'
            "third = 'cuda:{}'.format(rank)\n",
            "import torch\n"
            'device = torch.device(f"npu:{args.local_rank}")\n'
            "name = 'npu:' + str(rank)\n"
            'other = "npu:%d" % rank\n'
            "third = 'npu:{}'.format(rank)\n",
        ),
        Example(
            "from torch.nn.parallel import DistributedDataParallel as DDP\n"
            "import torch\n"
            "model = DDP(model, device_ids=[1], output_device=1)\n"
            "torch.cuda.set_device(1)\n",
            "from torch.nn.parallel import DistributedDataParallel as DDP\n"
            "import torch\n"
            'model = DDP(model, device_ids=["npu:0"], output_device="npu:0")\n'
            'torch.cuda.set_device("npu:0")\n',
            device_map=("cuda:1=npu:0",),
        ),
        Example(
            'import torch\ndevice = f"cuda:{rank}"\nmodel = DDP(model, device_ids=[rank])\n',
            'import torch\ndevice = f"npu:{rank}"\nmodel = DDP(model, device_ids=[rank])\n',
            findings=2,
            device_map=("cuda:1=npu:0",),
        ),
        Example(
            "import torch\n"
            "x = x.to(local_rank)\n"
            "y = x.to(torch.float16)\n"
            "model = DDP(model, device_ids=[local_rank], output_device=local_rank)\n"
            'print(f"cuda:{rank} is ready")\n'
            'label = f"{kind}:{index}"\n'
            "torch.cuda.set_device(0)\n",
        ),
    )
