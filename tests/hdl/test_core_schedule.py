# amaranth: UnusedElaboratable=no
"""The fourth leg of the three-way check: the RTL follows the mapping (issue 10 item 4).

For GEMM shapes with ragged M, K and N (M not a multiple of the token block, N < rows,
K < width) on fpga-proto and small chips built from it (1, 2, 3 or 4 accumulators per
tree; weight ports that take 2, 3 or 4 cycles per word; an activation port that takes 2
per slice), the Amaranth simulation's outputs equal the golden model bit for bit, and its
compute cycles and the cycles its weight-memory read, activation-buffer read and
result-memory write enables are high equal :func:`tritium.sim.tlu_schedule.tlu_schedule`'s
``cycles``, ``weight_word_reads``, ``act_slice_reads`` and ``result_writes`` exactly.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tritium.hdl import elaborate, run_gemm
from tritium.sim import BufferSpec, load_chip
from tritium.sim.cycles import tlu_cycles
from tritium.sim.golden import ternary_matmul
from tritium.sim.tlu_schedule import tlu_schedule

FPGA_PROTO = load_chip("fpga-proto")


def chip_variant(*, rows=4, width=16, acc_per_tree=1, weight_port_bits=128, act_port_bits=128, **tlu_fields):
    """fpga-proto with a small TLU, 1 KiB weight and activation buffers of one port each."""
    tlu = dataclasses.replace(FPGA_PROTO.tlu, rows=rows, width=width, acc_per_tree=acc_per_tree, **tlu_fields)
    sram = dataclasses.replace(
        FPGA_PROTO.sram,
        weight=BufferSpec(capacity_kib=1, banks=1, port_bits=weight_port_bits),
        act=BufferSpec(capacity_kib=1, banks=1, port_bits=act_port_bits),
    )
    return dataclasses.replace(FPGA_PROTO, tlu=tlu, sram=sram)


# name: (chip, expected (word_cycles, slice_cycles)); a 4 x 16 TLU's word and slice are 128 bits
CHIPS = {
    "fpga-proto": (FPGA_PROTO, (1, 1)),
    "fpga-proto-acc4": (dataclasses.replace(FPGA_PROTO, tlu=dataclasses.replace(FPGA_PROTO.tlu, acc_per_tree=4)),
                        (1, 1)),
    "4x16-acc1": (chip_variant(), (1, 1)),
    "4x16-acc2": (chip_variant(acc_per_tree=2), (1, 1)),
    "4x16-acc4-word2": (chip_variant(acc_per_tree=4, weight_port_bits=64), (2, 1)),
    "4x16-acc4-word4-wraps": (chip_variant(acc_per_tree=4, weight_port_bits=32, acc_bits=14), (4, 1)),
    "4x16-acc2-slice2": (chip_variant(acc_per_tree=2, act_port_bits=64), (1, 2)),
    "4x16-acc1-word4-slice2": (chip_variant(weight_port_bits=32, act_port_bits=64), (4, 2)),
    "4x16-acc2-zero-act-gate": (chip_variant(acc_per_tree=2, zero_act="gate"), (1, 1)),
    "3x8-acc3-5trit-gate-word3": (chip_variant(rows=3, width=8, acc_per_tree=3, weight_port_bits=16,
                                               act_port_bits=64, weight_encoding="5trit", zero_handling="gate",
                                               zero_act="gate", levels_per_stage=2), (3, 1)),
}

# (M, K, N) for the 4 x 16 (and 3 x 8) TLUs: ragged K, N and M, N < rows, K < width
SMALL_SHAPES = [
    (1, 1, 1), (1, 16, 4), (2, 15, 3), (3, 17, 5), (5, 40, 9), (7, 33, 4), (4, 64, 8), (6, 1, 13),
    (9, 50, 2), (5, 16, 1), (8, 31, 7), (3, 100, 6), (11, 20, 5), (2, 48, 12), (7, 7, 7), (10, 33, 3),
    (1, 80, 9), (6, 47, 10), (13, 16, 4), (4, 5, 17),
]
# (M, K, N) for fpga-proto's 8 x 64 TLU (its simulations are ~10x slower: fewer shapes)
PROTO_SHAPES = [(1, 64, 8), (3, 130, 11), (5, 63, 3), (6, 200, 17), (2, 1, 1)]


def _shapes(name: str) -> list[tuple[int, int, int]]:
    return PROTO_SHAPES if name.startswith("fpga-proto") else SMALL_SHAPES


def _token_blocks(acc_per_tree: int, m: int) -> list[int]:
    """The largest block, and one that leaves a ragged last block when there is one."""
    blocks = {acc_per_tree}
    ragged = [b for b in range(2, acc_per_tree) if m % b]
    if ragged:
        blocks.add(ragged[0])
    return sorted(blocks)


def _operands(rng, m, k, n, extreme: bool):
    if extreme:  # the largest sums: wraps a narrow accumulator
        return np.full((m, k), -128), np.full((n, k), -1, dtype=np.int8)
    return rng.integers(-128, 128, size=(m, k)), rng.integers(-1, 2, size=(n, k)).astype(np.int8)


@pytest.mark.slow
@pytest.mark.parametrize("name", CHIPS)
def test_rtl_follows_the_mapping(name):
    chip, port_cycles = CHIPS[name]
    core = elaborate(chip)
    assert (core.word_cycles, core.slice_cycles) == port_cycles
    tlu = chip.tlu
    rng = np.random.default_rng(len(name))
    stalled = 0
    for i, (m, k, n) in enumerate(_shapes(name)):
        acts, weights = _operands(rng, m, k, n, extreme=i % 4 == 3)
        golden = ternary_matmul(acts, weights, tlu, check_overflow=False).outputs
        for block in _token_blocks(tlu.acc_per_tree, m):
            outputs, cycles, stats = run_gemm(core, acts, weights, token_block=block)
            shape = f"{name}: M x K x N = {m} x {k} x {n}, token block {block}"
            np.testing.assert_array_equal(outputs, golden, err_msg=shape)
            want = tlu_schedule(tlu, m, k, n, cores=1, token_block=block,
                                weight_port_bits=chip.sram.weight.bits_per_cycle,
                                act_port_bits=chip.sram.act.bits_per_cycle)
            got = (cycles, stats.weight_reads, stats.act_reads, stats.result_writes)
            assert got == (want.cycles, want.weight_word_reads, want.act_slice_reads, want.result_writes), shape
            if port_cycles == (1, 1) and block == 1:
                assert cycles == tlu_cycles(tlu, m, k, n), shape  # today's contract where nothing stalls
            stalled += want.cycles > want.unit_cycles
    assert stalled > 0 or port_cycles == (1, 1)  # the narrowed ports really stall


def test_the_shapes_cover_the_ragged_cases():
    shapes = set(SMALL_SHAPES)
    assert len(shapes) == len(SMALL_SHAPES) >= 20
    rows, width = 4, 16
    assert any(n < rows for _, _, n in shapes) and any(k < width for _, k, _ in shapes)
    assert any(k % width and k > width for _, k, _ in shapes) and any(n % rows and n > rows for _, _, n in shapes)
    for acc in (2, 3, 4):  # M not a multiple of the token block
        assert any(m % acc and m > acc for m, _, _ in shapes)
        assert any(m % acc and m > acc for m, _, _ in PROTO_SHAPES)
