"""conda environment files (``environment.yml``), read as YAML (ruamel.yaml): ``channels``,
``dependencies`` (conda match specs) and their ``pip:`` list (pip requirement lines)."""

from __future__ import annotations

import shlex

from covo_port.engines.buildfiles.parts import INDEX_OPTIONS, BuildParts, conda_spec, pep508
from covo_port.engines.configfiles import yamlfile
from covo_port.model import PackageIndex


def read(text: str) -> BuildParts:
    parts = BuildParts()
    for entry in yamlfile.read(text):
        if not isinstance(entry.value, str) or not entry.keys:
            continue
        keys, value = entry.keys, entry.value
        if keys[0] == "channels" and len(keys) == 2:
            parts.indexes.append(PackageIndex(value, "channels", entry.line, entry.column))
        elif keys[0] == "dependencies" and len(keys) == 2:
            spec = conda_spec(value, entry.line, entry.column)
            if spec is not None:
                parts.requirements.append(spec)
        elif keys[0] == "dependencies" and len(keys) == 4 and keys[2] == "pip":
            _pip_line(parts, value, entry.line, entry.column)
    return parts


def _pip_line(parts: BuildParts, value: str, line: int, column: int) -> None:
    if value.startswith("-"):
        try:
            words = shlex.split(value)
        except ValueError:
            return
        flag, eq, url = words[0].partition("=")
        if flag in INDEX_OPTIONS:
            url = url if eq else (words[1] if len(words) > 1 else "")
            parts.indexes.append(PackageIndex(url, INDEX_OPTIONS[flag], line, column))
        return
    requirement = pep508(value, line, column)
    if requirement is not None:
        parts.requirements.append(requirement)
    else:
        parts.problems.append((line, "pip cannot read this requirement"))
