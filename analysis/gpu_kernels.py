"""Pure cost functions of single GPU kernels: matmul tiles and waves, streams, all-reduce, power.

Everything here is a function of (GPU, calibration, shape); :mod:`tritium.analysis.gpu_model`
maps trace rows onto these kernels.

**Matmul compute time** (wave quantization with a tile model). A kernel covers the
``M x N`` output with CTA tiles, one tile per SM at a time; tiles run in waves of
``sms`` tiles, so a GEMM of 1.1 waves costs 2. For small M the kernel swaps operands
(cuBLAS does), so the long side takes the tile's 64 or 128 rows and the short side
(tokens in decode) 8 to 256 columns. A tile's speed relative to the calibrated peak is
its operand reuse, ``tb * ts / (tb + ts)`` MACs per operand element loaded, over that of a
128x128 tile ([E]: skinny tiles load more operand bytes per MAC from L2/SMEM), capped at
1. When the tiles do not fill the SMs, the reduction is split across CTAs (split-K,
chunks of at least 256). The kernel takes the fastest tile. A full wave of large tiles
runs at ``gemm_efficiency`` of the dense peak.

**DRAM time** = bytes / (peak bandwidth x ``bandwidth_efficiency`` x the kernel's
bandwidth factor): compulsory traffic only (each weight, input and output byte once;
re-reads hit L2).

**Power** of one kernel = idle + (TDP - idle) x min(1, floor + c x u_c + m x u_m) with
u_c its tensor utilization and u_m its DRAM bandwidth utilization over its whole time,
measured against the bandwidth that kind of kernel can reach (peak x its bandwidth
factor): a paged-attention or W2A8 kernel that streams slower than a plain GEMV because
its SMs are busy gathering or unpacking is not idling ([E]; with u_m against the bare
peak the batch-64 ML.ENERGY energy came out 15% low, see ``GPU_CALIBRATION.md``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from tritium.analysis.gpu_db import Gpu
from tritium.analysis.gpu_params import Calibration

__all__ = ["WeightMode", "WEIGHT_MODES", "TILE_ROWS", "TILE_COLS", "tile_efficiency", "peak_ops",
           "cuda_core_s", "matmul_compute_s", "dram_s", "allreduce", "idle_w", "power_split"]


@dataclass(frozen=True, slots=True)
class WeightMode:
    """How the GPU runs a linear layer.

    Attributes:
        name: the mode's name. weight_bits: bits per weight in DRAM.
        scale_bits_per_weight: quantization scales, amortized bits per weight.
        act_bytes: bytes per input activation element. peak: "bf16" or "int8" tensor cores.
        unpack: which calibration term prices in-register weight unpacking ("", "w4a16", "w2a8").
        bandwidth: which calibration factor scales the kernel's bandwidth ("" = 1).
        kernel: the real kernel it stands for.
    """

    name: str
    weight_bits: float
    scale_bits_per_weight: float
    act_bytes: int
    peak: str
    unpack: str
    bandwidth: str
    kernel: str


WEIGHT_MODES = {
    m.name: m for m in (
        WeightMode("fp16", 16, 0.0, 2, "bf16", "", "", "cuBLAS FP16 GEMM (W16A16)"),
        WeightMode("bf16", 16, 0.0, 2, "bf16", "", "", "cuBLAS BF16 GEMM (W16A16)"),
        WeightMode("int8", 8, 0.0, 1, "int8", "", "",
                   "INT8 tensor-core GEMM with per-channel weight and per-token activation scales in the epilogue (W8A8)"),
        WeightMode("w4a16", 4, 16 / 128, 2, "bf16", "w4a16", "",
                   "Marlin-style 4-bit weights (FP16 scale per group of 128) unpacked in registers, FP16 tensor cores"),
        WeightMode("w2a8", 2, 0.0, 1, "int8", "w2a8", "w2a8",
                   "BitNet W2A8: 2-bit ternary weights unpacked to INT8, INT8 dot products (microsoft/BitNet gpu/)"),
    )
}
"""Weight modes :func:`tritium.analysis.gpu.gpu_baseline` accepts, by name."""

TILE_ROWS = (128, 64)
"""CTA tile sizes on the long side of the output."""
TILE_COLS = (256, 128, 64, 32, 16, 8)
"""CTA tile sizes on the short side (tokens in decode)."""
_REF_REUSE = 128 * 128 / (128 + 128)
_SPLIT_K_CHUNK = 256


def tile_efficiency(rows: int, cols: int) -> float:
    """Speed of a ``rows x cols`` tile relative to a 128x128 one: operand reuse, capped at 1."""
    return min(1.0, rows * cols / (rows + cols) / _REF_REUSE)


def peak_ops(gpu: Gpu, peak: str) -> float:
    """Dense tensor peak, op/s, of ``peak`` ("bf16", "int8" or "fp32" = TF32 at half the BF16 rate)."""
    return {"bf16": gpu.bf16_tflops, "int8": gpu.int8_tops, "fp32": gpu.bf16_tflops / 2}[peak] * 1e12


def cuda_core_s(gpu: Gpu, cal: Calibration, instructions: float) -> float:
    """Time of ``instructions`` CUDA-core instruction slots (one FMA = one slot = 2 FP32 FLOP)."""
    return instructions * 2.0 / (gpu.fp32_tflops * 1e12 * cal.cuda_core_efficiency)


@functools.lru_cache(maxsize=8192)
def matmul_compute_s(gpu: Gpu, cal: Calibration, m: int, k: int, n: int, peak: float, groups: int = 1) -> float:
    """Compute-side time of ``groups`` independent ``m x k x n`` matmuls at tensor peak ``peak`` (op/s)."""
    if m <= 0 or k <= 0 or n <= 0:
        return 0.0
    per_sm = peak * cal.gemm_efficiency / gpu.sms
    long_side, short_side = max(m, n), min(m, n)
    best = math.inf
    for rows in TILE_ROWS:
        for cols in TILE_COLS:
            tiles = math.ceil(long_side / rows) * math.ceil(short_side / cols) * groups
            split = 1
            if tiles < gpu.sms:
                split = max(1, min(gpu.sms // tiles, k // _SPLIT_K_CHUNK))
            waves = math.ceil(tiles * split / gpu.sms)
            seconds = waves * 2.0 * rows * cols * math.ceil(k / split) / (per_sm * tile_efficiency(rows, cols))
            best = min(best, seconds)
    return best


def dram_s(gpu: Gpu, cal: Calibration, nbytes: float, factor: float = 1.0) -> float:
    """Time to stream ``nbytes`` through DRAM at ``factor`` of the calibrated bandwidth."""
    return nbytes / (gpu.peak_bandwidth_bytes_s * cal.bandwidth_efficiency * factor)


def allreduce(gpu: Gpu, cal: Calibration, nbytes: float, gpus: int) -> tuple[float, float]:
    """(seconds, bytes each GPU sends) of a ring all-reduce of ``nbytes`` over ``gpus`` GPUs."""
    if gpus <= 1 or nbytes <= 0:
        return 0.0, 0.0
    sent = 2.0 * (gpus - 1) / gpus * nbytes
    return cal.allreduce_latency_s + sent / (gpu.interconnect_gb_s * 1e9 * cal.link_efficiency), sent


def idle_w(gpu: Gpu, cal: Calibration) -> float:
    """Idle power, W: the calibration's measured value if it has one, else the database's."""
    return cal.idle_w if cal.idle_w is not None else gpu.idle_w


def power_split(gpu: Gpu, cal: Calibration, *, seconds: float, ops: float, peak: float, dram_bytes: float,
                link_bytes: float, bandwidth_factor: float = 1.0) -> tuple[float, float, float, float]:
    """Energy of one GPU running a kernel for ``seconds``: (static, compute, memory, link) joules.

    Static = (idle + floor x (TDP - idle)) x seconds; the dynamic parts follow the
    kernel's tensor utilization ``ops / (peak x seconds)``, DRAM utilization
    ``dram_bytes / (peak bandwidth x bandwidth_factor x seconds)`` and link bits, and are
    scaled down together so the total never exceeds TDP x seconds.
    """
    if seconds <= 0:
        return 0.0, 0.0, 0.0, 0.0
    idle = idle_w(gpu, cal)
    span = max(gpu.tdp_w - idle, 0.0)
    static = (idle + cal.power_floor * span) * seconds
    u_c = ops / (peak * seconds) if peak > 0 else 0.0
    u_m = dram_bytes / (gpu.peak_bandwidth_bytes_s * bandwidth_factor * seconds)
    compute = span * cal.power_compute * u_c * seconds
    memory = span * cal.power_memory * u_m * seconds
    link = link_bytes * 8 * cal.link_pj_per_bit * 1e-12
    room = max(gpu.tdp_w * seconds - static, 0.0)
    dynamic = compute + memory + link
    if dynamic > room:
        scale = room / dynamic
        compute, memory, link = compute * scale, memory * scale, link * scale
    return static, compute, memory, link
