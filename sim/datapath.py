"""The on-core schedules of the ``lut`` and ``mac`` datapath styles: the RTL contract.

These mirror :func:`tritium.sim.tlu_schedule.tlu_schedule` (the adder tree's) for the other
two values of ``tlu.style``, as pure functions of plain values (no chip objects), so the
mapper and the RTL tests call the same code. All three styles run the same weight-stationary
loop nest (:func:`tritium.sim.tlu_schedule.loop_nest`)::

    for tile in ceil(N / rows) tiles of rows outputs:
        for block in blocks of B tokens (B <= acc_per_tree):
            for slice in ceil(K / width) slices:
                read the tile's weight word of this slice (rows x width ternary weights)
                for token in block:                    # one cycle each
                    read the token's activation slice; the unit adds it into acc[token]

and the same weight memory: words of ``rows`` lanes of ``width`` trits in the chip's
``weight_encoding``, so ``weight_word_reads``, ``act_slice_reads``, ``result_writes`` and the
port stalls (``word_cycles``, ``slice_cycles``) are the adder tree's, and every style's
schedule is a :class:`~tritium.sim.tlu_schedule.TluSchedule` (:class:`LutSchedule` and
:class:`MacSchedule` add their own counts). The styles differ in what one issued slice
costs inside the unit and in the unit's pipeline depth:

``lut`` (:func:`lut_schedule`). The slice's ``width`` activations are cut into
``groups = ceil(width / g)`` groups of ``g`` (``tlu.lut_group``; the last group is padded
with zero activations). A *table builder* registers, for each group, the partial sums of
the group under every non-zero ternary weight combination (a *table* of
:func:`lut_table_entries` entries of ``lut_table_bits`` bits; the all-zero combination is
the constant 0 and is not stored). With sign symmetry (:func:`lut_mirrored`, g >= 3) only
the combinations whose first non-zero weight is +1 are stored, (3^g - 1) / 2 of them, and a
row negates what it reads when its combination's first non-zero weight is -1; for g <= 2
the whole table (3^g - 1 entries: 2 or 8) is stored and read without negation. Each row's
``g`` weights of a group index its table (one *table read*), and an adder tree of
``groups`` inputs sums the reads into the row's accumulator. ``lut_share_rows`` rows share
one copy of the tables, so ``ceil(rows / lut_share_rows)`` copies are built per issued
slice. Tables are built for every issued slice (a token's slice issued again for the next
weight tile is built again), so ``table_builds = act_slice_reads * groups * copies`` and
``table_reads = act_slice_reads * rows * groups``. ``lut_tables`` says where the built
tables live: ``"registers"`` or ``"sram"`` (a small register-file macro written with one
slice's tables per cycle and read by every row in the same cycle); cycles and counts are
the same for both, only storage energy and area differ (the RTL builds ``"registers"``).
Pipeline (:func:`lut_pipeline_depth`): table register, select register (the read, with
its negation), ``ceil(ceil(log2(groups)) / levels_per_stage)`` tree stage registers,
accumulator register.

``mac`` (:func:`mac_schedule`). ``rows x width`` signed ``mac_bits``-bit multipliers: each
ternary weight is decoded to a ``mac_bits``-bit integer in {-1, 0, 1} and multiplied with its
activation (``act_bits <= mac_bits``), and each row's ``width`` products are summed by an
adder tree into its accumulator: ``multiplies = act_slice_reads * rows * width``. Pipeline
(:func:`mac_pipeline_depth`): product register, ``ceil(log2(width) / levels_per_stage)``
tree stage registers, accumulator register (the adder tree's depth, the product register
in place of the sign-select register).

Cycles: a (tile, block, slice) group of ``b`` tokens takes ``max(b * slice_cycles,
word_cycles)`` cycles, the busiest core's groups follow each other with no bubble, and the
pipeline fills once per op: ``cycles = tiles_per_core * slices * sum over blocks + depth``.

>>> s = lut_schedule(8, 64, 4, 256, 16, group=3, act_bits=8, levels_per_stage=1)
>>> (s.cycles, s.pipeline_depth, s.groups, s.table_entries, s.table_builds, s.table_reads)
(40, 8, 22, 13, 704, 5632)
>>> m = mac_schedule(8, 64, 4, 256, 16, act_bits=8, mac_bits=8)
>>> (m.cycles, m.pipeline_depth, m.multiplies)
(40, 8, 16384)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from tritium.base.errors import SpecError
from tritium.sim.tlu_schedule import TluSchedule, loop_nest, tlu_schedule

__all__ = [
    "STYLES",
    "LUT_GROUPS",
    "LUT_TABLES",
    "LutSchedule",
    "MacSchedule",
    "lut_schedule",
    "mac_schedule",
    "lut_groups",
    "lut_mirrored",
    "lut_table_entries",
    "lut_entry_bits",
    "lut_tree_levels",
    "lut_pipeline_depth",
    "mac_pipeline_depth",
    "check_lut",
    "check_mac",
    "style_schedule",
]

STYLES = ("adder_tree", "lut", "mac")
"""Values of ``tlu.style``."""
LUT_GROUPS = (1, 2, 3, 4)
"""Group sizes ``g`` the LUT datapath builds (3^4 - 1 = 80 table entries at most; T-MAC and
bitnet.cpp's TL kernels use 2 to 4)."""
LUT_TABLES = ("registers", "sram")
"""Values of ``tlu.lut_tables``."""


@dataclass(frozen=True, slots=True)
class LutSchedule(TluSchedule):
    """One dense ternary GEMM on ``lut`` units: the loop nest's :class:`~tritium.sim.tlu_schedule.TluSchedule`
    (its ``pipeline_depth`` is :func:`lut_pipeline_depth`) and the tables' counts.

    Attributes:
        table_builds: tables (one group's entries, one copy) built, all cores.
        table_reads: table entries read (one per row per group per issued slice), all cores.
        groups: groups of ``g`` activations per slice, ceil(width / g).
        table_entries: stored entries per table (:func:`lut_table_entries`).
        table_entry_bits: bits per entry.
        table_copies: copies of a slice's tables per core, ceil(rows / share_rows).
        mirrored: tables store half the combinations (sign symmetry) and rows negate.
    """

    table_builds: int
    table_reads: int
    groups: int
    table_entries: int
    table_entry_bits: int
    table_copies: int
    mirrored: bool


@dataclass(frozen=True, slots=True)
class MacSchedule(TluSchedule):
    """One dense ternary GEMM on ``mac`` units: the loop nest's :class:`~tritium.sim.tlu_schedule.TluSchedule`
    (its ``pipeline_depth`` is :func:`mac_pipeline_depth`) and the multiplies.

    Attributes:
        multiplies: ``mac_bits`` x ``mac_bits`` multiplications (all issued inputs, the zero
            padding of a last slice included), all cores.
        mac_bits: the multipliers' operand width.
    """

    multiplies: int
    mac_bits: int


def lut_groups(width: int, group: int) -> int:
    """Groups of ``group`` activations in one slice of ``width``: ceil(width / group)."""
    return -(-width // group)


def lut_mirrored(group: int) -> bool:
    """Whether a table of ``group`` activations is stored halved by sign symmetry: g >= 3.

    Halving saves (3^g - 1) / 2 stored entries and their builder adders per copy and halves
    every row's read multiplexer, for one conditional negation per row per group. At g = 2
    the whole table is 8 entries, and the negation costs a row about what the halved mux saves.
    """
    return group >= 3


def lut_table_entries(group: int) -> int:
    """Stored entries of one table: (3^g - 1) / 2 mirrored, else 3^g - 1 (zero is not stored)."""
    full = 3**group - 1
    return full // 2 if lut_mirrored(group) else full


def lut_entry_bits(act_bits: int, group: int) -> int:
    """Signed bits an exact entry needs: act_bits + bit_length(g) (|sum| <= g * 2^(act_bits-1))."""
    return act_bits + int(group).bit_length()


def lut_tree_levels(width: int, group: int) -> int:
    """Adder levels summing one row's table reads: ceil(log2(groups)) (0 for one group)."""
    return (lut_groups(width, group) - 1).bit_length()


def lut_pipeline_depth(width: int, group: int, levels_per_stage: int) -> int:
    """Registers a slice passes in a ``lut`` unit: table, select, tree stages, accumulator.

    >>> lut_pipeline_depth(64, 2, 1), lut_pipeline_depth(64, 3, 2), lut_pipeline_depth(4, 4, 1)
    (8, 6, 3)
    """
    return 1 + 1 + -(-lut_tree_levels(width, group) // levels_per_stage) + 1


def mac_pipeline_depth(width: int, levels_per_stage: int) -> int:
    """Registers a slice passes in a ``mac`` unit: product, tree stages, accumulator."""
    levels = int(width).bit_length() - 1
    return 1 + -(-levels // levels_per_stage) + 1


def _int(key: str, value: object, lo: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise SpecError(key, value, f"must be an integer >= {lo}")


def check_lut(width: int, group: int, act_bits: int, table_bits: int | None = None,
              share_rows: int | None = None, rows: int | None = None, tables: str = "registers") -> None:
    """Raise :class:`SpecError` naming the ``tlu.lut_*`` key the LUT datapath cannot build."""
    if group not in LUT_GROUPS or isinstance(group, bool) or group > width:
        raise SpecError("tlu.lut_group", group, f"must be an integer from {LUT_GROUPS[0]} to "
                        f"{min(LUT_GROUPS[-1], width)} (and at most tlu.width = {width})")
    need = lut_entry_bits(act_bits, group)
    if table_bits is not None and (isinstance(table_bits, bool) or not isinstance(table_bits, (int, np.integer))
                                   or not need <= table_bits <= 64):
        raise SpecError("tlu.lut_table_bits", table_bits, f"must be an integer from {need} (act_bits + "
                        f"bit_length(lut_group): exact partial sums) to 64")
    if share_rows is not None:
        _int("tlu.lut_share_rows", share_rows)
        if rows is not None and share_rows > rows:
            raise SpecError("tlu.lut_share_rows", share_rows, f"must be an integer from 1 to tlu.rows = {rows}")
    if tables not in LUT_TABLES:
        raise SpecError("tlu.lut_tables", tables, f"must be one of {', '.join(LUT_TABLES)}")


def check_mac(act_bits: int, mac_bits: int) -> None:
    """Raise :class:`SpecError` unless ``mac_bits`` is an integer from ``act_bits`` to 32."""
    if isinstance(mac_bits, bool) or not isinstance(mac_bits, (int, np.integer)) or not act_bits <= mac_bits <= 32:
        raise SpecError("tlu.mac_bits", mac_bits, f"must be an integer from act_bits = {act_bits} to 32")


def _fields(nest: TluSchedule) -> dict:
    """The loop nest's fields, which a style's schedule extends with its own counts."""
    return {f.name: getattr(nest, f.name) for f in dataclasses.fields(TluSchedule)}


def lut_schedule(rows: int, width: int, m: int, k: int, n: int, *, group: int, act_bits: int = 8,
                 levels_per_stage: int = 1, acc_per_tree: int = 1, weight_encoding: str = "2bit",
                 table_bits: int | None = None, share_rows: int | None = None, tables: str = "registers",
                 cores: int = 1, token_block: int = 1, weight_port_bits: int | None = None,
                 act_port_bits: int | None = None) -> LutSchedule:
    """The schedule of a dense M x K x N ternary GEMM on ``lut`` units (module docstring).

    Args:
        rows, width: the unit's rows (outputs together) and activations per slice.
        m, k, n: the GEMM (tokens, inputs, outputs).
        group: ``tlu.lut_group`` (g). table_bits: ``tlu.lut_table_bits`` (None: exact,
            :func:`lut_entry_bits`). share_rows: ``tlu.lut_share_rows`` (None: all rows share
            one copy). tables: ``tlu.lut_tables`` (cycles and counts do not depend on it).
        act_bits, levels_per_stage, acc_per_tree, weight_encoding: the ``tlu`` keys.
        cores, token_block, weight_port_bits, act_port_bits: as :func:`~tritium.sim.tlu_schedule.loop_nest`.

    Raises:
        SpecError: a value out of range (the message names the key).
    """
    _int("levels_per_stage", levels_per_stage)
    _int("width", width)
    check_lut(width, group, act_bits, table_bits, share_rows, rows, tables)
    share = rows if share_rows is None else min(share_rows, rows)
    nest = loop_nest(rows, width, m, k, n, act_bits=act_bits, acc_per_tree=acc_per_tree,
                     weight_encoding=weight_encoding, pipeline_depth=lut_pipeline_depth(width, group, levels_per_stage),
                     cores=cores, token_block=token_block, weight_port_bits=weight_port_bits,
                     act_port_bits=act_port_bits)
    groups = lut_groups(width, group)
    copies = -(-rows // share)
    return LutSchedule(
        **_fields(nest),
        table_builds=nest.act_slice_reads * groups * copies,
        table_reads=nest.act_slice_reads * rows * groups,
        groups=groups,
        table_entries=lut_table_entries(group),
        table_entry_bits=int(lut_entry_bits(act_bits, group) if table_bits is None else table_bits),
        table_copies=copies,
        mirrored=lut_mirrored(group),
    )


def mac_schedule(rows: int, width: int, m: int, k: int, n: int, *, act_bits: int = 8, mac_bits: int = 8,
                 levels_per_stage: int = 1, acc_per_tree: int = 1, weight_encoding: str = "2bit",
                 cores: int = 1, token_block: int = 1, weight_port_bits: int | None = None,
                 act_port_bits: int | None = None) -> MacSchedule:
    """The schedule of a dense M x K x N ternary GEMM on ``mac`` units (module docstring).

    Args as :func:`lut_schedule`; ``mac_bits`` is ``tlu.mac_bits``.

    Raises:
        SpecError: a value out of range (the message names the key).
    """
    _int("levels_per_stage", levels_per_stage)
    _int("width", width)
    check_mac(act_bits, mac_bits)
    nest = loop_nest(rows, width, m, k, n, act_bits=act_bits, acc_per_tree=acc_per_tree,
                     weight_encoding=weight_encoding, pipeline_depth=mac_pipeline_depth(width, levels_per_stage),
                     cores=cores, token_block=token_block, weight_port_bits=weight_port_bits,
                     act_port_bits=act_port_bits)
    return MacSchedule(**_fields(nest), multiplies=nest.act_slice_reads * rows * width, mac_bits=int(mac_bits))


def style_schedule(tlu, m: int, k: int, n: int, **kwargs) -> TluSchedule:
    """The schedule of ``tlu``'s style for an M x K x N GEMM (a TluSpec or anything with its keys).

    ``style`` and the ``lut_*`` / ``mac_bits`` keys are read with defaults (``"adder_tree"``,
    g = 2, exact table bits, all rows sharing one copy, registers, 8-bit multipliers), so
    a TluSpec without them schedules as the adder tree. ``kwargs``: ``cores``,
    ``token_block``, ``weight_port_bits``, ``act_port_bits``.
    """
    style = getattr(tlu, "style", "adder_tree")
    if style == "adder_tree":
        return tlu_schedule(tlu, m, k, n, **kwargs)
    common = dict(act_bits=tlu.act_bits, levels_per_stage=tlu.levels_per_stage, acc_per_tree=tlu.acc_per_tree,
                  weight_encoding=tlu.weight_encoding, **kwargs)
    if style == "lut":
        return lut_schedule(tlu.rows, tlu.width, m, k, n, group=getattr(tlu, "lut_group", 2),
                            table_bits=getattr(tlu, "lut_table_bits", None) or None,
                            share_rows=getattr(tlu, "lut_share_rows", None) or None,
                            tables=getattr(tlu, "lut_tables", "registers"), **common)
    if style == "mac":
        return mac_schedule(tlu.rows, tlu.width, m, k, n, mac_bits=getattr(tlu, "mac_bits", 8), **common)
    raise SpecError("tlu.style", style, f"must be one of {', '.join(STYLES)}")
