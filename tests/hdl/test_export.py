"""export(chip, out_dir): Verilog, self-checking testbench, vectors, file list, FuseSoC core; Icarus runs."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tritium.base.errors import TritiumError
from tritium.hdl import export, top_name
from tritium.sim import BufferSpec, load_chip

IVERILOG = shutil.which("iverilog") and shutil.which("vvp")
needs_iverilog = pytest.mark.skipif(not IVERILOG, reason="Icarus Verilog (iverilog, vvp) is not on PATH")


def small_chip(**tlu_fields):
    """fpga-proto with a small TLU (rows 4, width 16 unless given) and 1 KiB buffers."""
    chip = load_chip("fpga-proto")
    tlu = dataclasses.replace(chip.tlu, **{"rows": 4, "width": 16, **tlu_fields})
    buffer = BufferSpec(capacity_kib=1, banks=1, port_bits=64)
    return dataclasses.replace(chip, tlu=tlu, sram=dataclasses.replace(chip.sram, weight=buffer, act=buffer))


def run_icarus(folder: Path) -> subprocess.CompletedProcess:
    """Compile files.f with iverilog -g2012 and run it with vvp, in ``folder``."""
    subprocess.run(["iverilog", "-g2012", "-o", "sim.vvp", "-c", "files.f"], cwd=folder, check=True,
                   capture_output=True, text=True, timeout=300)
    return subprocess.run(["vvp", "-n", "sim.vvp"], cwd=folder, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("export") / "out"
    return out, export(small_chip(), out)


def test_writes_the_listed_files(exported):
    out, paths = exported
    top = "tritium_fpga_proto"
    assert [p.name for p in paths] == [
        f"{top}.v", f"tb_{top}.sv", f"{top}_cases.hex", f"{top}_weights.hex", f"{top}_acts.hex",
        f"{top}_expected.hex", "files.f", f"{top}.core", "chip.toml",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)  # no temporary files left
    assert (out / "files.f").read_text().split() == [f"{top}.v", f"tb_{top}.sv"]
    verilog = (out / f"{top}.v").read_text()
    assert f"module {top}(" in verilog and "timescale" not in verilog
    assert load_chip(out / "chip.toml") == small_chip()


def test_no_absolute_paths_inside(exported):
    out, paths = exported
    needles = {str(out), str(Path.cwd()), str(Path(__file__).resolve().parents[2]), os.path.expanduser("~")}
    for path in paths:
        text = path.read_text()
        for needle in needles:
            assert needle not in text, f"{path.name} contains {needle}"


def test_fusesoc_core_names_the_files(exported):
    yaml = pytest.importorskip("yaml")
    out, _ = exported
    top = "tritium_fpga_proto"
    text = (out / f"{top}.core").read_text()
    assert text.startswith("CAPI=2:\n")
    core = yaml.safe_load(text)
    assert core["name"] == "tritium:chips:fpga-proto:0.1.0"
    assert core["filesets"]["rtl"]["files"] == [f"{top}.v"]
    assert core["targets"]["default"]["toplevel"] == top
    assert core["targets"]["sim"]["toplevel"] == f"tb_{top}"
    vectors = [next(iter(entry)) for entry in core["filesets"]["vectors"]["files"]]
    assert vectors == [f"{top}_{kind}.hex" for kind in ("cases", "weights", "acts", "expected")]


def test_top_name_is_a_verilog_identifier():
    assert top_name(load_chip("edge-lpddr5")) == "tritium_edge_lpddr5"


def test_shapes_that_do_not_fit_write_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(TritiumError, match="does not fit the core"):
        export(small_chip(), out, k=16 * 65)
    assert not out.exists() or not any(out.iterdir())


@needs_iverilog
def test_icarus_passes_then_fails_on_a_corrupted_vector(exported, tmp_path):
    out, _ = exported
    work = tmp_path / "work"
    shutil.copytree(out, work)
    run = run_icarus(work)
    assert run.returncode == 0, run.stdout + run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("PASS ") and last.split()[2] == "vectors"
    assert int(last.split()[1]) == 8 * 2 * 5 + 8  # 8 cases of 2 x 5 results, plus 8 cycle checks

    expected = work / "tritium_fpga_proto_expected.hex"
    lines = expected.read_text().splitlines()
    lines[3] = f"{int(lines[3], 16) ^ 1:0{len(lines[3])}x}"  # flip one bit of one expected result
    expected.write_text("\n".join(lines) + "\n")
    run = run_icarus(work)
    assert run.returncode != 0
    assert "FAIL case 0 result 3" in run.stdout
    assert "FAIL 1 of 88 vectors" in run.stdout


@needs_iverilog
def test_icarus_fails_on_a_wrong_cycle_count(exported, tmp_path):
    out, _ = exported
    work = tmp_path / "work"
    shutil.copytree(out, work)
    cases = work / "tritium_fpga_proto_cases.hex"
    lines = cases.read_text().splitlines()
    lines[3] = f"{int(lines[3], 16) + 1:08x}"  # case 0 expects one cycle more
    cases.write_text("\n".join(lines) + "\n")
    run = run_icarus(work)
    assert run.returncode != 0
    assert "FAIL case 0 (M=2 K=32 N=5): compute_cycles" in run.stdout


@needs_iverilog
def test_icarus_fails_on_a_wrong_memory_access_count(exported, tmp_path):
    out, _ = exported
    work = tmp_path / "work"
    shutil.copytree(out, work)
    cases = work / "tritium_fpga_proto_cases.hex"
    lines = cases.read_text().splitlines()
    lines[5] = f"{int(lines[5], 16) - 1:08x}"  # case 0 expects one weight-word read fewer
    cases.write_text("\n".join(lines) + "\n")
    run = run_icarus(work)
    assert run.returncode != 0
    assert "FAIL case 0 (M=2 K=32 N=5): weight/act reads, result writes" in run.stdout
    assert "FAIL 1 of 88 vectors" in run.stdout


def test_cases_carry_the_token_block_and_the_schedule():
    from tritium.hdl import CASE_FIELDS, core_schedule, testbench_vectors

    chip = small_chip(acc_per_tree=3)
    vectors = testbench_vectors(chip, m=5, k=40, n=6)
    first = dict(zip(CASE_FIELDS, vectors["cases"][:len(CASE_FIELDS)]))
    schedule = core_schedule(chip, 5, 40, 6, token_block=3)
    assert first == {"m": 5, "k": 40, "n": 6, "cycles": schedule.cycles, "token_block": 3,
                     "weight_reads": schedule.weight_word_reads, "act_reads": schedule.act_slice_reads,
                     "result_writes": schedule.result_writes}
    assert schedule.word_cycles == 2 and schedule.weight_word_reads == 2 * 3 * 2  # tiles x slices x blocks
    with pytest.raises(TritiumError, match="token_block = 4: must be an integer from 1 to"):
        testbench_vectors(chip, m=5, k=40, n=6, token_block=4)


@needs_iverilog
def test_icarus_with_a_token_block_and_narrow_ports(tmp_path):
    chip = small_chip(acc_per_tree=3)  # one 64-bit port each: a weight word and a slice take 2 cycles
    chip = dataclasses.replace(chip, sram=dataclasses.replace(
        chip.sram, weight=BufferSpec(capacity_kib=1, banks=1, port_bits=16)))  # a word takes 8 cycles
    out = tmp_path / "out"
    export(chip, out, m=5, k=21, n=6)  # blocks of 3 and 2 tokens
    run = run_icarus(out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("PASS ")


@needs_iverilog
def test_icarus_with_gating_and_five_trit_weights(tmp_path):
    chip = small_chip(rows=3, width=8, levels_per_stage=2, zero_handling="gate", weight_encoding="5trit",
                      acc_bits=12)  # narrow accumulator: the extreme cases wrap
    out = tmp_path / "out"
    export(chip, out, m=3, k=21, n=4)
    run = run_icarus(out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("PASS ")


@needs_iverilog
def test_icarus_runs_from_another_folder_with_plusarg(exported, tmp_path):
    out, _ = exported
    subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "sim.vvp"), "-c", "files.f"], cwd=out,
                   check=True, capture_output=True, timeout=300)
    run = subprocess.run(["vvp", "-n", str(tmp_path / "sim.vvp"), f"+vectors={out}"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "PASS" in run.stdout


@needs_iverilog
@pytest.mark.slow
def test_icarus_passes_on_fpga_proto(tmp_path):
    out = tmp_path / "out"
    export("fpga-proto", out)
    run = run_icarus(out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("PASS ")
