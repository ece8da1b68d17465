"""tritium sweep / pareto / pick / sweep-plot / sweep-bench: outputs, JSON, one-line errors with status 2."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tritium.cli import main
from tritium.sim import load_chip

COMMANDS = ["sweep", "pareto", "pick", "sweep-plot", "sweep-bench"]

TINY = '''
name = "cli"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4
[params]
tlu.rows = [16, 64]
dram.channels = [1, 2]
node_nm = [12, 7]
[constraints]
max_area_mm2 = 7.0
'''


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(TINY)
    return path


@pytest.fixture
def swept(space, tmp_path, capsys):
    out = tmp_path / "out"
    code, text, err = run(capsys, "sweep", space, "--out", out, "--workers", "0")
    assert code == 0, err
    return out, text


@pytest.mark.parametrize("command", COMMANDS)
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and f"usage: tritium {command}" in capsys.readouterr().out


def test_sweep_prints_a_summary_and_resumes(swept, space, capsys):
    out, text = swept
    assert "sweep 'cli' (grid, in process)" in text and "evaluated 8 points" in text
    # how many meet max_area_mm2 = 7 follows the simulator's die model (overheads, shoreline)
    assert re.search(r"stored 8: 8 simulated \([1-8] meet the constraints\), 0 invalid, 0 failed", text)
    code, text, _ = run(capsys, "sweep", space, "--out", out, "--workers", "0", "--resume", "--json")
    summary = json.loads(text)
    assert code == 0 and (summary["evaluated"], summary["skipped"], summary["stored"]) == (0, 8, 8)


def test_sweep_into_a_folder_with_results_needs_resume(swept, space, capsys):
    out, _ = swept
    code, text, err = run(capsys, "sweep", space, "--out", out, "--workers", "0")
    assert code == 2 and text == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and "already holds a sweep" in err


@pytest.mark.parametrize(("swap", "needle"), [
    (("tlu.rows", "tlu.rowz"), "params.tlu.rowz = [16, 64]: not a chip parameter"),
    (("[16, 64]", "{ start = 64, stop = 16, step = 16 }"), "params.tlu.rows.stop = 16: must be >= start = 64"),
    (('"edge-lpddr5"', '"nope"'), "base chip 'nope'"),
    (("max_area_mm2", "max_size"), "constraints.max_size"),
])
def test_space_errors_are_one_line(space, tmp_path, capsys, swap, needle):
    space.write_text(TINY.replace(*swap))
    code, text, err = run(capsys, "sweep", space, "--out", tmp_path / "o")
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "o").exists()


def test_strategy_overrides(space, tmp_path, capsys):
    code, text, _ = run(capsys, "sweep", space, "--out", tmp_path / "r", "--workers", "0", "--strategy", "random",
                        "--samples", "3", "--seed", "2", "--json")
    assert code == 0 and json.loads(text)["evaluated"] == 3 and json.loads(text)["strategy"] == "random"


def test_pareto_text_json_and_csv(swept, tmp_path, capsys):
    out, _ = swept
    code, text, _ = run(capsys, "pareto", out)
    assert code == 0 and "Pareto front of 'cli' over tokens_per_s, joules_per_token" in text
    assert "tlu.rows" in text and "workload trilm-99m/b1-p16-d4" in text
    code, text, _ = run(capsys, "pareto", out, "--objectives", "area_mm2,joules_per_token,tokens_per_s",
                        "--json", "--csv", tmp_path / "front.csv", "--all")
    rows = json.loads(text)
    assert code == 0 and rows and set(rows[0]) >= {"id", "area_mm2", "joules_per_token", "tokens_per_s",
                                                   "tlu.rows", "node_nm"}
    assert (tmp_path / "front.csv").read_text().count("\n") > len(rows)  # chip TOML spans lines
    code, _, err = run(capsys, "pareto", out, "--objectives", "tokens_per_s")
    assert code == 2 and "objectives" in err and err.count("\n") == 1
    code, _, err = run(capsys, "pareto", tmp_path)
    assert code == 2 and "no sweep results here" in err


def test_pick_writes_chip_tomls(swept, tmp_path, capsys):
    out, _ = swept
    dest = tmp_path / "chips"
    code, text, _ = run(capsys, "pick", out, "--max-area-mm2", "6.9", "--max-power-w", "5", "--min-tokens-per-s",
                        "500", "--top", "2", "--out", dest)
    assert code == 0 and "meeting max_area_mm2 = 6.9, max_power_w = 5, min_tokens_per_s = 500" in text
    files = sorted(dest.glob("*.toml"))
    assert 1 <= len(files) <= 2 and f"tritium simulate --chip {dest}" in text
    for f in files:
        assert str(f) in text and load_chip(f).name == f.stem
        line = next(ln for ln in text.splitlines() if str(f) in ln)
        tokens_per_s = float(re.search(r"([\d,.]+) tok/s", line).group(1).replace(",", ""))
        area = float(re.search(r"([\d,.]+) mm\^2", line).group(1).replace(",", ""))
        assert tokens_per_s >= 500 and area <= 6.9 and "mJ/token" in line and " W, $" in line
    code, text, _ = run(capsys, "pick", out, "--min-tokens-per-s", "1e9", "--out", dest)
    assert code == 0 and "no chip of" in text
    code, text, _ = run(capsys, "pick", out, "--json", "--out", tmp_path / "j")
    assert code == 0 and all(p.endswith(".toml") for p in json.loads(text))
    code, text, _ = run(capsys, "pick", out, "--hdl", "--out", tmp_path / "h")
    assert code == 0 and "buildable in HDL" in text and list((tmp_path / "h").glob("*.toml"))
    code, _, err = run(capsys, "pick", out, "--top", "0")
    assert code == 2 and "top = 0" in err


def test_picked_chip_simulates_from_the_cli(swept, tmp_path, capsys):
    out, _ = swept
    run(capsys, "pick", out, "--top", "1", "--out", tmp_path / "c")
    chip = next((tmp_path / "c").glob("*.toml"))
    code, text, _ = run(capsys, "simulate", "--model", "trilm-99m", "--chip", chip, "--prefill", "16", "--decode", "4",
                        "--json")
    assert code == 0 and json.loads(text)["chip"] == chip.stem


def test_sweep_plot_and_sweep_with_plots(swept, space, tmp_path, capsys):
    out, _ = swept
    code, text, _ = run(capsys, "sweep-plot", out, "--out", tmp_path / "p", "--gpus", "none")
    paths = text.split()
    assert code == 0 and len(paths) == 16 and all(p.endswith((".png", ".svg")) for p in paths)
    code, _, err = run(capsys, "sweep-plot", out, "--gpus", "no-such-gpu", "--out", tmp_path / "q")
    assert code == 2 and "no-such-gpu" in err
    code, text, _ = run(capsys, "sweep", space, "--out", tmp_path / "o2", "--workers", "0", "--plots")
    assert code == 0 and "16 plot files written to" in text and (tmp_path / "o2" / "plots").is_dir()


def test_sweep_bench_arguments(capsys):
    code, _, err = run(capsys, "sweep-bench", "--workers", "one")
    assert code == 2 and "--workers" in err
    code, _, err = run(capsys, "sweep-bench", "--points", "0")
    assert code == 2 and "--points" in err


@pytest.mark.slow
def test_sweep_bench_prints_figures(space, tmp_path, capsys):
    code, text, _ = run(capsys, "sweep-bench", "--space", space, "--points", "4", "--workers", "1",
                        "--grid-dir", tmp_path / "grid", "--json")
    figures = json.loads(text)
    assert code == 0 and figures["space"] == "cli"
    (scaling,) = figures["scaling"]
    assert scaling["workers"] == 1 and scaling["points"] == 4 and scaling["points_per_s"] > 0
    assert scaling["points_per_cpu_s"] > 0
    g = figures["guided"]
    assert g["grid_points"] == 8 and g["grid_evaluated"] == 8 and 0 < g["evaluations"] <= 8
    assert g["recall"] == 1.0 and g["curve"][-1][0] == g["evaluations"]


def test_module_entry_point_runs_sweep_help():
    done = subprocess.run([sys.executable, "-m", "tritium", "sweep", "--help"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0 and "--scheduler" in done.stdout
