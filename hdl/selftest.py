"""An on-chip self-test: the core runs the golden vectors from ROM and checks itself.

:class:`SelfTest` wraps one :class:`~tritium.hdl.core.TritiumCore` with read-only
memories holding the golden cases of :func:`tritium.hdl.export.testbench_vectors` (the
same vectors the Icarus testbench runs), feeds them through the core's streams with
each case's token block, compares every result with the golden model's, and each GEMM's
``compute_cycles`` and the cycles its memory strobes (``weight_read``, ``act_read``,
``result_write``) were high with the simulator's schedule, and repeats forever. Its
outputs drive a board's LEDs (:func:`tritium.hdl.board.build_board`): a prototype that
lights ``passed`` has computed the golden model's answers in the simulator's cycles and
memory accesses, on the FPGA.

The per-case beat counts are precomputed into the case ROM, so the self-test has no
multiplier: the whole design stays MAC-free (zero DSP blocks).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from tritium.base.errors import TritiumError
from tritium.hdl.core import TritiumCore
from tritium.hdl.export import CASE_FIELDS as VECTOR_FIELDS

__all__ = ["SelfTest", "CASE_FIELDS"]

_COUNTS = ("weight_reads", "act_reads", "result_writes")
CASE_FIELDS = ("m", "k", "n", "cycles", "token_block", *_COUNTS, "weight_beats", "act_beats", "result_beats")
"""The fields of one case in the case ROM, in order."""


class SelfTest(wiring.Component):
    """``core`` running ``vectors`` from ROM in a loop, checking every result.

    Ports:

    - ``passed`` Out(1): at least one loop over all cases has finished and no check has
      failed since reset.
    - ``failed`` Out(1): a result, a cycle count or a memory access count differed from
      the golden one (latched until reset).
    - ``loops`` Out(16): finished loops over all cases (wraps).
    - ``busy`` Out(1): the core's ``busy``.

    Args:
        core: the core (a submodule named ``core``).
        vectors: :func:`tritium.hdl.export.testbench_vectors` of the core's chip: ``cases``
            (:data:`tritium.hdl.export.CASE_FIELDS` per case), ``weights``, ``acts``, ``expected``.

    Raises:
        TritiumError: ``core`` is not a TritiumCore, or ``vectors`` is empty or inconsistent.
    """

    def __init__(self, core: TritiumCore, vectors: dict[str, list[int]]):
        if not isinstance(core, TritiumCore):
            raise TritiumError(f"the self-test wraps a TritiumCore, not {type(core).__name__}")
        tlu = core.tlu
        flat, per = list(vectors.get("cases", ())), len(VECTOR_FIELDS)
        if not flat or len(flat) % per:
            raise TritiumError(f"self-test vectors: 'cases' must hold ({', '.join(VECTOR_FIELDS)}) for at least "
                               "one case")
        cases, totals = [], {"weights": 0, "acts": 0, "expected": 0}
        for i in range(0, len(flat), per):
            m, k, n = flat[i:i + 3]
            slices = -(-k // tlu.width)
            beats = {"weights": slices * n, "acts": slices * m, "expected": m * n}
            for key, count in beats.items():
                totals[key] += count
            cases.append((*flat[i:i + per], beats["weights"], beats["acts"], beats["expected"]))
        for key, count in totals.items():
            if len(vectors.get(key, ())) != count:
                raise TritiumError(f"self-test vectors: {key!r} has {len(vectors.get(key, ()))} beats, "
                                   f"the cases need {count}")
        self.core, self.cases = core, tuple(cases)
        self.vectors = {key: list(vectors[key]) for key in ("weights", "acts", "expected")}
        super().__init__({"passed": Out(1), "failed": Out(1), "loops": Out(16), "busy": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.core = core = self.core
        tlu, ncases = core.tlu, len(self.cases)
        widths = {"m": len(core.m), "k": len(core.k), "n": len(core.n), "cycles": len(core.compute_cycles),
                  "token_block": len(core.token_block)}
        count_bits = max(1, max(max(c[5:8]) for c in self.cases).bit_length())
        beat_bits = max(1, max(max(c[8:]) for c in self.cases).bit_length())
        layout = [widths["m"], widths["k"], widths["n"], widths["cycles"], widths["token_block"],
                  count_bits, count_bits, count_bits, beat_bits, beat_bits, beat_bits]
        packed = []
        for case in self.cases:
            word, shift = 0, 0
            for value, bits in zip(case, layout):
                word |= value << shift
                shift += bits
            packed.append(word)

        def rom(name: str, bits: int, values: list[int]) -> Memory:
            mask = (1 << bits) - 1
            mem = Memory(shape=bits, depth=len(values), init=[v & mask for v in values])
            m.submodules[name] = mem
            return mem

        case_rom = rom("case_rom", sum(layout), packed)
        w_rom = rom("weight_rom", len(core.weights.payload), self.vectors["weights"])
        a_rom = rom("act_rom", tlu.width * tlu.act_bits, self.vectors["acts"])
        e_rom = rom("expected_rom", tlu.acc_bits, self.vectors["expected"])
        case_rd, w_rd, a_rd, e_rd = (r.read_port() for r in (case_rom, w_rom, a_rom, e_rom))

        fields, shift = {}, 0
        for name, bits in zip(CASE_FIELDS, layout):
            fields[name] = case_rd.data[shift:shift + bits]
            shift += bits

        # Stream pointers and the end of the current case's beats. Each ROM reads the
        # pointer's next value, so its data is that of the pointer in every cycle.
        case = Signal(range(max(2, ncases)))
        wi, w_end = Signal(range(len(self.vectors["weights"]) + 1)), Signal(range(len(self.vectors["weights"]) + 1))
        ai, a_end = Signal(range(len(self.vectors["acts"]) + 1)), Signal(range(len(self.vectors["acts"]) + 1))
        ei, e_end = Signal(range(len(self.vectors["expected"]) + 1)), Signal(range(len(self.vectors["expected"]) + 1))
        w_take = core.weights.valid & core.weights.ready
        a_take = core.acts.valid & core.acts.ready
        e_take = core.results.valid & core.results.ready
        wi_next, ai_next, ei_next = Signal.like(wi), Signal.like(ai), Signal.like(ei)
        failed, loops, passed = Signal(), Signal(16), Signal()
        m.d.comb += [
            wi_next.eq(wi + w_take), ai_next.eq(ai + a_take), ei_next.eq(ei + e_take),
            w_rd.addr.eq(wi_next), a_rd.addr.eq(ai_next), e_rd.addr.eq(ei_next),
            case_rd.addr.eq(case),
            core.weights.payload.eq(w_rd.data),
            core.acts.payload.eq(a_rd.data),
            core.weights.valid.eq(wi != w_end),
            core.acts.valid.eq(ai != a_end),
            core.m.eq(fields["m"]), core.k.eq(fields["k"]), core.n.eq(fields["n"]),
            core.token_block.eq(fields["token_block"]),
            self.failed.eq(failed), self.passed.eq(passed & ~failed), self.loops.eq(loops),
            self.busy.eq(core.busy),
        ]
        m.d.sync += [wi.eq(wi_next), ai.eq(ai_next), ei.eq(ei_next)]
        # results are compared a cycle after they are taken (a register stage keeps the
        # core's result read and the comparison out of one clock cycle)
        got, want, taken = Signal(tlu.acc_bits), Signal(tlu.acc_bits), Signal()
        m.d.sync += [got.eq(core.results.payload.as_unsigned()), want.eq(e_rd.data), taken.eq(e_take)]
        with m.If(taken & (got != want)):
            m.d.sync += failed.eq(1)
        # cycles each memory strobe is high, from start to start (one more bit: a count
        # past the expected one must not wrap onto it)
        counts = {key: Signal(count_bits + 1, name=key) for key in _COUNTS}
        for key, strobe in zip(_COUNTS, (core.weight_read, core.act_read, core.result_write)):
            with m.If(core.start):
                m.d.sync += counts[key].eq(0)
            with m.Elif(strobe & ~counts[key][-1]):
                m.d.sync += counts[key].eq(counts[key] + 1)

        with m.FSM():
            with m.State("FETCH"):  # the case ROM reads `case`
                m.next = "START"
            with m.State("START"):
                m.d.comb += core.start.eq(1)
                m.d.sync += [
                    w_end.eq(w_end + fields["weight_beats"]),
                    a_end.eq(a_end + fields["act_beats"]),
                    e_end.eq(e_end + fields["result_beats"]),
                ]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += core.results.ready.eq(ei != e_end)
                with m.If(core.done):
                    m.next = "CHECK"
            with m.State("CHECK"):  # compute_cycles and the strobe counts hold the finished GEMM's
                with m.If(core.compute_cycles != fields["cycles"]):
                    m.d.sync += failed.eq(1)
                for key in _COUNTS:
                    with m.If(counts[key] != fields[key]):
                        m.d.sync += failed.eq(1)
                with m.If(case == ncases - 1):
                    m.d.sync += [case.eq(0), wi.eq(0), ai.eq(0), ei.eq(0), w_end.eq(0), a_end.eq(0),
                                 e_end.eq(0), loops.eq(loops + 1), passed.eq(1)]
                with m.Else():
                    m.d.sync += case.eq(case + 1)
                m.next = "FETCH"
        return m
