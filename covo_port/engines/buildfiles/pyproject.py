"""``pyproject.toml``, read as TOML (tomlkit): PEP 621 dependencies and optional dependencies,
dependency groups, build requirements, Poetry's dependencies and sources, uv's and PDM's
indexes."""

from __future__ import annotations

from covo_port.engines.buildfiles.parts import BuildParts, pep508
from covo_port.engines.configfiles import tomlfile
from covo_port.model import ConfigEntry, PackageIndex, Requirement

Keys = tuple[str | int, ...]


def _pep508_list(keys: Keys) -> bool:
    """``project.dependencies[i]``, ``project.optional-dependencies.X[i]``,
    ``build-system.requires[i]``, ``dependency-groups.X[i]``."""
    if not keys or not isinstance(keys[-1], int):
        return False
    head = keys[:-1]
    return (head in (("project", "dependencies"), ("build-system", "requires"))
            or (len(head) == 3 and head[:2] == ("project", "optional-dependencies"))
            or (len(head) == 2 and head[0] == "dependency-groups"))


def _poetry_dependency(keys: Keys) -> tuple[str, str | int | None] | None:
    """(package, field) of a Poetry dependency entry (field None: ``name = "^1.0"``)."""
    tables = (("tool", "poetry", "dependencies"), ("tool", "poetry", "dev-dependencies"))
    for size in (3, 5):
        head = keys[:size]
        if head in tables or (size == 5 and head[:3] == ("tool", "poetry", "group")
                              and head[4] == "dependencies"):
            if len(keys) == size + 1:
                return str(keys[size]), None
            if len(keys) > size + 1:
                return str(keys[size]), keys[-1]
    return None


def _index(keys: Keys) -> str | None:
    """How the file names a package index at ``keys``, else None."""
    if len(keys) == 5 and keys[-1] == "url" and keys[:2] == ("tool", "poetry") and (
            keys[2] == "source"):
        return "tool.poetry.source"
    if len(keys) == 5 and keys[-1] == "url" and keys[:3] in (("tool", "uv", "index"),
                                                              ("tool", "pdm", "source")):
        return f"tool.{keys[1]}.{keys[2]}"
    if len(keys) >= 3 and keys[:2] == ("tool", "uv") and keys[2] in ("index-url",
                                                                     "extra-index-url",
                                                                     "find-links"):
        return f"tool.uv.{keys[2]}"
    return None


def read(text: str) -> BuildParts:
    parts = BuildParts()
    poetry: set[str] = set()
    for entry in tomlfile.read(text):
        if not isinstance(entry.value, str):
            continue
        if _pep508_list(entry.keys):
            requirement = pep508(entry.value, entry.line, entry.column)
            if requirement is None:
                parts.problems.append((entry.line, "not a PEP 508 requirement"))
            else:
                parts.requirements.append(requirement)
        elif (option := _index(entry.keys)) is not None:
            parts.indexes.append(PackageIndex(entry.value, option, entry.line, entry.column))
        elif (dependency := _poetry_dependency(entry.keys)) is not None:
            _poetry(parts, poetry, dependency, entry)
    return parts


def _poetry(parts: BuildParts, seen: set[str], dependency: tuple[str, str | int | None],
            entry: ConfigEntry) -> None:
    name, field = dependency
    if name.lower() == "python" or name in seen or field not in (None, "version", "url"):
        return
    seen.add(name)
    value = str(entry.value)
    exact = value.lstrip("=") if value[:1].isdigit() or value.startswith("==") else None
    url = value if field == "url" else None
    parts.requirements.append(Requirement(name, f"{name} = {value!r}", entry.line, entry.column,
                                          exact if field != "url" else None, url=url))
