"""``.env`` files, read with python-dotenv's parser (``NAME=value``, ``export``, quotes,
comments); lines it cannot read are returned apart, to be reported."""

from __future__ import annotations

import io

from dotenv.parser import parse_stream

from covo_port.engines.textedit import LineIndex
from covo_port.model import ConfigEntry

_QUOTES = "'\""


def read_with_errors(text: str) -> tuple[list[ConfigEntry], list[int]]:
    """(entries, lines python-dotenv cannot read)."""
    index = LineIndex(text)
    entries, errors = [], []
    offset = 0
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        if binding.error:
            errors.append(binding.original.line)
        elif binding.key is not None:
            value = binding.value
            start = end = -1
            equals = raw.find("=")
            if value is not None and equals >= 0:
                begin = equals + 1
                while begin < len(raw) and raw[begin] in " \t":
                    begin += 1
                if begin < len(raw) and raw[begin] in _QUOTES:
                    begin += 1
                if raw[begin:begin + len(value)] == value:
                    start, end = offset + begin, offset + begin + len(value)
            line, column = index.line_col(start if start >= 0 else offset)
            entries.append(ConfigEntry((binding.key,), value, line, column, start, end))
        offset += len(raw)
    return entries, errors


def read(text: str) -> list[ConfigEntry]:
    return read_with_errors(text)[0]
