"""Hostile config.json files: one clear TritiumError each (one `error:` line, exit 2, from the CLI)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import pytest

from tritium.base.errors import SpecError, TritiumError
from tritium.workloads import load_model, spec_from_hf_config, zoo_model
from tritium.workloads.model_config import MAX_CONFIG_BYTES
from tritium.workloads.models import MODEL_LIMITS

BASE = {
    "model_type": "llama", "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
    "num_attention_heads": 8, "num_key_value_heads": 2, "vocab_size": 1000, "torch_dtype": "float16",
}


def refused(tmp_path, content: str | bytes, *words: str) -> str:
    path = tmp_path / "config.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    start = time.perf_counter()
    with pytest.raises(TritiumError) as info:
        spec_from_hf_config(path)
    assert time.perf_counter() - start < 2.0
    text = str(info.value)
    assert "\n" not in text and len(text) < 400, text
    for w in words:
        assert w in text, text
    return text


@pytest.mark.parametrize("key, value, words", [
    ("quantization_config", [1], ["quantization_config = [1]", "JSON object"]),
    ("hidden_act", ["silu"], ["hidden_act = ['silu']", "a string, one of 'relu2', 'silu', 'swish'"]),
    ("hidden_act", "gelu", ["hidden_act = 'gelu'", "must be one of"]),
    ("num_hidden_layers", 10_000_000, ["num_hidden_layers = 10000000", "from 1 to 1024", "126 to 160 layers"]),
    ("num_hidden_layers", 2.0, ["num_hidden_layers = 2.0", "an integer"]),
    ("num_hidden_layers", True, ["num_hidden_layers = True", "an integer"]),
    ("hidden_size", "256", ["hidden_size = '256'", "from 1 to 131072"]),
    ("vocab_size", 0, ["vocab_size = 0", "from 1 to 4194304"]),
    ("max_position_embeddings", -5, ["max_position_embeddings = -5", "10 million tokens"]),
    ("num_key_value_heads", 5000, ["num_key_value_heads = 5000", "from 1 to 4096"]),
    ("head_dim", {"a": 1}, ["head_dim = {'a': 1}", "an integer"]),
    ("rope_theta", 0, ["rope_theta = 0", "> 0"]),
    ("rope_theta", 1e300, ["rope_theta = 1e+300", "<= 1e+12"]),
    ("rms_norm_eps", "small", ["rms_norm_eps = 'small'", "a number"]),
    ("rope_parameters", 3, ["rope_parameters = 3", "JSON object"]),
    ("tie_word_embeddings", "yes", ["tie_word_embeddings = 'yes'", "true or false"]),
    ("torch_dtype", 16, ["torch_dtype = 16", "a string"]),
    ("model_type", ["llama"], ["model_type = ['llama']", "a string"]),
    ("_name_or_path", 7, ["_name_or_path = 7", "a string"]),
    ("weight_bits", "1", ["weight_bits = '1'", "a number"]),
])
def test_wrong_types_and_ranges_name_key_value_and_range(tmp_path, key, value, words):
    refused(tmp_path, json.dumps(BASE | {key: value}), "config", *words)


@pytest.mark.parametrize("quant, words", [
    ({"quant_method": "bitnet", "modules_to_not_convert": 5}, ["modules_to_not_convert = 5", "list of module names"]),
    ({"quant_method": "bitnet", "modules_to_not_convert": [1]}, ["modules_to_not_convert = [1]", "strings"]),
    ({"quant_method": "bitnet", "linear_class": "fancy"}, ["linear_class = 'fancy'", "'autobitlinear' or"]),
    ({"quant_method": ["bitnet"]}, ["quantization_config.quant_method = ['bitnet']", "a string"]),
])
def test_quantization_config_fields(tmp_path, quant, words):
    refused(tmp_path, json.dumps(BASE | {"quantization_config": quant}), *words)


def test_rope_theta_inside_rope_parameters_is_checked(tmp_path):
    refused(tmp_path, json.dumps(BASE | {"rope_parameters": {"rope_theta": -1}}), "rope_parameters.rope_theta = -1")
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(BASE | {"rope_parameters": {"rope_theta": 5e5}}))
    assert spec_from_hf_config(path).rope_theta == 5e5


def test_deep_nesting(tmp_path):
    refused(tmp_path, '{"a": ' + "[" * 5000 + "]" * 5000 + "}", "nested too deeply")


def test_huge_integers(tmp_path):
    refused(tmp_path, '{"hidden_size": ' + "9" * 4301 + "}", "4300 digits")
    text = refused(tmp_path, json.dumps(BASE)[:-1] + ', "num_hidden_layers": ' + "9" * 4300 + "}",
                   "num_hidden_layers = <a 4300-digit integer>", "from 1 to 1024")
    assert "9999" not in text
    refused(tmp_path, json.dumps(BASE | {"rope_theta": 10**400}), "rope_theta = <a 401-digit integer>")


def test_non_utf8_and_non_json(tmp_path):
    text = refused(tmp_path, b'{"hidden_size": "\xff\xfe SECRET"}', "not UTF-8", "offset 17")
    assert "SECRET" not in text
    refused(tmp_path, b"\x00\x01binary", "not valid JSON")
    refused(tmp_path, "[1, 2]", "must be a JSON object, got an array")
    refused(tmp_path, "null", "got null")


def test_too_large_and_not_a_regular_file(tmp_path):
    refused(tmp_path, b" " * (MAX_CONFIG_BYTES + 1), f"larger than {MAX_CONFIG_BYTES} bytes")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(TritiumError, match="config .*dir.json: (not a regular file|cannot read)"):
        spec_from_hf_config(tmp_path / "dir.json")


def test_long_values_are_abbreviated(tmp_path):
    text = refused(tmp_path, json.dumps(BASE | {"hidden_act": "x" * 10_000}), "hidden_act = 'xxx")
    assert len(text) < 300
    refused(tmp_path, json.dumps(BASE | {"quantization_config": list(range(10_000))}), "quantization_config = [0, 1")


def test_total_weights_have_a_physical_bound(tmp_path):
    huge = BASE | {"hidden_size": 131072, "intermediate_size": 1 << 20, "num_hidden_layers": 1024,
                   "num_attention_heads": 1024, "num_key_value_heads": 1024}
    refused(tmp_path, json.dumps(huge), "params = ", "at most 1e+14 weights")


def test_a_real_config_still_loads(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(BASE | {"hidden_act": "swish", "rope_theta": 10000, "head_dim": None,
                                       "quantization_config": None, "tie_word_embeddings": True}))
    spec = spec_from_hf_config(path)
    assert (spec.activation, spec.head_dim, spec.tie_embeddings, spec.ternary_linears) == ("silu", 32, True, ())


def test_model_spec_ranges_apply_to_every_spec():
    spec = zoo_model("trilm-99m")
    for key, (lo, hi, why) in MODEL_LIMITS.items():
        with pytest.raises(SpecError, match=f"{key} = {hi + 1}: must be an integer from {lo} to {hi}"):
            dataclasses.replace(spec, **{key: hi + 1})
    with pytest.raises(SpecError, match="norm_eps = 2.0"):
        dataclasses.replace(spec, norm_eps=2.0)


@pytest.mark.parametrize("content, words", [
    (json.dumps(BASE | {"num_hidden_layers": 10_000_000}), ["num_hidden_layers = 10000000", "1024"]),
    (json.dumps(BASE | {"quantization_config": [1]}), ["quantization_config = [1]"]),
    ("[" * 5000, ["nested too deeply"]),
])
def test_cli_prints_one_error_line_and_exits_2(tmp_path, content, words):
    path = tmp_path / "config.json"
    path.write_text(content)
    result = subprocess.run([sys.executable, "-m", "tritium", "trace", str(path)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for w in words:
        assert w in lines[0]
    assert load_model("bitnet-b1.58-2b-4t").num_layers == 30
