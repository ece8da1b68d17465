"""``gpu_baseline(gpu, trace) -> SimResult``: one request on GPUs running the same layers as matmuls.

Each trace row becomes the kernel a serving engine (vLLM on one CUDA stream) would run,
timed with :mod:`tritium.analysis.gpu.kernels`: time = max(compute, DRAM) + launch
overhead + kernel latency (+ all-reduce). Kernels run back to back, so a phase takes
the sum of its rows (plus ``step_overhead_s`` per forward pass).

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

**DRAM.** Each kernel's traffic is split by access pattern as the chip's is (weights
``stream``; KV-cache reads and appends and embedding rows ``kv``; activations ``mixed``)
and moves at the share of peak the GPU's DRAM type sustains for that pattern
(:mod:`tritium.sim.dram`, the chip's model) times the kernel's fitted efficiency beyond it;
the DRAM devices cost that model's pJ/bit per pattern. Their background and refresh power
is inside the GPU's measured idle power (``dram_background_j`` is NaN: not counted twice).

**Columns.** ``seconds`` is wall time; ``cycles`` = seconds x boost clock;
``compute_cycles``, ``dram_cycles`` and ``link_cycles`` are each side alone;
``sram_cycles`` = 0 (on-chip traffic is inside the fitted efficiencies). ``bound`` is the
largest of compute, dram, launch (launch + latency overhead) and link. ``unit`` is
"tensor", "cuda" (CUDA cores), "fused" (no kernel of its own) or "skipped". Bytes and
energies are totals over all ``gpus``. Energy, by the same components as the chip's
(:data:`tritium.sim.result.ENERGY_COMPONENTS`, sorted by the same rule,
:func:`~tritium.sim.result.component_of`): the compute part of each kernel's dynamic power
goes to ``energy_linear_j`` for GEMM rows, ``energy_attention_j`` for attention rows and
``energy_vector_j`` for the rest; the DRAM devices (the DRAM model's pJ/bit) to
``energy_dram_j``; the GPU's own memory path (load/store, L2, crossbar, controllers, PHY:
``power_memory_path``) to ``energy_memory_path_j``; the link to ``energy_link_j``; idle plus
the busy floor is ``energy_static_j`` in the totals (per-op ``energy_j`` excludes it, as in
:func:`tritium.sim.simulate`). What only a ternary chip has (the seed's arithmetic ratios) is
None in the totals (``Totals.arithmetic``), as are the supply voltage, on-die SRAM bytes
(inside the fitted efficiencies) and the DRAM background (inside the idle power).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from tritium.analysis.gpu.db import Gpu, load_gpu
from tritium.analysis.gpu.kernels import (
    WEIGHT_MODES,
    Traffic,
    WeightMode,
    allreduce,
    cuda_core_s,
    dram_s,
    dram_summary,
    idle_w,
    linear_step_traffic,
    mode_bandwidth_factor,
    mode_unpack_ops,
    KernelEnergy,
    peak_ops,
    power_split,
    weight_matmul,
)
from tritium.analysis.gpu.params import DEFAULT_CALIBRATION, Calibration, engine_of, with_engine
from tritium.sim.memory import MemoryNeed, memory_needed
from tritium.base.errors import SpecError, TritiumError
from tritium.sim.result import ENERGY_COMPONENTS, Energy, SimResult, Totals, component_of, request_totals
from tritium.base.specio import check_choice, check_int
from tritium.workloads.models import PROJECTIONS
from tritium.workloads.trace import DTYPE_BYTES
from tritium.workloads.trace_record import Trace

__all__ = ["gpu_baseline", "gemm_kernels", "GemmKernel", "VECTOR_OPS_PER_ELEMENT", "RUNTIME_RESERVE_FRACTION"]

VECTOR_OPS_PER_ELEMENT = {
    "rmsnorm": 4, "residual": 1, "activation": 10, "rope": 4, "quantize": 4, "dequantize": 2,
    "kv_write": 0, "embedding": 0,
}
"""[E] CUDA-core instruction slots per element of each vector kind (an exp counts 8)."""

_SIBLINGS = {"q_proj": "qkv", "k_proj": "qkv", "v_proj": "qkv", "gate_proj": "gate_up", "up_proj": "gate_up"}
_ROW_PARALLEL = ("o_proj", "down_proj")
_SPLIT_QUANT = ("o_quant", "down_quant")  # quantize rows feeding a row-parallel linear
_GEMM_KINDS = ("ternary_linear", "linear")
_ATTENTION_KINDS = ("attn_qk", "softmax", "attn_pv")
_OUT_BYTES = 2  # BF16 outputs
_GEMV_SLOTS = {"bf16": 0.5, "fp16": 0.5, "fp32": 1.0}  # cuBLAS GEMV: HFMA2 does 2 MACs a slot, FFMA 1


@dataclass(frozen=True, slots=True)
class _Cost:
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
class _Context:
    gpu: Gpu
    cal: Calibration
    mode: WeightMode
    gpus: int
    trace_quantizes: bool  # the trace has quantize rows of its own

    def per_launch(self, phase: str) -> float:
        graph = phase == "decode" and self.cal.cuda_graphs
        launch = self.cal.graph_launch_overhead_s if graph else self.cal.launch_overhead_s
        return launch + self.cal.kernel_latency_s


def gpu_baseline(
    gpu: Gpu | str | os.PathLike,
    trace: Trace | pd.DataFrame,
    *,
    weights: str = "fp16",
    gpus: int = 1,
    calibration: Calibration | None = None,
    engine: str | None = None,
) -> SimResult:
    """Time, energy and area of ``trace`` on ``gpus`` GPUs of kind ``gpu``, as a :class:`SimResult`.

    Args:
        gpu: a :class:`Gpu`, a database name or alias, or a GPU TOML file.
        trace: a :class:`~tritium.workloads.Trace` (:func:`tritium.workloads.trace`), or a trace
            table with its metadata in ``attrs`` (read once by ``Trace.from_table``).
        weights: how the linear layers run: "fp16"/"bf16" (W16A16), "int8" (W8A8),
            "w4a16" (4-bit weights) or "w2a8" (BitNet's 2-bit ternary kernel).
        gpus: GPUs in tensor parallelism (1 to 64).
        calibration: efficiencies, overheads and power coefficients
            (default :data:`~tritium.analysis.gpu.params.DEFAULT_CALIBRATION`).
        engine: the serving engine (:data:`~tritium.analysis.gpu.params.ENGINES`: "vllm",
            "eager", "cuda-graph"); it sets the decode launch mode and the host time per
            step. None keeps the calibration's own (the default one's is "vllm").

    Returns:
        A :class:`SimResult` with the same op columns and totals keys as
        :func:`tritium.sim.simulate`; ``chip`` is the GPU's name (``-xN`` for N GPUs).

    Raises:
        SpecError: unknown weight mode or engine, or ``gpus`` out of range.
        TritiumError: unknown GPU, or ``gpus > 1`` on a GPU without an interconnect.
        TraceError: the trace table is malformed.
    """
    gpu = load_gpu(gpu)
    check_choice("weights", weights, WEIGHT_MODES)
    check_int("gpus", gpus, lo=1, hi=64)
    if gpus > 1 and gpu.interconnect == "none":
        raise TritiumError(f"GPU {gpu.name} has no chip-to-chip interconnect: tensor parallelism needs gpus = 1")
    cal = DEFAULT_CALIBRATION if calibration is None else calibration
    if not isinstance(cal, Calibration):
        raise SpecError("calibration", cal, "must be a Calibration (see load_calibration)")
    if engine is not None:
        cal = with_engine(cal, engine)
    engine_name = engine if engine is not None else engine_of(cal)
    record = Trace.of(trace)
    trace = record.table
    ctx = _Context(gpu, cal, WEIGHT_MODES[weights], gpus, bool((trace.kind == "quantize").any()))
    costs = _row_costs(ctx, trace)
    ops, static_j = _op_table(ctx, trace, costs)
    memory = _memory_needed(ctx, trace)
    totals = _totals(ctx, trace, ops, static_j, record, memory)
    name = gpu.name if gpus == 1 else f"{gpu.name}-x{gpus}"
    die = gpu.die_mm2 if gpu.die_mm2 is not None else float("nan")
    notes = _notes(ctx, weights, memory, engine_name)
    warnings = [] if totals.fits_in_memory else [n for n in notes if n.startswith("memory per GPU")]
    return SimResult(ops, totals, {"die": die, "total": die}, name, record.model, record.scenario_dict(),
                     notes, warnings)


# -- rows -> kernels ---------------------------------------------------------------


_ROW_FIELDS = ["block", "phase", "steps", "layer", "op", "kind", "m", "k", "n", "groups", "weight_dtype", "macs",
               "elements", "weight_bytes", "act_in_bytes", "act_out_bytes", "kv_read_bytes", "kv_write_bytes"]


def _records(trace: pd.DataFrame) -> list[dict]:
    """The rows as dicts of the columns the model reads (all columns cost 3x the time)."""
    return trace[_ROW_FIELDS].to_dict("records")


def _row_costs(ctx: _Context, trace: pd.DataFrame) -> list[_Cost]:
    rows = _records(trace)
    costs: list[_Cost | None] = [None] * len(rows)
    for members in _gemm_groups(trace):
        for i, cost in zip(members, _gemm_group(ctx, [rows[i] for i in members])):
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


def _mapped(row: dict) -> bool:
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


def _kernel_of(ctx: _Context, rows: list[dict]) -> tuple[GemmKernel, bool, WeightMode | None]:
    first = rows[0]
    g = ctx.gpus
    total_n = sum(r["n"] for r in rows)
    row_parallel = first["op"] in _ROW_PARALLEL
    k_loc, n_loc = (math.ceil(first["k"] / g), total_n) if row_parallel else (first["k"], math.ceil(total_n / g))
    mode = ctx.mode if _mapped(first) else None
    label = mode.name if mode is not None else first["weight_dtype"]
    kernel = GemmKernel(first["phase"], int(first["m"]), int(k_loc), int(n_loc), label, int(first["steps"]))
    return kernel, row_parallel, mode


def _gemm_groups(trace: pd.DataFrame) -> list[list[int]]:
    """Row indices of each GEMM kernel, in trace order (q/k/v and gate/up merged)."""
    groups: dict[tuple, list[int]] = {}
    for i, (kind, block, layer, op) in enumerate(zip(trace.kind, trace.block, trace.layer, trace.op)):
        if kind in _GEMM_KINDS:
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
    # shapes need no GPU: _kernel_of reads only the weight mode and the GPU count
    ctx = _Context(None, DEFAULT_CALIBRATION, WEIGHT_MODES[weights], gpus, False)  # type: ignore[arg-type]
    rows = _records(trace)
    seen: dict[tuple, GemmKernel] = {}
    for members in _gemm_groups(trace):
        kernel = _kernel_of(ctx, [rows[i] for i in members])[0]
        key = (kernel.phase, kernel.m, kernel.k, kernel.n, kernel.weights)
        if key in seen:
            kernel = replace(kernel, steps=seen[key].steps + kernel.steps)
        seen[key] = kernel
    return list(seen.values())


def _gemm_group(ctx: _Context, rows: list[dict]) -> list[_Cost]:
    """One (merged) GEMM kernel for rows sharing an input; its cost shared by output width."""
    gpu, cal, g = ctx.gpu, ctx.cal, ctx.gpus
    kernel, row_parallel, mode = _kernel_of(ctx, rows)
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
        out.append(_Cost(
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


def _attention(ctx: _Context, row: dict) -> _Cost:
    """Fused attention: QK reads Q and the K cache, PV reads V and writes O, softmax on CUDA cores.

    The KV cache moves at the DRAM's ``kv`` share, Q and O at its ``mixed`` share."""
    gpu, cal = ctx.gpu, ctx.cal
    share = math.ceil(row["groups"] / ctx.gpus) / row["groups"]
    if row["kind"] == "softmax":
        return _Cost(unit="fused", compute_s=cuda_core_s(gpu, cal, row["elements"] * share * cal.softmax_ops_per_element))
    peak = peak_ops(gpu, "bf16")
    ops = 2.0 * row["macs"] * share
    if row["kind"] == "attn_qk":
        act, overhead = row["act_in_bytes"], row["steps"] * ctx.per_launch(row["phase"])
    else:
        act, overhead = row["act_out_bytes"], 0.0
    traffic = Traffic(kv=row["kv_read_bytes"] * share, mixed=act * share)
    memory = dram_s(gpu, traffic, cal.attention_kernel_efficiency)
    return _Cost(unit="tensor", compute_s=ops / (peak * cal.attention_efficiency), memory_s=memory,
                 overhead_s=overhead, ops=ops, peak=peak, traffic=traffic,
                 efficiency=cal.attention_kernel_efficiency)


