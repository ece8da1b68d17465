"""What each op asks of the chip: cycles on its unit, bytes at each memory level, event counts.

Pure functions of (chip, placement, trace row). :func:`op_work` is evaluated once
per distinct (signature, placement) and reused for every identical op.

Mapping of op kinds to units:

- ``ternary_linear``: the TLU (:func:`~tritium.sim.cycles.tlu_cycles`); ``skip``
  zero handling uses the row's non-zero histogram.
- ``attn_qk``, ``attn_pv``: the attention MAC array, or the vector unit (one MAC
  per lane per cycle) when the chip has none.
- ``linear`` (high-precision weights: the LM head, non-ternary models): the
  attention MAC array at its INT8/INT16 rate, or the vector unit; a ternary chip
  has no other multipliers.
- element-wise and row-wise kinds: the vector unit.
- ``embedding`` and ``kv_write``: data movement only (DMA).

Tensor parallelism over ``chips``: every op is split evenly over all cores of all
chips; the row-parallel projections (``o_proj``, ``down_proj``) and the LM head
then all-reduce their outputs over the link (ring: each chip sends
``2 (chips - 1) / chips`` of the output bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tritium.sim.chip import Chip
from tritium.sim.cycles import expected_skip_slices, mac_array_cycles, tlu_cycles, transfer_cycles, vector_cycles

__all__ = ["Placement", "place", "placement_for", "OpWork", "op_work", "ROW_PARALLEL"]

ROW_PARALLEL = ("o_proj", "down_proj", "lm_head")
"""Ops whose outputs are all-reduced across chips under tensor parallelism."""

_VECTOR_KINDS = ("rmsnorm", "quantize", "dequantize", "rope", "softmax", "activation", "residual")
_DTYPE_BYTES = {"int8": 1, "int32": 4, "bf16": 2, "fp16": 2, "fp32": 4, "ternary": 0}


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a trace's data lives on a chip (decided once per (chip, trace)).

    Attributes:
        weights_resident: all ternary weights fit in the weight buffers at the
            chip's encoding, so they are loaded once and never read from DRAM again.
        kv_resident: the whole KV cache (at its final length) fits in the KV buffers.
        act_capacity_bytes: activation-buffer bytes over all cores; an op whose
            inputs and outputs of one step exceed it spills them to DRAM.
        ternary_weight_bytes: ternary weights at the chip's encoding, bytes.
    """

    weights_resident: bool
    kv_resident: bool
    act_capacity_bytes: int
    ternary_weight_bytes: int


def place(chip: Chip, trace: pd.DataFrame) -> Placement:
    """Decide residency of weights, KV cache and activations for ``trace`` on ``chip``."""
    first = trace[trace.block == trace.block.min()]
    ternary = first[first.kind == "ternary_linear"]
    return placement_for(chip, float((ternary.k * ternary.n).sum()), int(trace.kv_write_bytes.sum()))


def placement_for(chip: Chip, ternary_weights: float, kv_bytes: int) -> Placement:
    """:func:`place` from the trace's sizes: ``ternary_weights`` (sum of K x N over the
    first block's ternary linears) and ``kv_bytes`` (KV-cache bytes written)."""
    weight_bytes = math.ceil(ternary_weights * chip.tlu.weight_bits_per_weight / 8)
    return Placement(
        weights_resident=weight_bytes <= chip.weight_sram_bytes,
        kv_resident=kv_bytes <= chip.total_cores * chip.sram.kv.capacity_bytes,
        act_capacity_bytes=chip.total_cores * chip.sram.act.capacity_bytes,
        ternary_weight_bytes=weight_bytes,
    )


