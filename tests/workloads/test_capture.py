"""Cross-check: transformers' real forward passes have exactly the trace's shapes.

Needs the ``capture`` extra (torch, transformers); skipped cleanly without it.
"""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from tritium.workloads import Scenario, load_model, trace  # noqa: E402
from tritium.workloads.capture import capture_shapes  # noqa: E402

pytestmark = pytest.mark.capture


def _expected(spec, scenario):
    t = trace(spec, scenario, expand_decode=True).table
    gemm = t[t.kind.isin(["ternary_linear", "linear"])]
    linears = list(zip(gemm.block, gemm.layer, gemm.op, gemm.m, gemm.k, gemm.n))
    norms = t[t.kind == "rmsnorm"]
    norms = list(zip(norms.block, norms.layer, norms.op, norms.m, norms.n))
    attn = t[t.kind == "attn_qk"]
    attn = list(zip(attn.block, attn.layer, attn.m, attn.kv_len))
    return linears, norms, attn


def _captured(spec, scenario, device):
    c = capture_shapes(spec, scenario, device=device)
    lin = c[c.kind == "linear"]
    norms = c[c.kind == "rmsnorm"]
    attn = c[c.kind == "attention"]
    return (list(zip(lin.block, lin.layer, lin.op, lin.m, lin.k, lin.n)),
            list(zip(norms.block, norms.layer, norms.op, norms.m, norms.n)),
            list(zip(attn.block, attn.layer, attn.m, attn.kv_len)))


def _tiny_bitnet(tmp_path):
    # A BitNet b1.58 2B4T-shaped config, scaled down (GQA 8/2, sub-norms, ReLU^2 GLU)
    cfg = {"model_type": "bitnet", "hidden_size": 128, "intermediate_size": 320, "num_hidden_layers": 2,
           "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 256,
           "hidden_act": "relu2", "rope_theta": 500000.0, "tie_word_embeddings": True, "rms_norm_eps": 1e-5}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return load_model(tmp_path)


def test_tiny_bitnet_shapes_match_hooks(tmp_path):
    spec = _tiny_bitnet(tmp_path)
    assert spec.sub_norms and spec.is_ternary
    scenario = Scenario(batch=2, prefill=12, decode=3)
    lin, norms, attn = _expected(spec, scenario)
    got_lin, got_norms, got_attn = _captured(spec, scenario, device="cpu")
    assert got_lin == lin
    assert got_norms == norms
    assert got_attn == attn


@pytest.mark.slow
def test_llama2_70b_on_meta_device_matches_trace():
    spec = load_model("llama-2-70b")
    scenario = Scenario(batch=2, prefill=64, decode=2)
    lin, norms, attn = _expected(spec, scenario)
    got_lin, got_norms, got_attn = _captured(spec, scenario, device="meta")
    assert len(got_lin) == 3 * (80 * 7 + 1)
    assert got_lin == lin
    assert got_norms == norms
    assert got_attn == attn
