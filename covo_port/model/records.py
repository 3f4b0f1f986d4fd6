"""What a run records: changes, findings, suppressions, and the codes and states they carry.

These are plain, picklable data (they cross between worker processes and are written to the
manifest); nothing here knows how a file is parsed or rewritten.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: The code of findings that come from covo-port itself (a file it cannot read or parse, a
#: skipped folder, a git limit), not from a rule.
ENGINE_CODE = "NPU000"


class Severity(str, enum.Enum):
    """How much a finding needs a human. ``error`` findings make ``apply`` exit 1."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Safety(str, enum.Enum):
    """Whether a rule's fix is applied (ruff's "fix applicability").

    ``safe``: the rewrite keeps what the code does on the CPU and makes it run on the NPU; it is
    applied. ``unsafe``: the rewrite can change behaviour (a guess about what a value means, a
    probe that may select another code path); it is reported with the edit it proposes and
    applied only with ``apply --unsafe-fixes``. ``report``: the rule never rewrites, it reports.
    """

    SAFE = "safe"
    UNSAFE = "unsafe"
    REPORT = "report"


class Category(str, enum.Enum):
    """The kind of CUDA construct a rule ports, as HIPIFY counts its conversions (the report's
    per-category table); in the order the report lists them."""

    DEVICES = "devices"
    CUDA_API = "torch.cuda API"
    AMP = "amp"
    DISTRIBUTED = "distributed"
    BACKENDS = "backends"
    OPERATORS = "operators"
    PROFILING = "profiling and monitoring"
    KERNELS = "kernels and extensions"
    PACKAGES = "packages"
    #: Not a CUDA construct: what the port adds to make the NPU work (``import torch_npu``).
    SETUP = "NPU set-up"
    #: Not a CUDA construct: the opt-in optimizations.
    OPTIMIZATION = "optimization"
    #: Not a rule: covo-port's own findings (files it cannot read or parse...).
    COVO_PORT = "covo-port"

    @property
    def is_construct(self) -> bool:
        """Whether its records are CUDA constructs (counted in the converted share)."""
        return self not in (Category.SETUP, Category.OPTIMIZATION, Category.COVO_PORT)


@dataclass(frozen=True)
class Change:
    """One rewrite, as recorded in the manifest. Lines are 1-based, columns 1-based."""

    rule: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    before: str
    after: str
    message: str
    #: An ``apply --annotate`` comment put above a line with a finding (no code changed).
    annotation: bool = False
    #: An unsafe fix, applied because the run asked for unsafe fixes.
    unsafe: bool = False


@dataclass(frozen=True)
class Finding:
    """Something a human must look at: not rewritten, or rewritten with a caveat.

    ``fix`` is the edit an unsafe fix proposes (not applied: ``apply --unsafe-fixes`` applies
    it)."""

    rule: str
    path: str
    line: int
    column: int
    severity: Severity
    message: str
    fix: Change | None = None


class FileKind(str, enum.Enum):
    """What a file of SRC is, as the manifest records it."""

    PYTHON = "python"
    SHELL = "shell"
    NOTEBOOK = "notebook"
    CONFIG = "config"  # YAML, JSON, TOML, INI/cfg, .env
    BUILD = "build"  # requirements, pyproject.toml, setup.cfg, conda environment, Dockerfile
    BINARY = "binary"
    TEXT = "text"
    LARGE = "large"  # over the rewrite size limit
    SYMLINK = "symlink"
    SPECIAL = "special"  # FIFO, socket, device
    UNREADABLE = "unreadable"
    METADATA = "metadata"  # a VCS's metadata, a cache, covo-port's own folder: never copied


class FileStatus(str, enum.Enum):
    """What the run did with a file of SRC (or, ``added``, wrote into OUT)."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"  # could not be read or rewritten (an error finding says why)
    SKIPPED = "skipped"  # not in OUT (a finding says why)
    COPIED = "copied"  # a symlink, copied as a link
    #: copied unchanged, not rewritten: left out by --include/--exclude or .gitignore, or
    #: marked generated (a finding says so)
    EXCLUDED = "excluded"
    #: not in SRC: a support module that the run wrote into OUT (see model.support)
    ADDED = "added"


class SuppressedKind(str, enum.Enum):
    FINDING = "finding"
    CHANGE = "change"


@dataclass(frozen=True)
class Suppressed:
    """A finding or a rewrite that a ``# covo-port: ignore`` comment switched off."""

    rule: str
    path: str
    line: int
    kind: SuppressedKind
    message: str
