"""The trace record: metadata read once from attrs, the caller's table out of reach, facts worked out once."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from tritium.base.errors import TraceError
from tritium.sim import load_chip, simulate
from tritium.workloads import Scenario, Trace, trace, trace_from_scalesim

CHIP = load_chip("edge-lpddr5")


def _fresh() -> Trace:
    return trace("trilm-99m", Scenario(batch=2, prefill=16, decode=4))


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a.ops, b.ops, check_exact=True)
    assert a.totals.keys() == b.totals.keys()
    for key in a.totals.keys():
        x, y = a.totals[key], b.totals[key]
        assert type(x) is type(y) and (x == y or (math.isnan(x) and math.isnan(y))), key
    assert (a.area_mm2, a.notes, a.chip, a.model, a.scenario) == (b.area_mm2, b.notes, b.chip, b.model, b.scenario)


def test_trace_returns_a_record_with_typed_fields():
    t = _fresh()
    assert isinstance(t, Trace) and t.table.attrs == {}
    assert (t.model, t.scenario, t.batch, t.prefill, t.decode) == ("trilm-99m", Scenario(2, 16, 4), 2, 16, 4)
    assert t.spec is not None and t.spec.name == "trilm-99m" and t.max_position == t.spec.max_position
    assert t.context_exceeded is False and t.weight_stats and t.act_sparsity
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.model = "other"


def test_facts_are_worked_out_once_per_record():
    t = _fresh()
    facts = t.facts
    assert t.facts is facts and facts.frame is t.table
    first = simulate(CHIP, t)
    assert t.facts is facts
    _assert_same(simulate(CHIP, t), first)
    again = Trace.from_table(t.to_table())  # an equal table, another record: the same figures
    assert again.facts is not facts
    _assert_same(simulate(CHIP, again), first)


def test_to_table_and_from_table_round_trip():
    t = _fresh()
    table = t.to_table()
    assert table.attrs["model"] == "trilm-99m" and table.attrs["decode"] == 4 and table.attrs["schema"] == 1
    back = Trace.from_table(table)
    pd.testing.assert_frame_equal(back.table, t.table, check_exact=True)
    fields = [f.name for f in dataclasses.fields(Trace) if f.name not in ("table", "spec")]
    assert [getattr(back, f) for f in fields] == [getattr(t, f) for f in fields]
    assert back.spec is None  # a table names its model, not its spec


def test_from_table_keeps_its_own_copy():
    table = _fresh().to_table()
    record = Trace.from_table(table)
    before = simulate(CHIP, record)
    table.loc[table.index[table.kind == "ternary_linear"][0], "m"] += 3
    table["k"] = table.k * 2
    table.attrs["decode"] = 5
    assert record.decode == 4 and record.table.attrs == {}
    _assert_same(simulate(CHIP, record), before)
    _assert_same(simulate(CHIP, record), simulate(CHIP, Trace.from_table(_fresh().to_table())))


def test_a_changed_table_gives_a_new_record_and_new_figures():
    table = _fresh().to_table()
    table.loc[table.index[table.op == "o_proj"], "op"] = "o_proj_x"  # no longer row-parallel on a multichip system
    multichip = load_chip("multichip-hbm3")
    changed = simulate(multichip, table)  # a table passed to simulate is read once
    assert changed.totals != simulate(multichip, _fresh()).totals


def test_a_table_with_other_dtypes_gives_the_canonical_result_and_is_not_mutated():
    t = _fresh()
    loose = t.to_table().astype({"m": "int32", "kind": object, "causal": object})
    _assert_same(simulate(CHIP, loose), simulate(CHIP, t))
    assert loose.m.dtype == np.int32 and loose.kind.dtype == object


def test_malformed_tables_and_metadata_are_refused():
    table = _fresh().to_table()
    table.loc[table.index[0], "steps"] = 0
    with pytest.raises(TraceError, match="'steps' must be >= 1"):
        simulate(CHIP, table)
    good = _fresh()
    with pytest.raises(TraceError, match="carries attrs"):
        Trace(good.to_table())
    with pytest.raises(TraceError, match="not canonical"):
        Trace(good.table.astype({"m": "int32"}))
    bad = good.to_table()
    bad.attrs["batch"] = 0
    with pytest.raises(TraceError, match="metadata.*batch"):
        Trace.from_table(bad)
    bad.attrs["batch"] = "two"
    with pytest.raises(TraceError, match="must be integers"):
        Trace.from_table(bad)


def test_a_table_without_metadata_is_one_pass():
    bare = _fresh().table.copy()
    record = Trace.from_table(bare)
    assert (record.model, record.scenario, record.batch, record.decode) == ("", None, 1, 0)
    assert record.scenario_dict() == {"batch": 1, "prefill": 0, "decode": 0}


def test_scalesim_topology_is_a_pass_without_scenario(tmp_path):
    path = tmp_path / "gemm.csv"
    path.write_text("Layer, M, N, K,\nfc1, 8, 64, 32,\n")
    record = trace_from_scalesim(path)
    assert record.scenario is None and record.model == "scalesim:gemm"
    assert Trace.from_table(record.to_table()).scenario is None


def test_derived_records_do_not_share_facts():
    t = _fresh()
    facts = t.facts
    smaller = dataclasses.replace(t, table=t.table[t.table.block == 0].reset_index(drop=True),
                                  scenario=Scenario(2, 16, 1))
    assert smaller.facts is not facts and smaller.facts.decode_blocks == ()
