"""Technology tables: the headline ratio, the 45 nm basis, scaling factors, monotonicity, sources."""

from __future__ import annotations

import math

import pytest

from tritium.base.errors import SpecError, TritiumError
from tritium.sim import DRAM_TYPES, NODES_NM as CHIP_NODES_NM
from tritium.sim.tech import NODES_NM, SRAM_DENSITIES, arithmetic_energy_ratio, dram_pj_per_bit, tech
from tritium.sim.tech_scaling import DEFAULT_SCALING, SCALING_METHODS, data_entries

METHODS = tuple(SCALING_METHODS)
LARGE_TO_SMALL = sorted(NODES_NM, reverse=True)
HOROWITZ45_PJ = {"int8_add": 0.03, "int16_add": 0.05, "int32_add": 0.1, "int8_mul": 0.2,
                 "fp16_add": 0.4, "fp16_mul": 1.1, "fp32_add": 0.9, "fp32_mul": 3.7}
HOROWITZ45_UM2 = {"int8_add": 36, "int16_add": 67, "int32_add": 137, "int8_mul": 282,
                  "fp16_add": 1360, "fp16_mul": 1640, "fp32_add": 4184, "fp32_mul": 7700}
MACRO_KIB = (0.125, 1, 8, 16, 32, 64, 256, 1024, 4096, 65536)


# --- the seed's headline -------------------------------------------------------------------


def test_bitnet_headline_is_71_4x_at_7nm_and_50x_at_45nm():
    assert DEFAULT_SCALING == "bitnet"
    assert arithmetic_energy_ratio() == pytest.approx(71.4, abs=0.05)
    assert arithmetic_energy_ratio(7, "bitnet") == pytest.approx((0.16 + 0.34) / 0.007)
    assert arithmetic_energy_ratio(45) == pytest.approx((0.4 + 1.1) / 0.03) == pytest.approx(50.0)


def test_stillmaker_scales_every_operation_alike_so_the_ratio_stays_50x():
    # The headline depends on the method: Stillmaker's one factor per node keeps 45 nm's 50x.
    for method in ("stillmaker", "stillmaker_lowvdd"):
        for node in NODES_NM:
            assert arithmetic_energy_ratio(node, method) == pytest.approx(50.0)
    ratio = arithmetic_energy_ratio(7, "bitnet") / arithmetic_energy_ratio(7, "stillmaker")
    assert ratio == pytest.approx(1.4286, rel=1e-3)


# --- the 45 nm basis and the documented factors ------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_horowitz_45nm_values_reproduce_at_45nm(method):
    t = tech(45, method)
    for op, pj in HOROWITZ45_PJ.items():
        assert getattr(t, f"{op}_pj") == pytest.approx(pj)
        assert getattr(t, f"{op}_um2") == pytest.approx(HOROWITZ45_UM2[op])
    assert t.sram_read_pj_per_bit(8) == pytest.approx(10 / 64)
    assert t.sram_read_pj_per_bit(32) == pytest.approx(20 / 64)
    assert t.sram_read_pj_per_bit(1024) == pytest.approx(100 / 64)
    assert t.int8_mac_pj == pytest.approx(0.3)
    assert t.fp16_mac_pj == pytest.approx(1.5)


def test_bitnet_7nm_values_are_the_table():
    t = tech(7, "bitnet")
    expected = {"int8_add": 0.007, "int32_add": 0.03, "int8_mul": 0.07, "fp16_add": 0.16,
                "fp16_mul": 0.34, "fp32_add": 0.38, "fp32_mul": 1.31}
    for op, pj in expected.items():
        assert getattr(t, f"{op}_pj") == pytest.approx(pj)
    assert t.int16_add_pj == pytest.approx(0.007 + (0.03 - 0.007) / 3)  # linear in bits at 7 nm


def test_below_7nm_uses_tsmc_power_factors():
    for method in METHODS:
        seven = tech(7, method)
        assert tech(5, method).int8_add_pj == pytest.approx(0.7 * seven.int8_add_pj)
        assert tech(3, method).fp16_mac_pj == pytest.approx(0.5 * seven.fp16_mac_pj)


@pytest.mark.parametrize(
    ("method", "node", "energy", "area"),
    [
        # docs/sources.md §1b (Stillmaker & Baas via hwcomponents), which
        # rounds these to 0.094, 0.17, 0.057 and 0.105
        ("stillmaker", 7, 0.0943, 0.059),
        ("stillmaker", 16, 0.1735, 0.19),
        ("stillmaker_lowvdd", 7, 0.0566, 0.059),
        ("stillmaker_lowvdd", 16, 0.1046, 0.19),
        # 28 nm lies a third of the way from 32 to 20 nm; hwcomponents' interpolation weights
        # the neighbours the other way round (0.37 and 0.29, the reference's 28 nm column).
        ("stillmaker", 28, 0.513, 0.377),
    ],
)
def test_stillmaker_factors(method, node, energy, area):
    t = tech(node, method)
    assert t.int8_add_pj == pytest.approx(0.03 * energy, rel=0.002)
    assert t.fp32_mul_pj == pytest.approx(3.7 * energy, rel=0.002)
    assert t.int8_add_um2 == pytest.approx(36 * area, rel=0.01)
    assert SCALING_METHODS[method].energy_factor(node, "sram") == pytest.approx(energy, rel=0.002)


