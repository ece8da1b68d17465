# amaranth: UnusedElaboratable=no
"""The on-chip self-test: passes on the golden vectors, fails on a corrupted one."""

from __future__ import annotations

import dataclasses

import pytest
from amaranth.sim import Simulator

from tritium.errors import TritiumError
from tritium.hdl import elaborate, gemm_limits
from tritium.hdl.export import testbench_vectors as golden_streams
from tritium.hdl.selftest import SelfTest
from tritium.sim import BufferSpec, load_chip


def small_chip(**tlu_fields):
    """fpga-proto with a 3 x 8 TLU and 1 KiB buffers."""
    chip = load_chip("fpga-proto")
    tlu = dataclasses.replace(chip.tlu, **{"rows": 3, "width": 8, **tlu_fields})
    buffer = BufferSpec(capacity_kib=1, banks=1, port_bits=64)
    return dataclasses.replace(chip, tlu=tlu, sram=dataclasses.replace(chip.sram, weight=buffer, act=buffer))


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
    return golden_streams(tlu, gemm_limits(chip), m=2, k=2 * tlu.width + 3, n=tlu.rows + 1, seed=3)


@pytest.mark.parametrize("encoding", ["2bit", "5trit"])
def test_selftest_passes_twice_on_golden_vectors(encoding):
    chip = small_chip(weight_encoding=encoding)
    result = _run(SelfTest(elaborate(chip), _vectors(chip)), loops=2)
    assert result["loops"] == 2 and result["passed"] == 1 and result["failed"] == 0, result


@pytest.mark.parametrize("key", ["expected", "cases"])
def test_selftest_fails_on_a_corrupted_vector(key):
    chip = small_chip()
    vectors = _vectors(chip)
    if key == "expected":
        vectors["expected"][5] += 1
    else:
        vectors["cases"][3] += 1  # the first case's expected compute cycles
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
