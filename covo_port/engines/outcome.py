"""What an engine made of one file's bytes: its stages (one per rule that changed it), the
changes, findings and suppressions, or why it was left unchanged."""

from __future__ import annotations

from dataclasses import dataclass, field

from covo_port.model import Change, Finding, SupportHelper, Suppressed


@dataclass
class FileOutcome:
    """The result of running the rules over one file's bytes.

    ``stages`` holds, for each rule that changed the file and in rule order, the file's bytes
    after that rule and all rules before it; the last stage is the output. ``error`` is set when
    the file could not be processed (it is then copied unchanged); ``error_line`` says where.
    """

    stages: list[tuple[str, bytes]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    error_line: int = 1
    #: findings and rewrites that `# covo-port: ignore` comments switched off
    suppressed: list[Suppressed] = field(default_factory=list)
    #: the helpers that the output imports from a support module that the run writes (those
    #: of the rules that changed the file)
    support: list[SupportHelper] = field(default_factory=list)

    def output(self, source: bytes) -> bytes:
        return self.stages[-1][1] if self.stages else source

    @property
    def changed(self) -> bool:
        return bool(self.stages)
