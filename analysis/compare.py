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
from typing import Any, Mapping

import pandas as pd

from tritium.analysis.carbon import CarbonReport, carbon_per_million_tokens
from tritium.analysis.embodied import gpu_hardware
from tritium.analysis.grid import grid_intensity
from tritium.analysis.usage import Usage, default_usage, device_class
from tritium.analysis.cost import CostReport, GpuCost, chip_cost, gpu_cost
from tritium.analysis.gpu.db import Gpu, load_gpu
from tritium.analysis.gpu.kernels import WEIGHT_MODES
from tritium.analysis.gpu.model import gpu_baseline
from tritium.analysis.gpu.params import DEFAULT_CALIBRATION, Calibration, load_calibration
from tritium.base.errors import SpecError, TritiumError
from tritium.sim import Chip, SimResult, load_chip, simulate
from tritium.analysis.request import DEFAULT_CHIP, DEFAULT_GPU, DEFAULT_MODEL, CompareRequest, split_options
from tritium.base.specio import check_choice, check_int
from tritium.workloads import ModelSpec, Scenario, Trace, build_trace, load_model

__all__ = ["DEFAULT_MODEL", "DEFAULT_CHIP", "DEFAULT_GPU", "Comparison", "CompareRequest", "compare", "run_comparison",
           "with_precisions", "default_weights", "METRICS"]

METRICS = (  # (metric, unit, lower is better)
    ("time to first token", "ms", True),
    ("time per output token", "ms", True),
    ("tokens/s", "tokens/s", False),
    ("J/token", "mJ", True),
    ("average power", "W", True),
    ("peak power", "W", True),
    ("die area", "mm^2", True),
    ("dies in system", "", True),
    ("cost to make, one chip/card", "USD", True),
    ("cost per chip with NRE", "USD", True),
    ("system cost to make", "USD", True),
    ("price to buy (list/street)", "USD", True),
    ("gCO2e per 1M tokens", "g", True),
    ("  operational", "g", True),
    ("  embodied", "g", True),
)
"""Rows of :meth:`Comparison.table`: name, unit, and whether lower is better.

The costs are labelled by kind: *cost to make* is the same model on both sides (good die,
package and test, DRAM: :mod:`tritium.analysis.cost`); *with NRE* adds the chip's mask set and
design NRE spread over the production volume given (n/a without one; a GPU's NRE is not
published); *price to buy* is a card's list or street price (a chip has none: what it sells
for is the maker's choice)."""

def default_weights(spec: ModelSpec) -> str:
    """The GPU weight mode for ``spec``: "w2a8" for a ternary model, else "bf16"."""
    return "w2a8" if spec.is_ternary else "bf16"


