"""Pipeline parallelism across chips (sim/pipeline.py): stages of tensor-parallel groups, micro-batches, bubbles."""

import dataclasses
import doctest
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tritium.sim.pipeline
import tritium.sim.pipeline_schedule
from tritium.base.errors import SpecError, TritiumError
from tritium.sim import load_chip, simulate
from tritium.sim.pipeline import micro_trace, simulate_pipeline, stage_chip
from tritium.sim.pipeline_schedule import best_split, decode_cycle, micro_batch_sizes, prefill_makespan, split_layers
from tritium.workloads import Scenario, trace, zoo_model

HBM = load_chip("multichip-hbm3")  # 4 chips joined by a 200 GB/s ring
ONE = dataclasses.replace(HBM, chips=1, link=None)
SMALL = trace("trilm-99m", Scenario(1, 64, 8))


def pp(chips: int, stages: int, micro_batches: int = 0):
    return dataclasses.replace(HBM, chips=chips, pipeline_stages=stages, micro_batches=micro_batches)


def test_one_stage_is_the_tensor_parallel_simulation():
    plain = simulate(HBM, SMALL)
    assert "pipeline_stages" not in plain.totals and "stage" not in plain.ops.columns
    assert simulate_pipeline(HBM, SMALL).totals == plain.totals
    staged = simulate(pp(4, 2), SMALL)
    assert set(plain.totals) <= set(staged.totals)  # every key simulate reports, a pipeline reports too
    assert list(staged.ops.columns[2:]) == list(plain.ops.columns) and set(staged.area_mm2) == set(plain.area_mm2)
    assert stage_chip(pp(8, 2)) == dataclasses.replace(HBM, chips=4)
    assert stage_chip(pp(4, 4)).link is None and stage_chip(pp(4, 4)).chips == 1


def test_a_micro_batch_trace_is_the_trace_of_the_smaller_batch():
    llama = zoo_model("llama-3-8b").ternarized()  # grouped-query attention, untied FP16 head
    for model in ("bitnet-b1.58-2b-4t", llama):
        big, small = trace(model, Scenario(6, 16, 4)), trace(model, Scenario(2, 16, 4))
        cut = micro_trace(big, 2)
        pd.testing.assert_frame_equal(cut.table, small.table)
        assert cut.scenario == small.scenario and cut.model == small.model
    assert micro_trace(SMALL, 1) is SMALL
    odd = dataclasses.replace(SMALL, scenario=Scenario(3, 64, 8))
    with pytest.raises(TritiumError, match="not a multiple of its batch of 3"):
        micro_trace(odd, 1)


def test_micro_batches_default_to_the_stages_capped_at_the_batch():
    assert micro_batch_sizes(10, 4, 2) == [3, 3, 2, 2]
    assert micro_batch_sizes(3, 0, 4) == [1, 1, 1]
    assert micro_batch_sizes(64, 0, 4) == [16] * 4


def test_the_split_is_the_least_largest_stage():
    rng = np.random.default_rng(0)
    for _ in range(30):
        costs = list(rng.integers(1, 9, size=rng.integers(2, 8)).astype(float))
        stages = int(rng.integers(1, len(costs) + 1))
        lengths = split_layers(costs, stages)
        assert sum(lengths) == len(costs) and len(lengths) == stages and min(lengths) >= 1
        best = min(max(sum(costs[a:b]) for a, b in zip((0, *cuts), (*cuts, len(costs))))
                   for cuts in itertools.combinations(range(1, len(costs)), stages - 1))
        got = np.cumsum([0, *lengths])
        assert max(sum(costs[a:b]) for a, b in zip(got[:-1], got[1:])) == best
    assert split_layers([1.0] * 80, 4) == [20] * 4
    with pytest.raises(SpecError, match="pipeline_stages = 5: must be at most the model's 4 decoder layers"):
        split_layers([1.0] * 4, 5)
    # prefill-light, decode-heavy last layer (an FP16 LM head): the decode balance wins with many micro-batches
    assert best_split([1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 6], 2, 8) == [5, 1]
    assert best_split([1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], 2, 8) == [3, 3]


def test_the_schedules_are_gpipe_with_unequal_stages():
    times = np.array([[1.0, 3.0, 1.0]] * 4)
    assert prefill_makespan(times, np.zeros((4, 2))) == pytest.approx(5 + 3 * 3)  # sum + (m - 1) x slowest
    assert prefill_makespan(times[:1], np.full((1, 2), 0.5)) == pytest.approx(6)  # one micro-batch: sends add
    assert decode_cycle(times, np.zeros((4, 2)), np.zeros(4)) == 12  # the busiest stage
    assert decode_cycle(times[:2], np.zeros((2, 2)), np.full(2, 1.0)) == 6  # the round trip


