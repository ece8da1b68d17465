"""tritium.sim.silicon: V/f curves, the reachable clock, power (the die items besides the datapath: test_floorplan.py)."""

import dataclasses

import pytest

from tritium.base.errors import SpecError
from tritium.sim import silicon as si
from tritium.sim.chip import NODES_NM, list_presets, preset

EDGE = si.Pipeline(width=64, levels_per_stage=2, rows=64, acc_bits=24, sram_bank_kib=128, mac_bits=8)


@pytest.mark.parametrize("node", NODES_NM)
def test_voltage_range_and_fo4_falls_with_voltage(node):
    vmin, vnom, vmax = si.node_voltage(node)
    assert 0 < vmin < vnom < vmax
    assert si.fo4_ps(node, vmin) > si.fo4_ps(node) > si.fo4_ps(node, vmax) > 0
    with pytest.raises(SpecError, match="voltage_v"):
        si.fo4_ps(node, vmax * 1.2)


def test_fo4_shrinks_with_the_node():
    fo4 = [si.fo4_ps(n) for n in NODES_NM]  # NODES_NM runs from 45 nm down to 3 nm
    assert fo4 == sorted(fo4, reverse=True)


def test_higher_clock_needs_higher_voltage():
    clocks = [400.0, 800.0, 1200.0, 1600.0, 2000.0, 2200.0]
    volts = [si.operating_point(7, f, EDGE, dvfs=True).voltage_v for f in clocks]
    assert volts == sorted(volts) and volts[0] < volts[-1]
    factors = [si.operating_point(7, f, EDGE, dvfs=True).energy_factor for f in clocks]
    assert factors == sorted(factors)


def test_operating_point_factors():
    _, vnom, vmax = si.node_voltage(7)
    nominal = si.operating_point(7, 1000.0, EDGE)
    assert nominal.voltage_v == vnom and nominal.energy_factor == 1.0 and nominal.leakage_factor == pytest.approx(1.0)
    low = si.operating_point(7, 1000.0, EDGE, dvfs=True)
    assert low.voltage_v < vnom
    assert low.energy_factor == pytest.approx((low.voltage_v / vnom) ** 2)
    assert 0 < low.leakage_factor < 1
    fast = si.operating_point(7, 0.99 * nominal.fmax_mhz, EDGE)
    assert vnom < fast.voltage_v <= vmax and fast.energy_factor > 1 and fast.leakage_factor > 1 and fast.feasible
    past = si.operating_point(7, 2 * nominal.fmax_mhz, EDGE)
    assert not past.feasible and past.voltage_v == pytest.approx(vmax)


def test_more_levels_per_stage_lowers_the_tree_stage():
    depths = [si.stage_depths_fo4(dataclasses.replace(EDGE, levels_per_stage=k))["tree"] for k in range(1, 7)]
    assert all(a < b for a, b in zip(depths, depths[1:]))
    logic_only = dataclasses.replace(EDGE, sram_bank_kib=1, mac_bits=0)
    fmax = [si.reachable_clock_mhz(7, dataclasses.replace(logic_only, levels_per_stage=k)) for k in range(1, 7)]
    assert all(a >= b for a, b in zip(fmax, fmax[1:])) and fmax[0] > fmax[-1]


def test_fpga_calibration_reproduces_ecp5_ratios():
    """The fitted register overhead makes the tree's stage ratios track ECP5 within 10%."""
    measured = {1: 233.21, 2: 169.81, 3: 122.94, 6: 67.69}
    tree = {k: si.stage_depths_fo4(si.Pipeline(width=64, levels_per_stage=k))["tree"] for k in measured}
    for k in measured:
        assert tree[k] / tree[1] == pytest.approx(measured[1] / measured[k], rel=0.10)
    assert 3 < si.stage_overhead_fo4() < 12


def test_sram_stage_grows_with_macro_size_up_to_the_largest_macro():
    d = [si.stage_depths_fo4(dataclasses.replace(EDGE, sram_bank_kib=k))["sram"] for k in (1, 8, 64, 512)]
    assert d[0] < d[1] < d[2] == d[3]


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_closes_timing(name):
    chip = preset(name)
    op = si.check_clock(chip)
    assert op.feasible and op.fmax_mhz >= chip.clock_mhz


