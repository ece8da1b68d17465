"""Where a trace's data lives on a chip, and what a DRAM transfer takes.

:func:`place` decides once per (chip, trace) whether the ternary weights and the KV
cache stay in SRAM; :func:`dram_cycles` times one transfer. Each op's loop nest,
cycles, traffic and events come from :mod:`tritium.sim.mapping`.

Tensor parallelism over ``chips``: every op is split evenly over all cores of all
chips; the row-parallel projections (``o_proj``, ``down_proj``) and the LM head
then all-reduce their outputs over the link (ring: each chip sends
``2 (chips - 1) / chips`` of the output bytes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from tritium.sim.chip import Chip
from tritium.sim.cycles import transfer_cycles

__all__ = ["Placement", "place", "placement_for", "dram_cycles"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a trace's data lives on a chip (decided once per (chip, trace)).

    Attributes:
        weights_resident: all ternary weights fit in the weight buffers at the
            chip's encoding, so they are loaded once and never read from DRAM again.
        kv_resident: the whole KV cache (at its final length) fits in the KV buffers.
        ternary_weight_bytes: ternary weights at the chip's encoding, bytes.
    """

    weights_resident: bool
    kv_resident: bool
    ternary_weight_bytes: int


def place(chip: Chip, trace: pd.DataFrame) -> Placement:
    """Decide residency of the weights and the KV cache for ``trace`` on ``chip``."""
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
        ternary_weight_bytes=weight_bytes,
    )


def dram_cycles(chip: Chip, nbytes: int, fraction: float = 1.0) -> int:
    """Cycles to move ``nbytes`` between DRAM and SRAM, all chips streaming their share.

    Bandwidth is the chips' DRAM bandwidth together times ``fraction``, the share of peak
    the transfer's access pattern sustains (refresh, row misses, read/write turnaround:
    :func:`tritium.sim.dram.sustained_bandwidth_fraction`); each transfer pays the DRAM
    latency and the DMA setup once, and moves whole bursts.
    """
    bytes_per_cycle = chip.dram.bandwidth_gb_s * 1e9 * chip.chips * fraction / chip.clock_hz
    latency = math.ceil(chip.dram.latency_ns * chip.clock_mhz / 1e3) + chip.dma.setup_cycles
    return transfer_cycles(nbytes, bytes_per_cycle, burst_bytes=chip.dma.burst_bytes, latency_cycles=latency)
