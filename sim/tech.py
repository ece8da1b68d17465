"""Technology tables: per-event energy (pJ) and area (um^2) at a process node.

Energy and area start from Horowitz's 45 nm table (ISSCC 2014) and are carried to the
chip's node by a named, reported :class:`ScalingMethod`, because published methods
disagree by about 3x between 45 and 7 nm:

``"bitnet"`` (default)
    BitNet's 7 nm per-operation table (arXiv 2310.11453, from Horowitz and PokeBNN).
    Each tabulated operation keeps its own 45->7 nm ratio ``r``; between 45 and 7 nm
    energy follows a power law in the node, ``E(n) = E45 * r ** (ln(45/n) / ln(45/7))``.
    Registers and gates (the adder tree's own standard cells) scale like the INT8
    add; SRAM, absent from BitNet's table, by the geometric mean of its six ratios.
    Areas scale with logic transistor density (CSET via LLMCompass).
``"stillmaker"``
    Stillmaker & Baas 2017 fits (as in Accelergy's hwcomponents) at 0.8 V at both
    ends: one energy factor and one area factor for every event, linear in nm between
    fitted nodes. (hwcomponents' own interpolation weights the two neighbours the
    other way round, which gives 45->28 nm factors of 0.37 energy and 0.29 area; the
    correct weighting here gives 0.51 and 0.38.)
``"stillmaker_lowvdd"``
    The same fits from Horowitz's 0.9 V at 45 nm to 0.7 V at every smaller node.

Below 7 nm every method multiplies its 7 nm energy by TSMC's iso-speed power factors
(0.7 at 5 nm, 0.5 at 3 nm) and its 7 nm area by the ratio of logic densities.

The numbers live in ``tech_data.toml`` beside this file, each with its source, read by
:mod:`tritium.sim.tech_scaling` with the scaling methods; :meth:`TechTable.sources` and
:meth:`TechTable.describe` carry them into reports.

>>> round(arithmetic_energy_ratio(7), 1)   # BitNet b1.58's "71.4x" headline
71.4
>>> round(tech(7, "stillmaker").add_pj(8), 5)
0.00283
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from tritium.sim.chip import NODES_NM
from tritium.sim.chip_memory import DRAM_TYPES
from tritium.base.figures import interpolate
from tritium.base.specio import check_choice, check_float, check_int
from tritium.sim.tech_scaling import (
    DEFAULT_SCALING,
    MACRO_KIB_RANGE,
    OPS,
    SCALING_METHODS,
    by_node,
    check_node,
    logic_density,
    tech_source,
    tech_tables,
    tech_value,
)

__all__ = ["NODES_NM", "SRAM_DENSITIES", "TechTable", "tech", "arithmetic_energy_ratio", "dram_pj_per_bit"]

SRAM_DENSITIES = ("macro", "cache")
"""SRAM density options: TSMC-style macro density, or LLMCompass's GPU-cache figure."""

# --- the table ---------------------------------------------------------------------------

_CACTI_KIB = (8, 32, 256, 1024)
_HOROWITZ_SRAM_KIB = (8, 32, 1024)


