"""Run a sweep: points from a search strategy, evaluated by workers, written as they finish.

:func:`sweep` is the entry point. Points go to workers in small batches: local worker
processes by default (a :class:`~concurrent.futures.ProcessPoolExecutor` started by a
forkserver that has imported the simulator once), or the workers of a Dask cluster when
``scheduler="tcp://HOST:PORT"`` is given. Each worker keeps the traces of the sweep's
workloads (see :mod:`tritium.analysis.dse.evaluate`). Only this process writes the results
database, one transaction per finished batch, so every point is stored once, completely.

Failures of the machinery (not of a design point, which is recorded) are retried: a Dask
worker that dies has its batches rescheduled by the scheduler on the others (and a batch the
scheduler gives up on, ``KilledWorker``, is resubmitted here, :data:`MAX_ATTEMPTS` times in
all); a local worker process that dies breaks the pool, which is restarted with the unfinished
batches resubmitted.

Local workers die with their driver, however it dies (even SIGKILL): each sets Linux's
parent-death signal and watches the driver's pid from a thread (:func:`_worker_init`); once
they are gone, the forkserver and the resource tracker see their pipes close and exit.

CLI semantics (``tritium sweep`` is a thin wrapper): ``tritium sweep SPACE.toml --out DIR
[--workers N] [--scheduler tcp://HOST:PORT] [--resume]`` calls ``sweep(SPACE, DIR,
workers=N, scheduler=ADDR, resume=..., progress=bar)``, draws :class:`SweepProgress` as a
progress bar with ETA (``total`` is None for the guided search: a count, no ETA), and prints
:meth:`SweepSummary.lines`.
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tritium.analysis.dse.evaluate import EvalContext, Point, eval_context, evaluate_batch, point_id
from tritium.analysis.dse.search import make_strategy
from tritium.analysis.dse.space import load_space
from tritium.analysis.dse.space_record import Space
from tritium.analysis.dse.store import ResultStore
from tritium.base.errors import SpecError, TritiumError

__all__ = ["MAX_ATTEMPTS", "SweepProgress", "SweepSummary", "sweep", "default_workers"]

MAX_ATTEMPTS = 3
"""Times a batch is submitted before the sweep gives up (worker deaths, broken pools)."""
_MAX_BATCH = 32

Batch = list[tuple[str, Point]]


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """Where a running sweep stands (passed to the ``progress`` callback after every batch).

    Attributes:
        done: points of this search finished so far (earlier runs' included when resuming).
        total: points the search will have stored at the end; None when not known in
            advance (guided search). new: points evaluated by this run.
        invalid, errors: of ``new``, how many were invalid chips or failed.
        elapsed_s: seconds since this run started. rate_per_s: new points per second.
        eta_s: seconds left at that rate; None without a total or a rate.
    """

    done: int
    total: int | None
    new: int
    invalid: int
    errors: int
    elapsed_s: float
    rate_per_s: float
    eta_s: float | None


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """What a finished sweep did.

    Attributes:
        out_dir: the results folder. space: its name. strategy, executor: how it ran.
        stored: points in the results file now (all runs). evaluated: points this run
        computed (so a resumed sweep that recomputed nothing has stored = earlier + evaluated). skipped: points of the search already stored by an earlier run (resume).
        ok, invalid, errors, feasible: counts over the whole file. resubmitted: batches
        submitted again after a worker or pool failure. elapsed_s, rate_per_s: this run.
        top_errors: the most frequent error texts with their counts.
    """

    out_dir: Path
    space: str
    strategy: str
    executor: str
    stored: int
    evaluated: int
    skipped: int
    ok: int
    invalid: int
    errors: int
    feasible: int
    resubmitted: int
    elapsed_s: float
    rate_per_s: float
    top_errors: tuple[tuple[str, int], ...]

    def lines(self) -> list[str]:
        """Human-readable summary lines (what the CLI prints)."""
        out = [f"sweep '{self.space}' ({self.strategy}, {self.executor}) -> {self.out_dir}",
               f"evaluated {self.evaluated} points in {self.elapsed_s:.1f} s ({self.rate_per_s:.1f} points/s); "
               f"{self.skipped} already stored",
               f"stored {self.stored}: {self.ok} simulated ({self.feasible} meet the constraints), "
               f"{self.invalid} invalid, {self.errors} failed"]
        out += [f"  {n} x {text}" for text, n in self.top_errors]
        return out


def default_workers() -> int:
    """Worker processes used when none are named: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def sweep(space: str | os.PathLike | Space, out_dir: str | os.PathLike, *, workers: int | None = None,
          scheduler: str | None = None, resume: bool = False,
          progress: Callable[[SweepProgress], None] | None = None, batch_size: int | None = None,
          connect_timeout_s: float = 20.0, force: bool = False) -> SweepSummary:
    """Evaluate the design space ``space`` (a TOML path or a :class:`Space`) into ``out_dir``.

    Args:
        workers: local worker processes (default :func:`default_workers`); 0 evaluates in
            this process. Ignored with ``scheduler``.
        scheduler: a Dask scheduler address, ``"tcp://HOST:PORT"``: evaluate on its workers.
        resume: continue the sweep already in ``out_dir`` (same space and base chip); points
            it stored are not computed again.
        progress: called with a :class:`SweepProgress` after every finished batch.
        batch_size: points per task (default: up to 32, smaller for small waves).
        connect_timeout_s: how long to try reaching the Dask scheduler.
        force: a new sweep may overwrite a ``space.toml`` or ``base.toml`` in ``out_dir``
            that Tritium did not write.

    Returns:
        A :class:`SweepSummary`. Results are in ``out_dir/results.sqlite``
        (:func:`~tritium.analysis.dse.store.load_results`).

    Raises:
        TritiumError: a bad space; another sweep is writing ``out_dir``; ``out_dir`` holds
            another sweep, or holds this one and ``resume`` is false, or holds inputs' copies
            Tritium did not write; the scheduler cannot be reached; a batch failed
            :data:`MAX_ATTEMPTS` times.
        SpecError: ``workers`` or ``batch_size`` is not a valid count.
    """
    space = space if isinstance(space, Space) else load_space(space)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise SpecError("workers", workers, "must be an integer >= 0 (0: evaluate in this process)")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise SpecError("batch_size", batch_size, "must be an integer >= 1")
    strategy = make_strategy(space)
    ctx = eval_context(space)
    runner = _DaskRunner(ctx, scheduler, connect_timeout_s) if scheduler else _LocalRunner(ctx, default_workers() if workers is None
                                                                        else workers)
    store = None
    try:
        store = ResultStore.open(out_dir, space, resume=resume, strategy=strategy.name, executor=runner.describe(),
                                 force=force)
        return _drive(space, strategy, runner, store, progress, batch_size)
    finally:
        runner.close()
        if store is not None:
            store.close()


def _drive(space: Space, strategy, runner, store: ResultStore, progress, batch_size) -> SweepSummary:
    paths = [p.path for p in space.params]
    stored = store.done_ids()
    if stored:
        strategy.tell(store.records())
    t0 = time.perf_counter()
    queue: deque = deque()
    new = invalid = errors = 0
    # grid and random skip the stored points of their list as they meet them; the guided
    # search starts from every stored point and never hands one out again
    skipped = len(stored) if strategy.expected_total is None else 0
    size = 1

    def report() -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - t0
        done = skipped + new
        total = strategy.expected_total
        rate = new / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if total is not None and rate > 0 else None
        progress(SweepProgress(done, total, new, invalid, errors, elapsed, rate, eta))

    while True:
        if not queue and not runner.pending:
            wave = strategy.next_wave()
            if not wave:
                break
            for point in wave:
                pid = point_id(paths, point)
                if pid in stored:
                    skipped += 1
                else:
                    queue.append((pid, point))
            size = batch_size or max(1, min(_MAX_BATCH, math.ceil(len(queue) / (4 * runner.slots))))
            report()
            continue
        while queue and runner.pending < 2 * runner.slots:
            runner.submit([queue.popleft() for _ in range(min(size, len(queue)))])
        for records in runner.finished():
            store.write(records)
            new += len(records)
            invalid += sum(r["status"] == "invalid" for r in records)
            errors += sum(r["status"] == "error" for r in records)
            strategy.tell(records)
            report()
    elapsed = time.perf_counter() - t0
    counts = store.counts()
    return SweepSummary(Path(store.path).parent, space.name, strategy.name, runner.describe(), counts["total"], new,
                        skipped, counts["ok"], counts["invalid"], counts["error"], counts["feasible"],
                        runner.resubmitted, elapsed, new / elapsed if elapsed > 0 else 0.0,
                        tuple(store.top_errors()))


class _LocalRunner:
    """Batches on local worker processes (``workers = 0``: in this process)."""

    def __init__(self, ctx: EvalContext, workers: int):
        self.ctx, self.workers = ctx, workers
        self.slots = max(1, workers)
        self.resubmitted = 0
        self._pool: ProcessPoolExecutor | None = None
        self._futures: dict = {}  # future -> (batch, attempt)
        self._inline: deque = deque()

    def describe(self) -> str:
        return f"{self.workers} local worker{'s' if self.workers != 1 else ''}" if self.workers else "in process"

    @property
    def pending(self) -> int:
        return len(self._futures) + len(self._inline)

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            if sys.platform.startswith("linux"):
                mp = multiprocessing.get_context("forkserver")
                mp.set_forkserver_preload(["tritium.analysis.dse.evaluate", "tritium.sim", "tritium.workloads"])
            else:
                mp = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp, initializer=_worker_init,
                                             initargs=(os.getpid(),))
        return self._pool

    def submit(self, batch: Batch, attempt: int = 1) -> None:
        if not self.workers:
            self._inline.append(batch)
            return
        self._futures[self._start().submit(evaluate_batch, self.ctx, batch)] = (batch, attempt)

    def finished(self) -> list[list[dict]]:
        """Wait for at least one batch; return the records of every finished batch."""
        if self._inline:
            return [evaluate_batch(self.ctx, self._inline.popleft())]
        done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
        out, failed = [], []
        for future in done:
            batch, attempt = self._futures.pop(future)
            try:
                out.append(future.result())
            except BrokenProcessPool:
                failed.append((batch, attempt))
        if failed:  # a worker died: the pool is unusable; every unfinished batch runs again on a new one
            failed += self._futures.values()
            self._futures.clear()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            for batch, attempt in failed:
                if attempt >= MAX_ATTEMPTS:
                    raise TritiumError(
                        f"a batch of {len(batch)} points failed {attempt} times: worker processes died (a script "
                        f"that calls sweep() must do so under `if __name__ == \"__main__\":`)")
                self.resubmitted += 1
                self.submit(batch, attempt + 1)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _worker_init(driver_pid: int) -> None:
    """First thing in every local worker: die with the sweep's driver.

    The worker's parent is the forkserver, so the parent-death signal covers the forkserver;
    a thread waiting on the driver's pid (a pidfd where Linux has them, else polling) covers
    the driver. Nothing is lost: only the driver writes results.
    """
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl: the watchdog alone
    threading.Thread(target=_watch, args=(driver_pid,), name="tritium-driver-watch", daemon=True).start()


