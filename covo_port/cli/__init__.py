"""The ``covo-port`` command line: one module per subcommand, each imported only when its
command runs (``covo-port apply`` never loads the verification machinery, ``covo-port rules``
never loads the pipeline, ``covo-port --help`` loads none of them)."""

from __future__ import annotations

import importlib

import click

from covo_port import __version__

#: command -> ("module:function" under covo_port.cli, its line in ``covo-port --help``)
COMMANDS = {
    "fetch": ("fetch:fetch", "Clone the upstream Covo-Audio at the pinned commit."),
    "apply": ("apply:apply", "Rewrite a tree for the NPU into OUT, with a patch series."),
    "diff": ("diff:diff", "Show what apply changed in OUT, as a unified diff."),
    "check": ("check:check", "Fail where files hold CUDA-only code (pre-commit, CI)."),
    "verify": ("verify:verify", "Check a port: a profile's stages, or --tests against SRC."),
    "run": ("run:run", "Run any command under the NPU (emulated or real), with a report."),
    "rules": ("rules:rules", "List the rules, or show one rule's documentation."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported when they are asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *sorted(set(super().list_commands(ctx)) - set(COMMANDS))]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, name = COMMANDS[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, in the order of a port, each with its whole line of help (click
        would import every command and cut their first sentences short)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_line) for name, (_, help_line) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="covo-port")
def main() -> None:
    """Port CUDA-only PyTorch projects to Huawei Ascend NPUs, reviewably."""
