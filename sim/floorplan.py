"""Everything on the die besides the datapath: overhead logic, PHY shoreline, links, power density.

Area of the items the datapath model leaves out (:func:`die_overheads_mm2`: control, NoC,
DMA, PLL, I/O, DFT), the die edge the DRAM and link PHYs need (:func:`phy_edge_mm`,
:func:`link_phy`, UCIe by :func:`ucie_edge_mm` and :func:`ucie_area_mm2`), the growth of a
die too small for its PHYs (:func:`shoreline_check`) and the power-density limit
(:func:`power_density_check`). Figures from ``silicon_data.toml`` with their sources
(:func:`tritium.sim.silicon.sources`); docs/silicon.md gives the equations; :mod:`tritium.sim.die`
puts it together for a chip.

>>> round(ucie_edge_mm(200.0, "advanced"), 2) > 0
True
>>> shoreline_check(100.0, 10.0)[0]   # 10 mm of PHYs fit a 10 mm x 10 mm die's edge
100.0
"""

from __future__ import annotations

import math

from tritium.base.errors import SpecError
from tritium.base.specio import check_choice, check_float, check_int
from tritium.sim.chip_memory import DRAM_TYPES
from tritium.sim.silicon import node_figures, silicon_data
from tritium.sim.tech import tech
from tritium.sim.tech_scaling import tech_value

__all__ = ["die_overheads_mm2", "phy_edge_mm", "ucie_edge_mm", "ucie_area_mm2", "link_phy", "link_phy_edge_mm",
           "shoreline_check", "power_density_check"]


def _density(node_nm: int) -> float:
    return tech(node_nm).logic_mtr_per_mm2


def die_overheads_mm2(node_nm: int, *, cores: int, logic_mm2: float, sram_mm2: float, dma_engines: int,
                      dram_channels: int, links: int = 0, noc_flit_bits: int = 256) -> dict[str, float]:
    """Area of what the datapath model leaves out, mm^2, by item, with ``total``.

    Args:
        node_nm: process node.
        cores: cores on the die (each has a network port).
        logic_mm2, sram_mm2: the die's datapath logic and SRAM area (all cores).
        dma_engines: DMA engines on the die.
        dram_channels, links: memory-controller and chip-link ports on the network.
        noc_flit_bits: network flit width, bits.

    Returns:
        ``control`` and ``io`` (fractions of logic + SRAM, TPU floorplan), ``noc`` (with more
        than one core, a router per port (cores, DRAM controllers, links): Intel's 80-tile
        router scaled by flit width and logic density; one core wires point to point to its
        controllers, counted in ``control``), ``dma``, ``pll``, ``dft``
        (scan on logic, BIST on SRAM), ``total``.
    """
    for key, value in (("cores", cores), ("dma_engines", dma_engines), ("dram_channels", dram_channels)):
        check_int(key, value, lo=1 if key != "dram_channels" else 0)
    check_int("links", links, lo=0)
    check_int("noc_flit_bits", noc_flit_bits, lo=8, hi=8192)
    check_float("logic_mm2", logic_mm2, lo=0)
    check_float("sram_mm2", sram_mm2, lo=0)
    o = silicon_data()["overheads"]
    core = logic_mm2 + sram_mm2
    r = o["noc_router"]
    d_ref = tech_value("logic_density", f"nm_{r['node_nm']}", "mtr_per_mm2")
    router = r["mm2"] * noc_flit_bits / r["flit_bits"] * d_ref / _density(node_nm)
    pll = o["pll"]["finfet_mm2" if node_figures(node_nm).get("finfet", node_nm <= 16) else "planar_mm2"]
    out = {
        "control": o["control"]["fraction_of_core"] * core,
        "noc": router * (cores + dram_channels + links) if cores > 1 else 0.0,
        "dma": dma_engines * o["dma_engine"]["kgates"] * 1e3 * o["dma_engine"]["transistors_per_gate"]
        / (_density(node_nm) * 1e6),
        "pll": pll * o["pll"]["count"],
        "io": o["io"]["fraction_of_core"] * core,
        "dft": o["dft"]["logic_fraction"] * logic_mm2 + o["dft"]["sram_fraction"] * sram_mm2,
    }
    out["total"] = sum(out.values())
    return out


def phy_edge_mm(dram_type: str, channels: int = 1) -> float:
    """Die edge ``channels`` PHYs of ``dram_type`` occupy, mm (HBM: the stacks' widths)."""
    check_choice("dram_type", dram_type, DRAM_TYPES)
    check_int("channels", channels, lo=0)
    table = silicon_data()["phy_edge"]
    if dram_type in table:
        return table[dram_type]["edge_mm"] * channels
    return tech(7).dram_phy_mm2(dram_type) / table["other"]["depth_mm"] * channels


