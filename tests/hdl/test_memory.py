# amaranth: UnusedElaboratable=no
"""Weight memory and decoder (2-bit codes and 5-trit bytes), activation buffer, stream beat formats."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from tritium.hdl.memory import ActivationBuffer, WeightDecoder, WeightMemory, lane_bytes, pack_lane
from tritium.hdl.rtl_sim import act_beats, weight_beats
from tritium.hdl.tree import WEIGHT_CODE
from tritium.sim import TluSpec
from tritium.sim.weight_encoding import decode_weights, encode_weights


def simulate(dut, testbench) -> None:
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


def codes_to_trits(codes) -> list[int]:
    back = {code: trit for trit, code in WEIGHT_CODE.items()}
    return [back[c] for c in codes]


def test_lane_bytes():
    assert lane_bytes(TluSpec(rows=1, width=64)) == 16
    assert lane_bytes(TluSpec(rows=1, width=64, weight_encoding="5trit")) == 13
    assert lane_bytes(TluSpec(rows=1, width=2)) == 1


def test_five_trit_decoder_covers_every_byte():
    tlu = TluSpec(rows=1, width=8, weight_encoding="5trit")  # 2 bytes per lane
    dut = WeightDecoder(tlu)
    got = {}

    async def testbench(ctx):
        for byte in range(256):
            ctx.set(dut.word, [byte | (121 << 8)])  # second byte: 121 = five 0 trits
            got[byte] = [list(ctx.get(dut.codes[0]))]

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    for byte in range(243):
        expected = decode_weights(np.array([byte], dtype=np.uint8), "5trit", 5).tolist()
        assert codes_to_trits(got[byte][0][:5]) == expected
        assert got[byte][0][5:] == [0, 0, 0]
    for byte in range(243, 256):  # invalid bytes decode to zero weights
        assert got[byte][0][:5] == [0] * 5


@pytest.mark.parametrize("encoding", ["2bit", "5trit"])
def test_weight_memory_writes_lanes_and_decodes(encoding):
    tlu = TluSpec(rows=3, width=16, weight_encoding=encoding)
    rng = np.random.default_rng(1)
    trits = rng.integers(-1, 2, size=(4, 3, 16)).astype(np.int8)  # 4 words x 3 lanes
    dut = WeightMemory(tlu, depth=4)
    read = {}

    async def testbench(ctx):
        ctx.set(dut.wr_en, 1)
        for word in range(4):
            for lane in (2, 0, 1):  # any lane order
                ctx.set(dut.wr_addr, word)
                ctx.set(dut.wr_lane, lane)
                ctx.set(dut.wr_data, pack_lane(tlu, trits[word, lane]))
                await ctx.tick()
        ctx.set(dut.wr_en, 0)
        for word in (3, 0, 2, 1):
            ctx.set(dut.rd_addr, word)
            await ctx.tick()
            read[word] = [codes_to_trits(list(ctx.get(dut.codes[r]))) for r in range(3)]

    simulate(dut, testbench)
    for word in range(4):
        assert read[word] == trits[word].tolist()


def test_activation_buffer_round_trip():
    tlu = TluSpec(rows=1, width=4, act_bits=8)
    dut = ActivationBuffer(tlu, depth=3)
    slices = [[-128, 127, 0, -1], [1, 2, 3, 4], [5, -6, 7, -8]]
    read = []

    async def testbench(ctx):
        ctx.set(dut.wr_en, 1)
        for addr, values in enumerate(slices):
            ctx.set(dut.wr_addr, addr)
            ctx.set(dut.wr_data, values)
            await ctx.tick()
        ctx.set(dut.wr_en, 0)
        for addr in (2, 0, 1):
            ctx.set(dut.rd_addr, addr)
            await ctx.tick()
            read.append(list(ctx.get(dut.rd_data)))

    simulate(dut, testbench)
    assert read == [slices[2], slices[0], slices[1]]


def test_beat_formats():
    tlu = TluSpec(rows=2, width=4)
    trits = np.array([[1, -1, 0, 1, -1], [0, 0, 1, 1, 1], [-1, -1, -1, -1, -1]], dtype=np.int8)
    beats = weight_beats(tlu, trits)
    # tile 0 (rows 0, 1): slice 0 rows 0, 1, slice 1 rows 0, 1; tile 1 (row 2): slices 0, 1
    order = [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (2, 1)]
    for beat, (row, s) in zip(beats, order, strict=True):
        chunk = np.zeros(4, dtype=np.int8)
        part = trits[row, 4 * s : 4 * s + 4]
        chunk[: len(part)] = part
        assert beat == int(encode_weights(chunk, "2bit")[0])
    acts = np.array([[-1, 2, -128, 127, 5]])
    assert act_beats(tlu, acts) == [0xFF | 2 << 8 | 0x80 << 16 | 0x7F << 24, 5]
