"""Small module-level helper functions that a rule's rewrite calls: imported from the run's
support module, or inserted once into the module it rewrites.

A rule whose rewrite needs a few lines of logic (a fallback, a run-time translation) rewrites
each call site to call a private function and :func:`place_helper` provides it. In a module of a
package that is certainly imported as part of it, the module imports the function from the
support module (:mod:`covo_port.model.support`) of the highest package folder its own relative
imports reach (``from .._covo_port_npu import _torchaudio_load``), which the run writes once
into OUT. Anywhere else the function is inserted into the module, right before the first
top-level statement that uses it (so module-level uses find it defined), and the change says
why. The function's docstring names the rule (``covo-port NPU008``): a second apply recognises
it, or the import of it, finds nothing left to rewrite and inserts nothing; a name already taken
by something else makes the rule report instead of rewriting.
"""

from __future__ import annotations

import enum
import posixpath

import libcst as cst
from libcst.metadata import ScopeProvider

from covo_port.lib.tree import top_level_statement
from covo_port.model import SUPPORT_MODULE, PythonRule, SupportHelper


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


def _imports_helper(statement: cst.CSTNode, name: str) -> bool:
    """Whether ``statement`` is ``from .<...>_covo_port_npu import name``."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    return any(isinstance(s, cst.ImportFrom) and s.relative and isinstance(s.module, cst.Name)
               and s.module.value == SUPPORT_MODULE and not isinstance(s.names, cst.ImportStar)
               and any(a.evaluated_name == name and a.asname is None for a in s.names)
               for s in statement.body)


def helper_state(rule: PythonRule, name: str) -> HelperState:
    """Whether ``rule``'s helper ``name`` is in the module (or imported from a support module),
    or the name is free or taken."""
    module = rule.file.module
    if any(_own_helper(s, name, rule.id) or _imports_helper(s, name) for s in module.body):
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


def _relative_level(module: cst.Module) -> int:
    """The most dots of the module's own relative imports that run whenever it is imported
    (plain top-level statements, not in a ``try``, an ``if`` or a function): each proves that
    the module is only ever imported as part of a package that deep (as a script it fails)."""
    return max((len(s.relative) for statement in module.body
                if isinstance(statement, cst.SimpleStatementLine)
                for s in statement.body if isinstance(s, cst.ImportFrom)), default=0)


def support_folder(rule: PythonRule, name: str) -> tuple[str, int] | str:
    """(folder, dots) of the support module from which the module can import ``name``, or
    why it cannot (the helper then goes into the module itself)."""
    path, tree = rule.file.path, rule.file.tree
    if tree is None:
        return "the file is ported on its own, not as part of a tree"
    if not path.endswith(".py"):
        return "not a .py module (a notebook cell or a script cannot import a sibling reliably)"
    folder = posixpath.dirname(path)
    if folder not in tree.packages:
        return ("its folder is not a package (no __init__.py): an import of a sibling works "
                "only where the script is run as one")
    level = _relative_level(rule.file.module)
    if level == 0:
        return ("no relative import of its own shows that it is always imported as part of "
                "its package")
    dots = 1
    while dots < level and folder and posixpath.dirname(folder) in tree.packages:
        folder, dots = posixpath.dirname(folder), dots + 1
    where = f"{folder}/{SUPPORT_MODULE}" if folder else SUPPORT_MODULE
    if folder in tree.support:
        there = tree.support[folder]
        if there is None:
            return f"{where} exists in the source and is not covo-port's"
        if name not in there:
            return f"{where}, from an earlier run, does not define {name}"
    return folder, dots


def place_helper(rule: PythonRule, use: cst.CSTNode, name: str, source: str,
                 message: str) -> None:
    """Provide the helper ``name`` (function ``source``) to the module, whose first use of it
    is ``use``: imported from a support module where that import certainly works (see the
    module's docstring), else inserted into the module; either right before the top-level
    statement that holds ``use``."""
    where = support_folder(rule, name)
    if isinstance(where, str):
        insert_helper(rule, use, source, f"{message}; in this module: {where}")
        return
    before = top_level_statement(rule, use)
    if before is None:  # not in the module's statements: nothing to import before
        return
    folder, dots = where
    helper = SupportHelper(rule.id, folder, name, source)
    statement = cst.parse_statement(f"from {'.' * dots}{SUPPORT_MODULE} import {name}\n")
    # right before the statement, where an inserted helper goes: no other line of the module
    # (an import line with a `# covo-port: ignore`) can switch the import off alone
    rule.replace(before, lambda updated: cst.FlattenSentinel([statement, updated]),
                 f"{message}; imported from {helper.path}, written once for the package")
    tree = rule.file.tree
    if tree is not None and folder not in tree.support:  # else it is there from an earlier run
        rule.file.add_support(helper)