def _vector(ctx: _Context, row: dict, *, after_residual: bool, before_norm: bool, after_norm: bool = False) -> _Cost:
    """Element-wise and row-wise kernels: bandwidth-bound, one launch each unless fused.

    Activations move at the DRAM's ``mixed`` share, KV appends and embedding rows at its
    ``kv`` share (as the chip's), at ``copy_kernel_efficiency`` of that.

    A quantize right after an RMSNorm is that norm's epilogue (vLLM's fused RMSNorm +
    dynamic per-token INT8 quant kernel): no launch, no re-read, only its INT8 output.
    """
    gpu, cal, kind = ctx.gpu, ctx.cal, row["kind"]
    if kind == "dequantize":
        return _Cost(unit="fused")
    if kind == "quantize" and ctx.mode.act_bytes != 1:
        return _Cost(unit="skipped")
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
    return _Cost(unit="fused" if fused else "cuda", compute_s=compute,
                 memory_s=dram_s(gpu, traffic, cal.copy_kernel_efficiency), overhead_s=overhead, traffic=traffic,
                 efficiency=cal.copy_kernel_efficiency)


# -- table and totals --------------------------------------------------------------


def _op_table(ctx: _Context, trace: pd.DataFrame, costs: list[_Cost]) -> tuple[pd.DataFrame, float]:
    gpu, cal, g = ctx.gpu, ctx.cal, ctx.gpus
    clock = gpu.clock_hz
    seconds = np.array([c.seconds for c in costs], dtype=np.float64)
    parts = np.array([[c.compute_s, c.memory_s, c.overhead_s, c.link_s] for c in costs], dtype=np.float64).reshape(-1, 4)
    out = trace.copy()
    out["unit"] = [c.unit for c in costs]
    # the chip's mapping columns: a GPU kernel has no token block or buffer tiles of the chip's kind
    kernel = {"tensor": "tensor-core kernel", "cuda": "CUDA-core kernel"}
    paths = {"gemv": "GEMV on CUDA cores", "stream": "streaming tensor-core kernel", "tiled": "tiled tensor-core GEMM"}
    out["mapping"] = [paths.get(c.path) or kernel.get(c.unit, f"{c.unit} kernel") for c in costs]
    for col in ("token_block", "m_tile", "n_tile"):
        out[col] = np.zeros(len(costs), dtype=np.int64)
    out["loop_order"] = [""] * len(costs)
    out["compute_cycles"] = np.rint(parts[:, 0] * clock).astype(np.int64)
    out["sram_cycles"] = np.zeros(len(costs), dtype=np.int64)
    out["dram_cycles"] = np.rint(parts[:, 1] * clock).astype(np.int64)
    out["link_cycles"] = np.rint(parts[:, 3] * clock).astype(np.int64)
    out["cycles"] = np.rint(seconds * clock).astype(np.int64)
    out["seconds"] = seconds
    bound = np.array(["compute", "dram", "launch", "link"])[parts.argmax(axis=1)] if len(costs) else np.array([], dtype=str)
    bound[seconds <= 0] = "none"
    out["bound"] = bound
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.array([c.ops / (c.peak * c.seconds) if c.peak > 0 and c.seconds > 0 else 0.0 for c in costs])
    out["utilization"] = util
    out["dram_bytes"] = np.rint([c.dram_bytes * g for c in costs]).astype(np.int64)
    out["sram_bytes"] = np.zeros(len(costs), dtype=np.int64)
    out["link_bytes"] = np.rint([c.link_bytes * g for c in costs]).astype(np.int64)
    energy = {comp: np.zeros(len(costs)) for comp in ENERGY_COMPONENTS}
    static_j = 0.0
    kinds = trace.kind.to_numpy()
    for i, c in enumerate(costs):
        e = power_split(gpu, cal, seconds=c.seconds, ops=c.ops, peak=c.peak, traffic=c.traffic,
                        link_bytes=c.link_bytes, efficiency=c.efficiency)
        if c.measured_w is not None:  # measured board power: the model only splits it
            e = _measured_split(c.measured_w * c.seconds, e)
        energy[component_of(kinds[i])][i] = e.compute_j * g
        energy["dram"][i] = e.dram_j * g
        energy["memory_path"][i] = e.memory_path_j * g
        energy["link"][i] = e.link_j * g
        static_j += e.static_j * g
    for comp in ENERGY_COMPONENTS:
        out[f"energy_{comp}_j"] = energy[comp]
    out["energy_j"] = sum(energy[comp] for comp in ENERGY_COMPONENTS) if len(costs) else np.zeros(0)
    return out, static_j


