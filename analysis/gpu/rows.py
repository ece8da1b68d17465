"""The cost of each trace row on GPUs: the kernel a serving engine runs for it (:func:`row_costs`).

Used by :func:`tritium.analysis.gpu.gpu_baseline`, which sums the rows into a request;
:func:`gemm_kernels` lists the distinct GEMM shapes (what ``tritium gpu-bench`` times).

**Which rows run how.** ``ternary_linear`` rows and ``linear`` rows named as decoder
projections (q/k/v/o/gate/up/down_proj) run in the chosen weight mode
(:data:`~tritium.analysis.gpu.kernels.WEIGHT_MODES`); the LM head and any other
``linear`` row keep their own dtype. Outputs are BF16 (INT8 modes dequantize in the
epilogue).

**Fusion** (what vLLM does for Llama-style models):

- q/k/v and gate/up share one input and run as one merged GEMM (one launch; the
  time is shared among the rows in proportion to their output width);
- ``dequantize`` is the GEMM's epilogue: no kernel, no traffic;
- a ``residual`` followed by an ``rmsnorm`` is one fused add-norm kernel: the residual
  row carries the traffic of reading both operands and writing the sum, the norm does not
  read its input again;
- ``attn_qk``, ``softmax`` and ``attn_pv`` are one FlashAttention/paged-attention kernel:
  scores never reach DRAM; the K cache is read on the QK row, V and the output on the PV
  row, the exponentials on the softmax row (CUDA cores); decode attention is
  bandwidth-bound on the KV cache;
- ``quantize`` rows are a kernel of their own in INT8-activation modes (int8, w2a8) and
  are not run in 16-bit modes; a high-precision model's trace has none, so the first
  linear of each input group is charged one activation-quantization kernel instead;
- rope, kv_write (cache append), the GLU activation, norms and the embedding gather
  are one bandwidth-bound kernel each.

**Tensor parallelism** over ``gpus`` GPUs (Megatron style): q/k/v, gate/up and the LM
head split their outputs, o and down their inputs and end with a ring all-reduce of
their BF16 output over the GPU's interconnect (NVLink on SXM parts, PCIe otherwise);
attention splits its heads, norms and residuals are replicated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from tritium.analysis.gpu.db import Gpu
from tritium.analysis.gpu.kernels import (
    WEIGHT_MODES,
    Traffic,
    WeightMode,
    allreduce,
    cuda_core_s,
    dram_s,
    linear_step_traffic,
    mode_bandwidth_factor,
    mode_unpack_ops,
    peak_ops,
    weight_matmul,
)
from tritium.analysis.gpu.params import DEFAULT_CALIBRATION, Calibration
from tritium.base.specio import check_choice, check_int
from tritium.workloads.models import PROJECTIONS
from tritium.workloads.trace import DTYPE_BYTES
from tritium.workloads.trace_record import Trace

__all__ = ["VECTOR_OPS_PER_ELEMENT", "GEMM_KINDS", "RowCost", "Context", "GemmKernel", "row_costs", "gemm_kernels",
           "mapped"]

VECTOR_OPS_PER_ELEMENT = {
    "rmsnorm": 4, "residual": 1, "activation": 10, "rope": 4, "quantize": 4, "dequantize": 2,
    "kv_write": 0, "embedding": 0,
}
"""[E] CUDA-core instruction slots per element of each vector kind (an exp counts 8)."""

_SIBLINGS = {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv", "gate_proj": "gate_up", "up_proj": "gate_up"}
_ROW_PARALLEL = ("o_proj", "down_proj")
_SPLIT_QUANT = ("o_quant", "down_quant")  # quantize rows feeding a row-parallel linear
GEMM_KINDS = ("ternary_linear", "linear")
_ATTENTION_KINDS = ("attn_qk", "softmax", "attn_pv")
_OUT_BYTES = 2  # BF16 outputs
_GEMV_SLOTS = {"bf16": 0.5, "fp16": 0.5, "fp32": 1.0}  # cuBLAS GEMV: HFMA2 does 2 MACs a slot, FFMA 1


@dataclass(frozen=True, slots=True)
class RowCost:
    """One row's cost on one GPU, totals over its steps."""

    unit: str
    path: str = ""  # a weight matmul's path: "gemv", "stream" or "tiled" (kernels.weight_matmul)
    compute_s: float = 0.0
    memory_s: float = 0.0
    overhead_s: float = 0.0
    link_s: float = 0.0
    ops: float = 0.0  # tensor (or CUDA-core) operations
    peak: float = 0.0  # the op/s those ops are measured against (0: no tensor work)
    traffic: Traffic = Traffic()  # DRAM bytes by access pattern
    link_bytes: float = 0.0
    efficiency: float = 1.0  # the kernel's efficiency beyond the DRAM's sustained share
    measured_w: float | None = None  # board power gpu-bench measured for this kernel

    @property
    def seconds(self) -> float:
        return max(self.compute_s, self.memory_s) + self.overhead_s + self.link_s

    @property
    def dram_bytes(self) -> float:
        return self.traffic.total


