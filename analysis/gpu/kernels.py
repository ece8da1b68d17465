"""Pure cost functions of single GPU kernels: matmul tiles and waves, streams, all-reduce, power.

Everything here is a function of (GPU, calibration, shape); :mod:`tritium.analysis.gpu.model`
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

**Weight matmuls at small M** (decode) run what the named kernels run, and a matmul
takes the fastest of the paths its weight mode has (:func:`weight_matmul`):

- ``gemv`` (M = 1, CUDA cores): cuBLAS's GEMV for 16-bit weights (one HFMA2 slot per 2
  MACs), BitNet's ``ladder_int8xint2_kernel`` for W2A8 (``dp4a``: a slot per 4 MACs, plus
  the unpack). Dot products overlap the weight stream.
- ``stream`` (M <= 128, tensor cores): Marlin's design (Frantar et al., arXiv:2408.11743):
  tokens padded to blocks of 16, weights streamed once with asynchronous copies, unpacking
  (once per 64 tokens) overlapped with both the stream and the MMAs, so time = max(stream,
  MMA, unpack). Marlin was benchmarked at batch 1-128; beyond that the tiled path runs.
- ``tiled``: the wave-quantized tile model below, unpacking paid on top (not overlapped).

The crossover batch (:func:`crossover_batch`) is the smallest M whose fastest path is
compute-bound; with the same numbers it lands near the roofline ridge, peak op/s over
bandwidth times bytes per weight / 2 (Marlin's README: on GPUs of 100-200 FLOP per byte,
4-bit weights stay memory-bound below 25-50 MACs per weight).

**DRAM time** (:func:`dram_s`): each kernel's compulsory traffic (each weight, input and
output byte once; re-reads hit L2) is split by access pattern as the chip's is
(:class:`Traffic`: weights ``stream``, KV-cache reads and embedding rows ``kv``,
activations and copies ``mixed``), and each pattern's bytes move at peak x the share
the GPU's DRAM type sustains for it (:func:`tritium.sim.dram.sustained_bandwidth_fraction`
of ``gpu.memory_type``: refresh, row misses, read/write turnaround, the same model the
chip pays) x the kernel's efficiency beyond the DRAM (``copy_kernel_efficiency``,
``attention_kernel_efficiency``, or for a weight matmul ``matmul_kernel_efficiency`` times
its mode's factor: W2A8, W4A16, W8A8).

**Power** of one kernel = idle + (TDP - idle) x min(1, floor + c x u_c + p x u_m) + the
DRAM devices' dynamic power, all capped at TDP. u_c is its tensor utilization and u_m its
DRAM bandwidth utilization over its whole time, measured against the bandwidth that
kernel can reach (peak x sustained share x kernel efficiency): a paged-attention or W2A8
kernel that streams slower than a plain GEMV because its SMs are busy gathering or
unpacking is not idling ([E]; with u_m against the bare peak the batch-64 ML.ENERGY
energy came out 15% low, see ``analysis/gpu/CALIBRATION.md``); p (``power_memory_path``) prices
the GPU's own memory path (load/store, L2, crossbar, controllers, PHY). The DRAM devices
cost the DRAM model's pJ/bit per pattern (:func:`tritium.sim.dram.effective_pj_per_bit`:
activations, core access, I/O; :func:`dram_pj`); their background and refresh power
stays inside the GPU's measured idle power, which is read with the memory powered.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from tritium.analysis.gpu.db import Gpu
from tritium.analysis.gpu.params import Calibration
from tritium.sim.dram import dram_energy_j, dram_params, effective_pj_per_bit, sustained_bandwidth_fraction

__all__ = ["WeightMode", "WEIGHT_MODES", "TILE_ROWS", "TILE_COLS", "STREAM_BLOCK_M", "STREAM_MAX_M", "UNPACK_REUSE_M",
           "tile_efficiency", "peak_ops", "cuda_core_s", "matmul_compute_s", "Traffic", "GPU_PATTERNS",
           "dram_fraction", "sustained_share", "dram_s", "dram_pj", "dram_summary", "KernelEnergy",
           "linear_step_traffic", "MatmulTime", "weight_matmul",
           "mode_bandwidth_factor", "mode_unpack_ops", "linear_step_bytes", "crossover_batch", "allreduce", "idle_w",
           "power_split"]


@dataclass(frozen=True, slots=True)
class WeightMode:
    """How the GPU runs a linear layer.

    Attributes:
        name: the mode's name. weight_bits: bits per weight in DRAM.
        scale_bits_per_weight: quantization scales, amortized bits per weight.
        act_bytes: bytes per input activation element. peak: "bf16" or "int8" tensor cores.
        unpack: which calibration term prices in-register weight unpacking ("", "w4a16", "w2a8").
        bandwidth: which calibration factor scales the kernel's bandwidth beyond
            ``matmul_kernel_efficiency`` ("", "int8", "w4a16", "w2a8"; "" = 1).
        gemv_slots_per_mac: CUDA-core instruction slots per MAC of its M = 1 GEMV kernel
            (0: the mode has none and runs tensor cores at M = 1, as Marlin does).
        kernel: the real kernel it stands for.
    """

    name: str
    weight_bits: float
    scale_bits_per_weight: float
    act_bytes: int
    peak: str
    unpack: str
    bandwidth: str
    gemv_slots_per_mac: float
    kernel: str


WEIGHT_MODES = {
    m.name: m for m in (
        WeightMode("fp16", 16, 0.0, 2, "bf16", "", "", 0.5, "cuBLAS FP16 GEMV at M = 1, GEMM above (W16A16)"),
        WeightMode("bf16", 16, 0.0, 2, "bf16", "", "", 0.5, "cuBLAS BF16 GEMV at M = 1, GEMM above (W16A16)"),
        WeightMode("int8", 8, 0.0, 1, "int8", "", "int8", 0.0,
                   "INT8 tensor-core GEMM with per-channel weight and per-token activation scales in the epilogue (W8A8)"),
        WeightMode("w4a16", 4, 16 / 128, 2, "bf16", "w4a16", "w4a16", 0.0,
                   "Marlin W4A16: 4-bit weights (FP16 scale per group of 128) unpacked in registers, overlapped with "
                   "the weight stream and FP16 tensor cores (IST-DASLab/marlin)"),
        WeightMode("w2a8", 2, 0.0, 1, "int8", "w2a8", "w2a8", 0.25,
                   "BitNet W2A8: 2-bit ternary weights unpacked to INT8, dp4a dot products at M = 1 "
                   "(microsoft/BitNet gpu/), INT8 tensor cores above"),
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


GPU_PATTERNS = ("stream", "kv", "mixed")
"""The :data:`tritium.sim.dram.PATTERNS` a GPU kernel's traffic is split into (as the chip's)."""


@dataclass(frozen=True, slots=True)
class Traffic:
    """DRAM bytes of one kernel call by access pattern (names of :data:`tritium.sim.dram.PATTERNS`).

    Attributes:
        stream: weights streamed in order. kv: KV-cache pages read or appended, embedding
            rows gathered. mixed: activations read and written, copies.
    """

    stream: float = 0.0
    kv: float = 0.0
    mixed: float = 0.0

    @property
    def total(self) -> float:
        """All bytes."""
        return self.stream + self.kv + self.mixed

    def items(self) -> tuple[tuple[str, float], ...]:
        """(pattern, bytes) pairs in :data:`GPU_PATTERNS` order."""
        return (("stream", self.stream), ("kv", self.kv), ("mixed", self.mixed))

    def scaled(self, k: float) -> "Traffic":
        """Every pattern's bytes times ``k``."""
        return Traffic(self.stream * k, self.kv * k, self.mixed * k)