def _measured_split(joules: float, e: KernelEnergy) -> KernelEnergy:
    """Split a measured kernel energy (the link's aside) into static, compute, DRAM and memory path as
    the model would."""
    static = min(e.static_j, joules)
    dynamic = e.compute_j + e.dram_j + e.memory_path_j
    rest = joules - static
    if dynamic <= 0:
        return KernelEnergy(static_j=static + rest, link_j=e.link_j)
    return KernelEnergy(static, rest * e.compute_j / dynamic, rest * e.dram_j / dynamic,
                        rest * e.memory_path_j / dynamic, e.link_j)


def _totals(ctx: _Context, trace: pd.DataFrame, ops: pd.DataFrame, static_j: float, record: Trace,
            memory: MemoryNeed) -> Totals:
    gpu, cal, g = ctx.gpu, ctx.cal, ctx.gpus
    block_steps = trace.groupby("block", sort=True)["steps"].first()
    block_phase = trace.groupby("block", sort=True)["phase"].first()
    block_s = ops.groupby("block", sort=True)["seconds"].sum() + block_steps * cal.step_overhead_s
    waiting_s = float((block_steps * cal.step_overhead_s).sum())
    idle = cal.idle_w if cal.idle_w is not None else gpu.idle_w
    static_j += (idle + cal.power_floor * (gpu.tdp_w - idle)) * waiting_s * g
    decode_steps = record.decode
    dynamic = {c: float(ops[f"energy_{c}_j"].sum()) for c in ENERGY_COMPONENTS}
    # the HBM's standby power is inside the GPU's measured idle power: no background term of its own
    energy = Energy.of(dynamic | {"static": static_j}, dram_background_j=None)
    return request_totals(
        t_prefill=float(block_s[block_phase == "prefill"].sum()), t_decode=float(block_s[block_phase == "decode"].sum()),
        decode_steps=decode_steps, generated=record.generated_tokens, energy=energy,
        dram_bytes=int(ops.dram_bytes.sum()), sram_bytes=None, link_bytes=int(ops.link_bytes.sum()),
        memory_needed_bytes=int(round(memory.total_bytes)), memory_capacity_bytes=int(round(gpu.mem_gb * 1e9 * g)),
        fits_in_memory=memory.total_bytes / g <= gpu.mem_gb * 1e9 * (1 + 1e-12),
        # the GPU runs its published boost clock at its own voltage; its peak power is its
        # board power limit (what the model caps it at), per GPU x GPUs
        clock_mhz=gpu.boost_clock_mhz, fmax_mhz=gpu.boost_clock_mhz, supply_v=None,
        peak_power_w=gpu.tdp_w * g, peak_die_power_w=gpu.tdp_w,
        die_area_mm2=float(gpu.die_mm2) if gpu.die_mm2 else None)


