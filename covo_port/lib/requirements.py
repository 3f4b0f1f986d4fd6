"""Requirement strings, parsed as their ecosystems define them: PEP 508 (``packaging``) for pip,
match specs (``name=version=build``, ``channel::name``) for conda. The build engine reads build
files with them, and the rules read ``setup()`` arguments with them."""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508

from covo_port.model import Requirement

_PINS = ("==", "===")
_CONDA = re.compile(r"^\s*(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)"
                    r"(?:\[[^\]]*\])?\s*(?P<rest>.*?)\s*$")


def pep508(text: str, line: int, column: int = 1) -> Requirement | None:
    """A PEP 508 requirement string (``torch==2.1.0+cu121``, ``name @ URL``), else None."""
    try:
        parsed = Pep508(text)
    except InvalidRequirement:
        return None
    specs = list(parsed.specifier)
    version = specs[0].version if len(specs) == 1 and specs[0].operator in _PINS else None
    return Requirement(parsed.name, text.strip(), line, column, version,
                       tuple(sorted(parsed.extras)), parsed.url)


def conda_spec(text: str, line: int, column: int = 1) -> Requirement | None:
    """A conda match spec (``pytorch=2.1.0=py3.10_cuda12.1_0``, ``nvidia::cuda-toolkit``,
    ``numpy>=1.24``, ``pytorch 2.1.0 build``)."""
    match = _CONDA.match(text)
    if match is None:
        return None
    rest = match.group("rest")
    version = build = None
    if rest.startswith("==") and not rest.startswith("==="):
        version = rest[2:].strip() or None
    elif rest.startswith("=") and not rest.startswith("=="):
        version, _, build = rest[1:].partition("=")
        build = build or None
    elif rest and rest[0] not in "<>!~":
        version, _, build = rest.partition(" ")
        build = build.strip() or None
    return Requirement(match.group("name"), text.strip(), line, column, version or None,
                       build=build, manager="conda")
