"""simulate(): roofline, monotonicity, zero handling, energy bookkeeping, DRAM-bound decode."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.base.errors import SpecError
from tritium.sim import OP_COLUMNS, load_chip, simulate
from tritium.sim.dram import sustained_bandwidth_fraction
from tritium.sim.result import ENERGY_COMPONENTS
from tritium.workloads import Scenario, summarize, trace

SMALL = trace("trilm-99m", Scenario(batch=2, prefill=32, decode=8))
BITNET = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=64, decode=16))


def _with(chip, **parts):
    """``chip`` with some parts' fields replaced: _with(chip, tlu={"rows": 8})."""
    changes = {}
    for part, fields in parts.items():
        changes[part] = dataclasses.replace(getattr(chip, part), **fields) if isinstance(fields, dict) else fields
    return dataclasses.replace(chip, **changes)


@pytest.mark.parametrize("name", ["edge-lpddr5", "datacenter-hbm3", "lowcost-28nm", "fpga-proto", "multichip-hbm3"])
def test_every_preset_simulates_with_a_complete_table(name):
    r = simulate(name, SMALL)
    assert list(r.ops.columns[-len(OP_COLUMNS):]) == list(OP_COLUMNS)
    assert len(r.ops) == len(SMALL.table)
    t = r.totals
    assert t["total_s"] == pytest.approx(t["time_to_first_token_s"] + t["time_per_output_token_s"] * 8)
    assert t["tokens_per_s"] == pytest.approx(2 * 8 / (t["time_per_output_token_s"] * 8))
    assert r.area_mm2["total"] == pytest.approx(sum(v for k, v in r.area_mm2.items() if k != "total"))
    assert set(r.ops.bound) <= {"compute", "sram", "dram", "link", "none"}


@pytest.mark.parametrize("name", ["edge-lpddr5", "datacenter-hbm3", "fpga-proto"])
def test_no_op_beats_its_roofline(name):
    chip = load_chip(name)
    ops = simulate(chip, BITNET).ops
    tlu = ops[ops.unit == "tlu"]
    peak = chip.total_cores * chip.tlu.rows * chip.tlu.width
    assert (tlu.cycles * peak >= tlu.macs).all()
    dram_per_cycle = chip.dram.bandwidth_gb_s * 1e9 * chip.chips / chip.clock_hz
    assert (ops.cycles * dram_per_cycle >= ops.dram_bytes).all()
    att = ops[ops.unit == "attention"]
    assert (att.cycles * chip.attention.macs * chip.total_cores >= att.macs).all()


def test_energy_components_add_up_and_results_are_deterministic():
    a = simulate("edge-lpddr5", BITNET)
    b = simulate("edge-lpddr5", BITNET)
    assert a.totals == b.totals
    parts = sum(a.totals[f"energy_{c}_j"] for c in (*ENERGY_COMPONENTS, "static"))
    assert a.totals["energy_j"] == pytest.approx(parts, rel=1e-12)
    per_op = a.ops[[f"energy_{c}_j" for c in ENERGY_COMPONENTS]].sum(axis=1)
    assert np.allclose(per_op, a.ops.energy_j, rtol=1e-12)


# ---- monotonicity: more of a resource never makes a run slower ------------------------------

BASE = load_chip("edge-lpddr5")
# integer cycles round each transfer and op up; allow that rounding, nothing more
ROUNDING_S = 4 * len(BITNET.table) / (BASE.clock_mhz * 1e6)


def _fed(chip):
    """``chip`` with weight and activation buffers banked wide enough to feed its TLU every cycle
    (more trees without wider ports starve, which the mapping counts as port stalls)."""
    from tritium.sim.tlu_schedule import tlu_word_bits

    sram = chip.sram
    parts = {}
    for name, bits in (("weight", tlu_word_bits(chip.tlu)), ("act", chip.tlu.width * chip.tlu.act_bits)):
        buf = getattr(sram, name)
        banks = buf.banks
        while banks * buf.port_bits < bits:
            banks *= 2
        parts[name] = dataclasses.replace(buf, banks=banks)
    return _with(chip, sram=dataclasses.replace(sram, **parts))


