"""Verification profiles: what ``covo-port verify`` runs on OUT, one package or module each.

A profile is a sequence of stages on the shared runner (:mod:`covo_port.verify.core`). It
provides ``NAME``, ``STAGES`` (``(number, name, title)`` rows), an options class,
``run_verify(options, manifest, on_stage)`` returning a :class:`~covo_port.verify.core.
Verification`, and ``render_markdown`` / ``to_json`` of that verification. A new model family
is a new profile here, not edits across the verify package.

- ``covo-audio`` (:mod:`.covo_audio`): the Covo-Audio port's five stages, the default;
- ``tests`` (:mod:`.tests`): any project, through its own test command (``--tests CMD``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

PROFILES = {
    "covo-audio": "covo_port.verify.profiles.covo_audio",
    "tests": "covo_port.verify.profiles.tests",
}


def load(name: str) -> ModuleType:
    """The profile ``name`` (one of :data:`PROFILES`), imported."""
    return importlib.import_module(PROFILES[name])
