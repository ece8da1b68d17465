"""Reports a deck can take as they are: no NaN anywhere, every n/a with its reason, per-side
deployment knobs, the user's regions first, whole dies, and the memory/link/area facts."""

import re

import pytest

from tritium.analysis.compare import compare
from tritium.analysis.report import area_table, build_report, hardware_table
from tritium.analysis.report_render import render
from tritium.base.errors import SpecError, TritiumError


@pytest.fixture(scope="module")
def orin_files():
    report = build_report(gpu="jetson-agx-orin-64gb", prefill=32, decode=4, batches=(1,), prefills=(32,),
                          regions=("world", "FR"), region="NO", gpu_usage={"region": "US", "pue": 1.2},
                          volume=50_000, nre_usd=2e6, gpu_batch=2, command="tritium report ...")
    return report, {k: v.decode() for k, v in render(report).items() if not k.endswith(".png")}


def test_no_nan_anywhere_and_reasons_given(orin_files):
    report, files = orin_files
    for name in ("report.md", "report.html", "comparison.json"):
        assert not re.search(r"\bnan\b", files[name], re.IGNORECASE), name
    md = files["report.md"]
    assert "operational CO2e per token (embodied n/a: jetson-agx-orin-64gb's die area is not published)" in md
    assert "Where a figure is n/a:" in md and "the jetson-agx-orin-64gb die area is not published" in md


def test_per_side_usage_and_regions_first(orin_files):
    report, files = orin_files
    c = report.comparison
    assert (c.chip_usage.device_class, c.chip_usage.region, c.chip_usage.pue) == ("edge", "NO", 1.0)
    assert (c.gpu_usage.region, c.gpu_usage.pue, c.gpu_usage.lifetime_years) == ("US", 1.2, 5.0)
    assert list(report.carbon_regions.region) == ["NO", "US", "world", "FR"]
    assert c.gpu_batch == 2 and c.scenario["batch"] == 1
    assert "GPU total (operational only)" in files["report.md"]
    assert "| Norway (NO) |" in files["report.md"]


def test_cost_labels_whole_dies_and_nre(orin_files):
    report, files = orin_files
    cost = report.comparison.chip_cost
    assert isinstance(cost.dies_per_wafer, int)
    assert f"| gross dies per wafer (whole dies) | {cost.dies_per_wafer:,} |" in files["report.md"]
    assert cost.volume == 50_000 and cost.cost_per_chip_usd > cost.unit_cost_usd
    assert "| cost per chip with NRE (USD) |" in files["report.md"]
    assert "price to buy one card (USD)" in files["report.md"]


def test_hardware_and_area_tables():
    c = compare("bitnet-b1.58-2b-4t", "multichip-hbm3", "h100", prefill=32, decode=4, gpus=2)
    hw = hardware_table(c).set_index("quantity")
    assert "refresh costs" in hw.loc["sustained on weight streams", "chip"]
    assert "all-reduces" in hw.loc["collectives per output token", "chip"]
    assert "NCCL" in hw.loc["collectives per output token", "gpu"]
    peak = hw.loc["peak power (every unit busy)", "chip"]
    assert peak.endswith(" W") or peak.startswith("n/a (")
    area = area_table(c.chip_result)
    assert "datapath" not in set(area.key) and "total" not in set(area.key)
    assert area.mm2.is_monotonic_decreasing and "_" not in "".join(area.component)


def test_bad_knobs_are_one_error():
    with pytest.raises(SpecError, match="pue"):
        compare(prefill=32, decode=4, pue=0.5)
    with pytest.raises(SpecError, match="gpu_usage.lifetime"):
        compare(prefill=32, decode=4, gpu_usage={"lifetime": 3})
    with pytest.raises(TritiumError, match="unknown region"):
        compare(prefill=32, decode=4, gpu_usage={"region": "Atlantis"})
    with pytest.raises(SpecError, match="volume"):
        compare(prefill=32, decode=4, nre_usd=1e6)
