"""Calls: finding arguments, and adding or reshaping them in the call's own layout."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
_NO_SPACE = cst.SimpleWhitespace("")


def keyword_arg(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def positional_count(args: Sequence[cst.Arg]) -> int:
    """Where positional arguments end (before the first keyword or ``*``/``**``)."""
    for index, arg in enumerate(args):
        if arg.keyword is not None or arg.star:
            return index
    return len(args)


def argument(call: cst.Call, index: int, name: str) -> cst.Arg | None:
    """The argument given for parameter ``name`` (``index``-th positional), or None."""
    given = keyword_arg(call, name)
    if given is not None:
        return given
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional[:index + 1]):
        return None
    return positional[index] if index < len(positional) else None


def keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    """``name=value`` (no spaces around ``=``)."""
    return cst.Arg(value, keyword=cst.Name(name), equal=cst.AssignEqual(_NO_SPACE, _NO_SPACE))


def as_keyword(arg: cst.Arg, name: str) -> cst.Arg:
    """``arg`` passed as ``name=value`` (no spaces around ``=``; its comma kept)."""
    return arg.with_changes(keyword=cst.Name(name), equal=cst.AssignEqual(_NO_SPACE, _NO_SPACE))


def _separator(opening: cst.BaseParenthesizableWhitespace) -> cst.BaseParenthesizableWhitespace:
    """What goes between two arguments so they look like the call's others: the line break and
    indent of a call laid out one argument per line (without its comment), else one space."""
    if isinstance(opening, cst.ParenthesizedWhitespace):
        return opening.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
    return cst.SimpleWhitespace(" ")


def prepend_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """``f(a)`` -> ``f(new, a)``, following the call's layout."""
    if not call.args:
        return call.with_changes(args=[arg])
    comma = cst.Comma(whitespace_after=_separator(call.whitespace_before_args))
    return call.with_changes(args=[arg.with_changes(comma=comma), *call.args])


def append_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """``f(a)`` -> ``f(a, new)``, following the call's layout and keeping a trailing comma and
    the comments after the last argument where they were."""
    if not call.args:
        return call.with_changes(args=[arg])
    *head, last = call.args
    opening = call.whitespace_before_args
    comma = last.comma
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after,
                                                   cst.ParenthesizedWhitespace) \
            and isinstance(opening, cst.ParenthesizedWhitespace):
        closing = comma.whitespace_after  # line break (and comment) before ")"
        last = last.with_changes(comma=comma.with_changes(
            whitespace_after=closing.with_changes(last_line=opening.last_line)))
        arg = arg.with_changes(comma=cst.Comma(whitespace_after=closing.with_changes(
            first_line=cst.TrailingWhitespace(), empty_lines=[])))
    elif isinstance(comma, cst.Comma):
        last = last.with_changes(comma=comma.with_changes(
            whitespace_after=cst.SimpleWhitespace(" ")))
        arg = arg.with_changes(comma=cst.Comma(whitespace_after=comma.whitespace_after))
    else:
        last = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    return call.with_changes(args=[*head, last, arg])


def insert_arg(call: cst.Call, index: int, arg: cst.Arg) -> cst.Call:
    """``call`` with ``arg`` inserted at ``index``, commas and line layout kept valid."""
    out = list(call.args)
    if index < len(out):
        before = out[index - 1].comma if index else None
        layout = before.whitespace_after if isinstance(before, cst.Comma) else (
            call.whitespace_before_args)
        comma = cst.Comma(whitespace_after=layout) if isinstance(
            layout, cst.ParenthesizedWhitespace) else _COMMA
        out.insert(index, arg.with_changes(comma=comma))
        return call.with_changes(args=out)
    if out and isinstance(out[-1].comma, cst.MaybeSentinel):
        out[-1] = out[-1].with_changes(comma=_COMMA)
    out.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    return call.with_changes(args=out)


def method_call(receiver: cst.BaseExpression, method: str) -> cst.Call:
    """``receiver.method()``, with parentheses around a receiver that needs them."""
    if not receiver.lpar and not isinstance(receiver, cst.Name | cst.Attribute | cst.Subscript
                                                | cst.Call):
        receiver = receiver.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name(method)))