def test_bitnet_scales_as_a_power_law_in_node_between_45_and_7nm():
    method = SCALING_METHODS["bitnet"]
    t = math.log(45 / 16) / math.log(45 / 7)
    assert method.energy_factor(16, "fp16_mul") == pytest.approx((0.34 / 1.1) ** t)
    assert tech(16).int8_add_pj == pytest.approx(0.03 * (0.007 / 0.03) ** t)
    # registers and gates scale like the INT8 add; SRAM like the geometric mean of Table 2
    assert method.energy_factor(7, "logic") == pytest.approx(0.007 / 0.03)
    ratios = [0.007 / 0.03, 0.07 / 0.2, 0.16 / 0.4, 0.34 / 1.1, 0.38 / 0.9, 1.31 / 3.7]
    assert method.energy_factor(7, "sram") == pytest.approx(math.prod(ratios) ** (1 / 6))
    # areas follow logic transistor density (LLMCompass: 96.3 MTr/mm^2 at 7 nm, 138.2 at 5 nm)
    assert tech(7).logic_mtr_per_mm2 == pytest.approx(96.3)
    assert tech(5).logic_mtr_per_mm2 == pytest.approx(138.2)
    assert tech(7).int8_add_um2 / tech(5).int8_add_um2 == pytest.approx(138.2 / 96.3)


# --- shape: monotonic in node and in macro size ---------------------------------------------


def _energies(t) -> list[float]:
    values = [t.add_pj(b) for b in (1, 4, 8, 12, 16, 24, 32, 48, 64)]
    values += [getattr(t, f"{op}_pj") for op in HOROWITZ45_PJ]
    values += [t.register_pj_per_bit, t.gate_pj_per_bit, t.mux_pj_per_bit, t.sign_select_pj_per_bit]
    values += [t.sram_read_pj_per_bit(k) for k in MACRO_KIB] + [t.sram_write_pj_per_bit(k) for k in MACRO_KIB]
    return values + [t.sram_leakage_mw_per_mibit]


def _areas(t) -> list[float]:
    values = [t.add_um2(b) for b in (1, 8, 16, 32, 64)] + [getattr(t, f"{op}_um2") for op in HOROWITZ45_UM2]
    values += [t.register_um2_per_bit, t.gate_um2_per_bit, t.int8_mac_um2, t.fp16_mac_um2]
    return values + [t.sram_area_mm2(256, d) for d in SRAM_DENSITIES] + [1 / t.logic_mtr_per_mm2]


@pytest.mark.parametrize("method", METHODS)
def test_energies_and_areas_do_not_grow_as_the_node_shrinks(method):
    tables = [tech(node, method) for node in LARGE_TO_SMALL]
    for larger, smaller in zip(tables, tables[1:]):
        for name, pick in (("energy", _energies), ("area", _areas)):
            for i, (a, b) in enumerate(zip(pick(larger), pick(smaller))):
                assert b <= a * (1 + 1e-12), f"{name} #{i} grows from {larger.node_nm} to {smaller.node_nm} nm"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("node", NODES_NM)
def test_sram_energy_per_bit_grows_with_macro_size(method, node):
    t = tech(node, method)
    for op in (t.sram_read_pj_per_bit, t.sram_write_pj_per_bit):
        values = [op(kib) for kib in MACRO_KIB]
        assert all(a < b for a, b in zip(values, values[1:]))
    assert all(t.sram_write_pj_per_bit(k) > t.sram_read_pj_per_bit(k) for k in MACRO_KIB)


def test_add_energy_is_piecewise_linear_in_bits():
    t = tech(45)
    assert t.add_pj(8) == pytest.approx(0.03) and t.add_pj(32) == pytest.approx(0.1)
    assert t.add_pj(4) == pytest.approx(0.015)
    assert t.add_pj(12) == pytest.approx(0.04)
    assert t.add_pj(64) == pytest.approx(0.1 + 32 * (0.1 - 0.05) / 16)
    assert t.add_um2(24) == pytest.approx((67 + 137) / 2)


# --- densities, leakage, interfaces -----------------------------------------------------------


def test_sram_densities():
    assert tech(5).sram_mibit_per_mm2("macro") == pytest.approx(31.8)
    assert tech(3).sram_mibit_per_mm2() == pytest.approx(31.8)
    # LLMCompass's GPU-cache figure: about 2.5 mm^2 per MiB at 7 nm, ~8x the macro area
    assert tech(7).sram_area_mm2(1024, "cache") == pytest.approx(2.54, abs=0.01)
    assert 6 < tech(7).sram_area_mm2(1024, "cache") / tech(7).sram_area_mm2(1024, "macro") < 10
    # density is data, not scaled: the same for every method
    assert {tech(16, m).sram_macro_mibit_per_mm2 for m in METHODS} == {tech(16).sram_macro_mibit_per_mm2}


