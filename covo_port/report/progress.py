"""Progress of a run on stderr: rich's live bar on a terminal, plain lines elsewhere.

A CI log or a pipe cannot draw a live bar (rich draws nothing there), and a run over a few
thousand files would say nothing for minutes. There, a line every few seconds says how far the
run is (files done / total, the rate, the time left), with one line when it starts and one when
it ends (``check``, run by pre-commit on a few files, prints a line only once a run has taken
a few seconds).
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
    """Progress as plain lines, at most one every ``interval`` seconds; ``announce``: a line
    when the run starts and one when it ends, however short it is."""

    def __init__(self, console: Console, what: str = "rewriting", interval: float = INTERVAL,
                 clock: Callable[[], float] = time.monotonic, announce: bool = True) -> None:
        self.console, self.what, self.interval, self.clock = console, what, interval, clock
        self.announce = announce
        self.total = self.done = 0
        self.started = self.last = 0.0
        self.begun = self.printed = False

    def _print(self, text: str) -> None:
        self.printed = True
        self.console.print(f"covo-port: {text}", markup=False, highlight=False, soft_wrap=True)

    def start(self, total: int) -> None:
        self.total, self.done, self.begun = total, 0, True
        self.started = self.last = self.clock()
        if self.announce:
            self._print(f"{self.what} {total:,} file(s)")

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
        if not (self.announce or self.printed):
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


@contextmanager
def file_progress(console: Console, what: str = "rewriting",
                  announce: bool = True) -> Iterator[FileProgress]:
    """A live bar where ``console`` is a terminal, progress lines elsewhere (see
    :class:`LineProgress` for ``announce``)."""
    if console.is_terminal:
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                      MofNCompleteColumn(), TextColumn("{task.fields[path]}"),
                      console=console, transient=True) as bar:
            yield _Bar(bar, what)
        return
    lines = LineProgress(console, what, announce=announce)
    yield lines
    if lines.begun:
        lines.finish()