@settings(derandomize=True, max_examples=12, deadline=None)
@given(factor=st.sampled_from([1.25, 2.0, 4.0]), which=st.sampled_from(["bandwidth", "rows", "width", "clock"]))
def test_more_resources_never_slower(factor, which):
    base = simulate(BASE, BITNET).totals["total_s"]
    if which == "bandwidth":
        chip = _with(BASE, dram={"channel_bandwidth_gb_s": min(BASE.dram.channel_bandwidth_gb_s * factor, 102.4)})
    elif which == "rows":
        chip = _fed(_with(BASE, tlu={"rows": int(BASE.tlu.rows * factor) or 1}))
    elif which == "width":
        chip = _fed(_with(BASE, tlu={"width": BASE.tlu.width * (4 if factor == 4.0 else 2)}))
    else:
        from tritium.sim.silicon import pipeline_of, reachable_clock_mhz

        fmax = reachable_clock_mhz(BASE.node_nm, pipeline_of(BASE))  # a faster clock is refused
        chip = dataclasses.replace(BASE, clock_mhz=min(BASE.clock_mhz * factor, float(int(fmax))))
    assert simulate(chip, BITNET).totals["total_s"] <= base + ROUNDING_S


def test_skip_never_more_cycles_and_gate_never_more_energy():
    runs = {z: simulate(_with(BASE, tlu={"zero_handling": z}), BITNET) for z in ("none", "gate", "skip")}
    none, gate, skip = (runs[z].ops for z in ("none", "gate", "skip"))
    tlu = none.unit == "tlu"
    assert (skip.compute_cycles[tlu] <= none.compute_cycles[tlu]).all()
    assert (skip.compute_cycles[tlu] < none.compute_cycles[tlu]).any()  # 31% zeros do save slices
    assert (gate.compute_cycles == none.compute_cycles).all()
    assert (gate.energy_linear_j[tlu] < none.energy_linear_j[tlu]).all()
    assert runs["gate"].totals["energy_j"] <= runs["none"].totals["energy_j"]


def test_batch1_decode_is_dram_bound_at_sustained_bandwidth_over_weight_bytes():
    # weights do not fit in SRAM; an ideal DMA: no setup, negligible latency, big bursts; a 16-bit
    # MAC array runs the BF16 LM head in one pass (on 8-bit MACs its 4 passes near the DRAM time)
    chip = _with(BASE, dram={"latency_ns": 1e-3}, dma={"setup_cycles": 0, "burst_bytes": 16},
                 attention={"mac_bits": 16})
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=16, decode=32))
    r = simulate(chip, t)
    decode = r.ops[r.ops.phase == "decode"]
    linears = decode[decode.kind.isin(["ternary_linear", "linear"])]
    assert (linears.bound == "dram").all()
    weight_bytes = decode.dram_bytes[decode.kind.isin(["ternary_linear", "linear", "embedding"])].sum() / 32
    # at the DRAM's sustained share of peak for weight streams (LPDDR5: refresh and row misses), not 100%
    sustained = chip.dram.bandwidth_gb_s * 1e9 * sustained_bandwidth_fraction("LPDDR5", "stream")
    assert sustained_bandwidth_fraction("LPDDR5", "stream") < 0.97
    assert r.totals["tokens_per_s"] == pytest.approx(sustained / weight_bytes, rel=0.03)
    assert r.totals["tokens_per_s"] <= sustained / weight_bytes
    # and the weight bytes are the model's: ternary at 2 bits + the BF16 LM head (tied embedding)
    spec_bytes = 2.0836e9 / 4 + 128256 * 2560 * 2
    assert weight_bytes == pytest.approx(spec_bytes, rel=0.01)


def test_resident_weights_leave_dram_for_the_lm_head_only():
    big = _with(BASE, sram={"weight": dataclasses.replace(BASE.sram.weight, capacity_kib=64 * 1024)})
    r = simulate(big, SMALL)
    assert "resident" in r.notes[0]
    decode = r.ops[(r.ops.phase == "decode") & (r.ops.kind == "ternary_linear")]
    assert (decode.dram_bytes == 0).all()


def test_accumulator_too_narrow_is_refused_naming_both_numbers():
    narrow = _with(BASE, tlu={"acc_bits": 16})  # holds K <= 255 of 8-bit products
    with pytest.raises(SpecError, match=r"K = 6912: holds K <= 255 .* needs acc_bits >= 21"):
        simulate(narrow, BITNET)


def test_seed_headline_beside_what_survives():
    t = simulate(BASE, BITNET).totals
    assert t["seed_arithmetic_ratio"] == pytest.approx(71.4, abs=0.05)
    assert (t["end_to_end_ratio"] < t["tlu_with_operands_ratio"] < t["tlu_arithmetic_ratio"]
            < t["seed_arithmetic_ratio"])


