"""Running the per-file work of a run in worker processes, merged back in the caller's order.

Every file's rewrite (read, parse, run the rules) is independent of the others, so ``apply -j N``
hands it to a pool of ``N`` processes. Each worker receives the run's context (source folder,
rules, target) once, when it starts: unpickling it imports the rule modules, once per worker.
Tasks are chunks of a few paths, and what comes back is each file's outcome, so little crosses
between the processes. The caller gets the results in the order of the items it gave, whatever
order the workers finish in: a run's manifest, report and OUT do not depend on the number of
workers. One job, or too little work to pay for starting workers, runs in this process.

An interrupt (Ctrl-C, or SIGTERM, made an interrupt while the pool runs) stops the workers at
once and propagates; the workers themselves ignore Ctrl-C, which only the caller handles. A
caller that is killed outright (``kill -9``) takes its workers with it: each asks the kernel for
SIGKILL when its parent dies (Linux), or watches for that itself (elsewhere).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, TypeVar

from covo_port.pipeline.signals import terminate_as_interrupt

T = TypeVar("T")
R = TypeVar("R")

#: Below this much work (in the caller's units: bytes of source for apply), starting workers
#: (about 0.7 s each, to import libcst and the rules) costs more than they save.
POOL_MIN_WORK = 512 * 1024
#: Items per task: enough that a task is worth sending, few enough that the workers finish
#: together and the progress bar moves steadily.
CHUNK = 8
#: Tasks queued per worker ahead of the one being merged (bounds what waits in memory).
AHEAD = 4
#: prctl(2) option: the signal this process gets when its parent dies
PR_SET_PDEATHSIG = 1
#: a task's state, as the workers record it in memory shared with the caller
STARTED, FINISHED = 1, 2


class WorkerDied(Exception):
    """A worker process ended abruptly (killed, out of memory, crashed) on one of ``items``."""

    def __init__(self, items: Sequence[Any]) -> None:
        super().__init__(f"a worker process died on one of {len(items)} item(s)")
        self.items = list(items)  # those of the tasks that were being worked on


def default_jobs() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counted is not None:
        return counted() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


#: In a worker: the work function, the run's context and the tasks' states (shared with the
#: caller), set once by :func:`_start_worker`.
_work: Callable[..., Any] | None = None
_context: tuple[Any, ...] = ()
_states: Any = None


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` (the caller) ends, however it ends."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    else:
        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # it died before the kernel was asked
        os._exit(1)


def _start_worker(parent: int, states: Any, payload: bytes) -> None:
    """Set up a worker: bound to its parent first, then the work and the run's context
    unpickled (``payload``; that imports the rules, which takes a while)."""
    global _work, _context, _states
    _die_with(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle
    _states = states
    _work, _context = pickle.loads(payload)


def _run_chunk(index: int, items: Sequence[Any]) -> list[Any]:
    assert _work is not None, "_start_worker did not run"
    _states[index] = STARTED
    results = [_work(*_context, item) for item in items]
    _states[index] = FINISHED
    return results


def _stop(executor: ProcessPoolExecutor) -> None:
    """End the workers now; what they are doing is not wanted any more."""
    # Python < 3.14 has no public way to do this (3.14: executor.terminate_workers()).
    for process in list((executor._processes or {}).values()):  # type: ignore[attr-defined]
        process.terminate()


def map_ordered(
    work: Callable[..., R],
    context: tuple[Any, ...],
    items: Sequence[T],
    jobs: int,
    amount: int,
) -> Iterator[tuple[T, R]]:
    """``(item, work(*context, item))`` for every item, in the order of ``items``.

    ``jobs`` worker processes share the items (``work`` and ``context`` must pickle: a
    module-level function and plain data), unless ``jobs`` is 1 or ``amount`` (the work's size,
    in the units of :data:`POOL_MIN_WORK`) is too small to be worth starting workers for; then
    it all runs here. An exception raised by ``work`` propagates as it would in this process;
    a worker that dies raises :class:`WorkerDied` with the items of its task.
    """
    chunks = [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]
    workers = min(jobs, len(chunks))
    if workers <= 1 or amount < POOL_MIN_WORK:
        for item in items:
            yield item, work(*context, item)
        return
    spawn = multiprocessing.get_context("spawn")
    states = spawn.Array("b", len(chunks), lock=False)
    executor = ProcessPoolExecutor(workers, mp_context=spawn, initializer=_start_worker,
                                   initargs=(os.getpid(), states, pickle.dumps((work, context))))
    finished = False
    try:
        with terminate_as_interrupt():
            queued = iter(enumerate(chunks))
            pending: deque[tuple[Sequence[T], Future[list[R]]]] = deque(
                (chunk, executor.submit(_run_chunk, i, chunk))
                for i, chunk in islice(queued, workers * AHEAD))
            while pending:
                chunk, future = pending.popleft()
                try:
                    results = future.result()
                except BrokenProcessPool:
                    # every unfinished task fails alike: name those a worker was on
                    busy = [item for i, c in enumerate(chunks) if states[i] == STARTED
                            for item in c]
                    raise WorkerDied(busy or chunk) from None
                following = next(queued, None)
                if following is not None:
                    pending.append((following[1], executor.submit(_run_chunk, *following)))
                yield from zip(chunk, results, strict=True)
        finished = True
    finally:
        if not finished:  # interrupted, failed, or the caller stopped early
            _stop(executor)
        executor.shutdown(wait=True, cancel_futures=True)
