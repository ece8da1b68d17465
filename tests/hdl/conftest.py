# amaranth: UnusedElaboratable=no
"""Shared checks of the row units (adder tree, LUT, MAC) and of the cores built from them.

The ``rtl_checks`` fixture hands the test modules :func:`run_unit`, :func:`check_unit`,
:func:`small_chip`, :func:`check_core`, :func:`check_core_follows` and :data:`SHAPES`.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from tritium.hdl import elaborate, export, run_gemm
from tritium.hdl.style import chip_with_style
from tritium.hdl.tree import WEIGHT_CODE
from tritium.sim import BufferSpec, load_chip
from tritium.sim.golden import ternary_matmul

FPGA_PROTO = load_chip("fpga-proto")
CODES = {t: WEIGHT_CODE[t] for t in (-1, 0, 1)}


def run_unit(unit, acts: np.ndarray, weights: np.ndarray, passes: int) -> dict[int, list[int]]:
    """Stream ``passes`` passes (token p: acts[p], K = acts.shape[1]) through ``unit`` back to back,
    pass p into accumulator p % acc_per_tree, slices interleaved token by token; {cycle: acc} when done."""
    tlu = unit.tlu
    k = acts.shape[1]
    slices = math.ceil(k / tlu.width)
    pa = np.zeros((passes, slices * tlu.width), dtype=np.int64)
    pa[:, :k] = acts
    pw = np.zeros((tlu.rows, slices * tlu.width), dtype=np.int64)
    pw[:, :k] = weights
    schedule = []
    block = tlu.acc_per_tree
    for b0 in range(0, passes, block):
        for s in range(slices):
            cut = slice(s * tlu.width, (s + 1) * tlu.width)
            for p in range(b0, min(passes, b0 + block)):
                schedule.append((pa[p, cut], pw[:, cut], s == 0, s == slices - 1, p % block))
    done = {}

    async def testbench(ctx):
        for cycle in range(len(schedule) + unit.latency + 2):
            item = schedule[cycle] if cycle < len(schedule) else None
            ctx.set(unit.valid_in, item is not None)
            if item is not None:
                a, w, first, last, sel = item
                ctx.set(unit.act, [int(x) for x in a])
                ctx.set(unit.w, [[CODES[int(t)] for t in row] for row in w])
                ctx.set(unit.first_in, int(first))
                ctx.set(unit.last_in, int(last))
                ctx.set(unit.acc_sel, sel)
            _, _, is_done, acc = await ctx.tick().sample(unit.done, unit.acc)
            if is_done:
                done[cycle] = [int(v) for v in acc]

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return done


def check_unit(unit, k: int, seed: int) -> None:
    """Bit-exact sums (incl. the extremes) and done exactly ``latency`` cycles after the last slice."""
    tlu = unit.tlu
    rng = np.random.default_rng(seed)
    passes = 2 * tlu.acc_per_tree + 1
    acts = rng.integers(-128, 128, size=(passes, k))
    weights = rng.integers(-1, 2, size=(tlu.rows, k))
    acts[0] = -128
    weights[0] = -1
    acts[1] = 127
    done = run_unit(unit, acts, weights, passes)
    golden = ternary_matmul(acts, weights, tlu, check_overflow=False).outputs
    slices, block = math.ceil(k / tlu.width), tlu.acc_per_tree
    want = {}
    for b0 in range(0, passes, block):
        members = list(range(b0, min(passes, b0 + block)))
        for i, p in enumerate(members):
            last_issue = b0 * slices + (slices - 1) * len(members) + i
            want[last_issue + unit.latency] = [int(v) for v in golden[p]]
    assert done == want


def small_chip(*, rows=4, width=16, acc_per_tree=1, weight_port_bits=128, act_port_bits=128, style=(),
               **tlu_fields):
    """fpga-proto with a small TLU of ``style`` keys, 1 KiB weight and activation buffers of one port each."""
    tlu = dataclasses.replace(FPGA_PROTO.tlu, rows=rows, width=width, acc_per_tree=acc_per_tree, **tlu_fields)
    sram = dataclasses.replace(FPGA_PROTO.sram, weight=BufferSpec(capacity_kib=1, banks=1, port_bits=weight_port_bits),
                               act=BufferSpec(capacity_kib=1, banks=1, port_bits=act_port_bits))
    return chip_with_style(dataclasses.replace(FPGA_PROTO, tlu=tlu, sram=sram), **dict(style))


# (M, K, N) for 4 x 16 and 3 x 8 units: ragged K, N and M, N < rows, K < width
SHAPES = [(1, 1, 1), (2, 15, 3), (3, 17, 5), (5, 40, 9), (7, 33, 4), (4, 64, 8), (6, 1, 13), (9, 50, 2),
          (8, 31, 7), (3, 100, 6), (4, 5, 17)]


def check_core(chip, shapes, schedule_of) -> None:
    """Bit-exact outputs and compute cycles / counted strobes == the schedule, for each shape and block."""
    core = elaborate(chip)
    tlu = chip.tlu
    rng = np.random.default_rng(7)
    for i, (m, k, n) in enumerate(shapes):
        if i % 4 == 3:
            acts, weights = np.full((m, k), -128), np.full((n, k), -1, dtype=np.int8)
        else:
            acts, weights = rng.integers(-128, 128, size=(m, k)), rng.integers(-1, 2, size=(n, k)).astype(np.int8)
        golden = ternary_matmul(acts, weights, tlu, check_overflow=False).outputs
        for block in sorted({1, tlu.acc_per_tree}):
            outputs, cycles, stats = run_gemm(core, acts, weights, token_block=block)
            shape = f"M x K x N = {m} x {k} x {n}, token block {block}"
            np.testing.assert_array_equal(outputs, golden, err_msg=shape)
            want = schedule_of(m, k, n, block)
            got = (cycles, stats.weight_reads, stats.act_reads, stats.result_writes)
            assert got == (want.cycles, want.weight_word_reads, want.act_slice_reads, want.result_writes), shape


def check_core_follows(chip, schedule, shapes=SHAPES, **style_ints) -> None:
    """:func:`check_core` against a style's schedule in :mod:`tritium.sim.datapath` (``lut_schedule``,
    ``mac_schedule``: the contract), called with the chip's plain ints: the TLU and port keys every
    style shares, and ``style_ints`` (the style's own keys, e.g. ``mac_bits=chip.tlu.mac_bits``)."""
    tlu = chip.tlu

    def schedule_of(m, k, n, block):
        return schedule(tlu.rows, tlu.width, m, k, n, act_bits=tlu.act_bits, levels_per_stage=tlu.levels_per_stage,
                        acc_per_tree=tlu.acc_per_tree, weight_encoding=tlu.weight_encoding, token_block=block,
                        weight_port_bits=chip.sram.weight.bits_per_cycle,
                        act_port_bits=chip.sram.act.bits_per_cycle, **style_ints)

    check_core(chip, shapes, schedule_of)


IVERILOG = bool(shutil.which("iverilog") and shutil.which("vvp"))


def icarus_passes(chip, out: Path, **shape) -> str:
    """Export ``chip`` into ``out``, compile and run its self-checking testbench; return its output.

    Fails the calling test unless the testbench exits 0 with a ``PASS`` line; skips it
    when Icarus Verilog is not on PATH.
    """
    if not IVERILOG:
        pytest.skip("Icarus Verilog (iverilog, vvp) is not on PATH")
    export(chip, out, **shape)
    subprocess.run(["iverilog", "-g2012", "-o", "sim.vvp", "-c", "files.f"], cwd=out, check=True,
                   capture_output=True, text=True, timeout=300)
    run = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=out, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "PASS" in run.stdout, run.stdout[-2000:] + run.stderr[-2000:]
    return run.stdout


@pytest.fixture
def rtl_checks():
    return types.SimpleNamespace(run_unit=run_unit, check_unit=check_unit, small_chip=small_chip,
                                 check_core=check_core, check_core_follows=check_core_follows, SHAPES=SHAPES,
                                 FPGA_PROTO=FPGA_PROTO, icarus_passes=icarus_passes)
