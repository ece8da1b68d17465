"""Search strategies: the grid, seeded random sampling, and the guided Pareto local search."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tritium.analysis.dse import GridSearch, GuidedSearch, RandomSearch, make_strategy, space_from_toml
from tritium.analysis.dse import search as search_module
from tritium.analysis.dse.evaluate import Point, point_id
from tritium.analysis.dse.pareto import non_dominated

HEAD = '''
name = "s"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4
'''


def make(params: str, extra: str = "", workloads: str = ""):
    return space_from_toml(f"{HEAD}{workloads}\n[params]\n{params}\n{extra}")


SPACE = make('tlu.rows = [8, 16, 32, 64, 128, 256]\ntlu.zero_handling = ["none", "gate", "skip"]\n'
             'clock_mhz = [250, 500, 750, 1000, 1250]\ndram.channels = [1, 2, 4, 8]')


def drain(strategy, oracle=None) -> list[Point]:
    """Every point a strategy hands out, telling it ``oracle(point)`` records as it goes."""
    out = []
    paths = [p.path for p in strategy._space.params]
    while wave := strategy.next_wave():
        out += wave
        if oracle is not None:
            strategy.tell(oracle(paths, p) for p in wave)
    return out


def test_grid_is_every_point_once_last_parameter_fastest(monkeypatch):
    monkeypatch.setattr(search_module, "GRID_WAVE", 7)  # many small waves
    space = make("tlu.rows = [16, 32]\nclock_mhz = [500, 750, 1000]",
                 workloads='[[workload]]\nmodel = "trilm-99m"\nbatch = 2\nprefill = 8\ndecode = 2\n')
    points = drain(GridSearch(space))
    assert len(points) == space.grid_size == 12 and GridSearch(space).expected_total == 12
    names = [w.name for w in space.workloads]
    expected = [Point(w, combo) for w in names for combo in itertools.product((16, 32), (500.0, 750.0, 1000.0))]
    assert points == expected


def test_random_is_seeded_distinct_and_capped_at_the_grid():
    a = drain(RandomSearch(SPACE, 50, seed=1))
    assert a == drain(RandomSearch(SPACE, 50, seed=1))
    assert a != drain(RandomSearch(SPACE, 50, seed=2))
    assert len(set(a)) == 50 and all(p in set(drain(GridSearch(SPACE))) for p in a)
    assert RandomSearch(SPACE, 50, seed=1).expected_total == 50
    everything = drain(RandomSearch(SPACE, 10_000, seed=0))  # more than the grid: all of it, once
    assert sorted(everything, key=repr) == sorted(drain(GridSearch(SPACE)), key=repr)


def test_random_on_a_huge_grid_draws_without_enumerating_it():
    big = make("\n".join(f'tlu.rows = {list(range(1, 4000))}'.splitlines())
               + "\nclock_mhz = { start = 100, stop = 4000, step = 1 }\nvector.lanes = { start = 1, stop = 4000, step = 1 }")
    assert big.grid_size > 6e10
    points = drain(RandomSearch(big, 300, seed=0))
    assert len(set(points)) == 300


def test_make_strategy_follows_the_search_table():
    assert isinstance(make_strategy(SPACE), GridSearch)
    assert isinstance(make_strategy(SPACE.with_search(strategy="random")), RandomSearch)
    guided = make_strategy(SPACE.with_search(strategy="guided", samples=5, max_evaluations=9))
    assert isinstance(guided, GuidedSearch) and guided.expected_total is None


def test_neighbours_step_numbers_and_swap_choices():
    g = GuidedSearch(SPACE, 4, 0)
    wl = SPACE.workloads[0].name
    assert [p.path for p in SPACE.params] == ["tlu.rows", "tlu.zero_handling", "clock_mhz", "dram.channels"]
    got = set(g._neighbours(wl, (8, "gate", 750.0, 8)))
    assert got == {Point(wl, v) for v in [(16, "gate", 750.0, 8), (8, "gate", 500.0, 8), (8, "gate", 1000.0, 8),
                                          (8, "gate", 750.0, 4), (8, "none", 750.0, 8), (8, "skip", 750.0, 8)]}


def synthetic(paths, point: Point) -> dict:
    """A smooth two-objective trade-off (speed against energy) with a constraint, no simulator."""
    p = point.params(paths)
    speed = min(p["tlu.rows"] * p["clock_mhz"], 4000 * p["dram.channels"]) * (1.3 if p["tlu.zero_handling"] == "skip"
                                                                               else 1.0)
    energy = p["tlu.rows"] ** 0.5 + p["clock_mhz"] / 300 + p["dram.channels"] ** 1.5 \
        - (0.5 if p["tlu.zero_handling"] != "none" else 0.0)
    metrics = {"tokens_per_s": speed, "joules_per_token": energy, "area_mm2": p["tlu.rows"] / 10}
    feasible = metrics["area_mm2"] <= 20.0
    return {"id": point_id(paths, point), "workload": point.workload, "params": p, "status": "ok",
            "feasible": feasible, "metrics": metrics}


def true_front(space, oracle) -> set[str]:
    paths = [p.path for p in space.params]
    records = [oracle(paths, p) for p in drain(GridSearch(space))]
    ok = [r for r in records if r["feasible"]]
    values = np.array([[-r["metrics"]["tokens_per_s"], r["metrics"]["joules_per_token"]] for r in ok])
    return {r["id"] for r, keep in zip(ok, non_dominated(values)) if keep}


def test_guided_finds_the_whole_synthetic_front_with_fewer_evaluations():
    truth = true_front(SPACE, synthetic)
    g = GuidedSearch(SPACE, 12, seed=0)
    evaluated = drain(g, synthetic)
    ids = {point_id([p.path for p in SPACE.params], p) for p in evaluated}
    assert len(ids) == len(evaluated)  # no point handed out twice
    assert truth <= ids
    assert len(evaluated) < 0.7 * SPACE.grid_size
    assert g.waves[0] == 12 and sum(g.waves) == len(evaluated) and g.phase == 2


def test_phase_one_alone_misses_fronts_that_need_two_parameters_to_move():
    # The synthetic front is balanced designs (rows x clock matching the channels), a
    # diagonal: stepping one parameter off a front point always lands on a dominated one.
    truth = true_front(SPACE, synthetic)
    g = GuidedSearch(SPACE, 12, seed=0, band=0.0)
    ids = {point_id([p.path for p in SPACE.params], p) for p in drain(g, synthetic)}
    assert g.phase == 1 and not truth <= ids


def test_guided_respects_the_budget():
    evaluated = drain(GuidedSearch(SPACE, 12, seed=0, max_evaluations=30), synthetic)
    assert len(evaluated) == 30


def test_guided_without_feasible_points_climbs_towards_the_constraints():
    # Every sampled point violates a minimum speed only big chips reach: the search must
    # walk from the least-violating points towards it rather than stop.
    def oracle(paths, point):
        r = synthetic(paths, point)
        r["feasible"] = r["metrics"]["tokens_per_s"] >= 35_000  # 8 channels, skip, rows x clock >= 26,924
        return r

    space = make(SPACE.text.split("[params]")[1], "[constraints]\nmin_tokens_per_s = 35000.0")
    evaluated = drain(GuidedSearch(space, 4, seed=3), oracle)
    paths = [p.path for p in space.params]
    assert any(oracle(paths, p)["feasible"] for p in evaluated)


def test_guided_resumes_from_what_it_is_told():
    paths = [p.path for p in SPACE.params]
    first = GuidedSearch(SPACE, 12, seed=0)
    full = drain(first, synthetic)
    # A resumed search told the first half of the points hands out none of them again,
    # and the two runs together evaluate exactly what one uninterrupted run does.
    half = full[: len(full) // 2]
    again = GuidedSearch(SPACE, 12, seed=0)
    again.tell(synthetic(paths, p) for p in half)
    rest = drain(again, synthetic)
    assert not set(rest) & set(half)
    assert set(rest) | set(half) >= set(full[:12])
    assert math.isclose(len(set(rest) | set(half)), len(full), rel_tol=0.25)


def test_random_points_are_grid_points():
    pts = search_module.random_points(SPACE, 20, 5)
    grid = set(drain(GridSearch(SPACE)))
    assert all(p in grid for p in pts)


@pytest.mark.parametrize("index", [0, 1, 71, 359])
def test_decode_matches_grid_order(index):
    assert search_module._decode(SPACE, index) == drain(GridSearch(SPACE))[index]
