"""The tritium command: help everywhere, one-line errors with status 2, outputs."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import tritium
from tritium.cli import main
from tritium.workloads import load_trace

COMMANDS = ["models", "chips", "trace", "simulate", "bench"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"tritium {tritium.__version__}"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_everywhere(capsys, command):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: tritium" in capsys.readouterr().out


def test_models_list_and_show(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0 and "bitnet-b1.58-2b-4t" in out and "llama-3-70b" in out
    code, out, _ = run(capsys, "models", "show", "trilm-99m")
    assert code == 0 and 'hidden_size = 512' in out
    code, out, _ = run(capsys, "models", "--json")
    assert {m["name"] for m in json.loads(out)} >= {"trilm-99m", "llama-2-70b"}


def test_trace_json_summary(capsys):
    code, out, _ = run(capsys, "trace", "bitnet-b1.58-2b-4t", "--prefill", "32", "--decode", "4", "--json")
    s = json.loads(out)
    assert code == 0 and s["model"] == "bitnet-b1.58-2b-4t" and s["decode"] == 4
    assert s["gmacs_by_kind"]["ternary_linear"] == pytest.approx(36 * 2.0836e9 / 1e9, rel=1e-3)
    assert s["zero_fraction"] == pytest.approx(0.310, abs=1e-3)


def test_trace_zero_fraction_option(capsys):
    code, out, _ = run(capsys, "trace", "trilm-99m", "--prefill", "4", "--decode", "1", "--zero-fraction", "0.42",
                       "--json")
    assert code == 0 and json.loads(out)["zero_fraction"] == pytest.approx(0.42)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_trace_out_writes_a_loadable_table(capsys, tmp_path, suffix):
    out_file = tmp_path / f"trace{suffix}"
    code, out, _ = run(capsys, "trace", "trilm-99m", "--prefill", "8", "--decode", "2", "--out", str(out_file))
    assert code == 0 and "trace written to" in out
    loaded = load_trace(out_file)
    table = loaded.table
    assert loaded.model == "trilm-99m" and (table.block.max(), table.steps.max()) == (1, 2)


@pytest.mark.parametrize("argv,message", [
    (["trace", "no-such-model"], "unknown model 'no-such-model'"),
    (["trace", "trilm-99m", "--prefill", "0"], "prefill = 0"),
    (["trace", "trilm-99m", "--batch", "-2"], "batch = -2"),
    (["trace", "trilm-99m", "--zero-fraction", "1.5"], "zero_fraction = 1.5"),
    (["models", "show"], "models show: name one"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_bad_output_path_writes_nothing(capsys, tmp_path):
    code, _, err = run(capsys, "trace", "trilm-99m", "--out", str(tmp_path / "t.txt"))
    assert code == 2 and "use .parquet or .csv" in err
    assert list(tmp_path.iterdir()) == []


def test_trace_from_config_json_folder(capsys, tmp_path):
    cfg = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "vocab_size": 100}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    code, out, _ = run(capsys, "trace", str(tmp_path), "--prefill", "4", "--decode", "2", "--json")
    assert code == 0 and json.loads(out)["gmacs_by_kind"]["linear"] > 0


def test_console_script_exits_2_without_traceback(tmp_path):
    exe = Path(sys.executable).with_name("tritium")
    if not exe.exists():
        pytest.skip("console script not installed beside this interpreter")
    proc = subprocess.run([str(exe), "trace", "nope"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stderr.startswith("error: ")
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("tritium ")


def test_json_is_strict_where_a_metric_does_not_apply(capsys, tmp_path):
    # Llama-2-7B has no ternary linears: its TLU ratio is not a number, printed as null
    code, out, _ = run(capsys, "simulate", "--model", "llama-2-7b", "--prefill", "8", "--decode", "2", "--json",
                       "--out", str(tmp_path / "sim"))

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    for text in (out, (tmp_path / "sim" / "totals.json").read_text()):
        data = json.loads(text, parse_constant=refuse)
        totals = data.get("totals", data)
        assert totals["tlu_arithmetic_ratio"] is None and totals["tokens_per_s"] > 0
    code, out, _ = run(capsys, "simulate", "--model", "llama-2-7b", "--prefill", "8", "--decode", "2")
    assert "TLU only n/a (no ternary linears)" in out and "nan" not in out


def test_simulate_of_a_scalesim_topology_has_no_per_token_figures(capsys, tmp_path):
    topo = tmp_path / "topo.csv"
    topo.write_text("Layer, M, N, K,\nfc1, 64, 256, 128,\nfc2, 64, 128, 256,\n")
    code, out, _ = run(capsys, "simulate", "--model", str(topo))
    assert code == 0 and "nan" not in out
    assert out.count("n/a (no decode)") == 3 and "time to first token" in out
    assert re.search(r"whole request +[\d.e-]+ s, [\d.e-]+ J", out)


def test_a_closed_pipe_ends_quietly(tmp_path):
    # `tritium models | head -1`: the reader closes early; no BrokenPipeError traceback.
    proc = subprocess.Popen([sys.executable, "-m", "tritium", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path)
    with proc:
        proc.stdout.close()
        err = proc.stderr.read().decode()
    assert proc.returncode == 1 and err == ""


def test_chips_list_and_show_round_trip(capsys, tmp_path):
    from tritium.sim import list_presets, load_chip

    code, out, _ = run(capsys, "chips")
    assert code == 0 and all(name in out for name in list_presets())
    code, out, _ = run(capsys, "chips", "show", "edge-lpddr5")
    assert code == 0 and 'type = "LPDDR5"' in out
    path = tmp_path / "mine.toml"
    path.write_text(out)
    assert load_chip(path) == load_chip("edge-lpddr5")
    code, out, _ = run(capsys, "chips", "show", str(path), "--json")
    assert code == 0 and json.loads(out)["tlu"]["rows"] == 64


@pytest.mark.parametrize("edit,message", [
    (("name = ", "name = \n"), "malformed TOML"),
    (("rows = 64", "rowz = 64"), "tlu.rowz = 64: unknown key; allowed keys here: rows, width"),
    (("rows = 64", "rows = -64"), "tlu.rows = -64: must be an integer from 1 to 65536"),
])
def test_chips_show_bad_file(capsys, tmp_path, edit, message):
    from tritium.sim import chip_to_toml, load_chip

    path = tmp_path / "bad.toml"
    path.write_text(chip_to_toml(load_chip("edge-lpddr5")).replace(*edit, 1))
    code, out, err = run(capsys, "chips", "show", str(path))
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_chips_show_unknown_preset(capsys):
    code, _, err = run(capsys, "chips", "show", "warp-drive")
    assert code == 2 and "unknown chip 'warp-drive'" in err


def test_trace_with_checkpoint_attaches_measured_stats(capsys, tmp_path):
    """A packed-U8 checkpoint with known trits: the CLI's summary and table carry its statistics."""
    import numpy as np

    from tritium.workloads import zoo_model
    from tritium.workloads.checkpoints.synthetic import TernaryTensor, write_packed_safetensors

    spec = zoo_model("trilm-99m")
    rng = np.random.default_rng(3)
    tensors, zeros, total = {}, 0, 0
    for proj in ("q_proj", "down_proj"):
        k, n = spec.projection_shape(proj)
        trits = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=(n, k), p=[0.25, 0.5, 0.25])
        group = "self_attn" if proj == "q_proj" else "mlp"
        tensors[f"model.layers.0.{group}.{proj}.weight"] = TernaryTensor(trits=trits, scale=0.01)
        zeros += int((trits == 0).sum())
        total += trits.size
    write_packed_safetensors(tmp_path / "ckpt", tensors)
    out_file = tmp_path / "t.parquet"
    code, out, _ = run(capsys, "trace", "trilm-99m", "--prefill", "4", "--decode", "1",
                       "--checkpoint", str(tmp_path / "ckpt"), "--out", str(out_file))
    assert code == 0 and "2 of 112 ternary matrices measured" in out
    table = load_trace(out_file).table
    measured = table[(table.block == 0) & table.stats_source.str.startswith("checkpoint")]
    assert set(measured.weight_name) == {"layers.0.q_proj", "layers.0.down_proj"}
    weights = measured.k * measured.n
    assert float((measured.zero_frac * weights).sum()) == pytest.approx(zeros, abs=0.5)


