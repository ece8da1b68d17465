"""Measured mode without a GPU: a synthetic GPU behind the Measurement seam, and the no-CUDA path."""

import sys

import pytest

from tritium.analysis.gpu import DEFAULT_CALIBRATION, gpu_baseline, load_calibration, load_gpu, save_calibration
from tritium.analysis.gpu.measure import BIG_GEMM, COPY_BYTES, NoCudaError, Sample, TorchCuda, detect_gpu, gpu_bench
from tritium.analysis.gpu.kernels import Traffic, dram_s, matmul_compute_s, peak_ops, power_split
from tritium.analysis.gpu.rows import gemm_kernels
from tritium.base.errors import SpecError, TritiumError
from tritium.workloads import Scenario, trace


class SyntheticGpu:
    """A GPU whose kernels follow the model with known 'true' parameters."""

    def __init__(self, gpu, *, gemm_efficiency=0.7, copy_kernel_efficiency=0.8, idle_w=55.0, power_compute=0.5,
                 power_memory_path=0.6, name="NVIDIA H100 80GB HBM3", int8=True, matmul_kernel_efficiency=None):
        self.gpu = load_gpu(gpu)
        matmul = DEFAULT_CALIBRATION.matmul_kernel_efficiency if matmul_kernel_efficiency is None \
            else matmul_kernel_efficiency
        self.cal = DEFAULT_CALIBRATION.with_(gemm_efficiency=gemm_efficiency, copy_kernel_efficiency=copy_kernel_efficiency,
                                             idle_w=idle_w, power_compute=power_compute,
                                             power_memory_path=power_memory_path, matmul_kernel_efficiency=matmul)
        self.idle, self.name, self.int8 = idle_w, name, int8
        self.calls = []

    def device_name(self):
        return self.name

    def software(self):
        return "synthetic"

    def idle_power_w(self):
        return self.idle

    def _watts(self, seconds, ops, peak, traffic, efficiency):
        e = power_split(self.gpu, self.cal, seconds=seconds, ops=ops, peak=peak, traffic=traffic, link_bytes=0.0,
                        efficiency=efficiency)
        return e.total_j / seconds

    def matmul(self, m, k, n, weights):
        self.calls.append((m, k, n, weights))
        if weights == "int8" and (not self.int8 or m <= 16):
            return None
        size = 1 if weights == "int8" else 2
        peak = peak_ops(self.gpu, "int8" if weights == "int8" else "bf16")
        traffic = Traffic(stream=k * n * size, mixed=m * k * size + m * n * 2)
        eff = self.cal.matmul_kernel_efficiency
        seconds = max(matmul_compute_s(self.gpu, self.cal, m, k, n, peak), dram_s(self.gpu, traffic, eff))
        return Sample(seconds, self._watts(seconds, 2.0 * m * k * n, peak, traffic, eff))

    def copy(self, nbytes):
        traffic = Traffic(mixed=2.0 * nbytes)  # one kernel, as the model times it (launch and latency included)
        seconds = dram_s(self.gpu, traffic, self.cal.copy_kernel_efficiency) + self.cal.launch_overhead_s \
            + self.cal.kernel_latency_s
        return Sample(seconds, self._watts(seconds, 0.0, 1.0, traffic, self.cal.copy_kernel_efficiency))


@pytest.fixture(scope="module")
def table():
    return trace("llama-3-8b", Scenario(batch=32, prefill=256, decode=8))


def test_bench_recovers_the_synthetic_gpu(table):
    fake = SyntheticGpu("h100")
    report = gpu_bench(table, measurement=fake, weights=("bf16", "int8"))
    cal = report.calibration
    assert report.gpu == "h100-sxm" and cal.gpu == "h100-sxm"
    assert cal.gemm_efficiency == pytest.approx(0.7, rel=0.01)
    assert cal.copy_kernel_efficiency == pytest.approx(0.8, rel=0.01)
    assert cal.idle_w == 55.0
    assert cal.power_memory_path == pytest.approx(0.6, rel=1e-6)
    assert cal.power_compute == pytest.approx(0.5, rel=1e-6)
    # every distinct GEMM kernel the model runs was timed, in both modes
    wanted = {(k.m, k.k, k.n, k.weights) for w in ("bf16", "int8") for k in gemm_kernels(table, weights=w)}
    assert {(g.m, g.k, g.n, g.weights) for g in cal.gemm} == wanted
    assert (BIG_GEMM, BIG_GEMM, BIG_GEMM, "bf16") in fake.calls
    big = fake.matmul(BIG_GEMM, BIG_GEMM, BIG_GEMM, "bf16")
    assert report.gemm_tflops == pytest.approx(2 * BIG_GEMM**3 / big.seconds / 1e12)
    assert report.copy_tbps == pytest.approx(2 * COPY_BYTES / fake.copy(COPY_BYTES).seconds / 1e12)
    assert len(report.shapes) == len(cal.gemm) and (report.shapes.tflops > 0).all()
    assert "synthetic" in cal.description


