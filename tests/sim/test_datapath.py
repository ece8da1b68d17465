"""sim/datapath.py: the lut and mac schedules (the RTL contract of tlu.style "lut" and "mac")."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from tritium.base.errors import SpecError
from tritium.sim.chip_parts import TluSpec
from tritium.sim.datapath import (lut_entry_bits, lut_pipeline_depth, lut_schedule, lut_table_entries,
                                  mac_pipeline_depth, mac_schedule, style_schedule)
from tritium.sim.tlu_schedule import TluSchedule, tlu_schedule


@pytest.mark.parametrize("m,k,n,block,wport,aport", [
    (1, 1, 1, 1, None, None), (5, 70, 9, 2, None, None), (7, 33, 20, 3, 64, None), (4, 100, 3, 4, 32, 64),
])
def test_loop_nest_is_the_adder_trees(m, k, n, block, wport, aport):
    """Reads, writes and port stalls are the adder tree's; only the pipeline depth differs."""
    tlu = TluSpec(rows=8, width=16, acc_per_tree=4)
    ref = tlu_schedule(tlu, m, k, n, token_block=block, weight_port_bits=wport, act_port_bits=aport)
    kw = dict(acc_per_tree=4, token_block=block, weight_port_bits=wport, act_port_bits=aport)
    for s in (lut_schedule(8, 16, m, k, n, group=3, **kw), mac_schedule(8, 16, m, k, n, **kw)):
        for field in ("weight_word_reads", "act_slice_reads", "result_writes", "word_cycles", "slice_cycles",
                      "word_bits", "slice_bits"):
            assert getattr(s, field) == getattr(ref, field), field
        assert s.cycles - s.pipeline_depth == ref.cycles - tlu.pipeline_depth_cycles
    assert mac_pipeline_depth(16, 1) == tlu.pipeline_depth_cycles


def test_lut_counts():
    s = lut_schedule(6, 16, 3, 40, 13, group=3, share_rows=4)
    # 3 slices, 3 tiles, 3 tokens: 27 issued slices; 6 groups of 3 (last padded); 2 copies
    assert (s.act_slice_reads, s.groups, s.table_copies) == (27, 6, 2)
    assert (s.table_builds, s.table_reads) == (27 * 6 * 2, 27 * 6 * 6)
    assert (s.table_entries, s.mirrored, s.table_entry_bits) == (13, True, 10)
    assert [lut_table_entries(g) for g in (1, 2, 3, 4)] == [2, 8, 13, 40]
    assert [lut_entry_bits(8, g) for g in (1, 2, 3, 4)] == [9, 10, 10, 11]
    assert lut_pipeline_depth(16, 1, 1) == 1 + 1 + 4 + 1


def test_mac_counts():
    s = mac_schedule(4, 8, 2, 9, 5, mac_bits=12, cores=2)
    assert (s.act_slice_reads, s.multiplies, s.mac_bits) == (8, 8 * 4 * 8, 12)
    assert s.cycles == 1 * 2 * 2 + s.pipeline_depth  # 2 tiles on 2 cores


@pytest.mark.parametrize("call,key", [
    (lambda: lut_schedule(4, 16, 1, 1, 1, group=5), "tlu.lut_group"),
    (lambda: lut_schedule(4, 2, 1, 1, 1, group=3), "tlu.lut_group"),
    (lambda: lut_schedule(4, 16, 1, 1, 1, group=2, table_bits=9), "tlu.lut_table_bits"),
    (lambda: lut_schedule(4, 16, 1, 1, 1, group=2, share_rows=5), "tlu.lut_share_rows"),
    (lambda: lut_schedule(4, 16, 1, 1, 1, group=2, tables="dram"), "tlu.lut_tables"),
    (lambda: mac_schedule(4, 16, 1, 1, 1, act_bits=8, mac_bits=4), "tlu.mac_bits"),
    (lambda: mac_schedule(4, 16, 0, 1, 1), "M"),
    (lambda: mac_schedule(4, 16, 1, 1, 1, token_block=2), "token_block"),
])
def test_bad_values_name_the_key(call, key):
    with pytest.raises(SpecError) as err:
        call()
    assert err.value.key == key


def test_style_schedule_defaults_to_the_tree():
    tlu = TluSpec(rows=4, width=16)
    assert style_schedule(tlu, 3, 20, 5) == tlu_schedule(tlu, 3, 20, 5)
    for m, k, n in itertools.product((1, 3), (5, 40), (2, 9)):
        assert style_schedule(tlu, m, k, n).cycles == tlu_schedule(tlu, m, k, n).cycles


def test_every_style_returns_the_one_schedule_record():
    """The lut and mac schedules are TluSchedules with their own counts added (no field declared twice)."""
    tlu = TluSpec(rows=8, width=16, acc_per_tree=4)
    tree = tlu_schedule(tlu, 5, 70, 9, token_block=2)
    assert type(tree) is TluSchedule and tree.pipeline_depth == tlu.pipeline_depth_cycles
    base = {f.name for f in dataclasses.fields(TluSchedule)}
    for s in (lut_schedule(8, 16, 5, 70, 9, group=3, acc_per_tree=4), mac_schedule(8, 16, 5, 70, 9, acc_per_tree=4)):
        assert isinstance(s, TluSchedule)
        own = [f.name for f in dataclasses.fields(s) if f.name not in base]
        assert own and len(own) == len(set(own))
