"""The ``covo-port`` command line: one module per subcommand, each imported only when its
command runs (``covo-port apply`` never loads the verification machinery, ``covo-port rules``
never loads the pipeline)."""

from __future__ import annotations

import importlib

import click

from covo_port import __version__

#: command -> "module:function" under covo_port.cli
COMMANDS = {
    "apply": "apply:apply",
    "fetch": "fetch:fetch",
    "diff": "diff:diff",
    "rules": "rules:rules",
    "run": "run:run",
    "verify": "verify:verify",
}


class LazyGroup(click.Group):
    """A click group whose commands are imported when they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, name = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="covo-port")
def main() -> None:
    """Port CUDA-only PyTorch projects to Huawei Ascend NPUs, reviewably."""
