# amaranth: UnusedElaboratable=no
"""Three-way golden tests of the core: RTL outputs == golden model, RTL cycles == the mapping's schedule
(tlu_cycles where the ports keep up and one token shares each weight read)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from tritium.base.errors import SpecError, TritiumError
from tritium.hdl import core_schedule, elaborate, run_gemm, sim_speed
from tritium.hdl.rtl_sim import act_beats, weight_beats
from tritium.sim import BufferSpec, load_chip
from tritium.sim.cycles import tlu_cycles
from tritium.sim.golden import golden_vectors, ternary_matmul


def small_chip(**tlu_fields):
    """fpga-proto with a small TLU (rows 4, width 16 unless given) and 1 KiB buffers of one 64-bit
    port (a 4 x 16 TLU waits 2 cycles for each weight word and each activation slice)."""
    chip = load_chip("fpga-proto")
    tlu = dataclasses.replace(chip.tlu, **{"rows": 4, "width": 16, **tlu_fields})
    buffer = BufferSpec(capacity_kib=1, banks=1, port_bits=64)
    return dataclasses.replace(chip, tlu=tlu, sram=dataclasses.replace(chip.sram, weight=buffer, act=buffer))


CONFIGS = {
    "4x16": {},
    "3x8-lps2-gate": {"rows": 3, "width": 8, "levels_per_stage": 2, "zero_handling": "gate"},
    "4x16-lps3-5trit": {"levels_per_stage": 3, "weight_encoding": "5trit"},
    "2x4-acc11-wraps": {"rows": 2, "width": 4, "acc_bits": 11},
    "1x2": {"rows": 1, "width": 2, "acc_bits": 16},
}


def check_three_ways(core, acts, weights, token_block=1) -> None:
    """RTL outputs == ternary_matmul (wrapped); RTL compute cycles and memory strobes == the
    chip's schedule, and == tlu_cycles when the ports keep up and the block is one token."""
    outputs, cycles, stats = run_gemm(core, acts, weights, token_block=token_block)
    golden = ternary_matmul(acts, weights, core.tlu, check_overflow=False)
    np.testing.assert_array_equal(outputs, golden.outputs)
    m, k = acts.shape
    n = weights.shape[0]
    schedule = core_schedule(core.chip, m, k, n, token_block=token_block)
    assert cycles == stats.compute_cycles == schedule.cycles
    assert (stats.weight_reads, stats.act_reads, stats.result_writes) == (
        schedule.weight_word_reads, schedule.act_slice_reads, schedule.result_writes)
    if token_block == 1 and core.word_cycles == core.slice_cycles == 1:
        assert cycles == tlu_cycles(core.tlu, m, k, n, cores=1)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("shape", [(2, 40, 9), (1, 1, 1)])
def test_golden_vectors(config, shape):
    core = elaborate(small_chip(**CONFIGS[config]))
    m, k, n = shape
    cases = golden_vectors(core.tlu, m=m, k=k, n=n, seed=len(config))
    assert any(case.result.overflow for case in cases) == (config == "2x4-acc11-wraps" and k > 1)
    for case in cases:
        check_three_ways(core, case.acts, case.weights)


@pytest.mark.parametrize("config", ["4x16", "3x8-lps2-gate", "4x16-lps3-5trit"])
def test_random_shapes(config):
    core = elaborate(small_chip(**CONFIGS[config]))
    rng = np.random.default_rng(99)
    for _ in range(5):
        m, k, n = (int(x) for x in rng.integers(1, [4, 70, 14], endpoint=True))
        acts = rng.integers(-128, 128, size=(m, k))
        weights = rng.integers(-1, 2, size=(n, k)).astype(np.int8)
        check_three_ways(core, acts, weights)


def test_fpga_proto_ragged_gemm():
    chip = load_chip("fpga-proto")
    case = golden_vectors(chip.tlu, m=2, k=130, n=11, seed=5)[-1]  # ragged: K = 129
    assert case.name == "ragged" and case.acts.shape[1] % chip.tlu.width != 0
    check_three_ways(elaborate(chip), case.acts, case.weights)