@dataclass(frozen=True, slots=True, kw_only=True)
class TechTable:
    """Per-event energy (pJ) and area (um^2) at one node under one scaling method.

    Build it with :func:`tech`. Integer adders are given at 8, 16 and 32 bits; use
    :meth:`add_pj` / :meth:`add_um2` for other widths. A *gate* is one 2-input logic
    gate per bit (AND, OR or XOR). SRAM figures are per bit of one macro (bank):
    pass the macro size, not the whole buffer's.

    Attributes:
        node_nm: process node, one of :data:`NODES_NM`.
        scaling: scaling method name, a key of :data:`SCALING_METHODS`.
        int8_add_pj ... fp32_mul_um2: one operation's energy, pJ, and area, um^2.
        register_pj_per_bit, register_um2_per_bit: one flip-flop bit clocked once.
        gate_pj_per_bit, gate_um2_per_bit: one 2-input gate per bit switching once.
        sram_read_pj_per_bit_8kib, _32kib, _1024kib: read energy per bit of macros of
            that size (anchors of :meth:`sram_read_pj_per_bit`).
        sram_macro_mibit_per_mm2, sram_cache_mibit_per_mm2: SRAM density, Mibit/mm^2.
        logic_mtr_per_mm2: logic transistor density, million transistors per mm^2.
        logic_leakage_mw_per_mm2: static power of logic, mW per mm^2.
        sram_leakage_mw_per_mibit: static power of SRAM, mW per Mibit.
    """

    node_nm: int
    scaling: str
    int8_add_pj: float
    int16_add_pj: float
    int32_add_pj: float
    int8_mul_pj: float
    fp16_add_pj: float
    fp16_mul_pj: float
    fp32_add_pj: float
    fp32_mul_pj: float
    int8_add_um2: float
    int16_add_um2: float
    int32_add_um2: float
    int8_mul_um2: float
    fp16_add_um2: float
    fp16_mul_um2: float
    fp32_add_um2: float
    fp32_mul_um2: float
    register_pj_per_bit: float
    register_um2_per_bit: float
    gate_pj_per_bit: float
    gate_um2_per_bit: float
    sram_read_pj_per_bit_8kib: float
    sram_read_pj_per_bit_32kib: float
    sram_read_pj_per_bit_1024kib: float
    sram_macro_mibit_per_mm2: float
    sram_cache_mibit_per_mm2: float
    logic_mtr_per_mm2: float
    logic_leakage_mw_per_mm2: float
    sram_leakage_mw_per_mibit: float

    def __post_init__(self) -> None:
        check_node(self.node_nm)
        check_choice("scaling", self.scaling, SCALING_METHODS)
        for field in dataclasses.fields(self)[2:]:
            check_float(field.name, getattr(self, field.name), lo=0, lo_open=True)

    # integer adders and derived units

    def _by_bits(self, bits: int, unit: str) -> float:
        check_int("bits", bits, lo=1, hi=64)
        pts = [(0, 0.0)] + [(b, getattr(self, f"int{b}_add_{unit}")) for b in (8, 16, 32)]
        for (b0, v0), (b1, v1) in zip(pts, pts[1:]):
            if bits <= b1:
                return v0 + (v1 - v0) * (bits - b0) / (b1 - b0)
        (b0, v0), (b1, v1) = pts[-2:]
        return v1 + (v1 - v0) * (bits - b1) / (b1 - b0)

    def add_pj(self, bits: int) -> float:
        """Energy of one ``bits``-wide integer add, pJ (1 to 64 bits).

        Piecewise linear through 0 and the 8/16/32-bit adders; above 32 bits the
        16->32 slope continues.
        """
        return self._by_bits(bits, "pj")

    def add_um2(self, bits: int) -> float:
        """Area of one ``bits``-wide integer adder, um^2 (as :meth:`add_pj`)."""
        return self._by_bits(bits, "um2")

    @property
    def int8_mac_pj(self) -> float:
        """INT8 multiply-accumulate: an INT8 multiply and a 32-bit add, pJ."""
        return self.int8_mul_pj + self.int32_add_pj

    @property
    def int8_mac_um2(self) -> float:
        """Area of an INT8 multiplier and a 32-bit adder, um^2."""
        return self.int8_mul_um2 + self.int32_add_um2

    @property
    def fp16_mac_pj(self) -> float:
        """FP16 multiply-add as BitNet counts it (FP16 multiply + FP16 add), pJ."""
        return self.fp16_mul_pj + self.fp16_add_pj

    @property
    def fp16_mac_um2(self) -> float:
        """Area of an FP16 multiplier and an FP16 adder, um^2."""
        return self.fp16_mul_um2 + self.fp16_add_um2

    # integer multipliers of other widths (the `mac` datapath's tlu.mac_bits)

    def mul_pj(self, bits: int) -> float:
        """Energy of one ``bits`` x ``bits`` integer multiply, pJ (1 to 64 bits).

        This node's INT8 multiply times Horowitz's 45 nm 32-bit/8-bit ratio raised to
        ``log(bits / 8) / log(4)`` (log-log through the 8- and 32-bit points: about
        bits^2, as an array multiplier's partial products grow).
        """
        check_int("bits", bits, lo=1, hi=64)
        return self.int8_mul_pj * _mul_ratio("pj") ** (math.log(bits / 8) / math.log(4))

    def mul_um2(self, bits: int) -> float:
        """Area of one ``bits`` x ``bits`` integer multiplier, um^2 (as :meth:`mul_pj`)."""
        check_int("bits", bits, lo=1, hi=64)
        return self.int8_mul_um2 * _mul_ratio("um2") ** (math.log(bits / 8) / math.log(4))

    def table_macro_mm2(self, kib: float) -> float:
        """Area of a ``kib`` KiB register-file macro holding LUT tables (``lut_tables = "sram"``), mm^2:
        the SRAM macro density times the small-macro efficiency of ``tech_data.toml`` ``[table_macro]``."""
        check_float("kib", kib, lo=0)
        return kib * 8 / 1024 / (self.sram_macro_mibit_per_mm2 * tech_value("table_macro", "small", "density_vs_macro"))

    # A 2:1 mux per bit is an AND-OR pair: two gates. The ternary sign-select of one
    # operand bit, w * x for w in {-1, 0, +1}, is (x XOR neg) AND nonzero: two gates; the
    # +1 completing the two's-complement negation enters the adder tree as a carry-in.
    mux_pj_per_bit = property(lambda self: 2 * self.gate_pj_per_bit, doc="2:1 mux per bit (two gates), pJ.")
    mux_um2_per_bit = property(lambda self: 2 * self.gate_um2_per_bit, doc="2:1 mux per bit, um^2.")
    sign_select_pj_per_bit = property(lambda self: 2 * self.gate_pj_per_bit,
                                      doc="Ternary sign-select per operand bit (two gates), pJ.")
    sign_select_um2_per_bit = property(lambda self: 2 * self.gate_um2_per_bit,
                                       doc="Ternary sign-select per operand bit, um^2.")

    # SRAM

    def sram_read_pj_per_bit(self, macro_kib: float) -> float:
        """Read energy per bit of one ``macro_kib`` SRAM macro, pJ.

        Log-log interpolation between Horowitz's 8 KiB, 32 KiB and 1 MiB points (the end
        segments extend outside them), scaled to this node; ``macro_kib`` from 1/8 KiB
        to 64 MiB.
        """
        check_float("macro_kib", macro_kib, lo=MACRO_KIB_RANGE[0], hi=MACRO_KIB_RANGE[1])
        ys = [getattr(self, f"sram_read_pj_per_bit_{k}kib") for k in _HOROWITZ_SRAM_KIB]
        return math.exp(_segment(_HOROWITZ_SRAM_KIB, [math.log(y) for y in ys], macro_kib))

    def sram_write_pj_per_bit(self, macro_kib: float) -> float:
        """Write energy per bit of one ``macro_kib`` SRAM macro, pJ.

        The read energy times CACTI 7's write/read ratio at 45 nm for that size
        (interpolated in log size, held constant outside 8 KiB..1 MiB).
        """
        read = self.sram_read_pj_per_bit(macro_kib)
        cacti = [tech_tables()["cacti45_sram"][f"kib_{k}"] for k in _CACTI_KIB]
        ratios = [c["write_nj"] / c["read_nj"] for c in cacti]
        return read * _segment(_CACTI_KIB, ratios, min(max(macro_kib, _CACTI_KIB[0]), _CACTI_KIB[-1]))

    def sram_mibit_per_mm2(self, density: str = "macro") -> float:
        """SRAM density, Mibit/mm^2: ``"macro"`` (TSMC-style macros) or ``"cache"`` (LLMCompass)."""
        check_choice("sram_density", density, SRAM_DENSITIES)
        return self.sram_macro_mibit_per_mm2 if density == "macro" else self.sram_cache_mibit_per_mm2

    def sram_area_mm2(self, kib: float, density: str = "macro") -> float:
        """Area of ``kib`` KiB of SRAM, mm^2."""
        check_float("kib", kib, lo=0)
        return kib * 8 / 1024 / self.sram_mibit_per_mm2(density)

    def sram_leakage_mw_per_mm2(self, density: str = "macro") -> float:
        """Static power of SRAM per mm^2 at the chosen density, mW."""
        return self.sram_leakage_mw_per_mibit * self.sram_mibit_per_mm2(density)

    # off-chip interfaces (do not shrink with the node)

    def dram_phy_mm2(self, dram_type: str) -> float:
        """PHY area of one DRAM channel (stack, 64-bit channel, x32 device), mm^2."""
        check_choice("dram_type", dram_type, DRAM_TYPES)
        return tech_value("dram_phy", dram_type, "mm2")

    def link_phy_mm2(self, bandwidth_gb_s: float) -> float:
        """PHY area of a chip-to-chip link of ``bandwidth_gb_s`` per direction, mm^2.

        NVLink4-class links, pro rata: 0.965 mm^2 per 25 GB/s per direction.
        """
        check_float("bandwidth_gb_s", bandwidth_gb_s, lo=0)
        link = tech_tables()["link_phy"]["nvlink4"]
        return bandwidth_gb_s / link["gb_s_per_direction"] * link["mm2"]

    # provenance

    def sources(self) -> dict[str, str]:
        """The source of every figure, by attribute or method name (and ``"scaling"``)."""
        return dict(_sources(self.node_nm, self.scaling))

    def describe(self) -> str:
        """A multi-line report: the node, the method, and each figure with its source."""
        method = SCALING_METHODS[self.scaling]
        lines = [f"technology {self.node_nm} nm, scaling {method.name!r}: {method.summary}"]
        for field in dataclasses.fields(self)[2:]:
            lines.append(f"  {field.name} = {getattr(self, field.name):.6g}")
        lines.append("sources:")
        lines += [f"  {key}: {text}" for key, text in self.sources().items()]
        return "\n".join(lines)


