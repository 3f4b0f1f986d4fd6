"""Which rewriter claims a file, and running it: Python via libcst, shell via the lexer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from covo_port.notebook import rewrite_notebook
from covo_port.outcome import FileOutcome
from covo_port.pyengine import rewrite_python
from covo_port.registry import active_rules, python_rules, shell_rules
from covo_port.rule import PythonRule, Rule, RunOptions
from covo_port.shell import is_shell_script, rewrite_shell
from covo_port.target import Target
from covo_port.treeindex import TreeIndex


@dataclass
class Config:
    """Everything a file's rewrite depends on (picklable, for worker processes)."""

    target: Target
    options: RunOptions
    rules: tuple[type[Rule], ...]
    tree: TreeIndex | None = None

    @classmethod
    def make(cls, target: Target, options: RunOptions, tree: TreeIndex | None = None) -> Config:
        return cls(target, options, active_rules(options), tree)


def is_python(name: str, head: bytes) -> bool:
    if name.endswith((".py", ".pyi")):
        return True
    first = head.split(b"\n", 1)[0]
    return first.startswith(b"#!") and b"python" in first


def is_binary(head: bytes) -> bool:
    return b"\0" in head


def _might_match(source: bytes, rules: Sequence[type[Rule]], target: Target) -> bool:
    return any(rule.might_match(source, target) for rule in rules)


def _candidates(source: bytes, rules: Sequence[type[PythonRule]], target: Target
                ) -> tuple[type[PythonRule], ...]:
    """The rules worth running on ``source``: none where no rule's trigger word is in it, else
    those whose trigger words are, and every rule of a later phase (those react to the earlier
    rules' edits, not to the text)."""
    triggered = [r for r in rules if r.might_match(source, target)]
    if not triggered:
        return ()
    first = min(r.phase for r in rules)
    return tuple(r for r in rules if r.phase > first or r in triggered)


def rewrite_file(path: str, source: bytes, config: Config) -> tuple[str, FileOutcome]:
    """(kind, outcome) for one file's bytes; ``kind`` is python, shell, notebook, binary or
    text."""
    name = path.rsplit("/", 1)[-1]
    head = source[:8192]
    if is_binary(head):
        return "binary", FileOutcome()
    if name.endswith(".ipynb"):
        python = _candidates(source, python_rules(config.rules), config.target)
        shells = shell_rules(config.rules)
        shell = shells if _might_match(source, shells, config.target) else ()
        rules = tuple(r for r in config.rules if r in python or r in shell)
        if not rules:
            return "notebook", FileOutcome()
        return "notebook", rewrite_notebook(source, path, rules, config.target, config.options,
                                            config.tree)
    if is_python(name, head):
        rules = _candidates(source, python_rules(config.rules), config.target)
        if not rules:
            return "python", FileOutcome()
        return "python", rewrite_python(source, path, rules, config.target, config.options,
                                         config.tree)
    if is_shell_script(name, head):
        rules = shell_rules(config.rules)
        if not _might_match(source, rules, config.target):
            return "shell", FileOutcome()
        return "shell", rewrite_shell(source, path, rules, config.target, config.options)
    return "text", FileOutcome()
