"""Helpers that a run writes once into a support module of OUT, for the modules that import them.

A rule whose rewrite calls a helper function (NPU008's torchaudio.load fallback) imports it, in a
module of a package, from one support module (:data:`SUPPORT_MODULE`) that the pipeline writes
into OUT with every helper the run needed there, in the commit of the rule that needed each:
one copy per package instead of one per module. Where such an import is not certain to work (a
script's folder, a notebook, a module not known to be imported as part of its package), the
rule inserts the helper into the module itself instead.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The support module's name (without ``.py``), in the package folder that holds it.
SUPPORT_MODULE = "_covo_port_npu"
#: The first words of a support module that covo-port wrote (a second apply recognises it).
SUPPORT_HEADER = "Helpers that covo-port added"


@dataclass(frozen=True)
class SupportHelper:
    """A helper function that a rewritten file imports from the support module of ``folder``
    (relative to SRC, "" for its root); ``source``: the function's text, ``rule``: whose
    rewrite needs it."""

    rule: str
    folder: str
    name: str
    source: str

    @property
    def path(self) -> str:
        """The support module's path relative to SRC."""
        return f"{self.folder}/{SUPPORT_MODULE}.py" if self.folder else f"{SUPPORT_MODULE}.py"