def test_multichip_all_reduces_over_the_link():
    r = simulate("multichip-hbm3", SMALL)
    reduced = r.ops[r.ops.link_bytes > 0]
    assert set(reduced.op) == {"o_proj", "down_proj", "lm_head"}
    assert r.totals["energy_link_j"] > 0


@pytest.mark.parametrize("name", ["edge-lpddr5", "lowcost-28nm", "datacenter-hbm3"])
def test_identical_layer_extrapolation_matches_the_full_timeline(name):
    """Simulating two identical layers and extrapolating gives the full block's cycles."""
    import importlib

    sim = importlib.import_module("tritium.sim.simulate")
    from tritium.sim.work import place

    chip = load_chip(name)
    record = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=32, decode=4))
    table = record.table
    _, timings = sim._op_costs(chip, place(chip, table), record)
    layers, kinds = table.layer.to_numpy(), table.kind.tolist()
    sigs = table.signature.tolist()
    distinct = [f"{s}{layer}" for s, layer in zip(sigs, layers)]  # forces the full timeline
    for block in (0, 1):
        idx = np.flatnonzero(table.block.to_numpy() == block)
        extrapolated = sim._block_cycles(chip, idx, layers, kinds, sigs, timings)
        full = sim._block_cycles(chip, idx, layers, kinds, distinct, timings)
        assert extrapolated == pytest.approx(full, rel=1e-3)


@pytest.mark.parametrize("name", ["edge-lpddr5", "lowcost-28nm"])
def test_time_to_first_token_is_at_least_the_prefill_dram_time(name):
    # A DMA-only op split into more than two chunks (the 2B4T embedding at a 512-token
    # prompt on edge-lpddr5) once deadlocked the DMA slot queue and read as a 0 s prefill.
    chip = load_chip(name)
    r = simulate(chip, trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=512, decode=2)))
    prefill = r.ops[r.ops.phase == "prefill"]
    dram_s = (prefill.dram_bytes * prefill.steps).sum() / (chip.dram.bandwidth_gb_s * 1e9 * chip.chips)
    assert r.totals["time_to_first_token_s"] >= dram_s > 0


