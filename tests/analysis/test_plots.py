"""Plots: every figure draws from SimResults and saves as PNG and SVG."""

import matplotlib.image as mpimg
import pytest

from tritium.analysis import plots
from tritium.sim import load_chip, simulate
from tritium.workloads import Scenario, trace

CHIPS = ["edge-lpddr5", "lowcost-28nm"]


@pytest.fixture(scope="module")
def results():
    table = trace("bitnet-b1.58-2b-4t", Scenario(1, 64, 8))
    return [simulate(name, table) for name in CHIPS]


def _check_saved(fig, tmp_path, name):
    png, svg = plots.save_figure(fig, tmp_path / name)
    image = mpimg.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 500
    assert svg.read_text().lstrip().startswith("<?xml")


def test_energy_breakdown_stacks_to_joules_per_token(results, tmp_path):
    fig = plots.energy_breakdown(results)
    ax = fig.axes[0]
    tops = {}
    for bar in ax.patches:
        x = round(bar.get_x() + bar.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), bar.get_y() + bar.get_height())
    for i, r in enumerate(results):
        assert tops[i] == pytest.approx(r.totals["joules_per_token"] * 1e3, rel=1e-9)
    _check_saved(fig, tmp_path, "energy")


def test_latency_area_roofline_headline(results, tmp_path):
    chips = [load_chip(c) for c in CHIPS]
    peaks = [(2 * c.peak_tlu_macs_per_s, c.dram.bandwidth_gb_s * 1e9) for c in chips]
    figs = {
        "latency": plots.latency_by_kind(results),
        "area": plots.area_breakdown(results),
        "roofline": plots.roofline(results, peaks),
        "headline": plots.headline_ratios(results[0], results[1]),
    }
    # each latency panel stacks to 100 %
    for ax in figs["latency"].axes[:2]:
        heights = {}
        for bar in ax.patches:
            x = round(bar.get_x() + bar.get_width() / 2)
            heights[x] = heights.get(x, 0.0) + bar.get_height()
        assert all(h == pytest.approx(100.0) for h in heights.values())
    # the headline plot shows 71.4x first, explained
    assert figs["headline"].axes[0].patches[0].get_width() == pytest.approx(71.43, abs=0.01)
    labels = [t.get_text() for t in figs["headline"].axes[0].get_yticklabels()]
    assert "71.4x" in labels[0] and "whole chip" in labels[3] and "J/token" in labels[4]
    # every area component is labelled readably and annotated with its value
    area_ax = figs["area"].axes[0]
    names = [t.get_text() for t in area_ax.get_yticklabels()]
    assert "DRAM PHYs" in names and not any("_" in n for n in names)
    assert len(area_ax.texts) == len(names) * len(results)
    for name, fig in figs.items():
        _check_saved(fig, tmp_path, name)


def test_carbon_and_sweeps(tmp_path):
    fig = plots.carbon_by_region({"chip": {"FR": (1.0, 2.0), "PL": (10.0, 2.0)},
                                  "gpu": {"FR": (5.0, float("nan")), "PL": (50.0, float("nan"))}},
                                 highlight=["PL"], names={"PL": "Poland (PL)"})
    # one linear panel per side, operational and embodied bars per region, totals written
    assert len(fig.axes) == 2 and all(ax.get_xscale() == "linear" for ax in fig.axes)
    assert len(fig.axes[0].patches) == 4
    assert [t.get_text() for t in fig.axes[1].texts] == ["5 (operational only)", "50 (operational only)"]
    assert "Poland (PL)" in [t.get_text() for t in fig.axes[0].get_yticklabels()]
    _check_saved(fig, tmp_path, "carbon")
    fig = plots.ratio_sweep([1, 2, 4, 8], {"J/token": [10, 8, 6, 5]}, "batch", "GPU / chip")
    assert len(fig.axes[0].lines) == 2  # the series and the 1x line
    _check_saved(fig, tmp_path, "sweep")


def test_area_labels_for_any_key():
    assert plots.area_label("dram_phy") == "DRAM PHYs"
    assert plots.area_label("white_space") == "white space (PHY shoreline)"
    assert plots.area_label("noc_router_mm2") == "NOC router"
    assert "datapath" in plots.AREA_SUBTOTALS and "total" in plots.AREA_SUBTOTALS


def test_the_same_plot_gives_the_same_bytes(results, tmp_path):
    first = plots.save_figure(plots.energy_breakdown(results), tmp_path / "a")
    second = plots.save_figure(plots.energy_breakdown(results), tmp_path / "b")
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.suffix
