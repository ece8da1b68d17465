"""Spaces carry the dataflow's knobs: accumulators per tree, fused attention, precisions, the mapping objective."""

import pytest

from tritium.analysis.dse import space_from_toml
from tritium.analysis.dse.evaluate import build_chip
from tritium.analysis.dse.execute import sweep
from tritium.analysis.dse.store import load_results
from tritium.base.errors import SpecError

SPACE = '''
name = "t"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "bitnet-b1.58-2b-4t"
batch = 8
prefill = 16
decode = 4
[[workload]]
model = "bitnet-b1.58-2b-4t"
batch = 8
prefill = 16
decode = 4
lm_head_dtype = "int8"
kv_dtype = "fp8"
mapping_objective = "energy"
[params]
tlu.acc_per_tree = [1, 8]
attention.fused = [true, false]
'''


def test_workloads_take_precisions_and_an_objective():
    s = space_from_toml(SPACE)
    plain, quant = s.workloads
    assert (plain.lm_head_dtype, plain.kv_dtype, plain.mapping_objective) == (None, None, "latency")
    assert (quant.lm_head_dtype, quant.kv_dtype, quant.mapping_objective) == ("int8", "fp8", "energy")
    assert quant.name.endswith("-lmint8-kvfp8-energy")
    assert quant.trace().table.query("op == 'lm_head'").weight_dtype.iloc[0] == "int8"
    assert s.grid_size == 8


def test_chip_keys_of_the_dataflow_are_parameters():
    s = space_from_toml(SPACE)
    import tomllib

    from tritium.sim import chip_to_toml, load_chip

    base = tomllib.loads(chip_to_toml(load_chip("edge-lpddr5")))
    chip = build_chip(base, {"tlu.acc_per_tree": 8, "attention.fused": False}, "x")
    assert chip.tlu.acc_per_tree == 8 and chip.attention.fused is False
    assert [p.path for p in s.params] == ["tlu.acc_per_tree", "attention.fused"]


@pytest.mark.parametrize("key, value, message", [
    ("lm_head_dtype", '"int4"', "workload[0].lm_head_dtype = 'int4': must be one of"),
    ("kv_dtype", '"fp4"', "workload[0].kv_dtype = 'fp4': must be one of"),
    ("mapping_objective", '"speed"', "workload[0].mapping_objective = 'speed': must be one of 'latency'"),
])
def test_bad_workload_knobs_are_one_error(key, value, message):
    text = SPACE.replace('decode = 4\n[[workload]]', f'decode = 4\n{key} = {value}\n[[workload]]', 1)
    with pytest.raises(SpecError) as info:
        space_from_toml(text)
    assert str(info.value).startswith(message)


def test_a_sweep_over_them_shows_reuse_and_cheaper_precisions(tmp_path):
    (tmp_path / "s.toml").write_text(SPACE)
    sweep(tmp_path / "s.toml", tmp_path / "out", workers=0)
    r = load_results(tmp_path / "out", status="ok")
    assert len(r) == 8
    frame = r.rename(columns={"tlu.acc_per_tree": "acc", "attention.fused": "fused"})
    for workload, group in frame.groupby("workload"):
        by_acc = group.groupby("acc").joules_per_token.mean()
        assert by_acc[8] < by_acc[1], workload  # a weight word serves 8 tokens
    quant = frame[frame.workload.str.endswith("energy")].joules_per_token.mean()
    plain = frame[~frame.workload.str.endswith("energy")].joules_per_token.mean()
    assert quant < plain
