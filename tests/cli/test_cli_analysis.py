"""tritium gpus, gpu-bench, compare, report: output, JSON, one-line errors with status 2."""

import json
import tomllib

import pytest

from tritium.analysis.gpu import list_gpus, load_gpu
from tritium.cli import main

COMMANDS = ["gpus", "gpu-bench", "compare", "report"]
SMALL = ["--prefill", "64", "--decode", "8"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", COMMANDS)
def test_help(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: tritium {command}" in capsys.readouterr().out


def test_gpus_list_show_json(capsys, tmp_path):
    code, out, _ = run(capsys, "gpus")
    assert code == 0
    for name in list_gpus():
        assert name in out
    code, out, _ = run(capsys, "gpus", "show", "4090")
    assert code == 0 and tomllib.loads(out)["name"] == "rtx-4090"
    path = tmp_path / "mine.toml"
    path.write_text(out)
    assert load_gpu(path) == load_gpu("rtx-4090")
    code, out, _ = run(capsys, "gpus", "--json")
    assert code == 0 and {g["name"] for g in json.loads(out)} == set(list_gpus())


def test_gpus_errors(capsys):
    code, out, err = run(capsys, "gpus", "show", "b300")
    assert code == 2 and err.startswith("error: unknown GPU 'b300'") and err.count("\n") == 1
    code, _, err = run(capsys, "gpus", "show")
    assert code == 2 and "name one" in err


def test_gpus_calibration(capsys):
    code, out, _ = run(capsys, "gpus", "calibration")
    assert code == 0 and "| BF16 GEMM 8192^3 |" in out and "held out" in out


def test_compare_table_and_json(capsys):
    code, out, _ = run(capsys, "compare", *SMALL)
    assert code == 0
    assert "edge-lpddr5" in out and "h100-sxm (w2a8)" in out
    for row in ("time to first token", "time per output token", "tokens/s", "J/token", "average power",
                "die area", "cost per chip", "gCO2e per 1M tokens"):
        assert row in out
    code, out, _ = run(capsys, "compare", *SMALL, "--gpu", "rtx-4090", "--weights", "bf16", "--region", "FR", "--json")
    data = json.loads(out)
    assert code == 0 and data["gpu"] == "rtx-4090" and data["weights"] == "bf16" and data["region"] == "FR"
    assert data["scenario"] == {"batch": 1, "prefill": 64, "decode": 8}


@pytest.mark.parametrize("argv, phrase", [
    (["--region", "atlantis"], "region"),
    (["--chip", "nochip"], "nochip"),
    (["--gpus", "2", "--gpu", "orin"], "interconnect"),
    (["--calibration", "/nonexistent/cal.toml"], "cal.toml"),
])
def test_compare_errors(capsys, argv, phrase):
    code, _, err = run(capsys, "compare", *SMALL, *argv)
    assert code == 2 and err.startswith("error: ") and phrase in err and err.count("\n") == 1


def test_gpu_bench_without_cuda(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    code, _, err = run(capsys, "gpu-bench", *SMALL, "--out", str(tmp_path / "cal.toml"))
    assert code == 2 and err.startswith("error: gpu-bench needs a CUDA GPU") and err.count("\n") == 1
    assert not (tmp_path / "cal.toml").exists()
    with pytest.raises(SystemExit) as exc:
        main(["gpu-bench"])  # --out is required
    assert exc.value.code == 2


def test_report_small(capsys, tmp_path):
    out_dir = tmp_path / "rep"
    code, out, _ = run(capsys, "report", *SMALL, "--gpu", "rtx-4090", "--out", str(out_dir))
    assert code == 0 and "report written" in out
    html = (out_dir / "report.html").read_text()
    assert f"tritium report --gpu rtx-4090 --prefill 64 --decode 8 --out {out_dir}" in html
    assert (out_dir / "report.md").is_file() and len(list((out_dir / "plots").glob("*.png"))) == 9


@pytest.mark.slow
def test_report_defaults(capsys, tmp_path):
    """The README's main job: `tritium report --out DIR` with nothing else."""
    code, out, _ = run(capsys, "report", "--out", str(tmp_path))
    assert code == 0
    html = (tmp_path / "report.html").read_text()
    assert "bitnet-b1.58-2b-4t on edge-lpddr5 vs h100-sxm (w2a8)" in html
    assert f"tritium report --out {tmp_path}" in html
    data = json.loads((tmp_path / "comparison.json").read_text())
    assert data["scenario"] == {"batch": 1, "prefill": 512, "decode": 128}


def test_compare_per_side_knobs_and_na_reasons(capsys):
    code, out, _ = run(capsys, "compare", *SMALL, "--gpu", "orin", "--region", "NO", "--gpu-region", "US",
                       "--gpu-pue", "1.3", "--chip-lifetime-years", "6", "--volume", "10000", "--nre-usd", "1e6",
                       "--gpu-batch", "2")
    assert code == 0 and "nan" not in out.lower()
    assert "carbon, chip: edge device on the 'NO' grid at PUE 1, embodied over 6 years" in out
    assert "carbon, GPU: edge device on the 'US' grid at PUE 1.3" in out
    assert "(GPU batch 2)" in out and "cost per chip with NRE" in out
    assert "n/a: embodied: jetson-agx-orin-64gb's die area is not published" in out
    code, out, _ = run(capsys, "compare", *SMALL, "--gpu-pue", "1.3", "--json")
    data = json.loads(out)
    assert data["gpu_usage"]["pue"] == 1.3 and data["chip_usage"]["pue"] == 1.0


@pytest.mark.parametrize("argv, phrase", [
    (["--pue", "0.9"], "pue"),
    (["--gpu-utilization", "2"], "utilization"),
    (["--nre-usd", "1e6"], "volume"),
    (["--volume", "0"], "volume"),
])
def test_compare_knob_errors(capsys, argv, phrase):
    code, _, err = run(capsys, "compare", *SMALL, *argv)
    assert code == 2 and err.startswith("error: ") and phrase in err and err.count("\n") == 1
