"""JSON, read with the standard library's decoder (its pure-Python scanner, which reports
where each value ends): objects keep their key order and repeated keys."""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from typing import Any

from covo_port.engines.configfiles.base import ConfigParseError, quoted_range
from covo_port.engines.textedit import LineIndex
from covo_port.model import ConfigEntry

Scan = Callable[[str, int], tuple[Any, int]]


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object as its (key, value) pairs."""


class _Decoder(json.JSONDecoder):
    """Records (start, end, value) of every scalar, in the order of the text."""

    def __init__(self) -> None:
        super().__init__(object_pairs_hook=_Pairs)
        self.spans: list[tuple[int, int, Any]] = []
        parse_object, parse_array = self.parse_object, self.parse_array
        self.parse_object = lambda s_and_end, strict, scan, *rest: parse_object(
            s_and_end, strict, self._recording(scan), *rest)
        self.parse_array = lambda s_and_end, scan: parse_array(s_and_end, self._recording(scan))
        self.scan_once = self._recording(json.scanner.py_make_scanner(self))

    def _recording(self, scan: Scan) -> Scan:
        def scan_once(text: str, index: int) -> tuple[Any, int]:
            value, end = scan(text, index)
            if not isinstance(value, list):
                self.spans.append((index, end, value))
            return value, end
        return scan_once


def _leaves(value: Any, keys: tuple[str | int, ...], out: list[tuple[tuple[str | int, ...],
                                                                     Any]]) -> None:
    if isinstance(value, _Pairs):
        for key, item in value:
            _leaves(item, (*keys, key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _leaves(item, (*keys, index), out)
    else:
        out.append((keys, value))


def read(text: str) -> list[ConfigEntry]:
    decoder = _Decoder()
    try:
        document = decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise ConfigParseError(exc.msg, exc.lineno) from None
    except (RecursionError, ValueError) as exc:
        raise ConfigParseError(str(exc) or type(exc).__name__) from None
    leaves: list[tuple[tuple[str | int, ...], Any]] = []
    _leaves(document, (), leaves)
    if len(leaves) != len(decoder.spans):
        raise ConfigParseError("internal error locating the values")
    index = LineIndex(text)
    entries = []
    for (keys, value), (start, end, _) in zip(leaves, decoder.spans, strict=True):
        line, column = index.line_col(start)
        begin, stop = quoted_range(text, start, end, value) if isinstance(value, str) else (-1, -1)
        entries.append(ConfigEntry(keys, value, line, column, begin, stop))
    return entries
