"""tritium.sim.die and its wiring into simulate: clock refused past fmax, power cap, DVFS, die area, peak power."""

import dataclasses

import pytest

from tritium.cli import main
from tritium.base.errors import SpecError
from tritium.sim import list_presets, load_chip, simulate
from tritium.sim.die import OVERHEAD_ITEMS, resolve_die
from tritium.sim.energy import area_breakdown
from tritium.workloads import Scenario, trace

SHORT = Scenario(batch=1, prefill=64, decode=8)


@pytest.fixture(scope="module")
def bitnet():
    return trace("bitnet-b1.58-2b-4t", SHORT)


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_holds_its_phys_and_counts_every_item(name):
    chip = load_chip(name)
    resolved, die = resolve_die(chip)
    assert resolved == chip and not die.capped
    area = die.area_mm2
    base = area_breakdown(chip, "bitnet")
    assert die.datapath_mm2 == pytest.approx(base["total"])
    assert all(area[k] > 0 for k in ("control", "dma", "pll", "io", "dft"))
    assert (area["noc"] > 0) == (chip.cores > 1)
    parts = sum(v for k, v in area.items() if k != "total")
    assert area["total"] == pytest.approx(parts)
    # the die's edge holds its PHYs: a square die's perimeter is at least the PHY edge
    assert 4 * area["total"] ** 0.5 >= die.phy_edge_mm - 1e-9
    assert die.peak.total_w > 0 and die.peak_memory_w > 0


def test_hbm3_die_grows_to_hold_five_stacks():
    _, die = resolve_die(load_chip("datacenter-hbm3"))
    assert die.phy_edge_mm == pytest.approx(5 * 11.0)
    assert die.area_mm2["white_space"] > 50  # 55 mm of stacks need a die at least 13.75 mm a side
    assert die.area_mm2["total"] == pytest.approx((55.0 / 4) ** 2)


def test_simulate_refuses_a_5ghz_edge_chip(bitnet):
    fast = dataclasses.replace(load_chip("edge-lpddr5"), clock_mhz=5000.0)
    with pytest.raises(SpecError, match=r"clock_mhz = 5000.*above the 2302 MHz"):
        simulate(fast, bitnet)


def test_cli_refuses_a_5ghz_edge_chip_in_one_line(tmp_path, capsys):
    text = load_chip("edge-lpddr5")
    from tritium.sim import chip_to_toml

    path = tmp_path / "fast.toml"
    path.write_text(chip_to_toml(dataclasses.replace(text, clock_mhz=5000.0)))
    code = main(["simulate", "--chip", str(path), "--prefill", "16", "--decode", "4"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: clock_mhz = 5000") and err.count("\n") == 1
    assert "MHz the pipeline reaches" in err and "use clock_mhz <= 2301;" in err


def test_result_carries_die_area_clock_and_peak_power(bitnet):
    chip = load_chip("edge-lpddr5")
    result = simulate(chip, bitnet)
    t = result.totals
    assert set(OVERHEAD_ITEMS) <= set(result.area_mm2)
    assert t["die_area_mm2"] == pytest.approx(result.area_mm2["total"])
    assert t["clock_mhz"] == chip.clock_mhz and t["fmax_mhz"] > chip.clock_mhz
    assert t["peak_power_w"] >= t["average_power_w"]
    assert any(n.startswith("clock 1000 MHz") for n in result.notes)


def test_dvfs_lowers_energy_at_a_slow_clock_and_changes_no_cycle(bitnet):
    slow = dataclasses.replace(load_chip("edge-lpddr5"), clock_mhz=400.0)
    nominal = simulate(slow, bitnet)
    scaled = simulate(dataclasses.replace(slow, dvfs=True), bitnet)
    assert scaled.totals["supply_v"] < nominal.totals["supply_v"]
    assert scaled.totals["total_s"] == nominal.totals["total_s"]
    assert scaled.totals["energy_linear_j"] < nominal.totals["energy_linear_j"]
    assert scaled.totals["energy_dram_j"] == pytest.approx(nominal.totals["energy_dram_j"])  # its own supply
    assert scaled.totals["energy_static_j"] < nominal.totals["energy_static_j"]


def test_power_cap_lowers_the_clock_until_peak_power_fits(bitnet):
    chip = load_chip("datacenter-hbm3")
    free = simulate(chip, bitnet)
    cap = 0.6 * free.totals["peak_power_w"]
    capped_chip, die = resolve_die(dataclasses.replace(chip, power_cap_w=cap))
    assert die.capped and capped_chip.clock_mhz < chip.clock_mhz
    assert die.peak_chip_w <= cap * (1 + 1e-6)
    capped = simulate(dataclasses.replace(chip, power_cap_w=cap), bitnet)
    assert capped.totals["clock_mhz"] == capped_chip.clock_mhz
    assert capped.totals["time_to_first_token_s"] > free.totals["time_to_first_token_s"]
    assert any("power_cap_w" in n for n in capped.notes)
    # a cap above the peak changes nothing
    same = simulate(dataclasses.replace(chip, power_cap_w=2 * free.totals["peak_power_w"]), bitnet)
    assert same.totals["clock_mhz"] == chip.clock_mhz


def test_power_cap_below_the_memory_system_is_refused():
    chip = dataclasses.replace(load_chip("datacenter-hbm3"), power_cap_w=1.0)
    with pytest.raises(SpecError, match=r"power_cap_w = 1.0: below the .* W the chip's DRAM and link PHYs draw"):
        resolve_die(chip)


def test_power_density_limit_refuses_a_hot_die():
    chip = load_chip("datacenter-hbm3")
    _, die = resolve_die(chip)
    density = die.peak.total_w / die.area_mm2["total"]
    resolve_die(dataclasses.replace(chip, power_density_limit_w_per_mm2=density * 1.01))
    with pytest.raises(SpecError, match="power_density_limit_w_per_mm2"):
        resolve_die(dataclasses.replace(chip, power_density_limit_w_per_mm2=density * 0.9))


def test_sweep_point_past_fmax_is_invalid_not_simulated():
    from tritium.analysis.dse.evaluate import Point, eval_context, evaluate_batch
    from tritium.analysis.dse.space import load_space, space_path

    space = load_space(space_path("edge-bitnet-2b"))
    ctx = eval_context(space)
    values = tuple(5000.0 if p.path == "clock_mhz" else p.values[0] for p in space.params)
    assert 5000.0 in values
    (record,) = evaluate_batch(ctx, [("x", Point(space.workloads[0].name, values))])
    assert record["status"] == "invalid" and "clock_mhz = 5000" in record["error"] and not record["feasible"]


def test_ucie_chiplet_links_take_less_edge_and_area_than_serdes():
    chip = load_chip("multichip-hbm3")
    dies = {phy: resolve_die(dataclasses.replace(chip, link=dataclasses.replace(chip.link, phy=phy)))[1]
            for phy in ("serdes", "ucie-standard", "ucie-advanced")}
    areas = [dies[p].area_mm2["link_phy"] for p in ("serdes", "ucie-standard", "ucie-advanced")]
    edges = [dies[p].phy_edge_mm for p in ("serdes", "ucie-standard", "ucie-advanced")]
    assert areas == sorted(areas, reverse=True) and edges == sorted(edges, reverse=True)
    # UCIe 1.0 advanced package: 1350 GB/s per mm^2 over both directions
    assert dies["ucie-advanced"].area_mm2["link_phy"] == pytest.approx(2 * chip.link.bandwidth_gb_s / 1350.0)
    with pytest.raises(SpecError, match=r"phy = 'optical': must be one of"):
        dataclasses.replace(chip.link, phy="optical")
