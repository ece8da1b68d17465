"""``build_report(...) -> Report``: a comparison, its sweeps and its plots, ready to render.

A :class:`Report` holds one :func:`tritium.analysis.compare.compare` run, the ratios
against batch size and context length (each point a comparison of its own), the
GPU's weight modes side by side, the calibration's error table, and every plot of
:mod:`tritium.analysis.plots` for them. :mod:`tritium.analysis.report_render` turns it into
one self-contained HTML file and a Markdown twin (``tritium report``).

Every default is the built-in default: BitNet b1.58 2B4T, 512 prompt tokens, 128
generated, batch 1, on the ``edge-lpddr5`` preset against an H100 SXM.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd
from matplotlib.figure import Figure

from tritium.analysis import plots
from tritium.analysis.carbon import DEFAULT_PUE, DEFAULT_REGIONS, carbon_by_region, gpu_hardware, grid_intensity
from tritium.analysis.compare import DEFAULT_CHIP, DEFAULT_GPU, DEFAULT_MODEL, Comparison, compare, with_precisions
from tritium.analysis.gpu_calibrate import calibration_report
from tritium.analysis.gpu_kernels import WEIGHT_MODES, peak_ops
from tritium.analysis.gpu_model import gpu_baseline
from tritium.analysis.gpu_params import DEFAULT_CALIBRATION, Calibration
from tritium.errors import TritiumError
from tritium.workloads import Scenario, build_trace, load_model

__all__ = ["Report", "Plot", "build_report", "SWEEP_BATCHES", "SWEEP_PREFILLS", "RATIOS"]

SWEEP_BATCHES = (1, 2, 4, 8, 16, 32, 64)
"""Batch sizes of the batch sweep."""
SWEEP_PREFILLS = (128, 256, 512, 1024, 2048, 4096)
"""Prompt lengths of the context sweep (those that fit the model's context with the decode)."""
RATIOS = {  # name: (metric of Comparison.table, True when chip / GPU, else GPU / chip)
    "J/token: GPU / chip": ("J/token", False),
    "tokens/s: chip / GPU": ("tokens/s", True),
    "gCO2e per 1M tokens: GPU / chip": ("gCO2e per 1M tokens", False),
}
"""The ratios the sweeps plot; above 1 the chip is better."""


@dataclass(frozen=True, slots=True)
class Plot:
    """One figure of a report: file stem, title, caption, and the matplotlib figure."""

    name: str
    title: str
    caption: str
    figure: Figure


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report shows.

    Attributes:
        comparison: the main :class:`~tritium.analysis.compare.Comparison`.
        command: the command (or call) that made the report, shown in its header.
        batch_sweep, context_sweep: one row per point: the swept value (batch or
            prefill), then the chip's and GPU's tokens/s, J/token and gCO2e per 1M tokens,
            then each ratio of :data:`RATIOS`.
        weight_modes: the GPU in every weight mode: mode, kernel, TTFT, TPOT, tokens/s,
            J/token, average power (modes that do not apply are left out).
        carbon_regions: gCO2e per 1M tokens by grid region, chip and GPU.
        calibration_errors: :func:`~tritium.analysis.gpu_calibrate.calibration_report` of
            the default calibration (None when a measured one was used).
        plots: the figures, in the order shown.
    """

    comparison: Comparison
    command: str
    batch_sweep: pd.DataFrame
    context_sweep: pd.DataFrame
    weight_modes: pd.DataFrame
    carbon_regions: pd.DataFrame
    calibration_errors: pd.DataFrame | None
    plots: tuple[Plot, ...]

    @property
    def title(self) -> str:
        c = self.comparison
        return f"{c.model} on {c.chip_label} vs {c.gpu_label}"


def build_report(
    model: str | os.PathLike = DEFAULT_MODEL,
    chip: str | os.PathLike = DEFAULT_CHIP,
    gpu: str | os.PathLike = DEFAULT_GPU,
    *,
    batch: int = 1,
    prefill: int = 512,
    decode: int = 128,
    region: str = "world",
    pue: float = DEFAULT_PUE,
    weights: str | None = None,
    gpus: int = 1,
    calibration: Calibration | str | os.PathLike | None = None,
    mapping_objective: str = "latency",
    lm_head_dtype: str | None = None,
    kv_dtype: str | None = None,
    command: str | None = None,
    batches: Sequence[int] = SWEEP_BATCHES,
    prefills: Sequence[int] = SWEEP_PREFILLS,
    regions: Sequence[str] = DEFAULT_REGIONS,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Compare ``model`` on ``chip`` and ``gpu`` (arguments as :func:`~tritium.analysis.compare.compare`),
    sweep batch and context length, and draw every plot.

    ``batches`` and ``prefills`` are the sweep points (prefills longer than the model's
    context minus ``decode`` are dropped); ``regions`` the carbon plot's grid regions.
    ``progress(done, total)`` is called after each comparison.

    Raises:
        TritiumError: as :func:`~tritium.analysis.compare.compare`.
    """
    if isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(".csv"):
        raise TritiumError(f"{model}: a SCALE-Sim topology has no decode, batch or context to sweep, so it makes no "
                           "report; use tritium simulate for it, or a zoo name or config.json here")
    spec = with_precisions(load_model(model), lm_head_dtype, kv_dtype)
    args = dict(region=region, pue=pue, weights=weights, gpus=gpus, calibration=calibration,
                mapping_objective=mapping_objective)
    main_trace = build_trace(spec, Scenario(batch=batch, prefill=prefill, decode=decode))
    main = compare(spec, chip, gpu, trace=main_trace, **args)
    args["weights"], args["calibration"] = main.weights, main.calibration
    if command is None:
        command = (f"tritium.analysis.report.build_report({str(model)!r}, {str(chip)!r}, {str(gpu)!r}, "
                   f"batch={batch}, prefill={prefill}, decode={decode}, region={region!r})")
    prefills = [p for p in prefills if p + decode <= spec.max_position]
    total = 1 + len(batches) + len(prefills)
    done = [1]

    def point(b: int, p: int) -> Comparison:
        if (b, p) == (batch, prefill):
            result = main
        else:
            result = compare(spec, main.chip, main.gpu, trace=build_trace(spec, Scenario(b, p, decode)), **args)
        done[0] += 1
        if progress:
            progress(done[0], total)
        return result

    if progress:
        progress(1, total)
    batch_sweep = _sweep("batch", batches, lambda b: point(b, prefill))
    context_sweep = _sweep("prefill", prefills, lambda p: point(batch, p))
    modes = _weight_modes(main, main_trace)
    regions_table = _regions(main, regions)
    errors = calibration_report() if main.calibration == DEFAULT_CALIBRATION else None
    figures = _plots(main, batch_sweep, context_sweep, regions_table, decode)
    return Report(main, command, batch_sweep, context_sweep, modes, regions_table, errors, figures)


def _sweep(key: str, values: Sequence[int], run: Callable[[int], Comparison]) -> pd.DataFrame:
    rows = []
    for value in values:
        table = run(value).table().set_index("metric")
        row = {key: value}
        for metric, short in (("tokens/s", "tokens_per_s"), ("J/token", "mj_per_token"),
                              ("gCO2e per 1M tokens", "g_per_mtok")):
            row[f"chip_{short}"], row[f"gpu_{short}"] = table.loc[metric, "chip"], table.loc[metric, "gpu"]
        for name, (metric, chip_over_gpu) in RATIOS.items():
            ratio = table.loc[metric, "gpu_over_chip"]
            row[name] = 1.0 / ratio if chip_over_gpu else ratio
        rows.append(row)
    return pd.DataFrame(rows)


def _weight_modes(c: Comparison, trace: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, mode in WEIGHT_MODES.items():
        if name == "fp16":
            continue  # the same kernel as bf16
        r = c.gpu_result if name == c.weights else gpu_baseline(c.gpu, trace, weights=name, gpus=c.gpus,
                                                                 calibration=c.calibration)
        t = r.totals
        rows.append({"weights": name, "kernel": mode.kernel, "ttft_ms": t["time_to_first_token_s"] * 1e3,
                     "tpot_ms": t["time_per_output_token_s"] * 1e3, "tokens_per_s": t["tokens_per_s"],
                     "mj_per_token": t["joules_per_token"] * 1e3, "average_power_w": t["average_power_w"],
                     "used": name == c.weights})
    return pd.DataFrame(rows)


def _regions(c: Comparison, regions: Sequence[str]) -> pd.DataFrame:
    chip = carbon_by_region(c.chip_result, c.chip, regions, pue=c.pue)
    if c.gpu.die_mm2 is not None:
        gpu = carbon_by_region(c.gpu_result, gpu_hardware(c.gpu, count=c.gpus), regions, pue=c.pue)
    else:  # no die area: operational only
        scale = c.gpu_operational_g_per_mtok / c.chip_carbon.grid_g_per_kwh
        gpu = chip[["region", "region_name", "grid_year", "grid_g_per_kwh"]].copy()
        gpu["operational_g_per_mtok"] = [scale * grid_intensity(r).g_per_kwh for r in gpu.region]
        gpu["embodied_g_per_mtok"] = math.nan
        gpu["total_g_per_mtok"] = gpu.operational_g_per_mtok
    out = chip[["region", "region_name", "grid_g_per_kwh"]].copy()
    for side, table in (("chip", chip), ("gpu", gpu)):
        for col in ("operational", "embodied", "total"):
            out[f"{side}_{col}_g_per_mtok"] = table[f"{col}_g_per_mtok"].to_numpy()
    return out


def _plots(c: Comparison, batch_sweep: pd.DataFrame, context_sweep: pd.DataFrame, regions: pd.DataFrame,
           decode: int) -> tuple[Plot, ...]:
    results, labels = [c.chip_result, c.gpu_result], [c.chip_label, c.gpu_label]
    chip_peak = (2 * c.chip.peak_tlu_macs_per_s * c.chip.chips, c.chip.dram.bandwidth_gb_s * 1e9 * c.chip.chips)
    gpu_peak = (peak_ops(c.gpu, WEIGHT_MODES[c.weights].peak) * c.gpus, c.gpu.peak_bandwidth_bytes_s * c.gpus)
    per_region = {
        labels[0]: dict(zip(regions.region, zip(regions.chip_operational_g_per_mtok, regions.chip_embodied_g_per_mtok))),
        labels[1]: dict(zip(regions.region, zip(regions.gpu_operational_g_per_mtok,
                                                regions.gpu_embodied_g_per_mtok.fillna(0.0)))),
    }
    ratio_names = list(RATIOS)
    out = [
        Plot("energy_breakdown", "Energy per token by component",
             "Stacked mJ per generated token: dynamic energy by unit plus static/idle power over the request. "
             "On the GPU, 'tlu' is the linear layers' tensor-core energy.", plots.energy_breakdown(results, labels)),
        Plot("latency_by_kind", "Latency by op kind",
             "Share of each phase's op time by kind of op (each op on its own, before overlap).",
             plots.latency_by_kind(results, labels)),
        Plot("roofline", "Roofline with the trace's ops",
             "Each op at its operational intensity (2 x MACs per DRAM byte) and achieved rate; the lines are "
             "each machine's peak compute and DRAM bandwidth.", plots.roofline(results, [chip_peak, gpu_peak], labels)),
        Plot("area_breakdown", "Chip area by component",
             f"Die area of one {c.chip.name} die by component (the {c.gpu.name} die is "
             f"{c.gpu_result.area_mm2['total']:g} mm^2).", plots.area_breakdown([c.chip_result], [c.chip_label])),
        Plot("carbon_by_region", "Carbon by grid region",
             f"gCO2e per 1M generated tokens, operational (solid) and embodied (hatched), PUE {c.pue:g}.",
             plots.carbon_by_region(per_region)),
        Plot("ratios_vs_batch", "Chip advantage vs batch size",
             f"Ratios at prompt {c.scenario['prefill']} and {decode} generated tokens; above 1 the chip is better.",
             plots.ratio_sweep(batch_sweep.batch.tolist(), {n: batch_sweep[n].tolist() for n in ratio_names},
                               "batch size", "Chip advantage vs batch size (>1: chip better)")),
        Plot("ratios_vs_context", "Chip advantage vs context length",
             f"Ratios at batch {c.scenario['batch']} and {decode} generated tokens as the prompt grows.",
             plots.ratio_sweep(context_sweep.prefill.tolist(), {n: context_sweep[n].tolist() for n in ratio_names},
                               "prompt tokens", "Chip advantage vs context length (>1: chip better)")),
        Plot("headline", "How much of the 71.4x survives",
             "The seed's arithmetic-only ratio (FP16 multiply-add over INT8 add), the TLU's arithmetic with its "
             "registers and accumulators, the whole chip against FP16 matmul arithmetic, and the GPU's "
             "J/token over the chip's.", plots.headline_ratios(c.chip_result, c.gpu_result)),
    ]
    return tuple(out)
