"""YAML, read with ruamel.yaml's composer: every scalar node carries its start and end marks,
so a value's characters are found exactly (anchors, tags and quotes excluded)."""

from __future__ import annotations

import io
from collections import Counter

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from covo_port.engines.configfiles.base import ConfigParseError, quoted_range
from covo_port.model import ConfigEntry, Scalar

_TAG = "tag:yaml.org,2002:"


def _scalar(node: ScalarNode) -> Scalar:
    """The node's value as YAML 1.2's core schema resolves it."""
    kind = node.tag.removeprefix(_TAG) if isinstance(node.tag, str) else str(node.tag)
    text = node.value
    try:
        if kind == "bool":
            return text.lower() in ("true", "yes", "on")
        if kind == "null":
            return None
        if kind == "int":
            return int(text.replace("_", ""), 0) if text[:2].lower() in ("0x", "0o") else int(
                text.replace("_", ""))
        if kind == "float":
            return float(text.replace("_", ""))
    except ValueError:
        return text
    return text


def _key(node: Node) -> str:
    return node.value if isinstance(node, ScalarNode) else str(node.value)


def _walk(node: Node, keys: tuple[str | int, ...], out: list[tuple[tuple[str | int, ...],
                                                                  ScalarNode]],
          depth: int = 0) -> None:
    if depth > 200:
        raise ConfigParseError("nested more than 200 levels deep", node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        for key, value in node.value:
            _walk(value, (*keys, _key(key)), out, depth + 1)
    elif isinstance(node, SequenceNode):
        for index, value in enumerate(node.value):
            _walk(value, (*keys, index), out, depth + 1)
    elif isinstance(node, ScalarNode):
        out.append((keys, node))


def _range(text: str, node: ScalarNode, shared: bool) -> tuple[int, int]:
    if shared or not isinstance(node.value, str):
        return -1, -1
    end = node.end_mark.index
    if node.style is None:  # plain: the value ends where the node does (after any anchor/tag)
        start = end - len(node.value)
        if start >= node.start_mark.index and text[start:end] == node.value:
            return start, end
        return -1, -1
    if node.style in ("'", '"'):
        return quoted_range(text, end - len(node.value) - 2, end, node.value)
    return -1, -1  # block scalars (| >)


def read(text: str) -> list[ConfigEntry]:
    """The scalars of every document (keys start with the document's index where there are
    several)."""
    try:
        documents = list(YAML(typ="rt").compose_all(io.StringIO(text)))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ConfigParseError(f"{exc.problem or exc.context or exc}",
                               mark.line + 1 if mark is not None else 1) from None
    except (YAMLError, RecursionError, ValueError) as exc:
        raise ConfigParseError(str(exc) or type(exc).__name__) from None
    found: list[tuple[tuple[str | int, ...], ScalarNode]] = []
    for number, document in enumerate(documents):
        if document is not None:
            _walk(document, (number,) if len(documents) > 1 else (), found)
    uses = Counter(id(node) for _, node in found)  # an anchored node reached through aliases
    entries = []
    for keys, node in found:
        start, end = _range(text, node, uses[id(node)] > 1)
        entries.append(ConfigEntry(keys, _scalar(node), node.start_mark.line + 1,
                                   node.start_mark.column + 1, start, end))
    return entries
