# amaranth: UnusedElaboratable=no
"""The on-chip self-test: passes on the golden vectors, fails on a corrupted one."""

from __future__ import annotations

import dataclasses

import pytest
from amaranth.sim import Simulator

from tritium.base.errors import TritiumError
from tritium.hdl import elaborate
from tritium.hdl.export import testbench_vectors as golden_streams
from tritium.hdl.selftest import SelfTest
from tritium.sim import BufferSpec, load_chip


def small_chip(weight_port_bits=64, **tlu_fields):
    """fpga-proto with a 3 x 8 TLU and 1 KiB buffers (one 64-bit port unless given)."""
    chip = load_chip("fpga-proto")
    tlu = dataclasses.replace(chip.tlu, **{"rows": 3, "width": 8, **tlu_fields})
    buffer = BufferSpec(capacity_kib=1, banks=1, port_bits=64)
    weight = BufferSpec(capacity_kib=1, banks=1, port_bits=weight_port_bits)
    return dataclasses.replace(chip, tlu=tlu, sram=dataclasses.replace(chip.sram, weight=weight, act=buffer))


def _run(selftest: SelfTest, loops: int, max_cycles: int = 20000) -> dict[str, int]:
    seen = {}

    async def testbench(ctx):
        for cycle in range(max_cycles):
            await ctx.tick()
            if ctx.get(selftest.loops) >= loops or ctx.get(selftest.failed):
                break
        seen.update(cycle=cycle, loops=ctx.get(selftest.loops), passed=ctx.get(selftest.passed),
                    failed=ctx.get(selftest.failed))

    sim = Simulator(selftest)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return seen


def _vectors(chip):
    tlu = chip.tlu
    return golden_streams(chip, m=3, k=2 * tlu.width + 3, n=tlu.rows + 1, seed=3)


@pytest.mark.parametrize("encoding", ["2bit", "5trit"])
def test_selftest_passes_twice_on_golden_vectors(encoding):
    chip = small_chip(weight_encoding=encoding)
    result = _run(SelfTest(elaborate(chip), _vectors(chip)), loops=2)
    assert result["loops"] == 2 and result["passed"] == 1 and result["failed"] == 0, result


def test_selftest_passes_with_a_token_block_and_a_slow_weight_port():
    chip = small_chip(weight_port_bits=16, acc_per_tree=2)  # a 48-bit weight word takes 3 cycles
    vectors = _vectors(chip)
    assert vectors["cases"][4] == 2  # the TLU's largest token block
    result = _run(SelfTest(elaborate(chip), vectors), loops=1)
    assert result["loops"] == 1 and result["passed"] == 1 and result["failed"] == 0, result


@pytest.mark.parametrize("key", ["expected", "cycles", "weight_reads", "result_writes"])
def test_selftest_fails_on_a_corrupted_vector(key):
    chip = small_chip()
    vectors = _vectors(chip)
    if key == "expected":
        vectors["expected"][5] += 1
    else:  # the first case's expected compute cycles or memory accesses
        vectors["cases"][{"cycles": 3, "weight_reads": 5, "result_writes": 7}[key]] += 1
    result = _run(SelfTest(elaborate(chip), vectors), loops=1)
    assert result["failed"] == 1 and result["passed"] == 0, result


def test_selftest_refuses_inconsistent_vectors():
    chip = small_chip()
    vectors = _vectors(chip)
    vectors["acts"].pop()
    with pytest.raises(TritiumError, match="'acts' has"):
        SelfTest(elaborate(chip), vectors)
    with pytest.raises(TritiumError, match="wraps a TritiumCore"):
        SelfTest(object(), vectors)


@pytest.mark.parametrize("style", [dict(style="lut", lut_group=3), dict(style="mac")])
def test_lut_and_mac_cores_pass_their_self_test(style):
    """The on-chip self-test checks a LUT or MAC core against its own style's schedule."""
    from tritium.hdl.style import chip_with_style

    chip = chip_with_style(small_chip(acc_per_tree=2), **style)
    seen = _run(SelfTest(elaborate(chip), _vectors(chip)), loops=2)
    assert seen["loops"] >= 2 and seen["passed"] and not seen["failed"], seen
