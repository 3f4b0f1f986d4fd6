"""String literals: reading them (one policy for every rule) and writing new ones."""

from __future__ import annotations

import libcst as cst


def string_value(node: cst.CSTNode) -> str | None:
    """The text of a plain string literal (``"cuda"``, ``r'x'``); None for anything else
    (bytes, f-strings, concatenations, other expressions)."""
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # an escape Python itself rejects: not a value to reason about
            return None
        return value if isinstance(value, str) else None
    return None


def texts_in(node: cst.CSTNode) -> list[str]:
    """Every piece of literal text in ``node``: plain strings whole, and the literal parts of
    f-strings (``f"{name}.cu"`` gives ".cu"); what an expression inside them computes is
    unknown and left out."""
    found: list[str] = []

    class _Find(cst.CSTVisitor):
        def visit_SimpleString(self, string: cst.SimpleString) -> None:
            value = string_value(string)
            if value is not None:
                found.append(value)

        def visit_FormattedStringText(self, text: cst.FormattedStringText) -> None:
            found.append(text.value)

    node.visit(_Find())
    return found


def with_value(literal: cst.SimpleString, text: str) -> cst.SimpleString:
    """``literal`` holding ``text`` instead, in its own quotes and prefix."""
    return literal.with_changes(value=f"{literal.prefix}{literal.quote}{text}{literal.quote}")


def new_string(text: str) -> cst.SimpleString:
    return cst.SimpleString(f'"{text}"')
