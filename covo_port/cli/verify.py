"""``covo-port verify``: run the ported tree and check it, with one of the verification profiles
(:mod:`covo_port.verify.profiles`): Covo-Audio's five stages, or any project's own tests."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from covo_port.cli.common import default_out, err_console, out_console, user_errors
from covo_port.model import parse_device
from covo_port.model.target import TARGETS
from covo_port.pipeline.manifest import Manifest
from covo_port.pipeline.run import InputError
from covo_port.verify.lang import LANGS

VERIFY_NEEDS = ("torch", "torchaudio", "transformers", "soundfile", "safetensors", "tokenizers",
                "numpy")
COVO_AUDIO_ONLY = ("--model-dir", "--mode", "--max-new-tokens", "--audio-out", "--lang")


@click.command()
@click.argument("out", required=False, type=click.Path(path_type=Path))
@click.option("--tests", "tests_command", metavar="CMD",
              help="Verify any project by its own test command CMD (a shell command line, "
                   "e.g. 'python -m pytest tests'): run on the source on the CPU and on OUT on "
                   "the NPU, test by test (the tests profile).")
@click.option("--device", metavar="npu:N",
              help="The Ascend device to run on (needs torch_npu) [default: npu:0].")
@click.option("--emulate", type=click.Choice(["npu"]),
              help="Run on the CPU under NPU emulation instead: no NPU needed.")
@click.option("--model-dir", type=click.Path(path_type=Path), metavar="DIR",
              help="The real checkpoint (config.json, *.safetensors, tokenizer, "
                   "token2wav/model.pt) [default: a tiny random model, built and cached].")
@click.option("--mode", type=click.Choice(["a2t", "a2ta"]),
              help="a2t: audio to text; a2ta: also the token2wav decode to a wav [default: a2t].")
@click.option("--max-new-tokens", type=click.IntRange(min=1), metavar="N",
              help="Tokens per round [default: 64]; the determinism stage compares the first "
                   "64 (fewer where N is).")
@click.option("--timeout", type=click.FloatRange(min=1), metavar="SECONDS",
              help="Time limit of the inference stage [default: 600, 3600 with --model-dir]; "
                   "with --tests, of each test run [default: 3600].")
@click.option("--report", "report_path", type=click.Path(path_type=Path), metavar="FILE",
              help="Write the report (Markdown) to FILE.")
@click.option("--lang", type=click.Choice(LANGS),
              help="The language of the --report: en (English) or zh (Chinese) [default: en].")
@click.option("--audio-out", type=click.Path(path_type=Path), metavar="DIR",
              help="Keep the decoded wavs of --mode a2ta in DIR.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@user_errors
def verify(out: Path | None, tests_command: str | None, device: str | None,
           emulate: str | None, model_dir: Path | None, mode: str | None,
           max_new_tokens: int | None, timeout: float | None, report_path: Path | None,
           lang: str | None, audio_out: Path | None, as_json: bool) -> None:
    """Run the ported tree OUT [default: ported/npu] and check it.

    Without --tests (the Covo-Audio profile), in five stages: residual CUDA scan, import,
    log-Mel rewrite equivalence against the source tree, two-round inference (a2t, or a2ta
    with the decoded wav), determinism. With --tests CMD (any project): CMD on the source on
    the CPU and on OUT on the NPU, and every test that passes on the first and not on the
    second shown with its cause and line.

    On an Ascend host give --device npu:N; anywhere else --emulate npu runs the same on the CPU
    with an emulated NPU that rejects what Ascend does not support. Exit status: 0 when every
    stage passes, 1 when one fails, 2 for bad input.
    """
    # every path resolved once, here: the stages run in OUT and in the source tree
    out = (out if out is not None else default_out("npu")).resolve()
    device = device or "npu:0"
    device_type, index = parse_device(device)
    if device_type != "npu" or index is None:
        raise InputError(f"--device {device!r}: expected an Ascend device, npu:N (e.g. npu:0)")
    manifest = Manifest.read(out)
    if TARGETS[manifest.target].device_type != device_type:
        raise InputError(f"{out} was ported for {manifest.target}, not for {device_type}")
    if emulate is None and importlib.util.find_spec("torch_npu") is None:
        raise InputError(f"torch_npu is not installed, so {device} cannot be used here; "
                         f"to check OUT on the CPU run: covo-port verify {out} --emulate npu")
    report_path = report_path.resolve() if report_path is not None else None
    if lang is not None and report_path is None:
        raise InputError(f"--lang {lang}: the language of the report; give --report FILE too")
    options: Any
    if tests_command is not None:
        given = [name for name, value in zip(
            COVO_AUDIO_ONLY, (model_dir, mode, max_new_tokens, audio_out, lang), strict=True)
            if value is not None]
        if given:
            raise InputError(f"{', '.join(given)}: options of the Covo-Audio profile, not of "
                             "--tests")
        if not tests_command.strip():
            raise InputError("--tests: give the project's test command, e.g. "
                             "'python -m pytest tests'")
        from covo_port.verify.profiles import tests as profile

        options = profile.TestsOptions(out=out, command=tests_command, device=device,
                                       emulate=emulate is not None, timeout=timeout)
    else:
        from covo_port.verify.profiles import covo_audio as profile  # type: ignore[no-redef]

        missing = [m for m in VERIFY_NEEDS if importlib.util.find_spec(m) is None]
        if missing:
            raise InputError(f"verify needs {', '.join(missing)}: install the verify extra "
                             "(.venv/bin/pip install -e '.[verify]' -c constraints.txt)")
        model_dir = model_dir.resolve() if model_dir is not None else None
        mode = mode or "a2t"
        if model_dir is not None:
            if not (model_dir / "config.json").is_file() or not any(
                    model_dir.glob("*.safetensors")):
                raise InputError(f"--model-dir {model_dir}: expected config.json and "
                                 "*.safetensors shards there")
            if mode == "a2ta" and not (model_dir / "token2wav" / "model.pt").is_file():
                raise InputError(f"--model-dir {model_dir}: --mode a2ta needs "
                                 "token2wav/model.pt")
        options = profile.VerifyOptions(
            out=out, device=device, emulate=emulate is not None, model_dir=model_dir, mode=mode,
            max_new_tokens=max_new_tokens, timeout=timeout,
            audio_out=audio_out.resolve() if audio_out is not None else None)

    def progress(stage: Any) -> None:
        style = "green" if stage.passed else "bold red"
        err_console.print(f"stage {stage.number}/{len(profile.STAGES)} {stage.title}: "
                          f"[{style}]{stage.status.upper()}[/] ({stage.seconds:.1f} s)")

    def started(number: int, title: str) -> None:
        err_console.print(f"stage {number}/{len(profile.STAGES)} {title}: running...")

    verification = profile.run_verify(options, manifest, on_stage=progress, on_start=started)
    if report_path is not None:
        markdown = (profile.render_markdown(verification) if tests_command is not None
                    else profile.render_markdown(verification, lang or "en"))
        report_path.write_text(markdown, encoding="utf-8")
    if as_json:
        out_console.print_json(json.dumps(profile.to_json(verification)))
        sys.exit(verification.exit_code)
    title = f"covo-port verify {out}" + (f" --tests {tests_command!r}" if tests_command else "")
    table = Table(title=title, header_style="bold")
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
