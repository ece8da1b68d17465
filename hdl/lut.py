"""The LUT datapath (``tlu.style = "lut"``): table builder plus indexed accumulation.

Each cycle one slice of ``width`` activations enters; it is cut into ``ceil(width / g)``
groups of ``g = tlu.lut_group`` (the last padded with zero activations). For each group
a *table builder* computes the partial sums of the group under the non-zero ternary
weight combinations and registers them (the *table*; the all-zero combination is the
constant 0). With sign symmetry (:func:`tritium.sim.datapath.lut_mirrored`: g >= 3) only
the (3^g - 1) / 2 combinations whose first non-zero weight is +1 are stored, each built
with one adder from a stored entry of a shorter prefix; for g <= 2 all 3^g - 1 are stored.
``lut_share_rows`` rows share one copy of the tables (``ceil(rows / lut_share_rows)``
copies, each feeding its rows: the copy is what a floorplan replicates to bound fan-out).

Each row's ``g`` weight codes of a group *index* its copy's table: beside the table build,
the codes are decoded to an entry index (and, mirrored, a negate flag set when the
combination's first non-zero weight is -1) in registers of their own, so the weights of the
next slice may follow at once; a cycle later the index selects the entry (a multiplexer)
and, negated if flagged, it loads the row's select register. An adder tree of ``groups`` inputs sums a
row's reads (:func:`~tritium.hdl.tlu.pipelined_sum`) and the row's accumulator adds it
(:func:`~tritium.hdl.tlu.attach_accumulators`). Pipeline: table register, select register,
tree stage registers, accumulator register: :func:`tritium.sim.datapath.lut_pipeline_depth`.

>>> from amaranth.back import rtlil
>>> from tritium.hdl.style import with_style
>>> from tritium.sim.chip_parts import TluSpec
>>> unit = LutUnit(with_style(TluSpec(rows=2, width=8), style="lut", lut_group=3))
>>> (unit.latency, unit.groups, unit.entries)
(5, 3, 13)
>>> "lut8" in rtlil.convert(unit, name="lut8")
True
"""

from __future__ import annotations

import itertools

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring

from tritium.base.errors import TritiumError
from tritium.hdl.style import check_style, table_bits
from tritium.hdl.tlu import attach_accumulators, pipelined_sum, unit_ports
from tritium.sim.chip_parts import TluSpec
from tritium.sim.datapath import lut_groups, lut_mirrored, lut_pipeline_depth

__all__ = ["LutUnit", "table_combinations"]

_DIGIT_PATTERN = {0: "-0", 1: "01", -1: "11"}  # a 2-bit code per trit, MSB first ('-': either)


def table_combinations(group: int) -> list[tuple[int, ...]]:
    """The weight combinations a table of ``group`` activations stores, in entry order.

    Mirrored (g >= 3): those whose first non-zero weight is +1; else every non-zero one.
    Each combination's prefix (its last weight set to 0) comes earlier in the list or is
    all zero, so each entry is one add from an earlier one.

    >>> table_combinations(2)
    [(0, 1), (0, -1), (1, 0), (1, 1), (1, -1), (-1, 0), (-1, 1), (-1, -1)]
    >>> len(table_combinations(3)), table_combinations(3)[:3]
    (13, [(0, 0, 1), (0, 1, 0), (0, 1, 1)])
    """
    combos = [c for c in itertools.product((0, 1, -1), repeat=group) if any(c)]
    if lut_mirrored(group):
        combos = [c for c in combos if next(w for w in c if w) == 1]
    return sorted(combos, key=lambda c: [(0, 1, 2)[w] for w in c])


def _pattern(combo: tuple[int, ...]) -> str:
    """The Switch pattern of a combination's codes (code of weight 0 in the low bits)."""
    return "".join(_DIGIT_PATTERN[w] for w in reversed(combo))


