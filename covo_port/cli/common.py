"""What the subcommands share: the consoles, one-line errors, default folders."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from covo_port.model import UserError

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
        except UserError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("covo-port: interrupted; nothing was written")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
