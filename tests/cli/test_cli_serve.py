"""tritium serve: printed figures, --json keys, --out files, --find-capacity, one-line errors."""

import json

import pandas as pd
import pytest

from tritium.cli import main

FAST = ["serve", "--model", "trilm-99m", "--chip", "edge-lpddr5", "--prompt", "lognormal:64:0.5", "--output",
        "fixed:8"]


def test_serve_prints_percentiles_and_json_keys(capsys):
    assert main(FAST + ["--rate", "20", "--requests", "60"]) == 0
    text = capsys.readouterr().out
    assert "time to first token" in text and "goodput" in text and "buckets vs full model" in text
    assert main(FAST + ["--rate", "20", "--requests", "60", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    for key in ("ttft_s", "tpot_s", "e2e_s"):
        assert set(s[key]) >= {"p50", "p90", "p99"}
    for key in ("throughput_tokens_per_s", "goodput_rps", "requests", "rejected", "joules_per_token"):
        assert key in s
    assert s["requests"] == 60 and s["rejected"] == 0


def test_serve_out_writes_table_summary_and_plots(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(FAST + ["--rate", "20", "--requests", "20", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"requests.parquet", "summary.json", "series.csv", "sweep.csv", ".tritium-files.json"} <= names
    for plot in ("ttft_cdf", "tpot_cdf", "occupancy", "knee"):
        assert {f"{plot}.png", f"{plot}.svg"} <= names
    table = pd.read_parquet(out / "requests.parquet")
    assert len(table) == 20 and {"ttft_s", "tpot_s", "e2e_s", "energy_j", "meets_slo"} <= set(table.columns)
    assert json.loads((out / "summary.json").read_text())["requests"] == 20
    # a second run replaces its own files; a file Tritium did not write is refused
    assert main(FAST + ["--rate", "20", "--requests", "10", "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["requests"] == 10
    (out / "summary.json").write_text("mine")
    capsys.readouterr()
    assert main(FAST + ["--rate", "20", "--requests", "40", "--out", str(out)]) == 2
    assert "was not written by Tritium" in capsys.readouterr().err


def test_trace_file_replay(tmp_path, capsys):
    f = tmp_path / "burst.csv"
    f.write_text("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                 + "".join(f"{i * 0.2},ChatGPT,{40 + i},{4 + i % 3},0,x\n" for i in range(30)))
    assert main(["serve", "--model", "trilm-99m", "--chip", "edge-lpddr5", "--trace", str(f), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["requests"] == 30 and "burstgpt" in s["source"]


def test_find_capacity_reports_a_rate(capsys):
    assert main(FAST + ["--find-capacity", "--requests", "60", "--slo-ttft", "0.5", "--slo-tpot", "0.05",
                        "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["capacity_rps"] > 0 and s["capacity_rps"] <= s["upper_bound_rps"]
    assert s["ttft_s"]["p90"] <= 0.5 and s["tpot_s"]["p99"] <= 0.05


@pytest.mark.parametrize("extra,needle", [
    (["--rate", "0"], "rate"),
    (["--rate", "1", "--requests", "0"], "requests"),
    (["--rate", "1", "--slo-ttft", "0"], "slo_ttft_s"),
    (["--rate", "1", "--prompt", "lognormal:0"], "lognormal"),
    (["--rate", "1", "--max-batch", "0"], "max_batch"),
    (["--trace", "/nonexistent/x.csv"], "no such file"),
    (["--find-capacity", "--rate", "3"], "--find-capacity"),
])
def test_bad_input_is_one_error_line_and_exit_2(capsys, extra, needle):
    assert main(FAST + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and needle in err and len(err.strip().splitlines()) == 1


def test_trace_with_missing_columns(tmp_path, capsys):
    f = tmp_path / "t.csv"
    f.write_text("TIMESTAMP,ContextTokens\n1,2\n")
    assert main(FAST + ["--trace", str(f)]) == 2
    err = capsys.readouterr().err
    assert "match no known format" in err and len(err.strip().splitlines()) == 1


def test_neither_chip_nor_gpu(capsys):
    assert main(["serve", "--rate", "1"]) == 2
    assert "exactly one of chip or gpu" in capsys.readouterr().err


def test_serve_bench_prints_its_figures(capsys):
    assert main(["serve-bench", "--model", "trilm-99m", "--requests", "50", "--rate", "20",
                 "--capacity-requests", "20", "--json"]) == 0
    f = json.loads(capsys.readouterr().out)
    assert f["requests"] == 50 and f["serve_wall_s"] > 0 and f["serve_cpu_s"] > 0
    assert f["simulated_per_wall"] > 0 and f["capacity_rps"] > 0 and f["bucket_max_time_error"] < 0.01
