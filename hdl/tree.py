"""The sign-select adder tree: one ternary dot-product slice per cycle, no multipliers.

:class:`AdderTree` takes ``width`` signed activations and ``width`` 2-bit weight codes
(the chip's code, as :func:`tritium.sim.weight_encoding.encode_weights` packs it: bit 0 =
non-zero, bit 1 = negative, so ``0b00`` = 0, ``0b01`` = +1, ``0b11`` = -1; the invalid
``0b10`` selects 0), sign-selects +a, -a or 0 per input into a register, and sums the
selections through ``log2(width)`` adder levels, with a register after every
``levels_per_stage`` levels and after the last level. Its latency is therefore exactly
``1 + adder_stages`` cycles (:attr:`AdderTree.latency`); the TLU's accumulator register
adds the last cycle of :attr:`~tritium.sim.chip_parts.TluSpec.pipeline_depth_cycles`.

>>> from amaranth.back import rtlil
>>> from tritium.sim import load_chip
>>> tlu = load_chip("fpga-proto").tlu
>>> tree_latency(tlu.width, tlu.levels_per_stage) == tlu.pipeline_depth_cycles - 1
True
>>> tree = AdderTree(16, act_bits=8, levels_per_stage=2)
>>> (tree.latency, tree.sum.shape())
(3, signed(13))
>>> "tree16" in rtlil.convert(tree, name="tree16")
True
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tritium.base.errors import SpecError
from tritium.sim.chip_parts import TluSpec
from tritium.base.specio import check_int, check_power_of_two

__all__ = ["AdderTree", "WEIGHT_CODE", "HDL_ZERO_HANDLING", "tree_latency", "check_zero_handling"]

WEIGHT_CODE = {0: 0b00, 1: 0b01, -1: 0b11}
"""The 2-bit weight code of each trit (bit 0 = non-zero, bit 1 = negative)."""

HDL_ZERO_HANDLING = ("none", "gate")
"""Values of ``TluSpec.zero_handling`` the HDL builds (``"skip"`` is not built)."""


def tree_latency(width: int, levels_per_stage: int) -> int:
    """Cycles from a slice on the tree inputs to its sum on ``sum``: 1 + ceil(log2(width) / levels_per_stage)."""
    levels = width.bit_length() - 1
    return 1 + -(-levels // levels_per_stage)


def check_zero_handling(zero_handling: str) -> None:
    """Raise :class:`SpecError` (a TritiumError) unless the HDL builds ``zero_handling``."""
    if zero_handling not in HDL_ZERO_HANDLING:
        raise SpecError(
            "tlu.zero_handling",
            zero_handling,
            f"the HDL builds only {' or '.join(map(repr, HDL_ZERO_HANDLING))}; 'skip' (compressed "
            "non-zero weight streams) is modelled by the simulator but not built in RTL",
        )


class AdderTree(wiring.Component):
    """A pipelined ternary adder tree of ``width`` inputs.

    Ports (the signature is stable; tools outside this package rely on it):

    - ``act``: In(ArrayLayout(signed(act_bits), width)), the activation slice.
    - ``w``: In(ArrayLayout(unsigned(2), width)), the 2-bit weight codes (:data:`WEIGHT_CODE`).
    - ``valid_in``: In(1), a slice is on ``act``/``w`` this cycle.
    - ``sum``: Out(signed(act_bits + log2(width) + 1)), the sum of the sign-selected
      inputs of the slice that was on the inputs :attr:`latency` cycles earlier.
    - ``valid_out``: Out(1), ``sum`` holds a valid slice's sum this cycle.

    Pipeline: the sign-select register, then a register after every ``levels_per_stage``
    adder levels, the last register ending the tree: :attr:`latency` = 1 + adder_stages.
    With ``gate=True`` (zero handling ``"gate"``), a zero-weight input does not load its
    sign-select register (its enable is low, so the register and the adder input behind
    it do not toggle) and a 1-bit register masks it to 0 at the adder; values and cycles
    are the same as without gating. ``gate_act=True`` (``tlu.zero_act = "gate"``) does the
    same for a zero activation (its zero detector, ``act != 0``, is the enable; with both,
    either zero holds the register). Data registers are reset-less; only the valid chain
    is reset. :attr:`select_regs` (and :attr:`live_regs` when gated) are the
    sign-select registers, one per input (``signed(act_bits + 1)``, since -(-2**(b-1))
    needs one more bit), exposed for tests and toggle counting.

    Args:
        width: inputs, a power of two from 2 to 4096.
        act_bits: signed activation bits, 2 to 16.
        levels_per_stage: adder levels between registers, 1 to log2(width).
        gate: gate zero-weight inputs.
        gate_act: gate zero-activation inputs.
        src_loc_at: stack frames between the caller to blame (for Amaranth's "created
            but never used" warning) and this constructor.

    Raises:
        SpecError: a parameter is out of range (the message names it).
    """

    def __init__(
        self, width: int, act_bits: int = 8, levels_per_stage: int = 1, *, gate: bool = False,
        gate_act: bool = False, src_loc_at: int = 0
    ):
        try:
            check_power_of_two("width", width, lo=2, hi=4096)
            check_int("act_bits", act_bits, lo=2, hi=16)
            levels = width.bit_length() - 1
            check_int("levels_per_stage", levels_per_stage, lo=1, hi=levels)
        except SpecError:
            self._MustUse__silence = True  # a refused tree is not an unused one (no Amaranth warning)
            raise
        self.width, self.act_bits, self.levels_per_stage, self.gate = width, act_bits, levels_per_stage, bool(gate)
        self.gate_act = bool(gate_act)
        self.levels = levels
        self.adder_stages = -(-levels // levels_per_stage)
        self.latency = tree_latency(width, levels_per_stage)
        # the sign-select registers (and, gated, the registered non-zero flags), kept as
        # attributes so that tests and power estimates can watch them toggle
        self.select_regs = [Signal(signed(act_bits + 1), name=f"sel{i}", reset_less=True) for i in range(width)]
        self.live_regs = ([Signal(name=f"live{i}", reset_less=True) for i in range(width)]
                          if self.gate or self.gate_act else [])
        super().__init__(
            {
                "act": In(data.ArrayLayout(signed(act_bits), width)),
                "w": In(data.ArrayLayout(unsigned(2), width)),
                "valid_in": In(1),
                "sum": Out(signed(act_bits + levels + 1)),
                "valid_out": Out(1),
            },
            src_loc_at=1 + src_loc_at,
        )

    @classmethod
    def from_tlu(cls, tlu: TluSpec) -> "AdderTree":
        """The tree of one of ``tlu``'s rows (width, act_bits, levels_per_stage, gating).

        Raises:
            SpecError: ``tlu.zero_handling`` is ``"skip"`` (not built in HDL).
        """
        check_zero_handling(tlu.zero_handling)
        return cls(tlu.width, tlu.act_bits, tlu.levels_per_stage, gate=tlu.zero_handling == "gate",
                   gate_act=getattr(tlu, "zero_act", "none") == "gate", src_loc_at=1)

    def elaborate(self, platform) -> Module:
        m = Module()
        terms = []
        for i in range(self.width):
            a, code = self.act[i], self.w[i]
            nonzero, negative = code[0], code[1]
            sel = self.select_regs[i]
            # +a, -a or 0 as one carry chain, the cheapest form on FPGAs: -a = ~a + 1 has
            # bit 0 of a, and the carry into bit 1 is ~a[0]; so bit 0 is a[0] and bits 1..
            # are the conditional complement of a[1:] plus (negative & ~a[0]). Against a
            # negation chain and a 2:1 mux this halves the sign-select LUTs on ECP5 with
            # the same carry cells, and takes a LUT level off the critical path.
            flipped = a ^ Mux(negative, -1, 0)
            if self.gate:
                live = self.live_regs[i]
                load = nonzero & (a != 0) if self.gate_act else nonzero
                m.d.sync += live.eq(load)
                with m.If(load):
                    m.d.sync += sel.eq(Cat(a[0], flipped[1:].as_signed() + (negative & ~a[0])))
                terms.append(Mux(live, sel, 0))
            elif self.gate_act:
                # zero-activation gating: the activation's zero detector holds the register
                live, masked = self.live_regs[i], Mux(nonzero, flipped, 0)
                m.d.sync += live.eq(a != 0)
                with m.If(a != 0):
                    m.d.sync += sel.eq(Cat(nonzero & a[0], masked[1:].as_signed() + (nonzero & negative & ~a[0])))
                terms.append(Mux(live, sel, 0))
            else:
                masked = Mux(nonzero, flipped, 0)
                m.d.sync += sel.eq(Cat(nonzero & a[0], masked[1:].as_signed() + (nonzero & negative & ~a[0])))
                terms.append(sel)

        for level in range(1, self.levels + 1):
            bits = self.act_bits + 1 + level
            pairs = [terms[j] + terms[j + 1] for j in range(0, len(terms), 2)]
            if level % self.levels_per_stage == 0 or level == self.levels:
                regs = []
                for j, value in enumerate(pairs):
                    reg = Signal(signed(bits), name=f"l{level}_{j}", reset_less=True)
                    m.d.sync += reg.eq(value)
                    regs.append(reg)
                terms = regs
            else:
                wires = []
                for j, value in enumerate(pairs):
                    wire = Signal(signed(bits), name=f"l{level}_{j}")
                    m.d.comb += wire.eq(value)
                    wires.append(wire)
                terms = wires
        m.d.comb += self.sum.eq(terms[0])

        valid = self.valid_in
        for stage in range(self.latency):
            nxt = Signal(name=f"valid{stage + 1}")
            m.d.sync += nxt.eq(valid)
            valid = nxt
        m.d.comb += self.valid_out.eq(valid)
        return m
