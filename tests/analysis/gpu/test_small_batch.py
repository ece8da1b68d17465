"""GPU small-M path: batch-1 decode near its memory bound, fewer bits never slower, the crossover batch."""

import dataclasses

import pytest

from tritium.analysis.gpu import DEFAULT_CALIBRATION, WEIGHT_MODES, gpu_baseline, load_gpu
from tritium.analysis.gpu.kernels import (crossover_batch, dram_fraction, linear_step_traffic, mode_bandwidth_factor,
                                          mode_unpack_ops, peak_ops, weight_matmul)
from tritium.analysis.gpu.params import ENGINES, with_engine
from tritium.base.errors import SpecError
from tritium.workloads import Scenario, trace
from tritium.workloads.zoo import load_model

MODES = ("bf16", "int8", "w4a16", "w2a8")
GPUS = ("h100-sxm", "a100-80gb")
KERNEL_FACTOR = 1.0 / (0.994 * 0.7794 * 0.7115) * 1.05
"""Stated bound: a batch-1 linear takes at most 1 / (the DRAM's sustained stream share, HBM2e's 0.994 the
lower of the two cards' (tritium.sim.dram) x matmul kernel efficiency x W2A8 factor) of its
bytes-over-peak-bandwidth time, +5% for unpacking tails (the slowest mode, W2A8, streams at 55% of peak)."""
STEP_FACTOR = 4.0
"""Stated bound on a whole batch-1 decode step (per-kernel latencies included) with the CUDA-graph engine."""


@pytest.fixture(scope="module", params=["bitnet-b1.58-2b-4t", "llama-2-7b"])
def decode_trace(request):
    return trace(request.param, Scenario(batch=1, prefill=64, decode=8))


@pytest.mark.parametrize("gpu", GPUS)
def test_batch_one_decode_is_near_its_memory_bound(decode_trace, gpu):
    g = load_gpu(gpu)
    assert dram_fraction(g, "stream") >= 0.994  # the share KERNEL_FACTOR assumes
    for weights in MODES:
        r = gpu_baseline(g, decode_trace, weights=weights, engine="cuda-graph")
        d = r.ops[r.ops.phase == "decode"]
        lin = d[d.kind.isin(["linear", "ternary_linear"])]
        kernel_s = (lin.dram_cycles.clip(lower=lin.compute_cycles)) / g.clock_hz
        bound = lin.dram_bytes / g.peak_bandwidth_bytes_s
        assert (kernel_s <= KERNEL_FACTOR * bound * (1 + 1e-9) + 2 / g.clock_hz).all(), weights
        assert (lin.bound == "dram").all() or (lin.bound == "launch").any(), weights
        step_bound = d.dram_bytes.sum() / 8 / g.peak_bandwidth_bytes_s
        assert r.totals["time_per_output_token_s"] <= STEP_FACTOR * step_bound, weights


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("batch", [1, 4, 16])
def test_fewer_weight_bits_never_slow_decode(gpu, batch):
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=batch, prefill=32, decode=4))
    tpot = {w: gpu_baseline(gpu, t, weights=w).totals["time_per_output_token_s"] for w in MODES}
    assert tpot["w2a8"] <= tpot["w4a16"] <= tpot["int8"] <= tpot["bf16"]


def test_the_named_kernels_run_at_batch_one():
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=16, decode=2))
    paths = {w: set(gpu_baseline("a100", t, weights=w).ops.query("phase == 'decode' and kind == 'ternary_linear'").mapping)
             for w in MODES}
    assert paths["bf16"] == paths["w2a8"] == {"GEMV on CUDA cores"}  # cuBLAS GEMV, BitNet's dp4a kernel
    assert paths["w4a16"] == paths["int8"] == {"streaming tensor-core kernel"}  # Marlin; W8A8 tensor cores


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("weights", MODES)
def test_crossover_batch_near_the_roofline_ridge(gpu, weights):
    """Marlin's README: memory-bound below (op/s over B/s) x bytes per weight / 2 MACs per weight."""
    g, mode = load_gpu(gpu), WEIGHT_MODES[weights]
    ridge = peak_ops(g, mode.peak) / g.peak_bandwidth_bytes_s * (mode.weight_bits + mode.scale_bits_per_weight) / 16
    for k, n in ((4096, 11008), (11008, 4096), (2560, 6912)):
        m = crossover_batch(g, DEFAULT_CALIBRATION, mode, k, n)
        assert ridge / 2 <= m <= 2 * ridge, (k, n, m, ridge)


