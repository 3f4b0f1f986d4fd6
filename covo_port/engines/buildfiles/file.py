"""The build file that the build rules of one run share (the
:class:`~covo_port.model.BuildSource` they see): what it installs and sets, and the findings."""

from __future__ import annotations

from covo_port.engines.buildfiles.parts import BuildParts
from covo_port.model import Finding, Rule, RunOptions, Severity, Target


class BuildFile:
    """What the build rules of one run share: the file's text, what it installs, findings."""

    def __init__(self, path: str, kind: str, text: str, parts: BuildParts, target: Target,
                 options: RunOptions) -> None:
        self.path = path
        self.kind = kind
        self.text = text
        self.target = target
        self.options = options
        self.requirements = parts.requirements
        self.indexes = parts.indexes
        self.images = parts.images
        self.settings = parts.settings
        self.findings: list[Finding] = []

    def report(self, rule: type[Rule], line: int, column: int, message: str,
               severity: Severity | None = None) -> None:
        """Record a finding at ``line``/``column``."""
        self.findings.append(Finding(rule.id, self.path, line, column,
                                     severity or rule.severity, message))
