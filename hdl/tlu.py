"""The ternary linear unit: ``rows`` adder trees, each with ``acc_per_tree`` accumulators.

Every cycle one activation slice is broadcast to all trees and each tree gets its own
``width`` weight codes. A tree's sum reaches an accumulator :attr:`Tlu.latency` =
``TluSpec.pipeline_depth_cycles`` cycles after the slice was on the inputs: the
sign-select register, the tree's stage registers and the accumulator register. Each
slice names the accumulator it goes to (``acc_sel``, one per token of a token block:
the weight-stationary block of :mod:`tritium.sim.mapping`); that accumulator *loads*
the sum of its pass's first slice and *adds* every later one, wrapping at ``acc_bits``
like :func:`tritium.sim.golden.ternary_matmul`, so passes (and the tokens of a block,
interleaved slice by slice) follow each other with no bubble.
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tritium.base.errors import TritiumError
from tritium.hdl.tree import AdderTree, check_zero_handling
from tritium.sim.chip_parts import TluSpec

__all__ = ["Tlu", "attach_accumulators", "unit_ports"]


class Tlu(wiring.Component):
    """``tlu.rows`` pipelined adder trees with ``tlu.acc_per_tree`` accumulators each.

    Ports:

    - ``act``: In(ArrayLayout(signed(act_bits), width)), the slice broadcast to all trees.
    - ``w``: In(ArrayLayout(ArrayLayout(unsigned(2), width), rows)), row r's weight codes.
    - ``valid_in``: In(1), a slice is on the inputs this cycle.
    - ``first_in``: In(1), it is the first slice of a pass (the accumulators load).
    - ``last_in``: In(1), it is the last slice of a pass.
    - ``acc_sel``: In(range(max(2, acc_per_tree))), the accumulator (of every tree) the
      slice adds into, or loads with ``first_in``; ignored when ``acc_per_tree`` is 1.
    - ``acc``: Out(ArrayLayout(signed(acc_bits), rows)), each tree's accumulator that the
      latest slice went to.
    - ``done``: Out(1), ``acc`` holds the finished sums of a pass this cycle: a pass
      whose last slice was on the inputs in cycle c is done in cycle c + :attr:`latency`.

    Passes in different accumulators may interleave slice by slice (one slice per cycle
    in all); a pass's slices must all name the same accumulator. With ``acc_per_tree`` = 1
    the unit is one accumulator per tree and passes follow each other.

    Zero handling ``"gate"`` (zero weights) and ``zero_act = "gate"`` (zero activations) gate
    the trees' sign-select registers (see :class:`~tritium.hdl.tree.AdderTree`); values and
    cycles do not change.

    Raises:
        TritiumError: ``tlu`` is not a TluSpec or not ``style = "adder_tree"``.
        SpecError: ``zero_handling = "skip"`` or ``zero_act = "skip"`` (not built in HDL).
    """

    def __init__(self, tlu: TluSpec):
        if not isinstance(tlu, TluSpec):
            raise TritiumError(f"tlu = {tlu!r}: must be a TluSpec")
        if getattr(tlu, "style", "adder_tree") != "adder_tree":
            raise TritiumError(f"tlu.style = {tlu.style!r}: a Tlu is the adder tree (make_unit builds each style)")
        check_zero_handling(tlu.zero_handling)
        from tritium.hdl.style import check_style

        check_style(tlu)  # zero_act
        self.tlu = tlu
        self.latency = tlu.pipeline_depth_cycles
        """Cycles from a slice on the inputs to its sum in the accumulators."""
        super().__init__(unit_ports(tlu))

    def elaborate(self, platform) -> Module:
        m = Module()
        tlu = self.tlu
        trees = []
        for r in range(tlu.rows):
            tree = AdderTree.from_tlu(tlu)
            m.submodules[f"tree{r}"] = tree
            m.d.comb += [tree.act.eq(self.act), tree.w.eq(self.w[r]), tree.valid_in.eq(self.valid_in)]
            trees.append(tree)

        attach_accumulators(m, self, [tree.sum for tree in trees], trees[0].valid_out, trees[0].latency)
        return m


def attach_accumulators(m: Module, unit: wiring.Component, sums: list, valid: Signal, latency: int) -> None:
    """Add ``unit``'s accumulators to ``m``: the part of every row unit after its sums.

    ``sums`` are the rows' sums of the slice that was on ``unit``'s inputs ``latency``
    cycles earlier, valid when ``valid`` is high. ``first_in``, ``last_in`` and
    ``acc_sel`` travel ``latency`` registers beside them; the selected accumulator of
    every row loads the sum on a pass's first slice and adds it on every later one,
    wrapping at ``acc_bits`` (one more register: ``unit.latency`` = ``latency`` + 1), and
    ``unit.done`` flags a pass's last slice in the accumulators. ``unit`` has the ports of
    :class:`Tlu` and a ``tlu`` attribute (its :class:`~tritium.sim.chip_parts.TluSpec`).
    """
    tlu = unit.tlu
    first, last, sel = unit.first_in, unit.last_in, unit.acc_sel
    for stage in range(latency):
        first_next, last_next = Signal(name=f"first{stage + 1}"), Signal(name=f"last{stage + 1}")
        sel_next = Signal.like(unit.acc_sel, name=f"acc_sel{stage + 1}")
        m.d.sync += [first_next.eq(first), last_next.eq(last), sel_next.eq(sel)]
        first, last, sel = first_next, last_next, sel_next
    m.d.sync += unit.done.eq(valid & last)

    if tlu.acc_per_tree == 1:
        acc = [Signal(signed(tlu.acc_bits), name=f"acc{r}", reset_less=True) for r in range(tlu.rows)]
        with m.If(valid):
            for value, reg in zip(sums, acc):
                m.d.sync += reg.eq(Mux(first, value, reg + value))  # truncation wraps
        m.d.comb += [unit.acc[r].eq(reg) for r, reg in enumerate(acc)]
        return

    # acc_per_tree accumulators per row; `shown` remembers which one the latest slice updated
    shown = Signal.like(unit.acc_sel)
    with m.If(valid):
        m.d.sync += shown.eq(sel)
    for r, value in enumerate(sums):
        bank = Array(Signal(signed(tlu.acc_bits), name=f"acc{r}_{b}", reset_less=True)
                     for b in range(tlu.acc_per_tree))
        current = bank[sel]
        with m.If(valid):
            m.d.sync += current.eq(Mux(first, value, current + value))  # truncation wraps
        m.d.comb += unit.acc[r].eq(bank[shown])


def unit_ports(tlu: TluSpec) -> dict:
    """The signature members of every row unit (:class:`Tlu`, ``LutUnit``, ``MacUnit``)."""
    return {
        "act": In(data.ArrayLayout(signed(tlu.act_bits), tlu.width)),
        "w": In(data.ArrayLayout(data.ArrayLayout(unsigned(2), tlu.width), tlu.rows)),
        "valid_in": In(1),
        "first_in": In(1),
        "last_in": In(1),
        "acc_sel": In(range(max(2, tlu.acc_per_tree))),
        "acc": Out(data.ArrayLayout(signed(tlu.acc_bits), tlu.rows)),
        "done": Out(1),
    }


def pipelined_sum(m: Module, terms: list, levels_per_stage: int, name: str) -> tuple[object, int]:
    """Sum ``terms`` (signed values) pairwise through ceil(log2(len)) adder levels.

    A register follows every ``levels_per_stage`` levels and the last level (an odd term
    out passes a level unchanged, through the level's register). Returns ``(sum, stages)``:
    the sum and the registers it passed (0 for a single term, which is returned as is).
    """
    stages, level = 0, 0
    while len(terms) > 1:
        level += 1
        sums = [terms[j] + terms[j + 1] for j in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            sums.append(terms[-1])
        registered = level % levels_per_stage == 0 or len(sums) == 1
        nxt = []
        for j, value in enumerate(sums):
            sig = Signal(value.shape(), name=f"{name}_l{level}_{j}", reset_less=registered)
            if registered:
                m.d.sync += sig.eq(value)
            else:
                m.d.comb += sig.eq(value)
            nxt.append(sig)
        stages += registered
        terms = nxt
    return terms[0], stages
