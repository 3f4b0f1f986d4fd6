"""What a rule sees of the files that are not Python: a shell script, a config file, a build
file. The engines implement these protocols; a rule's hook (``Rule.shell``, ``Rule.config``,
``Rule.build``) receives one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from covo_port.model.build import BaseImage, BuildSetting, PackageIndex, Requirement
from covo_port.model.config import ConfigEntry
from covo_port.model.records import Severity
from covo_port.model.shell import ShellScan
from covo_port.model.target import Target


class RuleInfo(Protocol):
    """What an engine reads of the rule that records an edit or a finding."""

    id: ClassVar[str]
    severity: ClassVar[Severity]


class Options(Protocol):
    """The run's options (``RunOptions``), as a file offers them to its rules."""

    @property
    def annotate(self) -> bool: ...


class ShellSource(Protocol):
    """What a shell rule may read and record on the script it rewrites."""

    path: str
    text: str
    target: Target
    options: Options
    scan: ShellScan

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of ``offset``."""
        ...

    def replace(self, rule: type[RuleInfo], start: int, end: int, new: str, message: str) -> None:
        """Record that ``text[start:end]`` becomes ``new``."""
        ...

    def report(self, rule: type[RuleInfo], offset: int, message: str,
               severity: Severity | None = None) -> None:
        """Record a finding at ``offset``."""
        ...


class ConfigSource(Protocol):
    """What a config rule may read and record on the file it rewrites."""

    path: str
    #: "yaml", "json", "toml", "ini" or "env"
    format: str
    text: str
    target: Target
    options: Options
    #: Every scalar of the file, in the order of the text.
    entries: Sequence[ConfigEntry]

    def replace(self, rule: type[RuleInfo], entry: ConfigEntry, new: str, message: str) -> None:
        """Record that the string ``entry.value`` becomes ``new`` (only the value's characters
        change; where they cannot be edited in place, or the file would read back differently,
        the engine reports instead)."""
        ...

    def report(self, rule: type[RuleInfo], entry: ConfigEntry, message: str,
               severity: Severity | None = None) -> None:
        """Record a finding at ``entry``."""
        ...


class BuildSource(Protocol):
    """What a build rule may read and record on a build file."""

    path: str
    #: "requirements", "pyproject", "setup.cfg", "conda" or "dockerfile"
    kind: str
    text: str
    target: Target
    options: Options
    requirements: Sequence[Requirement]
    indexes: Sequence[PackageIndex]
    images: Sequence[BaseImage]
    settings: Sequence[BuildSetting]

    def report(self, rule: type[RuleInfo], line: int, column: int, message: str,
               severity: Severity | None = None) -> None:
        """Record a finding at ``line``/``column``."""
        ...
