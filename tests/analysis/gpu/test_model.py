"""GPU model: physical properties of gpu_baseline on real traces, and the SimResult schema."""

import dataclasses
import math

import numpy as np
import pytest

from tritium.analysis.gpu import DEFAULT_CALIBRATION, WEIGHT_MODES, MeasuredGemm, gpu_baseline, list_gpus, load_gpu
from tritium.analysis.gpu.kernels import (Traffic, dram_s, dram_summary, linear_step_traffic, matmul_compute_s,
                                          mode_bandwidth_factor, peak_ops, power_split, weight_matmul)
from tritium.base.errors import SpecError, TritiumError
from tritium.sim import simulate
from tritium.sim.result import ENERGY_COMPONENTS
from tritium.sim.dram import effective_pj_per_bit, sustained_bandwidth_fraction
from tritium.sim.simulate import OP_COLUMNS
from tritium.workloads import Scenario, trace


@pytest.fixture(scope="module")
def bitnet():
    return trace("bitnet-b1.58-2b-4t", Scenario(batch=2, prefill=128, decode=16))


@pytest.fixture(scope="module")
def llama():
    return trace("llama-3-8b", Scenario(batch=4, prefill=256, decode=16))


@pytest.mark.parametrize("weights", sorted(WEIGHT_MODES))
@pytest.mark.parametrize("gpu", ["h100-sxm", "rtx-4090", "jetson-agx-orin-64gb"])
def test_no_op_beats_its_roofline(bitnet, gpu, weights):
    g = load_gpu(gpu)
    r = gpu_baseline(g, bitnet, weights=weights)
    ops = r.ops
    fastest = max(peak_ops(g, "int8"), peak_ops(g, "bf16"))
    assert (ops.seconds >= 2 * ops.macs / fastest * (1 - 1e-12)).all()
    assert (ops.seconds >= ops.dram_bytes / g.peak_bandwidth_bytes_s * (1 - 1e-12)).all()
    assert (ops.utilization <= 1.0 + 1e-12).all()


def test_more_bandwidth_is_never_slower(llama):
    base = load_gpu("h100-pcie")
    fast = dataclasses.replace(base, name="h100-pcie-fast", memory_bandwidth_gb_s=2 * base.memory_bandwidth_gb_s)
    for weights in ("bf16", "w4a16"):
        slow_r, fast_r = gpu_baseline(base, llama, weights=weights), gpu_baseline(fast, llama, weights=weights)
        assert (fast_r.ops.seconds.to_numpy() <= slow_r.ops.seconds.to_numpy() * (1 + 1e-12)).all()
        assert fast_r.totals["time_per_output_token_s"] < slow_r.totals["time_per_output_token_s"]
        assert fast_r.totals["time_to_first_token_s"] <= slow_r.totals["time_to_first_token_s"]


def test_more_compute_is_never_slower(llama):
    base = load_gpu("l4")
    fast = dataclasses.replace(base, name="l4-fast", bf16_tflops=2 * base.bf16_tflops, int8_tops=2 * base.int8_tops)
    slow_r, fast_r = gpu_baseline(base, llama), gpu_baseline(fast, llama)
    assert (fast_r.ops.seconds.to_numpy() <= slow_r.ops.seconds.to_numpy() * (1 + 1e-12)).all()
    assert fast_r.totals["time_to_first_token_s"] < slow_r.totals["time_to_first_token_s"]


def test_tensor_parallelism_adds_all_reduce(llama):
    one = gpu_baseline("h100", llama)
    two = gpu_baseline("h100", llama, gpus=2)
    assert one.totals["link_bytes"] == 0 and one.totals["energy_link_j"] == 0
    assert two.chip == "h100-sxm-x2"
    reduced = two.ops[two.ops.link_bytes > 0]
    assert set(reduced.op) == {"o_proj", "down_proj"}
    assert (reduced.link_cycles > 0).all() and two.totals["energy_link_j"] > 0
    # a ring all-reduce over 2 GPUs sends each GPU's full BF16 output once: 2 GPUs x M x N x 2 B per step
    row = reduced.iloc[0]
    assert row.link_bytes == 2 * row.m * row.n * 2 * row.steps
    # the weights split: decode steps get faster, but by less than 2x
    ratio = one.totals["time_per_output_token_s"] / two.totals["time_per_output_token_s"]
    assert 1.0 < ratio < 2.0
    # PCIe all-reduce is slower than NVLink's
    pcie = gpu_baseline("h100-pcie", llama, gpus=2).ops
    assert pcie[pcie.link_bytes > 0].link_cycles.sum() / load_gpu("h100-pcie").clock_hz > \
        reduced.link_cycles.sum() / load_gpu("h100").clock_hz


def test_tensor_parallelism_needs_an_interconnect(bitnet):
    with pytest.raises(TritiumError, match="no chip-to-chip interconnect"):
        gpu_baseline("orin", bitnet, gpus=2)


