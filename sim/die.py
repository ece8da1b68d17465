"""The die a chip builds: its operating point, everything on it, its shoreline and its peak power.

This is where :mod:`tritium.sim.silicon` (voltage/frequency, timing, die overheads, PHY
shoreline, peak power) meets a :class:`~tritium.sim.chip.Chip`. :func:`resolve_die` is
called once per chip by :func:`tritium.sim.simulate`; it

1. refuses a clock past what the chip's pipeline reaches on its node
   (:func:`~tritium.sim.silicon.check_clock`: one ``SpecError`` naming the clock, the
   reachable fmax, the critical stage and the knob);
2. applies ``power_cap_w``: the fastest clock, along the V/f curve, whose peak power (die,
   DRAM and link PHYs all busy) fits the cap; the simulation then runs at that clock;
3. sets the supply voltage: nominal, or with ``dvfs`` the lowest that closes the clock,
   and from it the factors on dynamic energy (``(V/Vnom)^2``) and leakage;
4. adds to the datapath's area (:func:`tritium.sim.energy.area_breakdown`) what the
   datapath model leaves out (control, NoC, DMA, PLL, I/O, DFT) and the white space a die
   must grow by so its edge holds its DRAM and link PHYs;
5. refuses peak power density above ``power_density_limit_w_per_mm2``.

>>> from tritium.sim import load_chip
>>> chip, die = resolve_die(load_chip("datacenter-hbm3"))
>>> round(die.area_mm2["total"]) > round(die.datapath_mm2)  # five HBM3 stacks need 55 mm of edge
True
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.sim.chip import Chip
from tritium.sim.energy import area_breakdown, energy_model, static_power_w
from tritium.sim.floorplan import die_overheads_mm2, link_phy, phy_edge_mm, power_density_check, shoreline_check
from tritium.sim.silicon import (
    OperatingPoint,
    PeakPower,
    check_clock,
    operating_point,
    peak_power_w,
    pipeline_of,
    power_capped_clock,
)
from tritium.sim.tech import tech

__all__ = ["Die", "resolve_die", "ON_DIE_COMPONENTS", "OVERHEAD_ITEMS"]

ON_DIE_COMPONENTS = ("tlu", "mac_array", "vector", "sram")
"""Energy components on the core supply: scaled by the operating point's energy factor
(DRAM and link I/O run on their own supplies and are not)."""
OVERHEAD_ITEMS = ("control", "noc", "dma", "pll", "io", "dft")
"""Die items besides the datapath, SRAM and PHYs (:func:`tritium.sim.floorplan.die_overheads_mm2`)."""
_LOGIC_OVERHEADS = ("control", "noc", "dma", "dft")  # logic that leaks like the datapath's
_TOPOLOGY_PORTS = {"ring": 2, "torus2d": 4, "switch": 1}  # link ports on each die's network


@dataclass(frozen=True, slots=True)
class Die:
    """One chip's silicon at its operating point.

    Attributes:
        clock_mhz: the clock the chip runs at (its own, or lower under ``power_cap_w``).
        nominal_clock_mhz: the clock the chip asked for.
        operating_point: supply voltage, energy and leakage factors, reachable fmax.
        area_mm2: one die by component, mm^2: the datapath's components (``tlu``,
            ``attention``, ``vector``, ``sram``, ``dram_phy``, ``link_phy``), the
            overheads (:data:`OVERHEAD_ITEMS`), ``white_space`` (shoreline growth) and
            ``total`` (the sum of the others).
        datapath_mm2: the datapath components' sum (what the area model counted before the
            overheads and the shoreline), mm^2.
        phy_edge_mm: die edge the DRAM and link PHYs need, mm.
        shoreline: what the shoreline check found (one sentence with the numbers).
        peak: one die's peak power at the operating point (every unit busy every cycle).
        peak_memory_w: one chip's DRAM (at full sustained bandwidth, background included)
            and link PHYs (at full bandwidth), W: not on the core supply, not clock-scaled.
        overhead_leakage_w: leakage of the overhead logic (control, NoC, DMA, DFT) of all
            chips at nominal voltage, W (the datapath's is :func:`static_power_w`).
    """

    clock_mhz: float
    nominal_clock_mhz: float
    operating_point: OperatingPoint
    area_mm2: dict[str, float]
    datapath_mm2: float
    phy_edge_mm: float
    shoreline: str
    peak: PeakPower
    peak_memory_w: float
    overhead_leakage_w: float

    @property
    def peak_chip_w(self) -> float:
        """Peak power of one chip: its die plus its DRAM and link PHYs, W."""
        return self.peak.total_w + self.peak_memory_w

    @property
    def capped(self) -> bool:
        """Whether ``power_cap_w`` lowered the clock."""
        return self.clock_mhz < self.nominal_clock_mhz


def _events_per_cycle(chip: Chip, scaling: str) -> tuple[dict[str, float], dict[str, float]]:
    """Per-cycle events of one die with every unit busy, and their energies at nominal voltage (pJ).

    TLU: every tree takes ``width`` toggling inputs, clocks its pipeline and updates one
    accumulator; MAC array: every multiplier; vector unit: every lane; SRAM: every bank of every
    buffer reads a port-width word.
    """
    e = energy_model(chip, scaling)
    cores = chip.cores
    tlu_pj = chip.tlu.width * e.tlu_per_active_input + e.tlu_per_tree_cycle + e.tlu_per_acc_update
    bufs = (chip.sram.weight, chip.sram.act, chip.sram.kv)
    sram_bytes = [b.banks * b.port_bits / 8 for b in bufs]
    sram_pj = sum(n * pj for n, pj in zip(sram_bytes, e.sram_read_per_byte)) / max(sum(sram_bytes), 1e-30)
    events = {
        "tlu": chip.tlu.rows * cores,
        "attention": chip.attention.macs * cores if chip.attention.unit == "mac_array" else 0.0,
        "vector": chip.vector.lanes * cores,
        "sram": sum(sram_bytes) * cores,
    }
    energy = {"tlu": tlu_pj, "attention": e.mac, "vector": e.vector_op, "sram": sram_pj}
    return events, energy


def _peak_memory_w(chip: Chip) -> float:
    """One chip's DRAM at its full sustained read bandwidth plus background, and its link at full rate, W."""
    from tritium.sim.dram import dram_energy_j, sustained_bandwidth_fraction

    d = chip.dram
    bytes_per_s = d.channels * d.channel_bandwidth_gb_s * 1e9 * sustained_bandwidth_fraction(d.type, "stream")
    if d.energy_pj_per_bit > 0:
        parts = dram_energy_j(d.type, 0, 0, 1.0, d.channels, "stream", d.capacity_gib)
        dram_w = bytes_per_s * 8 * d.energy_pj_per_bit * 1e-12 + parts["background"] + parts["refresh"]
    else:
        dram_w = dram_energy_j(d.type, bytes_per_s, 0, 1.0, d.channels, "stream", d.capacity_gib)["total"]
    link_w = chip.link.bandwidth_gb_s * 1e9 * 8 * chip.link.energy_pj_per_bit * 1e-12 if chip.link else 0.0
    return dram_w + link_w


def _area(chip: Chip, scaling: str) -> tuple[dict[str, float], float, float, str, float]:
    base = area_breakdown(chip, scaling)
    logic = base["tlu"] + base["attention"] + base["vector"]
    links = _TOPOLOGY_PORTS[chip.link.topology] if chip.link else 0
    over = die_overheads_mm2(chip.node_nm, cores=chip.cores, logic_mm2=logic, sram_mm2=base["sram"],
                             dma_engines=chip.dma.engines, dram_channels=chip.dram.channels, links=links)
    area = {k: v for k, v in base.items() if k != "total"}
    for item in OVERHEAD_ITEMS:
        area[item] = over[item]
    before = base["total"] + over["total"]
    link_edge = link_phy(chip.link, chip.node_nm)[0] if chip.link else 0.0
    edge = phy_edge_mm(chip.dram.type, chip.dram.channels) + link_edge
    after, note = shoreline_check(before, edge) if edge > 0 else (before, "no PHYs on the die edge")
    area["white_space"] = after - before
    area["total"] = after
    t = tech(chip.node_nm, scaling)
    leak_w = sum(over[k] for k in _LOGIC_OVERHEADS) * t.logic_leakage_mw_per_mm2 / 1e3 * chip.chips
    return area, base["total"], edge, note, leak_w


@functools.cache
def resolve_die(chip: Chip, scaling: str = "bitnet") -> tuple[Chip, Die]:
    """``chip`` at the clock it runs at, and its :class:`Die` (cached per chip and scaling).

    The returned chip equals ``chip`` except for ``clock_mhz`` when ``power_cap_w`` lowers it.

    Raises:
        SpecError: ``clock_mhz`` past the reachable fmax; ``power_cap_w`` below what the chip
            draws at its lowest clock (or below its DRAM and links alone);
            ``power_density_limit_w_per_mm2`` exceeded.
    """
    check_clock(chip)
    pipe = pipeline_of(chip)
    area, datapath, edge, note, overhead_leak_w = _area(chip, scaling)
    events, energy = _events_per_cycle(chip, scaling)
    static_die_w = (static_power_w(chip, scaling) + overhead_leak_w) / chip.chips
    memory_w = _peak_memory_w(chip)
    nominal = chip.clock_mhz
    if chip.power_cap_w > 0:
        budget = chip.power_cap_w - memory_w
        if budget <= 0:
            raise SpecError("power_cap_w", chip.power_cap_w,
                            f"below the {memory_w:.3g} W the chip's DRAM and link PHYs draw at full bandwidth "
                            "(not clock-scaled); raise the cap or use fewer or lower-power DRAM channels")
        capped = power_capped_clock(chip.node_nm, pipe, budget, events, energy, static_die_w, max_clock_mhz=nominal)
        if capped.clock_mhz < nominal:
            # whole kHz: a clock that prints and reloads exactly
            clock = max(1.0, math.floor(capped.clock_mhz * 1000) / 1000)
            chip = dataclasses.replace(chip, clock_mhz=clock)
    op = operating_point(chip.node_nm, chip.clock_mhz, pipe, dvfs=chip.dvfs or chip.clock_mhz < nominal)
    peak = peak_power_w(chip.clock_mhz, events, energy, static_die_w, energy_factor=op.energy_factor,
                        leakage_factor=op.leakage_factor)
    if chip.power_density_limit_w_per_mm2 > 0:
        power_density_check(peak.total_w, area["total"], chip.power_density_limit_w_per_mm2)
    return chip, Die(chip.clock_mhz, nominal, op, area, datapath, edge, note, peak, memory_w,
                     overhead_leak_w * op.leakage_factor)
