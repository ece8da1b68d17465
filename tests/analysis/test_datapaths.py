"""analysis/datapaths.py: the "which datapath" table and plot."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from matplotlib.figure import Figure

from tritium.analysis.datapaths import DATAPATH_COLUMNS, DEFAULT_VARIANTS, datapath_plot, datapath_table, styled_chip
from tritium.base.errors import SpecError
from tritium.sim import load_chip
from tritium.workloads import Scenario, trace


@pytest.fixture(scope="module")
def small_trace():
    return trace("bitnet-b1.58-2b-4t", Scenario(1, 32, 4))


def _calibration():
    common = dict(ecp5_luts=1000, ecp5_dsps=0, ecp5_fmax_mhz=150.0)
    return [SimpleNamespace(style="adder_tree", lut_group=0, width=16, synth_um2=100.0, model_um2=90.0, **common),
            SimpleNamespace(style="adder_tree", lut_group=0, width=32, synth_um2=200.0, model_um2=190.0, **common),
            SimpleNamespace(style="lut", lut_group=3, width=32, synth_um2=300.0, model_um2=330.0, **common),
            SimpleNamespace(style="mac", lut_group=0, width=32, synth_um2=900.0, model_um2=None, ecp5_luts=None,
                            ecp5_dsps=None, ecp5_fmax_mhz=None)]


def test_one_row_per_variant_at_equal_peak_throughput(small_trace):
    table = datapath_table("edge-lpddr5", small_trace, calibration=_calibration())
    assert list(table.columns) == list(DATAPATH_COLUMNS)
    assert list(table.variant) == [label for label, _ in DEFAULT_VARIANTS]
    assert table.peak_tops.nunique() == 1 and table.peak_tops.iloc[0] == pytest.approx(4.096)
    assert (table.tokens_per_s > 0).all() and (table.tlu_area_mm2 > 0).all()
    by = table.set_index("variant")
    # the widest calibration unit of the style (and group) beside the model's
    assert by.loc["adder tree", "synth_width"] == 32 and by.loc["adder tree", "model_over_synth"] == 0.95
    assert by.loc["LUT g=3", "model_over_synth"] == pytest.approx(1.1)
    assert by.loc["LUT g=2", "synth_width"] == 0 and math.isnan(by.loc["LUT g=2", "model_over_synth"])
    assert math.isnan(by.loc["INT8 MAC", "model_over_synth"]) and math.isnan(by.loc["INT8 MAC", "ecp5_luts"])
    # the MAC baseline takes attention and the LM head onto its multipliers: faster prefill
    assert by.loc["INT8 MAC", "time_to_first_token_s"] < by.loc["adder tree", "time_to_first_token_s"]
    assert table.attrs["chip"] == "edge-lpddr5"


def test_plot_draws_three_panels(small_trace):
    fig = datapath_plot(datapath_table("edge-lpddr5", small_trace, variants=DEFAULT_VARIANTS[:2]))
    assert isinstance(fig, Figure) and len([a for a in fig.axes if a.get_title()]) == 3


def test_styled_chip_moves_options_the_style_lacks():
    chip = styled_chip(load_chip("edge-lpddr5"), zero_act="skip")
    lut = styled_chip(chip, style="lut", lut_group=3)
    assert (lut.tlu.style, lut.tlu.lut_group, lut.tlu.zero_act) == ("lut", 3, "gate")
    back = styled_chip(lut, style="adder_tree")
    assert back.tlu.lut_group is None and back.tlu.style == "adder_tree"
    with pytest.raises(SpecError, match="lut_group = 9"):
        styled_chip(chip, style="lut", lut_group=9)