def test_dram_capacity_is_checked_against_what_the_gpu_model_counts_too():
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=512, decode=16))
    s = summarize(t)  # both presets store 2 bits per ternary weight, as the summary counts them
    rows = t.table
    head = rows[(rows.op == "lm_head") & (rows.block == 0)].iloc[0]
    table = 128256 * 2560 * 2  # the embedding table, BF16; the tied LM head is that table, held once
    peak = int(((rows.act_in_bytes + rows.act_out_bytes) // rows.steps).max())
    base = s.ternary_weight_bytes + s.other_weight_bytes - head.weight_bytes + table  # (no embedding rows in it)
    base += s.kv_cache_bytes + peak
    edge, fpga = simulate("edge-lpddr5", t), simulate("fpga-proto", t)
    for r, gib in ((edge, 8), (fpga, 0.5)):
        assert r.totals["memory_needed_bytes"] == pytest.approx(base + 0.1 * gib * 2**30, rel=1e-6)
    assert edge.totals["memory_capacity_bytes"] == 8 * 2**30 > edge.totals["memory_needed_bytes"]
    assert fpga.totals["memory_capacity_bytes"] == 2**29 < fpga.totals["memory_needed_bytes"]
    need = edge.totals["memory_needed_bytes"] / 2**30
    fits = [n for n in edge.notes if n.startswith(("DRAM holds", "DRAM too small"))]
    assert fits == [f"DRAM holds the weights, embedding, KV cache, activations and a 10% runtime reserve: "
                    f"{need:.2f} of 8.00 GiB"]
    small = [n for n in fpga.notes if n.startswith(("DRAM holds", "DRAM too small"))]  # 0.5 GiB of DDR3
    assert small and small[0].startswith("DRAM too small: the weights, embedding, KV cache, activations and a 10% "
                                         "runtime reserve need")
    assert fpga.warnings == small
    multi = load_chip("multichip-hbm3")  # every chip's DRAM holds its share of a tensor-parallel model
    have = multi.chips * multi.dram.capacity_gib
    assert f"of {have:.2f} GiB" in [n for n in simulate(multi, t).notes if n.startswith("DRAM holds")][0]


def test_a_model_without_ternary_linears_is_warned_first():
    t = trace("llama-2-7b", Scenario(batch=1, prefill=8, decode=2))
    r = simulate(BASE, t)
    assert r.warnings[0].startswith("llama-2-7b has no ternary linears") and "--ternarize" in r.warnings[0]
    assert r.notes[0] == "no ternary weights: the high-precision weights stream from DRAM"
    assert not any("no ternary linears" in w for w in simulate(BASE, BITNET).warnings)


@pytest.mark.parametrize("name", ["edge-lpddr5", "datacenter-hbm3", "lowcost-28nm", "fpga-proto", "multichip-hbm3"])
def test_decode_is_never_faster_than_its_bytes_over_the_sustained_bandwidth(name):
    from tritium.sim.dram import sustained_bandwidth_fraction

    chip = load_chip(name)
    r = simulate(chip, BITNET)
    decode = r.ops[r.ops.phase == "decode"]
    per_token = decode.dram_bytes.sum() / BITNET.decode
    best = chip.dram.bandwidth_gb_s * 1e9 * chip.chips * sustained_bandwidth_fraction(chip.dram.type, "stream")
    assert r.totals["time_per_output_token_s"] >= per_token / best
    note = next(n for n in r.notes if n.startswith("DRAM: "))
    assert f"{chip.dram.type} sustains" in note and "refresh costs" in note


def test_a_request_past_the_exact_cycle_range_is_refused_not_wrapped():
    """Issue 12: a fast clock on a 0.1 GB/s DRAM made int64 cycle counts wrap; now one error."""
    from tritium.base.errors import TritiumError
    from tritium.sim.simulate import MAX_CYCLES

    from tritium.sim.silicon import pipeline_of, reachable_clock_mhz

    chip = load_chip("fpga-proto")
    fast = dataclasses.replace(chip, node_nm=3)
    fmax = float(int(reachable_clock_mhz(3, pipeline_of(fast))))  # the fastest clock a chip may ask for
    slow = dataclasses.replace(fast, clock_mhz=fmax, dram=dataclasses.replace(chip.dram, channel_bandwidth_gb_s=0.1))
    from tritium.workloads import zoo_model

    model = zoo_model("llama-3-70b").ternarized()
    long_prompt = trace(model, Scenario(batch=1, prefill=1_000_000, decode=16))
    with pytest.raises(TritiumError, match=r"more than the 2\^62 a simulation counts exactly"):
        simulate(slow, long_prompt)
    # the same request at a sane clock and bandwidth stays in range and every count is non-negative
    result = simulate(chip, trace(model, Scenario(batch=1, prefill=4096, decode=16)))
    assert (result.ops["cycles"] >= 0).all() and result.ops["cycles"].sum() < MAX_CYCLES
    assert result.totals["dram_bytes"] > 0


@pytest.mark.parametrize("part, key", [("dram", "channel_bandwidth_gb_s"), ("link", "bandwidth_gb_s")])
def test_bandwidth_below_the_floor_names_the_key(part, key):
    chip = load_chip("multichip-hbm3")
    with pytest.raises(SpecError, match=rf"{key} = 1e-09: must be a number (>= 0.1|from 0.1 to)"):
        dataclasses.replace(getattr(chip, part), **{key: 1e-9})


def test_multichip_time_per_token_is_at_least_its_all_reduces_latency_bound():
    """Issue 11 done-when: per token, every all-reduce pays at least its algorithm's latency term."""
    from tritium.sim.collectives import collective
    from tritium.workloads import zoo_model

    chip = load_chip("multichip-hbm3")
    tr = trace(zoo_model("llama-3-70b").ternarized(), Scenario(batch=1, prefill=32, decode=4))
    r = simulate(chip, tr)
    decode = r.ops[(r.ops.phase == "decode") & (r.ops.link_bytes > 0)]
    per_token = decode.steps.sum() / tr.decode
    assert per_token >= 2 * zoo_model("llama-3-70b").num_layers  # two all-reduces per layer at least
    link = chip.link
    floor = collective("all_reduce", 1.0, chip.chips, bandwidth_gb_s=link.bandwidth_gb_s,
                       latency_s=link.latency_ns * 1e-9, efficiency=link.efficiency, algorithm=link.algorithm,
                       topology=link.topology).seconds
    assert floor > 0 and r.totals["time_per_output_token_s"] >= per_token * floor