RUNTIME_RESERVE_FRACTION = 0.10
"""Share of each GPU's memory the serving runtime keeps for itself: [V] vLLM's
``gpu_memory_utilization`` defaults to 0.9 (its engine arguments), leaving 10% for the CUDA
context, allocator and fragmentation."""


def _memory_needed(ctx: _Context, trace: pd.DataFrame) -> MemoryNeed:
    """What the GPUs' memory must hold (:func:`tritium.sim.memory.memory_needed`): the
    weights in the kernel's format, the embedding table (a tied LM head in the same dtype
    reads it and is not held twice), the final KV cache at the trace's KV dtype, the largest
    op's input and output, and the runtime reserve."""
    first = trace[trace.block == trace.block.min()]
    gemm = first[first.kind.isin(_GEMM_KINDS)]
    mapped = gemm.apply(lambda r: _mapped(r), axis=1).astype(bool) if len(gemm) else pd.Series(dtype=bool)
    bits = ctx.mode.weight_bits + ctx.mode.scale_bits_per_weight
    other = gemm.weight_bytes / gemm.steps
    embedding = 0.0
    embed = first[first.kind == "embedding"]
    head = gemm[gemm.op == "lm_head"]
    if len(embed) and len(head):
        hidden, vocab = int(embed.n.iloc[0]), int(head.n.iloc[0])
        embed_dtype = str(embed.weight_dtype.iloc[0])
        embedding = float(vocab * hidden * DTYPE_BYTES.get(embed_dtype, 2))
        tied = (head.weight_name == "embed_tokens") & (head.weight_dtype == embed_dtype)
        other = other.where(~gemm.index.isin(head.index[tied]), 0.0)
    weights = float((gemm.k * gemm.n * bits / 8)[mapped].sum() + other[~mapped].sum())
    steps = trace.steps.clip(lower=1)
    activations = float(((trace.act_in_bytes + trace.act_out_bytes) / steps).max()) if len(trace) else 0.0
    reserve = RUNTIME_RESERVE_FRACTION * ctx.gpu.mem_gb * 1e9 * ctx.gpus
    return memory_needed(weight_bytes=weights, embedding_bytes=embedding, kv_cache_bytes=float(trace.kv_write_bytes.sum()),
                         activation_bytes=activations * ctx.gpus, reserve_bytes=reserve)


