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
from covo_port.model import RunOptions, TargetError, get_target, parse_device
from covo_port.model.target import TARGETS
from covo_port.pipeline.fetch import DEFAULT_DEST, UPSTREAM_COMMIT, UPSTREAM_URL, FetchError
from covo_port.pipeline.fetch import fetch as fetch_upstream
from covo_port.pipeline.git import GitError
from covo_port.pipeline.gitout import is_port_repo, show_rule, write_patches
from covo_port.pipeline.manifest import Manifest, ManifestError
from covo_port.pipeline.result import Result
from covo_port.pipeline.run import InputError, apply_tree
from covo_port.registry import RuleError, all_rules, get_rule, optimizations
from covo_port.report.diffing import file_diffs, stat_rows
from covo_port.report.text import render, to_json

DEFAULT_SRC = DEFAULT_DEST
EXIT_INPUT = 2

F = TypeVar("F", bound=Callable[..., Any])

out_console = Console(highlight=False, soft_wrap=True)  # long paths stay on one line
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


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
        except (InputError, TargetError, RuleError, ManifestError, FetchError,
                GitError) as exc:
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
@click.option("--annotate", is_flag=True,
              help="Write `# covo-port: RULE message` above each line of OUT with a warning or "
                   "error finding. `# covo-port: ignore[RULE]` in SRC always suppresses.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--patches", "patches_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Write the patch series here [default: patches/<target>]; "
                   "its old *.patch files are replaced.")
@click.option("--no-patches", is_flag=True, help="Write no patch series.")
@click.option("--jobs", "-j", type=int, metavar="N",
              help="Rewrite files in N processes [default: one per core]; 1: no worker "
                   "processes. The result is the same for any N.")
@user_errors
def apply(src: Path | None, target_name: str, out: Path | None, check: bool, force: bool,
          device_map: tuple[str, ...], optimize: tuple[str, ...], select: tuple[str, ...],
          as_json: bool, patches_dir: Path | None, no_patches: bool, jobs: int | None,
          annotate: bool) -> None:
    """Rewrite the tree SRC [default: upstream/Covo-Audio] for the target into OUT.

    SRC is never modified. OUT is a complete copy of SRC with the rewrites applied, plus
    OUT/.covo-port/manifest.json recording every change and finding. OUT is a git repository:
    the pristine source, then one commit per rule; `git format-patch` of those commits goes
    to patches/<target>/ for `git am` onto a clone of the source.

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

    patches_to = None if no_patches else patches_dir or Path("patches") / target.name

    if as_json:
        result = apply_tree(src, out, target, options, check=check, force=force, jobs=jobs)
        data = to_json(result)
        patches = _patches(result, out, patches_to)
        if result.git is not None:
            data["git"] = {
                "base": result.git.base,
                "commits": [{"rule": r, "commit": c} for r, c in result.git.commits],
                "patches": None if patches is None else [str(p) for p in patches],
            }
        out_console.print_json(json.dumps(data))
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
                            progress=step, on_start=start, jobs=jobs)
    render(result, out_console)
    patches = _patches(result, out, patches_to)
    if result.git is not None:
        out_console.print(f"git: the pristine source + {len(result.git.commits)} rule "
                          f"commit(s) in {out} (review: git -C {out} log -p)")
    if patches is not None:
        where = f" in {patches_to}/" if patches else f"; {patches_to}/ holds none"
        out_console.print(f"patches: {len(patches)}{where} (onto a clone of the source: "
                          "git am --keep-cr)")
    sys.exit(result.exit_code)


def _patches(result: Result, out: Path, dest: Path | None) -> list[Path] | None:
    """Write the patch series of OUT's rule commits to ``dest``; None where none is written."""
    if dest is None or result.check or result.git is None:
        return None
    return write_patches(out, dest)


@main.command()
@click.argument("dest", required=False, type=click.Path(path_type=Path))
@click.option("--ref", default=UPSTREAM_COMMIT, show_default=True,
              help="The commit (or tag, or branch) to check out.")
@click.option("--from", "source", default=UPSTREAM_URL, show_default=True,
              metavar="PATH_OR_URL",
              help="Clone from here instead: a URL, a local clone or mirror, or a git bundle.")
@user_errors
def fetch(dest: Path | None, ref: str, source: str) -> None:
    """Clone the upstream Covo-Audio into DEST [default: upstream/Covo-Audio] at the pinned
    commit. A DEST that already holds that commit, clean, is reused; a DEST holding anything
    else is left as it is and refused.
    """
    fetched = fetch_upstream(dest if dest is not None else DEFAULT_DEST, ref, source)
    if fetched.reused:
        out_console.print(f"{fetched.dest} already holds {fetched.commit[:12]}: reused")
    else:
        out_console.print(f"fetched {source} at {fetched.commit[:12]} into {fetched.dest}")


@main.command()
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
            "id": r.id, "summary": r.summary, "rationale": r.rationale(),
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
    out_console.print(escape(rule.rationale()))
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