def dram_fraction(gpu: Gpu, pattern: str) -> float:
    """Share of peak bandwidth ``gpu``'s DRAM type sustains for ``pattern`` (the DRAM model's)."""
    return sustained_bandwidth_fraction(gpu.memory_type, pattern)


def sustained_share(gpu: Gpu, traffic: Traffic) -> float:
    """Share of peak the DRAM sustains for this mix of patterns (time-weighted, as the chip's); 1 if empty."""
    total = traffic.total
    if total <= 0:
        return 1.0
    return total / sum(b / dram_fraction(gpu, p) for p, b in traffic.items() if b)


def dram_s(gpu: Gpu, traffic: Traffic, efficiency: float) -> float:
    """Time to move ``traffic``: each pattern's bytes over peak x its sustained share x ``efficiency``
    (the kernel's own efficiency beyond the DRAM's, a ``*_kernel_efficiency`` of the calibration)."""
    return sum(b / dram_fraction(gpu, p) for p, b in traffic.items() if b) / (gpu.peak_bandwidth_bytes_s * efficiency)


def dram_pj(gpu: Gpu, traffic: Traffic) -> float:
    """Dynamic energy of the DRAM devices for ``traffic``, pJ: the DRAM model's pJ/bit per pattern
    (activation, core access and I/O; :func:`tritium.sim.dram.effective_pj_per_bit`)."""
    return sum(b * 8 * effective_pj_per_bit(gpu.memory_type, p) for p, b in traffic.items() if b)


STREAM_BLOCK_M = 16
"""Tokens per tensor-core block on the streaming path (Marlin pads the batch to blocks of 16)."""
STREAM_MAX_M = 128
"""Largest M the streaming path runs (Marlin's published benchmarks span batch 1-128)."""
UNPACK_REUSE_M = 64
"""Tokens one unpacked weight serves on the streaming path (Marlin: up to 4 blocks of 16)."""


