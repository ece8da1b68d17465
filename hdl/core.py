"""One core's TLU datapath with its controller: load, compute and stream out a ternary GEMM.

The datapath is the unit of ``tlu.style`` (:func:`tritium.hdl.style.make_unit`): adder
trees, LUT rows or MAC rows, all with the same ports; the controller is the same for all
three, and only the pipeline depth differs (for ``lut`` and ``mac`` the schedule is
:func:`tritium.sim.datapath.lut_schedule` / :func:`~tritium.sim.datapath.mac_schedule`,
whose ``pipeline_depth`` stands for ``pipeline_depth_cycles`` below).

:class:`TritiumCore` computes ``outputs = acts @ weights.T`` for an M x K x N ternary
GEMM (acts M x K signed ``act_bits``-bit, weights N x K trits), in four phases:

1. **Load weights** from the ``weights`` stream into the weight memory.
2. **Load activations** from the ``acts`` stream into the activation buffer.
3. **Compute** the weight-stationary loop nest of :mod:`tritium.sim.mapping`, with a
   token block of B = ``token_block`` tokens (1 <= B <= ``tlu.acc_per_tree``)::

       for tile in ceil(N / rows) tiles of rows outputs:
           for block in blocks of B tokens (the last one may be shorter):
               for slice in ceil(K / width) slices:
                   read the tile's weight word of this slice (one weight-memory read)
                   for token in block:          # one activation-buffer read each
                       the TLU adds the slice into the token's accumulator

   A (tile, block, slice) *group* of b tokens takes exactly
   ``max(b * slice_cycles, word_cycles)`` cycles: ``word_cycles`` and ``slice_cycles``
   are the cycles the chip's weight and activation buffer ports need to deliver one
   weight word and one activation slice (:func:`tritium.sim.tlu_schedule.tlu_schedule`): the
   controller waits ``max(0, word_cycles - b * slice_cycles)`` cycles before the
   group's first token and ``slice_cycles - 1`` before each token, so the group's last
   token issues in the group's last cycle. With ``slice_cycles = word_cycles = 1`` it
   never waits: one token's slice per cycle, back to back. The tokens of a block
   finish together in the block's last slice; each writes its word of sums, so the
   result memory is written in order (tile-major) and read out token-major.
4. **Stream out** the M x N results (token-major) on the ``results`` stream.

The compute phase takes exactly :func:`tritium.sim.tlu_schedule.tlu_schedule`'s ``cycles``
(``tiles * slices * sum over blocks of max(b * slice_cycles, word_cycles) +
pipeline_depth_cycles``; with B = 1 and unstalled ports, :func:`tritium.sim.cycles.tlu_cycles`),
and ``compute_cycles`` reports it (see :class:`TritiumCore` for how it is counted). The
strobes ``weight_read``, ``act_read`` and ``result_write`` are the enables of the weight
memory's read port, the activation buffer's read port and the result memory's write
port, high only in the compute phase, so a testbench that counts them counts the
mapping's ``weight_word_reads``, ``act_slice_reads`` and ``result_writes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tritium.base.errors import TritiumError
from tritium.hdl.memory import ActivationBuffer, WeightMemory, lane_bytes
from tritium.hdl.style import make_unit, unit_depth
from tritium.sim.chip_parts import TluSpec

__all__ = ["GemmLimits", "TritiumCore", "COUNTER_BITS", "max_compute_cycles"]

COUNTER_BITS = 32
"""Width of the ``compute_cycles`` output."""


def max_compute_cycles(tlu: TluSpec, weight_words: int, act_slices: int, word_cycles: int = 1,
                       slice_cycles: int = 1) -> int:
    """An upper bound on the compute cycles of any GEMM that fits the buffers.

    A group of b tokens takes ``max(b * slice_cycles, word_cycles) <= b * max(slice_cycles,
    word_cycles)`` cycles, and tiles * slices * M <= weight_words * act_slices.
    """
    return weight_words * act_slices * max(word_cycles, slice_cycles) + unit_depth(tlu)


@dataclass(frozen=True, slots=True, kw_only=True)
class GemmLimits:
    """The GEMM shapes one core's buffers hold (word counts of its three memories).

    The counts do not depend on the loop order or the token block: every weight word,
    activation slice and result word of a GEMM is in its memory for the whole compute
    phase.

    Attributes:
        weight_words: weight-memory words; a GEMM needs ceil(N/rows) * ceil(K/width).
        act_slices: activation-buffer slices; a GEMM needs M * ceil(K/width).
        result_words: result-memory words of ``rows`` accumulators; a GEMM needs
            M * ceil(N/rows).
        rows: the TLU's trees.
        width: the TLU's inputs per tree.
        acc_per_tree: the TLU's accumulators per tree: the largest token block.
    """

    weight_words: int
    act_slices: int
    result_words: int
    rows: int
    width: int
    acc_per_tree: int = 1

    @property
    def max_m(self) -> int:
        """Largest M (with K <= width and N <= rows)."""
        return min(self.act_slices, self.result_words)

    @property
    def max_k(self) -> int:
        """Largest K (with M = 1 and N <= rows)."""
        return min(self.weight_words, self.act_slices) * self.width

    @property
    def max_n(self) -> int:
        """Largest N (with M = 1 and K <= width)."""
        return min(self.weight_words, self.result_words) * self.rows

    def check(self, m: int, k: int, n: int, token_block: int = 1) -> None:
        """Raise :class:`TritiumError` naming the buffer an M x K x N GEMM does not fit,
        or a ``token_block`` outside 1 to ``acc_per_tree``."""
        for key, value in (("M", m), ("K", k), ("N", n)):
            if not isinstance(value, int) or value < 1:
                raise TritiumError(f"{key} = {value!r}: must be an integer >= 1")
        if isinstance(token_block, bool) or not isinstance(token_block, int) or not (
                1 <= token_block <= self.acc_per_tree):
            raise TritiumError(f"token_block = {token_block!r}: must be an integer from 1 to the TLU's "
                               f"acc_per_tree = {self.acc_per_tree}")
        slices, tiles = math.ceil(k / self.width), math.ceil(n / self.rows)
        for what, need, have in (
            ("weight memory words (ceil(N/rows) * ceil(K/width))", tiles * slices, self.weight_words),
            ("activation buffer slices (M * ceil(K/width))", m * slices, self.act_slices),
            ("result memory words (M * ceil(N/rows))", m * tiles, self.result_words),
        ):
            if need > have:
                raise TritiumError(
                    f"GEMM M x K x N = {m} x {k} x {n} does not fit the core: it needs {need} {what}, "
                    f"the core has {have}"
                )


class TritiumCore(wiring.Component):
    """One core: TLU, weight memory, activation buffer, result memory and controller.

    Ports (top-level Verilog names in brackets; ``clk`` and ``rst``, active-high and
    synchronous, are added by Amaranth):

    - ``start`` In(1): in the idle state, begin a GEMM of the shape on ``m``, ``k``, ``n``
      with the token block on ``token_block`` (all sampled in that cycle; 1 <= each and
      the shape must fit :attr:`limits`).
    - ``m``, ``k``, ``n`` In(unsigned): the GEMM shape.
    - ``token_block`` In(range(acc_per_tree + 1)): tokens that share each weight-word
      read, 1 to ``tlu.acc_per_tree``; 0 counts as 1 (so a driver that leaves it low
      gets one token per weight read), values above ``acc_per_tree`` as ``acc_per_tree``.
    - ``weights`` In(stream.Signature(unsigned(8 * lane_bytes))) [``weights__payload``,
      ``weights__valid``, ``weights__ready``]: one beat per tree per slice, the tree's
      ``width`` weights of that K-slice packed as ``encode_weights`` packs them (byte 0
      in the low bits, trits past K zero). Order: tile t (outputs t*rows ...), then
      slice s, then row r of the tile; a partial last tile sends only its real rows:
      ceil(K/width) * N beats in all.
    - ``acts`` In(stream.Signature(ArrayLayout(signed(act_bits), width))): one beat per
      slice (element 0 in the low bits, activations past K zero), token-major:
      M * ceil(K/width) beats.
    - ``results`` Out(stream.Signature(signed(acc_bits))): M * N beats, token-major,
      each an accumulator value (wrapped at acc_bits).
    - ``busy`` Out(1): not idle. ``done`` Out(1): pulses in the cycle the last result
      is accepted (the core is idle again in the next).
    - ``compute_cycles`` Out(unsigned(32)): the length of the last compute phase.
    - ``weight_read``, ``act_read``, ``result_write`` Out(1): the read enable of the
      weight memory, the read enable of the activation buffer and the write enable of
      the result memory in this cycle (high only while computing; the loads write and
      the stream-out reads other ports).

    Streams follow :mod:`amaranth.lib.stream`: a beat transfers in a cycle where both
    ``valid`` and ``ready`` are high. The core accepts one beat per cycle while loading.

    Between the memories and the TLU sit read registers (the block RAM's output and the
    activations' fan-out to every tree each get a cycle of their own), so a slice is on
    the TLU inputs two cycles after the controller reads it; like the memory read, this
    happens before the compute phase's cycle 0 and adds one cycle per GEMM, not per pass.
    A weight word read for a group stays on the trees' inputs (the read port holds its
    data while not enabled) for every token of the group.

    Compute cycle counter: every cycle the controller spends in its issue state (issuing
    a token's slice or waiting for a port) is one compute cycle; a flag travelling the
    same two registers as the data sets the register ``run`` from the first of them, as
    seen at the TLU inputs (cycle 0), and ``run`` is cleared after the cycle in which the
    TLU's ``done`` flags the final pass. The controller issues each group's last token in
    the group's last cycle, so ``compute_cycles``, the count of cycles with ``run`` high,
    is the groups' cycles plus ``pipeline_depth_cycles``. It is cleared by ``start`` and
    holds its value until the next one.

    Args:
        tlu: the TLU (``zero_handling`` "none" or "gate"; ``acc_per_tree`` accumulators).
        weight_depth, act_depth, result_depth: words of the three memories.
        word_cycles: cycles the weight buffer's ports take to deliver one weight word (>= 1).
        slice_cycles: cycles the activation buffer's ports take to deliver one slice (>= 1).
        src_loc_at: stack frames between the caller to blame (for Amaranth's "created
            but never used" warning) and this constructor.

    Raises:
        TritiumError: ``word_cycles`` or ``slice_cycles`` is not an integer >= 1, or the
            buffers allow GEMMs longer than the compute cycle counter holds.
    """

    def __init__(self, tlu: TluSpec, *, weight_depth: int, act_depth: int, result_depth: int,
                 word_cycles: int = 1, slice_cycles: int = 1, src_loc_at: int = 0):
        for key, value in (("word_cycles", word_cycles), ("slice_cycles", slice_cycles)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self._MustUse__silence = True
                raise TritiumError(f"{key} = {value!r}: must be an integer >= 1")
        self.tlu = tlu
        self.word_cycles, self.slice_cycles = word_cycles, slice_cycles
        self.limits = GemmLimits(
            weight_words=weight_depth, act_slices=act_depth, result_words=result_depth,
            rows=tlu.rows, width=tlu.width, acc_per_tree=tlu.acc_per_tree,
        )
        lim = self.limits
        max_cycles = max_compute_cycles(tlu, lim.weight_words, lim.act_slices, word_cycles, slice_cycles)
        if max_cycles >= 2**COUNTER_BITS:
            self._MustUse__silence = True
            raise TritiumError(f"the core's buffers allow GEMMs of {max_cycles} cycles: more than "
                               f"the {COUNTER_BITS}-bit compute cycle counter holds")
        super().__init__(
            {
                "start": In(1),
                "m": In(range(lim.max_m + 1)),
                "k": In(range(lim.max_k + 1)),
                "n": In(range(lim.max_n + 1)),
                "token_block": In(range(tlu.acc_per_tree + 1)),
                "weights": In(stream.Signature(8 * lane_bytes(tlu))),
                "acts": In(stream.Signature(data.ArrayLayout(signed(tlu.act_bits), tlu.width))),
                "results": Out(stream.Signature(signed(tlu.acc_bits))),
                "busy": Out(1),
                "done": Out(1),
                "compute_cycles": Out(COUNTER_BITS),
                "weight_read": Out(1),
                "act_read": Out(1),
                "result_write": Out(1),
            },
            src_loc_at=1 + src_loc_at,
        )

    def _lead(self, block) -> object:
        """Cycles to wait before a group of ``block`` tokens issues its first token:
        ``max(0, word_cycles - block * slice_cycles) + slice_cycles - 1`` (a table of
        constants, so the controller multiplies nothing)."""
        wc, sc, top = self.word_cycles, self.slice_cycles, self.tlu.acc_per_tree
        if wc <= sc:  # a block of one token already covers the word
            return sc - 1
        return Array([max(0, wc - b * sc) + sc - 1 for b in range(top + 1)])[block]

    def elaborate(self, platform) -> Module:
        m = Module()
        spec, lim = self.tlu, self.limits
        rows, top = spec.rows, spec.acc_per_tree
        m.submodules.tlu = tlu = make_unit(spec)  # the adder tree, LUT or MAC unit of tlu.style
        m.submodules.wmem = wmem = WeightMemory(spec, lim.weight_words)
        m.submodules.abuf = abuf = ActivationBuffer(spec, lim.act_slices)
        m.submodules.rmem = rmem = Memory(
            shape=data.ArrayLayout(signed(spec.acc_bits), rows), depth=lim.result_words, init=[]
        )
        rwr, rrd = rmem.write_port(), rmem.read_port()

        # the GEMM's shape and token block, latched at start
        n_tok = Signal.like(self.m)
        n_out = Signal.like(self.n)
        n_sl = Signal(range(lim.max_k // spec.width + 1))
        tb_in = Signal.like(self.token_block)  # the token_block input, 0 -> 1, clamped to acc_per_tree
        m.d.comb += tb_in.eq(Mux(self.token_block == 0, 1, Mux(self.token_block > top, top, self.token_block)))
        blk0 = Signal(range(top + 1))  # the first block of every tile: min(token_block, M)
        tb = Signal(range(top + 1))
        # counters of the loads and the stream-out
        s = Signal.like(n_sl)  # slice
        r = Signal(range(max(2, rows)))  # row within a tile
        base = Signal(range(lim.max_n + rows + 1))  # first output of the tile: t * rows
        tok = Signal.like(n_tok)  # token
        waddr = Signal(range(lim.weight_words + 1))
        aaddr = Signal(range(lim.act_slices + lim.max_k + 1))
        rptr = Signal(range(lim.result_words + 1))
        optr = Signal(range(lim.result_words + lim.max_m + 1))
        out_i = Signal.like(n_out)  # output index within a token
        # counters of the compute loop nest
        tok0 = Signal.like(n_tok)  # first token of the block
        blk = Signal(range(top + 1))  # tokens in the block
        j = Signal(range(max(2, top)))  # token within the block
        wtile = Signal.like(waddr)  # the tile's first weight word: t * n_sl
        ablk = Signal.like(aaddr)  # the block's first slice: tok0 * n_sl
        wait = Signal(range(max(2, self.word_cycles + self.slice_cycles)))  # cycles left before the next issue

        last_slice = s == n_sl - 1
        last_tile = base + rows >= n_out
        last_token = tok == n_tok - 1
        last_row = (r == rows - 1) | (base + r + 1 == n_out)
        last_in_block = j == blk - 1
        last_block = tok0 + blk == n_tok
        next_tok0 = Signal.like(n_tok)
        next_left = Signal.like(n_tok)
        next_blk = Signal.like(blk)
        m.d.comb += [
            next_tok0.eq(tok0 + blk),
            next_left.eq(n_tok - next_tok0),
            next_blk.eq(Mux(next_left < tb, next_left, tb)),
        ]

        # Two register stages between the controller and the TLU: the memories' read
        # (r*: what the memories output in the cycle after the controller reads) and the
        # read registers (i*: what the TLU sees a cycle later). The read registers keep the
        # block RAMs' long clock-to-output and the routing of each activation to every
        # tree out of one cycle (on ECP5 that path alone limited the core to ~72 MHz).
        rv, rfirst, rlast, rfinal, rgo = Signal(), Signal(), Signal(), Signal(), Signal()
        iv, ifirst, ilast, ifinal = Signal(), Signal(), Signal(), Signal()
        rsel, isel = Signal.like(tlu.acc_sel), Signal.like(tlu.acc_sel)
        act_q = Signal(data.ArrayLayout(signed(spec.act_bits), spec.width), reset_less=True)
        w_q = Signal(data.ArrayLayout(data.ArrayLayout(unsigned(2), spec.width), rows), reset_less=True)
        run = Signal()
        cycles = Signal(COUNTER_BITS)
        m.d.sync += [
            rv.eq(0), rgo.eq(0),
            iv.eq(rv), ifirst.eq(rfirst), ilast.eq(rlast), ifinal.eq(rfinal), isel.eq(rsel),
            act_q.eq(abuf.rd_data), w_q.eq(wmem.codes),
        ]
        with m.If(rgo):
            m.d.sync += run.eq(1)  # high from cycle 0 of the compute phase as the TLU inputs see it
        m.d.comb += [
            tlu.act.eq(act_q),
            tlu.w.eq(w_q),
            tlu.valid_in.eq(iv),
            tlu.first_in.eq(ifirst),
            tlu.last_in.eq(ilast),
            tlu.acc_sel.eq(isel),
            wmem.rd_addr.eq(waddr),
            abuf.rd_addr.eq(aaddr),
            abuf.wr_addr.eq(aaddr),
            abuf.wr_data.eq(self.acts.payload),
            rwr.addr.eq(rptr),
            rwr.data.eq(tlu.acc),
            rwr.en.eq(tlu.done),
            rrd.addr.eq(optr),
            self.results.payload.eq(rrd.data[r]),
            self.compute_cycles.eq(cycles),
            wmem.rd_en.eq(0),  # read only where the issue state says so
            abuf.rd_en.eq(0),
            self.weight_read.eq(wmem.rd_en),
            self.act_read.eq(abuf.rd_en),
            self.result_write.eq(rwr.en),
        ]
        # Weight writes are registered on their way to the memory: the write enables of
        # every block RAM of the weight buffer are far from the controller (on ECP5 that
        # path limited the core to ~96 MHz). A write lands a cycle late, always during
        # LOAD_A (a GEMM has at least one activation beat), before the first read.
        wmem_wr = {"wr_addr": Signal.like(wmem.wr_addr), "wr_lane": Signal.like(wmem.wr_lane),
                   "wr_data": Signal.like(wmem.wr_data, reset_less=True), "wr_en": Signal()}
        m.d.sync += [
            wmem_wr["wr_addr"].eq(waddr), wmem_wr["wr_lane"].eq(r), wmem_wr["wr_data"].eq(self.weights.payload),
            wmem_wr["wr_en"].eq(0),
        ]
        m.d.comb += [getattr(wmem, port).eq(value) for port, value in wmem_wr.items()]
        # the final-pass flag travels beside the TLU pipeline
        final = iv & ifinal
        for stage in range(tlu.latency):
            delayed = Signal(name=f"final{stage + 1}")
            m.d.sync += delayed.eq(final)
            final = delayed
        final_done = tlu.done & final
        with m.If(tlu.done):
            m.d.sync += rptr.eq(rptr + 1)
        with m.If(run):
            m.d.sync += cycles.eq(cycles + 1)
        with m.If(final_done):
            m.d.sync += run.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        n_tok.eq(self.m), n_out.eq(self.n),
                        n_sl.eq((self.k + spec.width - 1) >> spec.levels),
                        tb.eq(tb_in), blk0.eq(Mux(self.m < tb_in, self.m, tb_in)),
                        s.eq(0), r.eq(0), base.eq(0), tok.eq(0), waddr.eq(0), aaddr.eq(0),
                        rptr.eq(0), cycles.eq(0),
                    ]
                    m.next = "LOAD_W"
            with m.State("LOAD_W"):
                m.d.comb += [self.busy.eq(1), self.weights.ready.eq(1)]
                m.d.sync += wmem_wr["wr_en"].eq(self.weights.valid)
                with m.If(self.weights.valid):
                    with m.If(last_row):
                        m.d.sync += [r.eq(0), waddr.eq(waddr + 1), s.eq(s + 1)]
                        with m.If(last_slice):
                            m.d.sync += [s.eq(0), base.eq(base + rows)]
                            with m.If(last_tile):
                                m.d.sync += base.eq(0)
                                m.next = "LOAD_A"
                    with m.Else():
                        m.d.sync += r.eq(r + 1)
            with m.State("LOAD_A"):
                m.d.comb += [self.busy.eq(1), self.acts.ready.eq(1), abuf.wr_en.eq(self.acts.valid)]
                with m.If(self.acts.valid):
                    m.d.sync += [aaddr.eq(aaddr + 1), s.eq(s + 1)]
                    with m.If(last_slice):
                        m.d.sync += [s.eq(0), tok.eq(tok + 1)]
                        with m.If(last_token):
                            m.d.sync += [
                                tok.eq(0), waddr.eq(0), wtile.eq(0), aaddr.eq(0), ablk.eq(0),
                                tok0.eq(0), j.eq(0), blk.eq(blk0), wait.eq(self._lead(blk0)),
                            ]
                            m.next = "ISSUE"
            with m.State("ISSUE"):  # one (tile, block, slice) group after another
                m.d.comb += self.busy.eq(1)
                m.d.sync += rgo.eq(1)
                with m.If(wait != 0):  # a port is still delivering
                    m.d.sync += wait.eq(wait - 1)
                with m.Else():  # token j's slice s: its activations, and on j = 0 the group's weight word
                    m.d.comb += [abuf.rd_en.eq(1), wmem.rd_en.eq(j == 0)]
                    m.d.sync += [
                        rv.eq(1), rfirst.eq(s == 0), rlast.eq(last_slice), rsel.eq(j),
                        rfinal.eq(last_slice & last_tile & last_block & last_in_block),
                        j.eq(j + 1), aaddr.eq(aaddr + n_sl), wait.eq(self.slice_cycles - 1),
                    ]
                    with m.If(last_in_block):
                        m.d.sync += [j.eq(0), s.eq(s + 1), waddr.eq(waddr + 1), aaddr.eq(ablk + s + 1),
                                     wait.eq(self._lead(blk))]
                        with m.If(last_slice):
                            m.d.sync += s.eq(0)
                            with m.If(~last_block):  # the tile's next block: its weights again
                                m.d.sync += [
                                    tok0.eq(next_tok0), blk.eq(next_blk), waddr.eq(wtile),
                                    ablk.eq(aaddr + 1), aaddr.eq(aaddr + 1), wait.eq(self._lead(next_blk)),
                                ]
                            with m.Elif(~last_tile):  # the next tile, from its first block
                                m.d.sync += [
                                    base.eq(base + rows), wtile.eq(waddr + 1), tok0.eq(0), blk.eq(blk0),
                                    ablk.eq(0), aaddr.eq(0), wait.eq(self._lead(blk0)),
                                ]
                            with m.Else():
                                m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                with m.If(final_done):
                    m.d.sync += [optr.eq(0), r.eq(0), out_i.eq(0), tok.eq(0)]
                    m.next = "OUT_FETCH"
            with m.State("OUT_FETCH"):  # the result memory reads optr: tile t's word of token tok at t * M + tok
                m.d.comb += self.busy.eq(1)
                m.next = "OUT_SEND"
            with m.State("OUT_SEND"):
                m.d.comb += [self.busy.eq(1), self.results.valid.eq(1)]
                with m.If(self.results.ready):
                    m.d.sync += [r.eq(r + 1), out_i.eq(out_i + 1)]
                    with m.If(out_i + 1 == n_out):
                        m.d.sync += [r.eq(0), out_i.eq(0), optr.eq(tok + 1), tok.eq(tok + 1)]
                        with m.If(last_token):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "OUT_FETCH"
                    with m.Elif(r == rows - 1):
                        m.d.sync += [r.eq(0), optr.eq(optr + n_tok)]
                        m.next = "OUT_FETCH"
        return m