@dataclass(frozen=True, slots=True)
class OpWork:
    """The work of one trace row (totals over its steps).

    Attributes:
        unit: "tlu", "attention", "vector" or "dma".
        compute_cycles: cycles on that unit (0 for "dma").
        dram_read_bytes, dram_write_bytes: bytes to and from DRAM (all chips).
        sram_read_bytes, sram_write_bytes: per buffer ("weight", "act", "kv"), bytes.
        link_bytes: bytes each chip sends over the chip-to-chip link.
        tlu_active_inputs: sign-select inputs that toggle (non-gated weights x tokens).
        tlu_inputs: all sign-select inputs fed (including zero-padding of the last slice).
        tlu_acc_updates: accumulator additions.
        macs: multiply-accumulates on the MAC array or vector unit.
        vector_ops: elementary vector-unit operations.
    """

    unit: str
    compute_cycles: int
    dram_read_bytes: int
    dram_write_bytes: int
    sram_read_bytes: dict
    sram_write_bytes: dict
    link_bytes: int
    tlu_active_inputs: float
    tlu_inputs: int
    tlu_acc_updates: int
    macs: int
    vector_ops: int


def _kv_series(row) -> np.ndarray:
    """KV lengths seen at each step of a decode attention row."""
    return row.kv_len + np.arange(row.steps, dtype=np.int64)


def op_work(chip: Chip, placement: Placement, row) -> OpWork:
    """The work of trace row ``row`` (a namedtuple or Series with the trace columns)."""
    cores = chip.total_cores
    kind = row.kind
    dram_r = dram_w = link = 0
    sram_r = {"weight": 0, "act": 0, "kv": 0}
    sram_w = {"weight": 0, "act": 0, "kv": 0}
    active = 0.0
    inputs = acc_updates = macs = vops = 0
    cycles = 0
    acts_on_chip = (row.act_in_bytes + row.act_out_bytes) <= placement.act_capacity_bytes * row.steps

    if kind == "ternary_linear":
        unit = "tlu"
        tlu = chip.tlu
        per_step_m = row.m
        if tlu.zero_handling == "skip" and row.nnz_hist:
            hist = np.array(row.nnz_hist.split(), dtype=np.int64)
            slices = expected_skip_slices(tlu, row.nnz_lo, row.nnz_hi, hist)
            passes = per_step_m * math.ceil(math.ceil(row.n / tlu.rows) / cores)
            step_cycles = math.ceil(passes * slices) + tlu.pipeline_depth_cycles
            streamed = (1.0 - row.zero_frac) * row.k  # non-zero weights streamed per row
        else:
            step_cycles = tlu_cycles(tlu, per_step_m, row.k, row.n, cores=cores)
            streamed = float(row.k)
        cycles = step_cycles * row.steps
        slices_dense = math.ceil(row.k / tlu.width)
        inputs = row.steps * per_step_m * math.ceil(row.n / tlu.rows) * tlu.rows * slices_dense * tlu.width
        toggling = row.k if tlu.zero_handling == "none" else (1.0 - row.zero_frac) * row.k
        active = float(row.steps * per_step_m * row.n * toggling)
        acc_updates = row.steps * per_step_m * row.n * math.ceil(streamed / tlu.width)
        weight_bytes = math.ceil(row.k * row.n * tlu.weight_bits_per_weight / 8)
        # Weight-stationary: a tile's slice of weights is read once per step and held
        # while the step's tokens stream past; each token's activation slice is read
        # once per output tile it feeds.
        sram_r["weight"] += int(row.steps * weight_bytes * streamed / row.k)
        if not placement.weights_resident:
            dram_r += row.steps * weight_bytes
            sram_w["weight"] += row.steps * weight_bytes
        _activations(row, acts_on_chip, sram_r, sram_w)
        if acts_on_chip:
            sram_r["act"] += row.act_in_bytes * (math.ceil(row.n / tlu.rows) - 1)
        if not acts_on_chip:
            dram_r += row.act_in_bytes
            dram_w += row.act_out_bytes
    elif kind in ("attn_qk", "attn_pv", "linear"):
        unit = "attention" if chip.attention.unit == "mac_array" else "vector"
        macs = int(row.macs)
        if kind == "linear":
            dram_r += row.weight_bytes  # high-precision weights stream from DRAM
            sram_w["weight"] += row.weight_bytes
            sram_r["weight"] += row.weight_bytes
            cycles = _mac_cycles(chip, row, row.k, row.n, None) * row.steps
        else:
            if row.steps > 1:
                kv = _kv_series(row)
                k_dim, n_dim = (row.k, kv) if kind == "attn_qk" else (kv, row.n)
            else:
                k_dim, n_dim = row.k, row.n
            causal = ("n" if kind == "attn_qk" else "k") if row.causal else None
            cycles = _mac_cycles(chip, row, k_dim, n_dim, causal)
            if placement.kv_resident:
                sram_r["kv"] += row.kv_read_bytes
            else:
                dram_r += row.kv_read_bytes
        _activations(row, acts_on_chip, sram_r, sram_w)
        if not acts_on_chip:
            dram_r += row.act_in_bytes
            dram_w += row.act_out_bytes
    elif kind in _VECTOR_KINDS:
        unit = "vector"
        cycles = vector_cycles(chip.vector, kind, row.elements, cores=cores)
        vops = math.ceil(cycles * chip.vector.lanes * cores)
        _activations(row, acts_on_chip, sram_r, sram_w)
        sram_r["weight"] += row.weight_bytes  # norm gains
        if not acts_on_chip:
            dram_r += row.act_in_bytes
            dram_w += row.act_out_bytes
    elif kind == "embedding":
        unit = "dma"
        dram_r += row.weight_bytes
        sram_w["act"] += row.act_out_bytes
    elif kind == "kv_write":
        unit = "dma"
        if placement.kv_resident:
            sram_w["kv"] += row.kv_write_bytes
        else:
            dram_w += row.kv_write_bytes
    else:  # validate_trace admits only known kinds
        raise AssertionError(f"unhandled op kind {kind!r}")

    if chip.chips > 1 and row.op in ROW_PARALLEL:
        out_bytes = row.m * row.n * 2 * row.steps  # bf16 partial sums
        link = math.ceil(2 * (chip.chips - 1) / chip.chips * out_bytes)
    return OpWork(unit, int(cycles), int(dram_r), int(dram_w), sram_r, sram_w, int(link), active,
                  int(inputs), int(acc_updates), int(macs), int(vops))


