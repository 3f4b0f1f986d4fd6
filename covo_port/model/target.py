"""What a port aims at: the device type, its runtime module and how devices are numbered."""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from covo_port.model.errors import UserError

_DEVICE_RE = re.compile(r"^(?P<type>[a-z]+)(?::(?P<index>\d+))?$")
_WORD = re.compile(r"\w+")


def _without_comments(code: str) -> str:
    """``code`` less its comments (``code`` as it is where it does not tokenize)."""
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline)
                  if t.type != tokenize.COMMENT]
        return tokenize.untokenize(tokens)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return code


class TargetError(UserError, ValueError):
    """A target name, device string or device map that makes no sense."""


def parse_device(text: str) -> tuple[str, int | None]:
    """Split ``"npu:0"`` into ``("npu", 0)``; raise TargetError on anything else."""
    m = _DEVICE_RE.match(text.strip())
    if not m:
        raise TargetError(f"{text!r} is not a device string (expected e.g. 'npu' or 'npu:0')")
    index = m.group("index")
    return m.group("type"), int(index) if index is not None else None


@dataclass(frozen=True)
class Target:
    """A porting target: ``npu`` is the only one today."""

    name: str
    device_type: str
    runtime_module: str
    visible_devices_env: str
    device_map: dict[int, int] = field(default_factory=dict)
    #: Identifiers and strings that only mean something once the runtime module is imported
    #: (``"npu:0"``, ``.npu()``, ``torch.npu``, the ``hccl`` backend...).
    runtime_words: tuple[str, ...] = ()

    def needs_runtime(self, code: str) -> bool:
        """Whether rewritten ``code`` names something that exists only after ``import`` of the
        runtime module (comments aside)."""
        words = set(_WORD.findall(_without_comments(code)))
        return not words.isdisjoint(self.runtime_words)

    def map_index(self, cuda_index: int) -> int:
        """The target index that a CUDA device index becomes (``--device-map``)."""
        return self.device_map.get(cuda_index, cuda_index)

    def device_string(self, cuda_index: int | None) -> str:
        """``"cuda:1"`` -> ``"npu:1"`` (or what the device map says)."""
        if cuda_index is None:
            return self.device_type
        return f"{self.device_type}:{self.map_index(cuda_index)}"


TARGETS = {
    "npu": Target(
        name="npu",
        device_type="npu",
        runtime_module="torch_npu",
        visible_devices_env="ASCEND_RT_VISIBLE_DEVICES",
        runtime_words=("npu", "is_npu", "torch_npu", "NPU", "hccl", "HCCL",
                       "is_hccl_available"),
    ),
}


def _side(item: str, side: str, text: str, example: str) -> tuple[str, int | None]:
    """One side of a ``--device-map`` item, with an error that names the side."""
    try:
        return parse_device(text)
    except TargetError:
        raise TargetError(f"--device-map {item!r}: the {side} side {text!r} is not a device "
                          f"(expected e.g. {example})") from None


def parse_device_map(items: tuple[str, ...] | list[str], target: Target) -> dict[int, int]:
    """Parse ``--device-map cuda:1=npu:0`` options into ``{1: 0}``."""
    mapping: dict[int, int] = {}
    for item in items:
        left, sep, right = item.partition("=")
        if not sep:
            raise TargetError(f"--device-map {item!r}: expected SRC=DST, e.g. cuda:1=npu:0")
        src_type, src_index = _side(item, "left", left, "cuda:1")
        dst_type, dst_index = _side(item, "right", right, f"{target.device_type}:0")
        if src_type != "cuda" or src_index is None:
            raise TargetError(f"--device-map {item!r}: the left side must be cuda:N, e.g. cuda:1")
        if dst_type != target.device_type or dst_index is None:
            raise TargetError(f"--device-map {item!r}: the right side must be "
                              f"{target.device_type}:N, e.g. {target.device_type}:0")
        if src_index in mapping and mapping[src_index] != dst_index:
            raise TargetError(f"--device-map: cuda:{src_index} is mapped twice")
        mapping[src_index] = dst_index
    return mapping


def get_target(name: str, device_map: tuple[str, ...] | list[str] = ()) -> Target:
    """The target called ``name``, with its device map; TargetError if unknown."""
    try:
        base = TARGETS[name]
    except KeyError:
        known = ", ".join(sorted(TARGETS))
        raise TargetError(f"unknown target {name!r} (known: {known})") from None
    mapping = parse_device_map(device_map, base)
    return Target(
        name=base.name,
        device_type=base.device_type,
        runtime_module=base.runtime_module,
        visible_devices_env=base.visible_devices_env,
        device_map=mapping,
        runtime_words=base.runtime_words,
    )