def test_one_micro_batch_takes_at_least_one_group_and_shows_the_bubble():
    single = simulate(ONE, SMALL).totals
    r = simulate(pp(4, 4), SMALL)
    t = r.totals
    assert t["pipeline_stages"] == 4 and t["tp_chips"] == 1 and t["micro_batches"] == 1
    assert t["time_per_output_token_s"] >= single["time_per_output_token_s"]
    assert t["time_to_first_token_s"] >= single["time_to_first_token_s"]
    assert t["pipeline_bubble_fraction"] == pytest.approx(3 / 4, abs=0.02)  # (p - 1) / (m + p - 1)
    assert t["decode_bubble_fraction"] >= 0.75 - 1e-9
    assert t["tokens_per_s"] == pytest.approx(1 / t["time_per_output_token_s"])
    # the FP16 LM head outweighs four ternary layers: cut by cost, the last stage keeps one layer
    assert t["stage_layers"] == [[0, 4], [5, 9], [10, 14], [15, 15]]
    assert t["p2p_s"] > 0 and t["p2p_bytes"] > 0
    assert sorted(set(r.ops.stage)) == [0, 1, 2, 3] and len(r.ops) == len(SMALL.table)
    assert r.ops.groupby("stage").layer.min().tolist() == [-1, 5, 10, 15]
    assert r.ops.layer.max() == 16 and r.ops[r.ops.op == "lm_head"].stage.unique().tolist() == [3]
    assert r.notes[0].startswith("pipeline: TP 1 x PP 4 (4 stages of 1 chip), 1 micro-batch of 1 sequence;")
    assert any(n.startswith("each stage (1 chip): DRAM: HBM3 sustains") for n in r.notes)


def test_many_micro_batches_approach_the_stages_throughput():
    batch = trace("bitnet-b1.58-2b-4t", Scenario(16, 128, 4))
    single = simulate(ONE, batch).totals
    r = simulate(pp(4, 4, micro_batches=16), batch)
    t = r.totals
    m, p = 16, 4
    assert t["micro_batches"] == m and t["micro_batch_size"] == 1
    # (p - 1) / (m + p - 1) for equal stages; the LM head's stage is the slowest, so a little more
    assert (p - 1) / (m + p - 1) <= t["pipeline_bubble_fraction"] < 0.3
    speedup = single["time_to_first_token_s"] / t["time_to_first_token_s"]
    assert 0.85 * p * m / (m + p - 1) < speedup <= p
    assert (r.ops.micro_batches == m).all()
    # decode: 16 micro-batches each stream their stage's weights, so a step is 16 stage-steps, not 4
    assert t["time_per_output_token_s"] > simulate(pp(4, 4, micro_batches=4), batch).totals["time_per_output_token_s"]


def test_energy_is_at_least_the_stages_and_adds_up():
    r = simulate(pp(4, 2, micro_batches=3), trace("trilm-99m", Scenario(5, 32, 4)))
    t = r.totals
    assert sorted(set(r.ops.micro_batches)) == [1, 2]  # 5 sequences: micro-batches of 2, 2 and 1
    parts = [k for k in t if k.startswith("energy_") and k.endswith("_j") and k != "energy_j"]
    assert t["energy_j"] == pytest.approx(sum(t[k] for k in parts))
    # the stages' own energies (leakage over their busy time only) do not exceed the composed total
    stage, (first, second) = stage_chip(pp(4, 2)), t["stage_layers"]
    assert first[0] == 0 and second == [first[1] + 1, 15]
    own = 0.0
    for size in (2, 2, 1):
        tab = micro_trace(trace("trilm-99m", Scenario(5, 32, 4)), size)
        for layers in (range(-1, first[1] + 1), range(second[0], 17)):
            part = dataclasses.replace(tab, table=tab.table[tab.table.layer.isin(list(layers))].reset_index(drop=True))
            own += simulate(stage, part).totals["energy_j"]
    assert t["energy_j"] >= own
    assert t["p2p_energy_j"] == pytest.approx(t["p2p_bytes"] * 8 * HBM.link.energy_pj_per_bit * 1e-12)
    assert t["energy_link_j"] >= t["p2p_energy_j"]
    assert t["link_bytes"] >= t["p2p_bytes"]