def test_power_is_capped_at_tdp(llama):
    gpu = load_gpu("h100")
    hot = DEFAULT_CALIBRATION.with_(power_compute=50.0, power_memory_path=50.0)
    r = gpu_baseline(gpu, llama, calibration=hot)
    assert r.totals["average_power_w"] <= gpu.tdp_w * (1 + 1e-9)
    e = power_split(gpu, hot, seconds=1.0, ops=peak_ops(gpu, "bf16"), peak=peak_ops(gpu, "bf16"),
                    traffic=Traffic(stream=gpu.peak_bandwidth_bytes_s), link_bytes=1e12)
    assert e.total_j == pytest.approx(gpu.tdp_w)
    # the default calibration: a dense GEMM runs power-limited, a decode step well below TDP
    r = gpu_baseline(gpu, llama)
    prefill = r.ops[(r.ops.phase == "prefill") & (r.ops.kind == "linear")]
    assert gpu.idle_w < r.totals["average_power_w"] < gpu.tdp_w
    assert (prefill.energy_j / prefill.seconds).max() < gpu.tdp_w


def test_energy_components_sum(bitnet):
    for weights in ("bf16", "w2a8"):
        r = gpu_baseline("h100", bitnet, weights=weights, gpus=2)
        t = r.totals
        parts = sum(t[f"energy_{c}_j"] for c in ENERGY_COMPONENTS) + t["energy_static_j"]
        assert t["energy_j"] == pytest.approx(parts, rel=1e-12)
        per_op = sum(r.ops[f"energy_{c}_j"] for c in ENERGY_COMPONENTS)
        np.testing.assert_allclose(r.ops.energy_j, per_op, rtol=1e-12)
        # DRAM devices in dram, the GPU's own memory path (L2, crossbar, controllers) in sram
        assert t["energy_memory_path_j"] > 0 and t["energy_dram_j"] > 0 and t["energy_static_j"] > 0 and t["energy_linear_j"] > 0
        generated = 2 * 16
        assert t["joules_per_token"] == pytest.approx(t["energy_j"] / generated)
        assert t["average_power_w"] == pytest.approx(t["energy_j"] / t["total_s"])
        assert t["total_s"] == pytest.approx(t["time_to_first_token_s"] + 16 * t["time_per_output_token_s"])


def test_same_schema_as_the_chip_simulator(bitnet):
    chip = simulate("edge-lpddr5", bitnet)
    gpu = gpu_baseline("rtx-4090", bitnet)
    assert list(gpu.ops.columns) == list(chip.ops.columns)
    assert set(OP_COLUMNS) <= set(gpu.ops.columns)
    assert type(gpu.totals) is type(chip.totals)  # one result type: the chip's keys less a ternary chip's own
    assert set(gpu.totals) == set(chip.totals) - set(chip.totals.arithmetic.as_dict())
    for col in chip.ops.columns:
        assert gpu.ops[col].dtype == chip.ops[col].dtype, col
    assert gpu.scenario == chip.scenario and gpu.model == chip.model
    assert gpu.area_mm2["total"] == load_gpu("rtx-4090").die_mm2
    assert gpu.totals.arithmetic is None and gpu.totals.sram_bytes is None and gpu.totals.supply_v is None
    assert set(gpu.ops.bound) <= {"compute", "dram", "launch", "link", "none"}


def test_fewer_weight_bits_speed_up_memory_bound_decode(llama):
    tpot = {w: gpu_baseline("h100", llama, weights=w).totals["time_per_output_token_s"] for w in WEIGHT_MODES}
    assert tpot["fp16"] == pytest.approx(tpot["bf16"])
    assert tpot["w2a8"] < tpot["w4a16"] < tpot["int8"] < tpot["bf16"]
    r = {w: gpu_baseline("h100", llama, weights=w) for w in ("bf16", "int8")}
    lin = {w: x.ops[(x.ops.op == "down_proj") & (x.ops.phase == "decode")].dram_bytes.sum() for w, x in r.items()}
    assert lin["int8"] < 0.55 * lin["bf16"]


