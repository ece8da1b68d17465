# amaranth: UnusedElaboratable=no
"""The INT8 MAC datapath (tlu.style = "mac"), checked like the adder tree.

Unit level: MacUnit's sums equal numpy's (extreme operands included, wider multipliers,
token blocks, a wrapping accumulator) and a pass is done exactly ``latency`` cycles after
its last slice. Core level (slow): ragged GEMM shapes on small chips give outputs equal to
the golden model bit for bit, and compute cycles and counted weight/activation reads and
result writes equal to :func:`tritium.sim.datapath.mac_schedule` called with the chip's
plain ints.
"""

from __future__ import annotations

import dataclasses

import pytest

from tritium.base.errors import SpecError
from tritium.hdl import core_schedule, elaborate
from tritium.hdl.mac import MacUnit
from tritium.hdl.style import chip_with_style, make_unit, with_style
from tritium.sim import TluSpec, load_chip
from tritium.sim.datapath import mac_schedule

FPGA_PROTO = load_chip("fpga-proto")


@pytest.mark.parametrize("tlu,keys", [
    (TluSpec(rows=3, width=8, acc_bits=24), {}),
    (TluSpec(rows=2, width=16, acc_bits=24, levels_per_stage=3, acc_per_tree=3), dict(mac_bits=12)),
    (TluSpec(rows=2, width=2, acc_bits=12), {}),  # wraps
])
@pytest.mark.parametrize("k", [1, 13, 40])
def test_mac_unit_is_bit_exact_and_on_time(rtl_checks, tlu, keys, k):
    unit = MacUnit(with_style(tlu, style="mac", **keys))
    assert unit.latency == unit.tlu.pipeline_depth_cycles
    rtl_checks.check_unit(unit, k, seed=k)


@pytest.mark.parametrize("tlu_fields,keys,key", [
    ({}, dict(mac_bits=4), "tlu.mac_bits"),
    ({}, dict(lut_group=2), "tlu.lut_group"),  # another style's key
    (dict(zero_handling="gate"), {}, "tlu.zero_handling"),
])
def test_what_the_mac_rtl_cannot_build_is_named(tlu_fields, keys, key):
    with pytest.raises(SpecError) as err:
        tlu = with_style(TluSpec(**{"rows": 4, "width": 8, **tlu_fields}), style="mac", **keys)
        make_unit(tlu)
    assert key.endswith(err.value.key)
    if key == "tlu.zero_handling":
        with pytest.raises(SpecError, match=key):
            elaborate(dataclasses.replace(FPGA_PROTO, tlu=tlu))


MAC_CHIPS = {
    "4x16": dict(style=dict(style="mac")),
    "4x16-acc3-word2-mac12": dict(acc_per_tree=3, weight_port_bits=64, style=dict(style="mac", mac_bits=12)),
    "3x8-acc2-5trit-word3-slice2-wraps": dict(rows=3, width=8, acc_per_tree=2, weight_port_bits=16,
                                              act_port_bits=32, acc_bits=14, weight_encoding="5trit",
                                              levels_per_stage=2, style=dict(style="mac")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", MAC_CHIPS)
def test_mac_core_follows_mac_schedule(rtl_checks, name):
    chip = rtl_checks.small_chip(**MAC_CHIPS[name])
    rtl_checks.check_core_follows(chip, mac_schedule, mac_bits=chip.tlu.mac_bits)


@pytest.mark.slow
def test_mac_on_fpga_proto(rtl_checks):
    chip = chip_with_style(FPGA_PROTO, style="mac")
    rtl_checks.check_core(chip, [(3, 130, 11), (2, 1, 1)],
                          lambda m, k, n, b: core_schedule(chip, m, k, n, token_block=b))


@pytest.mark.slow
def test_mac_verilog_passes_its_icarus_testbench(rtl_checks, tmp_path):
    """Exported Verilog of a MAC core (token block 3, a stalling activation port) runs its golden
    cases with results, compute cycles and memory accesses == mac_schedule."""
    chip = rtl_checks.small_chip(acc_per_tree=3, act_port_bits=64, style=dict(style="mac"))
    stdout = rtl_checks.icarus_passes(chip, tmp_path / "out", m=4, k=40, n=5)
    assert "FAIL" not in stdout


def test_int_weight_array_is_bit_exact(rtl_checks):
    """The array with mac_bits-bit weights (what calibration synthesizes) multiplies any INT8 weights."""
    import numpy as np
    from amaranth.sim import Simulator

    tlu = with_style(TluSpec(rows=3, width=4, acc_bits=24), style="mac")
    unit = MacUnit(tlu, int_weights=True)
    rng = np.random.default_rng(1)
    acts = rng.integers(-128, 128, size=(6, 4))
    weights = rng.integers(-128, 128, size=(6, 3, 4))
    acts[0], weights[0] = -128, -128
    seen = []

    async def testbench(ctx):
        for cycle in range(6 + unit.latency + 1):
            ctx.set(unit.valid_in, cycle < 6)
            if cycle < 6:
                ctx.set(unit.act, [int(x) for x in acts[cycle]])
                ctx.set(unit.w, [[int(x) for x in row] for row in weights[cycle]])
                ctx.set(unit.first_in, 1)
                ctx.set(unit.last_in, 1)
            _, _, done, acc = await ctx.tick().sample(unit.done, unit.acc)
            if done:
                seen.append((cycle, [int(v) for v in acc]))

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == [(c + unit.latency, [int(v) for v in weights[c] @ acts[c]]) for c in range(6)]
