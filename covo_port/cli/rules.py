"""``covo-port rules``: the rules and their documentation."""

from __future__ import annotations

import difflib
import json

import click
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from covo_port.cli.common import out_console, user_errors
from covo_port.model import Rule, Safety
from covo_port.registry import all_rules, get_rule


def fix_label(rule: type[Rule]) -> str:
    """What a rule does with what it finds: rewrites (safely or, proposed, unsafely) or reports;
    a rewrite that fixes a problem that is not the NPU's says so (a reviewer may drop it)."""
    label = {Safety.SAFE: "rewrites", Safety.UNSAFE: "proposes (unsafe)",
             Safety.REPORT: "reports"}[rule.safety]
    return label + " (non-NPU fix)" if rule.fixes_non_npu else label


def rules_markdown() -> str:
    """The rule table of the README, generated from the rules themselves."""
    lines = ["| rule | name | applies to | fix | findings | summary | declines when |",
             "|---|---|---|---|---|---|---|"]
    for r in all_rules():
        summary = r.summary.replace("|", "\\|")
        if r.opt_in:
            summary += f" (opt-in: `--optimize {r.opt_in}`)"
        declines = r.declines.replace("|", "\\|") or "-"
        lines.append(f"| {r.id} | {r.name} | {r.languages()} | {fix_label(r)} | "
                     f"{r.severity.value} | {summary} | {declines} |")
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("rule_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
@click.option("--markdown", is_flag=True, help="Print the rule table as Markdown.")
@user_errors
def rules(rule_id: str | None, as_json: bool, markdown: bool) -> None:
    """List every rule, or show one rule's documentation and examples.

    RULE_ID is a code (NPU001) or a name (cuda-device-strings).
    """
    if markdown:
        click.echo(rules_markdown(), nl=False)
        return
    selected = [get_rule(rule_id)] if rule_id else list(all_rules())
    if as_json:
        data = [{
            "id": r.id, "name": r.name, "summary": r.summary, "docs": r.docs(),
            "rationale": r.rationale(), "severity": r.severity.value,
            "fix": r.safety.value, "declines": r.declines or None,
            "language": r.languages(), "opt_in": r.opt_in,
            "fixes_non_npu": r.fixes_non_npu or None,
            "examples": [{"before": e.before, "after": e.after} for e in r.examples],
        } for r in selected]
        out_console.print_json(json.dumps(data))
        return
    if rule_id is None:
        table = Table(header_style="bold")
        for col in ("id", "name", "language", "fix", "severity", "summary"):
            table.add_column(col)
        for r in selected:
            note = f" [dim](opt-in: --optimize {r.opt_in})[/]" if r.opt_in else ""
            table.add_row(r.id, r.name, r.languages(), fix_label(r), r.severity.value,
                          escape(r.summary) + note)
        out_console.print(table)
        return
    _show(selected[0])


def _show(rule: type[Rule]) -> None:
    out_console.print(f"[bold]{rule.id}[/]: {escape(rule.summary)}")
    out_console.print(f"name: {rule.name}   language: {rule.languages()}   "
                      f"fix: {fix_label(rule)}   "
                      f"severity of findings: {rule.severity.value}"
                      + (f"   opt-in: --optimize {rule.opt_in}" if rule.opt_in else ""))
    if rule.declines:
        out_console.print(f"declines (reports instead) when: {escape(rule.declines)}")
    if rule.fixes_non_npu:
        out_console.print(f"not an NPU fix: {escape(rule.fixes_non_npu)}; a reviewer may drop "
                          "its commit")
    for title, text in rule.docs().items():
        out_console.print()
        out_console.print(f"[bold]{title}[/]")
        out_console.print(escape(text))
    for n, example in enumerate(rule.examples, 1):
        out_console.print()
        if example.after is None:
            found = f"; {example.findings} finding(s) reported" if example.findings else ""
            out_console.print(f"[bold]Example {n}[/] (left unchanged{found}):")
            lexer = "bash" if example.path.endswith(".sh") else "python"
            out_console.print(Syntax(example.before.rstrip("\n"), lexer,
                                     background_color="default"))
            continue
        out_console.print(f"[bold]Example {n}[/]:")
        lines = difflib.unified_diff(example.before.splitlines(keepends=True),
                                     example.after.splitlines(keepends=True),
                                     "before", "after", n=3)
        out_console.print(Syntax("".join(lines).rstrip("\n"), "diff",
                                 background_color="default"))
