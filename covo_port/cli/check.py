"""``covo-port check``: fail where files hold CUDA-only code (pre-commit, CI)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from covo_port.cli.common import err_console, out_console, user_errors
from covo_port.cli.options import (
    OptionError,
    file_options,
    file_selection,
    format_options,
    print_machine_report,
    report_format,
    rule_ids,
    rule_options,
)
from covo_port.model import RunOptions, get_target
from covo_port.model.target import TARGETS
from covo_port.pipeline.run import apply_tree
from covo_port.pipeline.select import check_paths
from covo_port.report.diffing import run_diffs
from covo_port.report.progress import file_progress
from covo_port.report.text import check_failed, render_check


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--target", "target_name", default="npu", show_default=True,
              type=click.Choice(sorted(TARGETS)), help="What the code must run on.")
@format_options
@click.option("--diff", "show_diff", is_flag=True,
              help="Also print the unified diff of the rewrites `apply` would make.")
@rule_options
@file_options
@user_errors
def check(paths: tuple[Path, ...], target_name: str, fmt: str | None, as_json: bool,
          show_diff: bool, select: tuple[str, ...], ignore: tuple[str, ...],
          include: tuple[str, ...], exclude: tuple[str, ...], no_gitignore: bool) -> None:
    """Check PATHS (files and folders under the current folder [default: .]) for code that
    would not run on the target, writing nothing.

    Exit 1 where a rule would rewrite something or reports a warning or an error, 0 where the
    code is clean: what a pre-commit hook (which passes the staged files) or a CI job needs
    to keep new CUDA-only code out of a ported project. Files named here are checked even if
    a .gitignore ignores them; in folders, .gitignore, --include and --exclude apply. A
    comment `# covo-port: ignore[RULE]` accepts a finding on its line.
    """
    fmt = report_format(fmt, as_json)
    if show_diff and fmt != "text":
        raise OptionError(f"--diff prints a diff; it takes no --format {fmt}")
    root = Path(".")
    options = RunOptions(select=rule_ids("--select", select),
                         ignore=rule_ids("--ignore", ignore))
    selection = file_selection(include, exclude, no_gitignore,
                               paths=check_paths(root, paths or (root,)))
    with file_progress(err_console, "checking") as progress:
        result = apply_tree(root, None, get_target(target_name), options, check=True,
                            progress=progress.step, on_start=progress.start,
                            selection=selection)
    code = 1 if check_failed(result) else 0
    if fmt != "text":
        print_machine_report(result, fmt)
        sys.exit(code)
    if show_diff:
        for diff in run_diffs(root, result):
            click.echo(diff.text, nl=False)
    render_check(result, out_console)
    sys.exit(code)