def _activations(row, on_chip: bool, sram_r: dict, sram_w: dict) -> None:
    if on_chip:
        sram_r["act"] += row.act_in_bytes
        sram_w["act"] += row.act_out_bytes


def _mac_cycles(chip: Chip, row, k, n, causal: str | None) -> int:
    """Cycles of a multiply-accumulate op: on the MAC array, or one MAC per vector lane per cycle.

    On the MAC array ``k``/``n`` may be per-step arrays and the count is per call
    (all steps of a decode row for attention, one step for a linear); on the vector
    unit the count follows from the row's MACs (all steps)."""
    if chip.attention.unit == "mac_array":
        return mac_array_cycles(chip.attention, int(row.m), k, n, int(row.groups), causal=causal, cores=chip.total_cores)
    per_call = row.macs if row.kind != "linear" else row.macs // row.steps
    return math.ceil(per_call / (chip.vector.lanes * chip.total_cores))


def dram_cycles(chip: Chip, nbytes: int) -> int:
    """Cycles to move ``nbytes`` between DRAM and SRAM, all chips streaming their share.

    Bandwidth is the chips' DRAM bandwidth together; each transfer pays the DRAM
    latency and the DMA setup once, and moves whole bursts.
    """
    bytes_per_cycle = chip.dram.bandwidth_gb_s * 1e9 * chip.chips / chip.clock_hz
    latency = math.ceil(chip.dram.latency_ns * chip.clock_mhz / 1e3) + chip.dma.setup_cycles
    return transfer_cycles(nbytes, bytes_per_cycle, burst_bytes=chip.dma.burst_bytes, latency_cycles=latency)
