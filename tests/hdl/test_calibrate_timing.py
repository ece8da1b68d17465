"""tritium.hdl.calibrate_timing: the ECP5 fmax of generated trees against the timing model's stage ratios."""

import pytest

from tritium.base.errors import SpecError
from tritium.hdl.calibrate_timing import TIMING_TOLERANCE, TimingCalibration, calibrate_timing, timing_table


def test_stored_calibration_ratios_are_within_tolerance_of_the_model():
    """The 64-input tree's stored ECP5 fmax (sim/silicon_data.toml) against the fitted model."""
    from tritium.hdl.calibrate_timing import _model_stage, _stored

    ks = (1, 2, 3, 6)
    stored = {k: _stored(64, 8, k) for k in ks}
    assert all(v is not None for v in stored.values()) and _stored(32, 8, 1) is None
    for k in ks:
        row = TimingCalibration(64, 8, k, stored[k], stored[k], stored[1] / stored[k],
                                _model_stage(64, 8, k) / _model_stage(64, 8, 1))
        assert abs(row.error) <= TIMING_TOLERANCE, (k, row.error)


def test_bad_levels_are_refused_before_any_tool_runs():
    with pytest.raises(SpecError, match="levels_per_stage"):
        calibrate_timing((1, 4), width=8)
    with pytest.raises(SpecError, match="levels"):
        calibrate_timing((), width=8)


def test_a_small_tree_measured_on_ecp5_follows_the_model(tmp_path):
    """Held out: the model was fitted on a 64-input tree; an 8-input tree's ratio must follow it."""
    rows = calibrate_timing((1, 3), width=8, work_dir=tmp_path)
    assert [r.levels_per_stage for r in rows] == [1, 3]
    assert rows[0].measured_ratio == 1.0 and rows[1].fmax_mhz < rows[0].fmax_mhz  # a deeper stage is slower
    assert abs(rows[1].error) <= TIMING_TOLERANCE
    text = timing_table(rows)
    assert "ECP5 MHz" in text and "n/a" in text  # no stored figure for an 8-input tree