def test_ternary_llama_3_70b_on_16_chips_tp_by_pp():
    table = trace(zoo_model("llama-3-70b").ternarized(), Scenario(4, 128, 8))
    out = {}
    for stages in (1, 2, 4):
        r = simulate(pp(16, stages), table)
        t = out[stages] = r.totals
        assert 0 < t["time_per_output_token_s"] < 0.1 and 0 < t["time_to_first_token_s"] < 5
        assert t["tokens_per_s"] == pytest.approx(4 / t["time_per_output_token_s"])
        assert 0 < t["joules_per_token"] < 10
        # each micro-batch's KV cache fits a stage's KV SRAM, but not all four: said, not hidden
        assert all("micro-batches'" in w and "MiB of KV SRAM; the figures assume they do" in w for w in r.warnings)
        if stages > 1:
            spans = t["stage_layers"]
            assert spans[0][0] == 0 and spans[-1][1] == 79 and len(spans) == stages
            assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:]))
            # the FP16 LM head weighs on the last stage: cut by cost, it gets fewer layers
            assert spans[-1][1] - spans[-1][0] < spans[0][1] - spans[0][0]
            assert t["memory_needed_bytes"] <= t["memory_capacity_bytes"]
            assert sorted(set(r.ops.stage)) == list(range(stages))
    # one TP group of 16 spends most on collectives; stages of 4 chips spend little but idle in the bubble
    # (with the LM head split over every core's MAC array, TP 16 and TP 4 x PP 4 are within 10% here)
    assert out[2]["time_per_output_token_s"] < min(out[1]["time_per_output_token_s"],
                                                   out[4]["time_per_output_token_s"])
    assert out[4]["pipeline_bubble_fraction"] > out[2]["pipeline_bubble_fraction"] > 0
    by_layers = simulate_pipeline(pp(16, 4), table, balance="layers").totals
    assert by_layers["stage_layers"] == [[0, 19], [20, 39], [40, 59], [60, 79]]
    assert by_layers["time_per_output_token_s"] >= out[4]["time_per_output_token_s"] * (1 - 1e-9)


def test_bad_splits_are_refused():
    with pytest.raises(SpecError, match="pipeline_stages = 3: must divide chips = 4"):
        pp(4, 3)
    with pytest.raises(SpecError, match="pipeline_stages = 32: must be at most the model's 16 decoder layers"):
        simulate(pp(32, 32), SMALL)
    with pytest.raises(SpecError, match="balance = 'flops': must be one of cost, layers"):
        simulate_pipeline(pp(4, 2), SMALL, balance="flops")


def test_more_micro_batches_than_sequences_are_capped_and_said():
    r = simulate(pp(4, 2, micro_batches=8), trace("trilm-99m", Scenario(2, 16, 4)))
    assert r.totals["micro_batches"] == 2
    assert "(micro_batches = 8 capped at the batch)" in r.notes[0]
    done = []
    simulate(pp(4, 2), SMALL, progress=lambda i, n: done.append((i, n)))
    assert done == [(1, 3), (2, 3), (3, 3)]  # the cost pass, then each stage


def test_the_examples_in_the_docstrings_run():
    for module, examples in ((tritium.sim.pipeline, 0), (tritium.sim.pipeline_schedule, 5)):
        result = doctest.testmod(module)
        assert result.attempted >= examples and result.failed == 0


def test_the_parallelism_page_examples_are_what_the_simulator_computes():
    page = Path(__file__).resolve().parents[2] / "docs" / "parallelism.md"
    result = doctest.testfile(str(page), module_relative=False)
    assert result.attempted >= 8 and result.failed == 0


def test_the_totals_are_plain_python_values():
    t = simulate(pp(4, 2), SMALL).totals
    assert all(type(v) in (int, float, bool, list) for v in t.values()), {k: type(v) for k, v in t.items()}
    assert all(type(x) is float for x in t["stage_s"]) and all(type(x) is int for s in t["stage_layers"] for x in s)


def test_stages_of_equal_layers_are_simulated_once_and_agree_with_their_own_run():
    done = []
    r = simulate(pp(8, 8), trace("bitnet-b1.58-2b-4t", Scenario(1, 32, 4)),
                 progress=lambda i, n: done.append((i, n)))
    # the cost pass, the first, the last and one of each middle shape, in order
    assert done == [(i, done[0][1]) for i in range(1, done[0][1] + 1)] and done[0][1] < 9
    t = r.totals
    spans = t["stage_layers"]
    lengths = [b - a for a, b in spans[1:-1]]
    common = max(set(lengths), key=lengths.count)
    middle = [s for s, (a, b) in enumerate(spans[1:-1], start=1) if b - a == common]
    assert len(middle) >= 3
    busy = [t["stage_s"][s] for s in middle]
    assert busy == [busy[0]] * len(busy)
    # a relabelled stage carries its own layers and weights, and its own run gives the same figures
    s = middle[-1]
    rows = r.ops[r.ops.stage == s]
    assert rows.layer.min() == spans[s][0] and rows.layer.max() == spans[s][1]
    assert rows.weight_name.str.contains(f"layers.{spans[s][0]}.").any()
    tab = trace("bitnet-b1.58-2b-4t", Scenario(1, 32, 4))
    own = dataclasses.replace(tab, table=tab.table[tab.table.layer.between(spans[s][0], spans[s][1])].reset_index(drop=True))
    alone = simulate(stage_chip(pp(8, 8)), own)
    assert alone.totals["total_s"] == pytest.approx(t["stage_s"][s])
    assert (alone.ops.energy_j.to_numpy() == rows.energy_j.to_numpy()).all()