def test_wave_quantization():
    gpu, cal = load_gpu("h100"), DEFAULT_CALIBRATION
    peak = peak_ops(gpu, "bf16")
    # 132 SMs: one more 128x256 tile than a full wave costs a second wave
    full = matmul_compute_s(gpu, cal, 128 * 11, 4096, 256 * 12, peak)
    over = matmul_compute_s(gpu, cal, 128 * 11 + 1, 4096, 256 * 12, peak)
    assert over > 1.05 * full
    big = matmul_compute_s(gpu, cal, 8192, 8192, 8192, peak)
    tiles = (8192 // 128) * (8192 // 256)  # 2048 tiles run in 16 waves of 132: 97% of the last wave busy
    assert 2 * 8192**3 / big == pytest.approx(peak * cal.gemm_efficiency * tiles / (16 * 132), rel=1e-6)


def test_measured_gemm_replaces_the_model(llama):
    gpu = load_gpu("h100")
    table = llama.table
    row = table[(table.op == "down_proj") & (table.phase == "decode")].iloc[0]
    shape = dict(m=int(row.m), k=int(row.k), n=int(row.n))
    slow = DEFAULT_CALIBRATION.with_(name="bench", gpu=gpu.name, gemm=(MeasuredGemm(**shape, weights="bf16", seconds=1e-3),))
    base, measured = gpu_baseline(gpu, llama, weights="bf16"), gpu_baseline(gpu, llama, weights="bf16", calibration=slow)
    pick = (base.ops.op == "down_proj") & (base.ops.phase == "decode")
    launch = DEFAULT_CALIBRATION.graph_launch_overhead_s + DEFAULT_CALIBRATION.kernel_latency_s
    per_step = measured.ops[pick].seconds.iloc[0] / row.steps
    assert per_step == pytest.approx(1e-3 + launch, rel=1e-9)
    assert measured.totals["time_per_output_token_s"] > base.totals["time_per_output_token_s"]
    # timings taken on another GPU are not used, and a note says so
    other = gpu_baseline("h200", llama, weights="bf16", calibration=slow)
    plain = gpu_baseline("h200", llama, weights="bf16").totals
    assert {k: v for k, v in other.totals.items() if v == v} == {k: v for k, v in plain.items() if v == v}
    assert any("measured on h100-sxm" in n for n in other.notes)


def test_bad_arguments(bitnet):
    with pytest.raises(SpecError, match="weights"):
        gpu_baseline("h100", bitnet, weights="fp8")
    with pytest.raises(SpecError, match="gpus"):
        gpu_baseline("h100", bitnet, gpus=0)
    with pytest.raises(SpecError, match="calibration"):
        gpu_baseline("h100", bitnet, calibration={"gemm_efficiency": 0.5})


def test_memory_note_says_when_the_model_does_not_fit():
    big = trace("llama-3-70b", Scenario(batch=1, prefill=64, decode=4))
    notes = gpu_baseline("rtx-4090", big).notes
    assert any("does not fit" in n for n in notes)
    assert not any("does not fit" in n for n in gpu_baseline("h200", big, gpus=2).notes)


@pytest.mark.parametrize("name", sorted(list_gpus()))
def test_weight_stream_runs_at_the_dram_models_share_times_the_kernel_factor(name):
    """Issue 11: the GPU's DRAM efficiency comes from tritium.sim.dram, the chip's model."""
    gpu, cal = load_gpu(name), DEFAULT_CALIBRATION
    stream = sustained_bandwidth_fraction(gpu.memory_type, "stream")
    for weights in ("bf16", "w2a8"):
        factor = mode_bandwidth_factor(cal, WEIGHT_MODES[weights])
        nbytes = 1e9
        seconds = dram_s(gpu, Traffic(stream=nbytes), factor)
        assert nbytes / seconds == pytest.approx(gpu.peak_bandwidth_bytes_s * stream * factor, rel=1e-12)
    assert dram_summary(gpu, cal)["matmul_share"] == pytest.approx(stream * cal.matmul_kernel_efficiency, rel=1e-12)
    # a whole batch-1 linear: weights at the stream share, activations at the mixed share
    mode, (k, n) = WEIGHT_MODES["bf16"], (4096, 4096)
    traffic = linear_step_traffic(mode, 1, k, n)
    t = weight_matmul(gpu, cal, 1, k, n, peak=peak_ops(gpu, "bf16"), traffic=traffic,
                      factor=mode_bandwidth_factor(cal, mode), gemv_slots_per_mac=mode.gemv_slots_per_mac)
    mixed = sustained_bandwidth_fraction(gpu.memory_type, "mixed")
    expected = (traffic.stream / stream + traffic.mixed / mixed) / (gpu.peak_bandwidth_bytes_s * cal.matmul_kernel_efficiency)
    assert t.memory_s == pytest.approx(expected, rel=1e-12)


def test_dram_energy_is_the_dram_models_pj_per_bit():
    """Decode linears on an H100 (HBM3) and an Orin (LPDDR5): energy_dram_j = bytes x the DRAM model's pJ/bit."""
    t = trace("llama-2-7b", Scenario(batch=1, prefill=16, decode=4))
    for name in ("h100-sxm", "jetson-agx-orin-64gb"):
        gpu = load_gpu(name)
        ops = gpu_baseline(gpu, t, weights="bf16").ops
        lin = ops[(ops.phase == "decode") & (ops.kind == "linear")]
        pj = effective_pj_per_bit(gpu.memory_type, "stream")
        assert effective_pj_per_bit(gpu.memory_type, "mixed") == pytest.approx(pj)  # equal read/write core energy
        np.testing.assert_allclose(lin.energy_dram_j, lin.dram_bytes * 8 * pj * 1e-12, rtol=1e-6)
        # standby and refresh stay in the idle power: not a separate total on the GPU side
        assert gpu_baseline(gpu, t, weights="bf16").totals.energy.dram_background_j is None


def test_the_note_says_what_the_dram_sustains():
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=16, decode=2))
    notes = gpu_baseline("h100", t).notes
    note = next(n for n in notes if n.startswith("DRAM HBM3"))
    assert "99.7% of peak for weight streams" in note and "inside the 70 W idle power" in note
