"""Carbon model: ACT's CPA row, grid intensity by region, embodied by hand, a chip end to end."""

from __future__ import annotations

import csv
import doctest
import io
import re
from dataclasses import dataclass
from importlib import resources

import pytest

from tritium.analysis import carbon, carbon_data, embodied, grid, usage
from tritium.analysis.carbon import DEFAULT_REGIONS, CarbonReport, carbon_by_region, carbon_per_million_tokens
from tritium.analysis.carbon_data import carbon_figures
from tritium.analysis.embodied import Hardware, chip_hardware, cpa_kg_per_cm2, embodied_carbon, gpu_hardware
from tritium.analysis.grid import grid_intensity, list_regions
from tritium.analysis.usage import DEFAULT_PUE, UPTIME_PUE
from tritium.base.errors import SpecError, TritiumError
from tritium.sim import DRAM_TYPES, NODES_NM, load_chip, simulate
from tritium.workloads import Scenario, trace

TAG = re.compile(r"^\[(V|R|E|V-news)\]")
SECONDS_PER_YEAR = 365.25 * 86400


@dataclass(frozen=True)
class FakeResult:
    """Just what carbon needs from a SimResult: 10 tokens at 3.6 J each over 10 s."""

    totals: dict
    scenario: dict
    chip: str = "fake"


ONE_KWH_PER_MTOK = FakeResult({"energy_j": 36.0, "total_s": 10.0, "joules_per_token": 3.6},
                              {"batch": 2, "prefill": 8, "decode": 5})


@dataclass(frozen=True)
class FakeGpu:
    name: str
    die_mm2: float
    node_nm: int
    mem_gb: float
    memory: str = "HBM3"


@pytest.fixture(scope="module")
def edge():
    chip = load_chip("edge-lpddr5")
    return chip, simulate(chip, trace("bitnet-b1.58-2b-4t", Scenario(1, 64, 16)))


# --- ACT embodied ----------------------------------------------------------------------------


def test_act_cpa_row_of_the_reference():
    # docs/sources.md §4b: Taiwan 583 g/kWh, 97% abatement, yield 0.875
    row = {28: 1.33, 14: 1.56, 7: 2.32, 5: 2.78, 3: 3.16}
    assert {n: round(cpa_kg_per_cm2(n).value, 2) for n in row} == row


def test_cpa_by_hand_and_abatement_columns():
    # 7 nm: EPA 2.15 kWh/cm^2, GPA 350 (95%) / 200 (99%) g/cm^2, MPA 500 g/cm^2
    assert cpa_kg_per_cm2(7, abatement_pct=95).value == pytest.approx((0.583 * 2150 + 350 + 500) / 0.875 / 1000)
    assert cpa_kg_per_cm2(7, abatement_pct=99).value == pytest.approx((0.583 * 2150 + 200 + 500) / 0.875 / 1000)
    assert cpa_kg_per_cm2(7).value == pytest.approx((0.583 * 2150 + 275 + 500) / 0.875 / 1000)
    clean = cpa_kg_per_cm2(7, fab_g_per_kwh=100.0, fab_yield=1.0)
    assert clean.value == pytest.approx((0.1 * 2150 + 275 + 500) / 1000)
    assert "given by the caller" in clean.source


def test_cpa_covers_every_chip_node_and_says_how():
    values = {n: cpa_kg_per_cm2(n) for n in NODES_NM}
    assert values[45].value == values[40].value == values[28].value
    assert values[45].source.count("[E] held at ACT's 28 nm") == 4  # EPA, GPA 95/99, MPA
    assert "[E] linear interpolation" in values[22].source and "[E] linear interpolation" in values[12].source
    assert "[E]" not in values[7].source
    ordered = [values[n].value for n in sorted(NODES_NM, reverse=True)]
    assert ordered == sorted(ordered)  # newer nodes, more carbon per cm^2


def test_embodied_by_hand():
    hw = Hardware(name="two-dies", die_mm2=100.0, node_nm=7, dies=2, dram_gb=16.0, dram_type="LPDDR4X")
    report = embodied_carbon(hw)
    cpa = cpa_kg_per_cm2(7).value
    assert report.die_kg == pytest.approx(2 * 1.0 * cpa)
    assert report.dram_kg == pytest.approx(16 * 48 / 1000)
    assert report.package_kg == pytest.approx(2 * 0.150)
    assert report.total_kg == pytest.approx(report.die_kg + report.dram_kg + report.package_kg)
    assert embodied_carbon(Hardware(name="bare", die_mm2=100.0, node_nm=7)).dram_kg == 0.0


def test_reference_die_only_figures():
    # §4b: "Die only, by that CPA: H100 814 mm^2 ~ 23 kg; A100 826 mm^2 ~ 19 kg"
    assert embodied_carbon(Hardware(name="h100", die_mm2=814.0, node_nm=5)).die_kg == pytest.approx(23, abs=0.5)
    assert embodied_carbon(Hardware(name="a100", die_mm2=826.0, node_nm=7)).die_kg == pytest.approx(19, abs=0.5)


