"""Line and column of nodes, as libcst's PositionProvider gives them, from one plain print.

PositionProvider prints the module keeping a line and a column up to date token by token and
builds two CodePositions for every node of the tree: on a large module that costs three times a
plain print, and most nodes are never asked about. Here the print records, for every node, only
where it starts and ends in the list of printed tokens (two integers); a node's line and column
are worked out when it is asked about, from the printed text. The same print is the module's
code: the file's print before any edit comes with it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from types import TracebackType

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.metadata import CodePosition, CodeRange

#: What PositionProvider counts as one line break in a printed token.
_LINE_BREAK = re.compile(r"\r\n?|\n")


class _Syntactic:
    """``record_syntactic_position``: the node's span, or the span of the children it names
    (PositionProvider's ``start_node``/``end_node``)."""

    __slots__ = ("end_node", "node", "start", "start_node", "state")

    def __init__(self, state: _SpanState, node: cst.CSTNode, start_node: cst.CSTNode | None,
                 end_node: cst.CSTNode | None) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node
        self.start = 0

    def __enter__(self) -> None:
        self.start = len(self.state.tokens)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        spans = self.state.spans
        start = self.start if self.start_node is None else spans[self.start_node][0]
        end = len(self.state.tokens) if self.end_node is None else spans[self.end_node][1]
        spans[self.node] = (start, end)


@dataclass
class _SpanState(CodegenState):
    """libcst's code generation, recording each node's span in tokens (start, end): the
    syntactic span where the node declares one, else the whole of what it printed."""

    spans: dict[cst.CSTNode, tuple[int, int]] = field(default_factory=dict)
    starts: list[int] = field(default_factory=list)
    #: The module asked to drop its last newline: kept in ``tokens`` (PositionProvider counts
    #: it in the module's end too), left out of the code.
    dropped_newline: bool = False

    def before_codegen(self, node: cst.CSTNode) -> None:
        self.starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self.starts.pop()
        if node not in self.spans:
            self.spans[node] = (start, len(self.tokens))

    def pop_trailing_newline(self) -> None:
        self.dropped_newline = bool(self.tokens)

    def record_syntactic_position(  # type: ignore[override]
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> _Syntactic:
        return _Syntactic(self, node, start_node, end_node)


class Positions(Mapping[cst.CSTNode, CodeRange]):
    """Every node of ``module`` -> its CodeRange, equal to what PositionProvider gives."""

    def __init__(self, module: cst.Module) -> None:
        state = _SpanState(default_indent=module.default_indent,
                           default_newline=module.default_newline)
        module._codegen(state)
        self._spans = state.spans
        tokens = state.tokens
        #: character offset of each token boundary
        self._offsets = list(accumulate(map(len, tokens), initial=0))
        text = "".join(tokens)
        #: The module's code, as ``module.code`` prints it.
        self.code = text[:self._offsets[-2]] if state.dropped_newline else text
        self._breaks = self._line_breaks(text)
        self._ranges: dict[cst.CSTNode, CodeRange] = {}

    def _line_breaks(self, text: str) -> list[int]:
        """The offsets just after each line break, counted token by token (a "\\r" that ends
        one token and a "\\n" that starts the next are two breaks, as PositionProvider
        counts them)."""
        breaks = [m.end() for m in _LINE_BREAK.finditer(text)]
        if "\r\n" not in text:
            return breaks
        boundaries = set(self._offsets)
        split: list[int] = []
        for end in breaks:
            if end >= 2 and text[end - 2:end] == "\r\n" and end - 1 in boundaries:
                split.append(end - 1)
            split.append(end)
        return split

    def _position(self, token: int) -> CodePosition:
        offset = self._offsets[token]
        line = bisect_right(self._breaks, offset)
        return CodePosition(line + 1, offset - (self._breaks[line - 1] if line else 0))

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        found = self._ranges.get(node)
        if found is None:
            start, end = self._spans[node]
            found = self._ranges[node] = CodeRange(self._position(start), self._position(end))
        return found

    def __contains__(self, node: object) -> bool:
        return node in self._spans

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)
