"""Activation sparsity: the act_zero_frac trace column, its sourced defaults, overrides and measurement."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.base.errors import SpecError, TraceError
from tritium.workloads import load_trace, save_trace, trace, validate_trace
from tritium.workloads.models import PROJECTIONS
from tritium.workloads.zoo import load_model, zoo_model
from tritium.workloads.sparsity import ACT_ZERO_DEFAULTS, act_zero_fractions, check_act_sparsity
from tritium.workloads.trace import Scenario

SMALL = Scenario(1, 8, 2)


def _by_op(t):
    ternary = t[t.kind == "ternary_linear"]
    return ternary.groupby("op").act_zero_frac.agg(["min", "max"])


def test_relu2_default_makes_down_proj_inputs_sparse_and_the_rest_dense():
    record = trace("bitnet-b1.58-2b-4t", SMALL)
    t = record.table
    by_op = _by_op(t)
    assert by_op.loc["down_proj", "min"] == by_op.loc["down_proj", "max"] == ACT_ZERO_DEFAULTS["relu2"].down_proj
    assert (by_op.drop("down_proj")["max"] == 0.0).all()
    assert t[t.kind != "ternary_linear"].act_zero_frac.isna().all()
    assert "arXiv 2411.04965" in record.act_sparsity


def test_every_default_names_a_source():
    for name, default in ACT_ZERO_DEFAULTS.items():
        assert 0.0 <= default.down_proj < 1.0 and default.source.startswith("["), name
        assert "shared/" not in default.source


def test_silu_model_defaults_to_dense_inputs():
    spec = zoo_model("bitnet-b1.58-2b-4t")
    import dataclasses

    by_proj, by_layer, source = act_zero_fractions(dataclasses.replace(spec, activation="silu"))
    assert set(by_proj.values()) == {0.0} and by_layer == {} and "silu" in source


def test_overrides_by_projection_and_by_layer():
    record = trace("bitnet-b1.58-2b-4t", SMALL, act_sparsity={"down_proj": 0.5, (3, "up_proj"): 0.25})
    t = record.table
    down = t[t.op == "down_proj"].act_zero_frac
    assert (down == 0.5).all()
    up = t[t.op == "up_proj"]
    assert (up[up.layer == 3].act_zero_frac == 0.25).all() and (up[up.layer != 3].act_zero_frac == 0.0).all()
    assert "measured per layer" in record.act_sparsity and "down_proj 0.500" in record.act_sparsity


def test_sparsity_is_part_of_the_signature():
    t = trace("bitnet-b1.58-2b-4t", SMALL, act_sparsity={(0, "q_proj"): 0.1}).table
    q = t[(t.op == "q_proj") & (t.block == 0)]
    assert q[q.layer == 0].signature.iloc[0] != q[q.layer == 1].signature.iloc[0]


@pytest.mark.parametrize("given_, key", [
    ({"down_proj": 1.0}, "act_sparsity.down_proj"),
    ({"down_proj": -0.1}, "act_sparsity.down_proj"),
    ({"down_proj": math.nan}, "act_sparsity.down_proj"),
    ({"down_proj": True}, "act_sparsity.down_proj"),
    ({"down_proj": "0.5"}, "act_sparsity.down_proj"),
    ({(2, "gate_proj"): 1.5}, "act_sparsity.layers.2.gate_proj"),
    ({"ffn": 0.5}, "act_sparsity['ffn']"),
    ({(-1, "q_proj"): 0.5}, "act_sparsity[(-1, 'q_proj')]"),
])
def test_bad_sparsity_is_one_error_naming_the_key(given_, key):
    with pytest.raises(SpecError) as err:
        trace("bitnet-b1.58-2b-4t", SMALL, act_sparsity=given_)
    assert err.value.key == key
    assert "\n" not in str(err.value)


def test_not_a_mapping_is_refused():
    with pytest.raises(SpecError, match="^act_sparsity = "):
        check_act_sparsity([0.5])


@settings(max_examples=50, derandomize=True, deadline=None)
@given(st.dictionaries(st.sampled_from(PROJECTIONS), st.floats(0.0, 1.0, exclude_max=True), max_size=7))
def test_any_fraction_in_range_is_kept_exactly(fractions):
    by_proj, _, _ = act_zero_fractions(zoo_model("bitnet-b1.58-2b-4t"), fractions)
    for proj, value in fractions.items():
        assert by_proj[proj] == value


def test_round_trip_and_a_trace_from_before_the_column(tmp_path):
    t = trace("bitnet-b1.58-2b-4t", SMALL)
    path = save_trace(t, tmp_path / "t.parquet")
    back = load_trace(path)
    assert back.table.act_zero_frac.equals(t.table.act_zero_frac) and back.act_sparsity == t.act_sparsity
    old = tmp_path / "old.csv"
    save_trace(t, old)
    lines = old.read_text().splitlines()
    header = lines[1].split(",")
    drop = header.index("act_zero_frac")
    rows = [",".join(v for i, v in enumerate(line.split(",")) if i != drop) for line in lines[1:]]
    old.write_text("\n".join([lines[0], *rows]) + "\n")
    loaded = load_trace(old)
    assert list(loaded.table.columns) == list(t.table.columns) and loaded.table.act_zero_frac.isna().all()


def test_a_fraction_of_one_in_a_table_is_refused():
    t = trace("bitnet-b1.58-2b-4t", SMALL).table.copy()
    t.loc[t.op == "down_proj", "act_zero_frac"] = 1.0
    with pytest.raises(TraceError, match="act_zero_frac"):
        validate_trace(t)


@pytest.mark.capture
def test_measured_from_a_tiny_random_bitnet(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tritium.workloads.capture import measure_act_sparsity

    cfg = {"model_type": "bitnet", "hidden_size": 128, "intermediate_size": 320, "num_hidden_layers": 2,
           "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 256,
           "hidden_act": "relu2", "rope_theta": 500000.0, "tie_word_embeddings": True, "rms_norm_eps": 1e-5}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    spec = load_model(tmp_path)
    measured = measure_act_sparsity(spec, Scenario(1, 16, 2), seed=0)
    assert set(measured) == {(layer, p) for layer in range(2) for p in PROJECTIONS}
    assert all(0.0 <= v < 1.0 for v in measured.values())
    for layer in range(2):
        # ReLU^2 zeroes about half the gate outputs of random weights; RMSNorm outputs are dense
        assert measured[(layer, "down_proj")] > 0.3 > measured[(layer, "q_proj")]
    assert measure_act_sparsity(spec, Scenario(1, 16, 2), seed=0) == measured  # seeded: repeatable
    t = trace(spec, Scenario(1, 16, 2), act_sparsity=measured).table
    down = t[(t.op == "down_proj") & (t.layer == 1)].act_zero_frac
    assert (down == measured[(1, "down_proj")]).all()
