"""One core's TLU datapath with its controller: load, compute and stream out a ternary GEMM.

:class:`TritiumCore` computes ``outputs = acts @ weights.T`` for an M x K x N ternary
GEMM (acts M x K signed ``act_bits``-bit, weights N x K trits), in four phases:

1. **Load weights** from the ``weights`` stream into the weight memory.
2. **Load activations** from the ``acts`` stream into the activation buffer.
3. **Compute**: M * ceil(N / rows) passes (token-major, then tile of ``rows`` outputs),
   each streaming ceil(K / width) slices into the TLU one per cycle, back to back; the
   finished sums of each pass are written to a result memory.
4. **Stream out** the M x N results (token-major) on the ``results`` stream.

The compute phase takes exactly :func:`tritium.sim.cycles.tlu_cycles` cycles, and
``compute_cycles`` reports it (see :class:`TritiumCore` for how it is counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tritium.errors import TritiumError
from tritium.hdl.memory import ActivationBuffer, WeightMemory, lane_bytes
from tritium.hdl.tlu import Tlu
from tritium.sim.chip_parts import TluSpec

__all__ = ["GemmLimits", "TritiumCore", "COUNTER_BITS"]

COUNTER_BITS = 32
"""Width of the ``compute_cycles`` output."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GemmLimits:
    """The GEMM shapes one core's buffers hold (word counts of its three memories).

    Attributes:
        weight_words: weight-memory words; a GEMM needs ceil(N/rows) * ceil(K/width).
        act_slices: activation-buffer slices; a GEMM needs M * ceil(K/width).
        result_words: result-memory words of ``rows`` accumulators; a GEMM needs
            M * ceil(N/rows).
        rows: the TLU's trees.
        width: the TLU's inputs per tree.
    """

    weight_words: int
    act_slices: int
    result_words: int
    rows: int
    width: int

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

    def check(self, m: int, k: int, n: int) -> None:
        """Raise :class:`TritiumError` naming the buffer an M x K x N GEMM does not fit."""
        for key, value in (("M", m), ("K", k), ("N", n)):
            if not isinstance(value, int) or value < 1:
                raise TritiumError(f"{key} = {value!r}: must be an integer >= 1")
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
      (sampled in that cycle; 1 <= each and the shape must fit :attr:`limits`).
    - ``m``, ``k``, ``n`` In(unsigned): the GEMM shape.
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

    Streams follow :mod:`amaranth.lib.stream`: a beat transfers in a cycle where both
    ``valid`` and ``ready`` are high. The core accepts one beat per cycle while loading.

    Between the memories and the TLU sit read registers (the block RAM's output and the
    activations' fan-out to every tree each get a cycle of their own), so a slice is on
    the TLU inputs two cycles after the controller reads it; like the memory read, this
    happens before the compute phase's cycle 0 and adds one cycle per GEMM, not per pass.

    Compute cycle counter: a register ``run`` is set two cycles after the controller
    issues its first read (so it is high from cycle 0, the cycle the first slice is on
    the TLU inputs) and cleared after the cycle in which the TLU's ``done`` flags the
    final pass (its sums in the accumulators); ``compute_cycles`` counts the cycles with
    ``run`` high, so it equals ``passes * ceil(K/width) + pipeline_depth_cycles``. It is
    cleared by ``start`` and holds its value until the next one.

    Args:
        tlu: the TLU (``zero_handling`` "none" or "gate").
        weight_depth, act_depth, result_depth: words of the three memories.
        src_loc_at: stack frames between the caller to blame (for Amaranth's "created
            but never used" warning) and this constructor.
    """

    def __init__(self, tlu: TluSpec, *, weight_depth: int, act_depth: int, result_depth: int, src_loc_at: int = 0):
        self.tlu = tlu
        self.limits = GemmLimits(
            weight_words=weight_depth, act_slices=act_depth, result_words=result_depth,
            rows=tlu.rows, width=tlu.width,
        )
        lim = self.limits
        max_cycles = lim.act_slices * lim.weight_words + tlu.pipeline_depth_cycles
        if max_cycles >= 2**COUNTER_BITS:
            raise TritiumError(f"the core's buffers allow GEMMs of {max_cycles} cycles: more than "
                               f"the {COUNTER_BITS}-bit compute cycle counter holds")
        super().__init__(
            {
                "start": In(1),
                "m": In(range(lim.max_m + 1)),
                "k": In(range(lim.max_k + 1)),
                "n": In(range(lim.max_n + 1)),
                "weights": In(stream.Signature(8 * lane_bytes(tlu))),
                "acts": In(stream.Signature(data.ArrayLayout(signed(tlu.act_bits), tlu.width))),
                "results": Out(stream.Signature(signed(tlu.acc_bits))),
                "busy": Out(1),
                "done": Out(1),
                "compute_cycles": Out(COUNTER_BITS),
            },
            src_loc_at=1 + src_loc_at,
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        spec, lim = self.tlu, self.limits
        rows = spec.rows
        m.submodules.tlu = tlu = Tlu(spec)
        m.submodules.wmem = wmem = WeightMemory(spec, lim.weight_words)
        m.submodules.abuf = abuf = ActivationBuffer(spec, lim.act_slices)
        m.submodules.rmem = rmem = Memory(
            shape=data.ArrayLayout(signed(spec.acc_bits), rows), depth=lim.result_words, init=[]
        )
        rwr, rrd = rmem.write_port(), rmem.read_port()

        # the GEMM's shape, latched at start
        n_tok = Signal.like(self.m)
        n_out = Signal.like(self.n)
        n_sl = Signal(range(lim.max_k // spec.width + 1))
        # counters
        s = Signal.like(n_sl)  # slice within a pass
        r = Signal(range(max(2, rows)))  # row within a tile
        base = Signal(range(lim.max_n + rows + 1))  # first output of the tile: t * rows
        tok = Signal.like(n_tok)  # token
        waddr = Signal(range(lim.weight_words + 1))
        aaddr = Signal(range(lim.act_slices + lim.max_k + 1))
        abase = Signal.like(aaddr)
        rptr = Signal(range(lim.result_words + 1))
        optr = Signal.like(rptr)
        out_i = Signal.like(n_out)  # output index within a token

        last_slice = s == n_sl - 1
        last_tile = base + rows >= n_out
        last_token = tok == n_tok - 1
        last_row = (r == rows - 1) | (base + r + 1 == n_out)

        # Two register stages between the controller and the TLU: the memories' read
        # (r*: what the memories output in the cycle after the controller reads) and the
        # read registers (i*: what the TLU sees a cycle later). The read registers keep the
        # block RAMs' long clock-to-output and the routing of each activation to every
        # tree out of one cycle (on ECP5 that path alone limited the core to ~72 MHz).
        rv, rfirst, rlast, rfinal = Signal(), Signal(), Signal(), Signal()
        iv, ifirst, ilast, ifinal = Signal(), Signal(), Signal(), Signal()
        act_q = Signal(data.ArrayLayout(signed(spec.act_bits), spec.width), reset_less=True)
        w_q = Signal(data.ArrayLayout(data.ArrayLayout(unsigned(2), spec.width), rows), reset_less=True)
        run = Signal()
        cycles = Signal(COUNTER_BITS)
        m.d.sync += [
            rv.eq(0),
            iv.eq(rv), ifirst.eq(rfirst), ilast.eq(rlast), ifinal.eq(rfinal),
            act_q.eq(abuf.rd_data), w_q.eq(wmem.codes),
        ]
        with m.If(rv):
            m.d.sync += run.eq(1)  # high from the cycle the first slice is on the TLU inputs
        m.d.comb += [
            tlu.act.eq(act_q),
            tlu.w.eq(w_q),
            tlu.valid_in.eq(iv),
            tlu.first_in.eq(ifirst),
            tlu.last_in.eq(ilast),
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
                        s.eq(0), r.eq(0), base.eq(0), tok.eq(0), waddr.eq(0), aaddr.eq(0),
                        rptr.eq(0), cycles.eq(0),
                    ]
                    m.next = "LOAD_W"
            with m.State("LOAD_W"):
                m.d.comb += [self.busy.eq(1), self.weights.ready.eq(1), ]
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
                            m.d.sync += [tok.eq(0), waddr.eq(0), aaddr.eq(0), abase.eq(0)]
                            m.next = "ISSUE"
            with m.State("ISSUE"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [
                    rv.eq(1), rfirst.eq(s == 0), rlast.eq(last_slice),
                    rfinal.eq(last_slice & last_tile & last_token),
                    waddr.eq(waddr + 1), aaddr.eq(aaddr + 1), s.eq(s + 1),
                ]
                with m.If(last_slice):
                    m.d.sync += s.eq(0)
                    with m.If(last_tile):
                        m.d.sync += [
                            base.eq(0), waddr.eq(0), tok.eq(tok + 1),
                            abase.eq(abase + n_sl), aaddr.eq(abase + n_sl),
                        ]
                        with m.If(last_token):
                            m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += [base.eq(base + rows), aaddr.eq(abase)]
            with m.State("DRAIN"):
                m.d.comb += self.busy.eq(1)
                with m.If(final_done):
                    m.d.sync += [optr.eq(0), r.eq(0), out_i.eq(0), tok.eq(0)]
                    m.next = "OUT_FETCH"
            with m.State("OUT_FETCH"):  # the result memory reads optr
                m.d.comb += self.busy.eq(1)
                m.next = "OUT_SEND"
            with m.State("OUT_SEND"):
                m.d.comb += [self.busy.eq(1), self.results.valid.eq(1)]
                with m.If(self.results.ready):
                    m.d.sync += [r.eq(r + 1), out_i.eq(out_i + 1)]
                    with m.If(out_i + 1 == n_out):
                        m.d.sync += [r.eq(0), out_i.eq(0), optr.eq(optr + 1), tok.eq(tok + 1)]
                        with m.If(last_token):
                            m.d.comb += self.done.eq(1)
                            m.next = "IDLE"
                        with m.Else():
                            m.next = "OUT_FETCH"
                    with m.Elif(r == rows - 1):
                        m.d.sync += [r.eq(0), optr.eq(optr + 1)]
                        m.next = "OUT_FETCH"
        return m
