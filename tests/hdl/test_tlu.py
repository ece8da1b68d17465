# amaranth: UnusedElaboratable=no
"""The TLU: trees plus accumulators; load on a pass's first slice, wrap at acc_bits, done timing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from amaranth.sim import Simulator

from tritium.base.errors import SpecError
from tritium.hdl.tlu import Tlu
from tritium.hdl.tree import WEIGHT_CODE
from tritium.sim import TluSpec
from tritium.sim.golden import ternary_matmul

CODES = np.array([WEIGHT_CODE[0], WEIGHT_CODE[1], 0, WEIGHT_CODE[-1]])


def run_passes(tlu: TluSpec, acts: list[np.ndarray], weights: list[np.ndarray], gap: int = 0):
    """Stream passes (one token each) through a Tlu; return {cycle: acc list} for done cycles.

    Cycle 0 is the cycle the first slice is on the inputs; ``gap`` idle cycles separate passes.
    """
    dut = Tlu(tlu)
    done = {}

    async def testbench(ctx):
        schedule = []
        for a, w in zip(acts, weights):
            slices = math.ceil(a.size / tlu.width)
            pa = np.zeros(slices * tlu.width, dtype=np.int64)
            pa[: a.size] = a
            pw = np.zeros((tlu.rows, slices * tlu.width), dtype=np.int64)
            pw[:, : a.size] = w
            for s in range(slices):
                cut = slice(s * tlu.width, (s + 1) * tlu.width)
                schedule.append((pa[cut], pw[:, cut], s == 0, s == slices - 1))
            schedule += [None] * gap
        for cycle in range(len(schedule) + tlu.pipeline_depth_cycles + 2):
            item = schedule[cycle] if cycle < len(schedule) else None
            if item is None:
                ctx.set(dut.valid_in, 0)
            else:
                a, w, first, last = item
                ctx.set(dut.act, [int(x) for x in a])
                ctx.set(dut.w, [[int(c) for c in CODES[row % 4]] for row in w])
                ctx.set(dut.valid_in, 1)
                ctx.set(dut.first_in, int(first))
                ctx.set(dut.last_in, int(last))
            # values during cycle `cycle` (before its closing edge)
            _, _, is_done, acc = await ctx.tick().sample(dut.done, dut.acc)
            if is_done:
                done[cycle] = [int(v) for v in acc]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return done


@pytest.mark.parametrize(
    "tlu",
    [
        TluSpec(rows=3, width=8, acc_bits=12, levels_per_stage=2),  # narrowest accumulator: wraps
        TluSpec(rows=2, width=16, acc_bits=24, levels_per_stage=1, zero_handling="gate"),
        TluSpec(rows=1, width=2, acc_bits=10),
    ],
)
@pytest.mark.parametrize("k", [1, 8, 37])
def test_back_to_back_passes_are_bit_exact_and_on_time(tlu, k):
    rng = np.random.default_rng(k)
    passes = 5
    acts = [rng.integers(-128, 128, size=k) for _ in range(passes)]
    weights = [rng.integers(-1, 2, size=(tlu.rows, k)) for _ in range(passes)]
    acts[0][:] = -128
    weights[0][:] = -1  # the largest sums: wraps a 12-bit accumulator for K >= 16
    acts[1][:] = 127
    weights[1][:] = 1
    done = run_passes(tlu, acts, weights)
    slices = math.ceil(k / tlu.width)
    depth = tlu.pipeline_depth_cycles
    # pass p's last slice is on the inputs in cycle (p + 1) * slices - 1
    assert sorted(done) == [(p + 1) * slices - 1 + depth for p in range(passes)]
    assert max(done) + 1 == passes * slices + depth  # the cycle contract of tlu_cycles
    for p, cycle in enumerate(sorted(done)):
        golden = ternary_matmul(acts[p][None, :], weights[p], tlu, check_overflow=False)
        assert done[cycle] == golden.outputs[0].tolist()


def test_accumulators_hold_across_idle_cycles():
    tlu = TluSpec(rows=2, width=4, acc_bits=16)
    rng = np.random.default_rng(3)
    acts = [rng.integers(-128, 128, size=10) for _ in range(3)]
    weights = [rng.integers(-1, 2, size=(2, 10)) for _ in range(3)]
    done = run_passes(tlu, acts, weights, gap=2)
    assert len(done) == 3
    for p, cycle in enumerate(sorted(done)):
        assert done[cycle] == (weights[p] @ acts[p]).tolist()


def test_latency_is_pipeline_depth_and_skip_is_refused():
    tlu = TluSpec(rows=2, width=64, levels_per_stage=4)
    assert Tlu(tlu).latency == tlu.pipeline_depth_cycles == 1 + 2 + 1
    with pytest.raises(SpecError, match="tlu.zero_handling = 'skip'"):
        Tlu(TluSpec(rows=2, width=16, zero_handling="skip"))


@pytest.mark.parametrize("block", [2, 3])
def test_token_block_interleaves_passes_in_their_own_accumulators(block):
    """Slice-outer, token-inner order: token j's slices go to accumulator j, done in token order."""
    tlu = TluSpec(rows=2, width=4, acc_bits=11, acc_per_tree=3)  # wraps: sums reach 4 x 128 x slices
    k = 10
    slices = math.ceil(k / tlu.width)
    rng = np.random.default_rng(block)
    acts = rng.integers(-128, 128, size=(block, slices * tlu.width))
    acts[:, k:] = 0
    acts[0, :k] = -128
    weights = rng.integers(-1, 2, size=(tlu.rows, slices * tlu.width))
    weights[:, k:] = 0
    weights[0, :k] = -1
    dut = Tlu(tlu)
    done = []

    async def testbench(ctx):
        schedule = [(s, j) for s in range(slices) for j in range(block)]
        for cycle in range(len(schedule) + tlu.pipeline_depth_cycles + 2):
            if cycle < len(schedule):
                s, j = schedule[cycle]
                cut = slice(s * tlu.width, (s + 1) * tlu.width)
                ctx.set(dut.act, [int(x) for x in acts[j, cut]])
                ctx.set(dut.w, [[int(c) for c in CODES[row % 4]] for row in weights[:, cut]])
                ctx.set(dut.valid_in, 1)
                ctx.set(dut.first_in, int(s == 0))
                ctx.set(dut.last_in, int(s == slices - 1))
                ctx.set(dut.acc_sel, j)
            else:
                ctx.set(dut.valid_in, 0)
            _, _, is_done, acc = await ctx.tick().sample(dut.done, dut.acc)
            if is_done:
                done.append((cycle, [int(v) for v in acc]))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    last_issue = (slices - 1) * block
    assert [c for c, _ in done] == [last_issue + j + tlu.pipeline_depth_cycles for j in range(block)]
    golden = ternary_matmul(acts[:, :k], weights[:, :k], tlu, check_overflow=False)
    assert [values for _, values in done] == golden.outputs.tolist()
