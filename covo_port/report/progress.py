"""Progress of a run on stderr: rich's live bar on a terminal, plain lines elsewhere.

A CI log or a pipe cannot draw a live bar (rich draws nothing there), and a run over a few
thousand files would say nothing for minutes. There, a line every few seconds says how far the
run is (files done / total, the rate, the time left), and one more when it ends. A run shorter
than that prints nothing: a pre-commit hook or a small tree stays quiet, and an error stays the
one line on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

#: Seconds between two progress lines where no live bar can be drawn.
INTERVAL = 5.0


class FileProgress(Protocol):
    def start(self, total: int) -> None:
        """The run has ``total`` files to go through."""
        ...

    def step(self, path: str) -> None:
        """One more file is done."""
        ...


class LineProgress:
    """Progress as plain lines, one every ``interval`` seconds, and one at the end of a run
    that printed any."""

    def __init__(self, console: Console, what: str = "rewriting", interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.what, self.interval, self.clock = console, what, interval, clock
        self.total = self.done = 0
        self.started = self.last = 0.0
        self.printed = False

    def _print(self, text: str) -> None:
        self.printed = True
        self.console.print(f"covo-port: {text}", markup=False, highlight=False, soft_wrap=True)

    def start(self, total: int) -> None:
        self.total, self.done = total, 0
        self.started = self.last = self.clock()

    def step(self, path: str) -> None:
        self.done += 1
        now = self.clock()
        if now - self.last < self.interval or self.done >= self.total:
            return
        self.last = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = f", about {(self.total - self.done) / rate:.0f} s left" if rate else ""
        self._print(f"{self.what}: {self.done:,}/{self.total:,} files "
                    f"({100 * self.done / max(self.total, 1):.0f}%), {rate:.1f} files/s{left}")

    def finish(self) -> None:
        if not self.printed:
            return
        elapsed = self.clock() - self.started
        rate = f" ({self.done / elapsed:.1f} files/s)" if elapsed > 0 else ""
        self._print(f"{self.what}: {self.done:,}/{self.total:,} files in {elapsed:.1f} s{rate}")


class _Bar:
    def __init__(self, bar: Progress, what: str) -> None:
        self.bar = bar
        self.task = bar.add_task(what, total=None, path="")

    def start(self, total: int) -> None:
        self.bar.update(self.task, total=total)

    def step(self, path: str) -> None:
        self.bar.update(self.task, advance=1, path=path)


def _draws_live(console: Console) -> bool:
    """Whether a live bar can be drawn: a real terminal (FORCE_COLOR in a CI job makes rich
    treat a log as one, where its redrawn bar is noise)."""
    isatty = getattr(console.file, "isatty", None)
    return console.is_terminal and not console.is_dumb_terminal and bool(isatty and isatty())


@contextmanager
def file_progress(console: Console, what: str = "rewriting") -> Iterator[FileProgress]:
    """A live bar where ``console`` is a terminal, progress lines elsewhere."""
    if _draws_live(console):
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("{task.fields[path]}"),
                      console=console, transient=True) as bar:
            yield _Bar(bar, what)
        return
    lines = LineProgress(console, what, interval=INTERVAL)
    yield lines
    lines.finish()
