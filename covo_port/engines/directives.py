"""``# covo-port:`` comments: suppressions read from the source, annotations written into OUT.

Suppression: a comment ``# covo-port: ignore[NPU104]`` (several codes: ``ignore[NPU104,NPU017]``;
every rule: a bare ``# covo-port: ignore``) switches off the findings *and* the rewrites of those
rules that start on its line. The comment may stand on the line where the finding or rewrite
starts, or on the first or last line of the statement that holds it (a Python statement or a
shell command spanning several lines; for a compound statement, the first line of its header).
Nothing is dropped silently: what a comment switched off is kept as :class:`Suppressed` records,
counted in the report and listed in the manifest. A code that names no rule is itself reported.

Annotation (``apply --annotate``): each warning or error finding of a rule gets the comment
``# covo-port: NPU104 <message>`` on its own line above the statement that holds it, indented
like it, so the open work is visible in OUT itself. It always goes above the statement's first
line (a comment there can never land inside a multi-line string or break a continued shell line),
and is not written again where the same comment already stands directly above (a second apply
of OUT adds nothing). Info findings are not annotated: they describe a rewrite that was made.
Annotations are changes of the rule that found the line (``Change.annotation``), so
``covo-port diff``, ``diff --rule`` and that rule's commit in OUT show them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from covo_port.model import ENGINE_CODE, Finding, Severity

_IGNORE = re.compile(r"covo-port:[ \t]*ignore\b(?:\[(?P<codes>[^\]\n]*)\])?")
MAYBE_IGNORE = re.compile(rb"covo-port:[ \t]*ignore\b")
_CODE = re.compile(r"NPU\d{3}")
ANNOTATED = (Severity.WARNING, Severity.ERROR)


@dataclass(frozen=True)
class Ignore:
    """One ``# covo-port: ignore[...]`` comment: the rules it names (None: every rule)."""

    line: int
    codes: frozenset[str] | None

    def covers(self, rule: str) -> bool:
        return self.codes is None or rule in self.codes


def annotation_text(rule: str, message: str) -> str:
    """The comment ``--annotate`` writes for a finding (one line, whatever the message)."""
    return f"# covo-port: {rule} {' '.join(message.split())}"


class Ignores:
    """The suppression comments of one file, by line, and the findings about bad ones."""

    def __init__(self, path: str, comments: Iterable[tuple[int, str]],
                 known: frozenset[str]) -> None:
        self.by_line: dict[int, list[Ignore]] = {}
        self.findings: list[Finding] = []
        for line, text in comments:
            match = _IGNORE.search(text)
            if match is None:
                continue
            codes = None
            if match.group("codes") is not None:
                named = [c.strip().upper() for c in match.group("codes").split(",")]
                unknown = [c for c in named if c not in known]
                for code in unknown:
                    what = "names no rule" if _CODE.fullmatch(code) else "is not a rule code"
                    self.findings.append(Finding(
                        ENGINE_CODE, path, line, 1, Severity.WARNING,
                        f"covo-port: ignore[{match.group('codes')}]: {code!r} {what} "
                        "(`covo-port rules` lists them); it suppresses nothing"))
                codes = frozenset(c for c in named if c not in unknown)
            self.by_line.setdefault(line, []).append(Ignore(line, codes))

    def __bool__(self) -> bool:
        return bool(self.by_line)

    def covers(self, rule: str, lines: Iterable[int]) -> bool:
        return any(ignore.covers(rule) for line in set(lines)
                   for ignore in self.by_line.get(line, ()))


def stands_above(lines: list[bytes], first: int, text: str) -> bool:
    """Whether ``text`` already stands in the comment block directly above line ``first``."""
    wanted = text.encode("utf-8", errors="surrogateescape")
    index = first - 2
    while index >= 0 and lines[index].lstrip().startswith(b"#"):
        if lines[index].strip() == wanted:
            return True
        index -= 1
    return False
