"""NPU015: generation code that needs ``is_first_iteration``, i.e. transformers >= 5."""

from __future__ import annotations

import re
from importlib import metadata

import libcst as cst

from covo_port.pyengine import PyFile
from covo_port.rule import Example, PythonRule, Severity

FLAG = "is_first_iteration"
REQUIRED_MAJOR = 5
_READERS = ("get", "pop", "setdefault", "__getitem__")


def installed_transformers() -> str | None:
    """The version of transformers installed where covo-port runs, if any."""
    try:
        return metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return None


def _major(version: str) -> int | None:
    match = re.match(r"(\d+)", version)
    return int(match.group(1)) if match else None


def _is_flag(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString) and node.evaluated_value == FLAG


class TransformersVersion(PythonRule):
    id = "NPU015"
    summary = "prepare_inputs_for_generation reading is_first_iteration needs transformers >= 5"
    rationale = """
    Covo-Audio encodes the audio only on the first generation step, which its
    prepare_inputs_for_generation recognises by kwargs["is_first_iteration"]. transformers'
    generate() passes that flag from version 5.0 only: with transformers 4.x (the reference port
    ran 4.57) the flag is never set, the audio placeholders are never filled and the model
    answers without hearing anything, silently. Nothing in the code can be rewritten to be
    certain of the first step on every version, so every read of the flag in a
    prepare_inputs_for_generation is reported, with the transformers installed where
    covo-port runs: an error when that is older than 5, a warning otherwise (the machine that
    runs the port must have transformers >= 5 too).
    """
    severity = Severity.WARNING
    triggers = (FLAG,)
    examples = (
        Example(
            "class Model:\n"
            "    def prepare_inputs_for_generation(self, input_ids, **kwargs):\n"
            "        first = kwargs.get('is_first_iteration', False)\n"
            "        if kwargs['is_first_iteration'] or 'is_first_iteration' in kwargs:\n"
            "            pass\n",
            findings=3,
        ),
        Example(
            "def prepare_inputs_for_generation(ids, is_first_iteration=False, **extra):\n"
            "    return ids\n",
            findings=1,
        ),
        Example(
            "def forward(self, **kwargs):\n"
            "    return kwargs.get('is_first_iteration')\n"
            "def prepare_inputs_for_generation(self, **kwargs):\n"
            "    log('is_first_iteration')\n",
        ),
    )

    def __init__(self, file: PyFile) -> None:
        super().__init__(file)
        self._kwargs: list[str | None] = []  # the ** parameter of each enclosing hook

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value != "prepare_inputs_for_generation":
            self._kwargs.append(None)
            return
        star = node.params.star_kwarg
        self._kwargs.append(star.name.value if star is not None else None)
        for param in (*node.params.params, *node.params.kwonly_params):
            if param.name.value == FLAG:
                self._flag(param)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._kwargs.pop()

    def _reads_kwargs(self, node: cst.BaseExpression) -> bool:
        return bool(self._kwargs) and isinstance(node, cst.Name) and node.value == self._kwargs[-1]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _READERS and node.args \
                and self._reads_kwargs(func.value) and _is_flag(node.args[0].value):
            self._flag(node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self._reads_kwargs(node.value) and len(node.slice) == 1 and isinstance(
                node.slice[0].slice, cst.Index) and _is_flag(node.slice[0].slice.value):
            self._flag(node)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if _is_flag(node.left) and any(isinstance(t.operator, (cst.In, cst.NotIn))
                                       and self._reads_kwargs(t.comparator)
                                       for t in node.comparisons):
            self._flag(node)

    def _flag(self, node: cst.CSTNode) -> None:
        version = installed_transformers()
        major = _major(version) if version else None
        old = major is not None and major < REQUIRED_MAJOR
        self.report(
            node,
            f"prepare_inputs_for_generation relies on {FLAG}, which generate() passes only from "
            f"transformers {REQUIRED_MAJOR}.0 (with 4.x the audio is silently never encoded): "
            f"needs transformers>={REQUIRED_MAJOR}.0; installed here: "
            f"{version or 'not installed'}",
            Severity.ERROR if old else Severity.WARNING,
        )
