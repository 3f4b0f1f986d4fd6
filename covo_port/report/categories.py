"""What a port converted, per category of CUDA construct, as HIPIFY reports its conversions.

Every rule belongs to one category. A CUDA construct that a rule met is *rewritten* (a change
in OUT), *proposed* (an unsafe fix, reported with its edit and applied only with
``--unsafe-fixes``), *reported* (a finding: a human must port it) or *suppressed* (a
``# covo-port: ignore`` comment in SRC left it as it is). The converted share is rewritten over
all four. A finding that comes with a rewrite (a caveat) counts once in each, as HIPIFY counts
a reference it converts with a warning.

Two categories are not CUDA constructs and stay out of the shares: what the port adds to make
the NPU work (``import torch_npu``) and the opt-in optimizations; so do covo-port's own
findings (files it cannot read or parse, generated or oversized files).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from covo_port.model import ENGINE_CODE
from covo_port.pipeline.manifest import Manifest

DEVICES = "devices"
CUDA_API = "torch.cuda API"
AMP = "amp"
DISTRIBUTED = "distributed"
BACKENDS = "backends"
OPERATORS = "operators"
PROFILING = "profiling and monitoring"
KERNELS = "kernels and extensions"
PACKAGES = "packages"
SETUP = "NPU set-up"
OPTIMIZATION = "optimization"
COVO_PORT = "covo-port"

#: rule id -> category, in the order the report lists them
CATEGORIES: dict[str, str] = {
    "NPU001": DEVICES, "NPU002": DEVICES, "NPU011": DEVICES, "NPU018": DEVICES,
    "NPU010": CUDA_API, "NPU006": CUDA_API, "NPU110": CUDA_API,
    "NPU003": AMP,
    "NPU012": DISTRIBUTED,
    "NPU007": BACKENDS, "NPU013": BACKENDS,
    "NPU004": OPERATORS, "NPU005": OPERATORS, "NPU017": OPERATORS,
    "NPU014": PROFILING, "NPU106": PROFILING, "NPU108": PROFILING,
    "NPU101": KERNELS, "NPU102": KERNELS, "NPU103": KERNELS, "NPU105": KERNELS,
    "NPU107": KERNELS, "NPU109": KERNELS, "NPU111": KERNELS,
    "NPU008": PACKAGES, "NPU015": PACKAGES, "NPU104": PACKAGES, "NPU112": PACKAGES,
    "NPU009": SETUP,
    "NPU016": OPTIMIZATION,
    ENGINE_CODE: COVO_PORT,
}
ORDER = tuple(dict.fromkeys(CATEGORIES.values()))
#: Categories whose records are not CUDA constructs (left out of the converted share).
NOT_CONSTRUCTS = frozenset({SETUP, OPTIMIZATION, COVO_PORT})
OTHER = "other"


def category(rule_id: str) -> str:
    """The category of a rule (``other`` for a rule this table does not know yet)."""
    return CATEGORIES.get(rule_id, OTHER)


@dataclass
class CategoryCount:
    category: str
    rewritten: int = 0
    proposed: int = 0
    reported: int = 0
    suppressed: int = 0

    @property
    def total(self) -> int:
        return self.rewritten + self.proposed + self.reported + self.suppressed

    @property
    def converted(self) -> float | None:
        """The share rewritten (None where the category met nothing)."""
        return self.rewritten / self.total if self.total else None

    def to_json(self) -> dict[str, Any]:
        converted = self.converted
        return {"category": self.category, "rewritten": self.rewritten,
                "proposed": self.proposed, "reported": self.reported,
                "suppressed": self.suppressed,
                "converted": None if converted is None else round(converted, 4)}


def category_counts(manifest: Manifest) -> tuple[list[CategoryCount], CategoryCount]:
    """(the CUDA-construct categories a run met, in report order; their total)."""
    counts: dict[str, Counter[str]] = {}

    def add(rule: str, what: str) -> None:
        counts.setdefault(category(rule), Counter())[what] += 1

    for change in manifest.changes:
        if not change.annotation:
            add(change.rule, "rewritten")
    for finding in manifest.findings:
        add(finding.rule, "proposed" if finding.fix is not None else "reported")
    for suppressed in manifest.suppressed:
        add(suppressed.rule, "suppressed")
    rows = [CategoryCount(name, **counts[name]) for name in (*ORDER, OTHER)
            if name in counts and name not in NOT_CONSTRUCTS]
    total = CategoryCount("total", *(sum(getattr(r, f) for r in rows) for f in
                                     ("rewritten", "proposed", "reported", "suppressed")))
    return rows, total
