"""The cost record of one mapped op (:class:`OpCost`) and the traffic it is built from.

Every mapping (:mod:`tritium.sim.mapper` for ternary linears, :mod:`tritium.sim.attention_map`
for the multiply-accumulate ops, :mod:`tritium.sim.mapping` for vector and DMA ops) counts its
bytes here the same way: reads and writes per SRAM buffer (:func:`sram_buffers`; the buffer
ports' cycles, :func:`sram_port_cycles`), DRAM traffic by access pattern (:class:`DramTraffic`;
its cycles, :func:`dram_time`, and with the SRAM traffic its energy, :func:`traffic_pj`), and
:func:`cost_record` turns the counts into the :class:`OpCost` that cycles and energy are both
read off: whole bytes, the DRAM's sustained bandwidth shares and its dynamic energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tritium.sim.chip import Chip
from tritium.sim.dram import effective_pj_per_bit, sustained_bandwidth_fraction
from tritium.sim.energy import energy_model
from tritium.sim.work import dram_cycles

__all__ = ["OpCost", "DramTraffic", "sram_buffers", "sram_port_cycles", "dram_time", "traffic_pj",
           "through_act_buffer", "cost_record"]


@dataclass(frozen=True, slots=True)
class OpCost:
    """One trace row mapped onto the chip: totals over its steps.

    Attributes:
        unit: "tlu", "attention", "vector" or "dma".
        unit_cycles: cycles on the unit if every buffer port kept up.
        compute_cycles: cycles with port stalls (>= ``unit_cycles``).
        dram_read_bytes, dram_write_bytes: bytes from and to DRAM (all chips).
        sram_read_bytes, sram_write_bytes: per buffer ("weight", "act", "kv"), bytes, all cores.
        link_bytes: bytes each chip sends over the chip-to-chip links.
        link_cycles: cycles of the collective that ends the op (:mod:`tritium.sim.collectives`).
        dram_read_fraction, dram_write_fraction: the share of the DRAM's peak bandwidth the op's
            reads and writes sustain for their access patterns (:mod:`tritium.sim.dram`).
        dram_pj: dynamic DRAM energy of the op's traffic, pJ.
        tlu_active_inputs: sign-select inputs that toggle (non-gated weights x tokens).
        tlu_inputs: all sign-select inputs fed (including zero-padding of the last slice).
        tlu_acc_updates: accumulator additions.
        gather_inputs: inputs routed through the ``skip`` gather network.
        gather_levels: 2:1 mux levels of that network (log2 of its window), or of the
            ``zero_act = "skip"`` compaction network and weight selects.
        lut_builds: ``lut`` tables built (one group's entries, one copy); lut_build_adds: the
            builders' additions that toggle (``entries - g`` per table, fewer with ``zero_act``).
            For ``lut`` the ``tlu_active_inputs`` are the table reads that toggle.
        zero_checks: activations through zero detectors (``zero_act`` gate or skip).
        compact_inputs: activations through the ``zero_act = "skip"`` compaction network;
            weight_selects: row inputs whose weight code the rows' selects route.
        macs: multiply-accumulates of the op (as in the trace).
        mac_passes: MAC-unit operations, ``macs`` times the precision passes.
        vector_ops: elementary vector-unit operations.
        mapping: the chosen mapping in words (the ops table's ``mapping`` column).
        token_block, m_tile, n_tile, order: the TLU mapping's parameters (0 / "" for other units).
    """

    unit: str
    unit_cycles: int
    compute_cycles: int
    dram_read_bytes: int
    dram_write_bytes: int
    sram_read_bytes: dict
    sram_write_bytes: dict
    link_bytes: int
    tlu_active_inputs: float
    tlu_inputs: int
    tlu_acc_updates: int
    gather_inputs: float
    gather_levels: int
    macs: int
    mac_passes: int
    vector_ops: int
    mapping: str
    token_block: int = 0
    m_tile: int = 0
    n_tile: int = 0
    order: str = ""
    link_cycles: int = 0
    dram_read_fraction: float = 1.0
    dram_write_fraction: float = 1.0
    dram_pj: float = 0.0
    lut_builds: int = 0
    lut_build_adds: float = 0.0
    zero_checks: int = 0
    compact_inputs: int = 0
    weight_selects: float = 0.0

    @property
    def port_stall_cycles(self) -> int:
        """Cycles the op waits on buffer ports: ``compute_cycles - unit_cycles``."""
        return self.compute_cycles - self.unit_cycles


def sram_buffers() -> tuple[dict, dict]:
    """Reads and writes of an op per SRAM buffer ("weight", "act", "kv"), bytes, all zero."""
    return {"weight": 0.0, "act": 0.0, "kv": 0.0}, {"weight": 0.0, "act": 0.0, "kv": 0.0}


def sram_port_cycles(chip: Chip, reads: dict, writes: dict) -> float:
    """Cycles the busiest SRAM buffer's ports need for these reads and writes (all cores)."""
    cores = chip.total_cores
    return max((reads[b] + writes[b]) * 8 / (getattr(chip.sram, b).bits_per_cycle * cores)
               for b in ("weight", "act", "kv"))


class DramTraffic:
    """DRAM traffic of one op by access pattern (:mod:`tritium.sim.dram`): ``stream`` for weights
    streamed in order, ``kv`` for KV-cache pages and embedding rows, ``mixed`` for activation
    tiles spilled and read back (reads and writes interleaved)."""

    __slots__ = ("reads", "writes")

    def __init__(self) -> None:
        self.reads = {"stream": 0.0, "kv": 0.0, "mixed": 0.0}
        self.writes = {"stream": 0.0, "kv": 0.0, "mixed": 0.0}

    def scaled(self, k: float) -> "DramTraffic":
        """This traffic ``k`` times (an op's steps)."""
        out = DramTraffic()
        out.reads = {p: v * k for p, v in self.reads.items()}
        out.writes = {p: v * k for p, v in self.writes.items()}
        return out

    @property
    def read_bytes(self) -> float:
        return sum(self.reads.values())

    @property
    def write_bytes(self) -> float:
        return sum(self.writes.values())


def _fraction(chip: Chip, by_pattern: dict) -> float:
    """The sustained share of peak bandwidth for this mix of patterns (time-weighted), 1 if empty."""
    total = sum(by_pattern.values())
    if total <= 0:
        return 1.0
    dram_type = chip.dram.type
    return total / sum(v / sustained_bandwidth_fraction(dram_type, p) for p, v in by_pattern.items() if v)


def _dram_pj(chip: Chip, dram: DramTraffic) -> float:
    """Dynamic DRAM energy of the traffic, pJ: the chip's override per bit, else the DRAM model's
    figure for each pattern (activation, core access and I/O)."""
    override = chip.dram.energy_pj_per_bit
    pj = 0.0
    for p in ("stream", "kv", "mixed"):
        moved = dram.reads[p] + dram.writes[p]
        if moved:
            pj += moved * 8 * (override or effective_pj_per_bit(chip.dram.type, p))
    return pj


def dram_time(chip: Chip, dram: DramTraffic) -> int:
    """Cycles the DRAM needs for the traffic, reads and writes each at its patterns' sustained share."""
    return (dram_cycles(chip, math.ceil(dram.read_bytes), _fraction(chip, dram.reads))
            + dram_cycles(chip, math.ceil(dram.write_bytes), _fraction(chip, dram.writes)))


def traffic_pj(chip: Chip, scaling: str, reads: dict, writes: dict, dram: DramTraffic) -> float:
    """Dynamic energy of the SRAM reads and writes and the DRAM traffic, pJ (what the mapper's
    ``energy`` and ``edp`` objectives weigh), with ``scaling``'s energy table."""
    e = energy_model(chip, scaling)
    pj = _dram_pj(chip, dram)
    for i, b in enumerate(("weight", "act", "kv")):
        pj += reads[b] * e.sram_read_per_byte[i] + writes[b] * e.sram_write_per_byte[i]
    return pj


def through_act_buffer(row, fits: bool, reads: dict, writes: dict, dram: DramTraffic) -> None:
    """An op's inputs read from and outputs written to the activation buffer; when they do not
    ``fit`` they also come from and go to DRAM (staged through the buffer, pattern ``mixed``)."""
    reads["act"] += row.act_in_bytes
    writes["act"] += row.act_out_bytes
    if not fits:
        dram.reads["mixed"] += row.act_in_bytes
        dram.writes["mixed"] += row.act_out_bytes
        writes["act"] += row.act_in_bytes
        reads["act"] += row.act_out_bytes


def cost_record(chip: Chip, unit, unit_cycles, cycles, dram: DramTraffic, reads, writes, **events) -> OpCost:
    """An :class:`OpCost` with whole-byte counts (buffers keep float sums until here) and the
    DRAM traffic's sustained bandwidth shares and dynamic energy from its access patterns."""
    return OpCost(
        unit=unit, unit_cycles=int(unit_cycles), compute_cycles=int(max(cycles, unit_cycles)),
        dram_read_bytes=int(math.ceil(dram.read_bytes)), dram_write_bytes=int(math.ceil(dram.write_bytes)),
        dram_read_fraction=_fraction(chip, dram.reads), dram_write_fraction=_fraction(chip, dram.writes),
        dram_pj=_dram_pj(chip, dram),
        sram_read_bytes={b: int(math.ceil(v)) for b, v in reads.items()},
        sram_write_bytes={b: int(math.ceil(v)) for b, v in writes.items()},
        link_bytes=0,
        tlu_active_inputs=float(events.get("tlu_active_inputs", 0.0)),
        tlu_inputs=int(events.get("tlu_inputs", 0)),
        tlu_acc_updates=int(events.get("tlu_acc_updates", 0)),
        gather_inputs=float(events.get("gather_inputs", 0.0)),
        gather_levels=int(events.get("gather_levels", 0)),
        lut_builds=int(events.get("lut_builds", 0)),
        lut_build_adds=float(events.get("lut_build_adds", 0.0)),
        zero_checks=int(events.get("zero_checks", 0)),
        compact_inputs=int(events.get("compact_inputs", 0)),
        weight_selects=float(events.get("weight_selects", 0.0)),
        macs=int(events.get("macs", 0)),
        mac_passes=int(events.get("mac_passes", 0)),
        vector_ops=int(events.get("vector_ops", 0)),
        mapping=events.get("mapping", ""),
        token_block=int(events.get("token_block", 0)),
        m_tile=int(events.get("m_tile", 0)),
        n_tile=int(events.get("n_tile", 0)),
        order=events.get("order", ""),
    )
