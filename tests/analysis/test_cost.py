"""Cost model: the reference's worked table, the formulas by hand, monotonicity, data and errors."""

from __future__ import annotations

import dataclasses
import doctest
import math
import re

import pytest

import tritium.analysis.cost as cost_module
from tritium.analysis.cost import (
    YIELD_MODELS,
    CostReport,
    chip_cost,
    cost_figures,
    defect_density,
    die_cost,
    die_yield,
    dies_per_wafer,
    whole_dies_per_wafer,
    mask_set_cost,
    memory_price,
    wafer_price,
)
from tritium.base.errors import SpecError
from tritium.sim import DRAM_TYPES, NODES_NM, load_chip, list_presets

# The worked cost table of the method's sources (docs/sources.md, "Cost"): cost per good die (alpha 3;
# D0 0.15/cm^2 at 7 nm, 0.20 at 5 and 3 nm; 3 nm wafer $20k), excluding package, test and NRE, with
# the unrounded gross-die formula; die_cost counts whole dies (floor), so it is checked within 1%.
WORKED_TABLE = {
    (100, 7): 17, (100, 5): 32, (100, 3): 38,
    (300, 7): 72, (300, 5): 149, (300, 3): 175,
    (814, 7): 410, (814, 5): 982, (814, 3): 1157,
}
TAG = re.compile(r"^\[(V|R|E|V-news)\]")


@pytest.mark.parametrize(("area", "node"), sorted(WORKED_TABLE))
def test_reference_worked_cost_table(area, node):
    d = die_cost(area, node)
    assert round(d.wafer_usd / (dies_per_wafer(area) * d.die_yield)) == WORKED_TABLE[area, node]
    assert d.cost_per_good_die_usd == pytest.approx(WORKED_TABLE[area, node], rel=0.01)


def test_dies_per_wafer_is_a_whole_count():
    d = die_cost(814.0, 5)
    assert d.dies_per_wafer == 63 and isinstance(d.dies_per_wafer, int)
    assert whole_dies_per_wafer(100.0) == 640
    assert "floor" in d.sources["dies_per_wafer"]


def test_volume_and_design_nre_amortized():
    chip = load_chip("edge-lpddr5")
    plain = chip_cost(chip, 7.0)
    assert plain.cost_per_chip_usd == plain.unit_cost_usd and plain.nre_usd == plain.mask_set_usd
    r = chip_cost(chip, 7.0, volume=1_000_000, nre_usd=20e6)
    assert r.design_nre_usd == 20e6 and r.nre_usd == pytest.approx(r.mask_set_usd + 20e6)
    assert r.nre_per_unit_usd == pytest.approx((10.5e6 + 20e6) / 1e6)
    assert r.cost_per_chip_usd == pytest.approx(r.unit_cost_usd + r.nre_per_unit_usd)
    with pytest.raises(SpecError, match="volume"):
        chip_cost(chip, 7.0, nre_usd=1e6)
    with pytest.raises(SpecError, match="nre_usd"):
        chip_cost(chip, 7.0, volume=10, nre_usd=-1.0)


def test_dies_per_wafer_by_hand():
    # 100 mm^2: pi 150^2 / 100 - pi 300 / sqrt(200) = 706.858 - 66.643
    assert dies_per_wafer(100.0) == pytest.approx(706.8583 - 66.6432, abs=1e-3)
    # 814 mm^2 (H100-sized): 86.8376 - 23.3584
    assert dies_per_wafer(814.0) == pytest.approx(86.8376 - 23.3584, abs=1e-3)
    assert dies_per_wafer(100.0, wafer_mm=200.0) == pytest.approx(math.pi * 100**2 / 100 - math.pi * 200 / math.sqrt(200))


def test_yield_models_by_hand():
    # A = 2 cm^2, D0 = 0.1/cm^2: AD = 0.2
    assert die_yield(200.0, 0.1) == pytest.approx((1 + 0.2 / 3) ** -3)
    assert die_yield(200.0, 0.1, alpha=1.0) == pytest.approx(1 / 1.2)
    assert die_yield(200.0, 0.1, model="poisson") == pytest.approx(math.exp(-0.2))
    assert die_yield(200.0, 0.1, model="murphy") == pytest.approx(((1 - math.exp(-0.2)) / 0.2) ** 2)
    assert die_yield(200.0, 0.0, model="murphy") == 1.0
    # Poisson is the pessimist, negative binomial (clustered defects) the optimist
    assert die_yield(200.0, 0.1, model="poisson") < die_yield(200.0, 0.1, model="murphy") < die_yield(200.0, 0.1)
    # alpha -> infinity tends to Poisson
    assert die_yield(200.0, 0.1, alpha=1e6) == pytest.approx(math.exp(-0.2), rel=1e-5)


