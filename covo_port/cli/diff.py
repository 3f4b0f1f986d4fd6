"""``covo-port diff``: what apply changed in OUT."""

from __future__ import annotations

from pathlib import Path

import click
from rich.syntax import Syntax
from rich.table import Table

from covo_port.cli.common import default_out, err_console, out_console, user_errors
from covo_port.pipeline.gitout import is_port_repo, show_rule
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import InputError
from covo_port.registry import get_rule
from covo_port.report.diffing import file_diffs, stat_rows


@click.command()
@click.argument("out", required=False, type=click.Path(path_type=Path))
@click.option("--stat", is_flag=True, help="Per-file and per-rule counts instead of the diff.")
@click.option("--color/--no-color", default=None, help="Colour the diff [default: on a tty].")
@click.option("--rule", "rule_id", metavar="ID",
              help="Only this rule's commit in OUT's history (git show).")
@user_errors
def diff(out: Path | None, stat: bool, color: bool | None, rule_id: str | None) -> None:
    """Show what apply changed in OUT [default: ported/npu], as a unified diff."""
    out = out if out is not None else default_out("npu")
    manifest = Manifest.read(out)
    if rule_id is not None:
        rule = get_rule(rule_id)
        if not is_port_repo(out):
            raise InputError(f"{out} has no git history from covo-port apply (written by an "
                             "older version?); re-run apply to use --rule")
        shown = show_rule(out, rule.id, stat=stat)
        if shown is None:
            err_console.print(f"{rule.id} changed nothing in {out}")
            return
        _print_diff(shown, color)
        return
    diffs = file_diffs(out, manifest)
    if stat:
        files, rules = stat_rows(manifest, diffs)
        table = Table(title=f"{len(files)} file(s) changed", header_style="bold")
        widest = max((len(f[0]) for f in files), default=4)
        table.add_column("file", no_wrap=True, overflow="fold",  # paths whole, never "…"
                         min_width=min(widest, max(out_console.width - 30, 20)))
        for col in ("+", "-"):
            table.add_column(col, justify="right")
        table.add_column("rules")
        for path, added, removed, counts in files:
            table.add_row(path, str(added), str(removed), counts)
        out_console.print(table)
        by_rule = Table(title="per rule", header_style="bold")
        for col in ("rule", "changes", "files"):
            by_rule.add_column(col)
        for rule_id, n, n_files in rules:
            by_rule.add_row(rule_id, str(n), str(n_files))
        out_console.print(by_rule)
        return
    _print_diff("".join(d.text for d in diffs), color)


def _print_diff(text: str, color: bool | None) -> None:
    use_color = out_console.is_terminal if color is None else color
    if use_color and text:
        out_console.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
    else:
        click.echo(text, nl=False)
