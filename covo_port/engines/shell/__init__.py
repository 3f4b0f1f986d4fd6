"""The shell engine: scripts lexed into commands and words, rules' edits spliced in by offset."""

from __future__ import annotations

from collections.abc import Sequence

from covo_port.engines.config import EngineConfig
from covo_port.engines.kinds import is_shell_script
from covo_port.engines.outcome import FileOutcome
from covo_port.engines.shell.directives import ShellDirectives
from covo_port.engines.shell.file import ShellFile
from covo_port.engines.textedit import TextEdit, apply_edits
from covo_port.model import ENGINE_CODE, Finding, Rule, Severity

__all__ = ["is_shell_script", "rewrite_shell"]

def rewrite_shell(source: bytes, path: str, rules: Sequence[type[Rule]],
                  config: EngineConfig) -> FileOutcome:
    """Run the shell ``rules`` over a script's bytes (decoded losslessly)."""
    outcome = FileOutcome()
    if not rules:
        return outcome
    text = source.decode("utf-8", errors="surrogateescape")
    file = ShellFile(path, text, config.target, config.options)
    ordered = sorted(rules, key=lambda r: r.sort_key())
    for rule in ordered:
        rule.shell(file)
    directives = ShellDirectives(file, config.known)
    directives.suppress()  # `# covo-port: ignore` comments
    if config.options.annotate:
        directives.annotate()
    outcome.findings = [*directives.ignores.findings, *_unread(file, ordered), *file.findings]
    outcome.suppressed = directives.suppressed
    applied: list[TextEdit] = []
    previous = text
    for rule in ordered:
        edits = []
        for edit in (e for e in file.edits if e.rule == rule.id):
            if any(edit.start < a.end and a.start < edit.end for a in applied + edits):
                continue  # overlapping edits: the earlier rule wins
            edits.append(edit)
        new_text = apply_edits(text, applied + edits)
        if not edits or new_text == previous:
            continue
        applied += edits
        outcome.stages.append((rule.id, new_text.encode("utf-8", errors="surrogateescape")))
        outcome.changes.extend(e.change for e in edits)
        previous = new_text
    return outcome


def _unread(file: ShellFile, rules: Sequence[type[Rule]]) -> list[Finding]:
    """A warning for each part of the script that the parser could not read and that holds a
    word the rules look for: what is there may be left as it is."""
    words = {word for rule in rules for word in rule.triggers}
    findings, covered = [], -1
    for start, end in file.scan.unreadable:
        if end <= covered:
            continue  # inside a part already reported
        covered = end
        if any(word in file.text[start:end] for word in words):
            first, last = file.line_col(start)[0], file.line_col(max(end - 1, start))[0]
            lines = f"line {first}" if first == last else f"lines {first}-{last}"
            findings.append(Finding(ENGINE_CODE, file.path, first, 1, Severity.WARNING,
                                    f"{lines}: shell syntax that the parser cannot read: "
                                    "what is there may be left as it is; check it by hand"))
    return findings
