"""The mapping of each op onto the chip: the one place its cycles, memory traffic and events come from.

Every trace row is *mapped* before it is costed: a loop nest over its M (tokens),
N (outputs) and K (inputs) with tile sizes bounded by the buffers, a loop order,
and what each buffer holds. :func:`map_op` picks the mapping (by an objective:
``latency``, ``energy`` or ``edp``) and derives from it the op's cycles (with the
stalls of buffer ports narrower than the units they feed), its reads and writes per
SRAM buffer, its DRAM traffic with every re-read the tiling implies, and the event
counts the energy model prices. Cycles and energy cannot disagree about the dataflow
because both are read off the same record (:class:`~tritium.sim.op_cost.OpCost`).
``docs/dataflow.md`` works the numbers through for one BitNet b1.58 2B4T FFN layer.

Where each figure is computed:

- :mod:`tritium.sim.tlu_schedule`: the TLU's on-core loop nest (the RTL contract), its
  cycles, port stalls and weight-word, activation-slice and result counts;
  :mod:`tritium.sim.datapath` the ``lut`` and ``mac`` styles' schedules.
- :mod:`tritium.sim.mapper`: ternary linears, the search over token blocks, DRAM loop
  orders and tiles, and the op's traffic and events under the mapping it picks.
- :mod:`tritium.sim.zero_skip`: ``skip`` weights' storage and gather window, and the
  cycles of ``zero_act = "skip"`` windows.
- :mod:`tritium.sim.attention_map`: attention (fused FlashAttention-style or unfused) and
  high-precision linears on the MAC array; :mod:`tritium.sim.precision` the passes a
  product takes at its precision.
- :mod:`tritium.sim.op_cost`: the cost record and the SRAM and DRAM traffic accounting
  every mapping shares.
- here: the dispatch by op kind, vector ops, DMA ops (embedding rows, KV-cache appends) and
  the collective that ends a tensor-parallel op.
"""

from __future__ import annotations

import dataclasses
import math

from tritium.base.errors import SpecError
from tritium.sim.attention_map import map_mac_op
from tritium.sim.chip import Chip
from tritium.sim.collectives import collective
from tritium.sim.cycles import vector_cycles
from tritium.sim.mapper import map_ternary, ternary_key
from tritium.sim.op_cost import (OpCost, DramTraffic, cost_record, sram_buffers, sram_port_cycles,
                                 through_act_buffer)
from tritium.sim.work import Placement
from tritium.workloads.dataflow import ROW_PARALLEL

__all__ = [
    "OBJECTIVES",
    "DEFAULT_OBJECTIVE",
    "TP_REPLICATED",
    "map_op",
    "check_objective",
    "clear_caches",
]

OBJECTIVES = ("latency", "energy", "edp")
"""What the mapper minimizes: cycles (ties broken by energy), energy (ties by cycles),
or their product."""
DEFAULT_OBJECTIVE = "latency"
_VECTOR_KINDS = ("rmsnorm", "quantize", "dequantize", "rope", "softmax", "activation", "residual")


def clear_caches() -> None:
    """Forget every mapping worked out so far (for cold-cache benchmarks)."""
    map_ternary.cache_clear()


def check_objective(objective: object) -> str:
    """Return ``objective`` if it is one of :data:`OBJECTIVES`, else raise :class:`SpecError`."""
    if objective not in OBJECTIVES:
        raise SpecError("mapping_objective", objective, f"must be one of {', '.join(OBJECTIVES)}")
    return objective


