"""The INT8 MAC datapath (``tlu.style = "mac"``): the multiplier baseline.

``rows x width`` signed multipliers of ``mac_bits``-bit operands: each ternary weight code
is decoded to a ``mac_bits``-bit integer in {-1, 0, +1} and multiplied with its activation
(sign-extended to ``mac_bits``); the product is registered, and each row's ``width``
products are summed by a pipelined adder tree (:func:`~tritium.hdl.tlu.pipelined_sum`)
into the row's accumulators (:func:`~tritium.hdl.tlu.attach_accumulators`). Pipeline:
product register, ``ceil(log2(width) / levels_per_stage)`` tree stage registers,
accumulator register: :func:`tritium.sim.datapath.mac_pipeline_depth`, the adder tree's
depth. The multipliers are generic ``*`` operators, so a synthesis flow maps them as it
maps any INT8 multiplier (DSP blocks on ECP5 unless told not to).

>>> from amaranth.back import rtlil
>>> from tritium.hdl.style import with_style
>>> from tritium.sim.chip_parts import TluSpec
>>> unit = MacUnit(with_style(TluSpec(rows=2, width=8), style="mac"))
>>> (unit.latency, unit.product_bits)
(5, 16)
>>> "mac8" in rtlil.convert(unit, name="mac8")
True
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from tritium.base.errors import TritiumError
from tritium.hdl.style import check_style
from tritium.hdl.tlu import attach_accumulators, pipelined_sum, unit_ports
from tritium.sim.chip_parts import TluSpec
from tritium.sim.datapath import mac_pipeline_depth

__all__ = ["MacUnit"]


class MacUnit(wiring.Component):
    """``tlu.rows`` rows of ``tlu.width`` multipliers and an adder tree, ``acc_per_tree`` accumulators each.

    Ports and timing as :class:`~tritium.hdl.tlu.Tlu` (:attr:`latency` =
    :func:`~tritium.sim.datapath.mac_pipeline_depth`). Data registers are reset-less.

    With ``int_weights`` the ``w`` port takes ``mac_bits``-bit signed weights
    (``ArrayLayout(ArrayLayout(signed(mac_bits), width), rows)``) instead of 2-bit codes: the
    array as a generic INT8 accelerator builds it. That is the one to synthesize for its
    area: fed decoded trits, synthesis proves the weight operand is a sign extension of two
    bits and shrinks every multiplier to a sign-select (the adder tree again); only DSP
    mapping (ECP5) keeps the multipliers. The core feeds decoded trits.

    Args:
        tlu: the TLU (``style = "mac"``).
        int_weights: take ``mac_bits``-bit weights on ``w``.

    Attributes:
        mac_bits: multiplier operand bits.
        product_bits: bits of one registered product (2 * mac_bits).
        products: ``products[r][i]``, the product registers (for tests and toggle counting).

    Raises:
        TritiumError: ``tlu`` is not a TluSpec, or its style is not ``"mac"``.
        SpecError: a style key the HDL cannot build (:func:`~tritium.hdl.style.check_style`).
    """

    def __init__(self, tlu: TluSpec, *, int_weights: bool = False):
        if not isinstance(tlu, TluSpec):
            raise TritiumError(f"tlu = {tlu!r}: must be a TluSpec")
        keys = check_style(tlu)
        if keys.style != "mac":
            raise TritiumError(f"tlu.style = {keys.style!r}: a MacUnit needs 'mac'")
        self.tlu, self.mac_bits = tlu, keys.mac_bits
        self.product_bits = 2 * self.mac_bits
        self.latency = mac_pipeline_depth(tlu.width, tlu.levels_per_stage)
        """Cycles from a slice on the inputs to its sums in the accumulators."""
        self.products = [[Signal(signed(self.product_bits), name=f"p{r}_{i}", reset_less=True)
                          for i in range(tlu.width)] for r in range(tlu.rows)]
        self.int_weights = bool(int_weights)
        ports = unit_ports(tlu)
        if self.int_weights:
            ports["w"] = In(data.ArrayLayout(data.ArrayLayout(signed(self.mac_bits), tlu.width), tlu.rows))
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        tlu = self.tlu
        operands = []
        for i in range(tlu.width):
            a = Signal(signed(self.mac_bits), name=f"a{i}")
            m.d.comb += a.eq(self.act[i])
            operands.append(a)
        sums, stages = [], 0
        for r in range(tlu.rows):
            for i in range(tlu.width):
                weight = Signal(signed(self.mac_bits), name=f"w{r}_{i}")
                if self.int_weights:
                    m.d.comb += weight.eq(self.w[r][i])
                else:
                    code = self.w[r][i]
                    m.d.comb += weight.eq(Mux(code[0], Mux(code[1], -1, 1), 0))
                m.d.sync += self.products[r][i].eq(operands[i] * weight)
            total, stages = pipelined_sum(m, list(self.products[r]), tlu.levels_per_stage, f"r{r}")
            sums.append(total)
        assert 1 + stages + 1 == self.latency, (stages, self.latency)

        valid = self.valid_in
        for stage in range(1 + stages):  # the product and tree registers
            nxt = Signal(name=f"valid{stage + 1}")
            m.d.sync += nxt.eq(valid)
            valid = nxt
        attach_accumulators(m, self, sums, valid, 1 + stages)
        return m
