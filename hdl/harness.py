"""A serial I/O harness: wraps any component so that it fits a package's few pins.

A 64-input adder tree has 660 input bits; an iCE40 UP5K in the SG48 package has 39 I/O
pins. :class:`SerialHarness` feeds every input bit of the wrapped core from one shift
register clocked in through the pin ``din``, and registers the XOR of every output bit
onto the pin ``dout``. Every output bit reaches ``dout``, so synthesis keeps all of the
core's logic; the harness adds one flip-flop per input bit plus one, and a tree of XOR
gates over the outputs. With ``clk`` and ``rst`` the top level uses 4 pins.

This is a measurement and smoke-test top, not a host protocol: it gives a place-and-route
tool something it can place, so that fmax and utilization are those of the real core
behind real I/O.

>>> from amaranth.back import rtlil
>>> from tritium.hdl.tree import AdderTree
>>> harness = SerialHarness(AdderTree(16))
>>> (harness.input_bits, harness.output_bits)
(161, 14)
>>> "din" in rtlil.convert(harness, name="h")
True
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tritium.base.errors import TritiumError

__all__ = ["SerialHarness", "core_ports"]


def core_ports(core: wiring.Component) -> tuple[list[Value], list[Value]]:
    """The input and output port values of ``core``, flattened, in signature order.

    Raises:
        TritiumError: ``core`` is not a :class:`~amaranth.lib.wiring.Component`, or it
            has no output (nothing would keep its logic alive).
    """
    if not isinstance(core, wiring.Component):
        raise TritiumError(f"the harness wraps an Amaranth wiring.Component, not {type(core).__name__}")
    inputs, outputs = [], []
    for _path, member, value in core.signature.flatten(core):
        (inputs if member.flow == wiring.In else outputs).append(Value.cast(value))
    if not outputs:
        raise TritiumError(f"{type(core).__name__} has no output port: synthesis would remove all of it")
    return inputs, outputs


class SerialHarness(wiring.Component):
    """``core`` behind a serial shift-in, XOR-out interface (ports ``din``, ``dout``).

    Attributes:
        core: the wrapped component (a submodule named ``core``).
        input_bits: bits of the input shift register (all of the core's input bits).
        output_bits: output bits XOR-reduced onto ``dout``.
    """

    def __init__(self, core: wiring.Component):
        inputs, outputs = core_ports(core)
        self.core = core
        self._inputs, self._outputs = inputs, outputs
        self.input_bits = sum(len(v) for v in inputs)
        self.output_bits = sum(len(v) for v in outputs)
        super().__init__({"din": In(1), "dout": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.core = self.core
        if self.input_bits:
            chain = Signal(self.input_bits, name="chain")
            if self.input_bits == 1:
                m.d.sync += chain.eq(self.din)
            else:
                m.d.sync += chain.eq(Cat(self.din, chain[:-1]))
            offset = 0
            for port in self._inputs:
                m.d.comb += port.eq(chain[offset:offset + len(port)])
                offset += len(port)
        out = Signal(name="xor_out")
        m.d.sync += out.eq(Cat(*self._outputs).xor())
        m.d.comb += self.dout.eq(out)
        return m
