"""The mapper of ternary linears: the search over token blocks, loop orders and tiles.

A ternary linear of M tokens, K inputs and N outputs runs on the TLUs in the on-core loop
nest of :mod:`tritium.sim.tlu_schedule` (or, for the ``lut`` and ``mac`` styles, of
:mod:`tritium.sim.datapath`; with ``skip`` weights or ``zero_act = "skip"``, the slices and
windows of :mod:`tritium.sim.zero_skip`). Above the core, the DRAM loop nest decides
re-reads: ``weights_outer`` holds a chunk of ``n_tile`` outputs' weights and streams every
token past it (the inputs are re-read from DRAM once per chunk when they do not fit the
activation buffer); ``tokens_outer`` holds ``m_tile`` tokens' inputs and streams the weights
past them (streamed weights are re-read once per token chunk). Double-buffered DMA gets half
of each buffer. Outputs leave the accumulators once, dequantized to BF16 (the dequantization
is fused into the drain: INT32 sums never reach SRAM or DRAM).

:func:`map_ternary` tries every token block worth trying (powers of two up to
``tlu.acc_per_tree``), both :data:`ORDERS` and the weight chunks worth trying (the smallest,
the largest whose weights fit, the largest that lets every token's inputs stay), and keeps
the one the objective prefers (:func:`tritium.sim.mapping.map_op`'s ``objective``: cycles
then energy, energy then cycles, or their product). Its cycles, its reads and writes per
buffer, its DRAM traffic and the events the energy model prices are then read off that
mapping (:class:`~tritium.sim.op_cost.OpCost`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from tritium.sim.chip import Chip
from tritium.sim.chip_parts import TluSpec
from tritium.sim.cycles import expected_skip_slices
from tritium.sim.datapath import style_schedule
from tritium.sim.op_cost import (OpCost, DramTraffic, cost_record, dram_time, sram_buffers, sram_port_cycles,
                                 traffic_pj)
from tritium.sim.tlu_schedule import tlu_word_bits, weight_word_bits
from tritium.sim.work import Placement
from tritium.sim.zero_skip import gather_window, skip_storage_bits_per_weight, window_cycles

__all__ = ["ORDERS", "TernaryKey", "ternary_key", "map_ternary"]

ORDERS = ("weights_outer", "tokens_outer")
"""DRAM-level loop orders of a ternary linear (see the module docstring)."""
_OUT_BYTES_AFTER_DRAIN = 2  # BF16: the dequantized output a ternary linear drains to


@dataclass(frozen=True, slots=True)
class TernaryKey:
    """The fields of a ternary-linear row its mapping depends on (hashable, for the cache).

    Attributes:
        m, k, n: tokens, inputs and outputs of one step; steps: the row's steps.
        act_in_step: input bytes of one step; out_elem_bytes: bytes of one output as drained.
        density: share of non-zero weights (1 when unknown).
        nnz_lo, nnz_hi, nnz_hist: the histogram of non-zeros per row (``skip`` weights).
        act_zero: share of zero activations (0 when unknown).
    """

    m: int
    k: int
    n: int
    steps: int
    act_in_step: int
    out_elem_bytes: int
    density: float
    nnz_lo: int
    nnz_hi: int
    nnz_hist: str
    act_zero: float = 0.0


def ternary_key(row) -> TernaryKey:
    """The fields of trace row ``row`` (a namedtuple with the trace columns) its mapping depends on."""
    steps = int(row.steps)
    zero = float(row.zero_frac)
    density = 1.0 if math.isnan(zero) else 1.0 - zero
    out_elem = _OUT_BYTES_AFTER_DRAIN if row.out_dtype == "int32" else max(1, row.act_out_bytes // max(
        1, row.m * row.n * steps))
    act_zero = float(getattr(row, "act_zero_frac", math.nan))
    return TernaryKey(int(row.m), int(row.k), int(row.n), steps, int(row.act_in_bytes) // steps, int(out_elem),
                      density, int(row.nnz_lo), int(row.nnz_hi), str(row.nnz_hist),
                      0.0 if math.isnan(act_zero) else act_zero)


def _token_blocks(tlu: TluSpec, m: int) -> list[int]:
    """Token blocks worth trying: powers of two up to the accumulators, and the largest legal one."""
    top = min(tlu.acc_per_tree, m)
    out = {top}
    b = 1
    while b < top:
        out.add(b)
        b *= 2
    return sorted(out)


def _pick(candidates: list, objective: str):
    """The candidate (cycles, pj, payload) the objective prefers; the first wins ties."""
    if objective == "latency":
        key = lambda c: (c[0], c[1])  # noqa: E731
    elif objective == "energy":
        key = lambda c: (c[1], c[0])  # noqa: E731
    else:
        key = lambda c: (c[0] * c[1], c[0])  # noqa: E731
    return min(candidates, key=key)


@functools.lru_cache(maxsize=8192)
def map_ternary(chip: Chip, placement: Placement, key: TernaryKey, objective: str, scaling: str) -> OpCost:
    """Map the ternary linear ``key`` (:func:`ternary_key` of its trace row) onto ``chip``: the
    legal mapping ``objective`` prefers (module docstring), its cycles, traffic and events.

    Cached per (chip, placement, key, objective, scaling): a sweep maps each op signature once
    per chip (:func:`tritium.sim.mapping.clear_caches` forgets them).
    """
    tlu, cores = chip.tlu, chip.total_cores
    m, k, n, steps = key.m, key.k, key.n, key.steps
    skip = tlu.zero_handling == "skip" and bool(key.nnz_hist)
    act_skip = tlu.zero_act == "skip"
    styled = tlu.style != "adder_tree" and not act_skip  # cycles and counts from sim/datapath.py
    density = key.density
    w_port = chip.sram.weight.bits_per_cycle
    a_port = chip.sram.act.bits_per_cycle
    if skip:
        hist = np.array(key.nnz_hist.split(), dtype=np.int64)
        window = gather_window(tlu)
        # slices of `width` non-zeros, each drawn from at most `window` activations
        slices = max(expected_skip_slices(tlu, key.nnz_lo, key.nnz_hi, hist), float(-(-k // window)))
        bits_per_weight = skip_storage_bits_per_weight(density)
        word_bits = tlu.rows * tlu.width * bits_per_weight / max(density, 1e-9)  # width non-zeros and their bitmap
        slice_bits = window * tlu.act_bits
    elif act_skip:
        window = 2 * tlu.width  # a window of activations and its weights per issue (docs/datapaths.md)
        slices = float(-(-k // window))
        bits_per_weight = tlu.weight_bits_per_weight
        word_bits = weight_word_bits(tlu.rows, window, tlu.weight_encoding)
        slice_bits = window * tlu.act_bits
    else:
        slices = float(-(-k // tlu.width))
        bits_per_weight = tlu.weight_bits_per_weight
        window = tlu.width
        word_bits = tlu_word_bits(tlu)
        slice_bits = tlu.width * tlu.act_bits
    word_cycles = max(1, math.ceil(word_bits / w_port))
    slice_cycles = max(1, math.ceil(slice_bits / a_port))
    per_window = window_cycles(tlu.width, 1.0 - key.act_zero) if act_skip else 1.0
    tok_cycles = max(per_window, slice_cycles) if act_skip else slice_cycles
    tiles = -(-n // tlu.rows)
    per_core = -(-tiles // cores)
    depth = tlu.pipeline_depth_cycles
    in_b = key.act_in_step
    out_b = m * n * key.out_elem_bytes
    w_bytes = math.ceil(k * n * bits_per_weight / 8)
    act_cap = chip.sram.act.capacity_bytes
    w_cap = chip.sram.weight.capacity_bytes
    db = 2 if chip.dma.double_buffered else 1
    in_row = in_b / m  # input bytes of one token
    fits = in_b + math.ceil(out_b / cores) <= act_cap
    streamed = not placement.weights_resident
    tile_w_bytes = tlu.rows * k * bits_per_weight / 8  # one tile's weights, all of K

    step = tlu.rows * cores  # outputs of one tile on every core

    def n_tile_fitting() -> int:
        # the most outputs whose weights (each core its share) fit the weight buffer (half, double-buffered)
        per_core_tiles = max(1, int((w_cap / db) // tile_w_bytes))
        return min(n, per_core_tiles * step)

    def m_tile_fitting(n_tile: int) -> int:
        per_token = in_row + math.ceil(n_tile / cores) * key.out_elem_bytes
        return max(1, min(m, int((act_cap / db) // per_token)))

    def n_tiles() -> list[int]:
        # the tilings worth trying: the smallest chunk (most tokens fit beside it), the largest whose
        # weights fit, and the largest that still lets every token's inputs stay (inputs read once)
        if not streamed:
            return [n]
        top = n_tile_fitting()
        all_m = int(((act_cap / db) / m - in_row) / key.out_elem_bytes * cores) // step * step
        return sorted({min(step, n), top} | ({min(all_m, top)} if all_m >= step else set()))

    def dram_nest(order: str, n_tile: int) -> tuple[int, int, float, float, float]:
        """(m_tile, n_tile, weight bytes, input bytes read, output bytes written) of the DRAM loop nest."""
        if fits:  # inputs and outputs stay on chip; streamed weights pass once
            return m, n_tile, (w_bytes if streamed else 0.0), 0.0, 0.0
        if order == "weights_outer":  # inputs re-read per weight chunk unless every token's stay
            m_tile = m_tile_fitting(n_tile)
            rereads = 1 if m_tile >= m else -(-n // n_tile)
            return m_tile, n_tile, (w_bytes if streamed else 0.0), in_b * rereads, out_b
        whole = per_core * tile_w_bytes <= w_cap / db  # this op's weights fit: loaded once
        n_tile = n if whole else n_tile
        m_tile = m_tile_fitting(n_tile)
        loads = 1 if whole else -(-m // m_tile)  # streamed weights re-read per token chunk
        return m_tile, n_tile, (w_bytes * loads if streamed else 0.0), in_b, out_b

    candidates = []
    schedules = {}
    for block in _token_blocks(tlu, m):
        if styled:
            sched = schedules[block] = style_schedule(tlu, m, k, n, cores=cores, token_block=block,
                                                      weight_port_bits=w_port, act_port_bits=a_port)
            sched_cycles, word_reads, slice_reads = sched.cycles, sched.weight_word_reads, sched.act_slice_reads
        else:
            full, rem = divmod(m, block)
            group = full * max(block * tok_cycles, word_cycles) + (max(rem * tok_cycles, word_cycles) if rem else 0)
            blocks = full + (1 if rem else 0)
            sched_cycles = math.ceil(per_core * slices * group) + depth
            word_reads = tiles * slices * blocks
            slice_reads = tiles * slices * m
        for order in ORDERS:
            if fits and order == "tokens_outer":
                continue  # every token's inputs stay: one token chunk, the two orders are the same nest
            for n_tile in (n_tiles() if not fits else [n_tile_fitting() if streamed else n]):
                m_tile, n_tile, w_dram, in_dram, dram_w = dram_nest(order, n_tile)
                reads, writes = sram_buffers()
                reads["weight"] = word_reads * word_bits / 8
                reads["act"] = slice_reads * slice_bits / 8 + dram_w  # + outputs read out by the DMA
                writes["act"] = out_b + in_dram  # drained (dequantized) outputs + staged inputs
                writes["weight"] = w_dram  # streamed weights staged in the weight buffer
                dram = DramTraffic()
                dram.reads["stream"], dram.reads["mixed"], dram.writes["mixed"] = w_dram, in_dram, dram_w
                cycles = max(sched_cycles, math.ceil(sram_port_cycles(chip, reads, writes)))
                pj = traffic_pj(chip, scaling, reads, writes, dram)
                payload = (block, order, m_tile, n_tile, cycles, reads, writes, dram)
                candidates.append((max(cycles, dram_time(chip, dram)), pj, payload))
    _, _, best = _pick(candidates, objective)
    block, order, m_tile, n_tile, cycles, reads, writes, dram = best
    unit_cycles = math.ceil(per_core * slices * m * per_window) + depth
    dense_slices = -(-k // tlu.width)
    toggling = k if tlu.zero_handling == "none" else density * k
    act_on = 1.0 - key.act_zero if tlu.zero_act != "none" else 1.0  # zero activations held still
    streamed_per_row = density * k if skip else float(k)
    events = dict(
        tlu_inputs=steps * m * tiles * tlu.rows * dense_slices * tlu.width,
        tlu_active_inputs=float(steps * m * n * toggling * act_on),
        tlu_acc_updates=steps * m * n * math.ceil(streamed_per_row / tlu.width),
        gather_inputs=float(steps * m * n * density * k) if skip else 0.0,
        gather_levels=int(math.log2(window)) if skip or act_skip else 0,
        macs=steps * m * k * n,
        token_block=block, m_tile=m_tile, n_tile=n_tile, order=order,
        mapping=(f"TLU token block {block}, {order.replace('_', ' ')}, "
                 f"m_tile {m_tile}, n_tile {n_tile}" + (", skip" if skip else "")
                 + (", zero activations skipped" if act_skip else "")
                 + (f", {tlu.style}" if tlu.style != "adder_tree" else "")),
    )
    if tlu.zero_act != "none":
        events["zero_checks"] = steps * m * tiles * math.ceil(slices) * (window if act_skip else tlu.width)
    if act_skip:
        fed = steps * m * tiles * tlu.rows * slices * per_window * tlu.width  # row inputs fed, compacted
        events.update(tlu_inputs=math.ceil(fed), weight_selects=fed, compact_inputs=events["zero_checks"],
                      tlu_acc_updates=math.ceil(steps * m * n * slices * per_window))
    if styled:
        sched = schedules[block]
        if tlu.style == "lut":
            g = tlu.lut_group
            weight_on = 1.0 - (1.0 - density) ** g if tlu.zero_handling == "gate" else 1.0  # all-zero groups
            events.update(tlu_active_inputs=float(steps * sched.table_reads * weight_on),
                          tlu_acc_updates=steps * m * n * dense_slices,
                          lut_builds=steps * sched.table_builds,
                          lut_build_adds=float(steps * sched.table_builds * max(sched.table_entries - g, 0) * act_on))
        else:  # mac: every product that toggles is a multiply
            events.update(tlu_acc_updates=steps * m * n * dense_slices)
    scale = lambda d: {b: v * steps for b, v in d.items()}  # noqa: E731
    return cost_record(chip, "tlu", unit_cycles * steps, cycles * steps, dram.scaled(steps), scale(reads),
                       scale(writes), **events)