def test_cost_per_good_die_is_wafer_over_good_dies():
    d = die_cost(300.0, 5, yield_model="murphy", wafer_usd=12000.0, d0_per_cm2=0.1)
    assert d.wafer_usd == 12000.0 and d.d0_per_cm2 == 0.1
    assert d.cost_per_good_die_usd == pytest.approx(12000.0 / (whole_dies_per_wafer(300.0) * die_yield(300.0, 0.1, model="murphy")))
    assert d.sources["wafer_usd"] == d.sources["d0_per_cm2"] == "given by the caller"


@pytest.mark.parametrize("model", YIELD_MODELS)
@pytest.mark.parametrize("node", [45, 28, 7, 3])
def test_bigger_die_fewer_dies_lower_yield_higher_cost(model, node):
    areas = [1.0, 10.0, 50.0, 100.0, 200.0, 400.0, 600.0, 858.0]
    reports = [die_cost(a, node, yield_model=model) for a in areas]
    for small, big in zip(reports, reports[1:]):
        assert big.dies_per_wafer < small.dies_per_wafer
        assert big.die_yield < small.die_yield
        assert big.cost_per_good_die_usd > small.cost_per_good_die_usd
        # and cost per mm^2 of good silicon rises too (edge loss and yield)
        assert big.cost_per_good_die_usd / big.die_area_mm2 > small.cost_per_good_die_usd / small.die_area_mm2


def test_every_chip_node_has_sourced_figures():
    for node in NODES_NM:
        for fig in (wafer_price(node), defect_density(node), mask_set_cost(node)):
            assert fig.value > 0 and TAG.match(fig.source), (node, fig)
    # nodes the tables lack are interpolated and say so
    assert wafer_price(22).source.startswith("[E] linear interpolation")
    assert wafer_price(22).value == pytest.approx(3677 + (2891 - 3677) * 2 / 8)
    assert wafer_price(45).source.startswith("[E]")
    assert wafer_price(45).value == pytest.approx(2274 + (1937 - 2274) * 5 / 25)
    # the CSET figures the reference quotes
    assert {n: wafer_price(n).value for n in (28, 16, 14, 10, 7, 5, 3)} == {
        28: 2891, 16: 3984, 14: 3984, 10: 5992, 7: 9346, 5: 16988, 3: 20000}
    assert (defect_density(7).value, defect_density(5).value) == (0.15, 0.20)
    assert (mask_set_cost(7).value, mask_set_cost(5).value) == (10.5e6, 18.1e6)


def test_newer_nodes_cost_more_per_wafer():
    nodes = sorted(NODES_NM, reverse=True)
    prices = [wafer_price(n).value for n in nodes]
    assert prices == sorted(prices)


def test_every_data_number_names_its_source():
    figures = cost_figures()
    assert len(figures) > 40
    for key, fig in figures.items():
        assert TAG.match(fig.source), key
    for dram in DRAM_TYPES:
        assert memory_price(dram).value > 0 and TAG.match(memory_price(dram).source)
    assert (memory_price("HBM2e").value, memory_price("DDR5").value) == (7.0, 2.4)


def test_chip_cost_adds_package_test_memory_and_nre():
    chip = load_chip("datacenter-hbm3")
    r = chip_cost(chip, 300.0, volume=100_000)
    die = die_cost(300.0, 5)
    assert r.cost_per_good_die_usd == pytest.approx(die.cost_per_good_die_usd)
    assert (r.package_usd, r.assembly_usd) == (20.0, 1.0)
    assert r.test_usd == pytest.approx(0.01 * die.cost_per_good_die_usd)
    assert r.package_test_usd == pytest.approx(21.0 + r.test_usd)
    assert r.dram_type == "HBM3" and r.dram_gb == pytest.approx(80 * 2**30 / 1e9)
    assert r.memory_usd == pytest.approx(r.dram_gb * memory_price("HBM3").value)
    assert r.nre_per_unit_usd == pytest.approx(18.1e6 / 100_000)
    assert r.cost_per_chip_usd == pytest.approx(
        r.cost_per_good_die_usd + r.package_test_usd + r.memory_usd + r.nre_per_unit_usd)
    assert r.system_cost_usd == r.cost_per_chip_usd  # one chip
    assert set(r.sources) >= {"wafer_usd", "d0_per_cm2", "alpha", "package_usd", "test_fraction",
                              "memory_usd_per_gb", "mask_set_usd"}


