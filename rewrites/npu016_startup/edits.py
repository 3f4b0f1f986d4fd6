"""NPU016's edits: how each statement of a matched build-then-load is rewritten (pure
functions of the nodes as the other rules left them)."""

from __future__ import annotations

import libcst as cst

from covo_port.lib.calls import append_arg, as_keyword
from covo_port.rewrites.npu016_startup.names import AS_MODEL, MATERIALIZE, META


def without_arg(call: cst.Call, index: int) -> cst.BaseExpression:
    """``call`` without its ``index``-th argument; its receiver where none is left."""
    args = [a for n, a in enumerate(call.args) if n != index]
    if not args:
        func = call.func
        assert isinstance(func, cst.Attribute)
        return func.value
    if index == len(call.args) - 1:
        args[-1] = args[-1].with_changes(comma=call.args[index].comma)
    return call.with_changes(args=args)


def on_meta(updated: cst.CSTNode) -> cst.CSTNode:
    assert isinstance(updated, cst.SimpleStatementLine)
    return cst.With(
        items=[cst.WithItem(item=cst.Call(func=cst.Name(META)))],
        body=cst.IndentedBlock(body=[updated.with_changes(leading_lines=[])]),
        leading_lines=updated.leading_lines,
    )


def with_device(updated: cst.CSTNode, device: list[cst.BaseExpression]) -> cst.CSTNode:
    assert isinstance(updated, cst.Call)
    if not device:
        return updated
    return append_arg(updated, as_keyword(cst.Arg(device[0].deep_clone()), "device"))


def assigning(updated: cst.CSTNode, var: str) -> cst.CSTNode:
    assert isinstance(updated, cst.Call)
    args = list(updated.args)
    at = next(n for n, a in enumerate(args) if a.keyword is None
              or a.keyword.value == "state_dict")
    wrapped = cst.Call(func=cst.Name(AS_MODEL),
                       args=[cst.Arg(cst.Name(var), comma=cst.Comma(
                           whitespace_after=cst.SimpleWhitespace(" "))),
                             cst.Arg(args[at].value)])
    args[at] = args[at].with_changes(value=wrapped)
    return append_arg(updated.with_changes(args=args),
                      as_keyword(cst.Arg(cst.Name("True")), "assign"))


def finish_call(var: str, device: list[cst.BaseExpression]) -> cst.SimpleStatementLine:
    args = [cst.Arg(cst.Name(var))]
    if device:
        args = [cst.Arg(cst.Name(var), comma=cst.Comma(
            whitespace_after=cst.SimpleWhitespace(" "))), cst.Arg(device[0].deep_clone())]
    return cst.SimpleStatementLine(
        body=[cst.Expr(cst.Call(func=cst.Name(MATERIALIZE), args=args))])
