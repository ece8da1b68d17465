"""Sweep plots: fronts with GPU baselines on the same axes, sensitivity, PNG + SVG files."""

from __future__ import annotations

import pytest

from tritium.analysis.dse import load_results, load_space_of, pareto
from tritium.analysis.dse.plots import COLOR_BY, front_plot, gpu_points, plot_sweep, sensitivity_plot
from tritium.analysis.gpu import gpu_baseline
from tritium.base.errors import SpecError, TritiumError
from tritium.workloads import Scenario, trace


def test_gpu_points_are_the_baselines_on_the_same_trace(tiny_sweep):
    space = load_space_of(tiny_sweep)
    points, notes = gpu_points(space, space.workloads[0].name, ("h100-sxm", "jetson-agx-orin-64gb"))
    assert notes == [] and [p["label"] for p in points] == ["h100-sxm (w2a8)", "jetson-agx-orin-64gb (w2a8)"]
    r = gpu_baseline("h100-sxm", trace("trilm-99m", Scenario(1, 16, 4)), weights="w2a8")
    assert points[0]["tokens_per_s"] == r.totals["tokens_per_s"]
    assert points[0]["joules_per_token"] == r.totals["joules_per_token"]
    assert points[0]["area_mm2"] == r.area_mm2["total"] and points[0]["cost_usd"] > 0
    with pytest.raises(TritiumError, match="no-such-gpu"):
        gpu_points(space, space.workloads[0].name, ("no-such-gpu",))


def _texts(fig) -> list[str]:
    ax = fig.axes[0]
    return [t.get_text() for t in ax.texts] + [t.get_text() for t in ax.get_legend().get_texts()]


def test_front_plot_marks_the_front_and_the_gpus(tiny_sweep):
    fig = front_plot(tiny_sweep, "joules_per_token", "tokens_per_s", gpus=("h100-sxm", "rtx-4090"))
    ax = fig.axes[0]
    texts = _texts(fig)
    assert "h100-sxm (w2a8)" in texts and "rtx-4090 (w2a8)" in texts
    # every category has a legend entry, on the front or not, with its counts
    legend = [t for t in texts if " nm: " in t]
    assert sorted(t.split(":")[0] for t in legend) == ["12 nm", "7 nm"]
    assert all(" chips, " in t and " on the front" in t for t in legend)
    assert "misses a constraint" in texts and "Pareto front (outlined)" in texts
    front = pareto(tiny_sweep, ["joules_per_token", "tokens_per_s"])
    sizes = [c for c in ax.collections if len(c.get_sizes()) and c.get_sizes()[0] == 46]
    assert sum(len(c.get_offsets()) for c in sizes) == len(front)  # every front chip drawn large
    stars = [c for c in ax.collections if len(c.get_sizes()) and c.get_sizes()[0] == 260]
    assert len(stars) == 2
    assert ax.get_xscale() == "log"  # GPUs spend ~50x the energy per token of these chips
    assert "better" in ax.get_xlabel()


def test_front_plot_by_dram_type_and_cost_axis(tiny_sweep):
    fig = front_plot(tiny_sweep, "cost_usd", color_by="dram_type", gpus=("rtx-4090",))
    texts = _texts(fig)
    # the GPU twice, each cost labelled: what it costs to make (the chips' basis) and its price
    assert "rtx-4090 (w2a8) cost to make" in texts and "rtx-4090 (w2a8) price to buy" in texts
    assert any(t.startswith("LPDDR5: ") for t in texts)
    assert "cost to make" in fig.axes[0].get_xlabel() and "price" in fig.axes[0].get_xlabel()


def test_param_and_value_labels():
    from tritium.analysis.dse.plots import param_label, value_label

    assert param_label("sram.weight.capacity_kib") == "SRAM weight capacity (KiB)"
    assert param_label("dram.channel_bandwidth_gb_s") == "DRAM channel bandwidth (GB/s)"
    assert value_label("clock_mhz", 1250.0) == "1250 MHz" and value_label("tlu.zero_handling", "gate") == "gate"


def test_sensitivity_names_each_parameter(tiny_sweep):
    fig = sensitivity_plot(tiny_sweep, "tokens_per_s")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert sorted(labels) == sorted(["TLU rows", "clock (MHz)", "DRAM channels", "node (nm)"])
    assert labels[-1] == "DRAM channels"  # the widest spread on top: DRAM bounds decode
    values = [t.get_text() for t in fig.axes[0].texts]
    assert "500 MHz" in values and "500.0" not in values
    assert "no effect: every value gives the same median" in values  # node: not "7 | 7"
    df = load_results(tiny_sweep, status="ok")
    assert df.groupby("node_nm").tokens_per_s.median().nunique() == 1  # node changes no timing


def test_plot_sweep_writes_png_and_svg(tiny_sweep, tmp_path):
    paths = plot_sweep(tiny_sweep, tmp_path / "plots", gpus=("h100-sxm",))
    names = {p.name for p in paths}
    tag = "trilm-99m_b1-p16-d4"
    for x in ("joules_per_token", "area_mm2", "cost_usd"):
        for color in COLOR_BY:
            assert f"front-{tag}-tokens_per_s-vs-{x}-by-{color}.png" in names
            assert f"front-{tag}-tokens_per_s-vs-{x}-by-{color}.svg" in names
    assert f"sensitivity-{tag}-tokens_per_s.svg" in names and f"sensitivity-{tag}-joules_per_token.png" in names
    assert len(paths) == len(set(paths)) == 16
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(b"\x89PNG") if p.suffix == ".png" else b"<svg" in data[:2000]
    svg = (tmp_path / "plots" / f"front-{tag}-tokens_per_s-vs-joules_per_token-by-node_nm.svg").read_text()
    assert "h100-sxm" in svg


def test_plot_errors(tiny_sweep):
    with pytest.raises(SpecError, match="x"):
        front_plot(tiny_sweep, "speed")
    with pytest.raises(SpecError, match="color_by"):
        front_plot(tiny_sweep, color_by="cores")
    with pytest.raises(TritiumError, match="no workload"):
        front_plot(tiny_sweep, workload="nope")
    with pytest.raises(SpecError, match="metric"):
        sensitivity_plot(tiny_sweep, "speed")


def test_plot_files_of_a_dotted_workload_name_do_not_overwrite_each_other(tmp_path, tiny_text):
    from tritium.analysis.dse import sweep

    path = tmp_path / "s.toml"
    path.write_text(tiny_text.replace("prefill = 16", 'name = "trilm/v1.5-short"\nprefill = 16')
                    .replace("tlu.rows = [16, 32, 64]", "tlu.rows = [16]"))
    sweep(path, tmp_path / "out", workers=0)
    paths = plot_sweep(tmp_path / "out", gpus=())
    on_disk = sorted((tmp_path / "out" / "plots").iterdir())
    assert len(on_disk) == len(set(paths)) == 16 and all("trilm_v1_5-short" in p.name for p in on_disk)