def _watch(pid: int) -> None:
    """Return never; end this process when process ``pid`` has ended."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux, or a kernel before 5.3): poll
        while _alive(pid):
            time.sleep(0.5)
        os._exit(1)
    select.select([handle], [], [])
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _DaskRunner:
    """Batches on the workers of the Dask cluster at ``address``."""

    def __init__(self, ctx: EvalContext, address: str, timeout_s: float):
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise TritiumError("a Dask scheduler was given but dask.distributed is not installed "
                               "(pip install 'dask[distributed]')") from None
        if not isinstance(address, str) or not address.startswith(("tcp://", "tls://", "inproc://")):
            raise SpecError("scheduler", address, "must be a Dask scheduler address like 'tcp://HOST:PORT'")
        self.ctx, self.address = ctx, address
        self.resubmitted = 0
        try:
            self._client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise TritiumError(f"cannot reach the Dask scheduler at {address}: {err}") from None
        self._done = as_completed(loop=self._client.loop)
        self._futures: dict = {}  # key -> (batch, attempt, future)
        self.slots = self._threads()

    def _threads(self) -> int:
        return max(1, sum(self._client.nthreads().values()))

    def describe(self) -> str:
        return f"dask {self.address}"

    @property
    def pending(self) -> int:
        return len(self._futures)

    def submit(self, batch: Batch, attempt: int = 1) -> None:
        future = self._client.submit(evaluate_batch, self.ctx, batch, pure=False)
        self._futures[future.key] = (batch, attempt, future)
        self._done.add(future)

    def finished(self) -> list[list[dict]]:
        """Wait for at least one batch; return the records of every finished batch."""
        out = []
        for future in [next(self._done)] + list(self._done.next_batch(block=False) if self._done.count() else []):
            batch, attempt, _ = self._futures.pop(future.key)
            if future.status == "finished":
                out.append(future.result())
                continue
            try:
                err = future.exception()
            except BaseException as cancelled:  # a cancelled future raises instead of returning
                err = cancelled
            if attempt >= MAX_ATTEMPTS:
                raise TritiumError(f"a batch of {len(batch)} points failed {attempt} times on the Dask cluster: "
                                   f"{type(err).__name__}: {err}")
            self.resubmitted += 1
            self.submit(batch, attempt + 1)
        self.slots = self._threads()  # workers come and go
        return out

    def close(self) -> None:
        for _, _, future in self._futures.values():
            future.cancel()
        self._client.close()