def test_trace_with_corrupt_checkpoint_is_one_line(capsys, tmp_path):
    bad = tmp_path / "model.safetensors"
    bad.write_bytes((10**9).to_bytes(8, "little") + b"{}")
    code, out, err = run(capsys, "trace", "trilm-99m", "--checkpoint", str(bad), "--out", str(tmp_path / "t.csv"))
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "header" in err
    assert not (tmp_path / "t.csv").exists()


def test_simulate_json_and_out(capsys, tmp_path):
    from tritium.sim import load_chip

    out = tmp_path / "run"
    code, text, _ = run(capsys, "simulate", "--model", "trilm-99m", "--chip", "lowcost-28nm", "--prefill", "16",
                        "--decode", "4", "--out", str(out), "--json")
    summary = json.loads(text)
    assert code == 0 and summary["chip"] == "lowcost-28nm" and summary["totals"]["tokens_per_s"] > 0
    assert json.loads((out / "totals.json").read_text()) == summary
    assert load_chip(out / "chip.toml") == load_chip("lowcost-28nm")
    import pandas as pd

    ops = pd.read_parquet(out / "ops.parquet")
    assert {"cycles", "bound", "energy_j", "dram_bytes"} <= set(ops.columns)


def test_simulate_human_summary(capsys):
    code, text, _ = run(capsys, "simulate", "--model", "trilm-99m", "--prefill", "8", "--decode", "2")
    assert code == 0 and "time to first token" in text and "tokens/s" in text and "71.4x" in text