@dataclass(frozen=True, slots=True)
class Context:
    gpu: Gpu
    cal: Calibration
    mode: WeightMode
    gpus: int
    trace_quantizes: bool  # the trace has quantize rows of its own

    def per_launch(self, phase: str) -> float:
        graph = phase == "decode" and self.cal.cuda_graphs
        launch = self.cal.graph_launch_overhead_s if graph else self.cal.launch_overhead_s
        return launch + self.cal.kernel_latency_s


_ROW_FIELDS = ["block", "phase", "steps", "layer", "op", "kind", "m", "k", "n", "groups", "weight_dtype", "macs",
               "elements", "weight_bytes", "act_in_bytes", "act_out_bytes", "kv_read_bytes", "kv_write_bytes"]


def records(trace: pd.DataFrame) -> list[dict]:
    """The rows as dicts of the columns the model reads (all columns cost 3x the time)."""
    return trace[_ROW_FIELDS].to_dict("records")


def row_costs(ctx: Context, trace: pd.DataFrame) -> list[RowCost]:
    rows = records(trace)
    costs: list[RowCost | None] = [None] * len(rows)
    for members in gemm_groups(trace):
        for i, cost in zip(members, gemm_group(ctx, [rows[i] for i in members])):
            costs[i] = cost
    for i, row in enumerate(rows):
        if costs[i] is not None:
            continue
        prev_kind = rows[i - 1]["kind"] if i > 0 and rows[i - 1]["block"] == row["block"] else ""
        next_kind = rows[i + 1]["kind"] if i + 1 < len(rows) and rows[i + 1]["block"] == row["block"] else ""
        if row["kind"] in _ATTENTION_KINDS:
            costs[i] = _attention(ctx, row)
        else:
            costs[i] = _vector(ctx, row, after_residual=prev_kind == "residual", before_norm=next_kind == "rmsnorm",
                               after_norm=prev_kind == "rmsnorm")
    return costs  # type: ignore[return-value]


def mapped(row: dict) -> bool:
    return row["kind"] == "ternary_linear" or row["op"] in PROJECTIONS


@dataclass(frozen=True, slots=True)
class GemmKernel:
    """One GEMM kernel the GPU runs for a group of trace rows sharing an input.

    Attributes:
        phase: "prefill" or "decode". m, k, n: the shape on one GPU (merged q/k/v and
            gate/up widths summed; split by tensor parallelism). weights: the kernel's
            weight type (a weight mode name, or the row's own dtype for rows outside the
            mode, e.g. the LM head). steps: how many times it runs in the request.
    """

    phase: str
    m: int
    k: int
    n: int
    weights: str
    steps: int


def kernel_of(ctx: Context, rows: list[dict]) -> tuple[GemmKernel, bool, WeightMode | None]:
    first = rows[0]
    g = ctx.gpus
    total_n = sum(r["n"] for r in rows)
    row_parallel = first["op"] in _ROW_PARALLEL
    k_loc, n_loc = (math.ceil(first["k"] / g), total_n) if row_parallel else (first["k"], math.ceil(total_n / g))
    mode = ctx.mode if mapped(first) else None
    label = mode.name if mode is not None else first["weight_dtype"]
    kernel = GemmKernel(first["phase"], int(first["m"]), int(k_loc), int(n_loc), label, int(first["steps"]))
    return kernel, row_parallel, mode


