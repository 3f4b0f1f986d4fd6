"""Small module-level helper functions that a rule inserts once into a module it rewrites.

A rule whose rewrite needs a few lines of logic (a fallback, a run-time translation) rewrites
each call site to call a private function and inserts that function once per module, right
before the first top-level statement that uses it (so module-level uses find it defined). The
function's docstring names the rule (``covo-port NPU008``): a second apply recognises it, finds
nothing left to rewrite and inserts nothing, and a name already taken by something else makes
the rule report instead of rewriting.
"""

from __future__ import annotations

import enum

import libcst as cst
from libcst.metadata import ScopeProvider

from covo_port.lib.tree import top_level_statement
from covo_port.model import PythonRule


def marker(rule_id: str) -> str:
    """The words in a helper's docstring that say which rule inserted it."""
    return f"covo-port {rule_id}"


class HelperState(str, enum.Enum):
    """Whether a module holds the helper a rule inserts."""

    PRESENT = "present"  # this rule's helper is in the module
    FREE = "free"  # the name is not bound in the module
    TAKEN = "taken"  # the name is bound to something else


def _own_helper(statement: cst.CSTNode, name: str, rule_id: str) -> bool:
    if not isinstance(statement, cst.FunctionDef) or statement.name.value != name:
        return False
    docstring = statement.get_docstring(clean=False)
    return docstring is not None and marker(rule_id) in docstring


def inside_helper(rule: PythonRule, node: cst.CSTNode, name: str) -> bool:
    """Whether ``node`` is in the body of the helper ``name`` that ``rule`` inserted."""
    statement = top_level_statement(rule, node)
    return statement is not None and _own_helper(statement, name, rule.id)


def helper_state(rule: PythonRule, name: str) -> HelperState:
    """Whether ``rule``'s helper ``name`` is in the module, or the name is free or taken."""
    module = rule.file.module
    if any(_own_helper(s, name, rule.id) for s in module.body):
        return HelperState.PRESENT
    scope = rule.get_metadata(ScopeProvider, module, None)
    if scope is not None and scope.assignments[name]:
        return HelperState.TAKEN
    return HelperState.FREE


def insert_helper(rule: PythonRule, use: cst.CSTNode, source: str, message: str) -> None:
    """Insert the function ``source`` right before the top-level statement that holds ``use``
    (its first use in the module)."""
    before = top_level_statement(rule, use)
    if before is None:  # not in the module's statements: nothing to insert before
        return
    helper = cst.parse_statement(source)
    if before is not rule.file.module.body[0]:
        helper = helper.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    # The statement itself stays the same object, so other rules' edits on it still apply.
    rule.replace(before, lambda updated: cst.FlattenSentinel([helper, updated]), message)
