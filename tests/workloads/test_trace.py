"""Trace generation: shapes, ordering, exact totals, signatures."""

import numpy as np
import pandas as pd
import pytest

from tritium.base.errors import SpecError, TritiumError
from tritium.workloads import (
    KINDS, TRACE_COLUMNS, Scenario, WeightModel, modelled_stats, summarize, trace, zoo_model,
)
from tritium.workloads.stats import ZERO_FRACTION, stats_from_row_counts

COUNT_COLUMNS = ["macs", "elements", "weight_bytes", "act_in_bytes", "act_out_bytes", "kv_read_bytes",
                 "kv_write_bytes"]


@pytest.fixture(scope="module")
def bitnet_trace():
    return trace("bitnet-b1.58-2b-4t", Scenario(batch=2, prefill=16, decode=5)).table


def test_schema_columns_and_kinds(bitnet_trace):
    assert list(bitnet_trace.columns) == list(TRACE_COLUMNS)
    assert set(bitnet_trace.kind) <= set(KINDS)
    assert {str(bitnet_trace[c].dtype) for c, t in TRACE_COLUMNS.items() if t == "int64"} == {"int64"}


def test_layer_op_order_bitnet(bitnet_trace):
    layer0 = bitnet_trace[(bitnet_trace.block == 0) & (bitnet_trace.layer == 0)].op.tolist()
    assert layer0 == [
        "attn_norm", "attn_quant", "q_proj", "q_proj_dequant", "k_proj", "k_proj_dequant", "v_proj",
        "v_proj_dequant", "rope", "kv_write", "attn_qk", "softmax", "attn_pv", "attn_sub_norm", "o_quant",
        "o_proj", "o_proj_dequant", "attn_residual", "ffn_norm", "ffn_quant", "gate_proj", "gate_proj_dequant",
        "up_proj", "up_proj_dequant", "act", "ffn_sub_norm", "down_quant", "down_proj", "down_proj_dequant",
        "ffn_residual",
    ]
    first = bitnet_trace[bitnet_trace.block == 0]
    assert first.op.iloc[0] == "embed" and first.op.iloc[-2:].tolist() == ["final_norm", "lm_head"]


def test_llama_has_no_quantize_and_no_sub_norms():
    t = trace("llama-2-7b", Scenario(1, 8, 2)).table
    assert "quantize" not in set(t.kind) and "ternary_linear" not in set(t.kind)
    assert not t.op.isin(["attn_sub_norm", "ffn_sub_norm"]).any()
    assert (t[t.kind == "linear"].weight_dtype == "fp16").all()


def test_gqa_shapes_and_prefill_decode_rows(bitnet_trace):
    spec = zoo_model("bitnet-b1.58-2b-4t")
    t = bitnet_trace
    k = t[(t.op == "k_proj")]
    assert set(k.n) == {spec.num_kv_heads * spec.head_dim} and set(k.k) == {spec.hidden_size}
    assert set(t[(t.block == 0) & (t.kind == "ternary_linear")].m) == {2 * 16}
    assert set(t[(t.block == 1) & (t.kind == "ternary_linear")].m) == {2}
    qk = t[(t.op == "attn_qk") & (t.block == 1)]
    assert set(qk.groups) == {2 * spec.num_heads} and set(qk.kv_len) == {17} and set(qk.steps) == {5}


def test_ternary_macs_equal_tokens_times_ternary_params():
    for name in ("bitnet-b1.58-2b-4t", "falcon3-1b-1.58bit", "bitnet-b1.58-3b"):
        spec = zoo_model(name)
        sc = Scenario(batch=3, prefill=7, decode=4)
        t = trace(spec, sc).table
        tokens = sc.batch * (sc.prefill + sc.decode)
        assert t[t.kind == "ternary_linear"].macs.sum() == tokens * spec.ternary_params


def test_attention_macs_exact():
    spec = zoo_model("llama3-8b-1.58")
    b, s, d = 2, 10, 6
    t = trace(spec, Scenario(b, s, d)).table
    per_pair = b * spec.num_heads * spec.head_dim * spec.num_layers
    prefill_pairs = s * (s + 1) // 2
    decode_pairs = sum(s + 1 + i for i in range(d))
    qk = t[t.kind == "attn_qk"]
    assert qk[qk.block == 0].macs.sum() == per_pair * prefill_pairs
    assert qk[qk.block == 1].macs.sum() == per_pair * decode_pairs
    assert t[t.kind == "softmax"].elements.sum() == b * spec.num_heads * spec.num_layers * (prefill_pairs + decode_pairs)


def test_expanded_decode_has_same_totals_and_growing_kv():
    sc = Scenario(batch=2, prefill=9, decode=7)
    compact = trace("bitnet-b1.58-2b-4t", sc).table
    expanded = trace("bitnet-b1.58-2b-4t", sc, expand_decode=True).table
    assert expanded.block.nunique() == 1 + sc.decode and (expanded.steps == 1).all()
    for col in COUNT_COLUMNS:
        assert compact[col].sum() == expanded[col].sum(), col
    kv = expanded[expanded.op == "attn_qk"].groupby("block").kv_len.first().tolist()
    assert kv == [9] + list(range(10, 10 + sc.decode))


