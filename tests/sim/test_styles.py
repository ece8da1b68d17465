"""The datapath styles (tlu.style adder_tree | lut | mac) and zero activations (tlu.zero_act) in the simulator:
the chip keys, the mapping (cycles and counts from sim/datapath.py), energy and area."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.cli import main
from tritium.base.errors import SpecError
from tritium.sim import chip_to_toml, load_chip, save_chip, simulate
from tritium.sim.chip_parts import STYLE_KEYS, TluSpec
from tritium.sim.datapath import lut_schedule, mac_schedule, style_schedule
from tritium.sim.energy import area_breakdown, op_energy, row_area_parts_um2, shared_area_parts_um2, tlu_area_um2
from tritium.sim.mapping import map_op
from tritium.sim.tech import tech
from tritium.sim.work import placement_for
from tritium.sim.zero_skip import window_cycles
from tritium.workloads import Scenario, trace

EDGE = load_chip("edge-lpddr5")


def styled(chip=EDGE, **tlu):
    """``chip`` with its TLU's fields replaced (style keys of the old style dropped)."""
    fields = {f.name: getattr(chip.tlu, f.name) for f in dataclasses.fields(chip.tlu)}
    for keys in STYLE_KEYS.values():
        for key in keys:
            fields[key] = None
    return dataclasses.replace(chip, tlu=TluSpec(**(fields | tlu)))


def _row(m, k, n, *, act_zero=0.0, steps=1):
    return SimpleNamespace(kind="ternary_linear", op="down_proj", m=m, k=k, n=n, steps=steps,
                           act_in_bytes=m * k * steps, act_out_bytes=m * n * 4 * steps, out_dtype="int32",
                           zero_frac=0.31, nnz_lo=-1, nnz_hi=-1, nnz_hist="", act_zero_frac=act_zero)


# ---- the chip keys -----------------------------------------------------------------------------

def test_existing_chips_are_adder_trees_and_style_defaults_fill_in():
    assert EDGE.tlu.style == "adder_tree" and EDGE.tlu.zero_act == "none"
    assert EDGE.tlu.lut_group is None and EDGE.tlu.mac_bits is None
    lut = TluSpec(rows=8, width=64, style="lut")
    assert (lut.lut_group, lut.lut_tables, lut.lut_table_bits, lut.lut_share_rows) == (2, "registers", None, None)
    assert TluSpec(rows=8, width=64, style="mac").mac_bits == 8


@pytest.mark.parametrize("style", ["adder_tree", "lut", "mac"])
def test_styled_chips_round_trip_through_toml(style, tmp_path):
    extra = dict(lut_group=3, lut_tables="sram", lut_share_rows=16) if style == "lut" else {}
    chip = styled(style=style, zero_act="gate", **extra)
    again = load_chip(save_chip(chip, tmp_path / "c.toml"))
    assert again == chip and chip_to_toml(again) == chip_to_toml(chip)
    assert f'style = "{style}"' in chip_to_toml(chip)


@pytest.mark.parametrize("tlu,key,fragment", [
    (dict(style="vliw"), "style", "must be one of 'adder_tree', 'lut', 'mac'"),
    (dict(style="lut", lut_group=5), "lut_group", "must be an integer from 1 to 4"),
    (dict(style="lut", lut_group=0), "lut_group", "must be an integer from 1 to 4"),
    (dict(style="lut", lut_group=2.0), "lut_group", "must be an integer"),
    (dict(style="lut", lut_table_bits=9), "lut_table_bits", "must be an integer from 10"),
    (dict(style="lut", lut_tables="flash"), "lut_tables", "registers, sram"),
    (dict(style="lut", lut_share_rows=65), "lut_share_rows", "from 1 to tlu.rows = 64"),
    (dict(style="mac", lut_group=2), "lut_group", "is a key of style = 'lut'"),
    (dict(lut_tables="registers"), "lut_tables", "is a key of style = 'lut'"),
    (dict(style="lut", mac_bits=8), "mac_bits", "is a key of style = 'mac'"),
    (dict(style="mac", mac_bits=4), "mac_bits", "from act_bits = 8 to 32"),
    (dict(style="lut", zero_act="skip"), "zero_act", "with style = 'lut'"),
    (dict(zero_act="skip", zero_handling="skip"), "zero_act", "with zero_handling = 'skip'"),
    (dict(style="mac", zero_handling="skip"), "zero_handling", "with style = 'mac'"),
    (dict(zero_act="always"), "zero_act", "must be one of 'none', 'gate', 'skip'"),
])
def test_bad_style_keys_are_one_error_naming_the_key(tlu, key, fragment):
    with pytest.raises(SpecError) as err:
        styled(**tlu)
    assert err.value.key == key and fragment in str(err.value) and "\n" not in str(err.value)


