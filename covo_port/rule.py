"""The rule model: what every module in ``rewrites/`` declares, and what a rule may do.

A rule is one class in one module of ``rewrites/``. It carries its id, a one-line summary, the
rationale (why the construct breaks on the target), the severity of its findings, the trigger
words that must appear in a file's raw text for the rule to possibly match, and ``examples``
that the test suite runs. Python rules are libcst visitors that run together in one batched pass
over a file's metadata wrapper; they never mutate the tree, they record edits that the engine
applies. Shell rules get the lexed script and record text edits.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import libcst as cst
from libcst.metadata import (
    CodeRange,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

if TYPE_CHECKING:
    from covo_port.pyengine import PyFile
    from covo_port.shell import ShellFile
    from covo_port.target import Target


class Severity(str, enum.Enum):
    """How much a finding needs a human. ``error`` findings make ``apply`` exit 1."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Example:
    """A case the test suite runs for a rule.

    ``after=None`` means the source must come out byte-identical. ``findings`` is the number of
    findings the rule must report on ``before`` (``None``: not checked). ``with_rules`` names other
    rules that run alongside (for rules that react to other rules' edits).
    """

    before: str
    after: str | None = None
    findings: int | None = 0
    path: str = "example.py"
    device_map: tuple[str, ...] = ()
    with_rules: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Finding:
    """Something a human must look at: not rewritten, or rewritten with a caveat."""

    rule: str
    path: str
    line: int
    column: int
    severity: Severity
    message: str


class Rule:
    """Common declaration of every rule."""

    id: ClassVar[str]
    summary: ClassVar[str]
    rationale: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    #: Words whose absence from a file's raw text proves the rule cannot match (case-sensitive).
    triggers: ClassVar[tuple[str, ...]]
    examples: ClassVar[Sequence[Example]] = ()
    #: Rules with a higher phase run after (and can see the edits of) lower phases.
    phase: ClassVar[int] = 0
    #: Opt-in rules run only when ``apply --optimize NAME`` names them.
    opt_in: ClassVar[str | None] = None
    #: Rules that must know the rest of SRC (``PyFile.tree``) make the engine index it first.
    needs_tree: ClassVar[bool] = False

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """Whether the rule can find anything in ``source``; where no rule can, the file is not
        parsed at all. One of the trigger words is necessary; a rule may narrow this with
        other cheap tests on the raw bytes (never wider than its trigger words)."""
        return any(word.encode() in source for word in cls.triggers)

    @classmethod
    def sort_key(cls) -> tuple[int, str]:
        return (cls.phase, cls.id)

    @classmethod
    def shell(cls, file: ShellFile) -> None:
        """Rewrite a shell script: override in rules that apply to shell (see ShellFile)."""

    @classmethod
    def handles_shell(cls) -> bool:
        return cls.shell.__func__ is not Rule.shell.__func__  # type: ignore[attr-defined]

    @classmethod
    def handles_python(cls) -> bool:
        return issubclass(cls, PythonRule)

    @classmethod
    def languages(cls) -> str:
        names = [n for n, ok in (("python", cls.handles_python()),
                                 ("shell", cls.handles_shell())) if ok]
        return "+".join(names)


MetadataDeps = tuple[type, ...]


class PythonRule(Rule, cst.BatchableCSTVisitor):
    """A libcst visitor that records edits and findings on a :class:`PyFile`."""

    METADATA_DEPENDENCIES: ClassVar[MetadataDeps] = (
        PositionProvider,
        QualifiedNameProvider,
        ScopeProvider,
    )

    def __init__(self, file: PyFile) -> None:
        super().__init__()
        self.file = file

    # -- helpers shared by rules -------------------------------------------------------------
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """Fully resolved dotted names of ``node`` (aliases and ``from`` imports followed)."""
        return {q.name for q in self.get_metadata(QualifiedNameProvider, node, set())}

    def is_name(self, node: cst.CSTNode, *names: str) -> bool:
        """True where ``node`` resolves (through imports) to one of ``names``."""
        return not self.qualified_names(node).isdisjoint(names)

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.file.parents.get(node)

    def replace(
        self,
        node: cst.CSTNode,
        new: cst.CSTNode | Callable[[cst.CSTNode], cst.CSTNode],
        message: str,
        *,
        uses_target_device: bool = False,
    ) -> None:
        """Record that ``node`` becomes ``new``.

        ``new`` may be a callable that receives the node as other rules left it (so edits
        nested inside ``node`` survive). ``uses_target_device`` marks edits after which the
        module needs the target's runtime module imported.
        """
        self.file.add_edit(self, node, new, message, uses_target_device)

    def report(self, node: cst.CSTNode, message: str, severity: Severity | None = None) -> None:
        """Record a finding at ``node``."""
        self.file.add_finding(self, node, message, severity or self.severity)

    def finish(self) -> None:
        """Called once at the end of the pass over the module (metadata still available).

        Rules of a higher phase run in a later pass, so their ``finish`` sees every edit of the
        lower phases in ``self.file.edits``. Override this, not ``leave_Module``.
        """

    def leave_Module(self, original_node: cst.Module) -> None:
        self.finish()


@dataclass(frozen=True)
class RunOptions:
    """What a run asks for beyond the target: opt-in rules and rule selection."""

    optimize: frozenset[str] = frozenset()
    #: Rule ids to run; empty means every rule that is not opt-in.
    select: frozenset[str] = field(default_factory=frozenset)
    #: Write ``# covo-port: RULE message`` above each line with a warning or error finding.
    annotate: bool = False
