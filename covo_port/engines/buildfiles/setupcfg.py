"""``setup.cfg``, read as INI (ConfigUpdater): ``[options]`` install, setup and test
requirements and ``[options.extras_require]``, one PEP 508 requirement per line."""

from __future__ import annotations

import re

from covo_port.engines.buildfiles.parts import BuildParts, pep508
from covo_port.engines.configfiles import inifile
from covo_port.engines.textedit import LineIndex

_LISTS = {"install_requires", "setup_requires", "tests_require"}
_DELIMITER = re.compile(r"[ \t]*[=:]")


def read(text: str) -> BuildParts:
    parts = BuildParts()
    index = LineIndex(text)
    for section, option, offset in inifile.options(inifile.parse(text)):
        if not ((section.name == "options" and option.raw_key in _LISTS)
                or section.name == "options.extras_require"):
            continue
        first_line = index.line_col(offset)[0]
        for number, raw in enumerate(option.lines):
            line, skip = first_line + number, 0
            if number == 0:
                match = _DELIMITER.search(raw, raw.find(option.raw_key) + len(option.raw_key))
                skip = match.end() if match else len(raw)
            value = raw[skip:].strip()
            if not value or value.startswith(("#", ";")):
                continue
            column = raw.find(value, skip) + 1
            requirement = pep508(value, line, column)
            if requirement is None:
                parts.problems.append((line, "not a PEP 508 requirement"))
            else:
                parts.requirements.append(requirement)
    return parts