def _mul_ratio(field: str) -> float:
    """Horowitz's 45 nm 32-bit multiplier over his 8-bit one, by ``field`` (``pj`` or ``um2``)."""
    return tech_value("horowitz45_mul", "int32_mul", field) / tech_value("horowitz45", "int8_mul", field)


def _segment(xs: tuple[float, ...], ys: list[float], x: float) -> float:
    """Piecewise-linear ``ys`` over ``log(xs)`` at ``log(x)``; end segments extend."""
    lx = [math.log(v) for v in xs]
    i = max(0, min(len(xs) - 2, sum(1 for v in lx[1:-1] if math.log(x) > v)))
    t = (math.log(x) - lx[i]) / (lx[i + 1] - lx[i])
    return ys[i] + (ys[i + 1] - ys[i]) * t


# --- building tables ---------------------------------------------------------------------


def _aladdin_share(entry: str, field: str) -> float:
    """Aladdin's ``entry`` over Aladdin's 32-bit adder (same 40 nm library), by ``field``."""
    return tech_value("aladdin40", entry, field) / tech_value("aladdin40", "add32", field)


def _logic_leakage_40nm() -> float:
    """Mean leakage density of Aladdin's five 40 nm units, mW/mm^2."""
    units = [k for k in tech_tables()["aladdin40"] if k != "source"]
    return sum(tech_value("aladdin40", u, "leak_mw") / tech_value("aladdin40", u, "um2") * 1e6 for u in units) / len(units)


