"""``simulate(chip, trace) -> SimResult``: time, energy and area of one request on one chip.

The per-op table holds each trace row's cost on its own (cycles by component,
what bound it, energy by component, bytes by memory level); the totals come
from the SimPy timeline of :mod:`tritium.sim.engine`, where ops overlap as the
chip allows. GPU baselines produce the same :class:`~tritium.sim.result.SimResult`.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from tritium.base.errors import TritiumError
from tritium.sim.chip import Chip, load_chip
from tritium.sim.energy import UNIT_ENERGY_PARTS, dram_background_w, op_energy, static_power_w
from tritium.sim.result import (
    ENERGY_COMPONENTS,
    ArithmeticRatios,
    Energy,
    SimResult,
    Totals,
    component_of,
    request_totals,
)
from tritium.sim.tech import arithmetic_energy_ratio, tech
from tritium.sim.die import ON_DIE_COMPONENTS, OVERHEAD_ITEMS, Die, resolve_die
from tritium.sim.engine import OpTiming, chunk_count, schedule_block
from tritium.sim.mapping import DEFAULT_OBJECTIVE, check_objective, map_op
from tritium.sim.memory import MemoryNeed, memory_needed
from tritium.sim.work import Placement, dram_cycles, placement_for
from tritium.workloads.dataflow import StepRun, block_plan
from tritium.workloads.trace_facts import TraceFacts
from tritium.workloads.trace_record import Trace

__all__ = ["simulate", "write_result", "context_warning", "ternary_operand_j", "OP_COLUMNS"]

OP_COLUMNS = (
    "unit", "mapping", "token_block", "m_tile", "n_tile", "loop_order",
    "compute_cycles", "sram_cycles", "dram_cycles", "link_cycles", "cycles", "seconds", "bound",
    "utilization", "dram_bytes", "sram_bytes", "link_bytes",
    *(f"energy_{c}_j" for c in ENERGY_COMPONENTS), "energy_j",
)
"""Columns :func:`simulate` adds to the trace's columns in :attr:`SimResult.ops`."""


