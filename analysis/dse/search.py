"""Search strategies: which design points a sweep evaluates, wave after wave.

A strategy hands out *waves* of points (:meth:`Strategy.next_wave`) and learns the results
(:meth:`Strategy.tell`); an empty wave ends the search. Its state is a function of the points
it has been told about, so a resumed sweep tells it the stored points and carries on.

``grid``
    Every combination of the parameter values, on every workload (in waves of
    :data:`GRID_WAVE` points, so a huge grid is never held in memory at once).
``random``
    ``samples`` distinct points drawn uniformly from the grid with ``numpy.random.default_rng(seed)``.
``guided``
    **Pareto local search** (Paquete, Chiarandini & Stützle 2004) in two phases, from a seeded
    random sample of ``samples`` points. A *neighbour* of a chip changes one parameter by one
    step along its value list (numbers), or to any other value (strings, flags). Phase 1:
    wave after wave, every not-yet-evaluated neighbour of the current Pareto front of each
    workload (feasible points only; while a workload has none, its least constraint-violating
    points), until a wave finds nothing new. Phase 2: the same from every chip within
    ``band`` of the front (one the front would not dominate if it were ``band`` better, relative,
    in every objective), until nothing is new again; or until ``max_evaluations`` are spent.
    Chip fronts are nearly connected under one-step moves (more rows at a lower clock trades
    like fewer rows at a higher one), so phase 1 walks along the front and skips the dominated
    bulk of the grid; phase 2 bridges the gaps where two parameters must move together (rows
    up and width down at equal compute). On the shipped edge space it finds the grid's whole
    front (57 chips) with 2,400-2,700 of its 10,368 evaluations; phase 1 alone stops at
    about 1,000 with 90% of the front
    (:func:`tritium.analysis.dse.sweep_bench.bench_guided` measures it: ``tritium sweep-bench``).
"""

from __future__ import annotations

import itertools
import math
from typing import Iterable, Iterator, Protocol

import numpy as np

from tritium.analysis.dse.evaluate import Point, point_id
from tritium.analysis.dse.pareto import non_dominated
from tritium.analysis.dse.space_record import METRICS, Space
from tritium.base.specio import check_choice

__all__ = ["GRID_WAVE", "Strategy", "GridSearch", "RandomSearch", "GuidedSearch", "make_strategy", "random_points",
           "in_band"]

GRID_WAVE = 20_000
"""Points per wave of the grid strategy."""


class Strategy(Protocol):
    """What the sweep driver asks of a search strategy."""

    name: str

    @property
    def expected_total(self) -> int | None:
        """Points the search will evaluate in all, when known in advance (None for guided)."""

    def next_wave(self) -> list[Point]:
        """The next points to evaluate (possibly including already stored ones); [] when done."""

    def tell(self, records: Iterable[dict]) -> None:
        """Learn finished points (records with id, workload, params, status, feasible, metrics)."""


class GridSearch:
    """Every grid point, workload-major, parameters in file order (the last varies fastest)."""

    name = "grid"

    def __init__(self, space: Space):
        self._space = space
        self._iter: Iterator | None = None

    @property
    def expected_total(self) -> int:
        return self._space.grid_size

    def next_wave(self) -> list[Point]:
        if self._iter is None:
            values = [p.values for p in self._space.params]
            self._iter = (Point(w.name, combo) for w in self._space.workloads for combo in itertools.product(*values))
        return list(itertools.islice(self._iter, GRID_WAVE))

    def tell(self, records: Iterable[dict]) -> None:
        pass


def _decode(space: Space, index: int) -> Point:
    """Grid point number ``index`` (mixed radix: workload, then the parameters in order)."""
    digits = []
    for p in reversed(space.params):
        index, d = divmod(index, len(p.values))
        digits.append(p.values[d])
    return Point(space.workloads[index].name, tuple(reversed(digits)))


_DRAW_CHUNK = 4096


def random_points(space: Space, samples: int, seed: int) -> list[Point]:
    """``min(samples, grid size)`` distinct grid points, uniformly drawn with ``default_rng(seed)``.

    Draws come in fixed-size chunks of one index per parameter (and workload), and repeats
    are dropped in draw order, so the first ``n`` points of a larger sample are the
    ``n``-point sample of the same seed: a resumed random sweep asked for more points only
    adds new ones. The grid is never enumerated.
    """
    rng = np.random.default_rng(seed)
    n = min(samples, space.grid_size)
    sizes = [len(space.workloads)] + [len(p.values) for p in space.params]
    seen: set[tuple] = set()
    out: list[Point] = []
    while len(out) < n:
        draws = np.column_stack([rng.integers(s, size=_DRAW_CHUNK) for s in sizes]).tolist()
        for digits in map(tuple, draws):
            if digits in seen:
                continue
            seen.add(digits)
            out.append(Point(space.workloads[digits[0]].name,
                             tuple(p.values[d] for p, d in zip(space.params, digits[1:]))))
            if len(out) == n:
                break
    return out


class RandomSearch:
    """``samples`` distinct grid points drawn with a seeded generator (one wave)."""

    name = "random"

    def __init__(self, space: Space, samples: int, seed: int):
        self._space, self._samples, self._seed = space, samples, seed
        self._done = False

    @property
    def expected_total(self) -> int:
        return min(self._samples, self._space.grid_size)

    def next_wave(self) -> list[Point]:
        if self._done:
            return []
        self._done = True
        return random_points(self._space, self._samples, self._seed)

    def tell(self, records: Iterable[dict]) -> None:
        pass


