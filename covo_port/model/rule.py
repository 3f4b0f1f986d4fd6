"""The rule model: what every module in ``rewrites/`` declares, and what a rule may do.

A rule is one class in one module of ``rewrites/``, in the anatomy of ruff's rules and Fixit's
lint rules: an id (``NPU001``) and a readable name (``cuda-device-strings``), a one-line summary,
a docstring in four sections (What it does / Why it breaks on Ascend / Example / Fix safety),
the severity of its findings, the safety of its fixes, the trigger words that must appear in a
file's raw text for the rule to possibly match, and ``examples`` that the test suite runs.

A rule declares itself in its class statement, with keyword arguments in the order of
:data:`DECLARATION` and only where it differs from its base class's default, and gives its
summary as its docstring's first line::

    class Triton(PackageRule, id="NPU101", name="triton-kernels", category=Category.KERNELS,
                 triggers=("triton",)):
        '''Triton kernels (import triton, @triton.jit, kernel[grid](...)) reported

        ## What it does
        ...
        '''

        def visit_Decorator(self, node: cst.Decorator) -> None: ...

        examples = (...)

:meth:`Rule.__init_subclass__` makes each keyword a class attribute, and the docstring's first
paragraph :attr:`Rule.summary`, so ``Triton.id``, ``Triton.summary`` and ``Triton.safety``
(``Safety.REPORT``, the default of ``PackageRule``) read as class attributes. Base classes of
the helper library declare their defaults the same way (``class PackageRule(PythonRule,
safety=Safety.REPORT, cuda_only=True)``). The body holds the docstring, the rule's own code,
and last the ``examples``.

Python rules are libcst visitors that run together in one batched pass over a file; they never
mutate the tree, they record edits and findings on the file they are given (a
:class:`PythonSource`), which the Python engine applies. Shell rules get the lexed script (a
:class:`~covo_port.model.shell.ShellSource`) and record text edits; config rules get a config
file's values (a :class:`~covo_port.model.config.ConfigSource`) and rewrite values; build rules
get what a build file installs (a :class:`~covo_port.model.build.BuildSource`) and report.
Nothing here knows how a file is parsed: the engines implement these protocols.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Protocol, TypeVar

import libcst as cst
from libcst.metadata import (
    CodeRange,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)
from libcst.metadata.base_provider import ProviderT

from covo_port.model.options import RunOptions
from covo_port.model.records import Category, Change, Finding, Safety, Severity
from covo_port.model.sources import BuildSource, ConfigSource, ShellSource
from covo_port.model.support import SupportHelper
from covo_port.model.target import Target
from covo_port.model.tree import TreeIndex

_T = TypeVar("_T")

#: What a rule declares in its class statement (``class R(Rule, id=..., name=...)``), in the
#: order it declares it; each is a class attribute of :class:`Rule` with its default. The
#: summary is the docstring's first line.
DECLARATION = ("id", "name", "category", "severity", "safety", "cuda_only", "triggers", "phase",
               "opt_in", "needs_tree", "declines", "fixes_non_npu")
#: The sections of a rule's docstring, in order (ruff's rule documentation).
DOC_SECTIONS = ("What it does", "Why it breaks on Ascend", "Example", "Fix safety")
_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)

Replacement = cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel
NewNode = cst.CSTNode | Callable[[cst.CSTNode], Replacement]


@dataclass(frozen=True)
class Example:
    """A case the test suite runs for a rule (Fixit's VALID/INVALID cases in one).

    ``after=None`` means the source must come out byte-identical. ``findings`` is the number of
    findings the rule must report on ``before`` (``None``: not checked). ``with_rules`` names other
    rules that run alongside (for rules that react to other rules' edits). ``unsafe_fixes`` runs
    the example as ``apply --unsafe-fixes`` does.
    """

    before: str
    after: str | None = None
    findings: int | None = 0
    path: str = "example.py"
    device_map: tuple[str, ...] = ()
    with_rules: tuple[str, ...] = ()
    unsafe_fixes: bool = False


def doc_summary(doc: str | None) -> str:
    """A rule docstring's summary: its first paragraph, before the ``## `` sections, on one
    line."""
    head = _HEADING.split(inspect.cleandoc(doc or ""), 1)[0]
    return " ".join(head.split("\n\n", 1)[0].split())


def doc_sections(doc: str | None) -> dict[str, str]:
    """A rule docstring's ``## Heading`` sections, by heading, dedented and stripped."""
    text = inspect.cleandoc(doc or "")
    parts = _HEADING.split(text)
    return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


@cache
def _encoded_triggers(rule: type, triggers: tuple[str, ...]) -> tuple[bytes, ...]:
    """A rule's trigger words as bytes, encoded once per process (they are tested on every
    file); keyed by the words too, so a rule whose words change gets them anew."""
    return tuple(word.encode() for word in triggers)


class Rule:
    """Common declaration of every rule."""

    id: ClassVar[str]
    #: Readable name, next to the code (``cuda-device-strings``), as ruff names its rules.
    name: ClassVar[str]
    #: One line (the docstring's first), for `rules`, the README's table and commit subjects.
    summary: ClassVar[str]
    severity: ClassVar[Severity] = Severity.WARNING
    #: The kind of CUDA construct it ports (the report's per-category counts).
    category: ClassVar[Category]
    #: Whether the rule's fixes are applied by default (see :class:`Safety`).
    safety: ClassVar[Safety] = Safety.SAFE
    #: When a rewriting rule declines and reports instead (one sentence, for `rules` and docs).
    declines: ClassVar[str] = ""
    #: Where the rewrite fixes a problem that is not the NPU's (a library's packaging), what
    #: it is, in one sentence: OUT's commit of the rule and `rules` say so, for a reviewer who
    #: may drop that commit.
    fixes_non_npu: ClassVar[str] = ""
    #: Whether the rule's warning and error findings mark code that cannot run on the target
    #: (a Triton kernel, a torch.cuda call with no NPU twin...): a probe (``x.is_cuda``,
    #: ``torch.cuda.is_available()``, a device-type test) that guards such code is not switched
    #: to the NPU, so that the code's own CUDA-free path runs there instead.
    cuda_only: ClassVar[bool] = False
    #: Words whose absence from a file's raw text proves the rule cannot match (case-sensitive).
    triggers: ClassVar[tuple[str, ...]]
    examples: ClassVar[Sequence[Example]] = ()
    #: Rules with a higher phase run after (and can see the edits of) lower phases.
    phase: ClassVar[int] = 0
    #: Opt-in rules run only when ``apply --optimize NAME`` names them.
    opt_in: ClassVar[str | None] = None
    #: Rules that must know the rest of SRC (see :meth:`tree_words`) get a :class:`TreeIndex`.
    needs_tree: ClassVar[bool] = False

    def __init_subclass__(cls, **declaration: Any) -> None:
        """The class statement's keyword arguments (:data:`DECLARATION`) become the class's
        attributes (``class R(Rule, id="NPU001", ...)``: ``R.id == "NPU001"``), and a rule's
        docstring's first paragraph its :attr:`summary`."""
        unknown = sorted(declaration.keys() - set(DECLARATION))
        if unknown:
            raise TypeError(f"{cls.__name__}: {', '.join(unknown)} is not a rule declaration "
                            f"(one of {', '.join(DECLARATION)})")
        super().__init_subclass__()
        for key, value in declaration.items():
            setattr(cls, key, value)
        if "id" in vars(cls):
            cls.summary = doc_summary(cls.__doc__)

    @classmethod
    def docs(cls) -> dict[str, str]:
        """The rule's documentation, by section (:data:`DOC_SECTIONS`)."""
        return doc_sections(cls.__doc__)

    @classmethod
    def rationale(cls) -> str:
        """Why the construct breaks on Ascend (the docstring's section of that name)."""
        return cls.docs().get("Why it breaks on Ascend", "")

    @classmethod
    def tree_words(cls, path: str, data: bytes) -> set[str]:
        """For ``needs_tree`` rules: the words (facts) of one file of SRC, ``path`` relative to
        SRC, that the rule must know across the tree (``TreeIndex.used_elsewhere``,
        ``TreeIndex.files_with``)."""
        return set()

    @classmethod
    def needed_in(cls, path: str, tree: TreeIndex) -> bool:
        """For ``needs_tree`` rules: whether the rule must run on the file ``path`` whatever
        its text says, known from the tree index alone (an entry module that starts a program
        whose modules use CUDA); the cheap pass never leaves such a file out."""
        return False

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        """Whether the rule can find anything in ``source``; where no rule can, the file is not
        parsed at all. One of the trigger words is necessary; a rule may narrow this with
        other cheap tests on the raw bytes (never wider than its trigger words)."""
        return any(word in source for word in _encoded_triggers(cls, cls.triggers))

    @classmethod
    def might_match_code(cls, code: bytes, tree: ast.Module, target: Target) -> bool:
        """The second level of the cheap pass, for a Python file that :meth:`might_match`
        passed, before libcst parses it: ``code`` is the file's bytes with its comments and
        docstrings blanked out (offsets and lines unchanged), ``tree`` Python's own parse of it.
        By default :meth:`might_match` on the code; a rule may narrow this with a look at the
        tree (the names its imports bind, the calls it makes), never wider."""
        return cls.might_match(code, target)

    @classmethod
    def sort_key(cls) -> tuple[int, str]:
        return (cls.phase, cls.id)

    @classmethod
    def shell(cls, file: ShellSource) -> None:
        """Rewrite a shell script: override in rules that apply to shell."""

    @classmethod
    def handles_shell(cls) -> bool:
        return cls.shell.__func__ is not Rule.shell.__func__  # type: ignore[attr-defined]

    @classmethod
    def config(cls, file: ConfigSource) -> None:
        """Rewrite a config file's values (YAML, JSON, TOML, INI, .env): override in rules
        that apply to config files."""

    @classmethod
    def handles_config(cls) -> bool:
        return cls.config.__func__ is not Rule.config.__func__  # type: ignore[attr-defined]

    @classmethod
    def build(cls, file: BuildSource) -> None:
        """Report on a build file (requirements, pyproject.toml, setup.cfg, conda environment,
        Dockerfile): override in rules that apply to build files."""

    @classmethod
    def handles_build(cls) -> bool:
        return cls.build.__func__ is not Rule.build.__func__  # type: ignore[attr-defined]

    @classmethod
    def handles_python(cls) -> bool:
        return issubclass(cls, PythonRule)

    @classmethod
    def languages(cls) -> str:
        names = [n for n, ok in (("python", cls.handles_python()),
                                 ("shell", cls.handles_shell()),
                                 ("config", cls.handles_config()),
                                 ("build", cls.handles_build())) if ok]
        return "+".join(names)


class PythonSource(Protocol):
    """What a Python rule may read and record on the module it rewrites (the Python engine's
    file implements it)."""

    path: str
    #: The parsed module (the nodes that edits and findings refer to).
    module: cst.Module
    #: The file's bytes, for cheap tests before a walk of the tree.
    source: bytes
    target: Target
    options: RunOptions
    #: The rest of SRC, for rules that declare ``needs_tree`` (None: this file is the program).
    tree: TreeIndex | None

    @property
    def parents(self) -> Mapping[cst.CSTNode, cst.CSTNode]:
        """Each node's parent."""
        ...

    @property
    def imports(self) -> Mapping[str, set[str]]:
        """Every name an import of the module binds -> the dotted names it was bound to."""
        ...

    def may_reach(self, node: cst.BaseExpression, component: str) -> bool:
        """Whether the dotted name ``node`` can resolve to a name with ``component`` in it (a
        cheap test before resolving names, which costs a scope analysis)."""
        ...

    def imported_names(self, node: cst.CSTNode) -> set[str]:
        """The qualified names of ``node`` that come from imports (a local ``torch = ...`` is
        not torch)."""
        ...

    def may_name(self, node: cst.CSTNode, names: Collection[str]) -> bool:
        """Whether ``node`` can resolve to one of the dotted ``names`` (False only where it
        certainly cannot: a test before resolving names, which costs a scope analysis)."""
        ...

    def metadata(self, provider: ProviderT, node: cst.CSTNode, default: Any) -> Any:
        """libcst metadata of ``node`` (resolved for the file when a rule first asks)."""
        ...

    def code(self, node: Replacement) -> str:
        """The source text of ``node``."""
        ...

    def add_edit(self, rule: PythonRule, node: cst.CSTNode, new: NewNode, message: str,
                 safety: Safety) -> None:
        """Record that ``node`` becomes ``new``."""
        ...

    def add_finding(self, rule: PythonRule, node: cst.CSTNode, message: str,
                    severity: Severity) -> None:
        """Record a finding at ``node``."""
        ...

    def add_support(self, helper: SupportHelper) -> None:
        """Record that the module, rewritten, imports ``helper`` from a support module."""
        ...

    def changes(self) -> Sequence[Change]:
        """The changes recorded so far (by rules of this and earlier phases)."""
        ...

    def findings(self) -> Sequence[Finding]:
        """The findings recorded so far."""
        ...


_MISSING = object()


@cache
def _visitor_names(cls: type) -> tuple[str, ...]:
    """The visit_/leave_ methods of a rule class, found once per class (libcst looks them up
    with inspect.getmembers on every instance, i.e. once per file)."""
    return tuple(name for name in dir(cls)
                 if name.startswith(("visit_", "leave_")) and callable(getattr(cls, name))
                 and not getattr(getattr(cls, name), "_is_no_op", False))


class PythonRule(Rule, cst.BatchableCSTVisitor):
    """A libcst visitor that records edits and findings on a :class:`PythonSource`."""

    METADATA_DEPENDENCIES: ClassVar[tuple[ProviderT, ...]] = (
        PositionProvider,
        QualifiedNameProvider,
        ScopeProvider,
    )

    def __init__(self, file: PythonSource) -> None:
        super().__init__()
        self.file = file

    def get_visitors(self) -> Mapping[str, Callable[..., Any]]:  # type: ignore[override]
        return {name: getattr(self, name) for name in _visitor_names(type(self))}

    def get_metadata(self, key: type[Any], node: cst.CSTNode,  # type: ignore[override]
                     default: _T | object = _MISSING) -> Any:
        """libcst's ``get_metadata``, served by the file (which resolves each provider once,
        for all rules, when one first asks)."""
        if key not in self.get_inherited_dependencies():
            raise KeyError(f"{type(self).__name__} does not declare {key.__name__}")
        value = self.file.metadata(key, node, default)
        if value is _MISSING:
            raise KeyError(f"no {key.__name__} for {type(node).__name__}")
        return value

    # -- helpers shared by rules -------------------------------------------------------------
    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """Fully resolved dotted names of ``node`` (aliases and ``from`` imports followed)."""
        return {q.name for q in self.get_metadata(QualifiedNameProvider, node, set())}

    def is_name(self, node: cst.CSTNode, *names: str) -> bool:
        """True where ``node`` resolves (through imports) to one of ``names``."""
        return self.file.may_name(node, names) and not self.qualified_names(node).isdisjoint(
            names)

    def position(self, node: cst.CSTNode) -> CodeRange:
        return self.get_metadata(PositionProvider, node)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.file.parents.get(node)

    def replace(self, node: cst.CSTNode, new: NewNode, message: str, *,
                safety: Safety | None = None) -> None:
        """Record that ``node`` becomes ``new``.

        ``new`` may be a callable that receives the node as other rules left it (so edits
        nested inside ``node`` survive). ``safety`` overrides the rule's own for this edit
        (an unsafe edit is proposed, not applied, unless the run asks for unsafe fixes).
        """
        self.file.add_edit(self, node, new, message, safety or self.safety)

    def report(self, node: cst.CSTNode, message: str, severity: Severity | None = None) -> None:
        """Record a finding at ``node``."""
        self.file.add_finding(self, node, message, severity or self.severity)

    def finish(self) -> None:
        """Called once at the end of the pass over the module (metadata still available).

        Rules of a higher phase run in a later pass, so their ``finish`` sees every edit of the
        lower phases in ``self.file.changes()``. Override this, not ``leave_Module``.
        """

    def leave_Module(self, original_node: cst.Module) -> None:
        self.finish()