def _sram_macro_density(n: int) -> float:
    return interpolate(by_node("sram_macro_density", "mibit_per_mm2"), n, log=True)


def _sram_cache_density(n: int) -> float:
    """LLMCompass's cache density at 7 and 5 nm; elsewhere the macro density times the
    cache/macro ratio of the nearer of those two nodes, Mibit/mm^2."""
    table = tech_tables()["sram_cache_density"]
    ref = n if n in (7, 5) else (5 if n < 7 else 7)
    cell = table[f"nm_{ref}"]
    at_ref = cell["efficiency"] / (cell["mm2_per_bit"] * 2**20)
    return at_ref * _sram_macro_density(n) / _sram_macro_density(ref)


@functools.cache
def _build(node_nm: int, scaling: str) -> TechTable:
    method = SCALING_METHODS[scaling]
    area = method.area_factor(node_nm)
    logic = method.energy_factor(node_nm, "logic")
    h32 = ("horowitz45", "int32_add")
    values: dict[str, float] = {}
    for op in OPS:
        values[f"{op}_pj"] = tech_value("horowitz45", op, "pj") * method.energy_factor(node_nm, op)
        values[f"{op}_um2"] = tech_value("horowitz45", op, "um2") * area
    # Registers and gates: Aladdin's share of its own 32-bit adder, applied to Horowitz's.
    values["register_pj_per_bit"] = tech_value(*h32, "pj") * _aladdin_share("register_bit", "pj") * logic
    values["register_um2_per_bit"] = tech_value(*h32, "um2") * _aladdin_share("register_bit", "um2") * area
    values["gate_pj_per_bit"] = tech_value(*h32, "pj") * _aladdin_share("bitwise32", "pj") / 32 * logic
    values["gate_um2_per_bit"] = tech_value(*h32, "um2") * _aladdin_share("bitwise32", "um2") / 32 * area
    sram = method.energy_factor(node_nm, "sram")
    for kib in _HOROWITZ_SRAM_KIB:
        values[f"sram_read_pj_per_bit_{kib}kib"] = tech_value("horowitz45_sram", f"kib_{kib}", "read_pj_64b") / 64 * sram
    values["sram_macro_mibit_per_mm2"] = _sram_macro_density(node_nm)
    values["sram_cache_mibit_per_mm2"] = _sram_cache_density(node_nm)
    values["logic_mtr_per_mm2"] = logic_density(node_nm)
    leak40 = method.energy_factor(40, "logic") / method.area_factor(40)
    values["logic_leakage_mw_per_mm2"] = _logic_leakage_40nm() * logic / area / leak40
    cacti = tech_tables()["cacti45_sram"]["kib_256"]
    values["sram_leakage_mw_per_mibit"] = (cacti["leak_mw"] + cacti["gate_leak_mw"]) / 2 * sram
    return TechTable(node_nm=node_nm, scaling=scaling, **values)


