"""Pareto fronts (against brute force) and picking chips that load, simulate and meet the limits."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tritium.analysis.dse import load_results, non_dominated, pareto, pick
from tritium.analysis.dse.pareto import minimization_matrix, picked_metrics
from tritium.base.errors import SpecError, TritiumError
from tritium.sim import load_chip, simulate
from tritium.workloads import Scenario, trace


def brute_force(values: np.ndarray) -> list[bool]:
    out = []
    for i, v in enumerate(values):
        if not np.isfinite(v).all():
            out.append(False)
            continue
        dominated = any(np.isfinite(w).all() and (w <= v).all() and (w < v).any()
                        for j, w in enumerate(values) if j != i)
        out.append(not dominated)
    return out


@settings(derandomize=True, max_examples=200, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 30), st.integers(1, 3)),
              elements=st.one_of(st.integers(0, 4).map(float), st.just(math.nan))))
def test_non_dominated_matches_brute_force(values):
    # small integers: many ties and duplicate rows, the cases a sort-based front gets wrong
    assert non_dominated(values).tolist() == brute_force(values)


@pytest.fixture
def out(tiny_sweep):
    return tiny_sweep


def test_front_is_the_non_dominated_feasible_points(out):
    df = load_results(out, status="ok")
    front = pareto(out)
    feasible = df[df.feasible]
    expected = feasible.id[brute_force(minimization_matrix(feasible, ["tokens_per_s", "joules_per_token"]))]
    assert set(front.id) == set(expected) and len(front)
    assert front.tokens_per_s.is_monotonic_decreasing  # sorted by the first objective, best first
    assert front.feasible.all() and "chip_toml" in front.columns
    everything = pareto(out, feasible_only=False)
    assert set(everything.id) == set(df.id[brute_force(minimization_matrix(df, ["tokens_per_s",
                                                                                "joules_per_token"]))])


def test_front_for_other_and_three_objectives(out):
    df = load_results(out, status="ok")
    df = df[df.feasible]
    for objectives in (["area_mm2", "joules_per_token"], ["tokens_per_s", "joules_per_token", "cost_usd"]):
        front = pareto(out, objectives)
        assert set(front.id) == set(df.id[brute_force(minimization_matrix(df, objectives))])
    assert len(pareto(out, ["tokens_per_s", "joules_per_token", "area_mm2"])) >= len(pareto(out))


def test_pareto_errors(out):
    with pytest.raises(SpecError, match="objectives"):
        pareto(out, ["tokens_per_s"])
    with pytest.raises(SpecError, match="objectives\\[1\\]"):
        pareto(out, ["tokens_per_s", "speed"])
    with pytest.raises(TritiumError, match="no workload 'nope'"):
        pareto(out, workload="nope")


def test_pick_writes_chips_that_meet_the_limits_and_simulate(out, tmp_path):
    df = load_results(out, status="ok")
    limit = float(df[df.feasible].tokens_per_s.median())
    area_cap = float(df[df.feasible & (df.tokens_per_s >= limit)].area_mm2.median())  # keeps about half of them
    paths = pick(out, tmp_path / "picked", min_tokens_per_s=limit, max_area_mm2=area_cap, top=3)
    candidates = df[df.feasible & (df.tokens_per_s >= limit) & (df.area_mm2 <= area_cap)]
    assert 1 <= len(paths) <= 3 and len(candidates)
    best = candidates.sort_values("tokens_per_s", ascending=False).iloc[0]
    tr = trace("trilm-99m", Scenario(1, 16, 4))
    speeds = []
    for path in paths:
        assert path.parent == tmp_path / "picked" and path.suffix == ".toml"
        text = path.read_text()
        assert text.startswith("# Picked from sweep") and "# tokens_per_s = " in text
        chip = load_chip(path)
        assert path.stem == chip.name
        result = simulate(chip, tr)
        row = df[df.id == text.split("point ")[1].split(",")[0]].iloc[0]
        assert result.totals["tokens_per_s"] == pytest.approx(row.tokens_per_s, rel=1e-12)
        assert result.totals["tokens_per_s"] >= limit and result.area_mm2["total"] <= area_cap
        header = picked_metrics(path)  # the header reads back as written (6 significant digits)
        assert set(header) == {"tokens_per_s", "joules_per_token", "area_mm2", "cost_usd", "power_w",
                               "time_per_output_token_s", "time_to_first_token_s", "carbon_g_per_mtok",
                               "cost_with_nre_usd"}
        for metric, value in header.items():
            assert value == pytest.approx(row[metric], rel=1e-5), metric
        speeds.append(result.totals["tokens_per_s"])
    assert speeds == sorted(speeds, reverse=True) and speeds[0] == pytest.approx(best.tokens_per_s)


def test_pick_defaults_and_no_candidate(out, tmp_path):
    mine = tmp_path / "copy"
    shutil.copytree(out, mine)
    paths = pick(mine)
    assert paths and all(p.parent == mine / "picked" for p in paths) and len(paths) <= 5
    assert pick(out, min_tokens_per_s=1e12) == []
    assert len(pick(out, top=1, rank_by="joules_per_token")) == 1


@pytest.mark.parametrize(("kwargs", "key"), [({"max_power_w": float("nan")}, "max_power_w"),
                                             ({"max_area_mm2": "5"}, "max_area_mm2"),
                                             ({"top": 0}, "top"), ({"rank_by": "speed"}, "rank_by")])
def test_pick_errors(out, kwargs, key):
    with pytest.raises(SpecError) as err:
        pick(out, **kwargs)
    assert err.value.key == key


def test_pick_for_hdl_keeps_only_chips_the_generator_builds(tmp_path, tiny_text):
    from tritium.analysis.dse import sweep
    from tritium.hdl import check_buildable

    path = tmp_path / "s.toml"
    path.write_text(tiny_text.replace("node_nm = [12, 7]", 'tlu.zero_handling = ["gate", "skip"]'))
    sweep(path, tmp_path / "out", workers=0)
    anything = [load_chip(p) for p in pick(tmp_path / "out", tmp_path / "any", top=10)]
    assert any(c.tlu.zero_handling == "skip" for c in anything)  # skip saves cycles: on the front
    built = [load_chip(p) for p in pick(tmp_path / "out", tmp_path / "hdl", top=10, hdl=True)]
    assert built and all(c.tlu.zero_handling == "gate" for c in built)
    for chip in built:
        check_buildable(chip)


def test_equal_points_are_marked_and_picked_once():
    import pandas as pd

    from tritium.analysis.dse.pareto import _mark_equal

    front = pd.DataFrame({"id": ["a", "b", "c", "d"], "workload": ["w", "w", "w", "v"],
                          "tokens_per_s": [10.0, 10.0 + 1e-12, 9.0, 10.0], "joules_per_token": [1.0, 1.0, 0.5, 1.0]})
    marked = _mark_equal(front, ["tokens_per_s", "joules_per_token"])
    assert marked.equal_to.tolist() == ["", "a", "", ""]  # another workload's equal point is its own


def test_picked_chip_says_what_it_holds(out, tmp_path):
    from tritium.analysis.dse.pareto import chip_description, picked_params

    paths = pick(out, tmp_path / "p", objectives=["tokens_per_s", "area_mm2"], top=5, feasible_only=False)
    chips = [load_chip(p) for p in paths]
    for path, chip in zip(paths, chips):
        assert chip.description.startswith("Picked from sweep 'tiny', point ")
        assert chip.description.endswith(chip_description(chip)) and "TLU 64x64" not in chip.description or \
            chip.tlu.rows == 64
        params = picked_params(path)
        if len(paths) > 1:
            assert params  # the swept parameters that differ between the picked chips
            assert all(k in ("tlu.rows", "clock_mhz", "dram.channels", "node_nm") for k in params)


MULTI = '''
name = "multi"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]

[[workload]]
model = "trilm-99m"
prefill = 16
decode = [4, 64]

[params]
tlu.rows = [16, 64]
dram.channels = [1, 2]
'''


def test_a_space_holds_several_scenarios_and_pick_requires_all(tmp_path):
    from tritium.analysis.dse import load_space, sweep
    from tritium.analysis.dse.pareto import across_workloads

    (tmp_path / "multi.toml").write_text(MULTI)
    space = load_space(tmp_path / "multi.toml")
    assert [w.decode for w in space.workloads] == [4, 64]
    assert [w.name for w in space.workloads] == ["trilm-99m/b1-p16-d4", "trilm-99m/b1-p16-d64"]
    sweep(space, tmp_path / "out", workers=0)
    df = load_results(tmp_path / "out", status="ok", chips=True)
    worst = across_workloads(df, space)
    assert len(worst) == 4 and set(worst.workload) == {"all"}
    # each chip's worst tokens/s is the lower of its two workloads'
    by_chip = df.groupby(["tlu.rows", "dram.channels"]).tokens_per_s.min()
    for _, row in worst.iterrows():
        assert row.tokens_per_s == by_chip[(row["tlu.rows"], row["dram.channels"])]
    # a limit between the two decode lengths' speeds: met on one workload is not enough
    fast = df[df.workload.str.endswith("d4")].tokens_per_s.max()
    slow = df[df.workload.str.endswith("d64")].tokens_per_s.max()
    assert slow < fast
    limit = (slow + fast) / 2
    assert pick(tmp_path / "out", tmp_path / "one", min_tokens_per_s=limit)  # the first workload alone
    assert pick(tmp_path / "out", tmp_path / "all", min_tokens_per_s=limit, workload="all") == []
    picked = pick(tmp_path / "out", tmp_path / "all2", min_tokens_per_s=slow * 0.99, workload="all")
    assert picked and "workload all" in picked[0].read_text()
