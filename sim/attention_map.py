"""The multiply-accumulate ops: attention products (fused or unfused) and high-precision linears.

QK^T, PV and the linears that are not ternary (an LM head at BF16 or INT8) run on the MAC
array, at their real precision (:func:`tritium.sim.precision.precision_passes`), or one MAC
per vector lane per cycle when the chip has no MAC array, or on a ``mac``-style TLU's
multipliers when that is faster (:func:`_on_mac_tlu`).

Attention. With ``attention.fused`` (the default) QK^T, softmax and PV run
FlashAttention-style: a block of ``Br`` queries (:func:`_query_block`) stays in the
activation buffer while key/value blocks of ``Bc`` (:data:`KEY_BLOCK`) stream past; scores
live only in SRAM tiles, the online softmax's rescaling is counted as vector work, and the
KV cache is read once per query block (a causal query block reads the keys up to its last
query). Unfused, a score matrix that does not fit goes to DRAM and back.
"""

from __future__ import annotations

import math

import numpy as np

from tritium.sim.chip import Chip
from tritium.sim.cycles import mac_array_cycles
from tritium.sim.op_cost import (OpCost, DramTraffic, cost_record, sram_buffers, sram_port_cycles,
                                 through_act_buffer)
from tritium.sim.precision import LIMBS, precision_passes
from tritium.sim.work import Placement

__all__ = ["KEY_BLOCK", "map_mac_op"]


def _kv_series(row) -> np.ndarray:
    """KV lengths seen at each step of a decode attention row."""
    return row.kv_len + np.arange(row.steps, dtype=np.int64)


def _mac_unit_cycles(chip: Chip, row, k, n, causal: str | None, passes: int) -> int:
    """Cycles of a multiply-accumulate op: on the MAC array (``passes`` per product), or one MAC
    per vector lane per cycle. ``k``/``n`` may be per-step arrays (decode attention)."""
    if chip.attention.unit == "mac_array":
        return passes * mac_array_cycles(chip.attention, int(row.m), k, n, int(row.groups), causal=causal,
                                         cores=chip.total_cores)
    per_call = row.macs if row.kind != "linear" else row.macs // row.steps
    return math.ceil(per_call / (chip.vector.lanes * chip.total_cores))


def _passes(chip: Chip, a: str, b: str) -> int:
    if chip.attention.unit != "mac_array":
        return 1  # the vector unit multiplies in its own floating-point format
    return precision_passes(chip.attention.mac_bits, a, b)


KEY_BLOCK = 128
"""Keys per block of fused attention (FlashAttention-2's block sizes are 64 to 128 keys; Dao 2023,
arXiv:2307.08691), rounded up to whole MAC-array column tiles."""