def tech(node_nm: int, scaling: str = DEFAULT_SCALING) -> TechTable:
    """The technology table for ``node_nm`` under the scaling method ``scaling`` (cached).

    Raises:
        SpecError: ``node_nm`` not in :data:`NODES_NM`, or ``scaling`` not a key of
            :data:`SCALING_METHODS`; the message lists the allowed values.
    """
    check_node(node_nm)
    check_choice("scaling", scaling, SCALING_METHODS)
    return _build(node_nm, scaling)


def arithmetic_energy_ratio(node_nm: int = 7, scaling: str = DEFAULT_SCALING) -> float:
    """One FP16 multiply-add over one INT8 add: BitNet b1.58's headline (71.4x at 7 nm).

    Counts arithmetic only, no memory or data movement: ``(fp16_mul + fp16_add) / int8_add``.
    """
    table = tech(node_nm, scaling)
    return table.fp16_mac_pj / table.int8_add_pj


def dram_pj_per_bit(dram_type: str) -> float:
    """DRAM access energy of a streamed read including I/O, pJ per bit moved, for a key of
    ``DRAM_TYPES``: :func:`tritium.sim.dram.effective_pj_per_bit` (one table per fact:
    ``sim/dram_data.toml``)."""
    from tritium.sim.dram import effective_pj_per_bit

    check_choice("dram_type", dram_type, DRAM_TYPES)
    return effective_pj_per_bit(dram_type, "stream")


