"""Libraries that are not torch but take device arguments, and runtimes that exist for CUDA
only (``covo_port/data/device_consumers.tsv``): "npu" handed to one of them is an error, and a
module written for one of the runtimes has nothing to port."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

from covo_port.lib.datafiles import data_text


class ConsumerKind(str, enum.Enum):
    RUNTIME = "runtime"  # a module importing it exists for a CUDA-only runtime
    CONSUMER = "consumer"  # has its own device vocabulary
    KERNELS = "kernels"  # a library of CUDA kernels


@dataclass(frozen=True)
class Consumer:
    package: str
    kind: ConsumerKind
    library: str
    advice: str


@cache
def consumers() -> dict[str, Consumer]:
    """The table, by top-level import name."""
    lines = [line for line in data_text("device_consumers.tsv").splitlines()
             if line and not line.startswith("#")]
    header = lines[0].split("\t")
    found = {}
    for line in lines[1:]:
        cell = dict(zip(header, line.split("\t"), strict=True))
        found[cell["package"]] = Consumer(cell["package"], ConsumerKind(cell["kind"]),
                                          cell["library"], cell["advice"])
    return found


def consumer_of(qualified: str) -> Consumer | None:
    """The consumer that the dotted name ``qualified`` (``faster_whisper.WhisperModel``)
    belongs to, if any."""
    return consumers().get(qualified.split(".", 1)[0])