def map_op(chip: Chip, placement: Placement, row, *, objective: str = DEFAULT_OBJECTIVE,
           scaling: str = "bitnet") -> OpCost:
    """Map trace row ``row`` (a namedtuple with the trace columns) onto ``chip`` and cost it.

    ``objective`` (one of :data:`OBJECTIVES`) chooses among the legal mappings;
    ``scaling`` prices traffic for the ``energy`` and ``edp`` objectives.
    """
    kind = row.kind
    if kind == "ternary_linear":
        cost = map_ternary(chip, placement, ternary_key(row), objective, scaling)
    elif kind in ("attn_qk", "attn_pv", "linear"):
        cost = map_mac_op(chip, placement, row)
    elif kind in _VECTOR_KINDS:
        cost = _vector_op(chip, row)
    elif kind == "embedding":
        r, w = sram_buffers()
        w["act"] = row.act_out_bytes
        dram = DramTraffic()
        dram.reads["kv"] = row.weight_bytes  # whole rows of the table, scattered like KV pages
        cost = cost_record(chip, "dma", 0, 0, dram, r, w, mapping="gather rows from DRAM")
    elif kind == "kv_write":
        r, w = sram_buffers()
        if placement.kv_resident:
            w["kv"] = row.kv_write_bytes
            cost = cost_record(chip, "dma", 0, 0, DramTraffic(), r, w, mapping="append to the KV buffer")
        else:
            dram = DramTraffic()
            dram.writes["kv"] = row.kv_write_bytes
            cost = cost_record(chip, "dma", 0, 0, dram, r, w, mapping="append to the KV cache in DRAM")
    else:  # validate_trace admits only known kinds
        raise AssertionError(f"unhandled op kind {kind!r}")
    if chip.chips > 1 and row.op in ROW_PARALLEL:
        cost = _with_collective(chip, row, cost)
    return cost


def _with_collective(chip: Chip, row, cost: OpCost) -> OpCost:
    """``cost`` with the collective that ends a tensor-parallel op: an all-reduce of a
    row-parallel projection's BF16 outputs, an all-gather of the vocabulary-parallel LM head's."""
    link = chip.link
    kind = "all_gather" if row.op == "lm_head" else "all_reduce"
    one = collective(kind, row.m * row.n * 2, chip.chips, bandwidth_gb_s=link.bandwidth_gb_s,
                     latency_s=link.latency_ns * 1e-9, efficiency=link.efficiency, algorithm=link.algorithm,
                     topology=link.topology, dims_x=link.dims_x)
    return dataclasses.replace(
        cost, link_bytes=math.ceil(one.bytes_sent * row.steps),
        link_cycles=math.ceil(one.seconds * chip.clock_hz) * row.steps,
        mapping=f"{cost.mapping}; {one.algorithm} {kind.replace('_', '-')} over {chip.chips} chips")


# -- vector ops ----------------------------------------------------------------------------------

TP_REPLICATED = ("attn_norm", "ffn_norm", "final_norm", "attn_residual", "ffn_residual", "attn_quant",
                 "ffn_quant", "head_quant")
"""Ops on the full hidden state that tensor parallelism replicates on every chip (Megatron-style):
they split over the cores of one chip, and every chip does them."""


def _vector_op(chip: Chip, row) -> OpCost:
    copies = chip.chips if chip.chips > 1 and row.op in TP_REPLICATED else 1
    cores = chip.total_cores // copies  # the cores that share one copy of the work
    reads, writes = sram_buffers()
    dram = DramTraffic()
    unit_cycles = vector_cycles(chip.vector, row.kind, row.elements, cores=cores)
    vops = math.ceil(unit_cycles * chip.vector.lanes * cores) * copies
    if copies > 1:
        row = row._replace(**{f: getattr(row, f) * copies for f in ("weight_bytes", "act_in_bytes", "act_out_bytes")})
    if row.kind == "softmax" and chip.attention.fused:
        # fused attention: the scores are tiles in the activation buffer, never in DRAM
        reads["act"] += row.act_in_bytes
        writes["act"] += row.act_out_bytes
        cycles = max(unit_cycles, math.ceil(sram_port_cycles(chip, reads, writes)))
        return cost_record(chip, "vector", unit_cycles, cycles, dram, reads, writes, vector_ops=vops,
                           mapping="fused attention: score tiles in SRAM")
    if row.kind == "dequantize" and row.act_dtype == "int32":
        # fused into the TLU's accumulator drain: the scaling happens on the way out, no SRAM round trip
        return cost_record(chip, "vector", unit_cycles, unit_cycles, dram, reads, writes, vector_ops=vops,
                           mapping="fused into the accumulator drain")
    reads["weight"] += row.weight_bytes  # norm gains
    fits = (row.act_in_bytes + row.act_out_bytes) / chip.total_cores <= chip.sram.act.capacity_bytes * row.steps
    through_act_buffer(row, fits, reads, writes, dram)
    cycles = max(unit_cycles, math.ceil(sram_port_cycles(chip, reads, writes)))
    return cost_record(chip, "vector", unit_cycles, cycles, dram, reads, writes, vector_ops=vops,
                       mapping="streamed through the activation buffer" if fits else "streamed from and to DRAM")
