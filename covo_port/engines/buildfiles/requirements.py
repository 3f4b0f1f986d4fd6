"""pip requirements files, read with pip-requirements-parser (pip's own grammar: options,
continuations, comments, hashes, markers, direct URLs)."""

from __future__ import annotations

import os
import tempfile

from pip_requirements_parser import RequirementsFile

from covo_port.engines.buildfiles.parts import BuildParts
from covo_port.engines.configfiles.base import ConfigParseError
from covo_port.model import PackageIndex, Requirement

_INDEXES = {"index_url": "--index-url", "extra_index_urls": "--extra-index-url",
            "find_links": "--find-links"}


def read(text: str) -> BuildParts:
    # pip-requirements-parser reads files by name only: the text goes through a private temporary
    # file (never beside SRC or OUT), removed at once.
    with tempfile.TemporaryDirectory(prefix="covo-port-") as folder:
        name = os.path.join(folder, "requirements.txt")
        with open(name, "w", encoding="utf-8", errors="surrogateescape", newline="") as out:
            out.write(text)
        try:
            parsed = RequirementsFile.from_file(name, include_nested=False)
        except Exception as exc:  # a third-party parser: anything it raises refuses the file
            raise ConfigParseError(str(exc) or type(exc).__name__) from None
    parts = BuildParts()
    for requirement in parsed.requirements:
        line = requirement.line_number or 1
        link = requirement.link.url if requirement.link is not None else None
        specs = list(requirement.specifier or ())
        version = (specs[0].version if len(specs) == 1 and specs[0].operator in ("==", "===")
                   else None)
        parts.requirements.append(Requirement(
            requirement.name or "", (requirement.line or "").strip(), line, 1, version,
            tuple(sorted(requirement.extras or ())), link))
    for option in parsed.options:
        for key, flag in _INDEXES.items():
            value = option.options.get(key)
            for url in [value] if isinstance(value, str) else value or ():
                parts.indexes.append(PackageIndex(url, flag, option.line_number or 1))
    for invalid in parsed.invalid_lines:
        why = (invalid.error_message or "invalid").splitlines()[0]
        parts.problems.append((invalid.line_number or 1, f"pip cannot read this line ({why})"))
    return parts
