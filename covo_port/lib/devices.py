"""Device vocabulary: which literals name a torch device, where their values flow, and which
calls belong to libraries with a device vocabulary of their own.

A ``"cuda"``/``"cuda:N"`` literal means a torch device only in some places: an argument of
``torch.device``/``.to()``, a ``device=``-like keyword, the default of a device-named parameter,
option (argparse, click, typer) or dataclass field, a value assigned to a device-named variable
or key, a comparison with a device type (``device.startswith("cuda")`` too). Where the value
goes to a library that is not torch (faster-whisper, CTranslate2, vLLM, JAX...:
``covo_port/data/device_consumers.tsv``), "npu" is an error there: :class:`DeviceLiterals` says
so, so that the rule reports instead of rewriting.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import libcst as cst

from covo_port.lib.consumers import Consumer, consumer_of
from covo_port.lib.names import imported_names
from covo_port.lib.strings import string_value
from covo_port.model import PythonRule

#: ``"cuda"`` or ``"cuda:N"``.
CUDA_DEVICE = re.compile(r"^cuda(?::(\d+))?$")
#: Device types a collection of them may hold (``device in ("cpu", "mps")``).
DEVICE_TYPES = frozenset({"cpu", "cuda", "mps", "xpu", "xla", "meta", "hpu", "npu", "ipu"})

_DEVICE_FUNCS = {"torch.device", "torch.set_default_device", "torch.cuda.device",
                 "torch.cuda.set_device", "torch.Generator", "torch.get_device_module",
                 "torch.amp.GradScaler", "torch.amp.grad_scaler.GradScaler"}
_DEVICE_KEYWORDS = {"map_location", "device_type", "device_map", "type"}
_AUTOCASTS = {"torch.autocast", "torch.amp.autocast", "torch.amp.autocast_mode.autocast",
              "torch.cuda.amp.autocast", "torch.cpu.amp.autocast"}
#: Calls whose ``default=`` (or first argument) is an option's or a field's default value.
_OPTION_FACTORIES = {"add_argument", "option", "Option", "Argument", "field", "Field"}
# Between a literal and the construct that gives it its meaning: branches of `a if c else b`,
# `a or b`, and the elements of a list/tuple/set.
_TRANSPARENT = (cst.IfExp, cst.BooleanOperation, cst.Element, cst.List, cst.Tuple, cst.Set)


def device_like(name: str) -> bool:
    """``device``, ``decode_device``, ``DEVICE``, ``--target-device``, ``device_type``..."""
    name = name.lstrip("-").replace("-", "_").lower().removesuffix("_type")
    return name == "device" or name.endswith("_device")


def terminal_name(node: cst.CSTNode | None) -> str | None:
    """``x`` for ``x`` and ``a.b.x``; None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


class DeviceUse(enum.Enum):
    DEVICE = "device"  # certainly a torch device
    UNKNOWN = "unknown"  # may be a device; not certain
    OWNED = "owned"  # another rule's literal (autocast) or a saved location (map_location key)


@dataclass(frozen=True)
class Use:
    """What a device literal is, and the name its value is known by (a variable, a parameter,
    an option's dest, a keyword), which is how it may travel to a library that is not torch."""

    kind: DeviceUse
    name: str | None = None
    #: the library that receives the literal itself, where it is an argument of one of its calls
    consumer: Consumer | None = None
    #: whether the value travels beyond where it stands (a default, an assigned value, an
    #: option: other modules may receive it), rather than being used there (an argument)
    travels: bool = False


