"""The tree words' import scan (lib.treefacts) finds what its regular expression finds on the
whole text, trying it only on the lines that hold "import"."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from covo_port.lib.treefacts import _IMPORT_LINE, _import_lines, imported_modules

PIECES = ["import", "from", " ", "\t", "\n", "\r\n", ".", "..", "x", "torch", "(", ")", ",",
          "as", "#", "importlib", "y_1", "\\\n", "\"", "'", ";", "é"]


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=40))
def test_the_scan_finds_what_the_expression_finds_on_the_whole_text(pieces: list[str]) -> None:
    data = "".join(pieces).encode()
    expected = [(m.start(), m.groups()) for m in _IMPORT_LINE.finditer(data)]
    assert [(m.start(), m.groups()) for m in _import_lines(data)] == expected


def test_each_rule_asking_about_the_same_file_gets_the_same_answer() -> None:
    data = b"import torch\nfrom .models import fused\n"
    first = imported_modules("pkg/a.py", data)
    assert imported_modules("pkg/a.py", data) is first  # scanned once
    assert imported_modules("other/b.py", data) == {"torch", "other.models",
                                                    "other.models.fused"}
    assert first == {"torch", "pkg.models", "pkg.models.fused"}
