"""GPU calibration: the default reproduces the measured H100 anchors; the fit reproduces the default."""

import dataclasses
import re
from pathlib import Path

import pytest

from tritium.analysis.gpu import DEFAULT_CALIBRATION, MeasuredGemm, load_calibration, save_calibration
from tritium.analysis.gpu.calibrate import (
    ANCHORS,
    calibration_report,
    copy_tbps,
    fit_calibration,
    gemm_power_demand,
    gemm_tflops,
    report_markdown,
    serving_point,
)
from tritium.base.errors import SpecError, TritiumError

DOC = Path(__file__).resolve().parents[3] / "analysis" / "gpu" / "CALIBRATION.md"
FITTED = ("gemm_efficiency", "copy_kernel_efficiency", "matmul_kernel_efficiency", "w2a8_bandwidth_factor",
          "step_overhead_s", "attention_kernel_efficiency", "power_compute", "power_memory_path")


@pytest.fixture(scope="module")
def report():
    return calibration_report()


def test_micro_benchmark_anchors():
    assert gemm_tflops(DEFAULT_CALIBRATION) == pytest.approx(798.0, rel=0.005)
    assert copy_tbps(DEFAULT_CALIBRATION) == pytest.approx(3.0, rel=0.005)


def test_ml_energy_anchors_of_the_issue():
    b8, b64 = serving_point(DEFAULT_CALIBRATION, 8), serving_point(DEFAULT_CALIBRATION, 64)
    assert b8["tokens_per_s"] == pytest.approx(1070, rel=0.005)
    assert b8["joules_per_token"] == pytest.approx(0.455, rel=0.02)
    assert b64["joules_per_token"] == pytest.approx(0.119, rel=0.05)


def test_every_anchor_within_its_stated_bound(report):
    assert len(report) == len(ANCHORS)
    bad = report[report.rel_error.abs() > report.tolerance]
    assert bad.empty, bad[["anchor", "quantity", "rel_error", "tolerance"]].to_string()
    # the model follows the measured trend: energy per token falls with batch, throughput rises
    for quantity, sign in (("tokens_per_s", 1), ("joules_per_token", -1)):
        serving = [not a.model for a in ANCHORS if a.quantity == quantity]  # ML.ENERGY's batch sweep only
        rows = report[report.quantity == quantity][serving].assign(
            batch=[a.batch for a in ANCHORS if a.quantity == quantity and not a.model])
        model = rows.sort_values("batch").model.to_numpy()
        assert (sign * (model[1:] - model[:-1]) > 0).all()


def test_dense_gemm_runs_power_limited():
    assert gemm_power_demand(DEFAULT_CALIBRATION) > 1.0


@pytest.mark.slow
def test_fit_reproduces_the_default_calibration():
    fitted = fit_calibration()
    for key in FITTED:
        assert getattr(fitted, key) == pytest.approx(getattr(DEFAULT_CALIBRATION, key), rel=1e-3), key
    # and from a different starting point it lands on the same throughput parameters
    moved = fit_calibration(DEFAULT_CALIBRATION.with_(step_overhead_s=5e-4, attention_kernel_efficiency=0.8))
    for key in FITTED[:6]:
        assert getattr(moved, key) == pytest.approx(getattr(DEFAULT_CALIBRATION, key), rel=1e-3), key


def test_docs_show_the_current_error_table(report):
    text = DOC.read_text(encoding="utf-8")
    assert report_markdown(report) in text, "regenerate the table: python -m tritium.analysis.gpu.calibrate"


def test_calibration_round_trips_through_toml(tmp_path):
    cal = DEFAULT_CALIBRATION.with_(name="bench-h100", gpu="h100-sxm", idle_w=71.5, gemm=(
        MeasuredGemm(m=8, k=4096, n=6144, weights="bf16", seconds=2.1e-5, watts=310.0),
        MeasuredGemm(m=512, k=4096, n=4096, weights="int8", seconds=3.3e-5)))
    path = save_calibration(cal, tmp_path / "cal.toml")
    assert load_calibration(path) == cal
    assert re.search(r"^gemm = \[$", path.read_text(), re.M)


_GOOD = ("gemm_efficiency = 0.8\ncopy_kernel_efficiency = 1.0\nmatmul_kernel_efficiency = 0.78\n"
         "w2a8_bandwidth_factor = 0.71\nstep_overhead_s = 0.001\nattention_kernel_efficiency = 0.5\n"
         "power_floor = 0.07\npower_compute = 2\npower_memory_path = 0.5\n")


@pytest.mark.parametrize("text, key", [
    (_GOOD + "warp_size = 32\n", "warp_size"),
    (_GOOD.replace("gemm_efficiency = 0.8", "gemm_efficiency = 1.5"), "gemm_efficiency"),
    (_GOOD.replace("copy_kernel_efficiency = 1.0", "copy_kernel_efficiency = 1.3"), "copy_kernel_efficiency"),
    (_GOOD + "[[gemm]]\nm = 8\nk = 16\nn = 16\nweights = 'w2a8'\nseconds = 1e-5\n", "weights"),
    ("copy_kernel_efficiency = 0.9\n", "gemm_efficiency"),
    # keys from before the DRAM model: refused with the name that replaced them, never read with a new meaning
    (_GOOD + "bandwidth_efficiency = 0.9\n", "bandwidth_efficiency.*renamed copy_kernel_efficiency"),
    (_GOOD.replace("power_memory_path", "power_memory"), "power_memory.*renamed power_memory_path"),
    (_GOOD.replace("attention_kernel_efficiency", "attention_bandwidth_factor"),
     "attention_bandwidth_factor.*renamed attention_kernel_efficiency"),
    (_GOOD.replace("matmul_kernel_efficiency", "matmul_bandwidth_factor"),
     "matmul_bandwidth_factor.*renamed matmul_kernel_efficiency"),
])
def test_bad_calibration_files(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError, match=key) as err:
        load_calibration(path)
    assert str(path) in str(err.value)


def test_missing_calibration_file(tmp_path):
    with pytest.raises(TritiumError, match="nothing.toml"):
        load_calibration(tmp_path / "nothing.toml")


def test_calibration_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_CALIBRATION.gemm_efficiency = 1.0  # type: ignore[misc]