def gemm_groups(trace: pd.DataFrame) -> list[list[int]]:
    """Row indices of each GEMM kernel, in trace order (q/k/v and gate/up merged)."""
    groups: dict[tuple, list[int]] = {}
    for i, (kind, block, layer, op) in enumerate(zip(trace.kind, trace.block, trace.layer, trace.op)):
        if kind in GEMM_KINDS:
            groups.setdefault((block, layer, _SIBLINGS.get(op, f"#{i}")), []).append(i)
    return list(groups.values())


def gemm_kernels(trace: Trace | pd.DataFrame, *, weights: str = "bf16", gpus: int = 1) -> list[GemmKernel]:
    """The distinct GEMM kernels :func:`gpu_baseline` runs for ``trace``, in first-use order.

    These are the shapes ``tritium gpu-bench`` times: a measured time for one of them
    replaces the model's time of that kernel.
    """
    check_choice("weights", weights, WEIGHT_MODES)
    check_int("gpus", gpus, lo=1, hi=64)
    trace = Trace.of(trace).table
    # shapes need no GPU: kernel_of reads only the weight mode and the GPU count
    ctx = Context(None, DEFAULT_CALIBRATION, WEIGHT_MODES[weights], gpus, False)  # type: ignore[arg-type]
    rows = records(trace)
    seen: dict[tuple, GemmKernel] = {}
    for members in gemm_groups(trace):
        kernel = kernel_of(ctx, [rows[i] for i in members])[0]
        key = (kernel.phase, kernel.m, kernel.k, kernel.n, kernel.weights)
        if key in seen:
            kernel = replace(kernel, steps=seen[key].steps + kernel.steps)
        seen[key] = kernel
    return list(seen.values())


def gemm_group(ctx: Context, rows: list[dict]) -> list[RowCost]:
    """One (merged) GEMM kernel for rows sharing an input; its cost shared by output width."""
    gpu, cal, g = ctx.gpu, ctx.cal, ctx.gpus
    kernel, row_parallel, mode = kernel_of(ctx, rows)
    first = rows[0]
    m, k_loc, n_loc, label = kernel.m, kernel.k, kernel.n, kernel.weights
    steps, phase = first["steps"], first["phase"]
    widths = [r["n"] for r in rows]
    total_n = sum(widths)
    if mode is not None:
        step = linear_step_traffic(mode, m, k_loc, n_loc)
        peak = peak_ops(gpu, mode.peak)
        gemv_slots = mode.gemv_slots_per_mac
    else:
        size = DTYPE_BYTES.get(first["weight_dtype"], 2)
        step = Traffic(stream=k_loc * n_loc * size, mixed=m * k_loc * size + m * n_loc * size)
        peak = peak_ops(gpu, {"int8": "int8", "fp32": "fp32"}.get(first["weight_dtype"], "bf16"))
        gemv_slots = _GEMV_SLOTS.get(first["weight_dtype"], 0.0)
    factor = mode_bandwidth_factor(cal, mode)
    timed = weight_matmul(gpu, cal, m, k_loc, n_loc, peak=peak, traffic=step, factor=factor,
                          unpack_ops=mode_unpack_ops(cal, mode), gemv_slots_per_mac=gemv_slots)
    compute, memory = timed.compute_s, timed.memory_s
    measured = cal.measured(gpu.name, label, m, k_loc, n_loc)
    if measured is not None:  # a timing from gpu-bench replaces the model's kernel time
        scale = measured.seconds / max(compute, memory)
        compute, memory = compute * scale, memory * scale
    overhead = ctx.per_launch(phase)
    quant = Traffic()
    if mode is not None and mode.act_bytes == 1 and not ctx.trace_quantizes:
        quant = Traffic(mixed=m * k_loc * 3.0)  # read the BF16 input, write INT8
        overhead += ctx.per_launch(phase) + dram_s(gpu, quant, cal.copy_kernel_efficiency)
    link_s, link_bytes = allreduce(gpu, cal, m * n_loc * _OUT_BYTES, g) if row_parallel else (0.0, 0.0)
    out = []
    for i, (row, n) in enumerate(zip(rows, widths)):
        share = n / total_n
        out.append(RowCost(
            unit="cuda" if timed.path == "gemv" else "tensor", path=timed.path, compute_s=steps * compute * share, memory_s=steps * memory * share,
            overhead_s=steps * overhead if i == 0 else 0.0, link_s=steps * link_s * share,
            ops=2.0 * m * k_loc * n_loc * share * steps, peak=peak,
            traffic=_plus(step.scaled(steps * share), quant.scaled(steps if i == 0 else 0.0)),
            link_bytes=steps * link_bytes * share, efficiency=factor,
            measured_w=measured.watts if measured is not None else None,
        ))
    return out


