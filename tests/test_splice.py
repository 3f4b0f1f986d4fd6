"""The line match that carries libcst's print over onto the source (issue 14, item 5): always a
valid match, as good as difflib's on code, and the same rewrite at any length. Its speed is
measured by benchmarks/splice_scaling.py, not here."""

from __future__ import annotations

from difflib import SequenceMatcher
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from covo_port.engines.python.splice import SMALL_GAP, Splice, matching_lines, opcodes

from .conftest import run_rules

LINES = st.lists(st.sampled_from([b"\n", b"    pass\n", b"a\n", b"b\n"])
                 | st.integers(0, 10**6).map(lambda n: b"x%d\n" % n), max_size=300)


@st.composite
def edited(draw: st.DrawFn) -> tuple[list[bytes], list[bytes]]:
    a = draw(LINES)
    b = list(a)
    for _ in range(draw(st.integers(0, 8))):
        where = draw(st.integers(0, len(b)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        if kind == "insert" or where == len(b):
            b.insert(where, draw(st.sampled_from([b"new\n", b"\n", b"a\n"])))
        elif kind == "delete":
            del b[where]
        else:
            b[where] = b"changed\n"
    return a, b


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(edited())
def test_the_match_is_valid_and_its_opcodes_rebuild_the_other_side(
        pair: tuple[list[bytes], list[bytes]]) -> None:
    a, b = pair
    matched = matching_lines(a, b)
    assert all(a[i] == b[j] for i, j in matched)
    assert all(i1 < i2 and j1 < j2 for (i1, j1), (i2, j2) in pairwise(matched))
    rebuilt: list[bytes] = []
    for tag, i1, i2, j1, j2 in opcodes(a, b):
        assert (tag == "equal") == (a[i1:i2] == b[j1:j2] != [])
        rebuilt += b[j1:j2]
    assert rebuilt == b


def _module(functions: int) -> list[bytes]:
    lines = [b"import torch\n", b"\n"]
    for n in range(functions):
        lines += [b"def f%d(x):\n" % n, b"    try:\n", b"        return x\n",
                  b"    except ValueError :\n", b"        pass\n", b"\n"]
    return lines


def test_on_code_the_match_is_as_large_as_difflibs() -> None:
    source = _module(100)  # gaps far above SMALL_GAP: the anchored match
    assert len(source) ** 2 > SMALL_GAP
    printed = [line.replace(b" :", b":") for line in source]
    edited = list(printed)
    edited[3 * 6 + 4] = b"        return x.npu()\n"
    edited.insert(1, b"import torch_npu\n")
    for a, b in ((printed, source), (printed, edited)):
        best = sum(n for *_, n in SequenceMatcher(None, a, b, autojunk=False)
                   .get_matching_blocks())
        assert len(matching_lines(a, b)) == best


def test_a_long_file_with_unfaithful_lines_is_rewritten_exactly() -> None:
    source = b"".join(_module(200)) + b"y = torch.zeros(1).cuda()\n"
    outcome = run_rules(source, select=("NPU001",))
    assert outcome.error is None, outcome.error
    assert outcome.output(source) == source.replace(b".cuda()", b".npu()")
    # an edit on a line that libcst does not print back faithfully is refused, at that line
    splice = Splice(source, source.replace(b" :\n", b":\n"))
    assert splice.onto_source(source.replace(b"except ValueError :", b"except KeyError:", 1)
                              .replace(b" :\n", b":\n")) is None
    assert splice.conflict == 6
