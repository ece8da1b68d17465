"""Energy and area from event counts and the technology table of the chip's node.

Energy = event counts x per-event energy (:mod:`tritium.sim.tech`) + static power
x time. Area = the chip's parts built from the same table. What each count means:

- TLU: per sign-select input that toggles, one sign-select of ``act_bits`` bits
  and ``(width-1)/width`` of an adder of the tree's mean adder width (with
  ``gate``/``skip`` a zero weight does not toggle its input); per tree per cycle,
  the tree's pipeline registers are clocked; per accumulation, one ``acc_bits``
  add and register write.
- ``skip`` gather network: per routed input, ``log2(2 * width)`` levels of 2:1
  multiplexers of ``act_bits`` bits (:func:`tritium.sim.zero_skip.gather_window`).
- ``lut`` style (``docs/datapaths.md``): per table read, the read (``bit_length(entries)``
  levels of 2:1 multiplexers of the entry's bits from registers, or a read of that many
  bits from the table macro with ``lut_tables = "sram"``), its conditional negation when
  tables are mirrored, and its share of the row's adder tree over the ``groups`` reads;
  per row per cycle, the row's select and tree registers; per table built,
  ``entries - g`` adds of the entry's width and the entries written.
- ``mac`` style: per product that toggles, one ``mac_bits`` multiply
  (:meth:`~tritium.sim.tech.TechTable.mul_pj`) and its share of the tree over the
  ``width`` products (``2 * mac_bits`` bits wide, as the RTL registers them); per row per
  cycle, the product and tree registers.
- ``zero_act``: per broadcast activation, a zero detector (``act_bits - 1`` gates) with
  ``gate`` or ``skip``; with ``skip``, per activation of a window, ``log2(2 * width)`` mux
  levels of ``act_bits`` bits in the compaction network and per fed row input the same
  levels of 2-bit weight codes in the row's weight select.
- MAC array: one INT8 (or INT16) multiply-accumulate per pass; a product takes
  several passes when its operands are wider than the multipliers
  (:func:`tritium.sim.precision.precision_passes`); the vector unit does MACs (when the
  chip has no MAC array) and elementary ops at FP16/FP32 cost.
- SRAM: bits read and written, at the energy of one bank's macro size.
- DRAM: each op's traffic by access pattern times the DRAM model's pJ/bit for that
  pattern (:mod:`tritium.sim.dram`; or the chip's own ``dram.energy_pj_per_bit``), and
  the DRAM's background and refresh power over the whole run (:func:`dram_background_w`).
- Link: bits sent times the link's pJ/bit.
- Static: leakage of logic area and SRAM bits, for the whole composed run time.

:func:`area_breakdown` is the datapath's area (units, SRAM, PHYs). Control logic, the
network on chip, DMA engines, PLLs, I/O, test logic and the shoreline's white space are
added by :mod:`tritium.sim.die`, which also scales these energies and leakage to the
chip's operating point (supply voltage) before :func:`tritium.sim.simulate` sums them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tritium.sim.chip import Chip
from tritium.sim.chip_parts import TluSpec
from tritium.sim.datapath import lut_entry_bits, lut_groups, lut_mirrored, lut_table_entries
from tritium.sim.floorplan import link_phy
from tritium.sim.tech import TechTable, tech

__all__ = ["UNIT_ENERGY_PARTS", "EnergyModel", "energy_model", "op_energy", "static_power_w", "dram_background_w",
           "area_breakdown",
           "tlu_register_bits", "tree_area_parts_um2", "tree_area_um2", "SIGN_SELECT_AREA_GATES_PER_BIT",
           "row_register_bits", "row_area_parts_um2", "shared_area_parts_um2", "tlu_area_um2"]

UNIT_ENERGY_PARTS = ("tlu", "mac_array", "vector", "sram", "dram", "link")
"""Dynamic energy of an op by the chip's part that spends it (:func:`op_energy`), in this order:
the ternary datapath, the MAC array (attention, and the LM head where it runs there), the vector
unit, the SRAM buffers, the DRAM devices, the link. A result sorts the compute parts by the work
they do (:func:`tritium.sim.result.component_of`), as the GPU model does."""

_PJ = 1e-12
_MIN_TABLE_KIB = 0.125  # the smallest macro the SRAM energy curve covers (tech_scaling.MACRO_KIB_RANGE)


def tlu_register_bits(tlu: TluSpec) -> int:
    """Flip-flop bits of one adder tree's pipeline (without its accumulator).

    The sign-select register holds ``width`` values of ``act_bits + 1`` bits; after
    every ``levels_per_stage`` levels a register holds that level's partial sums
    (``width / 2**level`` of ``act_bits + 1 + level`` bits).
    """
    bits = tlu.width * (tlu.act_bits + 1)
    for level in range(tlu.levels_per_stage, tlu.levels + 1, tlu.levels_per_stage):
        bits += (tlu.width >> level) * (tlu.act_bits + 1 + level)
    if tlu.levels % tlu.levels_per_stage:
        bits += tlu.act_bits + 1 + tlu.levels  # the last, partial stage ends the tree
    return bits


def _tree_adder_pj(t: TechTable, tlu: TluSpec) -> float:
    """Energy of all ``width - 1`` adders of one tree, each at its own width."""
    return sum((tlu.width >> level) * t.add_pj(tlu.act_bits + 1 + level) for level in range(1, tlu.levels + 1))


def _tree_adder_um2(t: TechTable, tlu: TluSpec) -> float:
    return sum((tlu.width >> level) * t.add_um2(tlu.act_bits + 1 + level) for level in range(1, tlu.levels + 1))


SIGN_SELECT_AREA_GATES_PER_BIT = 6
"""2-input gates per activation bit in the area of one sign-select, as the RTL builds it.