def test_gpu_records_are_duck_typed():
    gpu = FakeGpu("h100-sxm", 814.0, 5, 80.0, memory="hbm3")
    hw = gpu_hardware(gpu)
    assert (hw.name, hw.die_mm2, hw.node_nm, hw.dies, hw.dram_gb, hw.dram_type) == ("h100-sxm", 814.0, 5, 1, 80.0, "HBM3")
    eight = gpu_hardware(gpu, count=8, dram_type="HBM3e")
    assert (eight.dies, eight.dram_gb, eight.dram_type) == (8, 640.0, "HBM3e")
    report = carbon_per_million_tokens(ONE_KWH_PER_MTOK, gpu)
    assert report.embodied.hardware == hw and report.hardware == "h100-sxm"


# --- grid intensity --------------------------------------------------------------------------


def test_shipped_dataset_and_attribution():
    folder = resources.files("tritium.analysis").joinpath("data")
    rows = list(csv.DictReader(io.StringIO(folder.joinpath("carbon_intensity_owid.csv").read_text(encoding="utf-8"))))
    assert len(rows) == 212
    assert list(rows[0]) == ["alpha-2", "Year", "Entity", "Code", "Carbon intensity of electricity (gCO2eq/kWh)"]
    text = folder.joinpath("ATTRIBUTION.md").read_text(encoding="utf-8")
    for needle in ("Our World in Data", "Ember", "CC BY 4.0", "carbontracker 2.4.7", "MIT", "Retrieved"):
        assert needle in text
    assert "MIT License" in folder.joinpath("LICENSE-carbontracker.txt").read_text(encoding="utf-8")
    assert len(list_regions()) == 213 and list_regions()[0].key == "world"


def test_region_lookup_any_spelling():
    france = grid_intensity("FR")
    assert france.g_per_kwh == 44.179085 and france.year == 2024  # the CSV's value
    assert grid_intensity("fr") == grid_intensity("FRA") == grid_intensity("France") == grid_intensity(" france ") == france
    assert grid_intensity("World").g_per_kwh == 445.0 and TAG.match(grid_intensity("world").source)
    assert grid_intensity("united states").alpha3 == "USA"
    assert grid_intensity("France").g_per_kwh < grid_intensity("Sweden").g_per_kwh * 2 < grid_intensity("PL").g_per_kwh


@pytest.mark.parametrize(("region", "hint"), [("Frnace", "France (FR)"), ("Polnd", "Poland (PL)"), ("XX", "world")])
def test_unknown_region_lists_close_matches(region, hint):
    with pytest.raises(TritiumError, match="unknown region") as err:
        grid_intensity(region)
    assert hint in str(err.value)


# --- per million tokens ----------------------------------------------------------------------


def test_operational_is_energy_pue_intensity():
    # 10 tokens at 3.6 J: 1 kWh per million tokens
    fr = carbon_per_million_tokens(ONE_KWH_PER_MTOK, Hardware(name="x", die_mm2=1.0, node_nm=7), region="FR", pue=1.0)
    assert fr.tokens == 10 and fr.operational_g_per_mtok == pytest.approx(44.179085)
    pl = carbon_per_million_tokens(ONE_KWH_PER_MTOK, Hardware(name="x", die_mm2=1.0, node_nm=7), region="Poland")
    assert pl.operational_g_per_mtok == pytest.approx(1.1 * 614.98236)
    assert pl.operational_g_per_mtok > 10 * fr.operational_g_per_mtok
    uptime = carbon_per_million_tokens(ONE_KWH_PER_MTOK, Hardware(name="x", die_mm2=1.0, node_nm=7), pue=UPTIME_PUE)
    assert uptime.operational_g_per_mtok == pytest.approx(UPTIME_PUE * 445.0)
    assert "Uptime" in uptime.sources["pue"] and DEFAULT_PUE == 1.1


def test_embodied_amortization_by_hand():
    hw = Hardware(name="x", die_mm2=100.0, node_nm=5, dram_gb=8.0, dram_type="DDR4")
    r = carbon_per_million_tokens(ONE_KWH_PER_MTOK, hw, lifetime_years=2.0, utilization=0.25)
    grams = embodied_carbon(hw).total_kg * 1000
    per_s = grams / (2.0 * SECONDS_PER_YEAR * 0.25)
    assert r.embodied_g_per_s == pytest.approx(per_s)
    assert r.embodied_g_per_mtok == pytest.approx(per_s * 10.0 / 10 * 1e6)  # 10 s for 10 tokens
    assert r.total_g_per_mtok == pytest.approx(r.operational_g_per_mtok + r.embodied_g_per_mtok)
    longer = carbon_per_million_tokens(ONE_KWH_PER_MTOK, hw, lifetime_years=4.0, utilization=0.25)
    assert longer.embodied_g_per_mtok == pytest.approx(r.embodied_g_per_mtok / 2)
    defaults = carbon_per_million_tokens(ONE_KWH_PER_MTOK, hw)
    assert (defaults.lifetime_years, defaults.utilization) == (4.0, 0.5)


