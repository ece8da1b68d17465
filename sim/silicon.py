"""Clock, voltage, timing, die overheads, PHY shoreline and power of a chip's silicon.

Plain numbers in, small frozen records out, so the simulator can call it without this
module knowing its internals. Every figure lives in ``silicon_data.toml`` with its source;
docs/silicon.md gives the equations. In short:

- **Gate delay vs voltage** (alpha-power law): ``FO4(V) = FO4(Vnom) * [V / (V - Vt)^a] /
  [Vnom / (Vnom - Vt)^a]``; dynamic energy ``~ (V / Vnom)^2``; leakage power
  ``~ (V / Vnom) * 10^(eta (V - Vnom) / S)`` (DIBL ``eta``, subthreshold swing ``S``).
- **Critical stage** (ASIC-sourced FO4 depths; the register overhead FPGA-calibrated):
  a tree stage is ``derate * (overhead + sum of its adder levels)``, each level a prefix
  adder of ``act_bits + 1 + level`` bits; the sign-select/broadcast, accumulator and
  MAC-product stages likewise; an SRAM stage is one compiled macro's cycle.
- **Reachable clock**: ``1 / (stage FO4 * FO4(V))`` at the overdrive limit.

>>> p = Pipeline(width=64, levels_per_stage=2, rows=64, sram_bank_kib=128, mac_bits=8)
>>> 2000 < reachable_clock_mhz(7, p) < 3500
True
>>> operating_point(7, 1000.0, p, dvfs=True).energy_factor < 1   # DVFS: 1 GHz below nominal V
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Mapping

from tritium.base.errors import SpecError
from tritium.sim.chip import NODES_NM, Chip
from tritium.base.specio import check_choice, check_float, check_int, check_power_of_two

__all__ = [
    "Pipeline", "OperatingPoint", "PeakPower", "CappedClock", "node_voltage", "fo4_ps",
    "stage_depths_fo4", "reachable_clock_mhz", "operating_point", "check_clock", "pipeline_of",
    "silicon_data", "node_figures",
    "peak_power_w", "power_capped_clock", "stage_overhead_fo4", "sources",
]


@functools.cache
def silicon_data() -> dict:
    """``silicon_data.toml``, read once."""
    text = resources.files("tritium.sim").joinpath("silicon_data.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def node_figures(node_nm: int) -> dict:
    """The node's own figures of ``silicon_data.toml`` (supply, threshold, FO4...)."""
    check_int("node_nm", node_nm)
    check_choice("node_nm", node_nm, NODES_NM)
    return silicon_data()["nodes"][f"nm_{node_nm}"]


def sources() -> dict[str, str]:
    """The source of every table of ``silicon_data.toml`` (``table``) and of every entry
    that names its own (``table.entry``)."""
    out = {}
    for name, body in silicon_data().items():
        if "source" in body:
            out[name] = body["source"]
        out.update({f"{name}.{k}": v["source"] for k, v in body.items() if isinstance(v, dict) and "source" in v})
    return out


# --- voltage and gate delay -------------------------------------------------------------


def node_voltage(node_nm: int) -> tuple[float, float, float]:
    """``(vmin, vnom, vmax)`` of ``node_nm``, volts: the near-threshold floor, the nominal
    supply and the sign-off overdrive limit."""
    n = node_figures(node_nm)
    lim = silicon_data()["voltage_range"]["limits"]
    vmin = max(n["vt_v"] + lim["floor_above_vt_v"], n["vnom_v"] * lim["floor_fraction_of_nominal"])
    return vmin, n["vnom_v"], n["vnom_v"] * (1 + lim["overdrive_fraction"])


def _delay_shape(v: float, vt: float) -> float:
    return v / (v - vt) ** silicon_data()["alpha_power"]["law"]["alpha"]


def fo4_ps(node_nm: int, voltage_v: float | None = None) -> float:
    """Sign-off FO4 inverter delay at ``node_nm`` and ``voltage_v`` (default nominal), ps.

    Raises:
        SpecError: ``voltage_v`` outside the node's ``(vmin, vmax)``.
    """
    n = node_figures(node_nm)
    vmin, vnom, vmax = node_voltage(node_nm)
    v = vnom if voltage_v is None else voltage_v
    check_float("voltage_v", v, lo=vmin - 1e-9, hi=vmax + 1e-9)
    return n["fo4_ps"] * _delay_shape(v, n["vt_v"]) / _delay_shape(vnom, n["vt_v"])


