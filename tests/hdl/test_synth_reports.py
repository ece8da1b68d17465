"""Reading yosys's and nextpnr's outputs: flip-flop cells, cell classes, fmax, overflow (no tools run)."""

from __future__ import annotations

import json

import pytest

from tritium.base.errors import TritiumError
from tritium.hdl.synth_reports import is_flip_flop, multipliers_file, parse_does_not_fit, parse_pnr, parse_stat


def test_flip_flop_cells_are_recognised():
    for cell in ("$_DFF_P_", "$_SDFFE_PP0P_", "$_DLATCH_N_", "TRELLIS_FF", "SB_DFFESR", "FDRE", "FDCE"):
        assert is_flip_flop(cell), cell
    for cell in ("$_AND_", "LUT4", "CCU2C", "SB_LUT4", "DP16KD", "$_MUX_"):
        assert not is_flip_flop(cell), cell


def _stat(path, cells, **design):
    path.write_text(json.dumps({"design": {"num_cells_by_type": cells, **design}}))
    return path


def test_stat_cells_are_classed_per_target(tmp_path):
    stat = _stat(tmp_path / "stat.json", {"LUT4": 10, "CCU2C": 3, "TRELLIS_FF": 7, "MULT18X18D": 1, "DP16KD": 2,
                                          "$scopeinfo": 4})
    counts = parse_stat("ecp5", stat)
    assert (counts.luts, counts.carry_cells, counts.flip_flops, counts.dsps, counts.block_rams) == (10, 3, 7, 1, 2)
    assert counts.cells == 23 and "$scopeinfo" not in counts.cells_by_type and counts.transistors is None


def test_generic_transistors_leave_flip_flops_out(tmp_path):
    cells = {"$_AND_": 5, "$_DFF_P_": 2, "$_SDFF_PP0_": 1, "$mem_v2": 1}
    stat = _stat(tmp_path / "stat_generic.json", cells, estimated_num_transistors="100+")
    with pytest.raises(TritiumError, match="no multiplier count"):
        parse_stat("generic", stat)
    (tmp_path / multipliers_file(stat.name)).write_text("3 objects.\n")
    counts = parse_stat("generic", stat)
    assert counts.luts is None and counts.carry_cells is None and counts.dsps == 3 and counts.block_rams == 1
    assert counts.flip_flops == 3 and counts.transistors == 100 - 16 * 2  # yosys counts only plain DFFs
    _stat(stat, cells)
    with pytest.raises(TritiumError, match="no transistor estimate"):
        parse_stat("generic", stat)


def test_placement_takes_the_slowest_clock(tmp_path):
    report = tmp_path / "pnr.json"
    report.write_text(json.dumps({
        "utilization": {"TRELLIS_COMB": {"used": 40, "available": 83640}, "TRELLIS_FF": {"used": 0, "available": 83640},
                        "DCCA": {"used": 0, "available": 56}, "EHXPLLL": {"used": 1, "available": 4}},
        "fmax": {"clk": {"achieved": 180.5, "constraint": 100.0}, "clk2": {"achieved": 95.0, "constraint": 100.0}},
    }))
    placed = parse_pnr("ecp5", report, 100.0)
    assert placed.fits and placed.fmax_mhz == 95.0 and placed.timing_met is False and placed.note is None
    assert dict(placed.utilization) == {"TRELLIS_COMB": (40, 83640), "TRELLIS_FF": (0, 83640), "EHXPLLL": (1, 4)}
    report.write_text(json.dumps({"utilization": {}}))
    assert parse_pnr("ecp5", report, 100.0).timing_met is None


# the end of nextpnr-ice40's log for a 256-input tree behind the harness on an UP5K
_TOO_BIG_LOG = """Info: Device utilisation:
Info: \t         ICESTORM_LC:  9727/ 5280   184%
Info: \t        ICESTORM_RAM:     0/   30     0%
Info: \t               SB_IO:     4/   39    10%
Info: \t               SB_GB:     2/    8    25%
Info: \t        ICESTORM_DSP:     0/    8     0%

Info: Placed 0 cells based on constraints.
ERROR: Unable to place cell 'core.l1_121_SB_DFF_Q_9_D_SB_LUT4_O_LC', no BELs remaining to implement cell type 'ICESTORM_LC'
1 warning, 1 error
"""


def test_a_design_that_does_not_fit_is_recognised():
    util = parse_does_not_fit("ice40", _TOO_BIG_LOG)
    assert util == {"ICESTORM_LC": (9727, 5280), "ICESTORM_RAM": (0, 30), "SB_IO": (4, 39), "SB_GB": (2, 8),
                    "ICESTORM_DSP": (0, 8)}
    assert parse_does_not_fit("ice40", "ERROR: Failed to route net 'x'\n") is None
