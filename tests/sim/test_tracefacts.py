"""Trace-only work is reused only while the table is unchanged: a cached result equals a fresh one."""

import math

import numpy as np
import pandas as pd
import pytest

from tritium.base.errors import TraceError
from tritium.sim import load_chip, simulate
from tritium.sim.tracefacts import trace_facts
from tritium.workloads import Scenario, trace

CHIP = load_chip("edge-lpddr5")


def _fresh():
    return trace("trilm-99m", Scenario(batch=2, prefill=16, decode=4))


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a.ops, b.ops, check_exact=True)
    assert a.ops.attrs == b.ops.attrs
    assert a.totals.keys() == b.totals.keys()
    for key, x in a.totals.items():
        y = b.totals[key]
        assert type(x) is type(y) and (x == y or (math.isnan(x) and math.isnan(y))), key
    assert (a.area_mm2, a.notes, a.chip, a.model, a.scenario) == (b.area_mm2, b.notes, b.chip, b.model, b.scenario)


def test_an_unchanged_table_reuses_its_facts_and_gives_the_same_result():
    t = _fresh()
    first = simulate(CHIP, t)
    facts = trace_facts(t)
    assert trace_facts(t) is facts and facts.frame is t
    _assert_same(simulate(CHIP, t), first)
    _assert_same(simulate(CHIP, t.copy(deep=True)), first)  # an equal table, another object


def _bump_m(t):
    t.loc[t.index[t.kind == "ternary_linear"][0], "m"] += 3


def _rename_op(t):
    t.loc[t.index[t.op == "o_proj"], "op"] = "o_proj_x"  # no longer row-parallel on a multichip system


@pytest.mark.parametrize("change", [
    _bump_m,
    _rename_op,
    lambda t: t.attrs.update(decode=5),
    lambda t: t.__setitem__("k", t.k * 2),
    lambda t: t.__setitem__("nnz_hist", ""),
    lambda t: setattr(t, "index", t.index + 10),
], ids=["m in place", "op name", "attrs", "column replaced", "string column", "index"])
def test_a_table_changed_in_place_is_worked_out_afresh(change):
    multichip = load_chip("multichip-hbm3")
    t = _fresh()
    before = trace_facts(t)
    simulate(CHIP, t)
    simulate(multichip, t)
    change(t)
    assert trace_facts(t) is not before
    fresh = t.copy(deep=True)
    for chip in (CHIP, multichip):
        _assert_same(simulate(chip, t), simulate(chip, fresh))


def test_values_are_compared_bit_for_bit():
    t = _fresh()
    row = t.index[t.kind == "ternary_linear"][0]
    t.loc[row, "zero_frac"] = 0.0
    before = trace_facts(t)
    t.loc[row, "zero_frac"] = -0.0  # == 0.0, but not the same value
    assert trace_facts(t) is not before


def test_a_table_made_bad_after_a_good_run_raises_every_time():
    t = _fresh()
    simulate(CHIP, t)
    t.loc[t.index[0], "steps"] = 0
    for _ in range(2):
        with pytest.raises(TraceError, match="'steps' must be >= 1"):
            simulate(CHIP, t)


def test_a_table_with_other_dtypes_gives_the_canonical_result_and_is_not_mutated():
    t = _fresh()
    loose = t.astype({"m": "int32", "kind": object, "causal": object})
    canonical = simulate(CHIP, t)
    for _ in range(2):  # the second run reuses the converted copy
        _assert_same(simulate(CHIP, loose), canonical)
    assert loose.m.dtype == np.int32 and loose.kind.dtype == object
    loose.loc[loose.index[loose.kind == "ternary_linear"][0], "m"] += 3
    t.loc[t.index[t.kind == "ternary_linear"][0], "m"] += 3
    _assert_same(simulate(CHIP, loose), simulate(CHIP, t))


def test_the_cache_keeps_a_few_tables_only():
    from tritium.sim import tracefacts

    tables = [trace("trilm-99m", Scenario(batch=1, prefill=4 + i, decode=2)) for i in range(tracefacts._CACHE_TRACES + 2)]
    for t in tables:
        trace_facts(t)
    assert len(tracefacts._cache) == tracefacts._CACHE_TRACES
    assert all(entry[0] is t for entry, t in zip(tracefacts._cache.values(), tables[2:]))
