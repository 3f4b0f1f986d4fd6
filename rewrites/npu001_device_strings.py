"""NPU001: CUDA device strings, ``.cuda()`` and ``.is_cuda`` -> the NPU's."""

from __future__ import annotations

import re

import libcst as cst

from covo_port.lib.consumers import Consumer
from covo_port.lib.devices import (
    CUDA_DEVICE,
    DEVICE_TYPES,
    DeviceLiterals,
    DeviceUse,
    Use,
    terminal_name,
)
from covo_port.lib.flows import ConsumerFlow, consumer_elsewhere, consumer_facts
from covo_port.lib.imports import ImportAware
from covo_port.lib.names import is_imported
from covo_port.lib.strings import string_value, with_value
from covo_port.model import Category, Example, PythonSource, Safety, Target

#: ``in ("cpu", "mps")``: a collection of device types that are not CUDA, which the rule extends
#: with the NPU whether or not "cuda" stands anywhere in the file.
_DEVICE_COLLECTION = re.compile(
    rb"""\bin\s*[(\[{]\s*["'](?:cpu|mps|xpu|xla|meta|hpu|ipu)["']""")


class DeviceStrings(ImportAware, id="NPU001", name="cuda-device-strings",
                    category=Category.DEVICES, cuda_only=True, triggers=("cuda",), needs_tree=True,
                    declines='a "cuda" string whose use is not certainly a torch device '
                             '(reported)'):
    """CUDA device strings, .cuda() and .is_cuda -> "npu", .npu(), .is_npu

    ## What it does

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

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """"cuda", or a collection of the device types that take the CUDA-free path."""
        return super().might_match(source, target) or _DEVICE_COLLECTION.search(
            source) is not None

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self.literals = DeviceLiterals(self)
        #: device literals to rewrite, decided at the end (their values may reach a library
        #: that is not torch): (literal, its use, the device index in it)
        self._pending: list[tuple[cst.SimpleString, Use, str | None]] = []
        self.flow = ConsumerFlow(self)

    # -- device literals -------------------------------------------------------------------
    def leave_SimpleString(self, original_node: cst.SimpleString) -> None:
        value = string_value(original_node)
        match = CUDA_DEVICE.match(value) if value is not None else None
        if match is None:
            return
        use = self.literals.classify(original_node)
        if use.kind is DeviceUse.OWNED:
            return
        if use.consumer is not None:
            self.report(original_node, _foreign_message(value, use.consumer))
        elif use.kind is DeviceUse.UNKNOWN:
            self.report(original_node, f"{value!r} may name a CUDA device, but its use here is "
                        "not certain: not rewritten (use a device option or torch.device)")
        else:
            self._pending.append((original_node, use, match.group(1)))

    def visit_Call(self, node: cst.Call) -> None:
        self.flow.call(node)
        self._cuda_call(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.flow.assign(node)

    @classmethod
    def tree_words(cls, path: str, data: bytes) -> set[str]:
        """``consumer:<package>`` where a file imports a library with its own devices."""
        return consumer_facts(path, data)

    def finish(self) -> None:
        reaching = self.flow.reaching()
        elsewhere = (consumer_elsewhere(self.file.tree, self.id, self.file.path)
                     if any(u.travels for _, u, _ in self._pending) else None)
        for literal, use, index in self._pending:
            value = string_value(literal)
            consumer = reaching.get(use.name or "")
            if consumer is not None:
                self.report(literal, f"{_foreign_message(value, consumer)} (its value, "
                            f"`{use.name}`, is passed to it in this module)")
                continue
            new = self._new_device(literal, index)
            message = f"{value!r} -> {new.evaluated_value!r}"
            if use.travels and elsewhere is not None:
                self.replace(literal, new, f"{message}: `{use.name}` may reach "
                             f"{elsewhere[0].library}, imported in {elsewhere[1]}, where "
                             "\"npu\" is an error", safety=Safety.UNSAFE)
                continue
            self.replace(literal, new, message)
            self._map_index_argument(literal)

    def _new_device(self, literal: cst.SimpleString, index: str | None) -> cst.SimpleString:
        target = self.file.target
        text = target.device_string(int(index) if index is not None else None)
        return with_value(literal, text)

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

    # -- collections of the device types that are not CUDA ---------------------------------
    def visit_Comparison(self, node: cst.Comparison) -> None:
        """``device in ("cpu", "mps")``: a list of the device types that take the code's
        CUDA-free path; the NPU is one of them (where the choice decides map_location: load
        a CUDA-saved checkpoint onto the CPU, not onto a device the host lacks)."""
        if len(node.comparisons) != 1 or not self.literals.is_device_operand(node.left):
            return
        target = node.comparisons[0]
        collection = target.comparator
        if not isinstance(target.operator, cst.In | cst.NotIn) or not isinstance(
                collection, cst.Tuple | cst.List | cst.Set) or not collection.elements:
            return
        kinds = [string_value(e.value) for e in collection.elements]
        if None in kinds or not set(kinds) <= DEVICE_TYPES or "cuda" in kinds or (
                self.file.target.device_type in kinds):
            return
        device = self.file.target.device_type
        last = collection.elements[-1]
        quote = last.value.quote if isinstance(last.value, cst.SimpleString) else '"'

        def add(updated: cst.CSTNode) -> cst.CSTNode:
            assert isinstance(updated, cst.Tuple | cst.List | cst.Set)
            *head, tail = updated.elements
            comma = tail.comma if isinstance(tail.comma, cst.Comma) else cst.Comma(
                whitespace_after=cst.SimpleWhitespace(" "))
            new = cst.Element(cst.SimpleString(f"{quote}{device}{quote}"),
                              comma=cst.MaybeSentinel.DEFAULT if not isinstance(
                                  tail.comma, cst.Comma) else tail.comma.with_changes(
                                  whitespace_after=cst.SimpleWhitespace("")))
            return updated.with_changes(elements=[*head, tail.with_changes(comma=comma), new])

        safety = Safety.SAFE if self._decides_map_location(node) else Safety.UNSAFE
        self.replace(collection, add, f"{device!r} added to the device types of the CUDA-free "
                     "path", safety=safety)

    def _decides_map_location(self, node: cst.Comparison) -> bool:
        """``map_location = "cpu" if device in (...) else None`` (or as the argument)."""
        owner = self.parent(node)
        if not isinstance(owner, cst.IfExp) or owner.test is not node:
            return False
        holder = self.parent(owner)
        if isinstance(holder, cst.Arg):
            return holder.keyword is not None and holder.keyword.value == "map_location"
        if isinstance(holder, cst.Assign):
            return any(terminal_name(t.target) == "map_location" for t in holder.targets)
        return False

    # -- .cuda() and .is_cuda ----------------------------------------------------------------
    def _cuda_call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value != "cuda":
            return
        if self.is_name(func, "torch.cuda") or self._is_module_path(func):
            return
        made = self.flow.made(func.value)
        if made is not None:
            self.report(node, f".cuda() of an object of {made.library}, whose .cuda() does more "
                        "than move it (bitsandbytes quantises there): .npu() would skip that; "
                        f"left as it is; on an Ascend host: {made.advice}")
            return
        self.replace(func.attr, func.attr.with_changes(value="npu"), ".cuda() -> .npu()")
        positional = [a for a in node.args if a.keyword is None]
        device_args = positional[:1] + [a for a in node.args
                                        if a.keyword is not None and a.keyword.value == "device"]
        for arg in device_args:
            if isinstance(arg.value, cst.Integer):
                self._map_integer(arg.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self.in_import:
            return  # `from kernels.cuda import x`: a package path
        if node.attr.value == "is_cuda":
            self.replace(node.attr, node.attr.with_changes(value="is_npu"),
                         ".is_cuda -> .is_npu")
        elif node.attr.value == "cuda_stream":
            self.report(node, "`.cuda_stream` is a CUDA stream handle (for a custom CUDA kernel or "
                        "library): it has no meaning on the NPU (a torch_npu stream's handle is "
                        "`.npu_stream`, for Ascend C kernels); port its consumer by hand")
        elif node.attr.value == "cuda" and not isinstance(self.parent(node), cst.Call) \
                and not self._is_module_path(node):
            self.report(node, "`.cuda` used without a call (a bound method passed around?): "
                        "not rewritten; use .npu if it moves tensors to the device")

    def _is_module_path(self, node: cst.Attribute) -> bool:
        """``torch.cuda.x``, ``torch.backends.cuda``, ``kernels.cuda``: a module's attribute
        (reached through an import), not ``Tensor.cuda``."""
        root: cst.BaseExpression = node
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and root.value == "torch":
            return True
        return is_imported(self, node)

    examples = (
        Example(  # bitsandbytes moves and quantises in its own .cuda()
            "import bitsandbytes as bnb\n"
            "w = bnb.nn.Params4bit(data, requires_grad=False)\nw.cuda(device)\n",
            findings=1,
        ),
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
        Example(  # options and config fields of every kind, treated the same way
            "import click, typer\nfrom dataclasses import dataclass, field\n"
            "@click.option('--device', default='cuda', type=click.Choice(['cpu', 'cuda']))\n"
            "def main(device):\n    pass\n"
            "def cli(device: str = typer.Option('cuda', '--device')):\n    pass\n"
            "@dataclass\nclass Config:\n    device: str = field(default='cuda')\n",
            "import click, typer\nfrom dataclasses import dataclass, field\n"
            "@click.option('--device', default='npu', type=click.Choice(['cpu', 'npu']))\n"
            "def main(device):\n    pass\n"
            "def cli(device: str = typer.Option('npu', '--device')):\n    pass\n"
            "@dataclass\nclass Config:\n    device: str = field(default='npu')\n",
        ),
        Example(  # a checkpoint saved on CUDA loads onto the CPU on the NPU too
            "def load(path, device='cuda'):\n"
            "    map_location = 'cpu' if device in ('cpu', 'mps') else None\n"
            "    return torch.load(path, map_location=map_location)\n",
            "def load(path, device='npu'):\n"
            "    map_location = 'cpu' if device in ('cpu', 'mps', 'npu') else None\n"
            "    return torch.load(path, map_location=map_location)\n",
        ),
        Example(  # the same, where the device comes from elsewhere (no "cuda" in the file)
            "def load(path, device):\n"
            "    map_location = 'cpu' if device in ('cpu', 'mps') else None\n"
            "    return torch.load(path, map_location=map_location)\n",
            "def load(path, device):\n"
            "    map_location = 'cpu' if device in ('cpu', 'mps', 'npu') else None\n"
            "    return torch.load(path, map_location=map_location)\n",
        ),
        Example(  # devices of libraries that are not torch; a package path named cuda
            "from faster_whisper import WhisperModel\nfrom kernels.cuda import gelu\n"
            "def transcribe(audio, asr_device='cuda'):\n"
            "    model = WhisperModel('small', device=asr_device)\n"
            "    return WhisperModel('tiny', device='cuda'), gelu\n",
            findings=2,
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


def _foreign_message(value: str | None, consumer: Consumer) -> str:
    return (f"{value!r} is a device of {consumer.library}, not of torch: \"npu\" would be an "
            f"error there, so it is left as it is; on an Ascend host: {consumer.advice}")
