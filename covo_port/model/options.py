"""What a run asks for beyond the target (opt-in rules, rule selection, fix safety, where
``import torch_npu`` goes): what every rule may read of it (``file.options``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ImportStyle(str, enum.Enum):
    """Where the port imports the target's runtime module (``import torch_npu``)."""

    #: In the program's entry modules (scripts, ``__main__``, console scripts, notebooks), so
    #: that library modules keep importing where torch_npu is not installed; library modules
    #: of a tree without such an entry get the guarded form.
    ENTRY = "entry"
    #: In every module that the port made use the NPU, guarded (``try: import torch_npu``,
    #: ``except ImportError: pass``): one tree that imports with or without torch_npu.
    GUARDED = "guarded"
    #: In every module that the port made use the NPU, unguarded (Huawei's tool does so).
    MODULE = "module"


@dataclass(frozen=True)
class RunOptions:
    """What a run asks for beyond the target: opt-in rules, rule selection, fix safety."""

    optimize: frozenset[str] = frozenset()
    #: Rule ids to run; empty means every rule that is not opt-in.
    select: frozenset[str] = field(default_factory=frozenset)
    #: Rule ids never to run (after ``select``).
    ignore: frozenset[str] = field(default_factory=frozenset)
    #: Write ``# covo-port: RULE message`` above each line with a warning or error finding.
    annotate: bool = False
    #: Apply the fixes that rules mark unsafe (otherwise they are reported with the edit).
    unsafe_fixes: bool = False
    #: Where ``import torch_npu`` goes.
    import_style: ImportStyle = ImportStyle.ENTRY
    #: Let rules write their explanatory comments (``# covo-port NPU006: ...``) into OUT;
    #: ``apply --no-comments`` switches them off for a patch meant for the upstream.
    comments: bool = True
