"""Shell scripts read with tree-sitter-bash, into what the shell rules see (:class:`ShellScan`).

tree-sitter's bash grammar knows what bash knows about where words start and end: quotes,
escapes, comments, ``$(...)`` and backtick substitutions (whose commands are commands of their
own), ``${...}`` and ``$((...))`` expansions, here-documents (a quoted delimiter makes the body
literal). It is error-tolerant (a part it cannot read becomes an error node; the rest is read)
and its parser keeps its own stack, so nesting as deep as bash accepts costs nothing; this
module walks the tree without recursion either. The scan lists every simple command as its
words (redirections left out), every ``$NAME`` / ``${NAME...}`` the shell would expand, the
comments, the here-document bodies and the parts that could not be read, all as offsets into
the text, so rules can edit exactly the characters they mean and leave everything else
byte-identical.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from covo_port.model import ShellScan, VarRef, Word

_BASH = Language(tree_sitter_bash.language())
#: the nodes that are simple commands, their words the children
_COMMANDS = {"command", "declaration_command", "unset_command", "test_command"}
#: redirections: not words of their command, but tree-sitter puts the words that follow one
#: (``cmd >log arg``) inside it
_REDIRECTS = {"file_redirect", "heredoc_redirect", "herestring_redirect"}
#: what a word can be (what else a redirection holds is its own, or a command of its own)
_WORDLIKE = {"word", "string", "raw_string", "concatenation", "simple_expansion", "expansion",
             "command_substitution", "number", "arithmetic_expansion", "process_substitution",
             "ansi_c_string", "translated_string"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _char_offsets(text: str, data: bytes) -> Callable[[int], int]:
    """Byte offset in ``data`` (``text`` encoded) -> offset in ``text``."""
    if len(data) == len(text):
        return lambda offset: offset
    starts, at = [], 0
    for char in text:
        starts.append(at)
        code = ord(char)  # a byte that is not UTF-8 is one surrogate (surrogateescape)
        at += (1 if code < 0x80 or 0xDC80 <= code <= 0xDCFF
               else 2 if code < 0x800 else 3 if code < 0x10000 else 4)
    starts.append(at)
    return lambda offset: bisect_left(starts, offset)


def _after_redirect(redirect: Node) -> list[Node]:
    """What tree-sitter put inside a redirection that is its command's: the words after its
    target (``2>&1 arg``: ``arg``)."""
    found, target = [], redirect.type == "heredoc_redirect"  # its target: heredoc_start
    for child in redirect.named_children:
        if child.type in _REDIRECTS:
            found += _after_redirect(child)
        elif child.type in _WORDLIKE:
            if target:
                found.append(child)
            target = True
    return found


def _words(node: Node) -> list[Node]:
    """The nodes that are the words of a simple command, in order (``[ ... ]`` tests: their
    operands and operators); ``time`` before a command is not one."""
    parts = list(node.children)
    if node.parent is not None and node.parent.type == "redirected_statement":
        parts += [c for c in node.parent.children if c.type in _REDIRECTS]
    found, todo = [], list(reversed(parts))
    while todo:
        child = todo.pop()
        if child.type == "comment":
            continue
        if child.type in _REDIRECTS:
            found += _after_redirect(child)
        elif child.type.endswith("_expression"):  # inside [ ] and [[ ]]: its parts are words
            todo.extend(reversed(child.children))
        else:
            found.append(child)
    if found and found[0].type == "command_name" and found[0].text == b"time":
        found = found[1:]  # bash's reserved word, as in `time python train.py`
    return found


def _assignments(node: Node) -> list[Node] | None:
    """The words of a statement that only assigns (``A=1``, ``A=1 B=2``), else None."""
    if node.type == "variable_assignments":
        return [c for c in node.named_children if c.type == "variable_assignment"]
    parent = node.parent
    if node.type == "variable_assignment" and parent is not None and parent.type not in (
            *_COMMANDS, "variable_assignments"):
        return [node]
    return None


def _ref(node: Node) -> Node | None:
    """The name that a ``$NAME`` or ``${NAME...}`` node expands, if a variable's."""
    for child in node.named_children:
        if child.type == "variable_name":
            return child
        if child.type == "subscript":  # ${NAME[i]}
            return next((c for c in child.named_children if c.type == "variable_name"), None)
        if child.type != "special_variable_name":
            return None
    return None


def _joined(nodes: list[Node], text: str, at: Callable[[int], int]) -> list[Word]:
    """The words of ``nodes``: nodes that touch (no blank between them) are one shell word
    (tree-sitter-bash splits ``$A/$b/c`` after ``$A/$``)."""
    words: list[Word] = []
    for node in nodes:
        start, end = at(node.start_byte), at(node.end_byte)
        if words and words[-1].end == start:
            start = words.pop().start
        words.append(Word(text[start:end], start, end))
    return words


def lex(text: str) -> ShellScan:
    """The commands, expansions, comments and here-documents of a script."""
    data = text.encode("utf-8", errors="surrogateescape")
    at = _char_offsets(text, data)
    scan = ShellScan()
    todo = [Parser(_BASH).parse(data).root_node]
    while todo:
        node = todo.pop()
        kind = node.type
        words = _words(node) if kind in _COMMANDS else _assignments(node)
        if words:
            scan.commands.append(_joined(words, text, at))
        if node.is_error:  # the rest is read; what is inside may hold commands too
            scan.unreadable.append((at(node.start_byte), at(node.end_byte)))
        if kind == "comment":
            scan.comments.append((at(node.start_byte), at(node.end_byte)))
        elif kind in ("simple_expansion", "expansion"):
            name = _ref(node)
            if name is not None:
                start, end = at(name.start_byte), at(name.end_byte)
                if _NAME.fullmatch(text, start, end):  # not $1: a positional parameter
                    scan.refs.append(VarRef(text[start:end], start, end))
        elif kind == "$" and node.parent is not None and node.parent.type not in (
                "simple_expansion", "expansion"):  # `$b` that tree-sitter split off its `$`
            m = _NAME.match(text, at(node.end_byte))
            if m:
                scan.refs.append(VarRef(m.group(), m.start(), m.end()))
        elif kind == "heredoc_redirect":
            parts = {child.type: child for child in node.children}
            body, end = parts.get("heredoc_body"), parts.get("heredoc_end")
            first, last = body or end, end or body
            if first is not None and last is not None:
                scan.heredocs.append((at(first.start_byte), at(last.end_byte),
                                      at(node.start_byte)))
        todo.extend(reversed(node.children))
    scan.commands.sort(key=lambda cmd: cmd[0].start)
    scan.refs.sort(key=lambda r: r.start)
    scan.comments.sort()
    scan.heredocs.sort()
    scan.unreadable.sort()
    return scan
