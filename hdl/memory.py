"""On-core buffers: the weight memory with its decoder, and the activation buffer.

Weight memory words hold one *tile slice*: for each of the ``rows`` trees, the
``width`` weights of one K-slice, packed as :func:`tritium.sim.weight_encoding.encode_weights`
packs them (``"2bit"``: 4 codes per byte; ``"5trit"``: 5 trits per byte in base 3).
Each tree's part is a *lane* of :func:`lane_bytes` bytes (the last byte padded with
zero trits) and is written on its own (one lane per stream beat). The decoder turns a
lane into ``width`` 2-bit codes between the memory's read register and the TLU, so the
decode adds no cycle (as ``TluSpec.weight_encoding`` documents).

Both memories use :class:`amaranth.lib.memory.Memory` with one write port and one
synchronous read port (data the cycle after the address), which FPGA tools map to
block RAM.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from tritium.sim.chip_parts import TluSpec
from tritium.sim.weight_encoding import TRITS_PER_BYTE, encode_weights

__all__ = ["lane_bytes", "pack_lane", "WeightDecoder", "WeightMemory", "ActivationBuffer"]


def lane_bytes(tlu: TluSpec) -> int:
    """Bytes of one tree's weights for one slice: ceil(width / trits per byte of the encoding)."""
    return -(-tlu.width // TRITS_PER_BYTE[tlu.weight_encoding])


def pack_lane(tlu: TluSpec, trits: np.ndarray) -> int:
    """One lane as an integer (byte 0 in the least significant bits) from up to ``width`` trits.

    Missing trits (the end of K) are zero.
    """
    padded = np.zeros(tlu.width, dtype=np.int8)
    padded[: len(trits)] = trits
    packed = encode_weights(padded, tlu.weight_encoding)
    return int.from_bytes(packed.tobytes(), "little")


def _five_trit_table() -> list[int]:
    """Per byte value, its five 2-bit codes (code j in bits [2j+1:2j]); invalid bytes decode to 0."""
    table = []
    for byte in range(256):
        word = 0
        if byte < 243:
            for j in range(5):
                trit = (byte // 3**j) % 3 - 1
                word |= (trit & 3) << (2 * j)
        table.append(word)
    return table


class WeightDecoder(wiring.Component):
    """Combinational decoder of one weight-memory word into the trees' 2-bit codes.

    Ports:

    - ``word``: In(ArrayLayout(unsigned(8 * lane_bytes), rows)), one lane per tree.
    - ``codes``: Out(ArrayLayout(ArrayLayout(unsigned(2), width), rows)).

    ``"2bit"`` lanes already hold the codes (wiring only). ``"5trit"`` bytes go through a
    256-entry ROM (five codes per byte; bytes above 242 decode to zero weights).
    """

    def __init__(self, tlu: TluSpec):
        self.tlu = tlu
        self.lane_bytes = lane_bytes(tlu)
        super().__init__(
            {
                "word": In(data.ArrayLayout(unsigned(8 * self.lane_bytes), tlu.rows)),
                "codes": Out(data.ArrayLayout(data.ArrayLayout(unsigned(2), tlu.width), tlu.rows)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        tlu = self.tlu
        if tlu.weight_encoding == "2bit":
            for r in range(tlu.rows):
                m.d.comb += self.codes[r].as_value().eq(self.word[r][: 2 * tlu.width])
            return m
        m.submodules.rom = rom = Memory(shape=unsigned(10), depth=256, init=_five_trit_table())
        for r in range(tlu.rows):
            lane = self.word[r]
            codes = []
            for b in range(self.lane_bytes):
                port = rom.read_port(domain="comb")
                m.d.comb += port.addr.eq(lane[8 * b : 8 * b + 8])
                codes.append(port.data)
            flat = Signal(10 * self.lane_bytes, name=f"codes{r}")
            m.d.comb += flat.eq(Cat(*codes))
            m.d.comb += self.codes[r].as_value().eq(flat[: 2 * tlu.width])
        return m


class WeightMemory(wiring.Component):
    """The weight buffer: ``depth`` words of ``rows`` lanes, written a lane at a time.

    Ports:

    - ``wr_addr``: In(unsigned(addr_bits)), ``wr_lane``: In(range(rows)),
      ``wr_data``: In(unsigned(8 * lane_bytes)), ``wr_en``: In(1): write one lane.
    - ``rd_addr``: In(unsigned(addr_bits)): the word read when ``rd_en`` is high.
    - ``rd_en``: In(1, init=1): read this cycle (the read port's enable; while it is
      low the port keeps the word it read last).
    - ``codes``: Out(ArrayLayout(ArrayLayout(unsigned(2), width), rows)): the decoded
      word of the latest read (``rd_addr`` of the previous cycle when ``rd_en`` was high).

    Args:
        tlu: sizes the lanes (rows, width, weight_encoding).
        depth: words, >= 1.
    """

    def __init__(self, tlu: TluSpec, depth: int):
        self.tlu, self.depth = tlu, depth
        self.lane_bytes = lane_bytes(tlu)
        self.addr_bits = max(1, ceil_log2(depth))
        super().__init__(
            {
                "wr_addr": In(unsigned(self.addr_bits)),
                "wr_lane": In(range(max(2, tlu.rows))),
                "wr_data": In(unsigned(8 * self.lane_bytes)),
                "wr_en": In(1),
                "rd_addr": In(unsigned(self.addr_bits)),
                "rd_en": In(1, init=1),
                "codes": Out(data.ArrayLayout(data.ArrayLayout(unsigned(2), self.tlu.width), tlu.rows)),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        rows = self.tlu.rows
        layout = data.ArrayLayout(unsigned(8 * self.lane_bytes), rows)
        m.submodules.mem = mem = Memory(shape=layout, depth=self.depth, init=[])
        wr = mem.write_port(granularity=1)
        rd = mem.read_port()
        m.submodules.decoder = decoder = WeightDecoder(self.tlu)
        m.d.comb += [
            wr.addr.eq(self.wr_addr),
            wr.data.eq(self.wr_data.replicate(rows)),
            rd.addr.eq(self.rd_addr),
            rd.en.eq(self.rd_en),
            decoder.word.eq(rd.data),
            self.codes.eq(decoder.codes),
        ]
        m.d.comb += [wr.en[r].eq(self.wr_en & (self.wr_lane == r)) for r in range(rows)]
        return m


class ActivationBuffer(wiring.Component):
    """The activation buffer: ``depth`` slices of ``width`` signed activations.

    Ports: ``wr_addr``, ``wr_data`` (ArrayLayout(signed(act_bits), width)), ``wr_en``
    write one slice; ``rd_addr`` names the slice read in a cycle with ``rd_en`` (In(1,
    init=1), the read port's enable) high, and ``rd_data`` holds it from the next cycle
    until the next read.
    """

    def __init__(self, tlu: TluSpec, depth: int):
        self.tlu, self.depth = tlu, depth
        self.addr_bits = max(1, ceil_log2(depth))
        layout = data.ArrayLayout(signed(tlu.act_bits), tlu.width)
        super().__init__(
            {
                "wr_addr": In(unsigned(self.addr_bits)),
                "wr_data": In(layout),
                "wr_en": In(1),
                "rd_addr": In(unsigned(self.addr_bits)),
                "rd_en": In(1, init=1),
                "rd_data": Out(layout),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.mem = mem = Memory(shape=self.wr_data.shape(), depth=self.depth, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        m.d.comb += [
            wr.addr.eq(self.wr_addr),
            wr.data.eq(self.wr_data),
            wr.en.eq(self.wr_en),
            rd.addr.eq(self.rd_addr),
            rd.en.eq(self.rd_en),
            self.rd_data.eq(rd.data),
        ]
        return m
