# amaranth: UnusedElaboratable=no
"""The sign-select adder tree: signature, latency, bit-exact sums, gating, refusals."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data
from amaranth.sim import Simulator

import tritium.hdl
import tritium.hdl.tree
from tritium.base.errors import SpecError, TritiumError
from tritium.hdl.tree import WEIGHT_CODE, AdderTree, tree_latency
from tritium.sim import TluSpec, load_chip

CODES = np.array([WEIGHT_CODE[0], WEIGHT_CODE[1], 0, WEIGHT_CODE[-1]])  # indexed by trit % 4


def run_tree(tree: AdderTree, acts: np.ndarray, trits: np.ndarray, valid=None) -> list[tuple[int, int, int]]:
    """Drive one slice per cycle; return (cycle, valid_out, sum) after each clock edge."""
    valid = np.ones(len(acts), dtype=bool) if valid is None else valid
    seen = []

    async def testbench(ctx):
        for cycle in range(len(acts) + tree.latency + 1):
            if cycle < len(acts):
                ctx.set(tree.act, [int(a) for a in acts[cycle]])
                ctx.set(tree.w, [int(c) for c in CODES[trits[cycle] % 4]])
                ctx.set(tree.valid_in, int(valid[cycle]))
            else:
                ctx.set(tree.valid_in, 0)
            await ctx.tick()
            seen.append((cycle + 1, ctx.get(tree.valid_out), ctx.get(tree.sum)))

    sim = Simulator(tree)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return seen


def test_signature_is_stable():
    tree = AdderTree(64, 8, 1)
    members = tree.signature.members
    assert members["act"].shape == data.ArrayLayout(signed(8), 64)
    assert members["w"].shape == data.ArrayLayout(unsigned(2), 64)
    assert Shape.cast(members["valid_in"].shape) == unsigned(1) and members["valid_in"].flow.name == "In"
    assert members["sum"].shape == signed(8 + 6 + 1) and members["sum"].flow.name == "Out"
    assert Shape.cast(members["valid_out"].shape) == unsigned(1) and members["valid_out"].flow.name == "Out"
    assert WEIGHT_CODE == {0: 0b00, 1: 0b01, -1: 0b11}


@pytest.mark.parametrize("width,lps", [(2, 1), (16, 1), (16, 3), (16, 4), (64, 2), (64, 5)])
def test_latency_is_one_plus_adder_stages(width, lps):
    tree = AdderTree(width, 8, lps)
    tlu = TluSpec(rows=1, width=width, levels_per_stage=lps)
    assert tree.latency == 1 + tlu.adder_stages == tlu.pipeline_depth_cycles - 1 == tree_latency(width, lps)
    # one valid slice in cycle 0: valid_out is high in exactly cycle `latency`
    trits = np.ones((1, width), dtype=np.int8)
    seen = run_tree(tree, np.full((1, width), 3), trits)
    assert [cycle for cycle, valid, _ in seen if valid] == [tree.latency]
    assert dict((c, s) for c, _, s in seen)[tree.latency] == 3 * width


@pytest.mark.parametrize(
    "width,lps,gate", [(2, 1, False), (16, 1, False), (16, 3, True), (64, 1, False), (64, 2, True), (8, 3, False)]
)
def test_sums_are_bit_exact_with_extremes(width, lps, gate):
    rng = np.random.default_rng(width + lps)
    count = 60
    acts = rng.integers(-128, 128, size=(count, width))
    trits = rng.integers(-1, 2, size=(count, width))
    acts[0], trits[0] = 127, 1  # largest positive sum
    acts[1], trits[1] = -128, -1  # largest sum: -(-128) needs the extra bit
    acts[2], trits[2] = -128, 1  # most negative
    acts[3], trits[3] = 55, 0  # all zero weights
    acts[4] = np.where(np.arange(width) % 2, -128, 127)
    valid = rng.random(count) < 0.8  # bubbles do not disturb the pipeline
    valid[:5] = True
    seen = run_tree(AdderTree(width, 8, lps, gate=gate), acts, trits, valid)
    tree_latency_ = tree_latency(width, lps)
    got = {cycle - tree_latency_: s for cycle, v, s in seen if v}
    expected = {i: int(acts[i] @ trits[i]) for i in range(count) if valid[i]}
    assert got == expected
    assert expected[1] == 128 * width and expected[2] == -128 * width


@pytest.mark.parametrize("act_bits,gate", [(8, False), (8, True), (3, False), (5, True)])
def test_sign_select_is_exact_for_every_activation_and_code(act_bits, gate):
    """Every activation with every 2-bit code, including the invalid 0b10 (selects 0)."""
    tree = AdderTree(2, act_bits, gate=gate)
    lo, hi = -(1 << (act_bits - 1)), 1 << (act_bits - 1)
    cases = [(a, code) for a in range(lo, hi) for code in (0b00, 0b01, 0b10, 0b11)]
    value = {0b00: 0, 0b01: 1, 0b10: 0, 0b11: -1}
    seen = []

    async def testbench(ctx):
        ctx.set(tree.valid_in, 1)
        for cycle in range(len(cases) + tree.latency - 1):
            if cycle < len(cases):
                a, code = cases[cycle]
                ctx.set(tree.act, [a, hi - 1])
                ctx.set(tree.w, [code, 0b00])  # the second input has weight 0
            await ctx.tick()
            if cycle + 1 >= tree.latency:
                seen.append(ctx.get(tree.sum))

    sim = Simulator(tree)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    expected = [a * value[code] for a, code in cases]
    assert len(seen) == len(expected), (len(seen), len(expected))
    bad = [(i, cases[i], seen[i], expected[i]) for i in range(len(cases)) if seen[i] != expected[i]]
    assert not bad, bad[:5]


def test_gated_zero_weights_do_not_toggle_select_registers():
    width = 8
    tree = AdderTree(width, 8, 1, gate=True)
    rng = np.random.default_rng(7)
    acts = rng.integers(-128, 128, size=(20, width))
    trits = rng.integers(-1, 2, size=(20, width))
    trits[:, 0] = 0  # input 0 always has a zero weight
    trits[0, 1] = 1
    trits[1:, 1] = 0  # input 1: one non-zero weight, then zeros
    values = {0: set(), 1: set()}

    async def testbench(ctx):
        for i in range(len(acts)):
            ctx.set(tree.act, [int(a) for a in acts[i]])
            ctx.set(tree.w, [int(c) for c in CODES[trits[i] % 4]])
            ctx.set(tree.valid_in, 1)
            await ctx.tick()
            for j in values:
                values[j].add(ctx.get(tree.select_regs[j]))

    sim = Simulator(tree)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert values[0] == {0}  # never loaded: stays at its initial value
    assert values[1] == {int(acts[0, 1])}  # loaded once, then held


def test_from_tlu_sizes_from_the_chip_and_refuses_skip():
    tlu = load_chip("edge-lpddr5").tlu
    tree = AdderTree.from_tlu(tlu)
    assert (tree.width, tree.act_bits, tree.levels_per_stage, tree.gate) == (64, 8, 2, True)
    assert tree.latency + 1 == tlu.pipeline_depth_cycles
    skip = TluSpec(rows=2, width=16, zero_handling="skip")
    with pytest.raises(SpecError, match=r"tlu.zero_handling = 'skip'.*'none' or 'gate'") as err:
        AdderTree.from_tlu(skip)
    assert isinstance(err.value, TritiumError)


@pytest.mark.parametrize(
    "kwargs,key", [({"width": 12}, "width"), ({"width": 16, "act_bits": 1}, "act_bits"),
                   ({"width": 16, "levels_per_stage": 5}, "levels_per_stage")]
)
def test_bad_parameters_are_refused(kwargs, key):
    with pytest.raises(SpecError, match=rf"^{key} = "):
        AdderTree(**kwargs)


def test_doctests():
    for module in (tritium.hdl.tree, tritium.hdl):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0


@pytest.mark.parametrize("gate", [False, True])
def test_zero_activation_gating_is_exact_and_holds_the_registers(gate):
    """zero_act = "gate": a zero activation does not load its sign-select register; sums unchanged."""
    width = 8
    tree = AdderTree(width, 8, 1, gate=gate, gate_act=True)
    rng = np.random.default_rng(11)
    acts = rng.integers(-128, 128, size=(30, width))
    acts[rng.random(acts.shape) < 0.5] = 0  # ReLU^2-like sparsity
    acts[:, 0] = 0  # input 0: always a zero activation
    acts[0, 1], acts[1:, 1] = 5, 0  # input 1: one non-zero activation, then zeros
    trits = rng.integers(-1, 2, size=(30, width))
    trits[0, 1] = 1
    seen = run_tree(tree, acts, trits)
    sums = {cycle: s for cycle, valid, s in seen if valid}
    assert [sums[i + tree.latency] for i in range(len(acts))] == [int(v) for v in (acts * trits).sum(axis=1)]

    values = {0: set(), 1: set()}

    async def testbench(ctx):
        for i in range(len(acts)):
            ctx.set(tree.act, [int(a) for a in acts[i]])
            ctx.set(tree.w, [int(c) for c in CODES[trits[i] % 4]])
            ctx.set(tree.valid_in, 1)
            await ctx.tick()
            for j in values:
                values[j].add(ctx.get(tree.select_regs[j]))

    sim = Simulator(tree)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert values == {0: {0}, 1: {5}}


def test_from_tlu_builds_zero_activation_gating():
    tlu = TluSpec(rows=1, width=16, zero_act="gate")
    tree = AdderTree.from_tlu(tlu)
    assert tree.gate_act and not tree.gate and len(tree.live_regs) == 16
    assert not AdderTree.from_tlu(TluSpec(rows=1, width=16)).gate_act
    from tritium.hdl.style import make_unit
    with pytest.raises(SpecError, match="zero_act"):
        make_unit(TluSpec(rows=1, width=16, zero_act="skip"))
    with pytest.raises(SpecError, match="zero_act"):
        make_unit(TluSpec(rows=1, width=16, style="mac", zero_act="gate"))
