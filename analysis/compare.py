"""``compare(model, chip, gpu) -> Comparison``: one request on a ternary chip and on GPUs, side by side.

The same trace runs through :func:`tritium.sim.simulate` (the chip) and
:func:`tritium.analysis.gpu.gpu_baseline` (the GPU); both return a
:class:`~tritium.sim.SimResult`, so the comparison is a join of their totals, priced by
:mod:`tritium.analysis.cost` and :mod:`tritium.analysis.carbon` the same way on both sides.
:meth:`Comparison.table` is the side-by-side table ``tritium compare`` prints.

On the GPU a ternary model runs BitNet's W2A8 kernel by default (2-bit weights, INT8
activations: the best a GPU does with the same model) and any other model BF16; pass
``weights`` for another mode.

>>> from tritium.analysis.compare import compare
>>> c = compare("bitnet-b1.58-2b-4t", "edge-lpddr5", "h100", prefill=64, decode=8)
>>> c.weights, c.table().set_index("metric").loc["J/token", "better"]
('w2a8', 'chip')
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tritium.analysis.carbon import DEFAULT_PUE, CarbonReport, carbon_per_million_tokens, gpu_hardware
from tritium.analysis.cost import CostReport, GpuCost, chip_cost, gpu_cost
from tritium.analysis.gpu_db import Gpu, load_gpu
from tritium.analysis.gpu_kernels import WEIGHT_MODES
from tritium.analysis.gpu_model import gpu_baseline
from tritium.analysis.gpu_params import DEFAULT_CALIBRATION, Calibration, load_calibration
from tritium.errors import TritiumError
from tritium.sim import Chip, SimResult, load_chip, simulate
from tritium.specio import check_choice
from tritium.workloads import ModelSpec, Scenario, build_trace, load_model

__all__ = ["DEFAULT_MODEL", "DEFAULT_CHIP", "DEFAULT_GPU", "Comparison", "compare", "with_precisions", "default_weights",
           "METRICS"]

DEFAULT_MODEL = "bitnet-b1.58-2b-4t"
"""The model every comparison and report uses unless told otherwise."""
DEFAULT_CHIP = "edge-lpddr5"
"""The chip preset (the one ``tritium simulate`` defaults to)."""
DEFAULT_GPU = "h100-sxm"
"""The GPU baseline."""

METRICS = (  # (metric, unit, lower is better)
    ("time to first token", "ms", True),
    ("time per output token", "ms", True),
    ("tokens/s", "tokens/s", False),
    ("J/token", "mJ", True),
    ("average power", "W", True),
    ("die area", "mm^2", True),
    ("dies in system", "", True),
    ("cost per chip (to make)", "USD", True),
    ("system cost (to make)", "USD", True),
    ("card price (list/street)", "USD", True),
    ("gCO2e per 1M tokens", "g", True),
    ("  operational", "g", True),
    ("  embodied", "g", True),
)
"""Rows of :meth:`Comparison.table`: name, unit, and whether lower is better."""

# What the simulator and the GPU model say when the memory does not hold the model.
_FIT_PHRASES = ("DRAM too small:", "(does not fit: the timing assumes it did")


def default_weights(spec: ModelSpec) -> str:
    """The GPU weight mode for ``spec``: "w2a8" for a ternary model, else "bf16"."""
    return "w2a8" if spec.is_ternary else "bf16"


@dataclass(frozen=True, slots=True)
class Comparison:
    """One request on a chip and on GPUs, with what each costs and emits.

    Attributes:
        model: the model's name. scenario: batch, prefill, decode. region: grid region
            of the carbon figures. pue: applied to both sides. weights: the GPU weight mode.
        chip: the :class:`~tritium.sim.Chip`. gpu: the :class:`~tritium.analysis.gpu.Gpu`.
        gpus: GPUs in tensor parallelism. calibration: the GPU model's calibration.
        chip_result, gpu_result: the two :class:`~tritium.sim.SimResult`.
        chip_cost: :class:`~tritium.analysis.cost.CostReport` of the chip.
        gpu_cost: :class:`~tritium.analysis.cost.GpuCost` of the GPUs.
        chip_carbon: :class:`~tritium.analysis.carbon.CarbonReport` of the chip.
        gpu_carbon: the GPUs' report (None where the die area is unpublished:
            then only operational carbon is known, in ``gpu_operational_g_per_mtok``).
        gpu_operational_g_per_mtok: operational gCO2e per 1M tokens of the GPUs.
        notes: caveats from both sides.
    """

    model: str
    scenario: dict
    region: str
    pue: float
    weights: str
    chip: Chip
    gpu: Gpu
    gpus: int
    calibration: Calibration
    chip_result: SimResult
    gpu_result: SimResult
    chip_cost: CostReport
    gpu_cost: GpuCost
    chip_carbon: CarbonReport
    gpu_carbon: CarbonReport | None
    gpu_operational_g_per_mtok: float
    notes: tuple[str, ...]

    @property
    def warnings(self) -> list[str]:
        """What undermines the comparison: the chip's warnings (a request longer than the model's
        context; a DRAM that does not hold the model), and a GPU whose memory does not hold it."""
        chip = [f"chip: {w}" for w in self.chip_result.warnings]
        return chip + [n for n in self.notes if n.startswith("GPU") and any(p in n for p in _FIT_PHRASES)]

    @property
    def chip_label(self) -> str:
        """The chip column's name."""
        return self.chip.name if self.chip.chips == 1 else f"{self.chip.name} ({self.chip.chips} chips)"

    @property
    def gpu_label(self) -> str:
        """The GPU column's name (GPU, count, weight mode)."""
        count = "" if self.gpus == 1 else f"{self.gpus}x "
        return f"{count}{self.gpu.name} ({self.weights})"

    def values(self) -> dict[str, tuple[float, float]]:
        """(chip, GPU) value of each metric of :data:`METRICS`, in its unit."""
        c, g = self.chip_result.totals, self.gpu_result.totals
        emb_gpu = self.gpu_carbon.embodied_g_per_mtok if self.gpu_carbon is not None else math.nan
        price = self.gpu_cost.price_usd if self.gpu_cost.price_usd is not None else math.nan
        return {
            "time to first token": (c["time_to_first_token_s"] * 1e3, g["time_to_first_token_s"] * 1e3),
            "time per output token": (c["time_per_output_token_s"] * 1e3, g["time_per_output_token_s"] * 1e3),
            "tokens/s": (c["tokens_per_s"], g["tokens_per_s"]),
            "J/token": (c["joules_per_token"] * 1e3, g["joules_per_token"] * 1e3),
            "average power": (c["average_power_w"], g["average_power_w"]),
            "die area": (self.chip_result.area_mm2["total"], self.gpu_result.area_mm2["total"]),
            "dies in system": (float(self.chip.chips), float(self.gpus)),
            "cost per chip (to make)": (self.chip_cost.cost_per_chip_usd, self.gpu_cost.cost_to_make_usd),
            "system cost (to make)": (self.chip_cost.system_cost_usd, self.gpus * self.gpu_cost.cost_to_make_usd),
            "card price (list/street)": (math.nan, self.gpus * price),
            "gCO2e per 1M tokens": (self.chip_carbon.total_g_per_mtok,
                                    self.gpu_operational_g_per_mtok + emb_gpu),
            "  operational": (self.chip_carbon.operational_g_per_mtok, self.gpu_operational_g_per_mtok),
            "  embodied": (self.chip_carbon.embodied_g_per_mtok, emb_gpu),
        }

    def table(self) -> pd.DataFrame:
        """The side-by-side table: metric, unit, chip, gpu, gpu_over_chip (ratio), better.

        ``better`` is "chip", "gpu" or "" (equal, or a value missing); "dies in system"
        has no winner.
        """
        rows = []
        for (metric, unit, lower), (chip, gpu) in zip(METRICS, self.values().values()):
            ratio = gpu / chip if chip and math.isfinite(chip) and math.isfinite(gpu) else math.nan
            better = ""
            if math.isfinite(ratio) and ratio != 1.0 and metric != "dies in system":
                better = "chip" if (ratio > 1.0) == lower else "gpu"
            rows.append({"metric": metric, "unit": unit, "chip": chip, "gpu": gpu, "gpu_over_chip": ratio,
                         "better": better})
        return pd.DataFrame(rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: inputs, the table, both results' totals and area, cost and carbon reports."""
        gpu_carbon = self.gpu_carbon.as_dict() if self.gpu_carbon is not None else None
        return {
            "model": self.model, "scenario": self.scenario, "region": self.region, "pue": self.pue,
            "chip": self.chip.name, "gpu": self.gpu.name, "gpus": self.gpus, "weights": self.weights,
            "calibration": self.calibration.name,
            "table": self.table().to_dict("records"),
            "chip_result": self.chip_result.summary(), "gpu_result": self.gpu_result.summary(),
            "chip_cost": self.chip_cost.as_dict(), "gpu_cost": _record(self.gpu_cost),
            "chip_carbon": self.chip_carbon.as_dict(), "gpu_carbon": gpu_carbon,
            "notes": list(self.notes),
            "warnings": self.warnings,
        }


def _record(obj: Any) -> dict:
    out = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            value = _record(value)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def with_precisions(spec: ModelSpec, lm_head_dtype: str | None, kv_dtype: str | None) -> ModelSpec:
    """``spec`` with its LM head and KV-cache precisions replaced where given (checked by the spec)."""
    changes = {k: v for k, v in (("lm_head_dtype", lm_head_dtype), ("kv_dtype", kv_dtype)) if v is not None}
    return dataclasses.replace(spec, **changes) if changes else spec


def compare(
    model: str | os.PathLike = DEFAULT_MODEL,
    chip: Chip | str | os.PathLike = DEFAULT_CHIP,
    gpu: Gpu | str | os.PathLike = DEFAULT_GPU,
    *,
    batch: int = 1,
    prefill: int = 512,
    decode: int = 128,
    region: str = "world",
    pue: float = DEFAULT_PUE,
    weights: str | None = None,
    gpus: int = 1,
    calibration: Calibration | str | os.PathLike | None = None,
    scaling: str = "bitnet",
    mapping_objective: str = "latency",
    lm_head_dtype: str | None = None,
    kv_dtype: str | None = None,
    trace: pd.DataFrame | None = None,
) -> Comparison:
    """Run one request of ``model`` on ``chip`` and on ``gpus`` x ``gpu``; price and compare both.

    Args:
        model: zoo name, HF id or config.json (see :func:`tritium.workloads.load_model`).
        chip: a :class:`~tritium.sim.Chip`, preset name or chip TOML file.
        gpu: a :class:`~tritium.analysis.gpu.Gpu`, database name or GPU TOML file.
        batch, prefill, decode: the scenario (sequences, prompt tokens, generated tokens).
        region: grid region for operational carbon (see :func:`tritium.analysis.carbon.grid_intensity`).
        pue: data-centre PUE, applied to both sides.
        weights: GPU weight mode (default :func:`default_weights` of the model).
        gpus: GPUs in tensor parallelism.
        calibration: the GPU model's calibration, or a calibration TOML file
            (``tritium gpu-bench`` writes one).
        scaling: the chip's technology scaling (see :func:`tritium.sim.simulate`).
        mapping_objective: what the chip's mapper minimizes per op (``latency``, ``energy``, ``edp``).
        lm_head_dtype, kv_dtype: precisions of the LM head and the KV cache, for both sides
            (None: the model's own; see :func:`tritium.workloads.build_trace`).
        trace: a trace to use instead of generating one from model and scenario.

    Raises:
        TritiumError: an unknown model, chip, GPU, region or file, or a bad number.
    """
    scalesim = isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(".csv")
    spec = None if scalesim else load_model(model)  # a SCALE-Sim topology's layers are ternary
    if spec is not None:
        spec = with_precisions(spec, lm_head_dtype, kv_dtype)
    chip = load_chip(chip)
    card = load_gpu(gpu)
    mode = weights if weights is not None else "w2a8" if spec is None else default_weights(spec)
    check_choice("weights", mode, WEIGHT_MODES)
    if calibration is None:
        cal = DEFAULT_CALIBRATION
    elif isinstance(calibration, Calibration):
        cal = calibration
    else:
        cal = load_calibration(calibration)
    if trace is None:
        trace = build_trace(spec if spec is not None else model, Scenario(batch=batch, prefill=prefill, decode=decode))
    table = trace
    if not int(table.attrs.get("decode") or 0) > 0:
        raise TritiumError(f"{table.attrs.get('model') or model}: the request generates no tokens (decode = 0), so "
                           "there is no per-token figure to compare (a SCALE-Sim topology is one pass of its GEMMs: "
                           "use tritium simulate for it)")
    chip_result = simulate(chip, table, scaling=scaling, mapping_objective=mapping_objective)
    gpu_result = gpu_baseline(card, table, weights=mode, gpus=gpus, calibration=cal)
    costs = chip_cost(chip, chip_result.area_mm2["total"])
    chip_carbon = carbon_per_million_tokens(chip_result, chip, region=region, pue=pue)
    notes = [f"chip: {n}" for n in chip_result.notes] + [f"GPU: {n}" for n in gpu_result.notes]
    notes += [f"cost: {n}" for n in costs.notes]
    g_cost = gpu_cost(card, count=gpus)
    notes += [f"GPU cost: {n}" for n in g_cost.notes]
    if card.die_mm2 is not None:
        gpu_carbon = carbon_per_million_tokens(gpu_result, gpu_hardware(card, count=gpus), region=region, pue=pue)
        operational = gpu_carbon.operational_g_per_mtok
    else:
        gpu_carbon = None
        tokens = float(gpu_result.scenario["batch"] * gpu_result.scenario["decode"])  # > 0: checked above
        grid = chip_carbon.grid_g_per_kwh
        operational = gpu_result.totals["energy_j"] / tokens * 1e6 / 3.6e6 * pue * grid
        notes.append(f"GPU carbon: {card.name}'s die area is not published: embodied carbon not counted")
    return Comparison(
        model=str(table.attrs.get("model") or (spec.name if spec is not None else model)),
        scenario=dict(chip_result.scenario), region=chip_carbon.region, pue=float(pue),
        weights=mode, chip=chip, gpu=card, gpus=gpus, calibration=cal, chip_result=chip_result,
        gpu_result=gpu_result, chip_cost=costs, gpu_cost=g_cost, chip_carbon=chip_carbon, gpu_carbon=gpu_carbon,
        gpu_operational_g_per_mtok=operational, notes=tuple(notes),
    )