The generated tree (:class:`tritium.hdl.tree.AdderTree`) forms +a, -a or 0 as the
conditional complement of ``a`` (an XOR per bit), masked for a zero weight (an AND),
plus a carry chain for the two's-complement +1 (a half adder per bit: XOR + AND). An
XOR counts as two of the table's gates: it is twice an AND in CMOS (12 transistors
against 6 in yosys's ``stat -tech cmos`` costs, yosys ``kernel/cost.h``). That is 6
gates per bit, not the 2 of :attr:`~tritium.sim.tech.TechTable.sign_select_um2_per_bit`
(which puts the +1 into the adder's carry-in). Checked by
:func:`tritium.hdl.calibrate.calibrate_area` (model over synthesized area about 0.97
for whole trees, 0.88 for their logic alone, at 7 nm with the default scaling;
``tritium hdl calibrate`` prints the table). The energy model keeps the 2-gate sign-select.
"""


def tree_area_parts_um2(tlu: TluSpec, t: TechTable) -> dict[str, float]:
    """Area of one adder tree of ``tlu`` by part, um^2 (no accumulator).

    ``sign_select``: ``width`` sign-selects of ``act_bits`` bits, each
    :data:`SIGN_SELECT_AREA_GATES_PER_BIT` gates per bit; ``adders``: the ``width - 1``
    adders, each at its own width; ``registers``: :func:`tlu_register_bits` flip-flops.
    """
    return {
        "sign_select": tlu.width * tlu.act_bits * SIGN_SELECT_AREA_GATES_PER_BIT * t.gate_um2_per_bit,
        "adders": _tree_adder_um2(t, tlu),
        "registers": tlu_register_bits(tlu) * t.register_um2_per_bit,
    }


def tree_area_um2(tlu: TluSpec, t: TechTable) -> float:
    """Area of one adder tree of ``tlu`` (sign-selects, adders, pipeline registers), um^2.

    Checked against synthesized trees by :func:`tritium.hdl.calibrate.calibrate_area`.
    """
    return sum(tree_area_parts_um2(tlu, t).values())


# -- the lut and mac styles ------------------------------------------------------------------------

def _tree_levels_bits(inputs: int, base_bits: int) -> list[tuple[int, int]]:
    """(adders, bits) per level of a binary adder tree over ``inputs`` operands of ``base_bits``:
    ceil(n / 2) nodes at each level (an odd operand passes through), each one bit wider."""
    out, n, level = [], inputs, 0
    while n > 1:
        level += 1
        out.append((n // 2, base_bits + level))
        n = -(-n // 2)
    return out


def _style_tree(tlu: TluSpec) -> tuple[int, int]:
    """(inputs, bits of one input) of a row's adder tree in ``tlu``'s style."""
    if tlu.style == "lut":
        return lut_groups(tlu.width, tlu.lut_group), _entry_bits(tlu)
    if tlu.style == "mac":
        return tlu.width, 2 * tlu.mac_bits
    return tlu.width, tlu.act_bits + 1


def _entry_bits(tlu: TluSpec) -> int:
    return tlu.lut_table_bits or lut_entry_bits(tlu.act_bits, tlu.lut_group)


def row_register_bits(tlu: TluSpec) -> int:
    """Flip-flop bits of one row's pipeline in any style (without its accumulators).

    ``adder_tree``: :func:`tlu_register_bits`. ``lut``: per group the decoded entry index
    (and negate flag when mirrored), the select register (one entry per group) and a
    register after every ``levels_per_stage`` levels of the tree over the reads, as the
    RTL registers them (``docs/rtl-styles.md``). ``mac``: the product register (``width``
    products of ``2 * mac_bits`` bits) and the tree's stage registers.
    """
    if tlu.style == "adder_tree":
        return tlu_register_bits(tlu)
    inputs, bits = _style_tree(tlu)
    levels = _tree_levels_bits(inputs, bits)
    total = inputs * bits
    if tlu.style == "lut":
        total += inputs * _index_bits(tlu.lut_group)
    for i, (adders, width) in enumerate(levels, start=1):
        if i % tlu.levels_per_stage == 0 or i == len(levels):
            total += -(-inputs // 2**i) * width
    return total


def _tree_pj(t: TechTable, tlu: TluSpec) -> float:
    inputs, bits = _style_tree(tlu)
    return sum(n * t.add_pj(b) for n, b in _tree_levels_bits(inputs, bits))


def _tree_um2(t: TechTable, tlu: TluSpec) -> float:
    inputs, bits = _style_tree(tlu)
    return sum(n * t.add_um2(b) for n, b in _tree_levels_bits(inputs, bits))


def _table_bits_per_copy(tlu: TluSpec) -> int:
    """Bits of one copy of a slice's tables: groups x entries x entry bits."""
    return lut_groups(tlu.width, tlu.lut_group) * lut_table_entries(tlu.lut_group) * _entry_bits(tlu)


def _table_macro_kib(tlu: TluSpec) -> float:
    return max(_table_bits_per_copy(tlu) / 8 / 1024, _MIN_TABLE_KIB)


def _mux_levels(entries: int) -> int:
    """2:1 multiplexer levels of a row's table read: ``entries`` stored entries and the constant 0."""
    return max(1, entries.bit_length())


def _index_bits(group: int) -> int:
    """Bits of one decoded table index (``entries`` entries and 0) and, mirrored, its negate flag."""
    return lut_table_entries(group).bit_length() + (1 if lut_mirrored(group) else 0)


def row_area_parts_um2(tlu: TluSpec, t: TechTable) -> dict[str, float]:
    """Area of one row of ``tlu`` by part, um^2 (no accumulator, no shared parts).

    ``adder_tree``: :func:`tree_area_parts_um2`. ``lut``: ``read`` (per group an
    ``entries + 1``:1 multiplexer of the entry's bits, the last input the constant 0:
    ``entries`` 2:1 muxes),
    ``negate`` (mirrored tables: a conditional negation per group,
    :data:`SIGN_SELECT_AREA_GATES_PER_BIT` gates per bit), ``adders``, ``registers``.
    ``mac``: ``multipliers`` (``width`` of ``mac_bits``), ``adders``, ``registers``.
    With ``zero_act = "skip"`` a ``weight_select`` part: per input a ``2 * width``:1
    multiplexer of the 2-bit weight code.
    """
    if tlu.style == "adder_tree":
        parts = tree_area_parts_um2(tlu, t)
    elif tlu.style == "lut":
        groups, bits = lut_groups(tlu.width, tlu.lut_group), _entry_bits(tlu)
        entries = lut_table_entries(tlu.lut_group)
        parts = {
            "read": groups * entries * bits * t.mux_um2_per_bit,
            "negate": groups * bits * SIGN_SELECT_AREA_GATES_PER_BIT * t.gate_um2_per_bit
            if lut_mirrored(tlu.lut_group) else 0.0,
            "adders": _tree_um2(t, tlu),
            "registers": row_register_bits(tlu) * t.register_um2_per_bit,
        }
    else:
        parts = {
            "multipliers": tlu.width * t.mul_um2(tlu.mac_bits),
            "adders": _tree_um2(t, tlu),
            "registers": row_register_bits(tlu) * t.register_um2_per_bit,
        }
    if tlu.zero_act == "skip":
        parts["weight_select"] = tlu.width * (2 * tlu.width - 1) * 2 * t.mux_um2_per_bit
    return parts


def shared_area_parts_um2(tlu: TluSpec, t: TechTable) -> dict[str, float]:
    """Area of the parts of one core's TLU that its rows share, um^2.

    ``lut``: ``table_builders`` (per copy, per group, ``entries - g`` adders of the entry's
    width) and ``tables`` (per copy, the slice's tables in flip-flops, or a register-file
    macro: :meth:`~tritium.sim.tech.TechTable.table_macro_mm2`). ``zero_act`` ``gate``/``skip``:
    ``zero_detect`` (``width`` detectors of ``act_bits - 1`` gates); ``skip`` also ``compaction``
    (``width`` outputs, each a ``2 * width``:1 multiplexer of ``act_bits`` bits, and a prefix count).
    """
    parts: dict[str, float] = {}
    if tlu.style == "lut":
        copies = -(-tlu.rows // (tlu.lut_share_rows or tlu.rows))
        groups, g = lut_groups(tlu.width, tlu.lut_group), tlu.lut_group
        adds = lut_table_entries(g) - g
        parts["table_builders"] = copies * groups * max(adds, 0) * t.add_um2(_entry_bits(tlu))
        if tlu.lut_tables == "registers":
            parts["tables"] = copies * _table_bits_per_copy(tlu) * t.register_um2_per_bit
        else:
            parts["tables"] = copies * t.table_macro_mm2(_table_macro_kib(tlu)) * 1e6
    if tlu.zero_act != "none":
        parts["zero_detect"] = tlu.width * (tlu.act_bits - 1) * t.gate_um2_per_bit
    if tlu.zero_act == "skip":
        window = 2 * tlu.width
        parts["compaction"] = (tlu.width * (window - 1) * tlu.act_bits * t.mux_um2_per_bit
                               + window * t.add_um2(window.bit_length()))
    return parts


def tlu_area_um2(tlu: TluSpec, t: TechTable) -> float:
    """Area of one core's TLU in any style, um^2: ``rows`` rows (each its parts, one accumulator
    adder and ``acc_per_tree`` accumulator registers; with weight ``skip`` its gather network)
    and the shared parts."""
    per_row = (sum(row_area_parts_um2(tlu, t).values()) + t.add_um2(tlu.acc_bits)
               + tlu.acc_per_tree * tlu.acc_bits * t.register_um2_per_bit)
    if tlu.zero_handling == "skip":
        per_row += tlu.width * (2 * tlu.width - 1) * tlu.act_bits * t.mux_um2_per_bit
    return per_row * tlu.rows + sum(shared_area_parts_um2(tlu, t).values())


def _style_energies(t: TechTable, tlu: TluSpec) -> dict[str, float]:
    """Per-event energies of the TLU's style, pJ (see the module docstring)."""
    if tlu.style == "adder_tree":
        per_input = t.sign_select_pj_per_bit * tlu.act_bits + _tree_adder_pj(t, tlu) / tlu.width
        return dict(per_input=per_input, per_row_cycle=tlu_register_bits(tlu) * t.register_pj_per_bit,
                    per_build_add=0.0, per_build_write=0.0)
    if tlu.style == "mac":
        per_input = t.mul_pj(tlu.mac_bits) + _tree_pj(t, tlu) / tlu.width
        return dict(per_input=per_input, per_row_cycle=row_register_bits(tlu) * t.register_pj_per_bit,
                    per_build_add=0.0, per_build_write=0.0)
    groups, bits = lut_groups(tlu.width, tlu.lut_group), _entry_bits(tlu)
    entries = lut_table_entries(tlu.lut_group)
    if tlu.lut_tables == "registers":
        read = _mux_levels(entries) * bits * t.mux_pj_per_bit
        write = entries * bits * t.register_pj_per_bit
    else:
        kib = _table_macro_kib(tlu)
        read = bits * t.sram_read_pj_per_bit(kib)
        write = entries * bits * t.sram_write_pj_per_bit(kib)
    negate = bits * t.sign_select_pj_per_bit if lut_mirrored(tlu.lut_group) else 0.0
    return dict(per_input=read + negate + _tree_pj(t, tlu) / groups,
                per_row_cycle=row_register_bits(tlu) * t.register_pj_per_bit,
                per_build_add=t.add_pj(bits), per_build_write=write)


def _mac_pj(t: TechTable, chip: Chip) -> float:
    if chip.attention.unit == "vector":
        return t.fp16_mac_pj if chip.vector.precision != "fp32" else t.fp32_mul_pj + t.fp32_add_pj
    if chip.attention.mac_bits == 8:
        return t.int8_mac_pj
    return 4 * t.int8_mul_pj + t.int32_add_pj  # a 16-bit multiplier is ~4x an 8-bit one (array area ~ bits^2)


def _vector_op_pj(t: TechTable, chip: Chip) -> float:
    if chip.vector.precision == "fp32":
        return (t.fp32_add_pj + t.fp32_mul_pj) / 2
    return (t.fp16_add_pj + t.fp16_mul_pj) / 2


@dataclass(frozen=True, slots=True)
class EnergyModel:
    """Per-event energies of one chip at one scaling, in pJ (built once by :func:`energy_model`)."""

    tlu_per_active_input: float
    tlu_per_tree_cycle: float
    tlu_per_acc_update: float
    gather_per_input_level: float
    lut_per_build_add: float
    lut_per_build_write: float
    zero_detect: float
    weight_select_per_input_level: float
    mac: float
    vector_op: float
    sram_read_per_byte: tuple[float, float, float]  # weight, act, kv buffers
    sram_write_per_byte: tuple[float, float, float]
    link_per_byte: float
    on_vector: bool


@functools.cache
def energy_model(chip: Chip, scaling: str) -> EnergyModel:
    """The :class:`EnergyModel` of ``chip`` under ``scaling`` (cached)."""
    t = tech(chip.node_nm, scaling)
    tlu = chip.tlu
    bufs = [getattr(chip.sram, name) for name in ("weight", "act", "kv")]
    style = _style_energies(t, tlu)
    return EnergyModel(
        tlu_per_active_input=style["per_input"],
        tlu_per_tree_cycle=style["per_row_cycle"],
        tlu_per_acc_update=t.add_pj(tlu.acc_bits) + tlu.acc_bits * t.register_pj_per_bit,
        gather_per_input_level=tlu.act_bits * t.mux_pj_per_bit,
        lut_per_build_add=style["per_build_add"],
        lut_per_build_write=style["per_build_write"],
        zero_detect=(tlu.act_bits - 1) * t.gate_pj_per_bit,
        weight_select_per_input_level=2 * t.mux_pj_per_bit,
        mac=_mac_pj(t, chip),
        vector_op=_vector_op_pj(t, chip),
        sram_read_per_byte=tuple(8 * t.sram_read_pj_per_bit(b.capacity_kib / b.banks) for b in bufs),
        sram_write_per_byte=tuple(8 * t.sram_write_pj_per_bit(b.capacity_kib / b.banks) for b in bufs),
        link_per_byte=8 * chip.link.energy_pj_per_bit * chip.chips if chip.link else 0.0,
        on_vector=chip.attention.unit == "vector",
    )


def op_energy(chip: Chip, work, scaling: str) -> dict[str, float]:
    """Dynamic energy of one op's mapped cost (:class:`~tritium.sim.op_cost.OpCost`), joules by
    :data:`UNIT_ENERGY_PARTS`."""
    e = energy_model(chip, scaling)
    tlu_pj = 0.0
    if work.tlu_inputs:
        tlu_pj = (work.tlu_active_inputs * e.tlu_per_active_input
                  + work.tlu_inputs / chip.tlu.width * e.tlu_per_tree_cycle
                  + work.tlu_acc_updates * e.tlu_per_acc_update
                  + work.gather_inputs * work.gather_levels * e.gather_per_input_level
                  + work.lut_build_adds * e.lut_per_build_add + work.lut_builds * e.lut_per_build_write
                  + work.zero_checks * e.zero_detect
                  + work.compact_inputs * work.gather_levels * e.gather_per_input_level
                  + work.weight_selects * work.gather_levels * e.weight_select_per_input_level)
    mac_pj = work.mac_passes * e.mac
    sram_pj = 0.0
    for i, name in enumerate(("weight", "act", "kv")):
        sram_pj += work.sram_read_bytes[name] * e.sram_read_per_byte[i]
        sram_pj += work.sram_write_bytes[name] * e.sram_write_per_byte[i]
    return {
        "tlu": tlu_pj * _PJ,
        "mac_array": 0.0 if e.on_vector else mac_pj * _PJ,
        "vector": (work.vector_ops * e.vector_op + (mac_pj if e.on_vector else 0.0)) * _PJ,
        "sram": sram_pj * _PJ,
        "dram": work.dram_pj * _PJ,
        "link": work.link_bytes * e.link_per_byte * _PJ,
    }


def area_breakdown(chip: Chip, scaling: str) -> dict[str, float]:
    """Area of one chip by component, mm^2, with ``total``."""
    t = tech(chip.node_nm, scaling)
    tlu = chip.tlu
    um2 = {
        "tlu": tlu_area_um2(tlu, t) * chip.cores,
        "attention": chip.attention.macs * (t.int8_mac_um2 if chip.attention.mac_bits == 8 else 4 * t.int8_mul_um2
                                            + t.int32_add_um2) * chip.cores,
        "vector": chip.vector.lanes * (t.fp16_add_um2 + t.fp16_mul_um2 if chip.vector.precision != "fp32"
                                       else t.fp32_add_um2 + t.fp32_mul_um2) * chip.cores,
    }
    area = {k: v / 1e6 for k, v in um2.items()}
    area["sram"] = t.sram_area_mm2(chip.sram.total_kib) * chip.cores
    area["dram_phy"] = chip.dram.channels * t.dram_phy_mm2(chip.dram.type)
    area["link_phy"] = link_phy(chip.link, chip.node_nm)[1] if chip.link else 0.0  # by link.phy
    area["total"] = sum(area.values())
    return area


def dram_background_w(chip: Chip) -> float:
    """Background (standby) and refresh power of the DRAM of all chips, watts: paid over the whole
    run, idle included (:func:`tritium.sim.dram.dram_energy_j` over one second)."""
    from tritium.sim.dram import dram_energy_j

    one = dram_energy_j(chip.dram.type, 0, 0, 1.0, chip.dram.channels, "stream", chip.dram.capacity_gib)
    return (one["background"] + one["refresh"]) * chip.chips


def static_power_w(chip: Chip, scaling: str) -> float:
    """Leakage power of the whole system (all chips), watts: logic area and SRAM bits."""
    t = tech(chip.node_nm, scaling)
    area = area_breakdown(chip, scaling)
    logic_mm2 = area["tlu"] + area["attention"] + area["vector"]
    sram_mibit = chip.sram.total_kib * 8 / 1024 * chip.cores
    per_chip_mw = logic_mm2 * t.logic_leakage_mw_per_mm2 + sram_mibit * t.sram_leakage_mw_per_mibit
    return per_chip_mw * chip.chips / 1e3