def _key_block(chip: Chip) -> int:
    """Keys per block of fused attention: :data:`KEY_BLOCK`, a whole number of MAC-array column tiles."""
    if chip.attention.unit != "mac_array":
        return KEY_BLOCK
    cols = chip.attention.mac_cols
    return -(-KEY_BLOCK // cols) * cols


def _query_block(chip: Chip, row, head_dim: int, kv_bytes: int) -> int:
    """Queries held per block of fused attention: as many as fit half the activation buffer
    with their FP32 output accumulators, a score tile and a key and value block."""
    bc = _key_block(chip)
    per_query = head_dim * 2 + head_dim * 4 + bc * 4
    room = chip.sram.act.capacity_bytes / 2 - 2 * bc * head_dim * kv_bytes
    return max(1, min(int(row.m), int(room // per_query)))


def _causal_reread(m: int, br: int) -> float:
    """Keys a causal prefill's query blocks read, over the keys read once: sum of each block's
    last query position over M (a block of queries reads the keys up to its last query)."""
    blocks = -(-m // br)
    ends = np.minimum((np.arange(blocks) + 1) * br, m)
    return float(ends.sum()) / m


def _rescale_rows(m: int, keys: int, bc: int) -> int:
    """Key blocks after the first over ``m`` causal queries (query i sees i + 1 keys): each one
    rescales the query's output accumulator in the online softmax."""
    q, r = divmod(m, bc)
    return bc * q * (q - 1) // 2 + r * q if keys == m else m * (-(-keys // bc) - 1)


def map_mac_op(chip: Chip, placement: Placement, row) -> OpCost:
    """Map a multiply-accumulate trace row (``attn_qk``, ``attn_pv`` or ``linear``) onto ``chip``
    (module docstring): its cycles, buffer and DRAM traffic, MAC passes and vector work."""
    kind = row.kind
    cores = chip.total_cores
    unit = "attention" if chip.attention.unit == "mac_array" else "vector"
    reads, writes = sram_buffers()
    dram = DramTraffic()
    vector_extra = 0
    act_cap = chip.sram.act.capacity_bytes
    if kind == "linear":
        passes = _passes(chip, row.weight_dtype, row.act_dtype)
        unit_cycles = _mac_unit_cycles(chip, row, row.k, row.n, None, passes) * row.steps
        dram.reads["stream"] += row.weight_bytes  # high-precision weights stream from DRAM, each read once
        writes["weight"] += row.weight_bytes
        reads["weight"] += row.weight_bytes
        fits = (row.act_in_bytes + row.act_out_bytes / cores) <= act_cap * row.steps
        through_act_buffer(row, fits, reads, writes, dram)
        mapping = f"output-stationary, weights streamed once, {passes} pass{'es' if passes > 1 else ''}"
    else:
        passes = _passes(chip, row.act_dtype, row.act_dtype)
        if row.steps > 1:
            kv = _kv_series(row)
            k_dim, n_dim = (row.k, kv) if kind == "attn_qk" else (kv, row.n)
        else:
            k_dim, n_dim = row.k, row.n
        causal = ("n" if kind == "attn_qk" else "k") if row.causal else None
        unit_cycles = _mac_unit_cycles(chip, row, k_dim, n_dim, causal, passes)
        head_dim = int(row.k if kind == "attn_qk" else row.n)
        kv_bytes = max(1, LIMBS.get(row.act_dtype, 2))
        # the activation side: queries in (QK^T) or outputs out (PV); scores in or out
        own = row.act_in_bytes if kind == "attn_qk" else row.act_out_bytes
        scores_in = kind == "attn_pv"
        score_bytes = row.act_out_bytes if kind == "attn_qk" else row.act_in_bytes
        if chip.attention.fused:
            br = _query_block(chip, row, head_dim, kv_bytes)
            factor = _causal_reread(int(row.m), br) if row.causal else float(-(-int(row.m) // br))
            kv_read = row.kv_read_bytes * factor
            # scores live in SRAM tiles; only the queries/outputs may spill
            if scores_in:
                reads["act"] += score_bytes
            else:
                writes["act"] += score_bytes
            fits = own / cores <= act_cap * row.steps
            if kind == "attn_qk":
                reads["act"] += own
            else:
                writes["act"] += own
            if not fits:
                if kind == "attn_qk":
                    dram.reads["mixed"] += own
                    writes["act"] += own
                else:
                    dram.writes["mixed"] += own
                    reads["act"] += own
            if kind == "attn_pv":
                bc = _key_block(chip)
                if row.causal:
                    rows = _rescale_rows(int(row.m), int(row.m), bc)
                else:
                    rows = int(sum(-(-int(x) // bc) - 1 for x in np.atleast_1d(k_dim)))
                vector_extra = int(row.groups) * rows * (head_dim + 2)
            mapping = (f"fused attention, query block {br}, key block {_key_block(chip)}, "
                       f"{passes} pass{'es' if passes > 1 else ''}")
        else:
            kv_read = row.kv_read_bytes
            fits = (row.act_in_bytes + row.act_out_bytes) / cores <= act_cap * row.steps
            through_act_buffer(row, fits, reads, writes, dram)
            mapping = f"unfused attention{'' if fits else ', scores through DRAM'}, {passes} pass" + (
                "es" if passes > 1 else "")
        if placement.kv_resident:
            reads["kv"] += kv_read
        else:
            dram.reads["kv"] += kv_read
            writes["kv"] += kv_read  # staged through the KV buffer
            reads["kv"] += kv_read
    rescale_cycles = math.ceil(vector_extra / (chip.vector.lanes * cores)) if vector_extra else 0
    events = dict(macs=row.macs, mac_passes=row.macs * passes, vector_ops=vector_extra, mapping=mapping)
    if chip.tlu.style == "mac":
        on_tlu = _on_mac_tlu(chip, row, k_dim if kind != "linear" else row.k, n_dim if kind != "linear" else row.n)
        if on_tlu is not None and on_tlu[0] < unit_cycles:
            unit, unit_cycles, tlu_events = "tlu", on_tlu[0], on_tlu[1]
            events = dict(tlu_events, macs=row.macs, vector_ops=vector_extra,
                          mapping=f"{mapping.rsplit(', ', 1)[0]}, on the TLU's multipliers, "
                                  f"{tlu_events['passes']} pass{'es' if tlu_events['passes'] > 1 else ''}")
    cycles = max(unit_cycles + rescale_cycles, math.ceil(sram_port_cycles(chip, reads, writes)))
    return cost_record(chip, unit, unit_cycles + rescale_cycles, cycles, dram, reads, writes, **events)


def _on_mac_tlu(chip: Chip, row, k, n) -> tuple[int, dict] | None:
    """Cycles and events of a multiply-accumulate op (attention product or high-precision linear) on a
    ``mac``-style TLU, whose ``rows x width`` multipliers take any operands (the adder tree and the
    LUT only ternary weights): each cycle one token's slice of ``width`` inputs meets ``rows`` outputs,
    ``passes`` times for operands wider than ``mac_bits``. ``k``, ``n`` may be per-step arrays (decode
    attention); the tiling waste of their mean sizes is counted. None when the multipliers are
    narrower than 8 bits."""
    tlu, cores = chip.tlu, chip.total_cores
    a, b = (row.weight_dtype, row.act_dtype) if row.kind == "linear" else (row.act_dtype, row.act_dtype)
    if tlu.mac_bits < 8:
        return None  # narrower than one 8-bit limb
    passes = precision_passes(tlu.mac_bits, a, b)
    k_mean = float(np.mean(k))
    n_mean = float(np.mean(n))
    if k_mean <= 0 or n_mean <= 0 or row.macs <= 0:
        return None
    util = (k_mean / (tlu.width * math.ceil(k_mean / tlu.width))) * (n_mean / (tlu.rows * math.ceil(n_mean / tlu.rows)))
    work = row.macs * passes
    cycles = math.ceil(work / (tlu.rows * tlu.width * cores * util)) + tlu.pipeline_depth_cycles * row.steps
    fed = math.ceil(work / util)
    return cycles, dict(tlu_active_inputs=float(work), tlu_inputs=fed, tlu_acc_updates=math.ceil(fed / tlu.width),
                        mac_passes=0, passes=passes)
