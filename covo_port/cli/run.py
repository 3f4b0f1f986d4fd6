"""``covo-port run``: run any command with the NPU emulation (or a real NPU) and report."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import click

from covo_port.cli.common import err_console, fail, user_errors
from covo_port.model import parse_device
from covo_port.pipeline.run import InputError

EXIT_NOT_FOUND = 127  # as a shell says "command not found"
EXIT_NOT_EXECUTABLE = 126  # and "permission denied"


@click.command(context_settings={"ignore_unknown_options": True,
                                 "allow_interspersed_args": False})
@click.option("--emulate", type=click.Choice(["npu"]),
              help="Emulate Ascend NPUs on the CPU (no NPU needed).")
@click.option("--device", metavar="npu:N",
              help="Run on this real Ascend device (needs torch_npu) [default: npu:0].")
@click.option("--report", "report_path", type=click.Path(path_type=Path), metavar="FILE",
              help="Write the readiness report to FILE (Markdown; JSON with --json).")
@click.option("--json", "as_json", is_flag=True,
              help="The report as JSON (on stdout after the command's output, without "
                   "--report).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@user_errors
def run(emulate: str | None, device: str | None, report_path: Path | None, as_json: bool,
        command: tuple[str, ...]) -> None:
    """Run COMMAND (after --) with every Python process it starts on an Ascend NPU, emulated
    on the CPU with --emulate npu, and report what reached the NPU: the operators and whether
    torch_npu 2.8 supports them, what was refused and at which line, CUDA calls an Ascend host
    cannot answer, dtype fallbacks, host<->device synchronisations and, inside an OUT of
    `covo-port apply`, the findings it left open.

    Example: covo-port run --emulate npu --report run.md -- python -m pytest tests

    The exit status is COMMAND's.
    """
    from covo_port.verify import launch, readiness

    if emulate is not None and device is not None:
        raise InputError("give --emulate npu or --device npu:N, not both")
    device = device or "npu:0"
    device_type, index = parse_device(device)
    if device_type != "npu" or index is None:
        raise InputError(f"--device {device!r}: expected an Ascend device, npu:N (e.g. npu:0)")
    if emulate is None and importlib.util.find_spec("torch_npu") is None:
        raise InputError(f"torch_npu is not installed, so {device} cannot be used here; to run "
                         "on the CPU under NPU emulation: covo-port run --emulate npu -- ...")
    runtime = "emulate" if emulate is not None else "torch_npu"
    root = Path.cwd().resolve()
    report_path = report_path.resolve() if report_path is not None else None
    spec = launch.Launch(runtime, root, device=device)
    try:
        finished = launch.run(list(command), spec)
    except FileNotFoundError as exc:
        fail(f"{command[0]}: {exc.strerror or exc}", EXIT_NOT_FOUND)
    except PermissionError as exc:
        fail(f"{command[0]}: {exc.strerror or exc}", EXIT_NOT_EXECUTABLE)
    report = readiness.build(list(command), runtime, device, finished, root)
    data = json.dumps(readiness.to_json(report), indent=1) if as_json else None
    if report_path is not None:
        report_path.write_text(data if data is not None else readiness.render_markdown(report),
                               encoding="utf-8")
    elif data is not None:
        sys.stdout.write(data + "\n")
    summary = (f"covo-port run: {len(report.operators)} operator/dtype combination(s) on "
               f"{device}{' (emulated)' if emulate else ''}, {len(report.refusals)} refused, "
               f"{len(report.failed_cuda)} failed CUDA call(s), "
               f"{len(report.problems)} with dtypes the table does not list")
    err_console.print(summary + (f"; report: {report_path}" if report_path else ""))
    sys.exit(finished.exit_status)