def test_chip_simresult_end_to_end(edge):
    chip, result = edge
    r = carbon_per_million_tokens(result, chip, region="DE")
    assert isinstance(r, CarbonReport)
    tokens = 16
    assert r.tokens == tokens and r.busy_s == result.totals["total_s"]
    kwh = result.totals["energy_j"] / tokens * 1e6 / 3.6e6
    assert r.operational_g_per_mtok == pytest.approx(kwh * 1.1 * grid_intensity("DE").g_per_kwh)
    hw = r.embodied.hardware
    assert hw == chip_hardware(chip, result.area_mm2["total"])
    assert (hw.node_nm, hw.dies, hw.dram_type) == (7, 1, "LPDDR5")
    assert hw.dram_gb == pytest.approx(8 * 2**30 / 1e9)
    assert r.embodied.die_kg == pytest.approx(result.area_mm2["total"] / 100 * cpa_kg_per_cm2(7).value)
    assert r.embodied_g_per_mtok > 0 and r.total_g_per_mtok > r.operational_g_per_mtok
    record = r.as_dict()
    assert record["dram_type"] == "LPDDR5" and "cpa_kg_per_cm2" in record["sources"]
    for key in ("grid_g_per_kwh", "pue", "lifetime_years", "utilization", "dram_g_per_gb", "package_g"):
        assert record["sources"][key]


def test_carbon_by_region_table(edge):
    chip, result = edge
    table = carbon_by_region(result, chip)
    assert list(table.region) == list(DEFAULT_REGIONS)
    assert table.embodied_g_per_mtok.nunique() == 1  # the grid only changes the operational part
    ratio = table.operational_g_per_mtok / table.grid_g_per_kwh
    assert ratio.max() == pytest.approx(ratio.min())
    some = carbon_by_region(result, chip, ["FR", "PL"], pue=1.5)
    fr, pl = some.total_g_per_mtok
    assert fr < pl
    plot_input = dict(zip(some.region, zip(some.operational_g_per_mtok, some.embodied_g_per_mtok)))
    assert set(plot_input) == {"FR", "PL"}


def test_wrong_chip_or_hardware_is_refused(edge):
    _, result = edge
    with pytest.raises(TritiumError, match="result is for chip 'edge-lpddr5'"):
        carbon_per_million_tokens(result, load_chip("lowcost-28nm"))
    with pytest.raises(SpecError) as err:
        carbon_per_million_tokens(result, object())
    assert err.value.key == "die_mm2"


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"pue": 0.9}, "pue"),
    ({"utilization": 0.0}, "utilization"),
    ({"utilization": 1.5}, "utilization"),
    ({"lifetime_years": -1.0}, "lifetime_years"),
    ({"abatement_pct": 90.0}, "abatement_pct"),
    ({"fab_yield": 1.2}, "fab_yield"),
])
def test_bad_numbers_name_the_parameter(kwargs, key):
    with pytest.raises(SpecError) as err:
        carbon_per_million_tokens(ONE_KWH_PER_MTOK, Hardware(name="x", die_mm2=1.0, node_nm=7), **kwargs)
    assert err.value.key == key


@pytest.mark.parametrize(("make", "key"), [
    (lambda: Hardware(name="x", die_mm2=0.0, node_nm=7), "die_mm2"),
    (lambda: Hardware(name="x", die_mm2=1.0, node_nm=7, dies=0), "dies"),
    (lambda: Hardware(name="x", die_mm2=1.0, node_nm=7, dram_gb=8.0), "dram_type"),
    (lambda: Hardware(name="x", die_mm2=1.0, node_nm=7, dram_gb=8.0, dram_type="SDRAM"), "dram_type"),
    (lambda: gpu_hardware(FakeGpu("g", 600.0, 4, 24.0, memory="")), "dram_type"),
    (lambda: gpu_hardware(FakeGpu("g", 600.0, 4, 24.0, memory="EDO")), "dram_type"),
    (lambda: gpu_hardware(FakeGpu("g", None, 4, 24.0)), "die_mm2"),
    (lambda: cpa_kg_per_cm2(2), "node_nm"),
    (lambda: carbon_per_million_tokens(FakeResult({"energy_j": 1.0, "total_s": 1.0}, {"batch": 1, "decode": 0}),
                                       Hardware(name="x", die_mm2=1.0, node_nm=7)), "result"),
])
def test_bad_descriptions_name_the_field(make, key):
    with pytest.raises(SpecError) as err:
        make()
    assert err.value.key == key


def test_every_data_number_names_its_source():
    figures = carbon_figures()
    assert len(figures) > 40
    for key, fig in figures.items():
        assert TAG.match(fig.source), key
    dram = {k.removeprefix("dram_g_per_gb."): v for k, v in figures.items() if k.startswith("dram_g_per_gb.")}
    assert set(dram) == set(DRAM_TYPES)
    assert (dram["LPDDR4X"].value, dram["DDR4"].value) == (48.0, 65.0)


@pytest.mark.parametrize("module", [carbon, carbon_data, embodied, grid, usage])
def test_module_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0