class GuidedSearch:
    """Two-phase Pareto local search from a seeded random sample (see the module docstring).

    Its state is the points it was told about and the phase (which only moves forward when
    a wave would be empty), so a resumed search told the stored points carries on from them
    and asks for none of them again. Local search is path-dependent: a run cut short by
    its budget and resumed can converge on a slightly different set than one run.
    """

    name = "guided"
    _SEEDS_WHEN_INFEASIBLE = 8

    def __init__(self, space: Space, samples: int, seed: int, max_evaluations: int = 0, band: float = 0.001):
        self._space = space
        self._paths = [p.path for p in space.params]
        self._samples, self._seed, self._budget, self._band = samples, seed, max_evaluations, band
        self._index = [{v: i for i, v in enumerate(p.values)} for p in space.params]
        self._known: dict[str, dict] = {}  # id -> record (told)
        self._asked: set[str] = set()
        self._started = False
        self.phase = 1
        self.waves: list[int] = []  # points handed out per wave

    @property
    def expected_total(self) -> None:
        return None

    def tell(self, records: Iterable[dict]) -> None:
        for r in records:
            self._known[r["id"]] = r
            self._asked.add(r["id"])

    def next_wave(self) -> list[Point]:
        if self._budget and len(self._asked) >= self._budget:
            return []
        fresh: list[Point] = []
        if not self._started:  # the seeded sample (on resume, what of it is not stored yet)
            self._started = True
            fresh = self._fresh(random_points(self._space, self._samples, self._seed))
        while not fresh:
            fresh = self._fresh(self._neighbourhood_wave(self._band if self.phase == 2 else 0.0))
            if fresh or self.phase == 2 or self._band == 0.0:
                break
            self.phase = 2
        if self._budget:
            fresh = fresh[: self._budget - len(self._asked)]
        self._asked.update(point_id(self._paths, p) for p in fresh)
        if fresh:
            self.waves.append(len(fresh))
        return fresh

    def _fresh(self, wave: list[Point]) -> list[Point]:
        """``wave`` without repeats and points already handed out or told."""
        out, ids = [], set()
        for point in wave:
            pid = point_id(self._paths, point)
            if pid not in self._asked and pid not in ids:
                out.append(point)
                ids.add(pid)
        return out

    def _seeds(self, band: float) -> list[dict]:
        """The points whose neighbours the next wave explores: the front (and the band) of each workload."""
        by_workload: dict[str, list[dict]] = {}
        for r in self._known.values():
            if r["status"] == "ok":
                by_workload.setdefault(r["workload"], []).append(r)
        seeds = []
        objectives = self._space.objectives
        for rows in by_workload.values():
            feasible = [r for r in rows if r["feasible"]]
            if feasible:
                values = np.array([[_minimized(r["metrics"], m) for m in objectives] for r in feasible])
                seeds += [r for r, keep in zip(feasible, in_band(values, band)) if keep]
            else:
                rows.sort(key=lambda r: (self._violation(r["metrics"]), r["id"]))
                seeds += rows[: self._SEEDS_WHEN_INFEASIBLE]
        return sorted(seeds, key=lambda r: r["id"])

    def _violation(self, metrics: dict) -> float:
        total = 0.0
        for c in self._space.constraints:
            v = metrics.get(c.metric, math.nan)
            if not math.isfinite(v):
                return math.inf
            excess = (v - c.bound) if c.kind == "max" else (c.bound - v)
            total += max(0.0, excess) / max(abs(c.bound), 1e-30)
        return total

    def _neighbourhood_wave(self, band: float) -> list[Point]:
        wave = []
        for seed in self._seeds(band):
            values = tuple(seed["params"][p] for p in self._paths)
            wave += self._neighbours(seed["workload"], values)
        return wave

    def _neighbours(self, workload: str, values: tuple) -> list[Point]:
        out = []
        for j, param in enumerate(self._space.params):
            i = self._index[j][values[j]]
            if param.ordered:
                steps = [k for k in (i - 1, i + 1) if 0 <= k < len(param.values)]
            else:
                steps = [k for k in range(len(param.values)) if k != i]
            for k in steps:
                out.append(Point(workload, values[:j] + (param.values[k],) + values[j + 1:]))
        return out


def in_band(values: np.ndarray, band: float) -> np.ndarray:
    """Mask of the rows of ``values`` (n x k, smaller is better) within ``band`` of their front.

    A row is in the band when no front row dominates it after the row is improved by
    ``band`` of its own magnitude in every objective; ``band = 0`` is the front itself.
    Rows with a NaN are never in it.

    >>> v = np.array([[1.0, 4.0], [2.0, 2.0], [2.001, 2.001], [3.0, 3.0]])
    >>> in_band(v, 0.0).tolist(), in_band(v, 0.001).tolist()
    ([True, True, False, False], [True, True, True, False])
    """
    values = np.asarray(values, dtype=float)
    on_front = non_dominated(values)
    if band == 0.0:
        return on_front
    front = values[on_front]
    better = values - band * np.abs(values)
    mask = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(np.isfinite(values).all(axis=1)):
        b = better[i]
        mask[i] = on_front[i] or not np.any(np.all(front <= b, axis=1) & np.any(front < b, axis=1))
    return mask


def _minimized(metrics: dict, metric: str) -> float:
    v = metrics.get(metric, math.nan)
    v = math.nan if v is None else float(v)
    return -v if METRICS[metric].direction == "max" else v


def make_strategy(space: Space) -> Strategy:
    """The strategy ``space.search`` names, with its samples, seed and budget."""
    s = space.search
    check_choice("search.strategy", s.strategy, ("grid", "random", "guided"))
    if s.strategy == "grid":
        return GridSearch(space)
    if s.strategy == "random":
        return RandomSearch(space, s.samples, s.seed)
    return GuidedSearch(space, s.samples, s.seed, s.max_evaluations, s.band)