def _leakage_factor(node_nm: int, v: float) -> float:
    n = node_figures(node_nm)
    dev = silicon_data()["leakage"]["finfet" if n.get("finfet", node_nm <= 16) else "planar"]
    vnom = n["vnom_v"]
    return (v / vnom) * 10 ** (dev["dibl_v_per_v"] * (v - vnom) / dev["swing_v_per_decade"])


# --- pipeline stages --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Pipeline:
    """What sets a chip's critical stage (build one from a chip with :func:`pipeline_of`).

    Attributes:
        width: adder-tree inputs (a power of two, 2 to 4096).
        levels_per_stage: adder levels between pipeline registers, 1 to log2(width).
        act_bits: activation bits, 2 to 16.
        rows: trees the activation slice is broadcast to, >= 1.
        acc_bits: accumulator bits, 2 to 64.
        sram_bank_kib: the largest SRAM bank (buffer capacity / banks), KiB, > 0.
        mac_bits: widest multiplier's operand width (the MAC array's, or a ``mac``-style
            TLU's), 2 to 32, or 0 for no multiplier.
        lut_entries, lut_entry_bits, lut_mirrored: a ``lut``-style TLU's table read stage: entries
            one row's index selects from, their width, and whether a mirrored (half) table's read is
            negated in the same stage; 0 entries: no LUT.
    """

    width: int
    levels_per_stage: int
    act_bits: int = 8
    rows: int = 1
    acc_bits: int = 32
    sram_bank_kib: float = 32.0
    mac_bits: int = 0
    lut_entries: int = 0
    lut_entry_bits: int = 0
    lut_mirrored: bool = False

    def __post_init__(self) -> None:
        check_power_of_two("width", self.width, lo=2, hi=4096)
        check_int("levels_per_stage", self.levels_per_stage, lo=1, hi=self.width.bit_length() - 1)
        check_int("act_bits", self.act_bits, lo=2, hi=16)
        check_int("rows", self.rows, lo=1)
        check_int("acc_bits", self.acc_bits, lo=2, hi=64)
        check_float("sram_bank_kib", self.sram_bank_kib, lo=0, lo_open=True)
        check_int("mac_bits", self.mac_bits, lo=0, hi=32)
        check_int("lut_entries", self.lut_entries, lo=0)
        check_int("lut_entry_bits", self.lut_entry_bits, lo=0, hi=64)
        if self.mac_bits == 1:
            raise SpecError("mac_bits", self.mac_bits, "must be 0 (no multiplier) or an integer from 2 to 32")


