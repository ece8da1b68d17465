"""Pipeline parallelism across chips, and tensor x pipeline parallelism (TP x PP).

A chip with ``pipeline_stages = p > 1`` splits its ``chips`` into ``p`` stages of ``tp_chips``
chips each. Every stage is a Megatron tensor-parallel group (:mod:`tritium.sim.collectives`)
holding a contiguous run of decoder layers: the embedding runs on the first stage, the final
norm and LM head on the last. A request's batch is cut into ``m`` micro-batches (the chip's
``micro_batches``; 0 means ``min(p, batch)``) that flow through the stages GPipe-style
(Huang et al. 2019, arXiv:1811.06965), each stage handing its output activation to the next
over the chip-to-chip link.

How the figures are composed from the existing single-group simulator:

- **Stages.** Each stage's rows of a micro-batch's trace are simulated by
  :func:`tritium.sim.simulate` on a *stage chip*: the chip with ``chips = tp_chips``, one
  stage, and the link only where ``tp_chips > 1``. Each stage's chips therefore hold (and
  stream) only their own layers' weights and KV cache. The micro-batch trace is the request's
  trace with its batch-proportional columns rescaled (:func:`micro_trace`: exact, the same
  table :func:`tritium.workloads.trace` generates for the smaller batch).
- **Split.** ``balance = "cost"`` (the default) simulates the whole micro-batch trace once on
  the stage chip, takes each decoder layer's op seconds per phase (the embedding's added to
  the first layer, the final norm's and LM head's to the last), and keeps the cut with the least
  estimated request time (:func:`best_split`) among those that balance prefill, decode, both,
  and the layer count. It matters: on Llama-3-70B the FP16 LM head weighs as much as about
  thirty ternary layers in decode on the MAC array but about one in prefill, so the last stage
  gets few layers. ``balance = "layers"`` cuts by decoder-layer count alone.
- **Point-to-point sends.** Between stages ``s`` and ``s + 1`` each micro-batch's activation
  (the stage's last op's output of one step: micro-batch x tokens x hidden x 2 bytes for a
  BF16 residual stream) crosses one link hop: ``latency + bytes / (bandwidth x efficiency)``.
  With ``tp_chips > 1`` every chip of a stage sends the whole activation to its peer (Megatron's
  plain send; the scatter/gather optimisation of Narayanan et al. 2021 is not modelled), so
  ``tp_chips`` copies pay the link's pJ/bit. In decode the last stage sends the sampled token
  ids (4 bytes each) back to the first.
- **Prefill** is the makespan of a permutation flow shop: micro-batch ``j`` starts on stage
  ``s`` when it has left stage ``s - 1`` (and its send has arrived) and stage ``s`` has
  finished micro-batch ``j - 1``. With equal stages of ``t`` seconds and free sends it is
  ``(m + p - 1) t``; the stages' idle share, the bubble, is ``(p - 1) / (m + p - 1)``
  (Narayanan et al. 2021, arXiv:2104.04473, section 2.2.1: bubble time over ideal time
  ``(p - 1) / m``).
- **Decode** is a cyclic pipeline: micro-batch ``j``'s next token cannot enter stage 0 before
  its previous token has left the last stage and come back. One decode step of every
  micro-batch takes the steady-state cycle time ``T = max(busiest stage's sum over the
  micro-batches, busiest link's sends, slowest micro-batch's round trip through all stages and
  sends)``: ``max(m, p) t`` for equal stages. Time per output token is ``T``; tokens/s is
  ``batch / T``.
- **Energy** is every stage's dynamic energy over its micro-batches, plus the sends, plus
  every stage's leakage and DRAM background power over the whole composed run: a stage idle in
  a bubble still pays them.
- **Memory.** Each stage must hold its layers' weights and the KV cache of *all* micro-batches
  of its layers (plus the largest activation and the runtime reserve) in its own chips' DRAM.

The per-op table is the stages' tables concatenated, with a ``stage`` column and a
``micro_batches`` column (how many micro-batches of that row's shape ran it): the count,
byte, energy, cycle and second columns are totals over those micro-batches; the shape columns
(``m``, ``groups``) are one micro-batch's.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from typing import Callable

import numpy as np
import pandas as pd

from tritium.base.errors import SpecError, TritiumError
from tritium.sim.chip import Chip
from tritium.sim.result import ENERGY_COMPONENTS, ArithmeticRatios, Energy, PipelineFigures, request_totals
from tritium.sim.mapping import DEFAULT_OBJECTIVE
from tritium.sim.pipeline_schedule import best_split, decode_cycle, micro_batch_sizes, prefill_makespan, split_layers
from tritium.workloads.schema import COUNT_COLUMNS, signatures
from tritium.workloads.trace_record import Trace

__all__ = ["BALANCES", "simulate_pipeline", "stage_chip", "micro_trace"]

BALANCES = ("cost", "layers")
"""How :func:`simulate_pipeline` cuts the layers into stages (see the module docstring)."""

_ATTENTION_KINDS = ("attn_qk", "softmax", "attn_pv")  # batch x heads in ``groups``, tokens in ``m``
_TOKEN_ID_BYTES = 4  # a sampled token id sent from the last stage back to the first


def stage_chip(chip: Chip) -> Chip:
    """One pipeline stage of ``chip``: a tensor-parallel group of ``chip.tp_chips`` chips."""
    return dataclasses.replace(chip, chips=chip.tp_chips, pipeline_stages=1, micro_batches=0,
                               link=chip.link if chip.tp_chips > 1 else None)


def micro_trace(trace: Trace, size: int) -> Trace:
    """``trace`` (of ``trace.batch`` sequences) for a micro-batch of ``size`` sequences.

    Every count column is proportional to the batch except the weights a pass reads (the
    embedding's gathered rows excepted); ``m`` counts tokens of the whole batch except in the
    attention ops, whose ``groups`` count batch x heads. Signatures are recomputed.

    Raises:
        TritiumError: a count of the trace is not a multiple of its batch (not a trace that
            :func:`tritium.workloads.trace` generated), so it cannot be cut exactly.
    """
    batch = trace.batch
    if size == batch:
        return trace
    out = trace.table.copy()
    attention = out.kind.isin(_ATTENTION_KINDS).to_numpy()
    scaled = {col: np.ones(len(out), dtype=bool) for col in COUNT_COLUMNS}
    scaled["weight_bytes"] = (out.kind == "embedding").to_numpy()
    scaled["m"], scaled["groups"] = ~attention, attention
    for col, rows in scaled.items():
        values = out[col].to_numpy()
        if (values[rows] % batch).any():
            raise TritiumError(f"pipeline: the trace's {col!r} is not a multiple of its batch of {batch} in every "
                               "row, so it cannot be cut into micro-batches; trace the request with "
                               "tritium.workloads.trace")
        out[col] = np.where(rows, values // batch * size, values)
    out["signature"] = signatures(out)
    return dataclasses.replace(trace, table=out, scenario=dataclasses.replace(trace.scenario, batch=size))


def simulate_pipeline(
    chip: Chip,
    trace: Trace | pd.DataFrame,
    *,
    scaling: str = "bitnet",
    mapping_objective: str = DEFAULT_OBJECTIVE,
    progress: Callable[[int, int], None] | None = None,
    balance: str = "cost",
):
    """Simulate ``trace`` on ``chip``'s ``pipeline_stages`` stages of ``tp_chips`` chips each.

    :func:`tritium.sim.simulate` calls this for a chip with ``pipeline_stages > 1`` (with one
    stage this is :func:`~tritium.sim.simulate` itself). ``balance`` says how the layers are cut
    (``cost`` or ``layers``, see the module docstring); ``progress(done, total)`` is called per
    stage simulation. Returns a :class:`~tritium.sim.SimResult` whose totals add
    pipeline_stages, tp_chips, micro_batches, micro_batch_size (the largest),
    pipeline_bubble_fraction (the stages' idle share of prefill), decode_bubble_fraction (their
    idle share of a decode step), stage_s (each stage's busy seconds over the request),
    stage_layers (each stage's first and last decoder layer), p2p_s (seconds the stage-to-stage
    links are busy), p2p_bytes (bytes they carry, every copy) and p2p_energy_j.

    Raises:
        SpecError: ``balance`` is unknown, or there are more stages than decoder layers.
        TritiumError: the trace cannot be cut into micro-batches (:func:`micro_trace`), or what
            :func:`~tritium.sim.simulate` raises for a stage.
    """
    from tritium.sim.result import SimResult
    from tritium.sim.simulate import simulate

    if balance not in BALANCES:
        raise SpecError("balance", balance, f"must be one of {', '.join(BALANCES)}")
    trace = Trace.of(trace)
    if chip.pipeline_stages == 1:
        return simulate(chip, trace, scaling=scaling, mapping_objective=mapping_objective, progress=progress)
    p, stage = chip.pipeline_stages, stage_chip(chip)
    sizes = micro_batch_sizes(trace.batch, chip.micro_batches, p)
    distinct = sorted(set(sizes), reverse=True)
    units = _layer_units(trace.table)
    if p > len(units):
        raise SpecError("pipeline_stages", p, f"must be at most the model's {len(units)} decoder layers (one at "
                        "least per stage)")
    micro = {size: _derived(trace, (size,), lambda: micro_trace(trace, size)) for size in distinct}
    runs, total_runs = 0, 0  # the total is known once the stages' tables are: reported from then on

    def run(part: Trace):
        nonlocal runs
        result = simulate(stage, part, scaling=scaling, mapping_objective=mapping_objective)
        runs += 1
        if progress is not None and total_runs:
            progress(runs, total_runs)
        return result

    if balance == "cost":
        ops = run(micro[distinct[0]]).ops
        by_phase = ops.groupby(["phase", "layer"]).seconds.sum()
        costs = {phase: [float(by_phase.get(phase, pd.Series(dtype=float)).reindex(layers, fill_value=0.0).sum())
                         for _, layers in units] for phase in ("prefill", "decode")}
        lengths = best_split(costs["prefill"], costs["decode"], p, len(sizes))
    else:
        lengths = split_layers([1.0] * len(units), p)
    bounds = np.cumsum([0, *lengths])
    stage_layers = [sum((layers for _, layers in units[bounds[s]:bounds[s + 1]]), []) for s in range(p)]
    spans = [(units[bounds[s]][0], units[bounds[s + 1] - 1][0]) for s in range(p)]
    parts = {size: [_derived(trace, (size, tuple(layers)), lambda: _stage_trace(micro[size], layers))
                    for layers in stage_layers] for size in distinct}
    tables = {size: [part.table for part in parts[size]] for size in distinct}
    shapes = {size: [_shape_key(t) for t in tables[size]] for size in distinct}
    total_runs = runs + sum(len(set(keys)) for keys in shapes.values())
    if progress is not None and runs:
        progress(runs, total_runs)  # the cost pass
    results = {}
    for size in distinct:
        done: dict[bytes, object] = {}
        results[size] = []
        for part, table, key in zip(parts[size], tables[size], shapes[size]):
            if key not in done:  # middle stages of equal layers simulate alike: one run serves them all
                done[key] = run(part)
                results[size].append(done[key])
            else:
                results[size].append(_relabelled(done[key], table))
    return _compose(chip, stage, trace, sizes, tables, results, spans, balance, SimResult)


_parts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Trace -> {(size[, layers]): Trace}
_parts_lock = threading.Lock()  # Dask workers may simulate in threads


def _derived(trace: Trace, key: tuple, make: Callable[[], Trace]) -> Trace:
    """The micro-batch or stage trace ``key`` of ``trace``, made once per record and kept while the
    record lives (weakly keyed by the record itself): a sweep simulates one record on many pipelined
    chips, and the same derived records let :func:`tritium.sim.simulate` reuse their facts."""
    with _parts_lock:
        made = _parts.setdefault(trace, {})
    part = made.get(key)
    if part is None:
        part = make()
        if part is not trace:  # a value holding its own key would keep the entry alive for ever
            made[key] = part
    return part


def _shape_key(table: pd.DataFrame) -> bytes:
    """What a stage's simulation depends on: each row's signature, op name, block and phase, and
    its layer relative to the stage's first (the block's layer structure); not layer numbers nor
    weight names. Stages with equal keys simulate to equal figures."""
    layers = table.layer.to_numpy()
    shape = pd.DataFrame({"signature": table.signature, "op": table.op, "block": table.block, "phase": table.phase,
                          "layer": layers - (layers.min() if len(layers) else 0)})
    return pd.util.hash_pandas_object(shape, index=False).to_numpy().tobytes()


def _relabelled(result, table: pd.DataFrame):
    """``result`` of a stage of the same shape (:func:`_shape_key`) with ``table``'s rows in its ops table."""
    ops = result.ops.copy()
    for col in table.columns:
        ops[col] = table[col].to_numpy()
    return dataclasses.replace(result, ops=ops)


def _layer_units(trace: pd.DataFrame) -> list[tuple[int, list[int]]]:
    """The decoder layers in order, each with the trace layers that go with it: the embedding
    (layers < 0) goes with the first, the final norm and LM head (the last layer, where it
    holds ``lm_head``) with the last."""
    layers = sorted(set(trace.layer.tolist()))
    top = layers[-1] if layers else 0
    head = [top] if (trace.op[trace.layer == top] == "lm_head").any() else []
    front = [x for x in layers if x < 0]
    decoder = [x for x in layers if x >= 0 and x not in head]
    if not decoder:
        raise TritiumError("pipeline: the trace has no decoder layers to cut into stages")
    units = [(x, [x]) for x in decoder]
    units[0] = (units[0][0], front + units[0][1])
    units[-1] = (units[-1][0], units[-1][1] + head)
    return units


def _stage_trace(trace: Trace, layers: list[int]) -> Trace:
    """The rows of ``trace`` in ``layers``: one stage's share of the request."""
    table = trace.table
    return dataclasses.replace(trace, table=table[table.layer.isin(layers)].reset_index(drop=True))


def _send_bytes(table: pd.DataFrame, phase: str) -> int:
    """Bytes a stage hands the next per step of ``phase``: its last op's output in the phase's first block."""
    rows = table[table.phase == phase]
    if not len(rows):
        return 0
    rows = rows[rows.block == rows.block.iloc[0]]
    return int(rows.act_out_bytes.iloc[-1] // rows.steps.iloc[-1])


def _compose(chip: Chip, stage: Chip, trace: Trace, sizes: list[int], tables: dict, results: dict,
             spans: list[tuple[int, int]], balance: str, result_type):
    from tritium.sim.simulate import ternary_operand_j

    p, tp, m = chip.pipeline_stages, chip.tp_chips, len(sizes)
    link = chip.link
    bandwidth = link.bandwidth_gb_s * 1e9 * link.efficiency
    latency = link.latency_ns * 1e-9
    decode_steps = trace.decode

    def send_s(nbytes: float) -> float:
        return latency + nbytes / bandwidth if nbytes > 0 else 0.0

    # per micro-batch j and stage s: prefill seconds, one decode step's seconds, and the sends
    pre, dec = np.zeros((m, p)), np.zeros((m, p))
    back = np.zeros(m)
    pre_bytes, dec_bytes = np.zeros((m, p - 1)), np.zeros((m, p - 1))
    for j, size in enumerate(sizes):
        for s, r in enumerate(results[size]):
            ttft = r.totals["time_to_first_token_s"]
            pre[j, s] = ttft
            dec[j, s] = (r.totals["total_s"] - ttft) / decode_steps if decode_steps else 0.0
            if s < p - 1:
                pre_bytes[j, s] = _send_bytes(tables[size][s], "prefill")
                dec_bytes[j, s] = _send_bytes(tables[size][s], "decode")
        back[j] = send_s(size * _TOKEN_ID_BYTES) if decode_steps else 0.0
    pre_send, dec_send = (np.where(b > 0, latency + b / bandwidth, 0.0) for b in (pre_bytes, dec_bytes))
    t_prefill = prefill_makespan(pre, pre_send)
    cycle = decode_cycle(dec, dec_send, back) if decode_steps else 0.0
    t_decode = cycle * decode_steps
    total_s = t_prefill + t_decode
    stage_busy = pre.sum(axis=0) + dec.sum(axis=0) * decode_steps
    prefill_bubble = 1 - pre.sum() / (p * t_prefill) if t_prefill > 0 else 0.0
    decode_bubble = 1 - dec.sum() / (p * cycle) if cycle > 0 else 0.0
    p2p_bytes = tp * (pre_bytes.sum() + decode_steps * (dec_bytes.sum() + _TOKEN_ID_BYTES * sum(sizes)))
    p2p_s = pre_send.sum() + decode_steps * (dec_send.sum() + back.sum())
    p2p_j = p2p_bytes * 8 * link.energy_pj_per_bit * 1e-12

    count = {size: sizes.count(size) for size in results}
    first = results[sizes[0]]
    dynamic = {c: 0.0 for c in ENERGY_COMPONENTS}
    for size, stage_results in results.items():
        for r in stage_results:
            for c in ENERGY_COMPONENTS:
                own = getattr(r.totals.energy, f"{c}_j") - (r.totals.energy.dram_background_j if c == "dram" else 0.0)
                dynamic[c] += count[size] * own
    static_w = sum(r.totals.energy.static_j / r.totals.total_s for r in first if r.totals.total_s > 0)
    background_w = sum(r.totals.energy.dram_background_j / r.totals.total_s for r in first if r.totals.total_s > 0)
    dynamic["link"] += p2p_j
    dynamic["dram"] += background_w * total_s
    dynamic["static"] = static_w * total_s
    energy = Energy.of(dynamic, dram_background_j=background_w * total_s)
    ops = _op_table(results, count)
    every = [(count[size], r.totals) for size in results for r in results[size]]
    head = first[0].totals
    arithmetic = ArithmeticRatios(
        seed_arithmetic_ratio=head.arithmetic.seed_arithmetic_ratio,
        fp16_matmul_arithmetic_j=sum(n * t.arithmetic.fp16_matmul_arithmetic_j for n, t in every),
        tlu_j=sum(n * t.arithmetic.tlu_j for n, t in every), ternary_operand_j=ternary_operand_j(ops),
        energy_j=energy.total_j)
    memory = _stage_memory(sizes, tables, results)
    figures = PipelineFigures(
        pipeline_stages=p, tp_chips=tp, micro_batches=m, micro_batch_size=max(sizes),
        pipeline_bubble_fraction=float(prefill_bubble), decode_bubble_fraction=float(decode_bubble),
        stage_s=tuple(float(x) for x in stage_busy), stage_layers=tuple(tuple(span) for span in spans),
        p2p_s=float(p2p_s), p2p_bytes=int(round(p2p_bytes)), p2p_energy_j=float(p2p_j))
    totals = request_totals(
        t_prefill=float(t_prefill), t_decode=float(t_decode), decode_steps=decode_steps,
        generated=trace.generated_tokens, energy=energy,
        dram_bytes=int(ops.dram_bytes.sum()), sram_bytes=int(ops.sram_bytes.sum()),
        link_bytes=int(ops.link_bytes.sum()) + int(round(p2p_bytes)),  # the stages' collectives and the sends
        memory_needed_bytes=int(sum(memory)), memory_capacity_bytes=int(chip.dram.capacity_bytes * chip.chips),
        fits_in_memory=all(need <= stage.dram_capacity_bytes for need in memory),
        clock_mhz=head.clock_mhz, fmax_mhz=head.fmax_mhz, supply_v=head.supply_v,
        peak_power_w=sum(r.totals.peak_power_w for r in first), peak_die_power_w=head.peak_die_power_w,
        die_area_mm2=head.die_area_mm2, arithmetic=arithmetic, pipeline=figures)
    notes, warnings = _notes(chip, stage, sizes, results, spans, balance, totals, memory, _stage_kv(sizes, tables))
    return result_type(ops, totals, dict(results[sizes[0]][0].area_mm2), chip.name, trace.model,
                       trace.scenario_dict(), notes, warnings)



_OP_TOTALS = ("compute_cycles", "sram_cycles", "dram_cycles", "link_cycles", "cycles", "seconds", "dram_bytes",
              "sram_bytes", "link_bytes")


def _op_table(results: dict, count: dict) -> pd.DataFrame:
    """The stages' op tables, one after another, with ``stage`` and ``micro_batches`` columns;
    counts, bytes, cycles, seconds and energies are totals over the micro-batches."""
    parts = []
    for size, stage_results in results.items():
        for s, r in enumerate(stage_results):
            ops = r.ops.copy()
            n = count[size]
            if n > 1:
                energy = [c for c in ops.columns if c.startswith("energy_") and c.endswith("_j")]
                for col in (*COUNT_COLUMNS, *_OP_TOTALS, *energy):
                    ops[col] = ops[col] * n
            ops.insert(0, "micro_batches", n)
            ops.insert(0, "stage", s)
            parts.append(ops)
    return pd.concat(parts, ignore_index=True)


def _stage_kv(sizes: list[int], tables: dict) -> list[int]:
    """KV-cache bytes each stage writes over the request, all micro-batches together."""
    return [sum(int(tables[size][s].kv_write_bytes.sum()) for size in sizes) for s in range(len(tables[sizes[0]]))]


def _stage_memory(sizes: list[int], tables: dict, results: dict) -> list[int]:
    """Bytes each stage's chips must hold: its layers' weights, the KV cache of every micro-batch,
    the largest activation and the runtime reserve (what :func:`tritium.sim.simulate` counts for
    one micro-batch, with every micro-batch's KV cache in place of one)."""
    first = sizes[0]
    out = []
    for s, r in enumerate(results[first]):
        kv_one = int(tables[first][s].kv_write_bytes.sum())
        out.append(int(r.totals["memory_needed_bytes"]) - kv_one + _stage_kv(sizes, tables)[s])
    return out


def _is_capacity_note(text: str) -> bool:
    return text.startswith(("DRAM holds", "DRAM too small"))


def _notes(chip: Chip, stage: Chip, sizes: list[int], results: dict, spans: list[tuple[int, int]], balance: str,
           totals, memory: list[int], kv_all: list[int]) -> tuple[list[str], list[str]]:
    p, tp, m = chip.pipeline_stages, chip.tp_chips, len(sizes)
    layers = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in spans)
    shares = ", ".join(f"{x * 1e3:.3g}" for x in totals["stage_s"])
    cut = ("simulated cost (the least estimated request time, from each layer's op seconds per phase, among the "
           "cuts balancing prefill, decode, both and layer count)" if balance == "cost" else "decoder-layer count")
    each = "/".join(str(x) for x in sorted(set(sizes), reverse=True))
    sized = (f"{m} micro-batch{'es' if m > 1 else ''} of {each} sequence{'s' if max(sizes) > 1 else ''}")
    capped = (f" (micro_batches = {chip.micro_batches} capped at the batch)"
              if chip.micro_batches > sum(sizes) else "")
    notes = [
        (f"pipeline: TP {tp} x PP {p} ({p} stages of {tp} chip{'s' if tp > 1 else ''}), {sized}{capped}; "
         f"decoder layers per stage {layers} (embedding on the first, LM head on the last), cut by {cut}; "
         f"GPipe schedule: prefill bubble {totals['pipeline_bubble_fraction']:.1%} of stage time, stages idle "
         f"{totals['decode_bubble_fraction']:.1%} of a decode step; stage busy ms {shares}; stage-to-stage sends "
         f"{totals['p2p_bytes'] / 2**20:.3g} MiB, links busy {totals['p2p_s'] * 1e3:.3g} ms "
         f"(sim/pipeline.py)"),
        "memory by stage: " + "; ".join(
            f"stage {s} {need / 2**30:.2f} of {stage.dram_capacity_bytes / 2**30:.2f} GiB"
            for s, need in enumerate(memory)) + " (weights of its layers, every micro-batch's KV cache, "
        "activations, 10% reserve)",
    ]
    first = results[sizes[0]]
    base = [n for n in first[0].notes if not _is_capacity_note(n)]
    for n in base:
        if any(n not in r.notes for r in first[1:]):
            notes.append(f"stage 0: {n}")
        else:  # the same on every stage; the DRAM's figures are one stage's chips'
            notes.append(f"each stage ({tp} chip{'s' if tp > 1 else ''}): {n}" if n.startswith("DRAM:") else n)
    for s, r in enumerate(first[1:], start=1):
        notes += [f"stage {s}: {n}" for n in r.notes if n not in base and not _is_capacity_note(n)]
    warnings = []
    for r in first:
        warnings += [w for w in r.warnings if not _is_capacity_note(w) and w not in warnings]
    for s, need in enumerate(memory):
        if need > stage.dram_capacity_bytes:
            warnings.append(f"DRAM too small on stage {s}: its weights, every micro-batch's KV cache, activations "
                            f"and a 10% runtime reserve need {need / 2**30:.2f} GiB, its {tp} chip(s) hold "
                            f"{stage.dram_capacity_bytes / 2**30:.2f} GiB (figures assume it fits)")
    kv_sram = stage.total_cores * stage.sram.kv.capacity_bytes
    for s, (r, kv) in enumerate(zip(first, kv_all)):
        if "KV cache resident in SRAM" in r.notes and kv > kv_sram:
            warnings.append(f"stage {s} keeps one micro-batch's KV cache in SRAM, but all {m} micro-batches' "
                            f"({kv / 2**20:.3g} MiB) do not fit its {kv_sram / 2**20:.3g} MiB of KV SRAM; the figures "
                            "assume they do")
    return notes, warnings
