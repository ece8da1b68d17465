"""Trace limits: scenario bounds, and exact counts up to COUNT_LIMIT against a Python-int reference.

Counts past 2^63 once wrapped around silently (issue 12 item 1); now every count column's total
is checked in Python integers before the int64 table is built, and the scenario is bounded.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritium.base.errors import SpecError, TraceError
from tritium.workloads import Scenario, summarize, trace, zoo_model, zoo_names
from tritium.workloads.schema import COUNT_LIMIT, MAX_TRACE_ROWS, new_trace_frame
from tritium.workloads.scenario import MAX_BATCH, MAX_DECODE, MAX_PREFILL
from tritium.workloads.trace import DTYPE_BYTES

LIMITS = settings(derandomize=True, database=None, max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])


def reference_totals(spec, b: int, s: int, d: int) -> dict[str, int]:
    """Request totals of four count columns from closed forms, in Python integers.

    Independent of the generator's per-row arithmetic: sums over steps are closed forms
    (the KV length grows by one per decode step, from s + 1)."""
    h, layers, vocab = spec.hidden_size, spec.num_layers, spec.vocab_size
    tokens = b * (s + d)  # token-steps over the request
    passes = 1 + d  # weight reads: the prefill pass, then one per decode step
    kv_elem = DTYPE_BYTES[spec.kv_dtype]
    hp = DTYPE_BYTES[spec.linear_dtype]
    decode_keys = d * (s + 1) + d * (d - 1) // 2  # keys seen over the decode steps
    pairs = s * (s + 1) // 2 + decode_keys  # (query, key) pairs per sequence and head
    proj_macs = sum(k * n for k, n in map(spec.projection_shape, ("q_proj", "k_proj", "v_proj", "o_proj",
                                                                  "gate_proj", "up_proj", "down_proj")))
    macs = layers * (tokens * proj_macs + 2 * b * spec.num_heads * spec.head_dim * pairs) + b * h * vocab * passes
    proj_bytes = 0
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        k, n = spec.projection_shape(proj)
        proj_bytes += k * n * 2 // 8 if proj in spec.ternary_linears else k * n * hp
    norms = 2 * h + ((spec.q_dim + spec.intermediate_size) if spec.sub_norms else 0)
    head = h * vocab * DTYPE_BYTES[spec.lm_head_dtype]
    weight_bytes = (b * h * DTYPE_BYTES[spec.embedding_dtype] * (s + d)
                    + passes * (layers * (proj_bytes + norms * hp) + h * hp + head))
    return {
        "macs": macs,
        "weight_bytes": weight_bytes,
        "kv_write_bytes": layers * tokens * 2 * spec.kv_dim * kv_elem,
        "kv_read_bytes": layers * 2 * b * spec.kv_dim * kv_elem * (s + decode_keys),
    }


def exact_total(t, col: str) -> int:
    return sum(t[col].tolist())


@pytest.mark.parametrize("name", ["bitnet-b1.58-2b-4t", "llama-3-70b", "bitnet-b1.58-3b", "falcon3-1b-1.58bit"])
def test_reference_matches_small_traces(name):
    spec = zoo_model(name)
    t = trace(spec, Scenario(3, 17, 9)).table
    for col, value in reference_totals(spec, 3, 17, 9).items():
        assert exact_total(t, col) == value, col


@given(name=st.sampled_from(zoo_names()),
       batch=st.one_of(st.integers(1, 64), st.integers(1, MAX_BATCH), st.just(MAX_BATCH)),
       prefill=st.one_of(st.integers(1, 8192), st.integers(1, MAX_PREFILL), st.just(MAX_PREFILL)),
       decode=st.one_of(st.integers(1, 8192), st.integers(1, MAX_DECODE), st.just(MAX_DECODE)))
@LIMITS
def test_counts_are_exact_or_refused(name, batch, prefill, decode):
    """Up to the largest allowed inputs: a trace's totals equal the reference, or the trace is
    refused with an error naming a column whose exact total passes COUNT_LIMIT."""
    spec = zoo_model(name)
    ref = reference_totals(spec, batch, prefill, decode)
    try:
        t = trace(spec, Scenario(batch, prefill, decode)).table
    except TraceError as err:
        assert "more than the" in str(err) and "(2^60)" in str(err) and "\n" not in str(err)
        col = str(err).split(": ", 1)[1].split(" ", 1)[0]
        assert col in ref or col in ("elements", "act_in_bytes", "act_out_bytes")
        if col in ref:
            assert ref[col] > COUNT_LIMIT
        return
    assert all(v <= COUNT_LIMIT for v in ref.values())
    for col, value in ref.items():
        assert exact_total(t, col) == value, col
    s = summarize(t)
    assert s.gmacs_total == pytest.approx(ref["macs"] / 1e9, rel=1e-12)
    assert all(v > 0 for v in s.gmacs_by_kind.values())


def largest_decode(name: str, batch: int, prefill: int) -> int:
    """The largest decode a trace accepts (bisection on the refusal)."""
    lo, hi = 1, MAX_DECODE
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            trace(name, Scenario(batch, prefill, mid))
            lo = mid
        except TraceError:
            hi = mid - 1
    return lo


def test_exact_at_the_edge_of_the_limit():
    """Just under COUNT_LIMIT the int64 columns still sum exactly (float64 would not)."""
    spec = zoo_model("llama-3-70b")
    d = largest_decode("llama-3-70b", 64, 4096)
    assert d < MAX_DECODE
    t = trace(spec, Scenario(64, 4096, d)).table
    ref = reference_totals(spec, 64, 4096, d)
    assert ref["macs"] > 2**59 and exact_total(t, "macs") == ref["macs"]
    assert int(t.macs.sum()) == ref["macs"]  # the int64 sum a simulator takes does not wrap
    edge = r"macs over the request total [0-9,]+, more than the 1,152,921,504,606,846,976 \(2\^60\)"
    with pytest.raises(TraceError, match=edge):
        trace(spec, Scenario(64, 4096, d + 1))


def test_issue_scenarios_refused_with_the_column_and_scenario():
    with pytest.raises(TraceError, match=r"llama-3-70b \(batch 4096, prefill 4096, decode 131072\): macs"):
        trace("llama-3-70b", Scenario(4096, 4096, 131072))


@pytest.mark.parametrize("key, bound", [("batch", MAX_BATCH), ("prefill", MAX_PREFILL), ("decode", MAX_DECODE)])
def test_scenario_bounds_name_the_bound(key, bound):
    Scenario(**{key: bound})
    for bad in (bound + 1, 99999999999999999999999, 0, -1, True, 2.0, "8"):
        with pytest.raises(SpecError, match=rf"^{key} = .*must be an integer from 1 to {bound} \(2\^"):
            Scenario(**{key: bad})


def test_expand_decode_is_bounded_by_rows():
    t = trace("trilm-99m", Scenario(1, 4, 3), expand_decode=True).table
    assert t.block.nunique() == 4
    with pytest.raises(TraceError, match=f"pass the {MAX_TRACE_ROWS} rows.*without expand_decode"):
        trace("llama-3-70b", Scenario(1, 4, 100_000), expand_decode=True)


def test_min_rows_per_layer_holds_for_every_zoo_model():
    from tritium.workloads.trace import _MIN_ROWS_PER_LAYER

    for name in zoo_names():
        t = trace(name, Scenario(1, 2, 1)).table
        per_layer = t[(t.block == 0) & (t.layer == 0)]
        assert len(per_layer) >= _MIN_ROWS_PER_LAYER, name


def test_new_trace_frame_checks_python_ints_before_converting():
    row = {"block": 0, "phase": "prefill", "steps": 1, "layer": 0, "op": "x", "kind": "attn_qk", "m": 1, "k": 1,
           "n": 1, "macs": 2**62}
    with pytest.raises(TraceError, match="macs over the request total"):
        new_trace_frame([row], where="here")
    with pytest.raises(TraceError, match="^here: column 'm' would hold .* beyond int64"):
        new_trace_frame([row | {"macs": 1, "m": 2**64}], where="here")
    with pytest.raises(TraceError, match="macs over the request total"):
        new_trace_frame([row | {"macs": 2**59}] * 3)


def test_loaded_trace_with_wrapping_totals_is_refused(tmp_path):
    from tritium.workloads import validate_trace

    t = trace("trilm-99m", Scenario(1, 4, 2)).table.copy()
    t.loc[:, "macs"] = 2**58
    with pytest.raises(TraceError, match="macs over the request total"):
        validate_trace(t)