@pytest.mark.slow
def test_fpga_proto_golden_vectors_and_sim_speed(capsys):
    core = elaborate("fpga-proto")
    for case in golden_vectors(core.tlu, m=2, k=192, n=12, seed=1):
        check_three_ways(core, case.acts, case.weights)
    stats = sim_speed(core)
    assert stats.compute_cycles == tlu_cycles(core.tlu, 4, 512, 32)  # unstalled ports, one accumulator
    with capsys.disabled():
        print(f"\nfpga-proto Amaranth simulation: {stats.cycles_per_s:.0f} cycles/s overall, "
              f"{stats.compute_cycles_per_s:.0f} cycles/s computing ({stats.total_cycles} cycles in "
              f"{stats.run_s:.2f} s, setup {stats.setup_s:.2f} s)")


@pytest.mark.parametrize("token_block", [None, 2])
def test_streams_tolerate_gaps_and_backpressure(token_block):
    """Input bubbles and a stalling consumer change neither the results nor compute_cycles.

    Without a token block the core is driven as before token blocks existed (token_block
    left at 0: one token per weight read, tlu_cycles); with one, on a slow weight port."""
    chip = small_chip(rows=3, width=8, acc_per_tree=2 if token_block else 1)
    if token_block:  # a 48-bit weight word through a 16-bit port: 3 cycles
        chip = dataclasses.replace(chip, sram=dataclasses.replace(
            chip.sram, weight=BufferSpec(capacity_kib=1, banks=1, port_bits=16)))
    core = elaborate(chip)
    rng = np.random.default_rng(4)
    m, k, n = 3, 20, 7
    acts = rng.integers(-128, 128, size=(m, k))
    weights = rng.integers(-1, 2, size=(n, k)).astype(np.int8)
    results, dones, busy_seen = [], [], []

    async def testbench(ctx):
        ctx.set(core.m, m)
        ctx.set(core.k, k)
        ctx.set(core.n, n)
        if token_block:
            ctx.set(core.token_block, token_block)
        ctx.set(core.start, 1)
        await ctx.tick()
        ctx.set(core.start, 0)
        for stream, beats, payload in ((core.weights, weight_beats(core.tlu, weights), core.weights.payload),
                                       (core.acts, act_beats(core.tlu, acts), core.acts.payload.as_value())):
            for beat in beats:
                while rng.random() < 0.4:  # a bubble
                    ctx.set(stream.valid, 0)
                    await ctx.tick()
                ctx.set(payload, beat)
                ctx.set(stream.valid, 1)
                await ctx.tick().until(stream.ready)
            ctx.set(stream.valid, 0)
        while len(results) < m * n:
            ready = int(rng.random() < 0.5)
            ctx.set(core.results.ready, ready)
            _, _, valid, value, done, busy = await ctx.tick().sample(
                core.results.valid, core.results.payload, core.done, core.busy)
            busy_seen.append(busy)
            if valid and ready:
                results.append(value)
            dones.append(done)
        ctx.set(core.results.ready, 0)
        await ctx.tick()
        busy_seen.append(ctx.get(core.busy))
        expected = core_schedule(chip, m, k, n, token_block=token_block or 1).cycles
        assert ctx.get(core.compute_cycles) == expected
        if not token_block:
            assert expected == tlu_cycles(core.tlu, m, k, n)

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    np.testing.assert_array_equal(np.array(results).reshape(m, n), acts @ weights.T)
    assert sum(dones) == 1 and dones[-1] == 1  # done pulses with the last accepted result
    assert all(busy_seen[:-1]) and busy_seen[-1] == 0


def test_shapes_that_do_not_fit_are_refused():
    chip = small_chip()  # 64 weight words of 4 x 16 weights
    with pytest.raises(TritiumError, match=r"needs 65 weight memory words .* the core has 64"):
        run_gemm(chip, np.zeros((1, 16 * 65)), np.zeros((4, 16 * 65), dtype=np.int8))
    with pytest.raises(SpecError, match="acts"):
        run_gemm(chip, np.full((1, 4), 128), np.zeros((1, 4), dtype=np.int8))
    with pytest.raises(SpecError, match="weights"):
        run_gemm(chip, np.zeros((1, 4), dtype=np.int64), np.full((1, 4), 2))