def test_a_chip_file_with_another_styles_key_exits_2(tmp_path, capsys):
    text = chip_to_toml(EDGE).replace('style = "adder_tree"', 'style = "mac"\nlut_group = 3')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code = main(["chips", "show", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert err.startswith("error: tlu.lut_group = 3: is a key of style = 'lut'")


# ---- the mapping: cycles and counts from sim/datapath.py ---------------------------------------

@settings(derandomize=True, max_examples=60, deadline=None)
@given(m=st.integers(1, 64), k=st.integers(1, 3000), n=st.integers(1, 700), group=st.sampled_from([1, 2, 3, 4]),
       style=st.sampled_from(["lut", "mac"]), acc=st.sampled_from([1, 4]))
def test_lut_and_mac_ops_take_the_datapath_schedules_cycles(m, k, n, group, style, acc):
    extra = dict(lut_group=group) if style == "lut" else {}
    chip = styled(style=style, acc_per_tree=acc, zero_handling="none", **extra)
    cost = map_op(chip, placement_for(chip, 0.0, 0), _row(m, k, n))
    sched = style_schedule(chip.tlu, m, k, n, cores=1, token_block=cost.token_block,
                           weight_port_bits=chip.sram.weight.bits_per_cycle,
                           act_port_bits=chip.sram.act.bits_per_cycle)
    assert cost.compute_cycles >= sched.cycles  # the schedule, or the buffer ports when they bind
    assert cost.unit_cycles == math.ceil(math.ceil(n / chip.tlu.rows) * math.ceil(k / chip.tlu.width) * m) \
        + chip.tlu.pipeline_depth_cycles
    tree = map_op(styled(acc_per_tree=acc, zero_handling="none"), placement_for(chip, 0.0, 0), _row(m, k, n))
    assert (cost.sram_read_bytes, cost.dram_read_bytes) == (tree.sram_read_bytes, tree.dram_read_bytes)
    if style == "lut":
        assert cost.lut_builds == sched.table_builds
        assert cost.tlu_active_inputs == sched.table_reads  # no weight gating: every read toggles
        gated = map_op(styled(chip, zero_handling="gate", lut_group=group), placement_for(chip, 0.0, 0), _row(m, k, n))
        assert gated.tlu_active_inputs == pytest.approx(sched.table_reads * (1 - 0.31 ** group))  # all-zero groups
    else:
        assert cost.lut_builds == 0 and cost.tlu_active_inputs <= sched.multiplies


def test_lut_schedule_counts_reach_the_op_cost():
    chip = styled(style="lut", lut_group=3, lut_share_rows=16, zero_handling="none")
    cost = map_op(chip, placement_for(chip, 0.0, 0), _row(16, 2560, 640))
    sched = lut_schedule(64, 64, 16, 2560, 640, group=3, share_rows=16, token_block=cost.token_block,
                         weight_port_bits=8192, act_port_bits=512)
    assert cost.lut_builds == sched.table_builds and cost.tlu_active_inputs == sched.table_reads
    assert cost.lut_build_adds == sched.table_builds * (sched.table_entries - 3)
    assert "lut" in cost.mapping


def test_the_adder_tree_is_unchanged_by_a_style_it_does_not_have():
    cost = map_op(EDGE, placement_for(EDGE, 0.0, 0), _row(8, 2560, 640))
    assert (cost.lut_builds, cost.zero_checks, cost.compact_inputs, cost.weight_selects) == (0, 0, 0, 0.0)


# ---- zero activations --------------------------------------------------------------------------

@settings(derandomize=True, max_examples=100, deadline=None)
@given(width=st.sampled_from([2, 8, 64, 256]), lo=st.floats(0, 1), hi=st.floats(0, 1))
def test_window_cycles_grow_with_density_between_0_and_2(width, lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)
    a, b = window_cycles(width, lo), window_cycles(width, hi)
    assert 0.0 <= a <= b + 1e-12 <= 2.0 + 1e-12


def test_gate_saves_energy_and_no_cycles():
    row = _row(64, 6912, 2560, act_zero=0.8)
    none, gate = EDGE, styled(zero_act="gate")
    a = map_op(none, placement_for(none, 0.0, 0), row)
    b = map_op(gate, placement_for(gate, 0.0, 0), row)
    assert b.compute_cycles == a.compute_cycles
    assert b.tlu_active_inputs == pytest.approx(0.2 * a.tlu_active_inputs)
    assert b.zero_checks > 0
    assert op_energy(gate, b, "bitnet")["tlu"] < op_energy(none, a, "bitnet")["tlu"]


def test_skip_follows_the_sparsity_when_the_ports_keep_up():
    wide = dataclasses.replace(EDGE, sram=dataclasses.replace(
        EDGE.sram, act=dataclasses.replace(EDGE.sram.act, port_bits=1024),
        weight=dataclasses.replace(EDGE.sram.weight, port_bits=2048)))
    skip = styled(wide, zero_act="skip")
    for style_chip in (skip, styled(skip, style="mac", zero_act="skip")):
        p = placement_for(style_chip, 0.0, 0)
        sparse = map_op(style_chip, p, _row(64, 6912, 2560, act_zero=0.8))
        dense = map_op(style_chip, p, _row(64, 6912, 2560, act_zero=0.0))
        plain = map_op(wide, p, _row(64, 6912, 2560, act_zero=0.8))
        assert sparse.unit_cycles < 0.6 * plain.unit_cycles  # windows of 128 with ~26 non-zeros: one cycle each
        assert dense.unit_cycles >= plain.unit_cycles  # dense inputs: two cycles per window of 2 x width
        assert sparse.compact_inputs > 0 and sparse.weight_selects > 0 and sparse.gather_levels == 7


def test_skip_and_gate_cost_area():
    t = tech(7)
    none = tlu_area_um2(EDGE.tlu, t)
    gate = tlu_area_um2(styled(zero_act="gate").tlu, t)
    skip = tlu_area_um2(styled(zero_act="skip").tlu, t)
    assert none < gate < skip
    assert set(shared_area_parts_um2(styled(zero_act="skip").tlu, t)) == {"zero_detect", "compaction"}
    assert "weight_select" in row_area_parts_um2(styled(zero_act="skip").tlu, t)


# ---- energy and area ---------------------------------------------------------------------------

def test_area_parts_by_style():
    t = tech(7)
    lut = styled(style="lut", lut_group=3).tlu
    assert set(row_area_parts_um2(lut, t)) == {"read", "negate", "adders", "registers"}
    assert set(shared_area_parts_um2(lut, t)) == {"table_builders", "tables"}
    assert row_area_parts_um2(styled(style="lut", lut_group=2).tlu, t)["negate"] == 0.0  # g = 2 is not mirrored
    mac = styled(style="mac").tlu
    assert set(row_area_parts_um2(mac, t)) == {"multipliers", "adders", "registers"}
    # fewer table copies, less builder area; SRAM tables are not free either
    shared = styled(style="lut", lut_share_rows=8).tlu
    assert shared_area_parts_um2(shared, t)["table_builders"] == 8 * shared_area_parts_um2(
        styled(style="lut").tlu, t)["table_builders"]
    # the multipliers dominate a MAC row
    parts = row_area_parts_um2(mac, t)
    assert parts["multipliers"] > parts["adders"]
    a16 = area_breakdown(styled(style="mac", mac_bits=16), "bitnet")["tlu"]
    assert a16 > 2.5 * area_breakdown(styled(style="mac"), "bitnet")["tlu"]


def test_mac_style_runs_attention_and_the_lm_head_on_its_multipliers():
    t = trace("bitnet-b1.58-2b-4t", Scenario(1, 64, 4))
    tree = simulate(EDGE, t)
    mac = simulate(styled(style="mac"), t)
    attn = mac.ops[mac.ops.kind.isin(["attn_qk", "attn_pv", "linear"])]
    assert (attn.unit == "tlu").all() and attn.mapping.str.contains("on the TLU's multipliers").all()
    # charged to the work done (attention, the LM head's linear), as on the GPU, whichever unit ran it
    assert (attn.energy_attention_j[attn.kind != "linear"] > 0).all() and (attn.energy_linear_j[attn.kind == "linear"] > 0).all()
    assert mac.totals["time_to_first_token_s"] < tree.totals["time_to_first_token_s"]
    lut = simulate(styled(style="lut"), t)
    assert (lut.ops[lut.ops.kind == "attn_qk"].unit == "attention").all()


@pytest.mark.parametrize("style", ["lut", "mac"])
def test_every_style_simulates_2b4t(style):
    t = trace("bitnet-b1.58-2b-4t", Scenario(1, 64, 4))
    r = simulate(styled(style=style, zero_act="gate"), t)
    tree = simulate(EDGE, t)
    assert r.totals["tokens_per_s"] > 0 and r.area_mm2["tlu"] > 0
    assert r.ops[r.ops.kind == "ternary_linear"].mapping.str.contains(style).all()
    # decode streams every weight from DRAM in every style: same bytes
    assert r.ops.dram_bytes.sum() == tree.ops.dram_bytes.sum()
