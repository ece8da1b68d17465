"""tritium.sim.floorplan: die overheads, PHY shoreline, power density."""

import pytest

from tritium.base.errors import SpecError
from tritium.sim import floorplan as fp


def _overheads(cores, node=7):
    return fp.die_overheads_mm2(node, cores=cores, logic_mm2=2.0 * cores, sram_mm2=3.0 * cores, dma_engines=2,
                                dram_channels=2)


def test_overheads_grow_with_cores_and_have_every_item():
    one, four, sixteen = (_overheads(n) for n in (1, 4, 16))
    assert set(one) == {"control", "noc", "dma", "pll", "io", "dft", "total"}
    assert one["noc"] == 0.0 and four["noc"] > 0
    assert one["total"] < four["total"] < sixteen["total"]
    assert one["total"] == pytest.approx(sum(v for k, v in one.items() if k != "total"))


def test_overheads_shrink_with_the_node_for_logic():
    assert _overheads(4, node=7)["noc"] < _overheads(4, node=28)["noc"]
    assert _overheads(4, node=7)["dma"] < _overheads(4, node=28)["dma"]


def test_phy_edges():
    assert fp.phy_edge_mm("HBM3", 5) == pytest.approx(55.0)
    assert fp.phy_edge_mm("LPDDR5", 2) == pytest.approx(2 * fp.phy_edge_mm("LPDDR5"))
    assert fp.ucie_edge_mm(1317.0, "advanced") == pytest.approx(1.0)
    assert fp.ucie_edge_mm(224.0) == pytest.approx(1.0)
    with pytest.raises(SpecError, match="dram_type"):
        fp.phy_edge_mm("HBM9")


def test_shoreline_grows_a_die_too_small_for_its_phys():
    same, note = fp.shoreline_check(100.0, 30.0)
    assert same == 100.0 and "hold" in note
    grown, note = fp.shoreline_check(70.0, 55.0)
    assert grown == pytest.approx((55.0 / 4) ** 2) and "white space" in note
    two_edges, _ = fp.shoreline_check(70.0, 55.0, edges=2)
    assert two_edges > grown


def test_power_density_limit():
    assert fp.power_density_check(10.0, 100.0, 0.5) == pytest.approx(0.1)
    with pytest.raises(SpecError, match="power_density_limit_w_per_mm2"):
        fp.power_density_check(100.0, 100.0, 0.5)
