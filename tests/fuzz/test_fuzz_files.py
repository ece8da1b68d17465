"""Fuzzing the description files a user writes: chip TOML, GPU TOML, space TOML, config.json.

Each test starts from a valid file, breaks it (values swapped for huge, tiny, negative,
non-finite or wrongly typed ones; keys dropped, added or nested), writes it, and loads it
through the public loader. A load either returns a valid description or raises one
TritiumError whose message is one line; no other exception escapes.

Fast and derandomized by default; ``TRITIUM_FUZZ_EXAMPLES=5000`` runs that many random
examples per test (see README.md, Tests).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritium.base.errors import TritiumError

EXAMPLES = int(os.environ.get("TRITIUM_FUZZ_EXAMPLES", "0"))
FUZZ = settings(derandomize=EXAMPLES == 0, database=None, max_examples=EXAMPLES or 40, deadline=None,
                suppress_health_check=list(HealthCheck))

ODD_NUMBERS = st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, -(2**63), 10**12, 0.5, -0.0, 1e-300, 5e-324, 1e308,
                               float("nan"), float("inf"), float("-inf"), 3.5, 4096, 65536])
ODD_VALUES = st.one_of(
    ODD_NUMBERS,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=20),
    st.lists(st.integers(-5, 5), max_size=3),
    st.builds(lambda: {"x": 1}),
)


def _leaves(tree: dict, prefix: tuple = ()) -> list[tuple]:
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += _leaves(value, (*prefix, key))
        out.append((*prefix, key))
    return out


@st.composite
def broken(draw, base: dict) -> dict:
    """``base`` with one to four edits: a value replaced, a key dropped, an unknown key added."""
    tree = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_leaves(tree)))
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        if path[-1] not in parent:
            continue
        action = draw(st.sampled_from(["value", "value", "value", "drop", "add"]))
        if action == "value":
            parent[path[-1]] = draw(ODD_VALUES)
        elif action == "drop":
            del parent[path[-1]]
        else:
            parent[draw(st.sampled_from(["extra", "x_kib", "zz"]))] = draw(ODD_VALUES)
    return tree


def loads_or_refuses(load, path: Path):
    """``load(path)``, or None when it refuses with one TritiumError line."""
    try:
        return load(path)
    except TritiumError as err:
        text = str(err)
        assert text and "\n" not in text and len(text) < 2000, text
        return None


def write_toml(path: Path, tree: dict) -> Path:
    path.write_text(tomli_w.dumps(tree), encoding="utf-8")
    return path


# -- chip TOML (loaded only through the public tritium.sim.load_chip) --------------------------------

def _chip_base() -> dict:
    import tomllib

    from tritium.sim import chip_to_toml, load_chip

    return tomllib.loads(chip_to_toml(load_chip("edge-lpddr5")))


@given(data=st.data())
@FUZZ
def test_chip_toml(tmp_path_factory, data):
    from tritium.sim import Chip, load_chip

    tree = data.draw(broken(_chip_base()))
    chip = loads_or_refuses(load_chip, write_toml(tmp_path_factory.mktemp("chip") / "chip.toml", tree))
    assert chip is None or isinstance(chip, Chip)


@given(text=st.text(max_size=200), cut=st.integers(0, 4000))
@FUZZ
def test_chip_toml_text(tmp_path_factory, text, cut):
    from tritium.sim import chip_to_toml, load_chip

    base = chip_to_toml(load_chip("edge-lpddr5"))
    path = tmp_path_factory.mktemp("chip") / "chip.toml"
    path.write_text(base[:cut] + text + base[cut:], encoding="utf-8")
    loads_or_refuses(load_chip, path)


# -- GPU TOML -------------------------------------------------------------------------------------

@given(data=st.data())
@FUZZ
def test_gpu_toml(tmp_path_factory, data):
    import tomllib

    from tritium.analysis.gpu import load_gpu
    from tritium.analysis.gpu.db import GPU_RANGES, gpu_to_toml

    tree = data.draw(broken(tomllib.loads(gpu_to_toml(load_gpu("h100-sxm")))))
    gpu = loads_or_refuses(load_gpu, write_toml(tmp_path_factory.mktemp("gpu") / "gpu.toml", tree))
    if gpu is not None:
        for key, (lo, hi) in GPU_RANGES.items():
            value = getattr(gpu, key)
            assert value is None or (math.isfinite(value) and lo <= value <= hi) or (
                key == "interconnect_gb_s" and value == 0.0), key
        assert 0 <= gpu.idle_w < gpu.tdp_w


@pytest.mark.parametrize("key, value, message", [
    ("bf16_tflops", 1e-300, r"bf16_tflops = 1e-300: must be a number from 0.01 to 100000"),
    ("mem_gb", 1e12, "mem_gb = 1000000000000.0: must be a number from 0.1 to 10000"),
    ("boost_clock_mhz", float("nan"), "boost_clock_mhz = nan"),
    ("tdp_w", float("inf"), "tdp_w = inf"),
])
def test_gpu_ranges_name_key_and_file(tmp_path, key, value, message):
    import tomllib

    from tritium.analysis.gpu import load_gpu
    from tritium.analysis.gpu.db import gpu_to_toml

    tree = tomllib.loads(gpu_to_toml(load_gpu("h100-sxm"))) | {key: value}
    path = write_toml(tmp_path / "mine.toml", tree)
    with pytest.raises(TritiumError, match=message) as info:
        load_gpu(path)
    assert str(path) in str(info.value)


# -- space TOML -----------------------------------------------------------------------------------

SPACE = {
    "name": "fuzz", "base": "edge-lpddr5", "objectives": ["tokens_per_s", "area_mm2"],
    "workload": [{"model": "trilm-99m", "batch": 1, "prefill": 8, "decode": 2}],
    "params": {"tlu": {"rows": [16, 32]}, "clock_mhz": {"start": 500, "stop": 1000, "step": 250},
               "node_nm": {"start": 7, "stop": 28, "factor": 2}},
    "search": {"strategy": "random", "samples": 10, "seed": 0},
}


@given(data=st.data())
@FUZZ
def test_space_toml(tmp_path_factory, data):
    from tritium.analysis.dse.search import random_points
    from tritium.analysis.dse.space import load_space
    from tritium.analysis.dse.space_record import MAX_SAMPLES, Space

    tree = data.draw(broken(SPACE))
    if data.draw(st.booleans()):  # a workload is a list of tables: break inside it too
        tree["workload"] = [data.draw(broken(SPACE["workload"][0]))]
    space = loads_or_refuses(load_space, write_toml(tmp_path_factory.mktemp("space") / "space.toml", tree))
    if space is None:
        return
    assert isinstance(space, Space) and 1 <= space.search.samples <= MAX_SAMPLES
    for param in space.params:
        assert 1 <= len(param.values) <= 4096
        assert all(math.isfinite(v) for v in param.values if isinstance(v, float))
    assert len(random_points(space, min(space.search.samples, 50), space.search.seed)) <= 50


@pytest.mark.parametrize("edit, message", [
    ({"params": {"clock_mhz": {"start": float("nan"), "stop": 1000, "step": 250}}}, "params.clock_mhz.start = nan"),
    ({"params": {"clock_mhz": {"start": 500, "stop": float("inf"), "step": 250}}}, "params.clock_mhz.stop = inf"),
    ({"params": {"clock_mhz": [500.0, float("nan")]}}, r"params.clock_mhz\[1\] = nan"),
    ({"search": {"strategy": "random", "samples": 1_000_000_000}}, r"search.samples = 1000000000: .* to 100000"),
    ({"search": {"strategy": "guided", "samples": 1_000_000_000}}, r"search.samples = 1000000000: .* to 100000"),
    ({"workload": [{"model": "trilm-99m", "decode": 100_000_000}]}, r"workload\[0\].decode = 100000000"),
])
def test_space_limits_name_key_and_file(tmp_path, edit, message):
    from tritium.analysis.dse.space import load_space

    path = write_toml(tmp_path / "space.toml", SPACE | edit)
    with pytest.raises(TritiumError, match=message) as info:
        load_space(path)
    assert f"(in {path})" in str(info.value)


# -- config.json ----------------------------------------------------------------------------------

CONFIG = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
          "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "max_position_embeddings": 256,
          "hidden_act": "silu", "torch_dtype": "bfloat16", "tie_word_embeddings": False,
          "quantization_config": {"quant_method": "bitnet", "modules_to_not_convert": ["lm_head"]}}


@given(data=st.data())
@FUZZ
def test_config_json(tmp_path_factory, data):
    from tritium.workloads import ModelSpec, Scenario, load_model, trace

    tree = data.draw(broken(CONFIG))
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "config.json").write_text(json.dumps(tree), encoding="utf-8")  # NaN/Infinity as JSON allows
    spec = loads_or_refuses(load_model, folder / "config.json")
    if spec is not None:
        assert isinstance(spec, ModelSpec)
        loads_or_refuses(lambda _: trace(spec, Scenario(1, 4, 2)), folder)