@dataclass(frozen=True, slots=True)
class Comparison:
    """One request on a chip and on GPUs, with what each costs and emits.

    Attributes:
        model: the model's name. request: the :class:`~tritium.analysis.request.CompareRequest`,
            resolved (its model the :class:`~tritium.workloads.ModelSpec` with the precisions
            given, or the SCALE-Sim file; chip, GPU, weight mode, calibration and both sides'
            usage the objects used), so a report's sweep points replace a field of it. scenario: the chip's batch, prefill, decode (the GPU's is
            ``gpu_result.scenario``: its batch may differ). weights: the GPU weight mode.
        chip_usage, gpu_usage: each side's :class:`~tritium.analysis.usage.Usage` (device
            class, grid region, PUE, lifetime, utilization).
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
    request: CompareRequest
    scenario: dict
    chip_usage: Usage
    gpu_usage: Usage
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
    def region(self) -> str:
        """The chip side's grid region (the GPU's is ``gpu_usage.region``)."""
        return self.chip_usage.region

    @property
    def pue(self) -> float:
        """The chip side's PUE (the GPU's is ``gpu_usage.pue``)."""
        return self.chip_usage.pue

    @property
    def gpu_batch(self) -> int:
        """The batch the GPU ran (the chip's is ``scenario["batch"]``)."""
        return int(self.gpu_result.scenario["batch"])

    def missing(self) -> dict[str, str]:
        """Why a figure of :meth:`table` is n/a, by metric (the reasons a reader needs)."""
        out = {}
        if self.gpu_carbon is None:
            out["  embodied"] = (f"{self.gpu.name}'s die area is not published, so its embodied carbon is "
                                 "unknown; its total is operational only")
        if self.gpu.die_mm2 is None:
            for metric in ("die area", "cost to make, one chip/card", "system cost to make"):
                out[metric] = f"{self.gpu.name}'s die area is not published"
        if self.chip_cost.volume is None:
            out["cost per chip with NRE"] = "no production volume given (--volume): NRE not spread"
        else:
            out["cost per chip with NRE"] = "a GPU maker's NRE is not published"
        price = "a chip has no price to buy (what it sells for is its maker's choice)"
        if self.gpu_cost.price_usd is None:
            price += f"; {self.gpu.name}'s price is not published"
        out["price to buy (list/street)"] = price
        if not math.isfinite(self.chip_result.totals.get("peak_power_w", math.nan)):
            out["peak power"] = "the simulator gives no peak power for the chip (totals lack peak_power_w)"
        else:
            out["peak power"] = "the GPU's is its board power limit (TDP)"
        return out

    @property
    def warnings(self) -> list[str]:
        """What undermines the comparison: the chip's warnings (a request longer than the model's
        context; a DRAM that does not hold the model), and the GPU's (a memory that does not hold it:
        ``gpu_result.totals.fits_in_memory``)."""
        return [f"chip: {w}" for w in self.chip_result.warnings] + [f"GPU: {w}" for w in self.gpu_result.warnings]

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
        gpu_area = self.gpu.die_mm2 if self.gpu.die_mm2 is not None else math.nan
        nre = self.chip_cost.cost_per_chip_usd if self.chip_cost.volume is not None else math.nan
        return {
            "time to first token": (c["time_to_first_token_s"] * 1e3, g["time_to_first_token_s"] * 1e3),
            "time per output token": (c["time_per_output_token_s"] * 1e3, g["time_per_output_token_s"] * 1e3),
            "tokens/s": (c["tokens_per_s"], g["tokens_per_s"]),
            "J/token": (c["joules_per_token"] * 1e3, g["joules_per_token"] * 1e3),
            "average power": (c["average_power_w"], g["average_power_w"]),
            "peak power": (float(c.get("peak_power_w", math.nan)), self.gpus * self.gpu.tdp_w),
            "die area": (self.chip_result.area_mm2["total"], gpu_area),
            "dies in system": (float(self.chip.chips), float(self.gpus)),
            "cost to make, one chip/card": (self.chip_cost.unit_cost_usd, self.gpu_cost.cost_to_make_usd),
            "cost per chip with NRE": (nre, math.nan),
            "system cost to make": (self.chip.chips * self.chip_cost.unit_cost_usd,
                                    self.gpus * self.gpu_cost.cost_to_make_usd),
            "price to buy (list/street)": (math.nan, self.gpus * price),
            "gCO2e per 1M tokens": (self.chip_carbon.total_g_per_mtok,
                                    self.gpu_operational_g_per_mtok + (0.0 if math.isnan(emb_gpu) else emb_gpu)),
            "  operational": (self.chip_carbon.operational_g_per_mtok, self.gpu_operational_g_per_mtok),
            "  embodied": (self.chip_carbon.embodied_g_per_mtok, emb_gpu),
        }

    def table(self) -> pd.DataFrame:
        """The side-by-side table: metric, unit, chip, gpu, gpu_over_chip (ratio), better.

        ``better`` is "chip", "gpu" or "" (equal, or a value missing); "dies in system"
        has no winner. Where the GPU's embodied carbon is unknown (no published die area) its
        total is its operational carbon (see :meth:`missing`).
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
            "model": self.model, "scenario": self.scenario, "gpu_scenario": dict(self.gpu_result.scenario),
            "region": self.region, "pue": self.pue,
            "chip_usage": _record(self.chip_usage), "gpu_usage": _record(self.gpu_usage),
            "chip": self.chip.name, "gpu": self.gpu.name, "gpus": self.gpus, "weights": self.weights,
            "calibration": self.calibration.name,
            "table": self.table().to_dict("records"), "missing": self.missing(),
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


def _usage(side: str, dram_type: str, count: int, both: dict, own: Mapping[str, Any] | Usage | None) -> Usage:
    """One side's :class:`Usage`: its class's defaults, then the values given for both sides,
    then its own."""
    if isinstance(own, Usage):
        return own
    own = dict(own or {})
    unknown = sorted(set(own) - {"device_class", "region", "pue", "lifetime_years", "utilization"})
    if unknown:
        raise SpecError(f"{side}_usage.{unknown[0]}", own[unknown[0]],
                        "allowed keys: device_class, region, pue, lifetime_years, utilization")
    cls = own.pop("device_class", None) or device_class(dram_type, count)
    values = {k: v for k, v in both.items() if v is not None} | {k: v for k, v in own.items() if v is not None}
    region = values.pop("region", "world")
    grid_intensity(region)  # an unknown region: one error naming it
    return default_usage(cls, region=grid_intensity(region).key, **values)


def compare(
    model: str | os.PathLike | ModelSpec = DEFAULT_MODEL,
    chip: Chip | str | os.PathLike = DEFAULT_CHIP,
    gpu: Gpu | str | os.PathLike = DEFAULT_GPU,
    *,
    trace: Trace | pd.DataFrame | None = None,
    **options: Any,
) -> Comparison:
    """Run one request of ``model`` on ``chip`` and on GPUs of kind ``gpu``; price and compare both.

    ``options`` are the other fields of :class:`~tritium.analysis.request.CompareRequest`
    (batch, prefill, decode, deployment, GPU batch, weights and count, calibration, precisions...,
    each documented there with its default); this is :func:`run_comparison` of that request.
    ``trace``: a trace to use instead of generating one from model and scenario.

    Raises:
        TritiumError: an unknown model, chip, GPU, region, option or file, or a bad number.
    """
    (given,) = split_options("compare", options, CompareRequest)
    return run_comparison(CompareRequest(model, chip, gpu, **given), trace=trace)


def run_comparison(request: CompareRequest, *, trace: Trace | pd.DataFrame | None = None) -> Comparison:
    """Run ``request`` (:class:`~tritium.analysis.request.CompareRequest`) on its chip and GPUs;
    price and compare both. ``trace``: a trace to use instead of generating one from the
    request's model and scenario.

    Raises:
        TritiumError: an unknown model, chip, GPU, region or file, or a bad number.
    """
    r = request
    model, batch, prefill, decode, gpu_batch = r.model, r.batch, r.prefill, r.decode, r.gpu_batch
    scalesim = isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(".csv")
    spec = None if scalesim else load_model(model)  # a SCALE-Sim topology's layers are ternary
    if spec is not None:
        spec = with_precisions(spec, r.lm_head_dtype, r.kv_dtype)
    chip = load_chip(r.chip)
    card = load_gpu(r.gpu)
    gpus = r.gpus
    check_int("gpus", gpus, lo=1)
    mode = r.weights if r.weights is not None else "w2a8" if spec is None else default_weights(spec)
    check_choice("weights", mode, WEIGHT_MODES)
    if r.calibration is None:
        cal = DEFAULT_CALIBRATION
    elif isinstance(r.calibration, Calibration):
        cal = r.calibration
    else:
        cal = load_calibration(r.calibration)
    both = {"region": r.region, "pue": r.pue, "lifetime_years": r.lifetime_years, "utilization": r.utilization}
    chip_use = _usage("chip", chip.dram.type, chip.chips, both, r.chip_usage)
    gpu_use = _usage("gpu", card.memory_type, gpus, both, r.gpu_usage)
    if trace is None:
        trace = build_trace(spec if spec is not None else model, Scenario(batch=batch, prefill=prefill, decode=decode))
    trace = Trace.of(trace)
    if not trace.decode > 0:
        raise TritiumError(f"{trace.model or model}: the request generates no tokens (decode = 0), so "
                           "there is no per-token figure to compare (a SCALE-Sim topology is one pass of its GEMMs: "
                           "use tritium simulate for it)")
    gpu_trace = trace
    if gpu_batch is not None and gpu_batch != trace.batch:
        check_int("gpu_batch", gpu_batch, lo=1)
        if spec is None:
            raise SpecError("gpu_batch", gpu_batch, "needs a model with a batch to vary (not a SCALE-Sim topology)")
        gpu_trace = build_trace(spec, Scenario(batch=gpu_batch, prefill=trace.prefill, decode=trace.decode))
    chip_result = simulate(chip, trace, scaling=r.scaling, mapping_objective=r.mapping_objective)
    gpu_result = gpu_baseline(card, gpu_trace, weights=mode, gpus=gpus, calibration=cal)
    costs = chip_cost(chip, chip_result.area_mm2["total"], volume=r.volume, nre_usd=r.nre_usd)
    chip_carbon = carbon_per_million_tokens(chip_result, chip, region=chip_use.region, pue=chip_use.pue,
                                            lifetime_years=chip_use.lifetime_years,
                                            utilization=chip_use.utilization)
    notes = [f"chip: {n}" for n in chip_result.notes] + [f"GPU: {n}" for n in gpu_result.notes]
    notes += [f"cost: {n}" for n in costs.notes]
    g_cost = gpu_cost(card, count=gpus)
    notes += [f"GPU cost: {n}" for n in g_cost.notes]
    if gpu_trace is not trace:
        notes.append(f"GPU batch {gpu_batch} against the chip's {chip_result.scenario['batch']}: per-token figures "
                     "compare; time to first token and power are each at its own batch")
    if card.die_mm2 is not None:
        gpu_carbon = carbon_per_million_tokens(gpu_result, gpu_hardware(card, count=gpus), region=gpu_use.region,
                                               pue=gpu_use.pue, lifetime_years=gpu_use.lifetime_years,
                                               utilization=gpu_use.utilization)
        operational = gpu_carbon.operational_g_per_mtok
    else:
        gpu_carbon = None
        tokens = float(gpu_result.scenario["batch"] * gpu_result.scenario["decode"])  # > 0: checked above
        grid = grid_intensity(gpu_use.region).g_per_kwh
        operational = gpu_result.totals["energy_j"] / tokens * 1e6 / 3.6e6 * gpu_use.pue * grid
        notes.append(f"GPU carbon: {card.name}'s die area is not published: embodied carbon not counted "
                     "(its total is operational only)")
    resolved = r.replace(model=spec if spec is not None else model, chip=chip, gpu=card, weights=mode, calibration=cal,
                         chip_usage=chip_use, gpu_usage=gpu_use)
    return Comparison(
        model=trace.model or (spec.name if spec is not None else str(model)), request=resolved,
        scenario=dict(chip_result.scenario), chip_usage=chip_use, gpu_usage=gpu_use,
        weights=mode, chip=chip, gpu=card, gpus=gpus, calibration=cal, chip_result=chip_result,
        gpu_result=gpu_result, chip_cost=costs, gpu_cost=g_cost, chip_carbon=chip_carbon, gpu_carbon=gpu_carbon,
        gpu_operational_g_per_mtok=operational, notes=tuple(notes),
    )