def test_leakage_anchors():
    aladdin = [(2.249908e-3, 277.9792), (7.395312e-5, 5.981433), (6.111633e-4, 50.36996),
               (7.786052e-2, 6351.338), (4.048142e-3, 519.7551)]
    mean = sum(mw / um2 * 1e6 for mw, um2 in aladdin) / len(aladdin)
    for method in METHODS:
        assert tech(40, method).logic_leakage_mw_per_mm2 == pytest.approx(mean)  # 10.5 mW/mm^2
        assert tech(45, method).sram_leakage_mw_per_mibit == pytest.approx((1.4497 + 5.67402) / 2)
        assert tech(45, method).sram_leakage_mw_per_mm2() == pytest.approx(8.43, abs=0.01)
        for node in NODES_NM:
            t = tech(node, method)
            assert 1 < t.logic_leakage_mw_per_mm2 < 100 and 1 < t.sram_leakage_mw_per_mm2() < 100


def test_dram_tables_cover_every_dram_type():
    for name in DRAM_TYPES:
        assert dram_pj_per_bit(name) > 0
        assert tech(7).dram_phy_mm2(name) > 0
    from tritium.sim.dram import effective_pj_per_bit

    assert dram_pj_per_bit("HBM2") == effective_pj_per_bit("HBM2", "stream")  # one table: sim/dram_data.toml
    assert tech(7).dram_phy_mm2("HBM2e") == tech(45).dram_phy_mm2("HBM2e") == 10.45
    assert tech(5).link_phy_mm2(25) == pytest.approx(0.965)
    assert tech(5).link_phy_mm2(900) == pytest.approx(36 * 0.965)


# --- provenance ----------------------------------------------------------------------------------


def test_every_data_entry_names_a_tagged_source():
    entries = data_entries()
    assert len(entries) > 80
    for d in entries:
        assert d.source.strip(), d.key
        assert any(tag in d.source for tag in ("[V]", "[R]", "[E]")), d.key
        assert math.isfinite(d.value), d.key


@pytest.mark.parametrize("method", METHODS)
def test_every_figure_of_a_table_has_a_source(method):
    t = tech(12, method)
    sources = t.sources()
    fields = [name for name in t.__dataclass_fields__ if name not in ("node_nm", "scaling")]
    named = ["scaling", "add_pj", "mux_pj_per_bit", "sram_write_pj_per_bit", "link_phy_mm2"]
    named += [f"dram_phy_mm2[{d}]" for d in DRAM_TYPES] + [f"dram_pj_per_bit[{d}]" for d in DRAM_TYPES]
    for name in fields + named:
        assert sources.get(name, "").strip(), name
    text = t.describe()
    assert method in text and "12 nm" in text and all(name in text for name in fields)
    sources["scaling"] = "changed"
    assert t.sources()["scaling"] != "changed"  # callers get a copy


def test_tables_are_cached_and_cover_every_chip_node():
    assert tech(7) is tech(7, "bitnet")
    for node in CHIP_NODES_NM:
        for method in SCALING_METHODS:
            assert tech(node, method).node_nm == node


# --- errors --------------------------------------------------------------------------------------


def test_unknown_node_or_method_names_the_allowed_values():
    with pytest.raises(SpecError, match=r"node_nm = 10: must be one of 45, 40, 28, 22, 16, 12, 7, 5, 3"):
        tech(10)
    allowed = r"must be one of 'bitnet', 'stillmaker', 'stillmaker_lowvdd'"
    with pytest.raises(TritiumError, match=rf"scaling = 'itrs': {allowed}"):
        tech(7, "itrs")
    with pytest.raises(SpecError, match="node_nm"):
        arithmetic_energy_ratio(6)
    with pytest.raises(SpecError, match="event"):
        SCALING_METHODS["bitnet"].energy_factor(7, "dram")


@pytest.mark.parametrize(
    ("call", "key"),
    [
        (lambda t: t.add_pj(0), "bits"),
        (lambda t: t.add_um2(65), "bits"),
        (lambda t: t.sram_read_pj_per_bit(0.01), "macro_kib"),
        (lambda t: t.sram_write_pj_per_bit(1e6), "macro_kib"),
        (lambda t: t.sram_mibit_per_mm2("hd"), "sram_density"),
        (lambda t: t.dram_phy_mm2("HBM4"), "dram_type"),
        (lambda t: t.link_phy_mm2(-1), "bandwidth_gb_s"),
        (lambda t: dram_pj_per_bit("SDR"), "dram_type"),
    ],
)
def test_bad_arguments_raise_spec_errors(call, key):
    with pytest.raises(SpecError) as info:
        call(tech(7))
    assert info.value.key == key
