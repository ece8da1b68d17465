"""The built-in example spaces load by name and their chips simulate (a few random points of each)."""

from __future__ import annotations

import doctest

import pytest

import tritium.analysis.dse as dse
from tritium.analysis.dse import search, space
from tritium.analysis.dse.sweep_bench import example_space
from tritium.analysis.dse.evaluate import eval_context, evaluate_batch, point_id
from tritium.analysis.dse.search import random_points
from tritium.base.errors import TritiumError


def test_built_in_spaces_load_by_name_and_an_unknown_name_lists_them(tmp_path):
    assert dse.list_spaces() == ["datacenter-70b", "edge-bitnet-2b", "edge-datapaths"]
    assert dse.load_space("edge-bitnet-2b").source.endswith("spaces/edge-bitnet-2b.toml")
    with pytest.raises(TritiumError, match=r"unknown space 'edge'.*datacenter-70b, edge-bitnet-2b, edge-datapaths"):
        dse.load_space("edge")
    copy = tmp_path / "mine.toml"  # a copy of a built-in one is an ordinary space file
    copy.write_text(space.space_path("edge-bitnet-2b").read_text())
    assert dse.load_space(copy).digest == example_space().digest


def test_edge_example():
    s = example_space("edge-bitnet-2b")
    assert s.grid_size == 10_368 and s.search.strategy == "grid"
    assert s.base.name == "edge-lpddr5" and [w.name for w in s.workloads] == ["bitnet-b1.58-2b-4t/b1-p512-d128"]
    assert s.objectives == ("tokens_per_s", "joules_per_token", "area_mm2")


def test_datapaths_example():
    s = example_space("edge-datapaths")
    assert s.grid_size == 864 and s.base.name == "edge-lpddr5"
    styles = next(p for p in s.params if p.path == "tlu.style")
    assert styles.values == ("adder_tree", "lut", "mac")


def test_datacenter_example():
    s = example_space("datacenter-70b")
    assert s.grid_size == 2 * 17_496 and s.search.strategy == "guided" and s.search.max_evaluations == 6000
    assert all(w.ternarize and w.model == "llama-3-70b" for w in s.workloads)
    assert [w.batch for w in s.workloads] == [1, 16]
    assert "cost_usd" in s.objectives


@pytest.mark.slow
@pytest.mark.parametrize("name", ["edge-bitnet-2b", "datacenter-70b"])
def test_example_chips_simulate(name):
    s = example_space(name)
    ctx = eval_context(s)
    paths = [p.path for p in s.params]
    points = random_points(s, 6, seed=11)
    records = evaluate_batch(ctx, [(point_id(paths, p), p) for p in points])
    assert [r["status"] for r in records] == ["ok"] * 6, [r["error"] for r in records]
    for r in records:
        m = r["metrics"]
        assert m["tokens_per_s"] > 0 and m["joules_per_token"] > 0 and m["area_mm2"] > 0 and m["cost_usd"] > 0


def test_doctests_of_the_package():
    for module in (dse, space, search):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and (result.attempted > 0 or module is space)
