"""``covo-port apply``: rewrite a tree for the target."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from covo_port.cli.common import default_out, err_console, out_console, user_errors
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
from covo_port.model import ImportStyle, RunOptions, get_target
from covo_port.model.target import TARGETS
from covo_port.pipeline.fetch import DEFAULT_DEST
from covo_port.pipeline.gitout import patches_folder, write_patches
from covo_port.pipeline.result import Result
from covo_port.pipeline.run import InputError, apply_tree, check_patches
from covo_port.registry import optimizations
from covo_port.report.diffing import run_diffs
from covo_port.report.progress import file_progress
from covo_port.report.text import render

DEFAULT_SRC = DEFAULT_DEST


@click.command()
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
@click.option("--import-style", type=click.Choice([s.value for s in ImportStyle]),
              default=ImportStyle.ENTRY.value, show_default=True,
              help="Where `import torch_npu` goes: the program's entry modules (library modules "
                   "keep importing without torch_npu), guarded in every module that uses the "
                   "NPU, or plainly in each.")
@click.option("--unsafe-fixes", is_flag=True,
              help="Also apply the fixes that rules mark unsafe (they can change behaviour; "
                   "without this flag they are reported with the edit they propose).")
@click.option("--annotate", is_flag=True,
              help="Write `# covo-port: RULE message` above each line of OUT with a warning or "
                   "error finding. `# covo-port: ignore[RULE]` in SRC always suppresses.")
@click.option("--patches", "patches_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write the patch series here [default: OUT/.covo-port/patches]; the "
                   "patches an earlier apply wrote there are replaced, nothing else. Never "
                   "inside SRC.")
@click.option("--no-patches", is_flag=True, help="Write no patch series.")
@click.option("--no-cache", is_flag=True,
              help="Rewrite every file afresh: do not reuse what the run that wrote OUT made of "
                   "the files that have not changed since (OUT/.covo-port/cache.json).")
@click.option("--author", metavar="'NAME <EMAIL>'",
              help="The author of OUT's commits and patches [default: covo-port "
                   "<covo-port@localhost>]; the committer stays covo-port.")
@click.option("--jobs", "-j", type=int, metavar="N",
              help="Rewrite files in N processes [default: one per core]; 1: no worker "
                   "processes. The result is the same for any N.")
# -- the report, the rules and files a run takes, what it writes (issue 15) --
@format_options
@click.option("--diff", "show_diff", is_flag=True,
              help="Print the unified diff of what would change and write nothing; exit 1 if "
                   "anything would change.")
@rule_options
@file_options
@click.option("--no-comments", is_flag=True,
              help="Write no explanatory `# covo-port ...` comments into OUT (for a patch "
                   "meant for the upstream).")
@user_errors
def apply(src: Path | None, target_name: str, out: Path | None, check: bool, force: bool,
          device_map: tuple[str, ...], optimize: tuple[str, ...], patches_dir: Path | None,
          no_patches: bool, no_cache: bool, author: str | None, jobs: int | None, annotate: bool,
          unsafe_fixes: bool, import_style: str,
          fmt: str | None, as_json: bool, show_diff: bool, select: tuple[str, ...],
          ignore: tuple[str, ...], include: tuple[str, ...], exclude: tuple[str, ...],
          no_gitignore: bool, no_comments: bool) -> None:
    """Rewrite the tree SRC [default: upstream/Covo-Audio] for the target into OUT.

    SRC is never modified. OUT is a complete copy of SRC with the rewrites applied, plus
    OUT/.covo-port/manifest.json recording every change and finding. OUT is a git repository:
    the pristine source, then one commit per rule; `git format-patch` of those commits goes
    to OUT/.covo-port/patches/ for `git am` onto a clone of the source.

    A comment `# covo-port: ignore[RULE,...]` (bare: every rule) on a line of SRC, or on the
    first or last line of its statement, switches off those rules' findings and rewrites
    there; the report counts them as suppressed and the manifest lists them.

    Files that --include/--exclude or SRC's .gitignore files leave out are copied into OUT
    unchanged, and so are generated files the rules would change (with a warning); the
    report counts them as excluded.
    """
    src = src if src is not None else DEFAULT_SRC
    if src == DEFAULT_SRC and not src.exists():
        raise InputError(f"no SRC given and {DEFAULT_SRC} does not exist "
                         "(run `covo-port fetch` first, or give the folder to port)")
    target = get_target(target_name, device_map)
    unknown = sorted(set(optimize) - set(optimizations()))
    if unknown:
        known = ", ".join(optimizations()) or "none"
        raise InputError(f"--optimize {unknown[0]}: unknown (known: {known})")
    fmt = report_format(fmt, as_json)
    if show_diff and fmt != "text":
        raise OptionError(f"--diff prints a diff; it takes no --format {fmt}")
    check = check or show_diff
    options = RunOptions(optimize=frozenset(optimize), select=rule_ids("--select", select),
                         ignore=rule_ids("--ignore", ignore), annotate=annotate,
                         unsafe_fixes=unsafe_fixes, import_style=ImportStyle(import_style),
                         comments=not no_comments)
    out = out if out is not None else default_out(target.name)
    if patches_dir is not None and not no_patches:
        check_patches(src, patches_dir)
    in_out = patches_dir is None and not no_patches  # the default: written with OUT

    with file_progress(err_console, "checking" if check else "rewriting") as progress:
        result = apply_tree(src, out, target, options, check=check, force=force,
                            progress=progress.step, on_start=progress.start, jobs=jobs,
                            selection=file_selection(include, exclude, no_gitignore),
                            patches=in_out, author=author, cache=not no_cache)
    if show_diff:
        for diff in run_diffs(src, result):
            click.echo(diff.text, nl=False)
        render(result, err_console)
        sys.exit(result.exit_code)
    if fmt != "text":
        patches = _patches(result, out, None if no_patches else patches_dir)
        extra = {}
        if result.git is not None:
            extra["git"] = {
                "base": result.git.base,
                "commits": [{"rule": r, "commit": c} for r, c in result.git.commits],
                "patches": None if patches is None else [str(p) for p in patches],
            }
        print_machine_report(result, fmt, extra)
        sys.exit(result.exit_code)

    render(result, out_console)
    patches = _patches(result, out, None if no_patches else patches_dir)
    if result.git is not None:
        out_console.print(f"git: the pristine source + {len(result.git.commits)} rule "
                          f"commit(s) in {out} (review: git -C {out} log -p)")
    if patches is not None:
        folder = patches_folder(out) if patches_dir is None else patches_dir
        where = f" in {folder}/" if patches else f"; {folder}/ holds none"
        out_console.print(f"patches: {len(patches)}{where} (onto a clone of the source: "
                          "git am --keep-cr)")
    sys.exit(result.exit_code)


def _patches(result: Result, out: Path, dest: Path | None) -> list[Path] | None:
    """The patch series of OUT's rule commits: the one written into OUT, else written to
    ``dest`` now; None where none is written."""
    if result.patches is not None:
        return result.patches
    if dest is None or result.check or result.git is None:
        return None
    return write_patches(out, dest)
