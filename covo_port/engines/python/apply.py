"""Applying the recorded edits: one transformer pass per rule stage, edits of one node by several
rules composed, ``--annotate`` notes put above their statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst

from covo_port.engines.python.directives import Note, with_notes
from covo_port.engines.python.file import Edit
from covo_port.model import Replacement


class Applier(cst.CSTTransformer):
    """Applies ``edits`` and ``notes``; given the tree's ``parents``, it visits only the nodes
    that hold one (every other subtree is kept as it is)."""

    def __init__(self, edits: Sequence[Edit], notes: Sequence[Note] = (),
                 parents: Mapping[cst.CSTNode, cst.CSTNode] | None = None) -> None:
        super().__init__()
        self._edits: dict[int, list[Edit]] = {}
        for edit in edits:
            self._edits.setdefault(id(edit.node), []).append(edit)
        self._notes: dict[int, list[str]] = {}
        for note in notes:
            self._notes.setdefault(id(note.anchor), []).append(note.text)
        #: the anchors that got their annotations (a rewrite may have removed others)
        self.annotated: set[int] = set()
        #: ids of the nodes that hold an edit or a note (None: every node)
        self._inside: set[int] | None = None
        if parents is not None:
            self._inside = set()
            for node in [*(e.node for e in edits), *(n.anchor for n in notes)]:
                current: cst.CSTNode | None = node
                while current is not None and id(current) not in self._inside:
                    self._inside.add(id(current))
                    current = parents.get(current)

    def on_visit(self, node: cst.CSTNode) -> bool:
        return self._inside is None or id(node) in self._inside

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> Replacement:
        # The pieces that later edits of the same node act on: the node itself while an edit
        # keeps it (e.g. puts siblings around it), else every piece of its type that an edit
        # split it into (one import line made two: each gets the next rule's edit).
        pieces: list[cst.CSTNode] = [updated_node]
        targets: list[cst.CSTNode] = [updated_node]
        for edit in self._edits.get(id(original_node), ()):
            new_pieces: list[cst.CSTNode] = []
            new_targets: list[cst.CSTNode] = []
            for piece in pieces:
                if not any(piece is t for t in targets):
                    new_pieces.append(piece)
                    continue
                made = _nodes(edit.apply(piece))
                new_pieces.extend(made)
                kept = [n for n in made if n is piece]
                new_targets.extend(kept or [n for n in made if type(n) is type(original_node)])
            pieces, targets = new_pieces, new_targets
        if id(original_node) in self._notes and pieces:  # apply --annotate: above the first
            pieces[0] = with_notes(pieces[0], self._notes[id(original_node)])
            self.annotated.add(id(original_node))
        if len(pieces) == 1:
            return pieces[0]
        return cst.FlattenSentinel(pieces) if pieces else cst.RemovalSentinel.REMOVE


def _nodes(replacement: Replacement) -> tuple[cst.CSTNode, ...]:
    if isinstance(replacement, cst.FlattenSentinel):
        return tuple(replacement.nodes)
    if isinstance(replacement, cst.RemovalSentinel):
        return ()
    return (replacement,)
