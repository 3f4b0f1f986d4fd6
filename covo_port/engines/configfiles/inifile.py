"""INI and setup.cfg, read with ConfigUpdater (configparser's grammar, keeping every line as
written): keys are (section, option); a value is edited in place where it is on one line."""

from __future__ import annotations

import configparser
import re

from configupdater import ConfigUpdater
from configupdater.block import Block
from configupdater.option import Option
from configupdater.section import Section

from covo_port.engines.configfiles.base import ConfigParseError
from covo_port.engines.textedit import LineIndex
from covo_port.model import ConfigEntry

_DELIMITER = re.compile(r"[ \t]*[=:][ \t]*")


def parse(text: str) -> ConfigUpdater:
    updater = ConfigUpdater(allow_no_value=True, strict=False)
    try:
        updater.read_string(text)
    except configparser.Error as exc:
        line = getattr(exc, "lineno", 1)
        raise ConfigParseError(str(exc).split("\n", 1)[0], line) from None
    except (ValueError, RecursionError) as exc:
        raise ConfigParseError(str(exc) or type(exc).__name__) from None
    if str(updater) != text:
        raise ConfigParseError("internal error: the file does not read back as it is")
    return updater


def options(updater: ConfigUpdater) -> list[tuple[Section, Option, int]]:
    """Every option with the offset of its first line, in the order of the text."""
    found = []
    offset = 0
    for block in updater.iter_blocks():
        offset += len("".join(block.lines))
        if isinstance(block, Section):
            inner: Block
            for inner in block.iter_blocks():
                if isinstance(inner, Option):
                    found.append((block, inner, offset))
                offset += len("".join(inner.lines))
    return found


def read(text: str) -> list[ConfigEntry]:
    index = LineIndex(text)
    entries = []
    for section, option, offset in options(parse(text)):
        value = option.value
        line, column = index.line_col(offset)
        start = end = -1
        first = option.lines[0]
        if value is not None and len(option.lines) == 1:
            key_end = first.find(option.raw_key) + len(option.raw_key)
            match = _DELIMITER.match(first, key_end)
            if match is not None and first[match.end():match.end() + len(value)] == value:
                start = offset + match.end()
                end = start + len(value)
        entries.append(ConfigEntry((section.name, option.raw_key), value, line, column,
                                   start, end))
    return entries
