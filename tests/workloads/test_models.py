"""The model zoo and config.json loading."""

import json

import pytest

from tritium.base.errors import SpecError, TritiumError
from tritium.workloads import PROJECTIONS, load_model, spec_from_hf_config, zoo_model, zoo_names

# Parameter counts published for these models (HF model cards / meta-device build in
# docs/sources.md §6: Llama-2-70B 68.98B).
PUBLISHED_PARAMS = {
    "llama-2-7b": 6.74e9,
    "llama-2-13b": 13.02e9,
    "llama-2-70b": 68.98e9,
    "llama-3-8b": 8.03e9,
    "llama-3-70b": 70.55e9,
    "trilm-3.9b": 3.99e9,
}

EXPECTED_ZOO = {
    "bitnet-b1.58-2b-4t", "bitnet-b1.58-large", "bitnet-b1.58-3b", "llama3-8b-1.58",
    "falcon3-1b-1.58bit", "falcon3-3b-1.58bit", "falcon3-7b-1.58bit", "falcon3-10b-1.58bit",
    "trilm-99m", "trilm-3.9b", "llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b",
}


def test_zoo_has_every_reference_model_with_a_source():
    assert set(zoo_names()) == EXPECTED_ZOO
    for name in zoo_names():
        spec = zoo_model(name)
        assert spec.source and spec.hf_id
        assert spec.q_dim == spec.num_heads * spec.head_dim


@pytest.mark.parametrize("name,params", sorted(PUBLISHED_PARAMS.items()))
def test_parameter_counts_match_published(name, params):
    assert zoo_model(name).params == pytest.approx(params, rel=0.003)


def test_ternary_and_high_precision_layers():
    bitnet = zoo_model("bitnet-b1.58-2b-4t")
    assert bitnet.ternary_linears == PROJECTIONS and bitnet.act_dtype == "int8" and bitnet.sub_norms
    assert bitnet.lm_head_dtype == "bf16" and bitnet.embedding_dtype == "bf16"
    assert zoo_model("llama-2-70b").ternary_linears == ()
    trilm = zoo_model("trilm-99m")
    assert trilm.is_ternary and trilm.act_dtype == "fp16"


def test_lookup_by_hf_id_case_insensitive():
    assert zoo_model("Microsoft/BitNet-b1.58-2B-4T").name == "bitnet-b1.58-2b-4t"
    with pytest.raises(TritiumError, match="unknown model 'gpt-5'"):
        zoo_model("gpt-5")


def test_lookup_tolerates_spelling_and_suggests_close_names():
    assert zoo_model("bitnet-b1.58-2b4t").name == "bitnet-b1.58-2b-4t"
    assert zoo_model("Llama_3_70B").name == "llama-3-70b"
    assert zoo_model("Llama-2-70b-hf").name == "llama-2-70b"  # the repository part of the HF id
    with pytest.raises(TritiumError, match="did you mean llama-2-70b"):
        zoo_model("llama-2-70")
    with pytest.raises(TritiumError) as err:
        zoo_model("gpt-5")
    assert "did you mean" not in str(err.value)


def test_ternarized_makes_every_projection_ternary():
    t = zoo_model("llama-3-70b").ternarized()
    assert t.name == "llama-3-70b-ternary" and t.ternary_linears == PROJECTIONS and t.act_dtype == "int8"
    assert t.ternary_params == zoo_model("llama-3-70b").num_layers * zoo_model("llama-3-70b").layer_params - 80 * 2 * 8192


def _bitnet_config() -> dict:
    # config.json of microsoft/bitnet-b1.58-2B-4T as listed in docs/sources.md §6
    return {
        "architectures": ["BitNetForCausalLM"], "model_type": "bitnet", "hidden_size": 2560,
        "intermediate_size": 6912, "num_hidden_layers": 30, "num_attention_heads": 20,
        "num_key_value_heads": 5, "vocab_size": 128256, "max_position_embeddings": 4096,
        "hidden_act": "relu2", "rope_theta": 500000.0, "tie_word_embeddings": True, "rms_norm_eps": 1e-5,
        "torch_dtype": "bfloat16",
        "quantization_config": {"quant_method": "bitnet", "linear_class": "autobitlinear",
                                "quantization_mode": "offline"},
    }


def test_config_json_matches_zoo_entry(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(_bitnet_config()))
    spec = load_model(tmp_path)
    zoo = zoo_model("bitnet-b1.58-2b-4t")
    for field in ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads", "head_dim",
                  "vocab_size", "max_position", "activation", "rope_theta", "tie_embeddings", "sub_norms",
                  "ternary_linears", "act_dtype", "checkpoint_format"):
        assert getattr(spec, field) == getattr(zoo, field), field


def test_config_json_modules_to_not_convert_and_bitlinear(tmp_path):
    cfg = _bitnet_config() | {"model_type": "llama", "hidden_act": "silu"}
    cfg["quantization_config"] = {"quant_method": "bitnet", "modules_to_not_convert": ["lm_head", "down_proj"]}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    spec = spec_from_hf_config(path)
    assert "down_proj" not in spec.ternary_linears and spec.checkpoint_format == "packed_u8_bitlinear"


def test_plain_llama_config_is_high_precision(tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
           "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 1000, "torch_dtype": "float16"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    spec = spec_from_hf_config(path)
    assert spec.ternary_linears == () and spec.head_dim == 32 and spec.linear_dtype == "fp16"


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (json.dumps({"model_type": "llama", "hidden_size": 64}), "missing 'intermediate_size'"),
    (json.dumps({"model_type": "gpt2", "hidden_size": 64}), "model_type 'gpt2' is not supported"),
    (json.dumps({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4,
                 "num_key_value_heads": 3, "vocab_size": 10}), "num_kv_heads = 3: must divide num_heads = 4"),
    (json.dumps({"hidden_size": 64, "intermediate_size": -1, "num_hidden_layers": 1, "num_attention_heads": 4,
                 "vocab_size": 10}), "intermediate_size = -1"),
])
def test_bad_config_json_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(TritiumError, match=message):
        spec_from_hf_config(path)


def test_missing_config_file_and_folder(tmp_path):
    with pytest.raises(TritiumError, match="has no config.json"):
        load_model(tmp_path)
    with pytest.raises(TritiumError, match="no such file"):
        load_model(tmp_path / "config.json")


def test_spec_validation_names_the_field():
    spec = zoo_model("trilm-99m")
    with pytest.raises(SpecError, match="activation = 'gelu'"):
        type(spec)(**{f: getattr(spec, f) for f in spec.__dataclass_fields__} | {"activation": "gelu"})
