"""The report's "which datapath" section: the chip in every style, synthesized units beside the model's."""

from __future__ import annotations

import json

import pytest

from tritium.analysis.report import build_report
from tritium.analysis.report_render import render
from tritium.base.errors import TritiumError

SMALL = dict(prefill=32, decode=4, batches=(1,), prefills=(32,), regions=("world",))


def _records(tmp_path):
    """Records shaped as `tritium hdl calibrate --styles ... --json` writes them (two styles)."""
    rows = [
        {"style": "adder_tree", "lut_group": 0, "mac_bits": 0, "width": 32, "rows": 4, "synth_um2": 700.0,
         "model_um2": 660.0, "ecp5_luts": 410, "ecp5_dsps": 0, "ecp5_fmax_mhz": 180.0},
        {"style": "lut", "lut_group": 3, "mac_bits": 0, "width": 32, "rows": 4, "synth_um2": 900.0,
         "model_um2": 860.0, "ecp5_luts": 520, "ecp5_dsps": 0, "ecp5_fmax_mhz": 150.0},
    ]
    path = tmp_path / "styles.json"
    path.write_text(json.dumps(rows))
    return path


def test_the_section_compares_every_style_and_sets_synthesized_units_beside(tmp_path):
    report = build_report(style_calibration=_records(tmp_path), **SMALL)
    d = report.datapaths.set_index("variant")
    assert list(d.index) == ["adder tree", "LUT g=2", "LUT g=3", "LUT g=4", "INT8 MAC"]
    assert len(set(d.peak_tops)) == 1  # equal peak throughput
    assert d.loc["adder tree", "model_over_synth"] == pytest.approx(660 / 700)
    assert d.loc["LUT g=3", "model_over_synth"] == pytest.approx(860 / 900)
    assert d.loc["INT8 MAC", "model_over_synth"] != d.loc["INT8 MAC", "model_over_synth"]  # none given: NaN
    assert "datapaths" in {p.name for p in report.plots}
    md = render(report)["report.md"].decode()
    assert "## Which datapath" in md and "| LUT g=3 |" in md and "0.96" in md and "nan" not in md.lower()


def test_no_datapaths_and_a_bad_calibration_file(tmp_path):
    report = build_report(datapaths=False, **SMALL)
    assert report.datapaths is None and "Which datapath" not in render(report)["report.md"].decode()
    bad = tmp_path / "bad.json"
    bad.write_text('{"style": "lut"}')
    with pytest.raises(TritiumError, match="not the JSON of tritium hdl calibrate --styles"):
        build_report(style_calibration=bad, **SMALL)


def test_serving_section_compares_both_sides_at_the_same_slo():
    report = build_report(model="trilm-99m", datapaths=False, serving=True, slo_ttft_s=1.0, slo_tpot_s=0.1,
                          **{**SMALL, "prefill": 32, "decode": 8, "prefills": (32,)})
    s = report.serving.set_index("kind")
    assert list(s.index) == ["chip", "gpu"]
    assert (s.capacity_rps > 0).all() and (s.slo_ttft_p90_s == 1.0).all() and (s.slo_tpot_p99_s == 0.1).all()
    md = render(report)["report.md"].decode()
    assert "## Serving at an SLO" in md and "(cost to make)" in md and "(price to buy)" in md