def test_multichip_system_and_no_volume():
    chip = load_chip("multichip-hbm3")
    r = chip_cost(chip, 150.0)
    assert r.chips == 4 and r.volume is None and r.nre_per_unit_usd == 0.0
    assert r.system_cost_usd == pytest.approx(4 * r.cost_per_chip_usd)
    assert any("no NRE" in n for n in r.notes)
    bigger_volume = chip_cost(chip, 150.0, volume=10_000).cost_per_chip_usd
    assert bigger_volume > chip_cost(chip, 150.0, volume=1_000_000).cost_per_chip_usd > r.cost_per_chip_usd


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_costs_something_finite(name):
    chip = load_chip(name)
    r = chip_cost(chip, 25.0, volume=10_000)
    assert isinstance(r, CostReport)
    assert 0 < r.cost_per_good_die_usd < r.cost_per_chip_usd <= r.system_cost_usd < 1e6
    record = r.as_dict()
    assert set(record) == {f.name for f in dataclasses.fields(CostReport)}


def test_overrides_and_reticle_note():
    chip = load_chip("edge-lpddr5")
    r = chip_cost(chip, 900.0, package_usd=150.0, memory_usd_per_gb=1.0, alpha=2.0)
    assert r.package_usd == 150.0 and r.memory_usd_per_gb == 1.0 and r.alpha == 2.0
    assert r.sources["package_usd"] == "given by the caller"
    assert any("reticle" in n for n in r.notes)
    assert not any("reticle" in n for n in chip_cost(chip, 800.0).notes)


@pytest.mark.parametrize(("call", "key"), [
    (lambda: dies_per_wafer(0.0), "die_area_mm2"),
    (lambda: dies_per_wafer(-5.0), "die_area_mm2"),
    (lambda: dies_per_wafer(40000.0), "die_area_mm2"),
    (lambda: die_yield(100.0, 0.1, model="seeds"), "yield_model"),
    (lambda: die_yield(100.0, -0.1), "d0_per_cm2"),
    (lambda: die_yield(100.0, 0.1, alpha=0.0), "alpha"),
    (lambda: wafer_price(2), "node_nm"),
    (lambda: wafer_price(90), "node_nm"),
    (lambda: memory_price("SDRAM"), "dram_type"),
    (lambda: die_cost(100.0, 7, wafer_usd=-1.0), "wafer_usd"),
    (lambda: chip_cost(load_chip("edge-lpddr5"), 10.0, volume=0), "volume"),
    (lambda: chip_cost("edge-lpddr5", 10.0), "chip"),
])
def test_bad_inputs_name_the_parameter(call, key):
    with pytest.raises(SpecError) as err:
        call()
    assert err.value.key == key


def test_module_examples_run():
    result = doctest.testmod(cost_module)
    assert result.attempted >= 5 and result.failed == 0


def test_gpu_cost_prices_the_die_like_a_chip():
    from tritium.analysis.cost import die_cost, gpu_cost, memory_price
    from tritium.analysis.gpu import load_gpu

    h100 = load_gpu("h100")
    r = gpu_cost(h100, count=2)
    assert r.die.cost_per_good_die_usd == die_cost(814.0, 5).cost_per_good_die_usd
    assert r.memory_usd == pytest.approx(80.0 * memory_price("HBM3").value)
    assert r.cost_to_make_usd == pytest.approx(r.die.cost_per_good_die_usd + r.package_test_usd + r.memory_usd)
    assert r.system_price_usd == 2 * 27500.0 and r.price_is_estimate
    assert any("CoWoS" in n for n in r.notes)
    orin = gpu_cost(load_gpu("orin"))
    assert orin.die is None and math.isnan(orin.cost_to_make_usd) and orin.price_usd == 1999.0
    assert math.isnan(gpu_cost(load_gpu("h200")).system_price_usd)