@functools.cache
def _sources(node_nm: int, scaling: str) -> dict[str, str]:
    method = SCALING_METHODS[scaling]
    scaled = f"scaled to {node_nm} nm by {scaling!r}"
    out = {"scaling": f"{method.summary} ({method.source})"}
    for op in OPS:
        out[f"{op}_pj"] = out[f"{op}_um2"] = f"{tech_source('horowitz45')}; {scaled}"
        if scaling == "bitnet":
            at7 = tech_source("bitnet7", op) if op in tech_tables()["bitnet7"] else "[E] linear in bits between INT8 and INT32"
            out[f"{op}_pj"] += f"; 7 nm value: {at7}"
    out["add_pj"] = out["add_um2"] = "[E] piecewise linear in bits through the 8/16/32-bit adders"
    out["int8_mac_pj"] = out["fp16_mac_pj"] = "[E] sum of the multiply and add (INT8 MAC: a 32-bit add)"
    share = (f"[E] Aladdin's share of its own 32-bit adder ({tech_source('aladdin40')}) times Horowitz's 45 nm "
             f"INT32 add; {scaled}")
    for name in ("register_pj_per_bit", "register_um2_per_bit", "gate_pj_per_bit", "gate_um2_per_bit"):
        out[name] = share
    out["mul_pj"] = out["mul_um2"] = (f"[E] this node's INT8 multiply times ({tech_source('horowitz45_mul')}) "
                                      "32b/8b ratio, log-log in bits")
    out["table_macro_mm2"] = f"{tech_source('table_macro')}; density {tech_source('sram_macro_density', f'nm_{node_nm}')}"
    out["mux_pj_per_bit"] = out["mux_um2_per_bit"] = "[E] two gates per bit (AND-OR)"
    out["sign_select_pj_per_bit"] = out["sign_select_um2_per_bit"] = "[E] two gates per bit (XOR, AND), carry-in free"
    for kib in _HOROWITZ_SRAM_KIB:
        out[f"sram_read_pj_per_bit_{kib}kib"] = f"{tech_source('horowitz45_sram')}; {scaled}"
    out["sram_read_pj_per_bit"] = "[E] log-log in macro size between the 8 KiB, 32 KiB and 1 MiB anchors"
    out["sram_write_pj_per_bit"] = f"read energy x write/read ratio of {tech_source('cacti45_sram')}"
    out["sram_macro_mibit_per_mm2"] = tech_source("sram_macro_density", f"nm_{node_nm}")
    out["sram_cache_mibit_per_mm2"] = tech_source("sram_cache_density") + (
        "" if node_nm in (7, 5) else "; [E] other nodes keep the cache/macro ratio of the nearer of 7 and 5 nm")
    out["logic_mtr_per_mm2"] = tech_source("logic_density", f"nm_{node_nm}") + (
        "" if node_nm in by_node("logic_density", "mtr_per_mm2") else "; [E] log-log interpolated in node")
    out["logic_leakage_mw_per_mm2"] = (
        f"[E] mean leakage density of Aladdin's five 40 nm units ({tech_source('aladdin40')}), scaled by energy "
        "factor / area factor (leakage power per device scales like energy, as hwcomponents assumes)")
    out["sram_leakage_mw_per_mibit"] = (
        f"[E] subthreshold + gate leakage per Mibit of a 256 KiB macro ({tech_source('cacti45_sram')}); {scaled}")
    out["link_phy_mm2"] = tech_source("link_phy")
    for name in DRAM_TYPES:
        out[f"dram_phy_mm2[{name}]"] = tech_source("dram_phy", name)
        out[f"dram_pj_per_bit[{name}]"] = ("the DRAM model (sim/dram.py) from sim/dram_data.toml, whose every "
                                           "figure names its source")
    return out