def simulate(
    chip: Chip | str | Path,
    trace: Trace | pd.DataFrame,
    *,
    scaling: str = "bitnet",
    mapping_objective: str = DEFAULT_OBJECTIVE,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Simulate ``trace`` (a :class:`~tritium.workloads.Trace` from :func:`tritium.workloads.trace`,
    or a trace table with its metadata in ``attrs``, read once by
    :meth:`Trace.from_table <tritium.workloads.Trace.from_table>`) on ``chip``.

    Each distinct op is mapped onto the chip by :func:`tritium.sim.mapping.map_op`
    (its loop nest, tiles and buffer use, chosen for ``mapping_objective``:
    ``latency``, ``energy`` or ``edp``), and its cycles, traffic and energy all come
    from that one mapping. ``scaling`` names how technology figures are scaled from
    45 nm (see :mod:`tritium.sim.tech`). ``progress(done, total)`` is called per block.

    What depends on the trace alone (the distinct ops, the blocks' layer structure:
    :attr:`Trace.facts <tritium.workloads.Trace.facts>`) is worked out once per record and
    kept on it, so pass one record to every simulation of a sweep.

    Raises:
        SpecError: the chip's accumulator is too narrow for the trace's longest
            ternary dot product (names both numbers).
        TraceError: the trace table is malformed.
    """
    chip = load_chip(chip)
    check_objective(mapping_objective)
    trace = Trace.of(trace)
    if chip.pipeline_stages > 1:
        from tritium.sim.pipeline import simulate_pipeline  # stages of tensor-parallel groups

        return simulate_pipeline(chip, trace, scaling=scaling, mapping_objective=mapping_objective,
                                 progress=progress)
    chip, die = resolve_die(chip, scaling)  # clock past fmax refused; power cap lowers the clock
    facts = trace.facts
    if facts.max_ternary_k is not None:
        chip.tlu.check_reduction_length(facts.max_ternary_k)
    placement = placement_for(chip, facts.ternary_weights, facts.kv_bytes)
    works, timings = _distinct_costs(chip, placement, facts, mapping_objective, scaling)
    _check_cycle_range(chip, facts, timings, trace)
    unit_energy = _unit_energy(chip, works, scaling, die.operating_point.energy_factor)
    ops = _op_table(chip, facts, works, timings, unit_energy)
    block_cycles = _compose(chip, facts, timings, progress)
    memory = chip_memory_needed(chip, placement, facts)
    totals = _totals(chip, facts, ops, block_cycles, scaling, trace, die, memory,
                     tlu_j=float(unit_energy[facts.codes, UNIT_ENERGY_PARTS.index("tlu")].sum()) if len(works) else 0.0)
    spilled_distinct = np.array([w.unit != "dma" and w.dram_write_bytes > 0 for w in works], dtype=bool)
    spilled = int(np.count_nonzero(spilled_distinct[facts.codes])) if len(works) else 0
    capacity = _dram_capacity_note(totals)
    notes = [
        (f"weights {'resident in SRAM' if placement.weights_resident else 'streamed from DRAM'} "
         f"({placement.ternary_weight_bytes / 2**20:.1f} MiB ternary at {chip.tlu.weight_bits_per_weight:g} "
         f"bits/weight, {chip.weight_sram_bytes / 2**20:.1f} MiB weight SRAM)") if facts.max_ternary_k is not None
        else "no ternary weights: the high-precision weights stream from DRAM",
        f"KV cache {'resident in SRAM' if placement.kv_resident else 'in DRAM'}",
        f"activations go through DRAM in {spilled} ops "
        f"whose step does not fit {chip.sram.act.capacity_kib} KiB of activation SRAM per core",
        capacity,
        _dram_note(chip),
        f"mapping objective: {mapping_objective} (each op's loop nest and tiles: the ops table's mapping column)",
        f"attention: {'fused (FlashAttention-style tiles, scores stay in SRAM)' if chip.attention.fused else 'unfused (scores that do not fit go through DRAM)'}",
        f"technology scaling: {scaling}",
        _clock_note(chip, die),
        (f"die {die.area_mm2['total']:.1f} mm^2: datapath and PHYs {die.datapath_mm2:.1f}, control, NoC, "
         f"DMA, PLL, I/O and DFT {sum(die.area_mm2[k] for k in OVERHEAD_ITEMS):.1f}, white space "
         f"{die.area_mm2['white_space']:.1f} ({die.shoreline})"),
        (f"peak power {die.peak_chip_w:.3g} W per chip (die {die.peak.total_w:.3g} W with every unit busy, DRAM and "
         f"link PHYs {die.peak_memory_w:.3g} W at full bandwidth)"),
    ]
    if chip.tlu.zero_act == "skip" or (chip.tlu.zero_act == "gate" and chip.tlu.style != "adder_tree"):
        notes.append(f"zero_act = {chip.tlu.zero_act} on a {chip.tlu.style} datapath: model only, no RTL (the HDL "
                     "gates zero activations in the adder tree only)")
    if chip.tlu.zero_handling == "skip":
        notes.append("zero_handling = skip: model only, no RTL (the HDL builds none and gate); weights stored as a "
                     "non-zero bitmap plus signs, with a gather network in area and energy")
    warnings = [context_warning(trace)] if trace.context_exceeded else []
    if facts.max_ternary_k is None:
        warnings.append(f"{trace.model or 'the model'} has no ternary linears: every weight matmul runs on "
                        "the MAC array or the vector unit and the adder trees stay idle (for a ternary version "
                        "of an FP model, trace it ternarized: --ternarize)")
    if not totals.fits_in_memory:
        warnings.append(capacity)
    return SimResult(ops, totals, dict(die.area_mm2), chip.name, trace.model, trace.scenario_dict(), notes, warnings)


def _clock_note(chip: Chip, die: Die) -> str:
    op = die.operating_point
    text = (f"clock {chip.clock_mhz:g} MHz at {op.voltage_v:.3g} V (the pipeline reaches {op.fmax_mhz:.0f} MHz at "
            f"{chip.node_nm} nm, critical stage {op.critical_stage!r}; dynamic energy x{op.energy_factor:.3g}, "
            f"leakage x{op.leakage_factor:.3g} of nominal)")
    if die.capped:
        text += (f"; power_cap_w = {chip.power_cap_w:g} lowered it from {die.nominal_clock_mhz:g} MHz "
                 f"(peak {die.peak_chip_w:.3g} W per chip)")
    elif chip.dvfs:
        text += "; dvfs: lowest voltage that closes the clock"
    return text


def context_warning(trace: Trace) -> str:
    """The warning for a trace whose prompt plus output exceed the model's trained context."""
    tokens = trace.prefill + trace.decode
    limit = trace.max_position
    within = f" of {limit:,} tokens" if limit else ""
    return (f"context exceeded: prefill + decode = {tokens:,} tokens is longer than {trace.model or 'the model'}'s "
            f"trained context{within}; the figures extrapolate a model beyond what it was trained for")


def _dram_note(chip: Chip) -> str:
    """What the DRAM sustains and why (the bandwidth every transfer of the run is timed at)."""
    from tritium.sim.dram import refresh_overhead, sustained_bandwidth_fraction

    kind = chip.dram.type
    peak = chip.dram.bandwidth_gb_s * chip.chips
    stream, kv, mixed = (sustained_bandwidth_fraction(kind, p) for p in ("stream", "kv", "mixed"))
    refresh = refresh_overhead(kind)
    rows = 1 - stream / (1 - refresh)
    return (f"DRAM: {kind} sustains {stream * peak:,.1f} of {peak:,.1f} GB/s on weight streams ({stream:.1%}: "
            f"refresh costs {refresh:.1%}, row changes {rows:.1%}), {kv:.1%} on KV pages and "
            f"{mixed:.1%} on spilled activations (read/write turnaround); background and refresh power "
            f"{dram_background_w(chip):.3g} W over the whole run (sim/dram.py)")


RUNTIME_RESERVE_FRACTION = 0.10
"""DRAM a chip's runtime keeps for itself: the same 10% the GPU model reserves (vLLM's default
``gpu_memory_utilization = 0.9``), so both sides hold models by the same rule."""


def chip_memory_needed(chip: Chip, placement: Placement, facts: TraceFacts) -> MemoryNeed:
    """What the chips' DRAM must hold (:func:`tritium.sim.memory.memory_needed`), by the GPU
    model's accounting: the ternary weights at the chip's encoding and the other weights, the
    embedding table (a tied LM head held once), the final KV cache at the trace's KV dtype, the
    largest op's input and output, and :data:`RUNTIME_RESERVE_FRACTION` of the DRAM."""
    return memory_needed(weight_bytes=placement.ternary_weight_bytes + facts.held_weight_bytes,
                         embedding_bytes=facts.embedding_table_bytes, kv_cache_bytes=facts.kv_bytes,
                         activation_bytes=facts.peak_act_bytes,
                         reserve_bytes=RUNTIME_RESERVE_FRACTION * chip.dram_capacity_bytes)


def _dram_capacity_note(totals: Totals) -> str:
    """Whether the chips' DRAM holds what :func:`chip_memory_needed` counts (``totals.fits_in_memory``,
    beside the bytes needed and held by all chips). The simulator does not model paging, so a model
    that does not fit is noted, not refused: its figures are those of a chip with enough DRAM."""
    needed_bytes, have = totals.memory_needed_bytes, totals.memory_capacity_bytes
    if not totals.fits_in_memory:
        return (f"DRAM too small: the weights, embedding, KV cache, activations and a 10% runtime reserve need "
                f"{needed_bytes / 2**30:.2f} GiB, the DRAM holds {have / 2**30:.2f} GiB (figures assume it fits)")
    return (f"DRAM holds the weights, embedding, KV cache, activations and a 10% runtime reserve: "
            f"{needed_bytes / 2**30:.2f} of {have / 2**30:.2f} GiB")


def _op_costs(chip: Chip, placement: Placement, trace: Trace, objective: str = DEFAULT_OBJECTIVE,
              scaling: str = "bitnet"):
    """OpCost and per-step OpTiming for every row, computed once per distinct op."""
    facts = trace.facts
    works, timings = _distinct_costs(chip, placement, facts, objective, scaling)
    return [works[c] for c in facts.codes], [timings[c] for c in facts.codes]


def _distinct_costs(chip: Chip, placement: Placement, facts: TraceFacts, objective: str, scaling: str):
    """OpCost (from the op's mapping) and per-step OpTiming of each distinct op (``facts.rows``)."""
    weight_buffer = chip.sram.weight.capacity_bytes * chip.total_cores
    works, timings = [], []
    for row in facts.rows:
        work = map_op(chip, placement, row, objective=objective, scaling=scaling)
        steps = row.steps
        dram_in = dram_cycles(chip, math.ceil(work.dram_read_bytes / steps), work.dram_read_fraction)
        dram_out = dram_cycles(chip, math.ceil(work.dram_write_bytes / steps), work.dram_write_fraction)
        link = _ceil_div(work.link_cycles, steps)
        dram_bytes = work.dram_read_bytes + work.dram_write_bytes
        timing = OpTiming(work.unit, _ceil_div(work.compute_cycles, steps), dram_in,
                          dram_out, link, chunk_count(dram_bytes / steps, weight_buffer, chip.dma.double_buffered))
        works.append(work)
        timings.append(timing)
    return works, timings


MAX_CYCLES = 2**62
"""Most cycles a request may take: per-op and block cycle counts are int64, and every op's
serial cost (compute, DRAM in and out and link, one after another) summed over the request must
stay below this, checked exactly in Python integers before any int64 array is formed."""


def _check_cycle_range(chip: Chip, facts: TraceFacts, timings, trace: Trace) -> None:
    """Refuse a request whose cycle count could leave int64 (an absurdly slow DRAM or link for its clock)."""
    if not timings:
        return
    per_step = [t.compute + t.dram_in + t.dram_out + t.link for t in timings]
    steps = np.zeros(len(timings), dtype=np.int64)  # steps per row are bounded by the scenario (<= 2^21)
    np.add.at(steps, facts.codes, facts.steps)
    total = sum(cycles * int(n) for cycles, n in zip(per_step, steps.tolist()))
    if total >= MAX_CYCLES:
        years = total / chip.clock_hz / 3.15576e7
        raise TritiumError(
            f"simulate: the request (batch {trace.batch}, prefill {trace.prefill}, decode "
            f"{trace.decode}) would take up to {total:.3g} cycles on {chip.name} ({years:.3g} years at "
            f"{chip.clock_mhz:g} MHz), more than the 2^62 a simulation counts exactly; shorten the request or give "
            f"the chip more DRAM or link bandwidth for its clock")


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _unit_energy(chip: Chip, works, scaling: str, energy_factor: float = 1.0) -> np.ndarray:
    """Dynamic energy of each distinct op by :data:`~tritium.sim.energy.UNIT_ENERGY_PARTS`, joules;
    ``energy_factor`` scales the on-die parts ((V/Vnom)^2 of the operating point)."""
    energy = np.array([list(op_energy(chip, w, scaling).values()) for w in works],
                      dtype=np.float64).reshape(len(works), len(UNIT_ENERGY_PARTS))
    if energy_factor != 1.0:
        energy = energy * np.array([energy_factor if c in ON_DIE_COMPONENTS else 1.0 for c in UNIT_ENERGY_PARTS])
    return energy


def _by_component(unit_energy: np.ndarray, kinds: list[str]) -> np.ndarray:
    """Each distinct op's unit energies regrouped by :data:`~tritium.sim.result.ENERGY_COMPONENTS`:
    its compute (datapath, MAC array, vector unit) to the work it does (:func:`component_of`, the
    GPU model's rule), the SRAM to ``memory_path``, DRAM and link as they are."""
    out = np.zeros((len(kinds), len(ENERGY_COMPONENTS)))
    compute = unit_energy[:, [UNIT_ENERGY_PARTS.index(p) for p in ("tlu", "mac_array", "vector")]].sum(axis=1)
    out[np.arange(len(kinds)), [ENERGY_COMPONENTS.index(component_of(k)) for k in kinds]] = compute
    for part, comp in (("sram", "memory_path"), ("dram", "dram"), ("link", "link")):
        out[:, ENERGY_COMPONENTS.index(comp)] = unit_energy[:, UNIT_ENERGY_PARTS.index(part)]
    return out


def _op_table(chip: Chip, facts: TraceFacts, works, timings, unit_energy: np.ndarray) -> pd.DataFrame:
    """The per-op table: the trace's columns and :data:`OP_COLUMNS`, from the distinct ops' costs
    and their energies by unit (:func:`_unit_energy`)."""
    trace, codes, steps = facts.frame, facts.codes, facts.steps
    compute = np.array([w.unit_cycles for w in works], dtype=np.int64)[codes]
    sram = np.array([t.compute for t in timings], dtype=np.int64)[codes] * steps
    sram = np.maximum(sram - compute, 0)  # the port stalls over the unit's own cycles, if any
    dram = np.array([t.dram for t in timings], dtype=np.int64)[codes] * steps
    link = np.array([t.link for t in timings], dtype=np.int64)[codes] * steps
    parts = np.stack([compute, compute + sram, dram, link])
    cycles = parts.max(axis=0)
    bound = np.array(["compute", "sram", "dram", "link"])[parts.argmax(axis=0)]
    bound[cycles == 0] = "none"
    distinct_units = [w.unit for w in works]
    units = [distinct_units[c] for c in codes]
    peak = _peak_macs_per_cycle(chip, distinct_units)[codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where((cycles > 0) & (peak > 0), facts.macs / (peak * cycles), 0.0)
    n = len(codes)
    energy = _by_component(unit_energy, [row.kind for row in facts.rows])[codes]
    cols = {
        "unit": units,
        "mapping": _per_row([w.mapping for w in works], codes),
        "token_block": _per_row([w.token_block for w in works], codes),
        "m_tile": _per_row([w.m_tile for w in works], codes),
        "n_tile": _per_row([w.n_tile for w in works], codes),
        "loop_order": _per_row([w.order for w in works], codes),
        "compute_cycles": compute, "sram_cycles": compute + sram, "dram_cycles": dram,
        "link_cycles": link, "cycles": cycles, "seconds": cycles / chip.clock_hz, "bound": bound,
        "utilization": util,
        "dram_bytes": _per_row([w.dram_read_bytes + w.dram_write_bytes for w in works], codes),
        "sram_bytes": _per_row([sum(w.sram_read_bytes.values()) + sum(w.sram_write_bytes.values()) for w in works],
                               codes),
        "link_bytes": _per_row([w.link_bytes for w in works], codes),
    }
    for i, comp in enumerate(ENERGY_COMPONENTS):
        cols[f"energy_{comp}_j"] = energy[:, i] if n else []
    cols["energy_j"] = energy.sum(axis=1) if n else []
    # one concat, not a column insert per field (each insert copies the block manager)
    return pd.concat([trace, pd.DataFrame(cols, index=trace.index)], axis=1)


def _per_row(distinct: list, codes: np.ndarray):
    """Each row's value of a per-distinct-op list (as numpy infers it; a plain list when empty,
    so the column's dtype is what pandas infers from a list of the same values)."""
    return np.array(distinct)[codes] if len(codes) else []


def _peak_macs_per_cycle(chip: Chip, units) -> np.ndarray:
    cores = chip.total_cores
    per_unit = {"tlu": chip.tlu.rows * chip.tlu.width * cores,
                "attention": chip.attention.macs * cores,
                "vector": chip.vector.lanes * cores}
    return np.array([per_unit.get(u, 0) for u in units], dtype=np.float64)


def _compose(chip: Chip, facts: TraceFacts, timings, progress) -> dict[int, int]:
    """Cycles of each block over all its steps, from the SimPy timeline of one step."""
    out = {}
    double_buffered = chip.dma.double_buffered

    def run(selected: StepRun) -> int:
        return _step_cycles(tuple(timings[c] for c in selected.codes), selected.deps, double_buffered)

    for n_done, plan in enumerate(facts.blocks):
        if plan.two is None:
            cycles = run(plan.one)
        else:
            one, two = run(plan.one), run(plan.two)
            cycles = one + plan.more_layers * (two - one)
        out[plan.block] = cycles * plan.steps
        if progress is not None:
            progress(n_done + 1, len(facts.blocks))
    return out


def _block_cycles(chip, idx, layers, kinds, sigs, timings) -> int:
    """Cycles of one step of the block of rows ``idx`` (``timings`` per row), as :func:`_compose` runs it."""
    plan = block_plan(0, 1, idx, layers, kinds, sigs, np.arange(len(timings)))

    def run(selected: StepRun) -> int:
        return _step_cycles(tuple(timings[c] for c in selected.codes), selected.deps, chip.dma.double_buffered)

    if plan.two is None:
        return run(plan.one)
    one, two = run(plan.one), run(plan.two)
    return one + plan.more_layers * (two - one)


@functools.lru_cache(maxsize=1024)
def _step_cycles(ops: tuple[OpTiming, ...], deps: tuple[int, ...], double_buffered: bool) -> int:
    """Cycles of one step's SimPy timeline (:func:`schedule_block`), memoized on its inputs.

    The timeline is a pure function of them, so chips that differ only where timing does
    not (the node, energy figures: neighbours in a design-space sweep) run it once.
    """
    return schedule_block(list(ops), list(deps), double_buffered=double_buffered).cycles


def _totals(chip: Chip, facts: TraceFacts, ops: pd.DataFrame, block_cycles: dict, scaling: str, trace: Trace,
            die: Die, memory: MemoryNeed, tlu_j: float) -> Totals:
    clock = chip.clock_hz
    t_prefill = sum(block_cycles[b] for b in facts.prefill_blocks) / clock
    t_decode = sum(block_cycles[b] for b in facts.decode_blocks) / clock
    total_s = t_prefill + t_decode
    decode_steps = trace.decode
    op = die.operating_point
    # datapath and SRAM leakage, and the overhead logic's, at the operating point's supply
    static_w = static_power_w(chip, scaling) * op.leakage_factor + die.overhead_leakage_w
    dynamic = {c: float(ops[f"energy_{c}_j"].sum()) for c in ENERGY_COMPONENTS}
    dram_idle_j = dram_background_w(chip) * total_s  # background and refresh over the whole run
    dynamic["dram"] += dram_idle_j
    dynamic["static"] = static_w * total_s
    energy = Energy.of(dynamic, dram_background_j=dram_idle_j)
    # The seed's headline (arithmetic only) beside what survives on this chip
    arithmetic = ArithmeticRatios(
        seed_arithmetic_ratio=arithmetic_energy_ratio(chip.node_nm, scaling),
        fp16_matmul_arithmetic_j=facts.ternary_macs * tech(chip.node_nm, scaling).fp16_mac_pj * 1e-12,
        tlu_j=tlu_j, ternary_operand_j=ternary_operand_j(ops), energy_j=energy.total_j)
    return request_totals(
        t_prefill=t_prefill, t_decode=t_decode, decode_steps=decode_steps,
        generated=trace.generated_tokens, energy=energy,
        dram_bytes=int(ops.dram_bytes.sum()), sram_bytes=int(ops.sram_bytes.sum()), link_bytes=int(ops.link_bytes.sum()),
        memory_needed_bytes=int(round(memory.total_bytes)),
        memory_capacity_bytes=int(chip.dram.capacity_bytes * chip.chips),
        fits_in_memory=memory.total_bytes <= chip.dram.capacity_bytes * chip.chips,
        clock_mhz=chip.clock_mhz, fmax_mhz=op.fmax_mhz, supply_v=op.voltage_v,
        peak_power_w=die.peak_chip_w * chip.chips, peak_die_power_w=die.peak.total_w,
        die_area_mm2=die.area_mm2["total"], arithmetic=arithmetic)


def ternary_operand_j(ops: pd.DataFrame) -> float:
    """The SRAM energy of the ternary linears' mappings in an ops table (the operands the
    trees are fed: :attr:`~tritium.sim.result.ArithmeticRatios.ternary_operand_j`)."""
    return float(ops.energy_memory_path_j[ops.kind == "ternary_linear"].sum())


def write_result(result: SimResult, chip: Chip, out_dir: str | Path) -> Path:
    """Write ``ops.parquet`` (the per-op table), ``totals.json`` and the resolved
    ``chip.toml`` into ``out_dir``, each atomically; return the folder."""
    from tritium.base.fileio import atomic_path, json_text, write_text_atomic
    from tritium.sim.chip import chip_to_toml

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "ops.parquet") as tmp:
        result.ops.to_parquet(tmp, index=False)
    write_text_atomic(out / "totals.json", json_text(result.summary()) + "\n")
    write_text_atomic(out / "chip.toml", chip_to_toml(chip))
    return out
