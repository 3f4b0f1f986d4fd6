"""The build engine: pip requirements files, ``pyproject.toml``, ``setup.cfg``, conda
environment files and Dockerfiles, each read with its ecosystem's own parser into what it
installs (requirements, package indexes and channels), its base images and the environment it
sets. Build rules only report (a build file is the user's to change: which NPU build to install
depends on their CANN and torch versions); ``--annotate`` notes are the only edits, checked by
reading the file back. A file its parser refuses costs only that file (a warning finding).
Suppression comments (``# covo-port: ignore[NPU201]``) go on the requirement's line (in a
Dockerfile, on a comment line above the instruction).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from covo_port.engines.buildfiles.file import BuildFile
from covo_port.engines.buildfiles.parts import BuildParts
from covo_port.engines.config import EngineConfig
from covo_port.engines.configfiles.base import ConfigParseError, text_body, unreadable
from covo_port.engines.kinds import build_kind
from covo_port.engines.outcome import FileOutcome
from covo_port.engines.textedit import apply_edits
from covo_port.engines.textfile import annotation_edits, comment_ignores, suppress
from covo_port.model import ENGINE_CODE, Finding, Rule, Severity

__all__ = ["build_kind", "rewrite_build"]

#: kind -> (its name in messages, the module of its reader, comment markers); a reader's module,
#: and its parser, is imported when a run first reads a file of that kind
READERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "requirements": ("a pip requirements file", "requirements", ("#",)),
    "pyproject": ("pyproject.toml", "pyproject", ("#",)),
    "setup.cfg": ("setup.cfg", "setupcfg", ("#", ";")),
    "conda": ("a conda environment", "conda", ("#",)),
    "dockerfile": ("a Dockerfile", "dockerfile", ("#",)),
}


def rewrite_build(source: bytes, path: str, rules: Sequence[type[Rule]],
                  config: EngineConfig) -> FileOutcome:
    """Run the build ``rules`` over a build file; never raises for bad input."""
    name = path.rsplit("/", 1)[-1]
    kind = build_kind(name, source[:8192]) or "requirements"
    label, module, markers = READERS[kind]
    reader = importlib.import_module(f"{__name__}.{module}")
    read: Callable[[str], BuildParts] = reader.read
    unchecked = "its packages not checked"
    read_text = text_body(source, path, label, unchecked)
    if isinstance(read_text, FileOutcome):
        return read_text
    bom, body = read_text
    try:
        parts = read(body)
    except ConfigParseError as exc:
        return unreadable(path, exc, label, unchecked)
    file = BuildFile(path, kind, body, parts, config.target, config.options)
    ordered = sorted(rules, key=lambda r: r.sort_key())
    for rule in ordered:
        rule.build(file)
    outcome = FileOutcome(findings=[Finding(ENGINE_CODE, path, line, 1, Severity.INFO,
                                            f"{why}: not checked") for line, why in
                                    parts.problems])
    attach = reader.comment_lines(body) if kind == "dockerfile" else None
    ignores = comment_ignores(path, body, config.known, markers, attach)
    spans = {line: [first] for line, first in parts.firsts.items()}
    outcome.suppressed = suppress(ignores, path, file.findings, [], spans)
    outcome.findings += ignores.findings + file.findings
    if config.options.annotate:
        notes = annotation_edits(path, body, file.findings, parts.firsts)
        if notes and _reads_back(read, apply_edits(body, notes), parts):
            applied = []
            for rule in ordered:
                mine = [n for n in notes if n.rule == rule.id]
                if mine:
                    applied += mine
                    outcome.stages.append(
                        (rule.id, (bom + apply_edits(body, applied)).encode("utf-8")))
                    outcome.changes.extend(n.change for n in mine)
    return outcome


def _reads_back(read: Callable[[str], BuildParts], text: str, parts: BuildParts) -> bool:
    try:
        return read(text).summary() == parts.summary()
    except ConfigParseError:
        return False