def test_5ghz_edge_is_refused_with_clock_fmax_and_knob():
    chip = dataclasses.replace(preset("edge-lpddr5"), clock_mhz=5000.0)
    with pytest.raises(SpecError) as err:
        si.check_clock(chip)
    fmax = si.reachable_clock_mhz(7, si.pipeline_of(chip))
    text = str(err.value)
    assert err.value.key == "clock_mhz"
    assert "5000" in text and f"{fmax:.0f} MHz" in text and "7 nm" in text and "sram" in text


def test_tree_bound_clock_names_levels_per_stage():
    chip = preset("lowcost-28nm")  # levels_per_stage 3: the tree is its critical stage
    op = si.check_clock(chip)
    assert op.critical_stage == "tree"
    with pytest.raises(SpecError, match=r"tlu\.levels_per_stage = 2 \(reaches \d+ MHz\)"):
        si.check_clock(dataclasses.replace(chip, clock_mhz=min(5000.0, op.fmax_mhz * 1.05)))


def test_pipeline_validates():
    with pytest.raises(SpecError, match="levels_per_stage"):
        si.Pipeline(width=64, levels_per_stage=7)
    for bad in (1, 33):
        with pytest.raises(SpecError, match="mac_bits"):
            si.Pipeline(width=64, levels_per_stage=1, mac_bits=bad)


def test_multiplier_stage_grows_with_width_and_every_style_is_timed():
    depths = [si.stage_depths_fo4(si.Pipeline(width=64, levels_per_stage=1, mac_bits=b))["mac"] for b in (4, 8, 16, 32)]
    assert depths == sorted(depths) and depths[0] < depths[1]
    import dataclasses

    from tritium.sim.chip_parts import TluSpec

    edge = preset("edge-lpddr5")
    lut = dataclasses.replace(edge, tlu=TluSpec(rows=64, width=64, style="lut", lut_group=4, acc_bits=24))
    assert si.pipeline_of(lut).width == 16  # its tree sums 64 / 4 table reads
    reads = [si.stage_depths_fo4(si.pipeline_of(dataclasses.replace(lut, tlu=dataclasses.replace(lut.tlu, lut_group=g))))
             ["lut_read"] for g in (2, 3, 4)]
    assert reads == sorted(reads) and reads[1] > reads[0]  # more entries, and from g = 3 a negation
    mac = dataclasses.replace(edge, tlu=TluSpec(rows=64, width=64, style="mac", mac_bits=16, acc_bits=32))
    assert si.pipeline_of(mac).mac_bits == 16 and "mac" in si.stage_depths_fo4(si.pipeline_of(mac))


def test_peak_power_sums_units_and_scales():
    p = si.peak_power_w(1000.0, {"tlu": 4096, "sram": 1024}, {"tlu": 0.05, "sram": 0.1}, 0.2,
                        energy_factor=2.0, leakage_factor=1.5)
    assert dict(p.by_unit) == pytest.approx({"tlu": 0.4096, "sram": 0.2048})
    assert p.static_w == pytest.approx(0.3) and p.total_w == pytest.approx(0.6144 + 0.3)
    with pytest.raises(SpecError, match="energy_pj"):
        si.peak_power_w(1000.0, {"tlu": 1}, {"mac": 1.0}, 0.0)


def test_power_cap_lowers_the_clock_until_it_fits():
    events, pj = {"tlu": 4096.0}, {"tlu": 0.5}
    free = si.power_capped_clock(7, EDGE, 1000.0, events, pj, 0.1)
    assert free.clock_mhz == pytest.approx(si.reachable_clock_mhz(7, EDGE))
    capped = si.power_capped_clock(7, EDGE, 1.0, events, pj, 0.1)
    assert capped.clock_mhz < free.clock_mhz and capped.peak.total_w <= 1.0 + 1e-9
    tighter = si.power_capped_clock(7, EDGE, 0.5, events, pj, 0.1)
    assert tighter.clock_mhz < capped.clock_mhz
    assert tighter.operating_point.voltage_v <= capped.operating_point.voltage_v
    with pytest.raises(SpecError, match="power_cap_w"):
        si.power_capped_clock(7, EDGE, 0.01, events, pj, 0.1)


def test_every_table_has_a_source():
    src = si.sources()
    for table in ("nodes", "alpha_power", "voltage_range", "leakage", "ecp5_tree64", "phy_edge", "ucie"):
        assert src[table]
    for entry in ("timing.adder", "timing.asic", "timing.sram", "overheads.control", "overheads.noc_router"):
        assert src[entry]
