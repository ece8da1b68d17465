"""The synthesis flow's scripts, arguments and workspace (no tools run)."""

from __future__ import annotations

import pytest

from tritium.base.errors import SpecError
from tritium.hdl.synth_tools import abc9_crashed, classic_lut_mapping, nextpnr_args, workspace, yosys_script


def test_abc9_crash_is_recognised(tmp_path):
    log = tmp_path / "log"
    log.write_text("2.46.15.6. Executing ABC9_OPS pass\n2.46.15.7. Executing ABC_OPS_REINTEGRATE pass\n"
                   "ERROR: Assert `GetSize(conn.first) == GetSize(conn.second)' failed\n")
    assert abc9_crashed(log)
    log.write_text("2.3. Executing PROC pass\nERROR: syntax error\n")
    assert not abc9_crashed(log)
    assert not abc9_crashed(tmp_path / "missing")


def test_scripts_per_target():
    assert yosys_script("ecp5", "t.v", "t", "t.json", "s.json", classic=False) == (
        "read_verilog t.v; synth_ecp5 -top t -json t.json; tee -q -o s.json stat -json")
    assert yosys_script("xc7", "t.v", "t", None, "s.json", classic=False).startswith(
        "read_verilog t.v; hierarchy -top t; proc; splitnets; synth_xilinx -family xc7 -top t;")
    generic = yosys_script("generic", "t.v", "t", None, "s.json", classic=False)
    assert "tee -q -o s_multipliers.txt select -count t:$mul" in generic and generic.endswith("stat -json -tech cmos")
    before, after = classic_lut_mapping("ice40", "t")
    classic = yosys_script("ice40", "t.v", "t", "t.json", "s.json", classic=True)
    assert f"synth_ice40 -top t {before}; {after} -json t.json;" in classic
    assert after.endswith("synth_ice40 -top t -run map_cells:")
    with pytest.raises(SpecError, match="target"):
        classic_lut_mapping("generic", "t")


def test_nextpnr_arguments():
    ecp5 = nextpnr_args("ecp5", "n.json", "r.json", 125.0, 3, ooc=True)
    assert ecp5[:2] == ["--85k", "--package"] and ecp5[-1] == "--out-of-context"
    assert ecp5[ecp5.index("--freq") + 1] == "125" and ecp5[ecp5.index("--seed") + 1] == "3"
    assert "--out-of-context" not in nextpnr_args("ecp5", "n.json", "r.json", 125.0, 3, ooc=False)
    assert nextpnr_args("ice40", "n.json", "r.json", 50.0, 1, ooc=False)[:3] == ["--up5k", "--package", "sg48"]


def test_workspace_keeps_whole_files_and_goes(tmp_path):
    with pytest.raises(RuntimeError):
        with workspace(tmp_path, lambda _msg: None) as ws:
            ws.write("a.v", "module a; endmodule\n")
            ws.write("b.log", "half")
            kept = ws.keep("a.v", "verilog")
            assert ws.keep("missing.json", "netlist") == tmp_path / "missing.json"
            raise RuntimeError("a tool failed")
    assert kept.read_text() == "module a; endmodule\n" and ws.logs == {"verilog": str(kept)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.v"]  # b.log went with the workspace