class DeviceLiterals:
    """Classifies device literals for ``rule`` (its parents and names)."""

    def __init__(self, rule: PythonRule) -> None:
        self.rule = rule

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.rule.parent(node)

    def classify(self, literal: cst.SimpleString) -> Use:
        child: cst.CSTNode = literal
        parent = self.parent(child)
        while isinstance(parent, _TRANSPARENT):
            if isinstance(parent, cst.IfExp) and child is parent.test:
                return Use(DeviceUse.UNKNOWN)
            child, parent = parent, self.parent(parent)
        if isinstance(parent, cst.Arg):
            return self._argument(parent, child)
        if isinstance(parent, cst.DictElement) and child is parent.key and self._in_map_location(
                parent):
            return Use(DeviceUse.OWNED)  # where the checkpoint's tensors were saved
        return self._context(parent, child)

    def _argument(self, arg: cst.Arg, child: cst.CSTNode) -> Use:
        call = self.parent(arg)
        if not isinstance(call, cst.Call):
            return Use(DeviceUse.UNKNOWN)
        if self.rule.is_name(call.func, *_AUTOCASTS) or (
                call.args and self.rule.is_name(call.func, "functools.partial")
                and self.rule.is_name(call.args[0].value, *_AUTOCASTS)):
            return Use(DeviceUse.OWNED)  # NPU003 rewrites autocast device types
        names = imported_names(self.rule, call.func)
        consumer = next((c for n in sorted(names) if (c := consumer_of(n)) is not None), None)
        if consumer is not None:
            return Use(DeviceUse.UNKNOWN, consumer=consumer)
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "startswith" and (
                self.is_device_operand(func.value)):  # device.startswith("cuda"): a test
            return Use(DeviceUse.DEVICE, self._operand_name(func.value))
        option = self._option_name(call, arg)
        if option is not None:
            return Use(DeviceUse.DEVICE, option, travels=True) if device_like(option) else Use(
                DeviceUse.UNKNOWN)
        if arg.value is not child and not isinstance(child, (cst.List, cst.Tuple, cst.Set)):
            return Use(DeviceUse.UNKNOWN)
        keyword = arg.keyword.value if arg.keyword else None
        if keyword is not None:
            if keyword == "type":
                return Use(DeviceUse.DEVICE if self.rule.is_name(call.func, "torch.device")
                           else DeviceUse.UNKNOWN)
            return Use(DeviceUse.DEVICE, keyword) if (
                keyword in _DEVICE_KEYWORDS or device_like(keyword)) else Use(DeviceUse.UNKNOWN)
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if positional and positional[0] is arg and (
                self.rule.is_name(call.func, *_DEVICE_FUNCS) or (
                    isinstance(call.func, cst.Attribute) and call.func.attr.value == "to")):
            return Use(DeviceUse.DEVICE)
        return Use(DeviceUse.UNKNOWN)

    def _option_name(self, call: cst.Call, arg: cst.Arg) -> str | None:
        """The name of the option or field whose default (or choices) ``arg`` gives:
        ``add_argument("--device", default=...)``, ``click.option("--device", default=...)``,
        ``typer.Option("cuda", "--device")``, ``device: str = field(default=...)`` (None: not
        such a call, or not such an argument)."""
        factory = terminal_name(call.func)
        if factory == "Choice":  # click.option(..., type=click.Choice([...]))
            holder = self.parent(call)
            option = self.parent(holder) if isinstance(holder, cst.Arg) else None
            if isinstance(holder, cst.Arg) and holder.keyword is not None and (
                    holder.keyword.value == "type") and isinstance(option, cst.Call):
                return self._option_name(option, holder.with_changes(
                    keyword=cst.Name("choices"))) if arg is call.args[0] else None
            return None
        if factory not in _OPTION_FACTORIES:
            return None
        keyword = arg.keyword.value if arg.keyword else None
        flags = [v for a in call.args if a.keyword is None
                 and (v := string_value(a.value)) is not None and v.startswith("-")]
        dest = next((string_value(a.value) for a in call.args
                     if a.keyword is not None and a.keyword.value == "dest"), None)
        if factory in ("Option", "Argument", "field", "Field"):
            first = next((a for a in call.args if a.keyword is None), None)
            if keyword not in ("default", "choices") and arg is not first:
                return None
            name = dest or (flags[0] if flags else self._declared_name(call))
        elif keyword in ("default", "choices"):  # argparse and click name it by its long flag
            name = dest or next((f for f in flags if f.startswith("--")), None) or (
                flags[0] if flags else None)
        else:
            return None
        return name.lstrip("-").replace("-", "_") if name else None

    def _declared_name(self, call: cst.Call) -> str | None:
        """``device`` for ``device: str = field(...)`` / ``def f(device=typer.Option(...))``."""
        owner = self.parent(call)
        if isinstance(owner, cst.Param) and owner.default is call:
            return owner.name.value
        if isinstance(owner, cst.AnnAssign | cst.Assign) and owner.value is call:
            targets = [owner.target] if isinstance(owner, cst.AnnAssign) else [
                t.target for t in owner.targets]
            return next((n for t in targets if (n := terminal_name(t)) is not None), None)
        return None

    def _in_map_location(self, element: cst.DictElement) -> bool:
        mapping = self.parent(element)
        arg = self.parent(mapping) if mapping is not None else None
        return isinstance(arg, cst.Arg) and arg.keyword is not None and (
            arg.keyword.value == "map_location")

    def _context(self, parent: cst.CSTNode | None, child: cst.CSTNode) -> Use:
        if isinstance(parent, cst.Param):
            name = parent.name.value
            return Use(DeviceUse.DEVICE, name, travels=True) if (
                parent.default is child and device_like(name)) else Use(DeviceUse.UNKNOWN)
        if isinstance(parent, cst.Assign | cst.AnnAssign):
            targets = [parent.target] if isinstance(parent, cst.AnnAssign) else [
                t.target for t in parent.targets]
            name = next((n for t in targets if (n := terminal_name(t)) is not None
                         and device_like(n)), None)
            return Use(DeviceUse.DEVICE, name, travels=True) if name else Use(DeviceUse.UNKNOWN)
        if isinstance(parent, cst.ComparisonTarget):
            comparison = self.parent(parent)
            if isinstance(comparison, cst.Comparison) and self.is_device_operand(
                    comparison.left):
                return Use(DeviceUse.DEVICE, self._operand_name(comparison.left))
            return Use(DeviceUse.UNKNOWN)
        if isinstance(parent, cst.Comparison) and child is parent.left:
            operand = next((t.comparator for t in parent.comparisons
                            if self.is_device_operand(t.comparator)), None)
            return Use(DeviceUse.DEVICE, self._operand_name(operand)) if operand else Use(
                DeviceUse.UNKNOWN)
        if isinstance(parent, cst.DictElement) and child is parent.value:
            key = string_value(parent.key)
            if key is not None and device_like(key):
                return Use(DeviceUse.DEVICE, key, travels=True)
            return Use(DeviceUse.DEVICE) if self._in_map_location(parent) else Use(
                DeviceUse.UNKNOWN)
        return Use(DeviceUse.UNKNOWN)

    @staticmethod
    def _operand_name(node: cst.BaseExpression) -> str | None:
        """The variable a compared device belongs to: ``device`` of ``device``,
        ``self.model.device`` (a model's device travels with it)."""
        name = terminal_name(node)
        if name == "type" and isinstance(node, cst.Attribute):
            name = terminal_name(node.value)
        return name

    @staticmethod
    def is_device_operand(node: cst.BaseExpression) -> bool:
        name = terminal_name(node)
        return name is not None and (name == "type" or device_like(name))


def consumer_arguments(rule: PythonRule, call: cst.Call) -> tuple[Consumer, set[str]] | None:
    """For a call of a library with its own device vocabulary: the library, and the names
    (variables, attributes, keywords) whose values the call receives."""
    consumer = next((c for n in sorted(imported_names(rule, call.func))
                     if (c := consumer_of(n)) is not None), None)
    if consumer is None:
        return None
    names = {name for arg in call.args if (name := terminal_name(arg.value)) is not None}
    return consumer, names
