"""``covo-port apply``: rewrite a tree for the target."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from covo_port.cli.common import default_out, err_console, out_console, user_errors
from covo_port.model import RunOptions, get_target
from covo_port.model.target import TARGETS
from covo_port.pipeline.fetch import DEFAULT_DEST
from covo_port.pipeline.gitout import patches_folder, write_patches
from covo_port.pipeline.manifest import dumps
from covo_port.pipeline.result import Result
from covo_port.pipeline.run import InputError, apply_tree, check_patches
from covo_port.registry import optimizations
from covo_port.report.text import render, to_json

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
@click.option("--select", multiple=True, metavar="RULE",
              help="Run only these rules (repeatable).")
@click.option("--annotate", is_flag=True,
              help="Write `# covo-port: RULE message` above each line of OUT with a warning or "
                   "error finding. `# covo-port: ignore[RULE]` in SRC always suppresses.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--patches", "patches_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write the patch series here [default: OUT/.covo-port/patches]; the "
                   "patches an earlier apply wrote there are replaced, nothing else. Never "
                   "inside SRC.")
@click.option("--no-patches", is_flag=True, help="Write no patch series.")
@click.option("--author", metavar="'NAME <EMAIL>'",
              help="The author of OUT's commits and patches [default: covo-port "
                   "<covo-port@localhost>]; the committer stays covo-port.")
@click.option("--jobs", "-j", type=int, metavar="N",
              help="Rewrite files in N processes [default: one per core]; 1: no worker "
                   "processes. The result is the same for any N.")
@user_errors
def apply(src: Path | None, target_name: str, out: Path | None, check: bool, force: bool,
          device_map: tuple[str, ...], optimize: tuple[str, ...], select: tuple[str, ...],
          as_json: bool, patches_dir: Path | None, no_patches: bool, jobs: int | None,
          annotate: bool, author: str | None) -> None:
    """Rewrite the tree SRC [default: upstream/Covo-Audio] for the target into OUT.

    SRC is never modified. OUT is a complete copy of SRC with the rewrites applied, plus
    OUT/.covo-port/manifest.json recording every change and finding. OUT is a git repository:
    the pristine source, then one commit per rule; `git format-patch` of those commits goes
    to OUT/.covo-port/patches/ for `git am` onto a clone of the source.

    A comment `# covo-port: ignore[RULE,...]` (bare: every rule) on a line of SRC, or on the
    first or last line of its statement, switches off those rules' findings and rewrites
    there; the report counts them as suppressed and the manifest lists them.
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
    options = RunOptions(optimize=frozenset(optimize),
                         select=frozenset(s.upper() for s in select), annotate=annotate)
    out = out if out is not None else default_out(target.name)
    if patches_dir is not None and not no_patches:
        check_patches(src, patches_dir)
    in_out = patches_dir is None and not no_patches  # the default: written with OUT

    if as_json:
        result = apply_tree(src, out, target, options, check=check, force=force, jobs=jobs,
                            patches=in_out, author=author)
        data = to_json(result)
        patches = _patches(result, out, None if no_patches else patches_dir)
        if result.git is not None:
            data["git"] = {
                "base": result.git.base,
                "commits": [{"rule": r, "commit": c} for r, c in result.git.commits],
                "patches": None if patches is None else [str(p) for p in patches],
            }
        click.echo(dumps(data))
        sys.exit(result.exit_code)

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  MofNCompleteColumn(), TextColumn("{task.fields[path]}"),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("rewriting", total=None, path="")

        def start(total: int) -> None:
            bar.update(task, total=total)

        def step(path: str) -> None:
            bar.update(task, advance=1, path=path)

        result = apply_tree(src, out, target, options, check=check, force=force, jobs=jobs,
                            patches=in_out, author=author, progress=step, on_start=start)
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
