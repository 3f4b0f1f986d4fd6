"""The config engine: YAML, JSON, TOML, INI/cfg and ``.env`` files, read with each format's own
library into entries (key path, scalar value, where its characters lie); the config rules
rewrite values by entry, and only those characters change.

Every rewrite is checked by reading the output back with the same library: the file must hold
the same keys and values as before, but for the rewritten ones, which must read as their new
values. Where it does not, nothing is rewritten and each edit is reported instead. A file its
library refuses costs only that file: a warning finding, the file copied unchanged; a file over
1 MB is taken for data (a tokenizer vocabulary, a lock file), with an info finding. Suppression
comments (``# covo-port: ignore[NPU019]``) work in every format but JSON, on the value's line;
``--annotate`` notes are checked the same way as the rewrites.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType

from covo_port.engines.config import EngineConfig
from covo_port.engines.configfiles.base import ConfigParseError, text_body, unreadable
from covo_port.engines.configfiles.file import ConfigFile
from covo_port.engines.kinds import config_format
from covo_port.engines.outcome import FileOutcome
from covo_port.engines.textedit import TextEdit, apply_edits
from covo_port.engines.textfile import annotation_edits, comment_ignores, suppress
from covo_port.model import ENGINE_CODE, ConfigEntry, Finding, Rule, Severity

__all__ = ["READERS", "config_format", "rewrite_config"]

Reader = Callable[[str], list[ConfigEntry]]

#: format -> (its name in messages, the module of its reader, comment markers); a reader's
#: module, and its format's library, is imported when a run first reads a file of that format
READERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "yaml": ("YAML", "yamlfile", ("#",)),
    "json": ("JSON", "jsonfile", ()),
    "toml": ("TOML", "tomlfile", ("#",)),
    "ini": ("INI", "inifile", ("#", ";")),
    "env": (".env", "envfile", ("#",)),
}


def reader_module(name: str) -> ModuleType:
    """The reader module ``name`` of this package, imported on first use."""
    return importlib.import_module(f"{__name__}.{name}")


#: Larger files are data (tokenizer vocabularies, lock files, datasets), not settings.
MAX_CONFIG_BYTES = 1024 * 1024
def _values(entries: Sequence[ConfigEntry],
            new: dict[int, str] | None = None) -> list[tuple[tuple[str | int, ...], object]]:
    new = new or {}
    return [(e.keys, new.get(e.start, e.value) if e.editable else e.value) for e in entries]


def _reads_back(read: Reader, text: str, edits: Sequence[TextEdit],
                expected: list[tuple[tuple[str | int, ...], object]]) -> bool:
    try:
        return _values(read(apply_edits(text, edits))) == expected
    except ConfigParseError:
        return False


def rewrite_config(source: bytes, path: str, rules: Sequence[type[Rule]],
                   config: EngineConfig) -> FileOutcome:
    """Run the config ``rules`` over a config file; never raises for bad input."""
    name = path.rsplit("/", 1)[-1]
    fmt = config_format(name) or "yaml"
    label, module, markers = READERS[fmt]
    reader = reader_module(module)
    read: Reader = reader.read
    if len(source) > MAX_CONFIG_BYTES:
        return FileOutcome(findings=[Finding(
            ENGINE_CODE, path, 1, 1, Severity.INFO,
            f"{len(source) / 2**20:.1f} MB: too large for a config file, taken for data "
            f"(a vocabulary, a lock file): not read as {label}; copied unchanged")])
    unchecked = "its values not checked"
    read_text = text_body(source, path, label, unchecked)
    if isinstance(read_text, FileOutcome):
        return read_text
    bom, body = read_text
    problems: list[int] = []
    try:
        if fmt == "env":
            entries, problems = reader.read_with_errors(body)
        else:
            entries = read(body)
    except ConfigParseError as exc:
        return unreadable(path, exc, label, unchecked)
    file = ConfigFile(path, fmt, body, entries, config.target, config.options)
    ordered = sorted(rules, key=lambda r: r.sort_key())
    for rule in ordered:
        rule.config(file)
    outcome = FileOutcome(findings=[
        Finding(ENGINE_CODE, path, line, 1, Severity.INFO,
                "python-dotenv cannot read this line (not NAME=value): its value is not checked")
        for line in problems])
    ignores = comment_ignores(path, body, config.known, markers) if markers else None
    if ignores is not None:
        outcome.suppressed = suppress(ignores, path, file.findings, file.edits)
        outcome.findings += ignores.findings
    edits = _without_overlaps(file.edits, ordered)
    expected = _values(entries, {e.start: e.new for e in edits})
    if edits and not _reads_back(read, body, edits, expected):
        file.findings += [Finding(e.rule, path, e.change.line, e.change.column, Severity.WARNING,
                                  f"{e.change.message}: not rewritten: the file would not read "
                                  "back with only this value changed") for e in edits]
        edits = []
    if config.options.annotate and markers:
        notes = annotation_edits(path, body, file.findings)
        if notes and _reads_back(read, body, edits + notes, expected):
            edits += notes
    outcome.findings += file.findings
    _stages(outcome, bom, body, edits, ordered)
    return outcome


def _without_overlaps(edits: Sequence[TextEdit], ordered: Sequence[type[Rule]]) -> list[TextEdit]:
    """The edits in rule order, less those that overlap an earlier one (the earlier rule wins)."""
    kept: list[TextEdit] = []
    for rule in ordered:
        for edit in (e for e in edits if e.rule == rule.id):
            if not any(edit.start < k.end and k.start < edit.end for k in kept):
                kept.append(edit)
    return kept


def _stages(outcome: FileOutcome, bom: str, body: str, edits: Sequence[TextEdit],
            ordered: Sequence[type[Rule]]) -> None:
    """One stage per rule that changed the file (the text after it and the rules before)."""
    applied: list[TextEdit] = []
    for rule in ordered:
        mine = [e for e in edits if e.rule == rule.id]
        if not mine:
            continue
        applied += mine
        new = bom + apply_edits(body, applied)
        outcome.stages.append((rule.id, new.encode("utf-8")))
        outcome.changes.extend(e.change for e in mine)
