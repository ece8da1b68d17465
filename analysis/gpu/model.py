"""``gpu_baseline(gpu, trace) -> SimResult``: one request on GPUs running the same layers as matmuls.

Each trace row becomes the kernel a serving engine (vLLM on one CUDA stream) would run,
timed with :mod:`tritium.analysis.gpu.kernels`: time = max(compute, DRAM) + launch
overhead + kernel latency (+ all-reduce). Kernels run back to back, so a phase takes
the sum of its rows (plus ``step_overhead_s`` per forward pass).

Each row's kernel, its fusion and its tensor-parallel split are
:mod:`tritium.analysis.gpu.rows`; this module runs them, and builds the op table, the
totals and the notes.

**DRAM.** Each kernel's traffic is split by access pattern as the chip's is (weights
``stream``; KV-cache reads and appends and embedding rows ``kv``; activations ``mixed``)
and moves at the share of peak the GPU's DRAM type sustains for that pattern
(:mod:`tritium.sim.dram`, the chip's model) times the kernel's fitted efficiency beyond it;
the DRAM devices cost that model's pJ/bit per pattern. Their background and refresh power
is inside the GPU's measured idle power (``dram_background_j`` is None: not counted twice).

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

import numpy as np
import pandas as pd

from tritium.analysis.gpu.db import Gpu, load_gpu
from tritium.analysis.gpu.kernels import WEIGHT_MODES, KernelEnergy, dram_summary, idle_w, power_split
from tritium.analysis.gpu.params import DEFAULT_CALIBRATION, Calibration, engine_of, with_engine
from tritium.analysis.gpu.rows import GEMM_KINDS, Context, RowCost, mapped, row_costs
from tritium.base.errors import SpecError, TritiumError
from tritium.base.specio import check_choice, check_int
from tritium.sim.memory import MemoryNeed, memory_needed
from tritium.sim.result import ENERGY_COMPONENTS, Energy, SimResult, Totals, component_of, request_totals
from tritium.workloads.trace import DTYPE_BYTES
from tritium.workloads.trace_record import Trace

__all__ = ["gpu_baseline", "RUNTIME_RESERVE_FRACTION"]

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
    ctx = Context(gpu, cal, WEIGHT_MODES[weights], gpus, bool((trace.kind == "quantize").any()))
    costs = row_costs(ctx, trace)
    ops, static_j = _op_table(ctx, trace, costs)
    memory = _memory_needed(ctx, trace)
    totals = _totals(ctx, trace, ops, static_j, record, memory)
    name = gpu.name if gpus == 1 else f"{gpu.name}-x{gpus}"
    die = gpu.die_mm2 if gpu.die_mm2 is not None else float("nan")
    memory_note = _memory_note(ctx, memory, totals.fits_in_memory)
    notes = _notes(ctx, weights, memory_note, engine_name)
    warnings = [] if totals.fits_in_memory else [memory_note]
    return SimResult(ops, totals, {"die": die, "total": die}, name, record.model, record.scenario_dict(),
                     notes, warnings)


# -- table and totals --------------------------------------------------------------


def _op_table(ctx: Context, trace: pd.DataFrame, costs: list[RowCost]) -> tuple[pd.DataFrame, float]:
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


def _totals(ctx: Context, trace: pd.DataFrame, ops: pd.DataFrame, static_j: float, record: Trace,
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


def _memory_needed(ctx: Context, trace: pd.DataFrame) -> MemoryNeed:
    """What the GPUs' memory must hold (:func:`tritium.sim.memory.memory_needed`): the
    weights in the kernel's format, the embedding table (a tied LM head in the same dtype
    reads it and is not held twice), the final KV cache at the trace's KV dtype, the largest
    op's input and output, and the runtime reserve."""
    first = trace[trace.block == trace.block.min()]
    gemm = first[first.kind.isin(GEMM_KINDS)]
    in_mode = gemm.apply(lambda r: mapped(r), axis=1).astype(bool) if len(gemm) else pd.Series(dtype=bool)
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
    weights = float((gemm.k * gemm.n * bits / 8)[in_mode].sum() + other[~in_mode].sum())
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


def _memory_note(ctx: Context, memory: MemoryNeed, fits: bool) -> str:
    """What each GPU must hold (``memory``: all GPUs, :func:`_memory_needed`) against what it has;
    where it does not ``fits`` (the totals' ``fits_in_memory``), how many GPUs would hold it."""
    gpu, g = ctx.gpu, ctx.gpus
    total = memory.total_bytes
    return (f"memory per GPU: {total / g / 1e9:.1f} GB (weights {memory.weight_bytes / g / 1e9:.2f}, embedding "
            f"{memory.embedding_bytes / g / 1e9:.2f}, KV cache {memory.kv_cache_bytes / g / 1e9:.2f}, activations "
            f"{memory.activation_bytes / g / 1e9:.2f}, runtime reserve {memory.reserve_bytes / g / 1e9:.2f}) vs "
            f"{gpu.mem_gb:g} GB"
            + ("" if fits else f" (does not fit: the timing assumes it did; tensor parallelism over at least "
                               f"{math.ceil(total / (gpu.mem_gb * 1e9))} GPUs would hold it)"))


def _notes(ctx: Context, weights: str, memory_note: str, engine: str) -> list[str]:
    """The model's caveats; ``memory_note``: :func:`_memory_note`."""
    gpu, cal, g = ctx.gpu, ctx.cal, ctx.gpus
    link = {"nvlink": "NVLink", "pcie": "PCIe", "none": "no link"}[gpu.interconnect]
    notes = [
        f"weights {weights}: {ctx.mode.kernel}",
        f"{g} GPU{'s' if g > 1 else ''}" + (f" in tensor parallelism, all-reduce over {link} at "
                                              f"{gpu.interconnect_gb_s:g} GB/s per direction" if g > 1 else ""),
        memory_note,
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
