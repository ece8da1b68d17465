"""The mapping (sim/mapping.py, sim/mapper.py): the schedule the RTL runs (sim/tlu_schedule.py), and
invariants of every mapped op."""

import dataclasses
import math
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.base.errors import SpecError
from tritium.sim import load_chip, simulate
from tritium.sim.chip_parts import TluSpec
from tritium.sim.cycles import tlu_cycles
from tritium.sim.mapping import map_op
from tritium.sim.precision import precision_passes
from tritium.sim.tlu_schedule import tlu_schedule, tlu_word_bits
from tritium.sim.work import dram_cycles, placement_for
from tritium.workloads import Scenario, trace

EDGE = load_chip("edge-lpddr5")


# ---- the on-core schedule ---------------------------------------------------------------------

@settings(derandomize=True, max_examples=200, deadline=None)
@given(m=st.integers(1, 300), k=st.integers(1, 3000), n=st.integers(1, 700), cores=st.integers(1, 8),
       levels=st.integers(1, 8), rows=st.integers(1, 64))
def test_one_token_blocks_on_fed_ports_are_the_tlu_cycle_function(m, k, n, cores, levels, rows):
    tlu = TluSpec(rows=rows, width=2**levels)
    assert tlu_schedule(tlu, m, k, n, cores=cores).cycles == tlu_cycles(tlu, m, k, n, cores=cores)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(m=st.integers(1, 64), k=st.integers(1, 1024), n=st.integers(1, 256), acc=st.integers(1, 16),
       wport=st.sampled_from([None, 64, 256, 1024]), aport=st.sampled_from([None, 64, 256]))
def test_token_blocks_cut_weight_reads_and_never_add_cycles(m, k, n, acc, wport, aport):
    tlu = TluSpec(rows=16, width=32, acc_per_tree=acc)
    one = tlu_schedule(tlu, m, k, n, token_block=1, weight_port_bits=wport, act_port_bits=aport)
    blk = tlu_schedule(tlu, m, k, n, token_block=min(acc, m), weight_port_bits=wport, act_port_bits=aport)
    assert blk.cycles <= one.cycles
    assert blk.weight_word_reads == one.weight_word_reads // m * math.ceil(m / min(acc, m))
    assert blk.act_slice_reads == one.act_slice_reads  # every token still reads every slice per tile
    # no schedule beats its unit or its ports
    for s in (one, blk):
        assert s.cycles >= s.unit_cycles
        per = tlu.pipeline_depth_cycles
        assert s.cycles - per >= math.ceil(s.weight_word_reads * s.word_bits / (wport or s.word_bits))
        assert s.cycles - per >= s.act_slice_reads * s.slice_bits / (aport or s.slice_bits)


def test_a_narrow_weight_port_slows_in_proportion():
    tlu = EDGE.tlu
    fed = tlu_schedule(tlu, 512, 2560, 6912, weight_port_bits=EDGE.sram.weight.bits_per_cycle)
    narrow = tlu_schedule(tlu, 512, 2560, 6912, weight_port_bits=64)
    assert tlu_word_bits(tlu) == 8192 == EDGE.sram.weight.bits_per_cycle
    assert narrow.word_cycles == 128
    assert narrow.cycles - tlu.pipeline_depth_cycles == 128 * (fed.cycles - tlu.pipeline_depth_cycles)


def test_token_block_beyond_the_accumulators_is_refused():
    with pytest.raises(SpecError, match=r"token_block = 3: must be an integer from 1 to tlu.acc_per_tree = 2"):
        tlu_schedule(TluSpec(rows=4, width=8, acc_per_tree=2), 4, 8, 4, token_block=3)


def test_precision_passes():
    assert precision_passes(8, "bf16", "bf16") == 4
    assert precision_passes(8, "int8", "bf16") == 2
    assert precision_passes(8, "fp8", "fp8") == 1
    assert precision_passes(16, "bf16", "int8") == 1


# ---- invariants of mapped ternary linears on random chips and shapes --------------------------

