"""The result of one request on a device: :class:`SimResult` and its typed :class:`Totals`.

The chip (:func:`tritium.sim.simulate`, :func:`tritium.sim.pipeline.simulate_pipeline`) and the
GPU model (:func:`tritium.analysis.gpu.gpu_baseline`) return the same record, built by
:func:`request_totals` by the same formulas, with names that belong to neither side:

- energy by the *work* it does, not by the unit that did it (:data:`ENERGY_COMPONENTS`):
  ``linear`` (the weight matmuls: the chip's adder trees, LUT or MAC datapath, and its MAC
  array where it runs the LM head; the GPU's GEMM kernels), ``attention`` (scores and
  context), ``vector`` (norms, activations, quantize...), ``memory_path`` (delivering
  operands on the die: the chip's SRAM buffers; the GPU's load/store, L2, crossbar and memory
  controllers), ``dram``, ``link`` and ``static`` (leakage, or a GPU's idle and busy floor);
  :func:`component_of` is the one rule both sides sort an op's compute energy by;
- whether the model fits: :attr:`Totals.fits_in_memory`, beside what memory must hold and
  what it holds, counted by one rule on both sides (:mod:`tritium.sim.memory`);
- what only one side has is a sub-record that is None on the other: the seed's arithmetic
  ratios (:class:`ArithmeticRatios`, a ternary chip's) and the pipeline's figures
  (:class:`PipelineFigures`, a chip system in pipeline parallelism).

:meth:`Totals.as_dict` is the one serialisation (``totals.json``, comparisons, reports): flat
keys, schema :data:`RESULT_SCHEMA` (see the README's "Result files" for the changes from the
first schema). A :class:`Totals` reads like that mapping too: ``totals["tokens_per_s"]``.

>>> t = request_totals(t_prefill=0.5, t_decode=2.0, decode_steps=100, generated=100,
...                    energy=Energy(linear_j=1.0, dram_j=3.0, static_j=1.0),
...                    dram_bytes=10, sram_bytes=None, link_bytes=0, memory_needed_bytes=8,
...                    memory_capacity_bytes=16, fits_in_memory=True, clock_mhz=1000.0, fmax_mhz=1200.0, supply_v=None,
...                    peak_power_w=5.0, peak_die_power_w=5.0, die_area_mm2=None)
>>> t.joules_per_token, t.average_power_w, t.fits_in_memory, t["energy_linear_j"]
(0.05, 2.0, True, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Iterator

import pandas as pd

__all__ = ["RESULT_SCHEMA", "ENERGY_COMPONENTS", "component_of", "Energy", "ArithmeticRatios", "PipelineFigures",
           "Totals", "SimResult", "request_totals"]

RESULT_SCHEMA = 2
"""Version of the result's JSON keys (``totals.json``'s ``result_schema``): 2 since the neutral
energy names and ``fits_in_memory``."""

ENERGY_COMPONENTS = ("linear", "attention", "vector", "memory_path", "dram", "link")
"""Dynamic energy components of an op's row, in this order (``energy_<c>_j`` columns of the ops
table); the totals add ``static``."""

_LINEAR_KINDS = frozenset({"ternary_linear", "linear"})
_ATTENTION_KINDS = frozenset({"attn_qk", "softmax", "attn_pv"})


def component_of(kind: str) -> str:
    """The compute component an op of trace kind ``kind`` charges, on the chip and the GPU alike.

    >>> component_of("ternary_linear"), component_of("softmax"), component_of("rmsnorm")
    ('linear', 'attention', 'vector')
    """
    return "linear" if kind in _LINEAR_KINDS else "attention" if kind in _ATTENTION_KINDS else "vector"


@dataclass(frozen=True, slots=True)
class Energy:
    """Joules of the whole request by component (:data:`ENERGY_COMPONENTS` plus ``static``).

    ``dram_background_j`` is the DRAM's standby and refresh energy over the run, inside
    ``dram_j``; None where it is not separable (a GPU's is inside its measured idle power).
    """

    linear_j: float = 0.0
    attention_j: float = 0.0
    vector_j: float = 0.0
    memory_path_j: float = 0.0
    dram_j: float = 0.0
    link_j: float = 0.0
    static_j: float = 0.0
    dram_background_j: float | None = None

    @classmethod
    def of(cls, by_component: Mapping[str, float], dram_background_j: float | None = None) -> Energy:
        """From ``{component: joules}`` (components of :data:`ENERGY_COMPONENTS` and ``static``)."""
        unknown = set(by_component) - {*ENERGY_COMPONENTS, "static"}
        if unknown:
            raise ValueError(f"unknown energy components {sorted(unknown)}")
        return cls(**{f"{c}_j": float(v) for c, v in by_component.items()}, dram_background_j=dram_background_j)

    def by_component(self) -> dict[str, float]:
        """``{component: joules}``, static last."""
        return {c: getattr(self, f"{c}_j") for c in (*ENERGY_COMPONENTS, "static")}

    @property
    def total_j(self) -> float:
        return sum(self.by_component().values())


@dataclass(frozen=True, slots=True)
class ArithmeticRatios:
    """The seed's headline (one FP16 multiply-add over one INT8 add) beside what survives of it.

    Attributes:
        seed_arithmetic_ratio: FP16 multiply-add energy over INT8 add energy at the node.
        fp16_matmul_arithmetic_j: the ternary linears' MACs at FP16 multiply-add energy.
        tlu_j: the ternary datapath's energy (trees, registers, accumulators; the style's
            tables or multipliers). ternary_operand_j: the SRAM reads and writes of the
            ternary linears' mappings (delivering weights and activations to the trees).
        energy_j: all the chip's energy (memory, attention, vector ops, leakage).
    """

    seed_arithmetic_ratio: float
    fp16_matmul_arithmetic_j: float
    tlu_j: float
    ternary_operand_j: float
    energy_j: float

    @property
    def tlu_arithmetic_ratio(self) -> float:
        return self.fp16_matmul_arithmetic_j / self.tlu_j if self.tlu_j > 0 else math.nan

    @property
    def tlu_with_operands_ratio(self) -> float:
        return self.fp16_matmul_arithmetic_j / (self.tlu_j + self.ternary_operand_j) if self.tlu_j > 0 else math.nan

    @property
    def end_to_end_ratio(self) -> float:
        return self.fp16_matmul_arithmetic_j / self.energy_j if self.energy_j > 0 else math.nan

    def as_dict(self) -> dict[str, float]:
        return {"seed_arithmetic_ratio": self.seed_arithmetic_ratio,
                "fp16_matmul_arithmetic_j": self.fp16_matmul_arithmetic_j,
                "tlu_arithmetic_ratio": self.tlu_arithmetic_ratio,
                "tlu_with_operands_ratio": self.tlu_with_operands_ratio,
                "end_to_end_ratio": self.end_to_end_ratio}


@dataclass(frozen=True, slots=True)
class PipelineFigures:
    """A pipeline-parallel system's own figures (:mod:`tritium.sim.pipeline`).

    Attributes:
        pipeline_stages, tp_chips: stages, and chips in tensor parallelism per stage.
        micro_batches, micro_batch_size: micro-batches in flight and the largest one.
        pipeline_bubble_fraction, decode_bubble_fraction: idle share of the stages in prefill
            and per decode step. stage_s: each stage's busy seconds; stage_layers: its layer spans.
        p2p_s, p2p_bytes, p2p_energy_j: the stage-to-stage sends.
    """

    pipeline_stages: int
    tp_chips: int
    micro_batches: int
    micro_batch_size: int
    pipeline_bubble_fraction: float
    decode_bubble_fraction: float
    stage_s: tuple[float, ...]
    stage_layers: tuple[tuple[int, ...], ...]
    p2p_s: float
    p2p_bytes: int
    p2p_energy_j: float

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["stage_s"] = [float(x) for x in self.stage_s]
        out["stage_layers"] = [list(span) for span in self.stage_layers]
        return out


@dataclass(frozen=True)
class Totals(Mapping):
    """One request's totals on a chip system or on GPUs.

    Attributes:
        time_to_first_token_s, time_per_output_token_s: the phases' latency;
            tokens_per_s: generated tokens per second over the decode phase; total_s.
        energy_j: all the energy; joules_per_token: over generated tokens; average_power_w.
        energy: :class:`Energy` by component.
        dram_bytes, link_bytes: traffic; sram_bytes: on-die buffer traffic (None where the model
            does not count it: the GPU's is inside its fitted efficiencies).
        memory_needed_bytes, memory_capacity_bytes: what the memory must hold (weights,
            embedding, final KV cache, peak activations, a 10% runtime reserve) and holds, all
            chips or GPUs; fits_in_memory: whether it holds it, by the device's own rule (all
            chips together; each pipeline stage; each GPU); where it does not, the figures
            assume it did.
        clock_mhz, fmax_mhz, supply_v: the clock, the fastest the silicon closes, the supply
            (None where not modelled: a GPU's). peak_power_w: the system's (a GPU's board power
            limit); peak_die_power_w: one die's; die_area_mm2: one die (None if unpublished).
        arithmetic: :class:`ArithmeticRatios` (a ternary chip's; None for a GPU).
        pipeline: :class:`PipelineFigures` (None without pipeline parallelism).
    """

    time_to_first_token_s: float
    time_per_output_token_s: float
    tokens_per_s: float
    total_s: float
    energy_j: float
    joules_per_token: float
    average_power_w: float
    energy: Energy
    dram_bytes: int
    sram_bytes: int | None
    link_bytes: int
    memory_needed_bytes: int
    memory_capacity_bytes: int
    fits_in_memory: bool
    clock_mhz: float
    fmax_mhz: float
    supply_v: float | None
    peak_power_w: float
    peak_die_power_w: float
    die_area_mm2: float | None
    arithmetic: ArithmeticRatios | None = None
    pipeline: PipelineFigures | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fits_in_memory", bool(self.fits_in_memory))  # not numpy's bool: JSON-ready

    def as_dict(self) -> dict[str, Any]:
        """The JSON keys (schema :data:`RESULT_SCHEMA`): every field flat, energy as
        ``energy_<component>_j`` and ``dram_background_j``, the sub-records' keys where present."""
        return dict(self._flat)

    @cached_property
    def _flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "energy":
                out |= {f"energy_{c}_j": v for c, v in value.by_component().items()}
                out["dram_background_j"] = value.dram_background_j
            elif f.name in ("arithmetic", "pipeline"):
                out |= value.as_dict() if value is not None else {}
            else:
                out[f.name] = value
        return out

    def __getitem__(self, key: str) -> Any:
        return self._flat[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def __len__(self) -> int:
        return len(self._flat)


def request_totals(*, t_prefill: float, t_decode: float, decode_steps: int, generated: int, energy: Energy,
                   **rest: Any) -> Totals:
    """:class:`Totals` of a request from its phase times, its :class:`Energy` and the other
    fields as given (``rest``): latency, throughput, energy per token and power by one formula
    for every device (the chip, the pipeline and the GPU model)."""
    total_j = energy.total_j
    total_s = t_prefill + t_decode
    return Totals(
        time_to_first_token_s=t_prefill,
        time_per_output_token_s=t_decode / decode_steps if decode_steps else math.nan,
        tokens_per_s=generated / t_decode if t_decode > 0 else math.nan,
        total_s=total_s,
        energy_j=total_j,
        joules_per_token=total_j / generated if generated else math.nan,
        average_power_w=total_j / total_s if total_s > 0 else math.nan,
        energy=energy,
        **rest,
    )


@dataclass(frozen=True)
class SimResult:
    """The result of one simulation (or a GPU baseline, which fills the same fields).

    Attributes:
        ops: the trace table plus the simulator's columns (:data:`tritium.sim.OP_COLUMNS`):
            each op on its own, totals over its steps (``cycles`` = the largest of compute,
            SRAM, DRAM and link cycles; ``bound`` names it; ``utilization`` = MACs over peak
            MACs in ``cycles``; energies in joules by :data:`ENERGY_COMPONENTS`; bytes by level).
        totals: :class:`Totals`.
        area_mm2: area by component for one chip, mm^2 (``total`` included).
        chip: the chip's (or GPU's) name; model: the trace's model; scenario: batch, prefill, decode.
        notes: placement decisions and method choices worth reporting.
        warnings: what undermines the figures, to be shown first: a request longer than the
            model's trained context, a model and KV cache the memory does not hold.
    """

    ops: pd.DataFrame
    totals: Totals
    area_mm2: dict
    chip: str
    model: str
    scenario: dict
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-ready totals, area and the inputs that made them (``totals.json``)."""
        return {"result_schema": RESULT_SCHEMA, "chip": self.chip, "model": self.model, "scenario": self.scenario,
                "warnings": self.warnings, "totals": self.totals.as_dict(), "area_mm2": self.area_mm2,
                "notes": self.notes}
