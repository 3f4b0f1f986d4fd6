"""NPU001: CUDA device strings, ``.cuda()`` and ``.is_cuda`` -> the NPU's."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.strings import string_value
from covo_port.model import Example, PythonRule, Severity

_DEVICE = re.compile(r"^cuda(?::(\d+))?$")
_DEVICE_FUNCS = {"torch.device", "torch.set_default_device", "torch.cuda.device",
                 "torch.cuda.set_device", "torch.Generator", "torch.get_device_module",
                 "torch.amp.GradScaler", "torch.amp.grad_scaler.GradScaler"}
_DEVICE_KEYWORDS = {"map_location", "device_type", "device_map", "type"}
_AUTOCASTS = {"torch.autocast", "torch.amp.autocast", "torch.amp.autocast_mode.autocast",
              "torch.cuda.amp.autocast", "torch.cpu.amp.autocast"}
DEVICE, UNKNOWN, OWNED = "device", "unknown", "owned"  # OWNED: another rule's literal
# Between a literal and the construct that gives it its meaning: branches of `a if c else b`,
# `a or b`, and the elements of a list/tuple/set.
_TRANSPARENT = (cst.IfExp, cst.BooleanOperation, cst.Element, cst.List, cst.Tuple, cst.Set)


def device_like(name: str) -> bool:
    """``device``, ``decode_device``, ``DEVICE``, ``--target-device``, ``device_type``..."""
    name = name.lstrip("-").replace("-", "_").lower().removesuffix("_type")
    return name == "device" or name.endswith("_device")


def _terminal_name(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None




class DeviceStrings(PythonRule):
    """## What it does

    Rewrites `"cuda"`/`"cuda:N"` where the string certainly names a torch device
    (torch.device, .to(), device=/map_location= keywords, device-named parameters, options
    and variables, comparisons with a device type), `.cuda()` to `.npu()` and `.is_cuda` to
    `.is_npu`; `--device-map` renumbers indices.

    ## Why it breaks on Ascend

    There is no CUDA device on an Ascend host: torch.device("cuda:0"), .to("cuda"),
    map_location="cuda", .cuda() all raise. torch_npu registers the "npu" device type,
    Tensor.npu() / Module.npu() and Tensor.is_npu, with the same index numbering. A string
    is rewritten only where it certainly names a device: arguments of torch.device /
    set_default_device / .to(), device=, map_location=, device_type=, device_map= and
    *_device= keywords, defaults of parameters and argparse options named device or
    *_device, values assigned to such names, comparisons with x.device.type, x.type or a
    device-named value. `.is_cuda` would silently be False on the NPU (taking a CPU branch),
    so it becomes `.is_npu`. `--device-map cuda:1=npu:0` renumbers indices for hosts with
    fewer devices. Any other "cuda"/"cuda:N" string is reported, never guessed.

    ## Example

    ```python
    state = torch.load(f, map_location={'cuda:1': 'cuda:0'})
    ```

    becomes

    ```python
    state = torch.load(f, map_location={'cuda:1': 'npu:0'})
    ```

    ## Fix safety

    Safe: a rewritten string is one torch reads as a device, and the NPU device has the same
    index numbering; any other "cuda" string is reported, never guessed.
    """

    id = "NPU001"
    name = "cuda-device-strings"
    summary = 'CUDA device strings, .cuda() and .is_cuda -> "npu", .npu(), .is_npu'
    severity = Severity.WARNING
    declines = 'a "cuda" string whose use is not certainly a torch device (reported)'
    cuda_only = True
    triggers = ("cuda",)
    examples = (
        Example(
            'import torch\nmodel = model.to("cuda:0")\nx = torch.zeros(3, device="cuda")\n',
            'import torch\nmodel = model.to("npu:0")\nx = torch.zeros(3, device="npu")\n',
        ),
        Example(
            "import torch as t\n"
            "dev = t.device('cuda', 1)\n"
            "state = t.load(path, map_location='cuda:1')\n"
            "y = x.cuda(1) if x.is_cuda else x.cuda()\n",
            "import torch as t\n"
            "dev = t.device('npu', 0)\n"
            "state = t.load(path, map_location='npu:0')\n"
            "y = x.npu(0) if x.is_npu else x.npu()\n",
            device_map=("cuda:1=npu:0",),
        ),
        Example(
            "def init_model(args, decode_device='cuda:1', *, device: str = 'cuda'):\n"
            "    self.device = 'cuda:0'\n"
            "    DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'\n"
            "    if x.device.type == 'cuda' or args.device != 'cuda:0':\n"
            "        pass\n"
            "init_model(args, decode_device='cuda:1')\n",
            "def init_model(args, decode_device='npu:1', *, device: str = 'npu'):\n"
            "    self.device = 'npu:0'\n"
            "    DEVICE = 'npu' if torch.cuda.is_available() else 'cpu'\n"
            "    if x.device.type == 'npu' or args.device != 'npu:0':\n"
            "        pass\n"
            "init_model(args, decode_device='npu:1')\n",
        ),
        Example(  # a device type kept in a variable for autocast and for branches
            "device_type = 'cuda' if 'cuda' in device else 'cpu'\n"
            "if device_type == 'cuda':\n"
            "    x = x.pin_memory()\n",
            "device_type = 'npu' if 'npu' in device else 'cpu'\n"
            "if device_type == 'npu':\n"
            "    x = x.pin_memory()\n",
        ),
        Example(
            "parser.add_argument(\n"
            "    '--device',  # where to run\n"
            "    default='cuda:0',\n"
            "    choices=['cpu', 'cuda:0', 'cuda:1'],\n"
            ")\n",
            "parser.add_argument(\n"
            "    '--device',  # where to run\n"
            "    default='npu:0',\n"
            "    choices=['cpu', 'npu:0', 'npu:1'],\n"
            ")\n",
        ),
        Example(
            "state = torch.load(f, map_location={'cuda:1': 'cuda:0'})\n",
            "state = torch.load(f, map_location={'cuda:1': 'npu:0'})\n",
        ),
        Example(
            'print("cuda is not required")\nlog("running on cuda")\nname = "cudagraphs"\n'
            "backend = 'cuda'\n",
            findings=1,
        ),
        Example(
            "import torch\n"
            "with torch.autocast(device_type='cuda'):\n    pass\n"
            "torch.cuda.synchronize()\n",
        ),
    )

    # -- where a literal gets its meaning -------------------------------------------------
    def _classify(self, literal: cst.SimpleString) -> str:
        child: cst.CSTNode = literal
        parent = self.parent(child)
        while isinstance(parent, _TRANSPARENT):
            if isinstance(parent, cst.IfExp) and child is parent.test:
                return UNKNOWN
            child, parent = parent, self.parent(parent)
        if isinstance(parent, cst.Arg):
            call = self.parent(parent)
            if isinstance(call, cst.Call) and self.is_name(call.func, *_AUTOCASTS):
                return OWNED  # NPU003 rewrites autocast device types
            return DEVICE if self._is_device_arg(parent, child) else UNKNOWN
        if isinstance(parent, cst.DictElement) and child is parent.key and self._in_map_location(
                parent):
            return OWNED  # where the checkpoint's tensors were saved: stays "cuda:N"
        return DEVICE if self._is_device_context(parent, child) else UNKNOWN

    def _in_map_location(self, element: cst.DictElement) -> bool:
        mapping = self.parent(element)
        arg = self.parent(mapping) if mapping is not None else None
        return isinstance(arg, cst.Arg) and arg.keyword is not None and (
            arg.keyword.value == "map_location")

    def _is_device_context(self, parent: cst.CSTNode | None, child: cst.CSTNode) -> bool:
        if isinstance(parent, cst.Param):
            return parent.default is child and device_like(parent.name.value)
        if isinstance(parent, cst.AssignTarget):
            return False
        if isinstance(parent, cst.Assign):
            return any(
                (name := _terminal_name(t.target)) is not None and device_like(name)
                for t in parent.targets
            )
        if isinstance(parent, cst.AnnAssign):
            name = _terminal_name(parent.target)
            return name is not None and device_like(name)
        if isinstance(parent, cst.ComparisonTarget):
            comparison = self.parent(parent)
            return isinstance(comparison, cst.Comparison) and self._is_device_operand(
                comparison.left)
        if isinstance(parent, cst.Comparison) and child is parent.left:
            return any(self._is_device_operand(t.comparator) for t in parent.comparisons)
        if isinstance(parent, cst.DictElement) and child is parent.value:
            key = string_value(parent.key)
            return (key is not None and device_like(key)) or self._in_map_location(parent)
        return False

    def _is_device_operand(self, node: cst.BaseExpression) -> bool:
        name = _terminal_name(node)
        return name is not None and (name == "type" or device_like(name))

    def _is_device_arg(self, arg: cst.Arg, child: cst.CSTNode) -> bool:
        call = self.parent(arg)
        if not isinstance(call, cst.Call) or (arg.value is not child and not isinstance(
                child, (cst.List, cst.Tuple, cst.Set))):
            return False
        keyword = arg.keyword.value if arg.keyword else None
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "add_argument":
            return keyword in ("default", "choices") and self._is_device_option(call)
        if keyword is not None:
            if keyword == "type":
                return self.is_name(call.func, "torch.device")
            return keyword in _DEVICE_KEYWORDS or device_like(keyword)
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if not positional or positional[0] is not arg:
            return False
        if self.is_name(call.func, *_DEVICE_FUNCS):
            return True
        return isinstance(call.func, cst.Attribute) and call.func.attr.value == "to"

    def _is_device_option(self, call: cst.Call) -> bool:
        for arg in call.args:
            value = string_value(arg.value)
            if value is None:
                continue
            if arg.keyword is None and value.startswith("-") and device_like(value):
                return True
            if arg.keyword is not None and arg.keyword.value == "dest" and device_like(value):
                return True
        return False

    # -- rewrites ------------------------------------------------------------------------
    def _new_device(self, literal: cst.SimpleString, index: str | None) -> cst.SimpleString:
        target = self.file.target
        text = target.device_string(int(index) if index is not None else None)
        return literal.with_changes(value=f"{literal.prefix}{literal.quote}{text}{literal.quote}")

    def leave_SimpleString(self, original_node: cst.SimpleString) -> None:
        value = string_value(original_node)
        match = _DEVICE.match(value) if value is not None else None
        if match is None:
            return
        kind = self._classify(original_node)
        if kind == OWNED:
            return
        if kind == UNKNOWN:
            self.report(original_node, f"{value!r} may name a CUDA device, but its use here is "
                        "not certain: not rewritten (use a device option or torch.device)")
            return
        new = self._new_device(original_node, match.group(1))
        self.replace(original_node, new, f"{value!r} -> {new.evaluated_value!r}")
        self._map_index_argument(original_node)

    def _map_index_argument(self, literal: cst.SimpleString) -> None:
        """``torch.device("cuda", 1)``: the index follows the device map."""
        arg = self.parent(literal)
        call = self.parent(arg) if isinstance(arg, cst.Arg) else None
        if not isinstance(call, cst.Call) or not self.is_name(call.func, "torch.device"):
            return
        for other in call.args:
            is_index = (other.keyword is None and other is not arg) or (
                other.keyword is not None and other.keyword.value == "index")
            if is_index and isinstance(other.value, cst.Integer):
                self._map_integer(other.value)

    def _map_integer(self, node: cst.Integer) -> None:
        old = int(node.evaluated_value)
        new = self.file.target.map_index(old)
        if new != old:
            self.replace(node, node.with_changes(value=str(new)),
                         f"device index {old} -> {new} (--device-map)")

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "cuda":
            return
        if self.is_name(func, "torch.cuda"):
            return
        self.replace(func.attr, func.attr.with_changes(value="npu"), ".cuda() -> .npu()")
        positional = [a for a in node.args if a.keyword is None]
        device_args = positional[:1] + [a for a in node.args
                                        if a.keyword is not None and a.keyword.value == "device"]
        for arg in device_args:
            if isinstance(arg.value, cst.Integer):
                self._map_integer(arg.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "is_cuda":
            self.replace(node.attr, node.attr.with_changes(value="is_npu"),
                         ".is_cuda -> .is_npu")
        elif node.attr.value == "cuda" and not isinstance(self.parent(node), cst.Call) \
                and not self.qualified_names(node) & {"torch.cuda"} \
                and not self._is_module_path(node):
            self.report(node, "`.cuda` used without a call (a bound method passed around?): "
                        "not rewritten; use .npu if it moves tensors to the device")

    def _is_module_path(self, node: cst.Attribute) -> bool:
        """``torch.cuda.x`` / ``torch.backends.cuda``: module attributes, not ``Tensor.cuda``."""
        root: cst.BaseExpression = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and root.value == "torch":
            return True
        return any(q.startswith("torch.") for q in self.qualified_names(node))
