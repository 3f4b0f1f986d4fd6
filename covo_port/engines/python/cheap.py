"""The cheap pass: which rules may match a Python file, before libcst parses it.

Two levels, both before libcst: the rules' ``might_match`` on the raw bytes (no parse at all),
then, where some rule may match, the same test on the file's *code*: its bytes with the comments
and docstrings blanked out (every byte but line breaks made a space, so offsets, lines and the
shape of the code stay as they were), found from Python's own tree of the file (which the parse
verdict builds anyway, at about a tenth of libcst's cost). A file that mentions "cuda" only in a
comment or a docstring is not parsed by libcst at all, and a rule whose trigger words stand only
there does not run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from covo_port.engines.directives import MAYBE_IGNORE
from covo_port.engines.python.verdict import Span, Verdict
from covo_port.model import PythonRule, Rule, Target

#: The fast paths (this cheap pass; positions worked out per node, engines.python.positions)
#: are on unless the environment sets COVO_PORT_REFERENCE=1: benchmarks/apply_throughput.py
#: runs that way to check that they change nothing in the output.
FAST_PATHS = os.environ.get("COVO_PORT_REFERENCE") != "1"

_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
#: every byte but the line breaks -> a space
_BLANK = bytes(b if b in b"\r\n" else 32 for b in range(256))
_BOM = b"\xef\xbb\xbf"
#: PEP 263: an encoding declared on one of the first two lines.
_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.MULTILINE)


def python_candidates(text: bytes, rules: Sequence[type[Rule]],
                      target: Target) -> tuple[type[PythonRule], ...]:
    """The Python rules worth running on a file of ``text``: none where no rule's trigger word
    is in it, else those whose trigger words are, and every rule of a later phase (those react
    to the earlier rules' edits, not to the text)."""
    python = [r for r in rules if issubclass(r, PythonRule)]
    triggered = [r for r in python if r.might_match(text, target)]
    if not triggered:
        return ()
    first = min(r.phase for r in python)
    return tuple(r for r in python if r.phase > first or r in triggered)


def _utf8(source: bytes) -> bool:
    """Whether Python reads ``source`` as UTF-8 (so that its columns are offsets in the bytes)."""
    head = b"\n".join(source.split(b"\n", 2)[:2])
    declared = _CODING.search(head)
    return declared is None or declared.group(1).lower().replace(b"_", b"-") in (
        b"utf-8", b"utf8")


def code_view(source: bytes, verdict: Verdict) -> bytes | None:
    """``source`` with its comments and docstrings blanked out (None: not known, where Python
    did not parse it or read it in another encoding)."""
    if not verdict.parsed or not _utf8(source):
        return None
    starts = [0, *(m.end() for m in _LINE_BREAK.finditer(source))]
    if source.startswith(_BOM):
        starts[0] = len(_BOM)  # Python's columns on the first line do not count it

    def offsets(span: Span) -> tuple[int, int]:
        line, column, end_line, end_column = span
        return starts[line - 1] + column, starts[end_line - 1] + end_column

    blanks = [offsets(span) for span in verdict.docstrings]
    # A "#" outside every string literal starts a comment, which runs to the end of its line.
    strings = sorted(map(offsets, verdict.strings))
    at, index = source.find(b"#"), 0
    while at >= 0:
        while index < len(strings) and strings[index][1] <= at:
            index += 1
        if index < len(strings) and strings[index][0] <= at:
            at = source.find(b"#", strings[index][1])  # inside a string: go on after it
            continue
        match = _LINE_BREAK.search(source, at)
        end = len(source) if match is None else match.start()
        blanks.append((at, end))
        at = source.find(b"#", end)
    if not blanks:
        return source
    code = bytearray(source)
    for start, end in blanks:
        code[start:end] = source[start:end].translate(_BLANK)
    return bytes(code)


def code_candidates(source: bytes, verdict: Verdict, rules: Sequence[type[PythonRule]],
                    config_rules: Sequence[type[Rule]],
                    target: Target) -> tuple[type[PythonRule], ...]:
    """Of ``rules`` (:func:`python_candidates` of the raw bytes, from ``config_rules``), those
    that the file's code alone (see :func:`code_view`) and Python's tree of it may match (each
    rule's ``might_match_code``), with every rule of a later phase as in
    :func:`python_candidates`; ``rules`` as they are where the code is not known, or where a
    ``# covo-port: ignore`` comment is (which the libcst pass checks and may report on)."""
    code = code_view(source, verdict)
    if code is None or verdict.tree is None or MAYBE_IGNORE.search(source):
        return tuple(rules)
    tree = verdict.tree
    triggered = [r for r in rules if r.might_match_code(code, tree, target)]
    if not triggered:
        return ()
    first = min(r.phase for r in config_rules if issubclass(r, PythonRule))
    return tuple(r for r in rules if r.phase > first or r in triggered)