@pytest.mark.parametrize("argv,message", [
    (["simulate", "--chip", "nope"], "unknown chip 'nope'"),
    (["simulate", "--model", "llama-2-70b", "--ternarize", "--chip", "fpga-proto", "--prefill", "4", "--decode", "1"],
     None),
])
def test_simulate_errors_and_big_models(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    if message:
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    else:
        assert code == 0 and "llama-2-70b-ternary on fpga-proto" in out


def test_simulate_narrow_accumulator_is_one_line(capsys, tmp_path):
    from tritium.sim import chip_to_toml, load_chip

    path = tmp_path / "narrow.toml"
    path.write_text(chip_to_toml(load_chip("edge-lpddr5")).replace("acc_bits = 24", "acc_bits = 16"))
    code, out, err = run(capsys, "simulate", "--chip", str(path), "--prefill", "4", "--decode", "1")
    assert code == 2 and "needs acc_bits >= 21" in err and len(err.strip().splitlines()) == 1


# -- one error path: what a user can cause is one line with status 2; a bug keeps its traceback --

def one_error_line(code, out, err, message):
    assert code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err


@pytest.mark.parametrize("argv,message", [
    (["trace", "--prefill", "99999999999999999999999"], r"prefill = 99999999999999999999999: .* 1 to 16777216"),
    (["trace", "--batch", "1000000000000"], r"batch = 1000000000000: must be an integer from 1 to 1048576"),
    (["trace", "llama-3-70b", "--batch", "4096", "--prefill", "4096", "--decode", "131072", "--json"],
     r"llama-3-70b \(batch 4096, prefill 4096, decode 131072\): macs over the request total [0-9,]+, more than"),
    (["simulate", "--decode", "100000000"], r"decode = 100000000: must be an integer from 1 to 1048576"),
])
def test_huge_numbers_are_one_line(capsys, argv, message):
    one_error_line(*run(capsys, *argv), message)


def test_deep_and_huge_toml_and_json_are_one_line(capsys, tmp_path):
    (tmp_path / "deep.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    (tmp_path / "dotted.toml").write_text("a." * 5000 + "b = 1\n")
    (tmp_path / "big.toml").write_text("clock_mhz = " + "9" * 4301 + "\n")
    for name in ("deep.toml", "dotted.toml", "big.toml"):
        for command in (["chips", "show"], ["gpus", "show"], ["sweep"]):
            argv = [*command, str(tmp_path / name)] + (["--out", str(tmp_path / "o")] if command == ["sweep"] else [])
            one_error_line(*run(capsys, *argv), r"malformed TOML \((nested|a\.a|an integer outside)")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text('{"hidden_size": ' + "[" * 5000 + "]" * 5000 + "}")
    one_error_line(*run(capsys, "trace", str(tmp_path / "cfg")), "nested too deeply")
    assert not (tmp_path / "o").exists()


def test_odd_file_names_are_one_line(capsys, tmp_path):
    long = str(tmp_path / ("L" * 5000))
    for argv in (["chips", "show", long], ["trace", long], ["simulate", "--chip", long], ["gpus", "show", long]):
        code, out, err = run(capsys, *argv)
        one_error_line(code, out, err, r"(File name too long|unknown GPU)")
        assert len(err) < 600
    odd = tmp_path / os.fsdecode(b"chip\xff\xfe.toml")
    odd.write_bytes(b"name = \xff\n")
    code, out, err = run(capsys, "chips", "show", str(odd))
    one_error_line(code, out, err, r"chip\\xff\\xfe.toml: not UTF-8")
    err.encode("utf-8")


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A finished two-point sweep (in this process) to corrupt copies of."""
    folder = tmp_path_factory.mktemp("sweep")
    space = folder / "tiny.toml"
    space.write_text('name = "tiny"\nbase = "edge-lpddr5"\nobjectives = ["tokens_per_s", "area_mm2"]\n'
                     '[[workload]]\nmodel = "trilm-99m"\nprefill = 8\ndecode = 2\n[params]\ntlu.rows = [16, 32]\n')
    assert main(["sweep", str(space), "--out", str(folder / "good"), "--workers", "0"]) == 0
    return folder / "good"


def _flip_page(path: Path, page: int) -> None:
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    data[page * size:(page + 1) * size] = bytes(b ^ 0x5A for b in data[page * size:(page + 1) * size])
    path.write_bytes(bytes(data))


def _sql(statement: str):
    def edit(path: Path) -> None:
        con = sqlite3.connect(path)
        con.execute(statement)
        con.commit()
        con.close()
    return edit


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize("damage,message", [
    (lambda p: _flip_page(p, 0), "file is not a database"),
    (lambda p: _flip_page(p, 1), "malformed"),
    (_sql("UPDATE points SET params = '{bad'"), r"malformed JSON .* while reading the sweep's results.sqlite"),
    (_sql("UPDATE points SET params = '" + "[" * 5000 + "]" * 5000 + "'"), "nested too deeply"),
    (_sql("UPDATE points SET params = '{\"tlu.rows\": " + "9" * 4400 + "}'"), "more than 4300 digits"),
    (_sql("UPDATE meta SET value = '[' WHERE key = 'params'"), "malformed JSON"),
    (_directory, "no sweep results here"),
    (_sql("DELETE FROM meta"), "meta"),
])
def test_corrupt_results_database_is_one_line(capsys, tmp_path, sweep_dir, damage, message):
    folder = tmp_path / "sweep"
    shutil.copytree(sweep_dir, folder)
    damage(folder / "results.sqlite")
    for argv in (["pareto", str(folder)], ["pick", str(folder), "--out", str(tmp_path / "picked")]):
        one_error_line(*run(capsys, *argv), message)


@pytest.mark.parametrize("bug", [ValueError("a bug"), KeyError("x"), TypeError("t"),
                                 sqlite3.ProgrammingError("misuse")])
def test_a_bug_keeps_its_traceback(capsys, monkeypatch, bug):
    def broken(args):
        raise bug

    monkeypatch.setattr("tritium.cli._cmd_models", broken)
    with pytest.raises(type(bug)):
        main(["models"])


def test_user_error_messages():
    from tritium.cliutil import one_line, user_error

    assert user_error(OSError(28, "No space left on device")) == "No space left on device"
    assert user_error(PermissionError(13, "Permission denied", "/x/y")) == "/x/y: Permission denied"
    assert user_error(OverflowError("int too large to convert to float")).startswith("a number is too large")
    assert user_error(ValueError("could not convert")) is None
    assert user_error(ValueError("Exceeds the limit (4300 digits) for integer string conversion")).startswith(
        "a number of more than 4300 digits")
    assert one_line("a\nb") == "a b" and len(one_line("x" * 5000)) <= 1000
