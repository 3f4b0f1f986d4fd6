"""TOML, read with tomlkit (style-preserving); its parser is asked where each value starts
and ends, and each span is checked against the value's own text before it is trusted."""

from __future__ import annotations

from typing import Any

from tomlkit import items
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.parser import Parser

from covo_port.engines.configfiles.base import ConfigParseError, quoted_range
from covo_port.engines.textedit import LineIndex
from covo_port.model import ConfigEntry, Scalar

_SINGLE_LINE = (items.StringType.SLB, items.StringType.SLL)


class _Parser(Parser):
    """tomlkit's parser, recording the span of every value it parses."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.spans: dict[int, tuple[int, int]] = {}

    def _parse_value(self) -> items.Item:
        start = self._idx
        item = super()._parse_value()
        self.spans[id(item)] = (start, self._idx)
        return item


def _scalar(item: Any) -> Scalar:
    if isinstance(item, items.Bool):
        return bool(item.value)
    if isinstance(item, (items.String, items.Integer, items.Float)):
        return item.unwrap()
    return str(item.unwrap() if hasattr(item, "unwrap") else item)


def read(text: str) -> list[ConfigEntry]:
    parser = _Parser(text)
    try:
        document = parser.parse()
    except ParseError as exc:
        raise ConfigParseError(str(exc), exc.line) from None
    except (TOMLKitError, RecursionError, ValueError) as exc:
        raise ConfigParseError(str(exc) or type(exc).__name__) from None
    index = LineIndex(text)
    entries: list[ConfigEntry] = []

    def walk(node: Any, keys: tuple[str | int, ...]) -> None:
        if isinstance(node, dict):
            item = getattr(node, "item", None)  # the item itself (node[key] unwraps booleans)
            for key in node:
                walk(item(key) if item is not None else node[key], (*keys, str(key)))
        elif isinstance(node, list):
            for number, item in enumerate(node):
                walk(item, (*keys, number))
        else:
            span = parser.spans.get(id(node))
            if span is None or text[span[0]:span[1]] != node.as_string():
                where = ".".join(map(str, keys))
                raise ConfigParseError(f"internal error locating the value of {where}")
            value = _scalar(node)
            start, end = -1, -1
            if isinstance(node, items.String) and node.type in _SINGLE_LINE:
                start, end = quoted_range(text, span[0], span[1], value)
            line, column = index.line_col(span[0])
            entries.append(ConfigEntry(keys, value, line, column, start, end))

    walk(document, ())
    entries.sort(key=lambda e: (e.line, e.column))
    return entries