def _dram_note(gpu: Gpu, cal: Calibration) -> str:
    d = dram_summary(gpu, cal)
    return (f"DRAM {gpu.memory_type} (tritium.sim.dram, as the chip's): sustains {d['stream_fraction']:.1%} of peak "
            f"for weight streams, {d['kv_fraction']:.1%} for KV pages, {d['mixed_fraction']:.1%} for activations; "
            f"kernels reach {d['matmul_share']:.1%} (matmul), {d['attention_share']:.1%} (attention), "
            f"{d['copy_share']:.1%} (copy) of peak; {d['stream_pj_per_bit']:.2f} pJ/bit streamed; its standby and "
            f"refresh (~{d['background_w']:.1f} W by the DRAM model) are inside the {idle_w(gpu, cal):g} W idle power")


def _notes(ctx: _Context, weights: str, memory: MemoryNeed, engine: str) -> list[str]:
    """The model's caveats; ``memory``: what all GPUs must hold (:func:`_memory_needed`)."""
    gpu, cal, g = ctx.gpu, ctx.cal, ctx.gpus
    total = memory.total_bytes
    need = total / g
    fits = need <= gpu.mem_gb * 1e9 * (1 + 1e-12)
    link = {"nvlink": "NVLink", "pcie": "PCIe", "none": "no link"}[gpu.interconnect]
    notes = [
        f"weights {weights}: {ctx.mode.kernel}",
        f"{g} GPU{'s' if g > 1 else ''}" + (f" in tensor parallelism, all-reduce over {link} at "
                                              f"{gpu.interconnect_gb_s:g} GB/s per direction" if g > 1 else ""),
        f"memory per GPU: {need / 1e9:.1f} GB (weights {memory.weight_bytes / g / 1e9:.2f}, embedding "
        f"{memory.embedding_bytes / g / 1e9:.2f}, KV cache {memory.kv_cache_bytes / g / 1e9:.2f}, activations "
        f"{memory.activation_bytes / g / 1e9:.2f}, runtime reserve {memory.reserve_bytes / g / 1e9:.2f}) vs {gpu.mem_gb:g} GB"
        + ("" if fits else f" (does not fit: the timing assumes it did; tensor parallelism over at least "
                           f"{math.ceil(total / (gpu.mem_gb * 1e9))} GPUs would hold it)"),
        f"calibration '{cal.name}': GEMM {cal.gemm_efficiency:.0%} of peak per full wave",
        _dram_note(gpu, cal),
        f"serving engine '{engine}': {'CUDA graphs' if cal.cuda_graphs else 'eager launches'} in decode, "
        f"{cal.step_overhead_s * 1e3:.3g} ms host time per forward pass",
        "fusion: merged q/k/v and gate/up GEMMs, dequantize in the GEMM epilogue, residual+rmsnorm, "
        "FlashAttention (scores stay on chip)",
    ]
    if cal.gemm and cal.gpu != gpu.name:
        notes.append(f"calibration measured on {cal.gpu}: its per-shape timings are not used for {gpu.name}")
    return notes
