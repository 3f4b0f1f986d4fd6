"""What a port converted, per category of CUDA construct, as HIPIFY reports its conversions.

Every rule declares its category (``Rule.category``). A CUDA construct that a rule met is
*rewritten* (a change in OUT), *proposed* (an unsafe fix, reported with its edit and applied
only with ``--unsafe-fixes``), *reported* (a finding: a human must port it) or *suppressed* (a
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

from covo_port.model import ENGINE_CODE, Category
from covo_port.pipeline.manifest import Manifest
from covo_port.registry import all_rules

#: The report's name for records of a rule it does not know (a manifest of a newer version).
OTHER = "other"


def category(rule_id: str) -> str:
    """The category a rule declares (``other`` for a rule this version does not know)."""
    if rule_id == ENGINE_CODE:
        return Category.COVO_PORT.value
    found = next((r.category for r in all_rules() if r.id == rule_id), None)
    return OTHER if found is None else found.value


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
    order = [c.value for c in Category if c.is_construct]
    rows = [CategoryCount(name, **counts[name]) for name in (*order, OTHER) if name in counts]
    total = CategoryCount("total", *(sum(getattr(r, f) for r in rows) for f in
                                     ("rewritten", "proposed", "reported", "suppressed")))
    return rows, total