VERIFY_NEEDS = ("torch", "torchaudio", "transformers", "soundfile", "safetensors", "tokenizers",
                "numpy")


@main.command()
@click.argument("out", required=False, type=click.Path(path_type=Path))
@click.option("--device", metavar="npu:N",
              help="The Ascend device to run on (needs torch_npu) [default: npu:0].")
@click.option("--emulate", type=click.Choice(["npu"]),
              help="Run on the CPU under NPU emulation instead: no NPU needed.")
@click.option("--model-dir", type=click.Path(path_type=Path), metavar="DIR",
              help="The real checkpoint (config.json, *.safetensors, tokenizer, "
                   "token2wav/model.pt) [default: a tiny random model, built and cached].")
@click.option("--mode", type=click.Choice(["a2t", "a2ta"]), default="a2t", show_default=True,
              help="a2t: audio to text; a2ta: also the token2wav decode to a wav.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), metavar="N",
              help="Tokens per round [default: 16 with the tiny model, 64 with --model-dir].")
@click.option("--timeout", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Time limit of the inference stage [default: 600, 3600 with --model-dir].")
@click.option("--report", "report_path", type=click.Path(path_type=Path), metavar="FILE",
              help="Write the report (Markdown) to FILE.")
@click.option("--audio-out", type=click.Path(path_type=Path), metavar="DIR",
              help="Keep the decoded wavs of --mode a2ta in DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def verify(out: Path | None, device: str | None, emulate: str | None, model_dir: Path | None,
           mode: str, max_new_tokens: int | None, timeout: float | None,
           report_path: Path | None, audio_out: Path | None, as_json: bool) -> None:
    """Run the ported tree OUT [default: ported/npu] end to end and check it in five stages:
    residual CUDA scan, import, log-Mel rewrite equivalence against the source tree,
    two-round inference (a2t, or a2ta with the decoded wav), determinism.

    On an Ascend host give --device npu:N; anywhere else --emulate npu runs the same stages on
    the CPU with an emulated NPU that rejects what Ascend does not support. Exit status: 0 when
    every stage passes, 1 when one fails, 2 for bad input.
    """
    import importlib.util

    # imported here: apply/diff/rules never load the verify machinery
    from covo_port.verify.report import render_markdown
    from covo_port.verify.report import to_json as verify_json
    from covo_port.verify.stages import StageResult, VerifyOptions, run_verify

    out = out if out is not None else default_out("npu")
    device = device or "npu:0"
    device_type, index = parse_device(device)
    if device_type != "npu" or index is None:
        raise InputError(f"--device {device!r}: expected an Ascend device, npu:N (e.g. npu:0)")
    manifest = Manifest.read(out)
    if TARGETS[manifest.target].device_type != device_type:
        raise InputError(f"{out} was ported for {manifest.target}, not for {device_type}")
    missing = [m for m in VERIFY_NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"verify needs {', '.join(missing)}: install the verify extra "
                         "(pip install 'covo-port[verify]')")
    if emulate is None and importlib.util.find_spec("torch_npu") is None:
        raise InputError(f"torch_npu is not installed, so {device} cannot be used here; "
                         f"to check OUT on the CPU run: covo-port verify {out} --emulate npu")
    if model_dir is not None:
        if not (model_dir / "config.json").is_file() or not any(model_dir.glob("*.safetensors")):
            raise InputError(f"--model-dir {model_dir}: expected config.json and *.safetensors "
                             "shards there")
        if mode == "a2ta" and not (model_dir / "token2wav" / "model.pt").is_file():
            raise InputError(f"--model-dir {model_dir}: --mode a2ta needs token2wav/model.pt")

    options = VerifyOptions(out=out, device=device, emulate=emulate is not None,
                            model_dir=model_dir, mode=mode, max_new_tokens=max_new_tokens,
                            timeout=timeout, audio_out=audio_out)

    def progress(stage: StageResult) -> None:
        style = "green" if stage.passed else "bold red"
        err_console.print(f"stage {stage.number}/5 {stage.title}: "
                          f"[{style}]{stage.status.upper()}[/] ({stage.seconds:.1f} s)")

    verification = run_verify(options, manifest, on_stage=progress)
    if report_path is not None:
        report_path.write_text(render_markdown(verification), encoding="utf-8")
    if as_json:
        out_console.print_json(json.dumps(verify_json(verification)))
        sys.exit(verification.exit_code)
    table = Table(title=f"covo-port verify {out}", header_style="bold")
    for col in ("#", "stage", "result", "time"):
        table.add_column(col, no_wrap=True)
    table.add_column("figures", overflow="fold")  # paths and messages whole, never "…"
    for stage in verification.stages:
        style = "green" if stage.passed else "bold red"
        table.add_row(str(stage.number), stage.title, f"[{style}]{stage.status.upper()}[/]",
                      f"{stage.seconds:.1f} s", escape(stage.error or stage.summary))
    out_console.print(table)
    if report_path is not None:
        out_console.print(f"report: {report_path}")
    sys.exit(verification.exit_code)
