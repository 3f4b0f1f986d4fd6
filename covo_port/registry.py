"""Finds the rules: every module of ``covo_port.rewrites`` (the ``rewrites/`` folder) holds one.

The registry sits above the rules and the engines: it gives the pipeline the rules a run uses
(:func:`engine_config`), and the CLI and reports the rules' documentation.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache

from covo_port import rewrites
from covo_port.engines import EngineConfig
from covo_port.model import PythonRule, Rule, RunOptions, Target, TreeIndex, UserError


class RuleError(UserError, LookupError):
    """An unknown rule id, or a rules folder that breaks the one-rule-per-module contract."""


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule, sorted by (phase, id)."""
    found: dict[str, type[Rule]] = {}
    for info in pkgutil.iter_modules(rewrites.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{rewrites.__name__}.{info.name}")
        classes = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Rule)
            and obj.__module__ == module.__name__
            and "id" in vars(obj)
        ]
        if len(classes) != 1:
            raise RuleError(f"{module.__name__}: expected one rule class, found {len(classes)}")
        rule = classes[0]
        if rule.id in found:
            raise RuleError(f"rule id {rule.id} is declared twice")
        found[rule.id] = rule
    return tuple(sorted(found.values(), key=lambda r: r.sort_key()))


def get_rule(rule_id: str) -> type[Rule]:
    """The rule with code ``rule_id`` (any case) or readable name ``rule_id``."""
    for rule in all_rules():
        if rule.id == rule_id.upper() or rule.name == rule_id.lower():
            return rule
    raise RuleError(f"unknown rule {rule_id!r}; `covo-port rules` lists them")


def active_rules(options: RunOptions) -> tuple[type[Rule], ...]:
    """The rules a run uses: selected ones (or all but opt-in rules not asked for), less the
    ignored ones."""
    for rule_id in (*options.select, *options.ignore):
        get_rule(rule_id)
    rules = []
    for rule in all_rules():
        if rule.id in options.ignore:
            continue
        if options.select:
            if rule.id in options.select:
                rules.append(rule)
        elif rule.opt_in is None or rule.opt_in in options.optimize:
            rules.append(rule)
    return tuple(rules)


def python_rules(rules: tuple[type[Rule], ...]) -> tuple[type[PythonRule], ...]:
    return tuple(r for r in rules if issubclass(r, PythonRule))


def shell_rules(rules: tuple[type[Rule], ...]) -> tuple[type[Rule], ...]:
    return tuple(r for r in rules if r.handles_shell())


def optimizations() -> tuple[str, ...]:
    """Names accepted by ``apply --optimize``."""
    return tuple(sorted({r.opt_in for r in all_rules() if r.opt_in}))


def engine_config(target: Target, options: RunOptions,
                  tree: TreeIndex | None = None) -> EngineConfig:
    """What the engines need for a run with ``options``."""
    return EngineConfig(target, options, active_rules(options),
                        frozenset(r.id for r in all_rules()), tree)
