"""``tritium hdl``: help everywhere, a real export, synthesis, calibration and bench output, one-line errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tritium.cli import main
from tritium.sim import BufferSpec, load_chip
from tritium.sim.chip import save_chip

HDL_COMMANDS = ["export", "synth", "build", "boards", "calibrate", "bench"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_chip(tmp_path):
    """A chip TOML: fpga-proto with a 2 x 8 TLU and 1 KiB buffers."""
    chip = load_chip("fpga-proto")
    buffer = BufferSpec(capacity_kib=1, banks=1, port_bits=64)
    chip = dataclasses.replace(chip, name="small", tlu=dataclasses.replace(chip.tlu, rows=2, width=8),
                               sram=dataclasses.replace(chip.sram, weight=buffer, act=buffer))
    return str(save_chip(chip, tmp_path / "small.toml"))


@pytest.mark.parametrize("command", [None, *HDL_COMMANDS])
def test_help_everywhere(capsys, command):
    argv = ["hdl", "--help"] if command is None else ["hdl", command, "--help"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: tritium hdl" in out
    if command is None:
        assert all(c in out for c in HDL_COMMANDS)


def test_hdl_alone_prints_help(capsys):
    code, out, _ = run(capsys, "hdl")
    assert code == 0 and "usage: tritium hdl" in out


def test_export_writes_a_design_icarus_passes(capsys, small_chip, tmp_path):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "hdl", "export", "--chip", small_chip, "--out", str(out_dir))
    assert code == 0
    steps = [line.split("] ", 1)[1].split(" ", 1)[0] for line in err.splitlines()]
    assert steps == ["converting", "writing"], err  # progress on stderr, stdout stays the file list
    top = "tritium_small"
    names = [line.rsplit("/", 1)[-1] for line in out.splitlines()]
    assert names == [f"{top}.v", f"tb_{top}.sv", f"{top}_cases.hex", f"{top}_weights.hex", f"{top}_acts.hex",
                     f"{top}_expected.hex", "files.f", f"{top}.core", "chip.toml"]
    for name in names:
        assert str(tmp_path) not in (out_dir / name).read_text(), name  # no absolute paths inside
    code, out, _ = run(capsys, "hdl", "export", "--chip", small_chip, "--out", str(out_dir), "--json", "--m", "1")
    assert code == 0 and len(json.loads(out)["files"]) == 9
    if not (shutil.which("iverilog") and shutil.which("vvp")):
        pytest.skip("Icarus Verilog (iverilog, vvp) is not on PATH")
    sim = subprocess.run(["iverilog", "-g2012", "-o", "tb", "-c", "files.f"], cwd=out_dir, capture_output=True)
    assert sim.returncode == 0, sim.stderr
    result = subprocess.run(["vvp", "-n", "tb"], cwd=out_dir, capture_output=True, text=True)
    assert result.returncode == 0 and "PASS" in result.stdout


@pytest.mark.slow
def test_synth_generic_json(capsys, small_chip, tmp_path):
    code, out, err = run(capsys, "hdl", "synth", "--chip", small_chip, "--target", "generic",
                         "--out", str(tmp_path / "s"), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["target"] == "generic" and report["dsps"] == 0 and report["transistors"] > 0
    assert report == json.loads((tmp_path / "s" / "report_generic.json").read_text())
    assert "synthesizing tritium_small for generic" in err  # progress goes to stderr


@pytest.mark.slow
def test_synth_ecp5_summary(capsys, small_chip, tmp_path):
    code, out, _ = run(capsys, "hdl", "synth", "--chip", small_chip, "--target", "ecp5", "--out", str(tmp_path))
    assert code == 0
    assert "tritium_small on ecp5 (LFE5U-85F-6BG381C" in out and "DSP 0" in out
    assert "place and route (ooc): fmax" in out and "timing met" in out


@pytest.mark.slow
def test_calibrate_and_bench(capsys, tmp_path):
    code, out, _ = run(capsys, "hdl", "calibrate", "--widths", "16", "--json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["width"] == 16 and row["within_tolerance"]
    code, out, _ = run(capsys, "hdl", "calibrate", "--widths", "16")
    assert code == 0 and out.splitlines()[1].split()[0] == "width" and out.splitlines()[2].split()[0] == "16"
    code, out, _ = run(capsys, "hdl", "bench", "--no-core", "--no-calibrate", "--targets", "ice40", "--seeds", "1",
                       "--tree-width", "16", "--out", str(tmp_path / "bench"), "--json")
    assert code == 0
    bench = json.loads(out)
    (row,) = bench["rows"]
    assert row["design"] == "tree 16" and row["target"] == "ice40" and row["dsps"] == 0 and row["fits"]
    assert bench["tree_sim_cycles_per_s"] > 0 and bench["comparison"] is None and bench["core_sim_cycles_per_s"] is None


def test_boards_lists_ecp5_boards(capsys):
    code, out, _ = run(capsys, "hdl", "boards")
    assert code == 0 and "ulx3s-85f" in out and "LFE5U-85F" in out
    code, out, _ = run(capsys, "hdl", "boards", "--json")
    assert {"board": "ulx3s-85f", "device": "LFE5U-85F-6BG381", "clock_mhz": 25.0,
            "platform": "amaranth_boards.ulx3s.ULX3S_85F_Platform"} in json.loads(out)


@pytest.mark.parametrize("argv,message", [
    (["hdl", "build", "--board", "arty-a7"], "board = 'arty-a7': must be one of ecp5-5g-evn"),
    (["hdl", "export", "--chip", "no-such-chip", "--out", "OUT"], "no-such-chip"),
    (["hdl", "export", "--chip", "datacenter-hbm3", "--out", "OUT"], "the HDL builds"),
    (["hdl", "export", "--out", "OUT", "--m", "5000"], "does not fit the core"),
    (["hdl", "synth", "--target", "ice40", "--pnr", "ooc", "--out", "OUT"], "no out-of-context mode"),
    (["hdl", "calibrate", "--widths", "24"], "width = 24"),
    (["hdl", "calibrate", "--widths", "16,x"], "widths = '16,x': must be comma-separated integers"),
    (["hdl", "calibrate", "--node", "11"], "node_nm = 11"),
    (["hdl", "bench", "--targets", "gowin", "--out", "OUT"], "targets = 'gowin'"),
    (["hdl", "bench", "--seeds", "", "--out", "OUT"], "seeds"),
])
def test_errors_are_one_line_with_status_2(capsys, tmp_path, argv, message):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()  # nothing was written


def test_a_chip_the_hdl_cannot_build(capsys, small_chip, tmp_path):
    text = Path(small_chip).read_text().replace('zero_handling = "none"', 'zero_handling = "skip"')
    (tmp_path / "skip.toml").write_text(text)
    code, _, err = run(capsys, "hdl", "export", "--chip", str(tmp_path / "skip.toml"), "--out", str(tmp_path / "o"))
    assert code == 2 and "tlu.zero_handling = 'skip'" in err and err.count("\n") == 1


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["hdl", "synth", "--target", "gowin", "--out", "x"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["hdl", "build"])
    assert exc.value.code == 2


@pytest.mark.parametrize("argv, needle", [
    (["--levels", "1,5", "--widths", "8"], "levels_per_stage = 5: must be an integer from 1 to 3"),
    (["--widths", "8,16"], "--timing takes one tree width"),
])
def test_calibrate_timing_refuses_bad_levels_and_widths_before_any_tool(capsys, argv, needle):
    code = main(["hdl", "calibrate", "--timing", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and needle in err and err.count("\n") == 1