def test_written_calibration_loads_and_drives_the_model(table, tmp_path):
    report = gpu_bench(table, measurement=SyntheticGpu("h100", gemm_efficiency=0.5, copy_kernel_efficiency=0.6,
                                                                 matmul_kernel_efficiency=0.5))
    path = save_calibration(report.calibration, tmp_path / "h100.toml")
    cal = load_calibration(path)
    assert cal == report.calibration
    default, measured = gpu_baseline("h100", table), gpu_baseline("h100", table, calibration=cal)
    assert measured.totals["time_per_output_token_s"] > 1.2 * default.totals["time_per_output_token_s"]
    assert measured.totals["time_to_first_token_s"] > 1.2 * default.totals["time_to_first_token_s"]
    # the measured time of a kernel is what the model uses for it (o_proj: a GEMM of its own)
    ops = measured.ops
    row = ops[(ops.op == "o_proj") & (ops.phase == "decode")].iloc[0]
    g = cal.measured("h100-sxm", "bf16", int(row.m), int(row.k), int(row.n))
    per_call = cal.graph_launch_overhead_s + cal.kernel_latency_s
    assert row.seconds / row.steps == pytest.approx(g.seconds + per_call, rel=1e-9)
    # and the measured power, not the power model, prices it (launch time included)
    joules = row[[c for c in ops.columns if c.startswith("energy_") and c != "energy_j"]].sum()
    static = (cal.idle_w + cal.power_floor * (700.0 - cal.idle_w)) * row.seconds
    assert joules + static == pytest.approx(g.watts * row.seconds, rel=1e-9)


def test_power_limited_gemm_keeps_a_compute_coefficient_that_reaches_tdp(table):
    report = gpu_bench(table, measurement=SyntheticGpu("h100", power_compute=3.0))
    from tritium.analysis.gpu.calibrate import gemm_power_demand

    assert report.calibration.power_compute >= DEFAULT_CALIBRATION.power_compute
    assert gemm_power_demand(report.calibration) >= 0.999
    assert any("power-limited" in n for n in report.notes)


def test_unmeasurable_int8_shapes_are_noted(table):
    small = trace("llama-3-8b", Scenario(batch=1, prefill=64, decode=4))
    report = gpu_bench(small, measurement=SyntheticGpu("h100"), weights=("int8",))
    assert any("not measurable" in n and "int8" in n for n in report.notes)
    assert all(g.weights in ("int8", "bf16") for g in report.calibration.gemm)


def test_explicit_gpu_overrides_detection(table):
    fake = SyntheticGpu("rtx-4090", name="Some Engineering Sample")
    with pytest.raises(TritiumError, match="--gpu"):
        gpu_bench(table, measurement=fake)
    assert gpu_bench(table, measurement=fake, gpu="rtx-4090").calibration.gpu == "rtx-4090"


def test_bad_weights(table):
    with pytest.raises(SpecError, match="weights"):
        gpu_bench(table, measurement=SyntheticGpu("h100"), weights=("w2a8",))
    with pytest.raises(SpecError, match="weights"):
        gpu_bench(table, measurement=SyntheticGpu("h100"), weights="bf16")


@pytest.mark.parametrize("device, name", [
    ("NVIDIA H100 80GB HBM3", "h100-sxm"),
    ("NVIDIA H100 PCIe", "h100-pcie"),
    ("NVIDIA H200", "h200"),
    ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
    ("NVIDIA L4", "l4"),
    ("NVIDIA L40S", "l40s"),
    ("NVIDIA GeForce RTX 4090", "rtx-4090"),
    ("NVIDIA GeForce RTX 3090", "rtx-3090"),
    ("Orin (nvgpu)", "jetson-agx-orin-64gb"),
])
def test_detect_gpu(device, name):
    assert detect_gpu(device) == name


@pytest.mark.parametrize("device", ["NVIDIA GeForce RTX 3090 Ti", "NVIDIA A100-SXM4-40GB", "Tesla V100-SXM2-16GB"])
def test_detect_refuses_other_cards(device):
    with pytest.raises(TritiumError, match="not in the database"):
        detect_gpu(device)


def test_no_cuda_says_so():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(NoCudaError, match="needs a CUDA GPU.*is_available"):
        TorchCuda()


def test_no_torch_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(NoCudaError, match="needs torch with CUDA"):
        TorchCuda()