def ucie_edge_mm(bandwidth_gb_s: float, package: str = "standard") -> float:
    """Die edge a UCIe die-to-die interface of ``bandwidth_gb_s`` needs, mm."""
    check_choice("package", package, ("standard", "advanced"))
    check_float("bandwidth_gb_s", bandwidth_gb_s, lo=0)
    return bandwidth_gb_s / silicon_data()["ucie"][package]["gb_s_per_mm"]


def ucie_area_mm2(bandwidth_gb_s: float, package: str = "standard") -> float:
    """Silicon a UCIe die-to-die interface of ``bandwidth_gb_s`` (both directions) takes, mm^2."""
    check_choice("package", package, ("standard", "advanced"))
    check_float("bandwidth_gb_s", bandwidth_gb_s, lo=0)
    return bandwidth_gb_s / silicon_data()["ucie"][package]["gb_s_per_mm2"]


def link_phy_edge_mm(bandwidth_gb_s: float) -> float:
    """Die edge of a board-level SerDes link (NVLink-class) of ``bandwidth_gb_s``, mm."""
    return tech(7).link_phy_mm2(bandwidth_gb_s) / silicon_data()["phy_edge"]["other"]["depth_mm"]


def link_phy(link, node_nm: int) -> tuple[float, float]:
    """Die edge (mm) and area (mm^2) of a chip link's PHY by ``link.phy``: NVLink-class SerDes,
    or UCIe, whose densities count both directions (a link of B GB/s per direction takes 2 B)."""
    bw = link.bandwidth_gb_s
    if link.phy == "serdes":
        return link_phy_edge_mm(bw), tech(node_nm).link_phy_mm2(bw)
    package = link.phy.removeprefix("ucie-")
    return ucie_edge_mm(2 * bw, package), ucie_area_mm2(2 * bw, package)


def shoreline_check(die_mm2: float, phy_edge_mm: float, *, edges: int = 4) -> tuple[float, str]:
    """Grow a die until its edge holds its PHYs (white space), assuming a square die.

    Args:
        die_mm2: die area before the check, mm^2.
        phy_edge_mm: die edge the PHYs need, mm (:func:`phy_edge_mm`, :func:`ucie_edge_mm`).
        edges: die edges PHYs may use, 1 to 4.

    Returns:
        ``(die_mm2_after, note)``: the area unchanged when ``edges * side`` holds the PHYs,
        else ``(phy_edge_mm / edges)^2``; the note says which, with the numbers.
    """
    check_float("die_mm2", die_mm2, lo=0, lo_open=True)
    check_float("phy_edge_mm", phy_edge_mm, lo=0)
    check_int("edges", edges, lo=1, hi=4)
    side = math.sqrt(die_mm2)
    if edges * side >= phy_edge_mm:
        return die_mm2, (f"square die {side:.2f} mm a side: {edges} edges ({edges * side:.1f} mm) hold the "
                         f"{phy_edge_mm:.1f} mm of PHYs")
    grown = (phy_edge_mm / edges) ** 2
    return grown, (f"square die {side:.2f} mm a side: {edges} edges ({edges * side:.1f} mm) cannot hold "
                   f"{phy_edge_mm:.1f} mm of PHYs; grown to {math.sqrt(grown):.2f} mm a side, {grown:.1f} mm^2 "
                   f"({grown - die_mm2:.1f} mm^2 of white space)")


def power_density_check(power_w: float, die_mm2: float, limit_w_per_mm2: float) -> float:
    """Power density ``power_w / die_mm2``, W/mm^2; raise if above ``limit_w_per_mm2``.

    Raises:
        SpecError: key ``power_density_limit_w_per_mm2``, naming the density and the limit.
    """
    check_float("power_w", power_w, lo=0)
    check_float("die_mm2", die_mm2, lo=0, lo_open=True)
    check_float("power_density_limit_w_per_mm2", limit_w_per_mm2, lo=0, lo_open=True)
    density = power_w / die_mm2
    if density > limit_w_per_mm2:
        raise SpecError("power_density_limit_w_per_mm2", limit_w_per_mm2,
                        f"exceeded: {power_w:.3g} W on {die_mm2:.3g} mm^2 is {density:.3g} W/mm^2; lower the "
                        "clock (power cap), or spread the design over a larger die")
    return density
