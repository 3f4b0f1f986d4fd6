"""The README stays true: its rule table is the one `covo-port rules --markdown` generates."""

from __future__ import annotations

import re
from pathlib import Path

from covo_port.cli.rules import rules_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_rule_table_is_generated_from_the_rules() -> None:
    text = README.read_text()
    table = re.search(r"<!-- rules:start -->\n(.*?)<!-- rules:end -->", text, re.S)
    assert table, "README lost its rule table markers"
    assert table.group(1) == rules_markdown(), "run `covo-port rules --markdown` into README"


def test_ci_runs_the_readme_test_command() -> None:
    text = README.read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", text, re.S)
    assert len(blocks) >= 2, "README needs its two set-up commands"
    test_command = blocks[1].strip()
    ci = (README.parent / ".ci" / "run").read_text()
    for part in test_command.split(" && "):
        assert part.strip() in ci, f"CI does not run {part!r}"
