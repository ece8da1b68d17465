"""The ternary linear unit: ``rows`` adder trees, each with its own accumulator.

Every cycle one activation slice is broadcast to all trees and each tree gets its own
``width`` weight codes. A tree's sum reaches its accumulator :attr:`Tlu.latency` =
``TluSpec.pipeline_depth_cycles`` cycles after the slice was on the inputs: the
sign-select register, the tree's stage registers and the accumulator register. The
accumulator *loads* the sum of a pass's first slice and *adds* every later one,
wrapping at ``acc_bits`` like :func:`tritium.sim.golden.ternary_matmul`, so passes
follow each other with no bubble.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tritium.errors import TritiumError
from tritium.hdl.tree import AdderTree, check_zero_handling
from tritium.sim.chip_parts import TluSpec

__all__ = ["Tlu"]


class Tlu(wiring.Component):
    """``tlu.rows`` pipelined adder trees with accumulators, sized from a :class:`TluSpec`.

    Ports:

    - ``act``: In(ArrayLayout(signed(act_bits), width)), the slice broadcast to all trees.
    - ``w``: In(ArrayLayout(ArrayLayout(unsigned(2), width), rows)), row r's weight codes.
    - ``valid_in``: In(1), a slice is on the inputs this cycle.
    - ``first_in``: In(1), it is the first slice of a pass (the accumulators load).
    - ``last_in``: In(1), it is the last slice of a pass.
    - ``acc``: Out(ArrayLayout(signed(acc_bits), rows)), the accumulators.
    - ``done``: Out(1), ``acc`` holds the finished sums of a pass this cycle: a pass
      whose last slice was on the inputs in cycle c is done in cycle c + :attr:`latency`.

    Zero handling ``"gate"`` gates the trees' sign-select registers (see
    :class:`~tritium.hdl.tree.AdderTree`); values and cycles do not change.

    Raises:
        TritiumError: ``tlu`` is not a TluSpec, or asks for ``zero_handling = "skip"``.
    """

    def __init__(self, tlu: TluSpec):
        if not isinstance(tlu, TluSpec):
            raise TritiumError(f"tlu = {tlu!r}: must be a TluSpec")
        check_zero_handling(tlu.zero_handling)
        self.tlu = tlu
        self.latency = tlu.pipeline_depth_cycles
        """Cycles from a slice on the inputs to its sum in the accumulators."""
        super().__init__(
            {
                "act": In(data.ArrayLayout(signed(tlu.act_bits), tlu.width)),
                "w": In(data.ArrayLayout(data.ArrayLayout(unsigned(2), tlu.width), tlu.rows)),
                "valid_in": In(1),
                "first_in": In(1),
                "last_in": In(1),
                "acc": Out(data.ArrayLayout(signed(tlu.acc_bits), tlu.rows)),
                "done": Out(1),
            }
        )

    def elaborate(self, platform) -> Module:
        m = Module()
        tlu = self.tlu
        trees = []
        for r in range(tlu.rows):
            tree = AdderTree.from_tlu(tlu)
            m.submodules[f"tree{r}"] = tree
            m.d.comb += [tree.act.eq(self.act), tree.w.eq(self.w[r]), tree.valid_in.eq(self.valid_in)]
            trees.append(tree)

        # first/last travel beside the trees' valid chain (all trees have the same latency)
        first, last = self.first_in, self.last_in
        for stage in range(trees[0].latency):
            first_next, last_next = Signal(name=f"first{stage + 1}"), Signal(name=f"last{stage + 1}")
            m.d.sync += [first_next.eq(first), last_next.eq(last)]
            first, last = first_next, last_next
        valid = trees[0].valid_out

        acc = [Signal(signed(tlu.acc_bits), name=f"acc{r}", reset_less=True) for r in range(tlu.rows)]
        with m.If(valid):
            for tree, reg in zip(trees, acc):
                m.d.sync += reg.eq(Mux(first, tree.sum, reg + tree.sum))  # truncation wraps
        m.d.sync += self.done.eq(valid & last)
        m.d.comb += [self.acc[r].eq(reg) for r, reg in enumerate(acc)]
        return m
