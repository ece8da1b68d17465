"""A serving device: a chip (the cycle-approximate simulator) or GPUs (the calibrated GPU model).

Both cost a trace of iteration blocks (:mod:`tritium.analysis.serving.iteration`) per block:
seconds, the ops' dynamic energy, and the per-op table. Power that does not depend on the work
is the device's own: ``busy_w`` while a pass runs, ``idle_w`` between passes.

* chip: leakage of all its logic and SRAM (:func:`tritium.sim.energy.static_power_w`, and the die's
  overhead logic, at the operating point's supply: :mod:`tritium.sim.die`) plus the
  DRAM's background and refresh (:func:`tritium.sim.energy.dram_background_w`), busy or idle:
  the same terms :func:`tritium.sim.simulate` charges over a request's time.
* GPU: busy, the GPU model's static power (idle plus its floor share of TDP); idle, the
  calibration's measured idle power (or the database's), times the GPUs of the tensor-parallel
  group.

KV capacity (the paged KV cache's bytes): the device's memory less what
:func:`tritium.sim.memory.memory_needed` counts besides the KV cache, as each model counts it
(weights at their storage format, the embedding table, the largest pass's activations, the 10%
runtime reserve); the GPU's is per tensor-parallel group.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tritium.base.errors import SpecError
from tritium.workloads.models import ModelSpec
from tritium.workloads.trace import DTYPE_BYTES
from tritium.workloads.trace_record import Trace

__all__ = ["Device", "chip_device", "gpu_device", "BlockCost"]

@dataclass(frozen=True, slots=True)
class BlockCost:
    """One block's cost: seconds, dynamic energy (J) and its per-op rows (``op``, ``kind``,
    ``seconds``, ``energy_j`` where ``energy_j`` holds dynamic energy only)."""

    seconds: float
    dynamic_j: float
    ops: pd.DataFrame


@dataclass(frozen=True)
class Device:
    """A device that serves ``spec``: see the module docstring.

    Attributes:
        kind: "chip" or "gpu". name: the chip's or GPU's name (``-xN`` for N GPUs).
        spec: the model served. busy_w, idle_w: work-independent power, W.
        memory_bytes: the device's memory (all chips, or the tensor-parallel group).
        cost: ``cost(trace) -> list[BlockCost]``, one per block.
        op_cost: ``op_cost(trace) -> BlockCost``: the per-op table alone (seconds summed, no timeline).
        memory: ``memory(trace) -> bytes`` the device holds besides the KV cache to run ``trace``.
        describe: how it was set up (for the summary).
        additive: a block's time is the sum of its ops' (the GPU model), so the model can be run on
            a few layers and extrapolated exactly.
    """

    kind: str
    name: str
    spec: ModelSpec
    busy_w: float
    idle_w: float
    memory_bytes: float
    cost: object
    op_cost: object
    memory: object
    describe: dict
    additive: bool

    def blocks(self, trace: Trace) -> list[BlockCost]:
        return self.cost(trace)

    @property
    def kv_bytes_per_token(self) -> int:
        """KV-cache bytes one token holds: keys and values of every layer at the KV dtype."""
        s = self.spec
        return 2 * s.kv_dim * s.num_layers * DTYPE_BYTES[s.kv_dtype]

    def kv_capacity_bytes(self, largest_pass: Trace) -> float:
        """The paged KV cache's bytes: memory less what it holds besides the KV cache while it
        runs ``largest_pass`` (the iteration with the most tokens). Raises :class:`SpecError`
        when nothing is left."""
        left = self.memory_bytes - float(self.memory(largest_pass))
        if left <= 0:
            raise SpecError("kv_capacity", f"{left / 2**30:.2f} GiB",
                            f"{self.name} holds no KV cache for {self.spec.name} after weights, activations and "
                            "its 10% reserve: pick a device with more memory (or more chips / GPUs)")
        return left


def chip_device(chip, spec: ModelSpec, *, scaling: str = "bitnet", mapping_objective: str = "latency") -> Device:
    """The chip ``chip`` (a :class:`~tritium.sim.Chip`, preset name or TOML path) serving ``spec``.

    The paged KV cache lives in DRAM: the simulator runs every pass with the KV cache not
    resident in SRAM (a serving cache of many sequences does not fit a KV buffer).
    """
    import importlib

    sim = importlib.import_module("tritium.sim.simulate")  # the module (the package exports the function)
    from tritium.sim.chip import load_chip
    from tritium.sim.energy import dram_background_w, static_power_w
    from tritium.sim.result import ENERGY_COMPONENTS
    from tritium.sim.mapping import check_objective
    from tritium.sim.work import placement_for

    from tritium.sim.die import resolve_die

    # the die it builds, as simulate: a clock past fmax refused, a power cap lowers the clock,
    # the supply's factors on dynamic energy and leakage, the overhead logic's leakage
    chip, die = resolve_die(load_chip(chip), scaling)
    energy_factor = die.operating_point.energy_factor
    check_objective(mapping_objective)
    dynamic_cols = [f"energy_{c}_j" for c in ENERGY_COMPONENTS]
    clock = chip.clock_hz

    from tritium.analysis.serving.iteration import IterationShape, iteration_trace

    # weights resident or streamed: decided by the model's weights, once; the KV cache: DRAM
    probe = iteration_trace(spec, [IterationShape(1, 1, (), 1)]).facts
    place = dataclasses.replace(placement_for(chip, probe.ternary_weights, 0), kv_resident=False)

    def cost(trace: Trace) -> list[BlockCost]:
        facts = trace.facts
        if facts.max_ternary_k is not None:
            chip.tlu.check_reduction_length(facts.max_ternary_k)
        works, timings = sim._distinct_costs(chip, place, facts, mapping_objective, scaling)
        ops = sim._op_table(chip, facts, works, timings, sim._unit_energy(chip, works, scaling, energy_factor))
        cycles = sim._compose(chip, facts, timings, None)
        return _per_block(ops, {b: c / clock for b, c in cycles.items()}, ops[dynamic_cols].sum(axis=1))

    def op_cost(trace: Trace) -> BlockCost:
        facts = trace.facts
        works, timings = sim._distinct_costs(chip, place, facts, mapping_objective, scaling)
        ops = sim._op_table(chip, facts, works, timings, sim._unit_energy(chip, works, scaling, energy_factor))
        dynamic = ops[dynamic_cols].sum(axis=1)
        return _per_block(ops, {0: float(ops.seconds.sum())}, dynamic)[0]

    def memory(trace: Trace) -> float:
        need = sim.chip_memory_needed(chip, place, trace.facts)
        return need.total_bytes - need.kv_cache_bytes

    leak = (static_power_w(chip, scaling) * die.operating_point.leakage_factor + die.overhead_leakage_w
            + dram_background_w(chip))
    memory_bytes = float(chip.dram.capacity_bytes * chip.chips)
    return Device("chip", chip.name, spec, leak, leak, memory_bytes, cost, op_cost, memory,
                  {"device": "chip", "chip": chip.name, "chips": chip.chips, "scaling": scaling,
                   "mapping_objective": mapping_objective, "kv_cache": "DRAM (paged)"}, False)


def gpu_device(gpu, spec: ModelSpec, *, weights: str | None = None, gpus: int = 1, calibration=None,
               engine: str | None = None) -> Device:
    """``gpus`` GPUs of kind ``gpu`` in tensor parallelism serving ``spec`` with the GPU model
    (:func:`tritium.analysis.gpu.gpu_baseline`); ``weights`` defaults to ``w2a8`` for a ternary
    model and ``bf16`` otherwise (as ``tritium compare``)."""
    from tritium.analysis.gpu.params import engine_of
    from tritium.analysis.gpu import DEFAULT_CALIBRATION, gpu_baseline, load_calibration, load_gpu, with_engine
    from tritium.analysis.gpu.kernels import idle_w

    gpu = load_gpu(gpu)
    weights = weights or ("w2a8" if spec.is_ternary else "bf16")
    cal = calibration if calibration is not None else DEFAULT_CALIBRATION
    if not hasattr(cal, "step_overhead_s"):
        cal = load_calibration(cal)
    if engine is not None:
        cal = with_engine(cal, engine)
    idle = idle_w(gpu, cal)
    busy = (idle + cal.power_floor * max(gpu.tdp_w - idle, 0.0)) * gpus

    def cost(trace: Trace) -> list[BlockCost]:
        r = gpu_baseline(gpu, trace, weights=weights, gpus=gpus, calibration=cal)
        ops = r.ops
        seconds = ops.groupby("block", sort=True)["seconds"].sum() + cal.step_overhead_s
        return _per_block(ops, seconds.to_dict(), ops["energy_j"])

    def op_cost(trace: Trace) -> BlockCost:
        ops = gpu_baseline(gpu, trace, weights=weights, gpus=gpus, calibration=cal).ops
        return _per_block(ops, {0: float(ops.seconds.sum())}, ops["energy_j"])[0]

    def memory(trace: Trace) -> float:
        r = gpu_baseline(gpu, trace, weights=weights, gpus=gpus, calibration=cal)
        return r.totals["memory_needed_bytes"] - float(trace.table.kv_write_bytes.sum())

    name = gpu.name if gpus == 1 else f"{gpu.name}-x{gpus}"
    return Device("gpu", name, spec, busy, idle * gpus, float(gpu.mem_gb * 1e9 * gpus), cost, op_cost, memory,
                  {"device": "gpu", "gpu": gpu.name, "gpus": gpus, "weights": weights, "calibration": cal.name,
                   "engine": engine_of(cal), "kv_cache": "HBM (paged)"}, True)


def _per_block(ops: pd.DataFrame, seconds: dict, dynamic: pd.Series) -> list[BlockCost]:
    frame = pd.DataFrame({"block": ops.block.to_numpy(), "op": ops.op.to_numpy(), "kind": ops.kind.to_numpy(),
                          "seconds": ops.seconds.to_numpy(dtype=np.float64),
                          "energy_j": dynamic.to_numpy(dtype=np.float64)})
    out = []
    for block, group in frame.groupby("block", sort=True):
        out.append(BlockCost(float(seconds[block]), float(group.energy_j.sum()), group))
    return out
