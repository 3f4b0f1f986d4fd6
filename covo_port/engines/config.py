"""What a file's rewrite depends on, the same for every file of a run (picklable, for worker
processes): the target, the run's options, the rules, the tree index and the known rule ids."""

from __future__ import annotations

from dataclasses import dataclass

from covo_port.model import Rule, RunOptions, Target, TreeIndex


@dataclass
class EngineConfig:
    target: Target
    options: RunOptions
    #: The rules this run uses, in (phase, id) order.
    rules: tuple[type[Rule], ...]
    #: Every rule id there is (a suppression comment naming another code is reported).
    known: frozenset[str]
    tree: TreeIndex | None = None