@st.composite
def chips(draw):
    rows = draw(st.sampled_from([8, 16, 64, 128]))
    width = draw(st.sampled_from([16, 64, 256]))
    tlu = dataclasses.replace(EDGE.tlu, rows=rows, width=width, levels_per_stage=1,
                              acc_per_tree=draw(st.sampled_from([1, 2, 8])),
                              zero_handling=draw(st.sampled_from(["none", "gate"])))
    sram = dataclasses.replace(
        EDGE.sram,
        weight=dataclasses.replace(EDGE.sram.weight, capacity_kib=draw(st.sampled_from([64, 512, 4096])),
                                   banks=draw(st.sampled_from([1, 4, 16]))),
        act=dataclasses.replace(EDGE.sram.act, capacity_kib=draw(st.sampled_from([16, 128, 1024])),
                                banks=draw(st.sampled_from([1, 4]))),
    )
    return dataclasses.replace(EDGE, tlu=tlu, sram=sram, cores=draw(st.sampled_from([1, 2, 4])),
                               dma=dataclasses.replace(EDGE.dma, double_buffered=draw(st.booleans())))


def _row(m, k, n, steps=1):
    return SimpleNamespace(kind="ternary_linear", op="q_proj", m=m, k=k, n=n, steps=steps,
                           act_in_bytes=m * k * steps, act_out_bytes=m * n * 4 * steps, out_dtype="int32",
                           zero_frac=0.31, nnz_lo=-1, nnz_hi=-1, nnz_hist="")


SHAPES = dict(m=st.integers(1, 1024), k=st.sampled_from([100, 2560, 6912]), n=st.sampled_from([64, 640, 6912]))


@settings(derandomize=True, max_examples=150, deadline=None)
@given(chip=chips(), resident=st.booleans(), objective=st.sampled_from(["latency", "energy", "edp"]), **SHAPES)
def test_mapped_ternary_ops_respect_every_bound(chip, resident, objective, m, k, n):
    placement = placement_for(chip, 0.0 if resident else 1e12, 0)
    cost = map_op(chip, placement, _row(m, k, n), objective=objective)
    cores = chip.total_cores
    # cycles >= the unit's own cycles and >= each buffer port's cycles
    assert cost.compute_cycles >= cost.unit_cycles >= tlu_cycles(chip.tlu, m, k, n, cores=cores)
    for b in ("weight", "act", "kv"):
        bits = (cost.sram_read_bytes[b] + cost.sram_write_bytes[b]) * 8
        assert cost.compute_cycles >= bits / (getattr(chip.sram, b).bits_per_cycle * cores) - 1
    # compulsory traffic: streamed weights come from DRAM at least once; every weight and input is read on chip
    w_bytes = math.ceil(k * n * chip.tlu.weight_bits_per_weight / 8)
    if not resident:
        assert cost.dram_read_bytes >= w_bytes
    assert cost.sram_read_bytes["weight"] >= w_bytes
    assert cost.sram_read_bytes["act"] >= m * k
    if cost.dram_write_bytes:  # outputs spilled: all of them, once, at BF16 (never INT32)
        assert cost.dram_write_bytes == m * n * 2
        assert cost.dram_read_bytes >= m * k
    assert dram_cycles(chip, cost.dram_read_bytes) >= 0


@settings(derandomize=True, max_examples=100, deadline=None)
@given(chip=chips(), resident=st.booleans(), **SHAPES)
def test_a_larger_buffer_never_costs_more_dram_traffic(chip, resident, m, k, n):
    placement = placement_for(chip, 0.0 if resident else 1e12, 0)
    before = map_op(chip, placement, _row(m, k, n), objective="energy")
    for part in ("act", "weight"):
        buf = getattr(chip.sram, part)
        bigger = dataclasses.replace(chip, sram=dataclasses.replace(
            chip.sram, **{part: dataclasses.replace(buf, capacity_kib=buf.capacity_kib * 4)}))
        after = map_op(bigger, placement, _row(m, k, n), objective="energy")
        assert (after.dram_read_bytes + after.dram_write_bytes
                <= before.dram_read_bytes + before.dram_write_bytes)