def test_kv_cache_size_at_end():
    spec = zoo_model("llama-2-70b")
    sc = Scenario(batch=8, prefill=100, decode=20)
    s = summarize(trace(spec, sc))
    assert s.kv_cache_bytes == sc.batch * spec.num_layers * 2 * spec.kv_dim * (sc.prefill + sc.decode) * 2


def test_signatures_identify_identical_ops(bitnet_trace):
    t = bitnet_trace
    # identical layers: every decoder layer's ops share signatures with layer 0
    by_layer = t[(t.block == 0) & (t.layer >= 0) & (t.layer < 30)].groupby("layer").signature.apply(tuple)
    assert by_layer.nunique() == 1
    # q_proj and o_proj are both 2560x2560 ternary: same cost, same signature
    l0 = t[(t.block == 0) & (t.layer == 0)].set_index("op")
    assert l0.loc["q_proj", "signature"] == l0.loc["o_proj", "signature"]
    assert l0.loc["q_proj", "signature"] != l0.loc["k_proj", "signature"]
    # prefill and decode differ
    assert set(t[t.block == 0].signature).isdisjoint(t[(t.block == 1) & (t.kind == "attn_qk")].signature)
    assert t.signature.str.fullmatch(r"[0-9a-f]{16}").all()


def test_measured_stats_attach_and_split_signatures():
    spec = zoo_model("trilm-99m")
    rng = np.random.default_rng(0)
    k, n = spec.projection_shape("down_proj")
    pos = rng.integers(0, k // 2, size=n)
    neg = rng.integers(0, k // 2, size=n)
    measured = stats_from_row_counts(pos, neg, k, 0.02, "checkpoint:test")
    t = trace(spec, Scenario(1, 4, 2), stats={(3, "down_proj"): measured}).table
    row = t[(t.block == 0) & (t.weight_name == "layers.3.down_proj")].iloc[0]
    assert row.zero_frac == measured.zero_frac and row.stats_source == "checkpoint:test"
    other = t[(t.block == 0) & (t.weight_name == "layers.2.down_proj")].iloc[0]
    assert other.signature != row.signature and other.stats_source.startswith("model:")


def test_measured_stats_with_wrong_shape_is_refused():
    wrong = modelled_stats(100, 100)
    with pytest.raises(TritiumError, match=r"layers.0.q_proj is 100x100 .* needs 512x512"):
        trace("trilm-99m", Scenario(1, 4, 2), stats={(0, "q_proj"): wrong})
    with pytest.raises(TritiumError, match="has layers 0..15"):
        trace("trilm-99m", Scenario(1, 4, 2), stats={(99, "q_proj"): wrong})


def test_weight_model_sets_zero_fraction():
    t = trace("trilm-99m", Scenario(1, 4, 2), weight_model=WeightModel(zero_fraction=0.42)).table
    assert set(t[t.kind == "ternary_linear"].zero_frac) == {0.42}
    t = trace("trilm-99m", Scenario(1, 4, 2), weight_model=WeightModel("laplace")).table
    assert set(t[t.kind == "ternary_linear"].zero_frac) == {ZERO_FRACTION["laplace"]}


@pytest.mark.parametrize("kw", [dict(batch=0), dict(prefill=-1), dict(decode=0), dict(batch=1.5)])
def test_impossible_scenarios(kw):
    with pytest.raises(SpecError):
        Scenario(**kw)


def test_context_exceeded_is_reported_not_refused():
    t = trace("llama-2-70b", Scenario(1, 4000, 200))
    assert t.context_exceeded is True and t.to_table().attrs["context_exceeded"] is True


def test_modelled_statistics_match_theory_and_sampling():
    assert ZERO_FRACTION["gaussian"] == pytest.approx(0.3101, abs=1e-4)
    st = modelled_stats(2560, 6912)
    assert sum(st.nnz_hist) == 2560 and st.nnz_mean == pytest.approx(6912 * (1 - 0.3101), rel=1e-4)
    # absmean ternarization of real Gaussian samples lands in the same histogram range
    rng = np.random.default_rng(1)
    w = rng.standard_normal((256, 6912)).astype(np.float32)
    nnz = (np.abs(w) >= 0.5 * np.abs(w).mean()).sum(axis=1)
    assert (1 - nnz.mean() / 6912) == pytest.approx(st.zero_frac, abs=0.003)
    assert np.mean((nnz >= st.nnz_lo) & (nnz <= st.nnz_hi)) > 0.99
    edges = st.bin_edges()
    sampled, _ = np.histogram(nnz, bins=edges)
    expected = np.array(st.nnz_hist) / 2560 * 256
    assert np.abs(sampled - expected).sum() / 256 < 0.25  # total-variation distance
