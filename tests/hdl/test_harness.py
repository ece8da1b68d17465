# amaranth: UnusedElaboratable=no
"""The serial harness: every input bit from one shift register, every output bit on one pin."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from amaranth.sim import Simulator

from tritium.base.errors import TritiumError
from tritium.hdl.harness import SerialHarness, core_ports
from tritium.hdl.tree import AdderTree


def _tree_sum(bits: list[int], width: int) -> int:
    """The tree's sum for the chain's low bits: act (8 bits each), then w (2 bits each), then valid_in."""
    def field(lo, n):
        return sum(b << i for i, b in enumerate(bits[lo:lo + n]))
    total = 0
    for i in range(width):
        a = field(8 * i, 8)
        a -= 256 * (a >> 7)
        code = field(8 * width + 2 * i, 2)
        total += a * {0b01: 1, 0b11: -1}.get(code, 0)
    return total


def test_harness_shifts_inputs_and_xors_outputs():
    width = 4
    tree = AdderTree(width)
    harness = SerialHarness(tree)
    assert harness.input_bits == 8 * width + 2 * width + 1 and harness.output_bits == len(tree.sum) + 1
    rng = np.random.default_rng(5)
    stream = [int(b) for b in rng.integers(0, 2, size=200)]
    seen = []

    async def testbench(ctx):
        for bit in stream:
            ctx.set(harness.din, bit)
            await ctx.tick()
            seen.append(ctx.get(harness.dout))

    sim = Simulator(harness)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    # model: chain[0] is the newest bit; the tree sees the chain, its outputs are registered
    # `latency` times, and dout registers their parity once more
    chain = [0] * harness.input_bits
    states = []
    for bit in stream:
        chain = [bit] + chain[:-1]
        states.append(list(chain))
    mask = (1 << len(tree.sum)) - 1
    for t in range(tree.latency + 1, len(stream)):
        state = states[t - tree.latency - 1]
        outputs = (_tree_sum(state, width) & mask, state[-1])  # sum, valid_out = valid_in
        parity = (bin(outputs[0]).count("1") + outputs[1]) % 2
        assert seen[t] == parity, t


def test_a_core_without_outputs_is_refused():
    class Sink(wiring.Component):
        def __init__(self):
            super().__init__({"a": In(4)})

        def elaborate(self, platform):
            return Module()

    with pytest.raises(TritiumError, match="no output port"):
        core_ports(Sink())
    with pytest.raises(TritiumError, match="wraps an Amaranth wiring.Component"):
        SerialHarness(object())
