"""Benchmarks of the explorer: sweep speed, scaling with workers, the guided search's savings.

Figures, not pass/fail tests (``tritium bench`` style). The default space is the shipped
built-in ``edge-bitnet-2b`` (``analysis/dse/spaces/``; BitNet b1.58 2B4T, prefill 512 + decode 128).

- :func:`bench_scaling`: points per second of seeded random sweeps on 1, 2, ... local
  workers (wall clock: pool start, trace generation and writes included), with points per
  CPU-second of the workers (the per-core rate, less sensitive to other load on the machine).
- :func:`bench_guided`: the guided search against the full grid: the grid's true Pareto
  front, and the front recall of the guided search after each wave against its evaluations.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from tritium.analysis.dse.evaluate import point_id
from tritium.analysis.dse.execute import default_workers, sweep
from tritium.analysis.dse.pareto import minimization_matrix, non_dominated
from tritium.analysis.dse.search import GuidedSearch
from tritium.analysis.dse.space import load_space
from tritium.analysis.dse.space_record import METRICS, Space
from tritium.analysis.dse.store import load_results

__all__ = ["example_space", "bench_scaling", "ScalingFigure", "GuidedFigure", "bench_guided"]


def example_space(name: str = "edge-bitnet-2b") -> Space:
    """A built-in example space (:func:`~tritium.analysis.dse.space.list_spaces`)."""
    return load_space(name)


def _random(space: Space | None, points: int, seed: int) -> Space:
    space = space if space is not None else example_space()
    return space.with_search(strategy="random", samples=points, seed=seed)


def _timed(space: Space, workers: int | None) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="tritium-bench-") as tmp:
        t0 = time.perf_counter()
        summary = sweep(space, tmp, workers=workers)
        wall = time.perf_counter() - t0
        df = load_results(tmp)
    cpu = float(df.cpu_s.sum())
    return summary.evaluated / wall, summary.evaluated / cpu if cpu > 0 else float("nan"), summary.evaluated


@dataclass(frozen=True, slots=True)
class ScalingFigure:
    """One run of :func:`bench_scaling`: ``workers`` processes, wall and per-core rates."""

    workers: int
    points: int
    points_per_s: float
    points_per_cpu_s: float
    speedup: float

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}

    def line(self) -> str:
        return (f"{self.workers} worker{'s' if self.workers > 1 else ' '}: {self.points_per_s:7.1f} points/s wall "
                f"({self.speedup:4.2f}x of 1 worker), {self.points_per_cpu_s:6.1f} points per CPU-second per worker, "
                f"{self.points} points")


def bench_scaling(points: int = 1000, workers: Sequence[int] = (1, 2), *, space: Space | None = None,
                  show: bool = True) -> list[ScalingFigure]:
    """Sweep speed from 1 to ``max(workers)`` local workers (``points * workers`` points each run).

    ``show`` prints one line per run. Speedup is against the first entry of ``workers``.
    """
    out: list[ScalingFigure] = []
    for n in workers:
        rate, per_cpu, evaluated = _timed(_random(space, points * n, seed=n), n)
        fig = ScalingFigure(n, evaluated, rate, per_cpu, rate / out[0].points_per_s if out else 1.0)
        out.append(fig)
        if show:
            print(fig.line(), flush=True)
    return out


@dataclass(frozen=True, slots=True)
class GuidedFigure:
    """The guided search against the grid on one space.

    Attributes:
        grid_points: points of the full grid. front_points: its Pareto front (feasible, all
        workloads). evaluations: points the guided search evaluated until it stopped.
        recall: the share of the true front it found. curve: (evaluations, recall) after each
        wave. samples, seed, band: the guided search's settings. grid_evaluated, grid_s,
        workers: points the grid sweep computed in this call (0 when an earlier one was
        reused), its wall seconds and local workers. saved: 1 - evaluations / grid_points.
    """

    grid_points: int
    front_points: int
    evaluations: int
    recall: float
    curve: tuple[tuple[int, float], ...]
    samples: int
    seed: int
    band: float
    grid_evaluated: int
    grid_s: float
    workers: int

    @property
    def saved(self) -> float:
        return 1.0 - self.evaluations / self.grid_points

    def as_dict(self) -> dict:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["curve"] = [list(c) for c in self.curve]
        out["saved"] = self.saved
        return out

    def lines(self) -> list[str]:
        grid = (f"grid sweep: {self.grid_evaluated} points in {self.grid_s:.1f} s on {self.workers} workers "
                f"({self.grid_evaluated / self.grid_s:.1f} points/s)" if self.grid_evaluated else
                "grid sweep: reused the stored results")
        out = [grid, f"grid: {self.grid_points} points, true front {self.front_points} points",
               f"guided: {self.evaluations} evaluations ({self.saved:.0%} fewer than the grid), "
               f"front recall {self.recall:.1%} (initial sample {self.samples}, seed {self.seed}, band {self.band:g})",
               "evaluations -> recall: " + ", ".join(f"{n}: {r:.0%}" for n, r in self.curve)]
        return out


def bench_guided(space: Space | None = None, *, grid_dir: str | Path | None = None, workers: int | None = None,
                 samples: int | None = None, seed: int | None = None, progress=None) -> GuidedFigure:
    """How many evaluations the guided search needs for the front the full grid finds.

    Runs the grid sweep of ``space`` (default the edge example) into ``grid_dir`` (kept;
    default a temporary folder; an existing sweep there of the same space is resumed, so a
    second call computes nothing), takes each workload's true front over the space's
    objectives, then replays :class:`~tritium.analysis.dse.search.GuidedSearch` with the
    grid's stored results as the oracle (the simulator is deterministic, so this is exactly
    what a guided sweep evaluates) and measures the share of the true front found after each
    wave. ``samples`` and ``seed`` override the space's initial random sample and seed; its
    ``band`` is used, and no evaluation budget. Timing the grid sweep of the edge example
    (10,368 points) is the "10,000-point sweep" figure. ``progress`` is passed to the grid
    sweep (:func:`~tritium.analysis.dse.execute.sweep`).
    """
    space = space if space is not None else example_space()
    s = space.search
    samples = samples if samples is not None else s.samples
    seed = seed if seed is not None else s.seed
    space = space.with_search(strategy="grid")
    workers = workers if workers is not None else default_workers()
    with tempfile.TemporaryDirectory(prefix="tritium-bench-grid-") as tmp:
        folder = Path(grid_dir) if grid_dir is not None else Path(tmp)
        resume = (folder / "results.sqlite").exists()
        t0 = time.perf_counter()
        grid = sweep(space, folder, workers=workers, resume=resume, progress=progress)
        grid_s = time.perf_counter() - t0
        df = load_results(folder)
    truth = set()
    ok = df[(df.status == "ok") & df.feasible]
    for _, group in ok.groupby("workload"):
        truth |= set(group.id[non_dominated(minimization_matrix(group, space.objectives))])
    oracle = {row["id"]: row for row in _records(df, space)}
    search = GuidedSearch(space, samples, seed, 0, s.band)
    paths = [p.path for p in space.params]
    evaluated: set[str] = set()
    curve = []
    while wave := search.next_wave():
        ids = [point_id(paths, p) for p in wave]
        search.tell(oracle[i] for i in ids)
        evaluated.update(ids)
        curve.append((len(evaluated), len(truth & evaluated) / len(truth) if truth else 1.0))
    recall = curve[-1][1] if curve else 0.0
    return GuidedFigure(space.grid_size, len(truth), len(evaluated), recall, tuple(curve), samples, seed, s.band,
                        grid.evaluated, grid_s, workers)


def _records(df, space: Space):
    metrics = list(METRICS)
    paths = [p.path for p in space.params]
    for row in df.to_dict("records"):
        yield {"id": row["id"], "workload": row["workload"], "status": row["status"], "feasible": row["feasible"],
               "params": {p: _plain(row[p]) for p in paths}, "metrics": {m: row[m] for m in metrics}}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