@dataclass(frozen=True, slots=True)
class MatmulTime:
    """One weight matmul call: the path that ran ("gemv", "stream" or "tiled") and its two sides, s."""

    path: str
    compute_s: float
    memory_s: float

    @property
    def seconds(self) -> float:
        return max(self.compute_s, self.memory_s)

    @property
    def compute_bound(self) -> bool:
        return self.compute_s > self.memory_s


def mode_bandwidth_factor(cal: Calibration, mode: WeightMode | None) -> float:
    """The efficiency beyond the DRAM's sustained share a matmul in ``mode`` streams at (None: a plain
    16-bit one): ``matmul_kernel_efficiency`` times the mode's factor."""
    extra = {"": 1.0, "int8": cal.int8_bandwidth_factor, "w4a16": cal.w4a16_bandwidth_factor,
             "w2a8": cal.w2a8_bandwidth_factor}[mode.bandwidth if mode is not None else ""]
    return cal.matmul_kernel_efficiency * extra


def mode_unpack_ops(cal: Calibration, mode: WeightMode | None) -> float:
    """CUDA-core slots to unpack one weight in ``mode`` (0 for modes that read weights as stored)."""
    unpack = mode.unpack if mode is not None else ""
    return {"": 0.0, "w4a16": cal.w4a16_dequant_ops_per_weight, "w2a8": cal.w2a8_unpack_ops_per_weight}[unpack]


def linear_step_bytes(mode: WeightMode, m: int, k: int, n: int) -> float:
    """DRAM bytes of one ``m x k x n`` linear in ``mode``: weights (with scales), inputs, BF16 outputs."""
    return linear_step_traffic(mode, m, k, n).total


def linear_step_traffic(mode: WeightMode, m: int, k: int, n: int) -> Traffic:
    """:func:`linear_step_bytes` by pattern: weights (with scales) ``stream``, inputs and outputs ``mixed``."""
    return Traffic(stream=k * n * (mode.weight_bits + mode.scale_bits_per_weight) / 8,
                   mixed=m * k * mode.act_bytes + m * n * 2)


def weight_matmul(gpu: Gpu, cal: Calibration, m: int, k: int, n: int, *, peak: float, traffic: Traffic,
                  factor: float, unpack_ops: float = 0.0, gemv_slots_per_mac: float = 0.0) -> MatmulTime:
    """The fastest path of one ``m x k x n`` matmul moving ``traffic`` (see the module docstring).

    Args:
        peak: tensor peak of the mode, op/s. traffic: its DRAM bytes by pattern
            (:func:`linear_step_traffic`). factor: its efficiency beyond the DRAM's sustained
            share (:func:`mode_bandwidth_factor`). unpack_ops: CUDA-core slots per weight to
            unpack it. gemv_slots_per_mac: slots per MAC of the mode's M = 1 GEMV kernel (0: none).
    """
    memory = dram_s(gpu, traffic, factor)
    paths = []
    if m == 1 and gemv_slots_per_mac > 0:
        paths.append(MatmulTime("gemv", cuda_core_s(gpu, cal, k * n * (gemv_slots_per_mac + unpack_ops)), memory))
    if m <= STREAM_MAX_M:
        mma = 2.0 * math.ceil(m / STREAM_BLOCK_M) * STREAM_BLOCK_M * k * n / (peak * cal.gemm_efficiency)
        unpack = cuda_core_s(gpu, cal, math.ceil(m / UNPACK_REUSE_M) * k * n * unpack_ops)
        paths.append(MatmulTime("stream", max(mma, unpack), memory))
    tiled = matmul_compute_s(gpu, cal, m, k, n, peak) + cuda_core_s(gpu, cal, math.ceil(m / 128) * k * n * unpack_ops)
    paths.append(MatmulTime("tiled", tiled, memory))
    return min(paths, key=lambda t: t.seconds)  # the first of equals: the kernel named for that M


def crossover_batch(gpu: Gpu, cal: Calibration, mode: WeightMode, k: int, n: int, *, limit: int = 4096) -> int:
    """The smallest M at which a ``k x n`` linear in ``mode`` is compute-bound (``limit`` if none is)."""
    peak = peak_ops(gpu, mode.peak)
    factor = mode_bandwidth_factor(cal, mode)
    unpack = mode_unpack_ops(cal, mode)
    for m in range(1, limit + 1):
        t = weight_matmul(gpu, cal, m, k, n, peak=peak, traffic=linear_step_traffic(mode, m, k, n), factor=factor,
                          unpack_ops=unpack, gemv_slots_per_mac=mode.gemv_slots_per_mac)
        if t.compute_bound:
            return m
    return limit


