"""The ``covo-port`` command line."""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.syntax import Syntax
from rich.table import Table

from covo_port import __version__
from covo_port.diffing import file_diffs, stat_rows
from covo_port.engine import InputError, apply_tree
from covo_port.manifest import Manifest, ManifestError
from covo_port.registry import RuleError, all_rules, get_rule, optimizations
from covo_port.report import render, to_json
from covo_port.rule import RunOptions
from covo_port.target import TARGETS, TargetError, get_target

DEFAULT_SRC = Path("upstream")
EXIT_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])

out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def default_out(target: str) -> Path:
    """Where ``apply`` writes and ``diff`` reads when no folder is given."""
    return Path("ported") / target


def fail(message: str, code: int = EXIT_INPUT) -> None:
    """One line on stderr (never wrapped), then exit."""
    click.echo(click.style("covo-port: error: ", fg="red", bold=True) + message, err=True)
    sys.exit(code)


def user_errors(func: F) -> F:
    """Turn the project's input errors into one clear line and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (InputError, TargetError, RuleError, ManifestError) as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("covo-port: interrupted; nothing was written")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="covo-port")
def main() -> None:
    """Port CUDA-only PyTorch projects to Huawei Ascend NPUs, reviewably."""


@main.command()
@click.argument("src", required=False, type=click.Path(path_type=Path))
@click.option("--target", "target_name", default="npu", show_default=True,
              type=click.Choice(sorted(TARGETS)), help="What to port to.")
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Output folder [default: ported/<target>].")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 if any file would change.")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder.")
@click.option("--device-map", multiple=True, metavar="cuda:N=npu:M",
              help="Remap a device index (repeatable), e.g. cuda:1=npu:0.")
@click.option("--optimize", multiple=True, metavar="NAME",
              help="Enable an opt-in rewrite (repeatable); see `covo-port rules`.")
@click.option("--select", multiple=True, metavar="RULE",
              help="Run only these rules (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def apply(src: Path | None, target_name: str, out: Path | None, check: bool, force: bool,
          device_map: tuple[str, ...], optimize: tuple[str, ...], select: tuple[str, ...],
          as_json: bool) -> None:
    """Rewrite the tree SRC [default: upstream/] for the target into OUT.

    SRC is never modified. OUT is a complete copy of SRC with the rewrites applied, plus
    OUT/.covo-port/manifest.json recording every change and finding.
    """
    src = src if src is not None else DEFAULT_SRC
    if src == DEFAULT_SRC and not src.exists():
        raise InputError("no SRC given and ./upstream does not exist "
                         "(give the folder to port, or fetch the upstream first)")
    target = get_target(target_name, device_map)
    unknown = sorted(set(optimize) - set(optimizations()))
    if unknown:
        known = ", ".join(optimizations()) or "none"
        raise InputError(f"--optimize {unknown[0]}: unknown (known: {known})")
    options = RunOptions(optimize=frozenset(optimize),
                         select=frozenset(s.upper() for s in select))
    out = out if out is not None else default_out(target.name)

    if as_json:
        result = apply_tree(src, out, target, options, check=check, force=force)
        out_console.print_json(json.dumps(to_json(result)))
        sys.exit(result.exit_code)

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[path]}"),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("rewriting", total=None, path="")

        def start(total: int) -> None:
            bar.update(task, total=total)

        def step(path: str) -> None:
            bar.update(task, advance=1, path=path)

        result = apply_tree(src, out, target, options, check=check, force=force,
                            progress=step, on_start=start)
    render(result, out_console)
    sys.exit(result.exit_code)


@main.command()
@click.argument("out", required=False, type=click.Path(path_type=Path))
@click.option("--stat", is_flag=True, help="Per-file and per-rule counts instead of the diff.")
@click.option("--color/--no-color", default=None, help="Colour the diff [default: on a tty].")
@user_errors
def diff(out: Path | None, stat: bool, color: bool | None) -> None:
    """Show what apply changed in OUT [default: ported/npu], as a unified diff."""
    out = out if out is not None else default_out("npu")
    manifest = Manifest.read(out)
    diffs = file_diffs(out, manifest)
    if stat:
        files, rules = stat_rows(manifest, diffs)
        table = Table(title=f"{len(files)} file(s) changed", header_style="bold")
        for col in ("file", "+", "-", "rules"):
            table.add_column(col, justify="right" if col in "+-" else "left")
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
    text = "".join(d.text for d in diffs)
    use_color = out_console.is_terminal if color is None else color
    if use_color and text:
        out_console.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
    else:
        click.echo(text, nl=False)


def rules_markdown() -> str:
    """The rule table of the README, generated from the rules themselves."""
    lines = ["| rule | applies to | findings | summary |", "|---|---|---|---|"]
    for r in all_rules():
        summary = r.summary.replace("|", "\\|")
        if r.opt_in:
            summary += f" (opt-in: `--optimize {r.opt_in}`)"
        lines.append(f"| {r.id} | {r.languages()} | {r.severity.value} | {summary} |")
    return "\n".join(lines) + "\n"


@main.command()
@click.argument("rule_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
@click.option("--markdown", is_flag=True, help="Print the rule table as Markdown.")
@user_errors
def rules(rule_id: str | None, as_json: bool, markdown: bool) -> None:
    """List every rule, or show one rule's documentation and examples."""
    if markdown:
        click.echo(rules_markdown(), nl=False)
        return
    selected = [get_rule(rule_id)] if rule_id else list(all_rules())
    if as_json:
        data = [{
            "id": r.id, "summary": r.summary, "rationale": r.rationale,
            "severity": r.severity.value, "language": r.languages(), "opt_in": r.opt_in,
            "examples": [{"before": e.before, "after": e.after} for e in r.examples],
        } for r in selected]
        out_console.print_json(json.dumps(data))
        return
    if rule_id is None:
        table = Table(header_style="bold")
        for col in ("id", "language", "severity", "summary"):
            table.add_column(col)
        for r in selected:
            note = f" [dim](opt-in: --optimize {r.opt_in})[/]" if r.opt_in else ""
            table.add_row(r.id, r.languages(), r.severity.value, escape(r.summary) + note)
        out_console.print(table)
        return
    rule = selected[0]
    out_console.print(f"[bold]{rule.id}[/]: {escape(rule.summary)}")
    out_console.print(f"language: {rule.languages()}   severity of findings: {rule.severity.value}"
                      + (f"   opt-in: --optimize {rule.opt_in}" if rule.opt_in else ""))
    out_console.print()
    out_console.print(escape(rule.rationale.strip()))
    for n, example in enumerate(rule.examples, 1):
        out_console.print()
        if example.after is None:
            out_console.print(f"[bold]Example {n}[/] (left unchanged):")
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
