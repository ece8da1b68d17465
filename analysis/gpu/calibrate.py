"""Calibration of the GPU model against measured H100 figures, and the report of its errors.

Anchors (:data:`ANCHORS`), all on one H100 SXM 80GB:

- a 8192^3 BF16 matmul at 798 TFLOP/s and a device-to-device copy at 3.0 TB/s counting
  read and write (measured on lent H100s; docs/sources.md §2);
- ML.ENERGY leaderboard v3, Llama-3.1-8B-Instruct BF16 on vLLM, lm-arena-chat task
  (``ml-energy/leaderboard`` ``public/data/models/meta-llama__Llama-3.1-8B-Instruct__lm-arena-chat.json``):
  output tokens/s and GPU energy per output token at max_num_seqs 8, 16, 32, 64, 96, 128, 256.

The model runs the zoo's ``llama-3-8b`` (Meta-Llama-3-8B: the same shapes as 3.1, whose
changes are RoPE scaling and a longer context, which do not change the kernels) under
:data:`SCENARIO_PREFILL` prompt tokens and :data:`SCENARIO_DECODE` generated tokens
per sequence (ML.ENERGY's measured mean output length is 389-405 tokens; the prompt
length of its chat conversations is not published, so 512 is assumed). Throughput
compares with generated tokens over the whole request (prefill included, as
continuous batching interleaves it), energy with all energy over generated tokens.

:func:`fit_calibration` derives the fitted parameters of
:data:`~tritium.analysis.gpu.params.DEFAULT_CALIBRATION` from the anchors marked
"fitted", in order: GEMM efficiency, copy kernel efficiency, the matmul kernel efficiency
and the W2A8 factor (BitNet table), then step overhead and attention kernel efficiency
(batch-8 and batch-64 throughput), then the compute and memory-path power coefficients
(batch-8 and batch-64 J/token; the busy floor is set from idle readouts). The DRAM's
sustained shares and pJ/bit are the DRAM model's (:mod:`tritium.sim.dram`), not fitted.
The other anchors are held out, among them the same GEMM and copy measured on a lent H200
(HBM3e: the copy tests the DRAM model's type dependence). :func:`calibration_report`
tabulates model vs measured.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from tritium.analysis.gpu.db import Gpu, load_gpu
from tritium.analysis.gpu.kernels import (WEIGHT_MODES, Traffic, dram_pj, dram_s, linear_step_traffic,
                                          matmul_compute_s, mode_bandwidth_factor, mode_unpack_ops, peak_ops,
                                          sustained_share, weight_matmul)
from tritium.analysis.gpu.model import gpu_baseline
from tritium.analysis.gpu.params import COPY_EFFICIENCY_MAX, DEFAULT_CALIBRATION, Calibration
from tritium.workloads.trace import Scenario, trace

__all__ = ["Anchor", "ANCHORS", "SCENARIO_PREFILL", "SCENARIO_DECODE", "ANCHOR_GPU", "ANCHOR_MODEL",
           "A100_40GB", "BITNET_GEMV_SHAPES", "gemm_tflops", "copy_tbps", "gemv_tbps", "serving_point", "gemm_power_demand", "calibration_report", "fit_calibration",
           "report_markdown", "bisect_increasing"]

ANCHOR_GPU = "h100-sxm"
"""The database GPU every anchor was measured on."""
ANCHOR_MODEL = "llama-3-8b"
"""The zoo model standing for Llama-3.1-8B."""
SCENARIO_PREFILL = 512
"""Prompt tokens per sequence in the ML.ENERGY scenario (assumed; not published)."""
SCENARIO_DECODE = 400
"""Generated tokens per sequence (ML.ENERGY's mean output length, 389-405)."""

_ML_ENERGY = ("ML.ENERGY v3, Llama-3.1-8B-Instruct BF16, vLLM, 1x H100 (ml-energy/leaderboard "
              "public/data/models/meta-llama__Llama-3.1-8B-Instruct__lm-arena-chat.json)")
_LENT = "measured on a lent H100 80GB HBM3 (docs/sources.md §2)"
_LENT_H200 = "measured on a lent H200 141GB HBM3e (docs/sources.md §2)"


@dataclass(frozen=True, slots=True)
class Anchor:
    """One measured figure the model is compared with.

    Attributes:
        name: short label. quantity: "gemm_tflops", "copy_tbps", "tokens_per_s" or
            "joules_per_token". batch: the ML.ENERGY max_num_seqs (0 for micro-benchmarks).
        measured: the measured value, in ``unit``. fitted: True when a default
            parameter is fitted to it (then the model reproduces it by construction).
        source: where it was measured.
        tolerance: the relative error the model is stated to stay within (the docs'
            table shows it; a test holds the model to it).
        gpu: the GPU it was measured on (a database name, or "a100-40gb": :data:`A100_40GB`).
        weights: the weight mode of a "gemv_tbps" anchor.
        model, prefill, decode, engine: the request of a batch-1 "tokens_per_s" anchor
            (empty model: the ML.ENERGY scenario).
    """

    name: str
    quantity: str
    batch: int
    measured: float
    unit: str
    fitted: bool
    source: str
    tolerance: float
    gpu: str = ANCHOR_GPU
    weights: str = "bf16"
    model: str = ""
    prefill: int = 0
    decode: int = 0
    engine: str | None = None


_BITNET = ("microsoft/BitNet gpu/README.md kernel table (M = 1, A100 40GB; torch.utils.benchmark over 50 "
           "calls): least-squares slope of latency over bytes, all 8 shapes")
_GPT_FAST = ("pytorch-labs/gpt-fast README: Llama-2-7B BF16, batch 1, 5-token prompt, torch.compile "
             "'reduce-overhead' (CUDA graphs), one A100-80GB power-limited to 330 W")

ANCHORS: tuple[Anchor, ...] = (
    Anchor("BF16 GEMM 8192^3", "gemm_tflops", 0, 798.0, "TFLOP/s", True, _LENT, 0.005),
    Anchor("device-to-device copy", "copy_tbps", 0, 3.0, "TB/s", True, _LENT + "; read + write", 0.005),
    Anchor("BF16 GEMV, BitNet shapes", "gemv_tbps", 1, 1.207, "TB/s", True, _BITNET, 0.005, gpu="a100-40gb",
           weights="bf16"),
    Anchor("W2A8 GEMV, BitNet shapes", "gemv_tbps", 1, 0.8586, "TB/s", True, _BITNET, 0.005, gpu="a100-40gb",
           weights="w2a8"),
    Anchor("Llama-3.1-8B batch 8", "tokens_per_s", 8, 1069.57, "tokens/s", True, _ML_ENERGY, 0.005),
    Anchor("Llama-3.1-8B batch 8", "joules_per_token", 8, 0.4548, "J/token", True, _ML_ENERGY, 0.02),
    Anchor("Llama-3.1-8B batch 64", "tokens_per_s", 64, 5147.15, "tokens/s", True, _ML_ENERGY, 0.005),
    Anchor("Llama-3.1-8B batch 64", "joules_per_token", 64, 0.1186, "J/token", True, _ML_ENERGY, 0.05),
    Anchor("Llama-3.1-8B batch 16", "tokens_per_s", 16, 1953.57, "tokens/s", False, _ML_ENERGY, 0.06),
    Anchor("Llama-3.1-8B batch 16", "joules_per_token", 16, 0.2627, "J/token", False, _ML_ENERGY, 0.05),
    Anchor("Llama-3.1-8B batch 32", "tokens_per_s", 32, 3391.07, "tokens/s", False, _ML_ENERGY, 0.06),
    Anchor("Llama-3.1-8B batch 32", "joules_per_token", 32, 0.1651, "J/token", False, _ML_ENERGY, 0.05),
    Anchor("Llama-3.1-8B batch 96", "tokens_per_s", 96, 6260.15, "tokens/s", False, _ML_ENERGY, 0.06),
    Anchor("Llama-3.1-8B batch 96", "joules_per_token", 96, 0.1029, "J/token", False, _ML_ENERGY, 0.15),
    Anchor("Llama-3.1-8B batch 128", "tokens_per_s", 128, 7036.53, "tokens/s", False, _ML_ENERGY, 0.06),
    Anchor("Llama-3.1-8B batch 128", "joules_per_token", 128, 0.0951, "J/token", False, _ML_ENERGY, 0.15),
    Anchor("Llama-3.1-8B batch 256", "tokens_per_s", 256, 9009.61, "tokens/s", False, _ML_ENERGY, 0.06),
    Anchor("Llama-3.1-8B batch 256", "joules_per_token", 256, 0.0766, "J/token", False, _ML_ENERGY, 0.15),
    Anchor("Llama-2-7B batch 1, cuda-graph engine", "tokens_per_s", 1, 104.9, "tokens/s", False, _GPT_FAST, 0.10,
           gpu="a100-80gb", model="llama-2-7b", prefill=5, decode=200, engine="cuda-graph"),
    Anchor("H200 BF16 GEMM 8192^3", "gemm_tflops", 0, 788.0, "TFLOP/s", False, _LENT_H200, 0.02, gpu="h200"),
    Anchor("H200 device-to-device copy", "copy_tbps", 0, 4.3, "TB/s", False, _LENT_H200 + "; read + write", 0.08,
           gpu="h200"),
)
"""Measured figures, fitted ones first (see the module docstring)."""

_GEMM = 8192
_COPY_BYTES = 2**30

A100_40GB = replace(load_gpu("a100-80gb"), name="a100-40gb", memory_bandwidth_gb_s=1555.0, mem_gb=40.0,
                    memory_type="HBM2", sources=(
                        "[V] A100 40GB: 40 GB HBM2 at 1,555 GB/s, otherwise the A100 80GB's figures "
                        "(NVIDIA A100 Tensor Core GPU datasheet)",))
"""The A100 40GB that microsoft/BitNet's kernel table was measured on (not in the database)."""

BITNET_GEMV_SHAPES = ((2560, 2560), (3840, 2560), (13824, 2560), (2560, 6912), (3200, 3200), (4800, 3200),
                      (3200, 10240), (20480, 3200))
"""(N, K) of microsoft/BitNet's kernel table: BitNet-2B4T's and BitNet-3B's linears."""


def _anchor_gpu(name: str) -> Gpu:
    return A100_40GB if name == A100_40GB.name else load_gpu(name)


def gemv_tbps(cal: Calibration, weights: str = "bf16", gpu: Gpu | str = A100_40GB,
              shapes: Sequence[tuple[int, int]] = BITNET_GEMV_SHAPES) -> float:
    """Model streaming rate, TB/s, of M = 1 linears in ``weights``: the least-squares slope of
    kernel time over bytes across ``shapes`` ((N, K) pairs), as the BitNet anchor is read."""
    gpu = _anchor_gpu(gpu) if isinstance(gpu, str) else gpu
    mode = WEIGHT_MODES[weights]
    peak, factor, unpack = peak_ops(gpu, mode.peak), mode_bandwidth_factor(cal, mode), mode_unpack_ops(cal, mode)
    traffic = [linear_step_traffic(mode, 1, k, n) for n, k in shapes]
    nbytes = np.array([t.total for t in traffic])
    seconds = np.array([weight_matmul(gpu, cal, 1, k, n, peak=peak, traffic=t, factor=factor, unpack_ops=unpack,
                                      gemv_slots_per_mac=mode.gemv_slots_per_mac).seconds + cal.kernel_latency_s
                        for (n, k), t in zip(shapes, traffic)])
    return 1.0 / float(np.polyfit(nbytes, seconds, 1)[0]) / 1e12


def gemm_tflops(cal: Calibration, gpu: Gpu | str = ANCHOR_GPU, size: int = _GEMM) -> float:
    """Model TFLOP/s of one ``size^3`` BF16 matmul launched eagerly."""
    gpu = load_gpu(gpu)
    seconds = _gemm_seconds(gpu, cal, size)
    return 2.0 * size**3 / seconds / 1e12


def _gemm_traffic(size: int) -> Traffic:
    """A ``size^3`` BF16 GEMM's compulsory traffic: B streamed as weights, A read and C written."""
    return Traffic(stream=2.0 * size * size, mixed=2 * 2.0 * size * size)


def _gemm_seconds(gpu: Gpu, cal: Calibration, size: int) -> float:
    compute = matmul_compute_s(gpu, cal, size, size, size, peak_ops(gpu, "bf16"))
    memory = dram_s(gpu, _gemm_traffic(size), cal.matmul_kernel_efficiency)
    return max(compute, memory) + cal.launch_overhead_s + cal.kernel_latency_s


def copy_tbps(cal: Calibration, gpu: Gpu | str = ANCHOR_GPU, nbytes: int = _COPY_BYTES) -> float:
    """Model TB/s (read + write) of one device-to-device copy of ``nbytes``: the DRAM model's
    ``mixed`` share of the GPU's peak (reads and writes half and half) x ``copy_kernel_efficiency``."""
    gpu = load_gpu(gpu)
    seconds = dram_s(gpu, Traffic(mixed=2.0 * nbytes), cal.copy_kernel_efficiency) + cal.launch_overhead_s \
        + cal.kernel_latency_s
    return 2 * nbytes / seconds / 1e12


@functools.lru_cache(maxsize=16)
def _anchor_trace(batch: int):
    return trace(ANCHOR_MODEL, Scenario(batch=batch, prefill=SCENARIO_PREFILL, decode=SCENARIO_DECODE))


def serving_point(cal: Calibration, batch: int, gpu: Gpu | str = ANCHOR_GPU) -> dict:
    """Model output tokens/s (over the whole request), J/token and average power of the
    ML.ENERGY scenario at ``batch`` sequences."""
    t = _anchor_trace(batch)
    totals = gpu_baseline(gpu, t, weights="bf16", calibration=cal).totals
    generated = batch * SCENARIO_DECODE
    return {"tokens_per_s": generated / totals["total_s"], "joules_per_token": totals["joules_per_token"],
            "average_power_w": totals["average_power_w"]}


def _model_value(anchor: Anchor, cal: Calibration) -> float:
    if anchor.quantity == "gemm_tflops":
        return gemm_tflops(cal, anchor.gpu)
    if anchor.quantity == "copy_tbps":
        return copy_tbps(cal, anchor.gpu)
    if anchor.quantity == "gemv_tbps":
        return gemv_tbps(cal, anchor.weights, anchor.gpu)
    if anchor.model:
        return single_stream_tokens_per_s(cal, anchor)
    return serving_point(cal, anchor.batch)[anchor.quantity]


def single_stream_tokens_per_s(cal: Calibration, anchor: Anchor) -> float:
    """Model decode tokens/s of ``anchor``'s request (its model, GPU, engine; batch 1)."""
    t = trace(anchor.model, Scenario(batch=anchor.batch, prefill=anchor.prefill, decode=anchor.decode))
    totals = gpu_baseline(_anchor_gpu(anchor.gpu), t, weights=anchor.weights, calibration=cal,
                          engine=anchor.engine).totals
    return 1.0 / totals["time_per_output_token_s"]


def calibration_report(calibration: Calibration | None = None,
                       anchors: Sequence[Anchor] = ANCHORS) -> pd.DataFrame:
    """Model vs measured for each anchor.

    Returns a table with columns anchor, quantity, unit, measured, model, rel_error
    ((model - measured) / measured), tolerance (the stated bound on it), role ("fitted"
    or "held out") and source.
    """
    cal = DEFAULT_CALIBRATION if calibration is None else calibration
    rows = []
    for a in anchors:
        model = _model_value(a, cal)
        rows.append({"anchor": a.name, "quantity": a.quantity, "unit": a.unit, "measured": a.measured,
                     "model": model, "rel_error": (model - a.measured) / a.measured, "tolerance": a.tolerance,
                     "role": "fitted" if a.fitted else "held out", "source": a.source})
    return pd.DataFrame(rows)


def report_markdown(report: pd.DataFrame) -> str:
    """The report as a Markdown table (anchor, quantity, measured, model, error, stated bound, role)."""
    lines = ["| anchor | quantity | measured | model | error | stated bound | role |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in report.itertuples(index=False):
        lines.append(f"| {r.anchor} | {r.quantity} ({r.unit}) | {_fmt(r.measured)} | {_fmt(r.model)} | "
                     f"{r.rel_error:+.1%} | ±{r.tolerance:.1%} | {r.role} |")
    return "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return f"{value:#.4g}" if abs(value) < 10 else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.1f}"


# -- fitting -----------------------------------------------------------------------


def _anchor(quantity: str, batch: int) -> Anchor:
    return next(a for a in ANCHORS if a.quantity == quantity and a.batch == batch and not a.model and a.fitted)


def fit_calibration(base: Calibration = DEFAULT_CALIBRATION) -> Calibration:
    """Fit the anchored parameters of ``base`` to the "fitted" anchors; return the result.

    Order: ``gemm_efficiency`` (8192^3 GEMM), ``copy_kernel_efficiency`` (copy),
    ``matmul_kernel_efficiency`` and ``w2a8_bandwidth_factor`` (BitNet's M = 1 kernel table), then
    ``step_overhead_s`` and ``attention_kernel_efficiency`` (batch 8 and 64 tokens/s), then
    ``power_compute`` and ``power_memory_path`` (batch 8 and 64 J/token). The DRAM's own
    sustained shares and pJ/bit are the DRAM model's (:mod:`tritium.sim.dram`), not fitted:
    the kernel efficiencies are what each kernel loses beyond them. ``power_floor`` is not
    fitted (the anchors cannot separate it from the other two; see
    :class:`~tritium.analysis.gpu.params.Calibration`); check with
    :func:`gemm_power_demand` that a dense GEMM then demands at least TDP, as measured
    GEMMs run power-limited.
    """
    gpu = load_gpu(ANCHOR_GPU)
    cal = base
    cal = replace(cal, gemm_efficiency=bisect_increasing(lambda e: gemm_tflops(replace(cal, gemm_efficiency=e)),
                                               _anchor("gemm_tflops", 0).measured, 0.05, 1.0))
    cal = replace(cal, copy_kernel_efficiency=bisect_increasing(
        lambda e: copy_tbps(replace(cal, copy_kernel_efficiency=e)), _anchor("copy_tbps", 0).measured, 0.05,
        COPY_EFFICIENCY_MAX))
    gemv = {a.weights: a for a in ANCHORS if a.quantity == "gemv_tbps"}
    cal = replace(cal, matmul_kernel_efficiency=bisect_increasing(
        lambda f: gemv_tbps(replace(cal, matmul_kernel_efficiency=f), "bf16", gemv["bf16"].gpu),
        gemv["bf16"].measured, 0.05, 1.0))
    cal = replace(cal, w2a8_bandwidth_factor=bisect_increasing(
        lambda f: gemv_tbps(replace(cal, w2a8_bandwidth_factor=f), "w2a8", gemv["w2a8"].gpu),
        gemv["w2a8"].measured, 0.05, 1.0))
    speed = [(8, _anchor("tokens_per_s", 8).measured), (64, _anchor("tokens_per_s", 64).measured)]

    def throughput(x: np.ndarray) -> np.ndarray:
        trial = replace(cal, step_overhead_s=float(x[0]), attention_kernel_efficiency=float(x[1]))
        return np.array([serving_point(trial, b)["tokens_per_s"] / target - 1 for b, target in speed])

    x = _newton(throughput, np.array([cal.step_overhead_s, cal.attention_kernel_efficiency]),
                lo=np.array([0.0, 0.05]), hi=np.array([0.05, 1.0]))
    cal = replace(cal, step_overhead_s=float(x[0]), attention_kernel_efficiency=float(x[1]))
    energy = [(8, _anchor("joules_per_token", 8).measured), (64, _anchor("joules_per_token", 64).measured)]

    def power(x: np.ndarray) -> np.ndarray:
        trial = replace(cal, power_compute=float(x[0]), power_memory_path=float(x[1]))
        return np.array([serving_point(trial, b)["joules_per_token"] / target - 1 for b, target in energy])

    x = _newton(power, np.array([cal.power_compute, cal.power_memory_path]), lo=np.array([0.0, 0.0]),
                hi=np.array([20.0, 20.0]))
    return replace(cal, power_compute=float(x[0]), power_memory_path=float(x[1]))


def gemm_power_demand(cal: Calibration, gpu: Gpu | str = ANCHOR_GPU, size: int = _GEMM) -> float:
    """Power a ``size^3`` BF16 GEMM would draw without the TDP cap, as a fraction of TDP."""
    gpu = load_gpu(gpu)
    seconds = _gemm_seconds(gpu, cal, size)
    traffic = _gemm_traffic(size)
    u_c = 2.0 * size**3 / (peak_ops(gpu, "bf16") * seconds)
    reach = gpu.peak_bandwidth_bytes_s * sustained_share(gpu, traffic) * cal.matmul_kernel_efficiency
    u_m = traffic.total / (reach * seconds)
    idle = cal.idle_w if cal.idle_w is not None else gpu.idle_w
    span = gpu.tdp_w - idle
    dram_w = dram_pj(gpu, traffic) * 1e-12 / seconds
    return (idle + span * (cal.power_floor + cal.power_compute * u_c + cal.power_memory_path * u_m) + dram_w) / gpu.tdp_w


def bisect_increasing(func: Callable[[float], float], target: float, lo: float, hi: float) -> float:
    """The x in [lo, hi] where the increasing ``func(x)`` equals ``target`` (60 halvings)."""
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if func(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _newton(func: Callable[[np.ndarray], np.ndarray], x: np.ndarray, *, lo: np.ndarray, hi: np.ndarray,
            tol: float = 1e-7, iterations: int = 40) -> np.ndarray:
    """Solve ``func(x) = 0`` by damped Newton steps with a finite-difference Jacobian, inside [lo, hi]."""
    x = np.clip(x.astype(float), lo, hi)
    f = func(x)
    for _ in range(iterations):
        if np.max(np.abs(f)) < tol:
            break
        jac = np.empty((len(f), len(x)))
        for j in range(len(x)):
            h = 1e-4 * max(abs(x[j]), 1e-3)
            step = x.copy()
            step[j] += h
            jac[:, j] = (func(step) - f) / h
        delta = np.linalg.lstsq(jac, -f, rcond=None)[0]
        damping = 1.0
        while damping > 1e-3:
            trial = np.clip(x + damping * delta, lo, hi)
            f_trial = func(trial)
            if np.max(np.abs(f_trial)) < np.max(np.abs(f)):
                x, f = trial, f_trial
                break
            damping /= 2
        else:
            break
    if not math.isfinite(float(np.max(np.abs(f)))):
        raise ArithmeticError("calibration fit diverged")
    return x
