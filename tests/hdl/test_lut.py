# amaranth: UnusedElaboratable=no
"""The LUT datapath (tlu.style = "lut"), checked like the adder tree.

Unit level: LutUnit's sums equal numpy's for every group size, ragged last groups, shared
and unshared tables, wider table entries and token blocks, with the extreme operands, and a
pass is done exactly ``latency`` cycles after its last slice. Core level (slow): ragged GEMM
shapes on small chips give outputs equal to the golden model bit for bit, and compute cycles
and counted weight/activation reads and result writes equal to
:func:`tritium.sim.datapath.lut_schedule` called with the chip's plain ints.
"""

from __future__ import annotations

import dataclasses

import pytest

from tritium.base.errors import SpecError
from tritium.hdl import core_schedule, elaborate
from tritium.hdl.lut import LutUnit, table_combinations
from tritium.hdl.style import chip_with_style, make_unit, with_style
from tritium.sim import TluSpec, load_chip
from tritium.sim.datapath import lut_schedule, lut_table_entries

FPGA_PROTO = load_chip("fpga-proto")


@pytest.mark.parametrize("tlu,keys", [
    (TluSpec(rows=3, width=8, acc_bits=24), dict(lut_group=1)),
    (TluSpec(rows=3, width=8, acc_bits=24), dict(lut_group=2)),
    (TluSpec(rows=2, width=8, acc_bits=24, levels_per_stage=2), dict(lut_group=3)),  # ragged last group
    (TluSpec(rows=4, width=16, acc_bits=24, acc_per_tree=2), dict(lut_group=4, lut_share_rows=3)),
    (TluSpec(rows=2, width=4, acc_bits=12), dict(lut_group=4, lut_table_bits=14)),  # one group, wraps
    (TluSpec(rows=2, width=16, acc_bits=16, acc_per_tree=3, levels_per_stage=3), dict(lut_group=3,
                                                                                   lut_share_rows=1)),
])
@pytest.mark.parametrize("k", [1, 13, 40])
def test_lut_unit_is_bit_exact_and_on_time(rtl_checks, tlu, keys, k):
    unit = LutUnit(with_style(tlu, style="lut", **keys))
    rtl_checks.check_unit(unit, k, seed=k + keys["lut_group"])


def test_table_layout():
    for g in (1, 2, 3, 4):
        combos = table_combinations(g)
        assert len(combos) == len(set(combos)) == lut_table_entries(g)
        for i, combo in enumerate(combos):  # each entry is one add from an earlier one (or a lone weight)
            last = max(j for j, w in enumerate(combo) if w)
            prefix = combo[:last] + (0,) * (g - last)
            assert not any(prefix) or combos.index(prefix) < i
    unit = LutUnit(with_style(TluSpec(rows=5, width=16), style="lut", lut_group=3, lut_share_rows=2))
    assert (unit.groups, unit.entries, unit.copies, unit.entry_bits, unit.mirrored) == (6, 13, 3, 10, True)
    assert len(unit.tables) == 3 and len(unit.tables[0]) == 6 and len(unit.tables[0][0]) == 13


@pytest.mark.parametrize("keys,tlu_fields,key", [
    (dict(lut_group=5), {}, "tlu.lut_group"),
    (dict(lut_group=3), dict(width=2), "tlu.lut_group"),
    (dict(lut_table_bits=9), {}, "tlu.lut_table_bits"),
    (dict(lut_tables="sram"), {}, "tlu.lut_tables"),
    (dict(lut_share_rows=9), {}, "tlu.lut_share_rows"),
    ({}, dict(zero_handling="gate"), "tlu.zero_handling"),
])
def test_what_the_lut_rtl_cannot_build_is_named(keys, tlu_fields, key):
    """TluSpec refuses what no LUT datapath builds; the HDL refuses what its RTL does not build."""
    with pytest.raises(SpecError) as err:
        tlu = with_style(TluSpec(**{"rows": 4, "width": 8, **tlu_fields}), style="lut", **keys)
        make_unit(tlu)
    assert key.endswith(err.value.key)
    if key in ("tlu.lut_tables", "tlu.zero_handling"):  # a valid chip the RTL does not build
        with pytest.raises(SpecError, match=key):
            elaborate(dataclasses.replace(FPGA_PROTO, tlu=tlu))


# small_chip keyword arguments: g = 2, 3, 4; shared tables; token blocks; stalling weight and
# activation ports; 5-trit weights; wider table entries; a wrapping accumulator
LUT_CHIPS = {
    "4x16-g2": dict(style=dict(style="lut", lut_group=2)),
    "4x16-g3-acc3-word2": dict(acc_per_tree=3, weight_port_bits=64, style=dict(style="lut", lut_group=3)),
    "4x16-g4-share2-acc2-slice2": dict(acc_per_tree=2, act_port_bits=64,
                                       style=dict(style="lut", lut_group=4, lut_share_rows=2)),
    "3x8-g3-5trit-word3-wraps": dict(rows=3, width=8, acc_per_tree=2, weight_port_bits=16, acc_bits=14,
                                     weight_encoding="5trit", levels_per_stage=2,
                                     style=dict(style="lut", lut_group=3, lut_table_bits=12)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", LUT_CHIPS)
def test_lut_core_follows_lut_schedule(rtl_checks, name):
    chip = rtl_checks.small_chip(**LUT_CHIPS[name])
    tlu = chip.tlu
    rtl_checks.check_core_follows(chip, lut_schedule, group=tlu.lut_group, table_bits=tlu.lut_table_bits,
                                  share_rows=tlu.lut_share_rows)


@pytest.mark.slow
def test_lut_on_fpga_proto(rtl_checks):
    chip = chip_with_style(dataclasses.replace(FPGA_PROTO, tlu=dataclasses.replace(FPGA_PROTO.tlu, acc_per_tree=2)),
                           style="lut", lut_group=3)
    assert core_schedule(chip, 1, 1, 1).pipeline_depth == chip.tlu.pipeline_depth_cycles
    rtl_checks.check_core(chip, [(3, 130, 11), (2, 1, 1)],
                          lambda m, k, n, b: core_schedule(chip, m, k, n, token_block=b))


def test_the_lut_chips_cover_the_keys(rtl_checks):
    chips = [rtl_checks.small_chip(**kw).tlu for kw in LUT_CHIPS.values()]
    assert {t.lut_group for t in chips} == {2, 3, 4} and any(t.lut_share_rows for t in chips)
    assert any(t.acc_per_tree > 1 for t in chips) and any(t.lut_table_bits for t in chips)
    shapes = rtl_checks.SHAPES
    for ragged in (lambda m, k, n: k < 16, lambda m, k, n: n < 4, lambda m, k, n: m % 3 and m > 3,
                   lambda m, k, n: k % 16 and k > 16, lambda m, k, n: n % 4 and n > 4):
        assert any(ragged(*shape) for shape in shapes)


@pytest.mark.slow
def test_lut_verilog_passes_its_icarus_testbench(rtl_checks, tmp_path):
    """Exported Verilog of a LUT core (g = 3, shared tables, token block 2, a stalling weight
    port) runs its golden cases with results, compute cycles and memory accesses == lut_schedule."""
    chip = rtl_checks.small_chip(acc_per_tree=2, weight_port_bits=64,
                                 style=dict(style="lut", lut_group=3, lut_share_rows=2))
    stdout = rtl_checks.icarus_passes(chip, tmp_path / "out", m=3, k=40, n=5)
    assert "FAIL" not in stdout
