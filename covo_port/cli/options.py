"""Options that ``apply`` and ``check`` share: which rules run, which files they rewrite, and in
which format the report is printed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from covo_port.model import UserError
from covo_port.pipeline.manifest import dumps, escape_surrogates
from covo_port.pipeline.result import Result
from covo_port.pipeline.select import FileSelection
from covo_port.registry import RuleError, get_rule
from covo_port.report.sarif import to_sarif
from covo_port.report.spreadsheet import to_csv
from covo_port.report.text import to_json

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("text", "json", "sarif", "csv")


class OptionError(UserError):
    """Options that contradict each other or name no rule."""


def rule_options(func: F) -> F:
    """``--select`` / ``--ignore``: rules by code or name, repeatable or comma-separated."""
    func = click.option("--ignore", multiple=True, metavar="RULE[,RULE...]",
                        help="Never run these rules (codes or names; repeatable, or "
                             "comma-separated).")(func)
    return click.option("--select", multiple=True, metavar="RULE[,RULE...]",
                        help="Run only these rules, e.g. NPU001,NPU002 or "
                             "cuda-device-strings (repeatable, or comma-separated).")(func)


def file_options(func: F) -> F:
    """``--include`` / ``--exclude`` / ``--no-gitignore``."""
    func = click.option("--no-gitignore", is_flag=True,
                        help="Rewrite files that SRC's .gitignore files ignore too.")(func)
    func = click.option("--exclude", multiple=True, metavar="GLOB",
                        help="Do not rewrite files matching this gitignore-style pattern, "
                             "e.g. 'third_party/' (repeatable); they are copied unchanged.")(func)
    return click.option("--include", multiple=True, metavar="GLOB",
                        help="Rewrite only files matching this gitignore-style pattern, e.g. "
                             "'*.py' (repeatable); the others are copied unchanged.")(func)


def format_options(func: F) -> F:
    """``--format text|json|sarif|csv`` and ``--json`` (= ``--format json``)."""
    func = click.option("--json", "as_json", is_flag=True,
                        help="Same as --format json.")(func)
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="How to print the report: text [default], json, sarif (SARIF "
                             "2.1.0, for code scanning) or csv (one row per change or "
                             "finding).")(func)


def report_format(fmt: str | None, as_json: bool) -> str:
    if as_json and fmt not in (None, "json"):
        raise OptionError(f"--json is --format json; it contradicts --format {fmt}")
    return "json" if as_json else fmt or "text"


def rule_ids(option: str, values: tuple[str, ...]) -> frozenset[str]:
    """The rule codes named by ``--select``/``--ignore`` values (codes or names, commas)."""
    ids = set()
    for value in values:
        for word in filter(None, (w.strip() for w in value.split(","))):
            try:
                ids.add(get_rule(word).id)
            except RuleError as exc:
                raise OptionError(f"{option} {word}: {exc}") from None
    return frozenset(ids)


def file_selection(include: tuple[str, ...], exclude: tuple[str, ...], no_gitignore: bool,
                   paths: tuple[str, ...] | None = None) -> FileSelection:
    return FileSelection(include=include, exclude=exclude, gitignore=not no_gitignore,
                         paths=paths)


def print_machine_report(result: Result, fmt: str, extra: dict[str, Any] | None = None) -> None:
    """Print the json, sarif or csv report of ``result`` on stdout (``extra``: more JSON keys)."""
    # valid UTF-8 whatever the file names (issue 14): non-UTF-8 bytes stay escapes
    if fmt == "json":
        click.echo(dumps({**to_json(result), **(extra or {})}))
    elif fmt == "sarif":
        click.echo(dumps(to_sarif(result)))
    else:
        click.echo(escape_surrogates(to_csv(result)), nl=False)