def test_marlin_keeps_its_speedup_to_batch_16_on_an_a100():
    """Marlin (arXiv:2408.11743): close to the ideal 3.87x over FP16 up to batch 16-32, memory roof below ~64."""
    g, cal = load_gpu("a100"), DEFAULT_CALIBRATION
    k, n = 8192, 28672

    def seconds(weights, m):
        mode = WEIGHT_MODES[weights]
        return weight_matmul(g, cal, m, k, n, peak=peak_ops(g, mode.peak), traffic=linear_step_traffic(mode, m, k, n),
                             factor=mode_bandwidth_factor(cal, mode), unpack_ops=mode_unpack_ops(cal, mode),
                             gemv_slots_per_mac=mode.gemv_slots_per_mac).seconds

    for m in (1, 8, 16):
        assert seconds("bf16", m) / seconds("w4a16", m) == pytest.approx(3.87 * 0.975, rel=0.03)
    assert 16 < crossover_batch(g, cal, WEIGHT_MODES["w4a16"], k, n) <= 64


def test_engines():
    t = trace("llama-2-7b", Scenario(batch=1, prefill=16, decode=4))
    tpot = {e: gpu_baseline("h100", t, engine=e).totals["time_per_output_token_s"] for e in ENGINES}
    assert tpot["cuda-graph"] < tpot["vllm"] < tpot["eager"]
    plain, vllm = gpu_baseline("h100", t).totals, gpu_baseline("h100", t, engine="vllm").totals  # the fitted default
    assert {k: v for k, v in plain.items() if v == v} == {k: v for k, v in vllm.items() if v == v}
    assert with_engine(DEFAULT_CALIBRATION, "eager").step_overhead_s == DEFAULT_CALIBRATION.step_overhead_s
    assert any("serving engine 'eager'" in n for n in gpu_baseline("h100", t, engine="eager").notes)
    with pytest.raises(SpecError, match="engine"):
        gpu_baseline("h100", t, engine="tgi")


def test_memory_counts_embedding_kv_dtype_and_reserve():
    gpu = load_gpu("h100")
    t16 = trace("llama-2-7b", Scenario(batch=8, prefill=512, decode=64))
    spec = dataclasses.replace(load_model("llama-2-7b"), kv_dtype="fp8")
    t8 = trace(spec, Scenario(batch=8, prefill=512, decode=64))
    need16 = gpu_baseline(gpu, t16).totals["memory_needed_bytes"]
    need8 = gpu_baseline(gpu, t8).totals["memory_needed_bytes"]
    kv16 = t16.table.kv_write_bytes.sum()
    assert need16 - need8 == pytest.approx(kv16 / 2, rel=1e-6)
    params = 6.74e9  # Llama-2-7B: embedding and untied head included
    reserve = 0.1 * gpu.mem_gb * 1e9
    acts = ((t16.table.act_in_bytes + t16.table.act_out_bytes) / t16.table.steps).max()  # the largest op's input and output
    assert need16 == pytest.approx(params * 2 + kv16 + acts + reserve, rel=0.005)
    # a tied head (BitNet 2B4T) holds its table once
    bitnet = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=16, decode=2))
    note = next(n for n in gpu_baseline(gpu, bitnet, weights="w2a8").notes if n.startswith("memory per GPU"))
    assert "embedding 0.66" in note


def test_cli_gpu_engine(capsys):
    from tritium.cli import main

    assert main(["compare", "--prefill", "16", "--decode", "4", "--gpu-engine", "cuda-graph", "--json"]) == 0
    assert '"default.cuda-graph"' in capsys.readouterr().out
