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


def test_readme_documents_every_option() -> None:
    """Each command's options appear in the README (its synopsis or the bullets below it)."""
    import click

    from covo_port.cli import COMMANDS, main

    text = README.read_text()
    context = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert command is not None
        assert f"covo-port {name}" in text, name
        for param in command.params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            names = [*param.opts, *param.secondary_opts]
            assert any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text) for n in names), \
                f"covo-port {name} {names[0]} is not in the README"