@settings(derandomize=True, max_examples=40, deadline=None)
@given(chip=chips(), **SHAPES)
def test_on_chip_energy_covers_the_arithmetic(chip, m, k, n):
    from tritium.sim.energy import op_energy
    from tritium.sim.tech import tech

    cost = map_op(chip, placement_for(chip, 1e12, 0), _row(m, k, n))
    e = op_energy(chip, cost, "bitnet")
    t = tech(chip.node_nm, "bitnet")
    adds = cost.tlu_active_inputs * t.add_pj(chip.tlu.act_bits) * 1e-12  # at least one narrow add per input
    assert e["tlu"] + e["sram"] >= adds


# ---- whole simulations -------------------------------------------------------------------------

def test_batch_reuse_shows_in_energy_not_in_cycles():
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=16, prefill=32, decode=16))
    runs = {acc: simulate(dataclasses.replace(EDGE, tlu=dataclasses.replace(EDGE.tlu, acc_per_tree=acc)), t)
            for acc in (1, 16)}
    one, many = runs[1].totals, runs[16].totals
    assert many["energy_memory_path_j"] < 0.6 * one["energy_memory_path_j"]
    assert many["joules_per_token"] < one["joules_per_token"]
    assert many["tokens_per_s"] >= one["tokens_per_s"] * 0.999
    decode = runs[16].ops[(runs[16].ops.phase == "decode") & (runs[16].ops.kind == "ternary_linear")]
    assert (decode.token_block == 16).all()


def test_fused_attention_keeps_scores_off_dram():
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=2048, decode=4))
    fused = simulate(EDGE, t).ops
    unfused = simulate(dataclasses.replace(EDGE, attention=dataclasses.replace(EDGE.attention, fused=False)), t).ops
    scores = ["softmax"]
    assert fused[fused.kind.isin(scores)].dram_bytes.sum() == 0
    assert unfused[unfused.kind.isin(scores)].dram_bytes.sum() > 0
    assert fused.dram_bytes.sum() < unfused.dram_bytes.sum()
    assert fused[fused.kind == "attn_pv"].mapping.iloc[0].startswith("fused attention")


def test_int8_head_is_cheaper_and_the_bf16_head_pays_four_passes():
    from tritium.workloads import build_trace

    t16 = build_trace("bitnet-b1.58-2b-4t", Scenario(1, 32, 8))
    t8 = build_trace("bitnet-b1.58-2b-4t", Scenario(1, 32, 8), lm_head_dtype="int8")
    r16, r8 = simulate(EDGE, t16), simulate(EDGE, t8)
    h16 = r16.ops[(r16.ops.op == "lm_head") & (r16.ops.phase == "decode")].iloc[0]
    h8 = r8.ops[(r8.ops.op == "lm_head") & (r8.ops.phase == "decode")].iloc[0]
    assert "4 passes" in h16.mapping and "1 pass" in h8.mapping
    assert h8.compute_cycles * 4 == pytest.approx(h16.compute_cycles, rel=0.01)
    assert h8.dram_bytes * 2 == pytest.approx(h16.dram_bytes, rel=0.01)
    assert r8.totals["joules_per_token"] < r16.totals["joules_per_token"]


def test_skip_pays_for_its_index_and_gather_network():
    skip = dataclasses.replace(EDGE, tlu=dataclasses.replace(EDGE.tlu, zero_handling="skip"))
    t = trace("bitnet-b1.58-2b-4t", Scenario(1, 32, 8))
    r, g = simulate(skip, t), simulate(EDGE, t)
    assert r.area_mm2["tlu"] > g.area_mm2["tlu"]
    assert any("model only, no RTL" in n for n in r.notes)
    assert not any("no RTL" in n for n in g.notes)


@pytest.mark.parametrize("kw, key", [(dict(token_block=True), "token_block"), (dict(token_block=2.0), "token_block"),
                                     (dict(weight_port_bits=0), "weight_port_bits"),
                                     (dict(act_port_bits=-8), "act_port_bits")])
def test_schedule_inputs_of_the_wrong_kind_are_one_error(kw, key):
    with pytest.raises(SpecError, match=rf"^{key} = "):
        tlu_schedule(TluSpec(rows=4, width=8, acc_per_tree=2), 4, 8, 4, **kw)