class LutUnit(wiring.Component):
    """``tlu.rows`` rows of table-indexed accumulation, ``tlu.acc_per_tree`` accumulators each.

    Ports and timing as :class:`~tritium.hdl.tlu.Tlu` (:attr:`latency` =
    :func:`~tritium.sim.datapath.lut_pipeline_depth`). Data registers are reset-less.

    Attributes:
        groups: groups of ``g`` activations per slice.
        entries: stored entries per table.
        entry_bits: bits per entry (``lut_table_bits``, or exact).
        copies: copies of the tables (``ceil(rows / lut_share_rows)``).
        tables: ``tables[c][j]``, copy c's table of group j: its entry registers, in
            :func:`table_combinations` order (for tests and toggle counting).

    Raises:
        TritiumError: ``tlu`` is not a TluSpec.
        SpecError: a style key the HDL cannot build (:func:`~tritium.hdl.style.check_style`).
    """

    def __init__(self, tlu: TluSpec):
        if not isinstance(tlu, TluSpec):
            raise TritiumError(f"tlu = {tlu!r}: must be a TluSpec")
        keys = check_style(tlu)
        if keys.style != "lut":
            raise TritiumError(f"tlu.style = {keys.style!r}: a LutUnit needs 'lut'")
        self.tlu, self.group = tlu, keys.lut_group
        self.groups = lut_groups(tlu.width, self.group)
        self.combos = table_combinations(self.group)
        self.entries, self.mirrored = len(self.combos), lut_mirrored(self.group)
        self.entry_bits = table_bits(tlu)
        self.share = min(keys.lut_share_rows or tlu.rows, tlu.rows)
        self.copies = -(-tlu.rows // self.share)
        self.latency = lut_pipeline_depth(tlu.width, self.group, tlu.levels_per_stage)
        """Cycles from a slice on the inputs to its sums in the accumulators."""
        self.tables = [[[Signal(signed(self.entry_bits), name=f"t{c}_{j}_{e}", reset_less=True)
                         for e in range(self.entries)] for j in range(self.groups)] for c in range(self.copies)]
        super().__init__(unit_ports(tlu))

    def _activation(self, index: int):
        """Activation ``index`` of the slice, or 0 past ``width`` (the last group's padding)."""
        return self.act[index] if index < self.tlu.width else Const(0, signed(self.tlu.act_bits))

    def _build(self, m: Module, table: list, group: int) -> None:
        """Load ``table`` (group ``group``'s entry registers) with the slice's partial sums.

        Each combination's sum is its prefix's (the combination with its last non-zero
        weight set to 0, an earlier entry or zero) plus or minus one activation: one adder
        (or none, for a single weight) per stored entry.
        """
        g, sums = self.group, {}
        for e, combo in enumerate(self.combos):
            last = max(i for i, w in enumerate(combo) if w)
            act = self._activation(group * g + last)
            term = -act if combo[last] < 0 else act
            prefix = combo[:last] + (0,) * (g - last)
            value = Signal(signed(self.entry_bits), name=f"{table[e].name}_sum")
            m.d.comb += value.eq(sums[prefix] + term if any(prefix) else term)
            sums[combo] = value
            m.d.sync += table[e].eq(value)

    def elaborate(self, platform) -> Module:
        m = Module()
        tlu, g = self.tlu, self.group
        for copy in self.tables:
            for j, table in enumerate(copy):
                self._build(m, table, j)

        sums, stages = [], 0
        for r in range(tlu.rows):
            table_copy = self.tables[r // self.share]
            reads = []
            for j in range(self.groups):
                key = Cat(*[self.w[r][j * g + i] if j * g + i < tlu.width else Const(0, 2) for i in range(g)])
                # stage 1, beside the table build: the codes decoded to an entry index (entries: zero)
                # and, mirrored, a negate flag
                index = Signal(range(self.entries + 1), name=f"idx{r}_{j}", init=self.entries, reset_less=True)
                negate = Signal(name=f"neg{r}_{j}", reset_less=True)
                m.d.sync += [index.eq(self.entries), negate.eq(0)]
                with m.Switch(key):
                    for e, combo in enumerate(self.combos):
                        with m.Case(_pattern(combo)):
                            m.d.sync += index.eq(e)
                        if self.mirrored:
                            with m.Case(_pattern(tuple(-w for w in combo))):
                                m.d.sync += [index.eq(e), negate.eq(1)]
                # stage 2: the table read (a multiplexer), negated when the flag says so
                read = Signal(signed(self.entry_bits), name=f"read{r}_{j}")
                m.d.comb += read.eq(Array([*table_copy[j], Const(0, signed(self.entry_bits))])[index])
                sel = Signal(signed(self.entry_bits), name=f"sel{r}_{j}", reset_less=True)
                if self.mirrored:
                    # -x = ~x + 1: a conditional complement and a carry-in, one carry chain
                    m.d.sync += sel.eq((read ^ Mux(negate, -1, 0)) + negate)
                else:
                    m.d.sync += sel.eq(read)
                reads.append(sel)
            total, stages = pipelined_sum(m, reads, tlu.levels_per_stage, f"r{r}")
            sums.append(total)
        assert 2 + stages + 1 == self.latency, (stages, self.latency)

        valid = self.valid_in
        for stage in range(2 + stages):  # the table, select and tree registers
            nxt = Signal(name=f"valid{stage + 1}")
            m.d.sync += nxt.eq(valid)
            valid = nxt
        attach_accumulators(m, self, sums, valid, 2 + stages)
        return m
