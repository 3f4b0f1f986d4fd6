"""NPU015: generation code that needs ``is_first_iteration``, i.e. transformers >= 5."""

from __future__ import annotations

import ast
import re
from importlib import metadata

import libcst as cst

from covo_port.lib.pytree import functions
from covo_port.model import Category, Example, PythonRule, PythonSource, Safety, Severity, Target

FLAG = "is_first_iteration"
CACHE = "past_key_values"
REQUIRED = (5, 0)
#: transformers 5.24 hands the cache to prepare_inputs_for_generation as ``cache``.
CACHE_RENAMED = (5, 24)
TESTED = "transformers>=5.0,<5.24"
_READERS = ("get", "pop", "setdefault", "__getitem__")


def installed_transformers() -> str | None:
    """The version of transformers installed where covo-port runs, if any."""
    try:
        return metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return None


def _release(version: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)(?:\.(\d+))?", version)
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def _key(node: cst.BaseExpression) -> str | None:
    """The kwargs key ``node`` names, where it is one this rule watches."""
    if isinstance(node, cst.SimpleString) and node.evaluated_value in (FLAG, CACHE):
        return str(node.evaluated_value)
    return None


class TransformersVersion(PythonRule, id="NPU015", name="transformers-version",
                          category=Category.PACKAGES, safety=Safety.REPORT, triggers=(FLAG, CACHE)):
    """prepare_inputs_for_generation kwargs that need transformers >=5.0,<5.24

    ## What it does

    Reports `prepare_inputs_for_generation` overrides whose keyword arguments depend on the
    transformers release, with the range that was tested.

    ## Why it breaks on Ascend

    Covo-Audio encodes the audio only on the first generation step, which its
    prepare_inputs_for_generation recognises by kwargs["is_first_iteration"]. transformers'
    generate() passes that flag from version 5.0 only: with transformers 4.x (the reference
    port ran 4.57) the flag is never set, the audio placeholders are never filled and the
    model answers without hearing anything, silently. Nothing in the code can be rewritten
    to be certain of the first step on every version, so every read of the flag in a
    prepare_inputs_for_generation is reported, with the transformers installed where
    covo-port runs: an error when that is older than 5, a warning otherwise (the machine
    that runs the port must have transformers >= 5 too). The other end: transformers 5.24
    passes the generation cache as kwargs["cache"], so a hook that reads
    kwargs["past_key_values"] gets None, loses the cache on every step and fails on the
    second dialogue round ("model_kwargs not used: ['cache']"); those reads are reported
    too, as errors where 5.24 or later is installed.

    ## Example

    ```python
    def prepare_inputs_for_generation(ids, is_first_iteration=False, **extra):
        return ids
    ```

    is reported (1 finding) and left as it is.

    ## Fix safety

    Report only: the fix depends on which transformers the target host runs.
    """

    @classmethod
    def might_match(cls, source: bytes, target: Target) -> bool:
        return super().might_match(source, target) and b"prepare_inputs_for_generation" in source

    @classmethod
    def might_match_code(cls, code: bytes, tree: ast.Module, target: Target) -> bool:
        """A ``prepare_inputs_for_generation`` that names one of the keys (a parameter or a
        string) somewhere inside it: most modeling files mention them elsewhere only."""
        return super().might_match_code(code, tree, target) and any(
            (isinstance(node, ast.arg) and node.arg in (FLAG, CACHE))
            or (isinstance(node, ast.Constant) and node.value in (FLAG, CACHE))
            for hook in functions(tree) if hook.name == "prepare_inputs_for_generation"
            for node in ast.walk(hook))

    def __init__(self, file: PythonSource) -> None:
        super().__init__(file)
        self._kwargs: list[str | None] = []  # the ** parameter of each enclosing hook

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value != "prepare_inputs_for_generation":
            self._kwargs.append(None)
            return
        star = node.params.star_kwarg
        self._kwargs.append(star.name.value if star is not None else None)
        for param in (*node.params.params, *node.params.kwonly_params):
            if param.name.value in (FLAG, CACHE):
                self._flag(param, param.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._kwargs.pop()

    def _reads_kwargs(self, node: cst.BaseExpression) -> bool:
        return bool(self._kwargs) and isinstance(node, cst.Name) and node.value == self._kwargs[-1]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _READERS and node.args \
                and self._reads_kwargs(func.value):
            key = _key(node.args[0].value)
            if key is not None:
                self._flag(node, key)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if self._reads_kwargs(node.value) and len(node.slice) == 1 and isinstance(
                node.slice[0].slice, cst.Index):
            key = _key(node.slice[0].slice.value)
            if key is not None:
                self._flag(node, key)

    def visit_Comparison(self, node: cst.Comparison) -> None:
        key = _key(node.left)
        if key is not None and any(isinstance(t.operator, (cst.In, cst.NotIn))
                                   and self._reads_kwargs(t.comparator)
                                   for t in node.comparisons):
            self._flag(node, key)

    def _flag(self, node: cst.CSTNode, key: str) -> None:
        version = installed_transformers()
        release = _release(version) if version else None
        installed = f"tested: {TESTED}; installed here: {version or 'not installed'}"
        if key == FLAG:
            broken = release is not None and release < REQUIRED
            message = (f"prepare_inputs_for_generation relies on {FLAG}, which generate() "
                       f"passes only from transformers {REQUIRED[0]}.{REQUIRED[1]} (with 4.x "
                       f"the audio is silently never encoded): {installed}")
        else:
            broken = release is not None and release >= CACHE_RENAMED
            message = (f"prepare_inputs_for_generation reads {CACHE} from its kwargs; from "
                       f"transformers {CACHE_RENAMED[0]}.{CACHE_RENAMED[1]} generate() passes "
                       "the cache as `cache`, so it is lost on every step and a second round "
                       f"fails: {installed}")
        self.report(node, message, Severity.ERROR if broken else Severity.WARNING)

    examples = (
        Example(
            "class Model:\n"
            "    def prepare_inputs_for_generation(self, input_ids, **kwargs):\n"
            "        first = kwargs.get('is_first_iteration', False)\n"
            "        if kwargs['is_first_iteration'] or 'is_first_iteration' in kwargs:\n"
            "            pass\n"
            "        cache = kwargs.get('past_key_values')\n",
            findings=4,
        ),
        Example(
            "def prepare_inputs_for_generation(ids, is_first_iteration=False, **extra):\n"
            "    return ids\n",
            findings=1,
        ),
        Example(
            "def forward(self, **kwargs):\n"
            "    return kwargs.get('is_first_iteration'), kwargs['past_key_values']\n"
            "def prepare_inputs_for_generation(self, **kwargs):\n"
            "    log('is_first_iteration')\n",
        ),
    )