def _plus(a: Traffic, b: Traffic) -> Traffic:
    return Traffic(a.stream + b.stream, a.kv + b.kv, a.mixed + b.mixed)


def _attention(ctx: Context, row: dict) -> RowCost:
    """Fused attention: QK reads Q and the K cache, PV reads V and writes O, softmax on CUDA cores.

    The KV cache moves at the DRAM's ``kv`` share, Q and O at its ``mixed`` share."""
    gpu, cal = ctx.gpu, ctx.cal
    share = math.ceil(row["groups"] / ctx.gpus) / row["groups"]
    if row["kind"] == "softmax":
        return RowCost(unit="fused", compute_s=cuda_core_s(gpu, cal, row["elements"] * share * cal.softmax_ops_per_element))
    peak = peak_ops(gpu, "bf16")
    ops = 2.0 * row["macs"] * share
    if row["kind"] == "attn_qk":
        act, overhead = row["act_in_bytes"], row["steps"] * ctx.per_launch(row["phase"])
    else:
        act, overhead = row["act_out_bytes"], 0.0
    traffic = Traffic(kv=row["kv_read_bytes"] * share, mixed=act * share)
    memory = dram_s(gpu, traffic, cal.attention_kernel_efficiency)
    return RowCost(unit="tensor", compute_s=ops / (peak * cal.attention_efficiency), memory_s=memory,
                 overhead_s=overhead, ops=ops, peak=peak, traffic=traffic,
                 efficiency=cal.attention_kernel_efficiency)


def _vector(ctx: Context, row: dict, *, after_residual: bool, before_norm: bool, after_norm: bool = False) -> RowCost:
    """Element-wise and row-wise kernels: bandwidth-bound, one launch each unless fused.

    Activations move at the DRAM's ``mixed`` share, KV appends and embedding rows at its
    ``kv`` share (as the chip's), at ``copy_kernel_efficiency`` of that.

    A quantize right after an RMSNorm is that norm's epilogue (vLLM's fused RMSNorm +
    dynamic per-token INT8 quant kernel): no launch, no re-read, only its INT8 output.
    """
    gpu, cal, kind = ctx.gpu, ctx.cal, row["kind"]
    if kind == "dequantize":
        return RowCost(unit="fused")
    if kind == "quantize" and ctx.mode.act_bytes != 1:
        return RowCost(unit="skipped")
    split = kind in ("rope", "kv_write") or row["op"] in _SPLIT_QUANT
    share = 1.0 / ctx.gpus if split else 1.0
    norm_quant = kind == "quantize" and after_norm
    reads = 0 if (kind == "rmsnorm" and after_residual) or norm_quant else row["act_in_bytes"]
    rows_gathered = row["weight_bytes"] if kind == "embedding" else 0.0
    traffic = Traffic(stream=(row["weight_bytes"] - rows_gathered) * share,
                      kv=(row["kv_write_bytes"] + rows_gathered) * share,
                      mixed=(reads + row["act_out_bytes"]) * share)
    fused = (kind == "residual" and before_norm) or norm_quant
    overhead = 0.0 if fused else row["steps"] * ctx.per_launch(row["phase"])
    compute = cuda_core_s(gpu, cal, row["elements"] * share * VECTOR_OPS_PER_ELEMENT.get(kind, 1))
    return RowCost(unit="fused" if fused else "cuda", compute_s=compute,
                 memory_s=dram_s(gpu, traffic, cal.copy_kernel_efficiency), overhead_s=overhead, traffic=traffic,
                 efficiency=cal.copy_kernel_efficiency)