def pipeline_of(chip: Chip) -> Pipeline:
    """The :class:`Pipeline` of ``chip``'s core.

    By ``tlu.style``: an adder tree's stages are its own; a ``lut`` unit's summing tree adds
    ``ceil(width / lut_group)`` table reads of ``lut_table_bits`` (its stage is timed as a tree
    of that many inputs, entries as wide as the activations they stand for, at most 16 bits);
    a ``mac`` unit registers its ``mac_bits`` products (a multiplier stage) and sums products
    of ``2 * mac_bits`` bits (at most 16 timed) through its tree.
    """
    bufs = (chip.sram.weight, chip.sram.act, chip.sram.kv)
    tlu = chip.tlu
    style = getattr(tlu, "style", "adder_tree")
    width, act_bits, levels = tlu.width, tlu.act_bits, tlu.levels_per_stage
    mac_bits = chip.attention.mac_bits if chip.attention.unit == "mac_array" else 0
    lut = {}
    if style == "lut":
        from tritium.sim.datapath import lut_entry_bits, lut_mirrored, lut_table_entries

        lut = {"lut_entries": lut_table_entries(tlu.lut_group),
               "lut_entry_bits": tlu.lut_table_bits or lut_entry_bits(tlu.act_bits, tlu.lut_group),
               "lut_mirrored": lut_mirrored(tlu.lut_group)}
        reads = -(-tlu.width // tlu.lut_group)
        width = max(2, 1 << (reads - 1).bit_length())
        act_bits = min(16, tlu.lut_table_bits or lut_entry_bits(tlu.act_bits, tlu.lut_group))
        levels = min(levels, width.bit_length() - 1)
    elif style == "mac":
        act_bits = min(16, 2 * tlu.mac_bits)
        mac_bits = max(mac_bits, tlu.mac_bits)
    return Pipeline(width=width, levels_per_stage=levels, act_bits=act_bits, rows=tlu.rows, acc_bits=tlu.acc_bits,
                    sram_bank_kib=max(b.capacity_kib / b.banks for b in bufs), mac_bits=mac_bits, **lut)


def _adder_fo4(bits: int) -> float:
    a = silicon_data()["timing"]["adder"]
    return a["base_fo4"] + a["fo4_per_log2_bit"] * math.log2(bits)


def _tree_logic_fo4(width: int, act_bits: int, k: int) -> float:
    """Deepest stage of a tree's adder levels (without register overhead), ideal FO4."""
    levels = width.bit_length() - 1
    groups = [range(s, min(s + k, levels + 1)) for s in range(1, levels + 1, k)]
    return max(sum(_adder_fo4(act_bits + 1 + lv) for lv in g) for g in groups)


@functools.cache
def stage_overhead_fo4() -> float:
    """Register overhead of a stage (clock-to-q, setup, skew, the wire into and out of the
    register), ideal FO4: FPGA-calibrated. The value makes the model's ratios
    ``stage(k) / stage(1)`` of the 64-input tree best match (least squares) the ECP5 fmax
    ratios measured at ``levels_per_stage`` k = 1, 2, 3, 6 (``[ecp5_tree64]``)."""
    meas = {int(k.removeprefix("k_")): v["fmax_mhz"] for k, v in silicon_data()["ecp5_tree64"].items() if k != "source"}
    base = _tree_logic_fo4(64, 8, 1)

    def err(o: float) -> float:
        return sum((meas[1] / meas[k] - (o + _tree_logic_fo4(64, 8, k)) / (o + base)) ** 2 for k in meas)

    lo, hi = 0.0, 50.0
    for _ in range(100):  # golden-section search; err is unimodal in o
        a, b = hi - (hi - lo) / 1.618034, lo + (hi - lo) / 1.618034
        lo, hi = (lo, b) if err(a) < err(b) else (a, hi)
    return (lo + hi) / 2


def _multiplier_fo4(bits: int) -> float:
    """Depth of a registered ``bits``-bit multiplier, FO4: the table's INT8 and INT16 figures, and
    between and beyond them 4 FO4 per doubling of width (two more 3:2 counter levels and a wider
    final adder, the step from 8 to 16 bits) [E]."""
    m = silicon_data()["timing"]["multiplier"]
    if bits == 8:
        return m["int8_fo4"]
    if bits == 16:
        return m["int16_fo4"]
    step = m["int16_fo4"] - m["int8_fo4"]
    return m["int8_fo4"] + step * math.log2(max(bits, 2) / 8)


def stage_depths_fo4(pipeline: Pipeline) -> dict[str, float]:
    """Depth of each pipeline stage of ``pipeline`` in FO4 at the sign-off corner.

    ``tree`` (deepest adder stage), ``select`` (broadcast to ``rows`` trees and the sign-select),
    ``accumulate`` (one ``acc_bits`` add), ``mac`` (the registered product; absent without a MAC
    array): ``derate * (overhead + logic)``. ``sram``: one compiled macro's cycle (custom
    layout, no derate).
    """
    t = silicon_data()["timing"]
    ovh, derate = stage_overhead_fo4(), t["asic"]["derate"]
    out = {
        "tree": derate * (ovh + _tree_logic_fo4(pipeline.width, pipeline.act_bits, pipeline.levels_per_stage)),
        "select": derate * (ovh + max(1.0, math.log(pipeline.rows, 4)) + t["sign_select"]["fo4"]),
        "accumulate": derate * (ovh + _adder_fo4(pipeline.acc_bits)),
    }
    if pipeline.mac_bits:
        out["mac"] = derate * (ovh + _multiplier_fo4(pipeline.mac_bits))
    if pipeline.lut_entries:
        # the row's index selects one of the entries (a 2:1 multiplexer level, ~1 FO4, per index bit),
        # a mirrored entry is negated (an adder of its width) in the same stage [E]; on ECP5 LUT4 fabric
        # the same stage is relatively slower (docs/rtl-styles.md: g = 3 at ~120 MHz against the tree's ~230)
        read = math.log2(max(2, pipeline.lut_entries))
        if pipeline.lut_mirrored:
            read += _adder_fo4(max(2, pipeline.lut_entry_bits))
        out["lut_read"] = derate * (ovh + read)
    s = t["sram"]
    out["sram"] = s["base_fo4"] + s["fo4_per_log2_kib"] * math.log2(max(1.0, min(pipeline.sram_bank_kib,
                                                                                   s["max_macro_kib"])))
    return out


def _critical(pipeline: Pipeline) -> tuple[str, float]:
    depths = stage_depths_fo4(pipeline)
    name = max(depths, key=depths.get)
    return name, depths[name]


def reachable_clock_mhz(node_nm: int, pipeline: Pipeline, voltage_v: float | None = None) -> float:
    """Fastest clock ``pipeline`` closes at on ``node_nm``, MHz: at ``voltage_v``, by default
    the node's overdrive limit (the most it reaches)."""
    v = node_voltage(node_nm)[2] if voltage_v is None else voltage_v
    return 1e6 / (_critical(pipeline)[1] * fo4_ps(node_nm, v))


# --- operating points -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A clock on a node and what it costs.

    Attributes:
        node_nm, clock_mhz: the node and clock asked for.
        voltage_v: the supply that clock needs (lowest that closes; never below vmin, and
            never below nominal when DVFS is off).
        nominal_v: the node's nominal supply.
        energy_factor: dynamic energy per event over nominal, (V / Vnom)^2.
        leakage_factor: leakage power over nominal.
        fmax_mhz: the reachable clock at the overdrive limit.
        critical_stage: the stage that sets fmax (``tree``, ``sram``, ``mac``, ...).
        feasible: clock_mhz <= fmax_mhz.
    """

    node_nm: int
    clock_mhz: float
    voltage_v: float
    nominal_v: float
    energy_factor: float
    leakage_factor: float
    fmax_mhz: float
    critical_stage: str
    feasible: bool


def _voltage_for(node_nm: int, pipeline: Pipeline, clock_mhz: float) -> float:
    vmin, _, vmax = node_voltage(node_nm)
    if reachable_clock_mhz(node_nm, pipeline, vmin) >= clock_mhz:
        return vmin
    lo, hi = vmin, vmax
    for _ in range(60):  # the clock reached grows with V (alpha > 1, V > Vt)
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if reachable_clock_mhz(node_nm, pipeline, mid) < clock_mhz else (lo, mid)
    return hi


def operating_point(node_nm: int, clock_mhz: float, pipeline: Pipeline, *, dvfs: bool = False) -> OperatingPoint:
    """The supply ``clock_mhz`` needs on ``node_nm`` for ``pipeline``, and its energy and leakage.

    Without ``dvfs`` (the default) a clock nominal voltage reaches runs at nominal, a faster
    one at the voltage it needs (energy factor > 1); with ``dvfs`` a slower clock also runs
    at the lowest voltage that closes it (not below the node's floor). A clock past the overdrive limit is
    returned with ``feasible = False`` at the limit's voltage (:func:`check_clock` raises).
    """
    check_float("clock_mhz", clock_mhz, lo=0, lo_open=True)
    _, vnom, vmax = node_voltage(node_nm)
    fmax = reachable_clock_mhz(node_nm, pipeline)
    v = vmax if clock_mhz > fmax else _voltage_for(node_nm, pipeline, clock_mhz)
    if not dvfs:
        v = max(v, vnom)
    return OperatingPoint(node_nm, float(clock_mhz), v, vnom, (v / vnom) ** 2, _leakage_factor(node_nm, v), fmax,
                          _critical(pipeline)[0], clock_mhz <= fmax)


_KNOBS = {
    "tree": "fewer tlu.levels_per_stage",
    "select": "fewer tlu.rows per core (a shorter broadcast)",
    "accumulate": "a narrower tlu.acc_bits",
    "mac": "a lower clock (the MAC array's product stage)",
    "lut_read": "a smaller tlu.lut_group (fewer table entries to select from)",
    "sram": "more SRAM banks (smaller macros)",
}


def check_clock(chip: Chip) -> OperatingPoint:
    """Return ``chip``'s operating point, or raise if its clock is past what it reaches.

    Raises:
        SpecError: key ``clock_mhz``; the message names the clock, the reachable fmax, the
            critical stage and the knob that would raise it.
    """
    pipe = pipeline_of(chip)
    op = operating_point(chip.node_nm, chip.clock_mhz, pipe)
    if op.feasible:
        return op
    knob = _KNOBS[op.critical_stage]
    if op.critical_stage == "sram" and pipe.sram_bank_kib >= silicon_data()["timing"]["sram"]["max_macro_kib"]:
        knob = "SRAM macros split further (banks already at the largest compiled macro; more banks do not help)"
    if op.critical_stage == "tree" and pipe.levels_per_stage > 1:
        fewer = dataclasses.replace(pipe, levels_per_stage=pipe.levels_per_stage - 1)
        knob = (f"tlu.levels_per_stage = {pipe.levels_per_stage - 1} (reaches "
                f"{reachable_clock_mhz(chip.node_nm, fewer):.0f} MHz)")
    raise SpecError("clock_mhz", chip.clock_mhz,
                    f"above the {op.fmax_mhz:.0f} MHz the pipeline reaches at {chip.node_nm} nm (critical stage "
                    f"{op.critical_stage!r}, at the {node_voltage(chip.node_nm)[2]:.3g} V overdrive limit); use "
                    f"clock_mhz <= {math.floor(op.fmax_mhz)}; {knob}; or a faster node")


# --- power ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeakPower:
    """Power with every unit busy every cycle.

    Attributes:
        dynamic_w: sum over units of events per cycle x pJ per event x clock x energy factor.
        static_w: leakage at nominal x leakage factor.
        by_unit: (unit, watts) pairs of the dynamic part, in the caller's order.
    """

    dynamic_w: float
    static_w: float
    by_unit: tuple[tuple[str, float], ...]

    @property
    def total_w(self) -> float:
        """Dynamic plus static, W."""
        return self.dynamic_w + self.static_w


def peak_power_w(clock_mhz: float, events_per_cycle: Mapping[str, float], energy_pj: Mapping[str, float],
                 static_w: float, *, energy_factor: float = 1.0, leakage_factor: float = 1.0) -> PeakPower:
    """Peak power from per-unit event rates and energies the caller passes.

    ``events_per_cycle[u]`` events of ``energy_pj[u]`` pJ each, every cycle, for each unit
    ``u`` (the same keys); ``static_w`` the nominal leakage; factors from an
    :class:`OperatingPoint`.

    >>> peak_power_w(1000.0, {"tlu": 4096}, {"tlu": 0.05}, 0.1).total_w
    0.3048
    """
    check_float("clock_mhz", clock_mhz, lo=0, lo_open=True)
    check_float("static_w", static_w, lo=0)
    if set(events_per_cycle) != set(energy_pj):
        raise SpecError("energy_pj", sorted(energy_pj), f"must name the same units as events_per_cycle "
                        f"({sorted(events_per_cycle)})")
    units = []
    for unit, n in events_per_cycle.items():
        check_float(f"events_per_cycle.{unit}", n, lo=0)
        check_float(f"energy_pj.{unit}", energy_pj[unit], lo=0)
        units.append((unit, n * energy_pj[unit] * 1e-12 * clock_mhz * 1e6 * energy_factor))
    return PeakPower(sum(w for _, w in units), static_w * leakage_factor, tuple(units))


@dataclass(frozen=True, slots=True)
class CappedClock:
    """The clock a power cap allows: its operating point and peak power."""

    clock_mhz: float
    operating_point: OperatingPoint
    peak: PeakPower


def power_capped_clock(node_nm: int, pipeline: Pipeline, cap_w: float, events_per_cycle: Mapping[str, float],
                       energy_pj: Mapping[str, float], static_w: float, *,
                       max_clock_mhz: float | None = None) -> CappedClock:
    """The fastest clock (at most ``max_clock_mhz``, default the reachable fmax) whose peak
    power, along the V/f curve, is at most ``cap_w``.

    ``energy_pj`` and ``static_w`` are at nominal voltage; each candidate clock runs at the
    voltage :func:`operating_point` gives it with ``dvfs=True``, scaling both.

    Raises:
        SpecError: key ``power_cap_w`` when even the lowest clock (1 MHz, near-threshold)
            draws more than the cap (leakage alone may).
    """
    check_float("power_cap_w", cap_w, lo=0, lo_open=True)
    top = reachable_clock_mhz(node_nm, pipeline)
    if max_clock_mhz is not None:
        check_float("max_clock_mhz", max_clock_mhz, lo=1)
        top = min(top, max_clock_mhz)

    def at(f: float) -> CappedClock:
        op = operating_point(node_nm, f, pipeline, dvfs=True)
        return CappedClock(f, op, peak_power_w(f, events_per_cycle, energy_pj, static_w,
                                               energy_factor=op.energy_factor, leakage_factor=op.leakage_factor))

    best = at(top)
    if best.peak.total_w <= cap_w:
        return best
    low = at(1.0)
    if low.peak.total_w > cap_w:
        raise SpecError("power_cap_w", cap_w, f"below the {low.peak.total_w:.3g} W the chip draws at 1 MHz "
                        f"(leakage {low.peak.static_w:.3g} W at {low.operating_point.voltage_v:.3g} V); raise the cap")
    lo, hi = 1.0, top
    for _ in range(60):  # peak power grows with the clock (and its voltage)
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if at(mid).peak.total_w <= cap_w else (lo, mid)
    return at(lo)