def allreduce(gpu: Gpu, cal: Calibration, nbytes: float, gpus: int) -> tuple[float, float]:
    """(seconds, bytes each GPU sends) of a ring all-reduce of ``nbytes`` over ``gpus`` GPUs."""
    if gpus <= 1 or nbytes <= 0:
        return 0.0, 0.0
    sent = 2.0 * (gpus - 1) / gpus * nbytes
    return cal.allreduce_latency_s + sent / (gpu.interconnect_gb_s * 1e9 * cal.link_efficiency), sent


def idle_w(gpu: Gpu, cal: Calibration) -> float:
    """Idle power, W: the calibration's measured value if it has one, else the database's."""
    return cal.idle_w if cal.idle_w is not None else gpu.idle_w


@dataclass(frozen=True, slots=True)
class KernelEnergy:
    """Energy of one GPU running one kernel, J.

    Attributes:
        static_j: idle plus the busy floor over the kernel's time. compute_j: tensor or
            CUDA cores. dram_j: the DRAM devices (the DRAM model's pJ/bit per pattern).
        memory_path_j: the GPU's own memory path (load/store, L2, crossbar, controllers,
            PHY). link_j: the chip-to-chip link.
    """

    static_j: float = 0.0
    compute_j: float = 0.0
    dram_j: float = 0.0
    memory_path_j: float = 0.0
    link_j: float = 0.0

    @property
    def total_j(self) -> float:
        return self.static_j + self.compute_j + self.dram_j + self.memory_path_j + self.link_j


def power_split(gpu: Gpu, cal: Calibration, *, seconds: float, ops: float, peak: float, traffic: Traffic,
                link_bytes: float, efficiency: float = 1.0) -> KernelEnergy:
    """Energy of one GPU running a kernel for ``seconds`` (see the module docstring).

    Static = (idle + floor x (TDP - idle)) x seconds; the dynamic parts follow the
    kernel's tensor utilization ``ops / (peak x seconds)``, its DRAM utilization
    ``traffic / (what it can reach x seconds)`` (reach = peak x :func:`sustained_share` x
    ``efficiency``), the DRAM model's pJ/bit (:func:`dram_pj`) and link bits, and are
    scaled down together so the total never exceeds TDP x seconds.
    """
    if seconds <= 0:
        return KernelEnergy()
    idle = idle_w(gpu, cal)
    span = max(gpu.tdp_w - idle, 0.0)
    static = (idle + cal.power_floor * span) * seconds
    u_c = ops / (peak * seconds) if peak > 0 else 0.0
    reach = gpu.peak_bandwidth_bytes_s * sustained_share(gpu, traffic) * efficiency
    u_m = traffic.total / (reach * seconds)
    compute = span * cal.power_compute * u_c * seconds
    path = span * cal.power_memory_path * u_m * seconds
    dram = dram_pj(gpu, traffic) * 1e-12
    link = link_bytes * 8 * cal.link_pj_per_bit * 1e-12
    room = max(gpu.tdp_w * seconds - static, 0.0)
    dynamic = compute + dram + path + link
    if dynamic > room:
        scale = room / dynamic
        compute, dram, path, link = compute * scale, dram * scale, path * scale, link * scale
    return KernelEnergy(static, compute, dram, path, link)


def dram_summary(gpu: Gpu, cal: Calibration) -> dict[str, float]:
    """What the GPU's DRAM gives each kernel class, from :mod:`tritium.sim.dram` and ``cal``.

    Returns ``{pattern}_fraction`` (share of peak the DRAM type sustains for "stream", "kv",
    "mixed"), ``{pattern}_pj_per_bit`` (the DRAM devices' dynamic energy), ``matmul_share``,
    ``attention_share``, ``copy_share`` (share of peak a BF16 weight stream, the KV reads of
    attention and a copy reach: sustained fraction x kernel efficiency) and
    ``background_w`` (the DRAM model's standby and refresh power for this card's DRAM, counted
    inside its idle power, not added).
    """
    out = {}
    for p in ("stream", "kv", "mixed"):
        out[f"{p}_fraction"] = dram_fraction(gpu, p)
        out[f"{p}_pj_per_bit"] = effective_pj_per_bit(gpu.memory_type, p)
    out["matmul_share"] = out["stream_fraction"] * cal.matmul_kernel_efficiency
    out["attention_share"] = out["kv_fraction"] * cal.attention_kernel_efficiency
    out["copy_share"] = out["mixed_fraction"] * cal.copy_kernel_efficiency
    units = gpu.memory_bandwidth_gb_s / dram_params(gpu.memory_type).unit_gb_s
    one = dram_energy_j(gpu.memory_type, 0.0, 0.0, 1.0, 1, capacity_gib=gpu.mem_gb * 1e9 / 2**30)
    out["background_w"] = one["background"] * units + one["refresh"]
    return out
