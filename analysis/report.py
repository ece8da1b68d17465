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
from typing import Any, Callable, Sequence

import pandas as pd
from matplotlib.figure import Figure

from tritium.analysis import plots
from tritium.analysis.carbon import DEFAULT_REGIONS, carbon_by_region
from tritium.analysis.embodied import gpu_hardware
from tritium.analysis.grid import grid_intensity
from tritium.analysis.usage import Usage
from tritium.analysis.compare import Comparison, run_comparison, with_precisions
from tritium.analysis.request import (
    DEFAULT_CHIP,
    DEFAULT_GPU,
    DEFAULT_MODEL,
    SWEEP_BATCHES,
    SWEEP_PREFILLS,
    CompareRequest,
    ReportRequest,
    changed,
    split_options,
)
from tritium.analysis.gpu.calibrate import calibration_report
from tritium.analysis.gpu.kernels import WEIGHT_MODES, peak_ops
from tritium.analysis.gpu.model import gpu_baseline
from tritium.analysis.gpu.params import DEFAULT_CALIBRATION
from tritium.analysis.datapaths import datapath_plot, datapath_table
from tritium.base.errors import SpecError, TritiumError
from tritium.workloads import Scenario, Trace, build_trace, load_model

__all__ = ["Report", "Plot", "build_report", "run_report", "ReportRequest", "hardware_table", "area_table", "SWEEP_BATCHES", "SWEEP_PREFILLS",
           "RATIOS"]

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
        carbon_regions: gCO2e per 1M tokens by grid region, chip and GPU (each side at its own
            PUE, lifetime and utilization; the regions asked for first).
        hardware: :func:`hardware_table`: DRAM sustained bandwidth and why, collectives, power.
        area: :func:`area_table`: the chip's die area by component.
        datapaths: :func:`tritium.analysis.datapaths.datapath_table` of the chip on the main
            trace (adder tree, LUT, INT8 MAC at equal peak throughput), or None with
            ``datapaths_note`` saying why.
        serving: :func:`tritium.analysis.serving.capacity.serving_comparison`: the chip and the
            GPU at the same latency SLO (None unless asked for: a capacity search per side).
        calibration_errors: :func:`~tritium.analysis.gpu.calibrate.calibration_report` of
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
    hardware: pd.DataFrame | None = None
    area: pd.DataFrame | None = None
    datapaths: pd.DataFrame | None = None
    datapaths_note: str = ""
    serving: pd.DataFrame | None = None

    @property
    def title(self) -> str:
        c = self.comparison
        return f"{c.model} on {c.chip_label} vs {c.gpu_label}"


def build_report(
    model: str | os.PathLike = DEFAULT_MODEL,
    chip: str | os.PathLike = DEFAULT_CHIP,
    gpu: str | os.PathLike = DEFAULT_GPU,
    *,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> Report:
    """Compare ``model`` on ``chip`` and ``gpu``, sweep batch and context length, and draw every plot.

    ``options`` are the fields of :class:`~tritium.analysis.request.CompareRequest` (the main
    comparison: batch, prefill, decode, deployment, weights...) and of
    :class:`~tritium.analysis.request.ReportRequest` (sweep points, regions, the datapath and
    serving sections...), each documented there with its default; this is :func:`run_report`
    of that request. ``progress(done, total)`` is called after each comparison.

    Raises:
        TritiumError: an unknown option, or as :func:`~tritium.analysis.compare.compare`.
    """
    main, extra = split_options("build_report", options, CompareRequest, ReportRequest)
    return run_report(ReportRequest(CompareRequest(model, chip, gpu, **main), **extra), progress=progress)


def run_report(request: ReportRequest, *, progress: Callable[[int, int], None] | None = None) -> Report:
    """The report of ``request`` (:class:`~tritium.analysis.request.ReportRequest`): its main
    comparison, the sweeps of batch (each point at the main request's other fields, the GPU at
    the chip's batch) and of context length (prefills longer than the model's context minus the
    decode are dropped), the GPU's weight modes, carbon by region, the datapath and serving
    sections when asked, and every plot. ``progress(done, total)`` is called after each comparison.

    Raises:
        TritiumError: as :func:`~tritium.analysis.compare.run_comparison`.
    """
    req = request.compare
    model, batch, prefill, decode = req.model, req.batch, req.prefill, req.decode
    if isinstance(model, (str, os.PathLike)) and str(model).lower().endswith(".csv"):
        raise TritiumError(f"{model}: a SCALE-Sim topology has no decode, batch or context to sweep, so it makes no "
                           "report; use tritium simulate for it, or a zoo name or config.json here")
    spec = with_precisions(load_model(model), req.lm_head_dtype, req.kv_dtype)
    main_trace = build_trace(spec, Scenario(batch=batch, prefill=prefill, decode=decode))
    main = run_comparison(req.replace(model=spec), trace=main_trace)
    # every sweep point: the main request as resolved (chip, GPU, weights, calibration, usage), at the chip's batch
    swept = main.request.replace(gpu_batch=None)
    command = request.command
    if command is None:
        given = ", ".join(f"{k}={v!r}" for k, v in changed(request.compare).items())
        command = f"tritium.analysis.report.build_report({given})"
    batches, prefills, regions = request.batches, request.prefills, request.regions
    if regions is None:
        regions = DEFAULT_REGIONS
    prefills = [p for p in prefills if p + decode <= spec.max_position]
    total = 1 + len(batches) + len(prefills)
    done = [1]

    def point(b: int, p: int) -> Comparison:
        if (b, p) == (batch, prefill) and main.gpu_batch == batch:
            result = main
        else:
            result = run_comparison(swept.replace(batch=b, prefill=p), trace=build_trace(spec, Scenario(b, p, decode)))
        done[0] += 1
        if progress:
            progress(done[0], total)
        return result

    if progress:
        progress(1, total)
    batch_sweep = _sweep("batch", batches, lambda b: point(b, prefill))
    context_sweep = _sweep("prefill", prefills, lambda p: point(batch, p))
    modes = _weight_modes(main, main_trace)
    wanted = [main.chip_usage.region, main.gpu_usage.region, *regions]
    regions_table = _regions(main, list(dict.fromkeys(grid_intensity(r).key for r in wanted)))
    errors = calibration_report() if main.calibration == DEFAULT_CALIBRATION else None
    figures = _plots(main, batch_sweep, context_sweep, regions_table, decode)
    styles, styles_note = (None, "not asked for")
    if request.datapaths:
        styles, styles_note = _datapaths(main, main_trace, request.style_calibration)
        if styles is not None:
            figures += (Plot("datapaths", "Which datapath",
                             f"The {main.chip.name} chip's TLU as an adder tree, LUT (g = 2, 3, 4) and INT8 MAC array "
                             "at the same rows x width and clock (equal peak throughput): TLU area, its energy per "
                             "generated token, and tokens/s on this request. " + styles_note,
                             datapath_plot(styles)),)
    serving_table = None
    if request.serving:
        from tritium.analysis.serving import ServeConfig
        from tritium.analysis.serving.capacity import serving_comparison

        serving_table = serving_comparison(
            spec, main.chip, main.gpu, config=ServeConfig(slo_ttft_s=request.slo_ttft_s, slo_tpot_s=request.slo_tpot_s),
            gpus=main.gpus, gpu_weights=main.weights, prompt=f"lognormal:{prefill}", output=f"lognormal:{decode}")
    return Report(main, command, batch_sweep, context_sweep, modes, regions_table, errors, figures,
                  hardware_table(main), area_table(main.chip_result), styles, styles_note, serving_table)


def _datapaths(c: Comparison, trace: Trace, calibration_file) -> tuple[pd.DataFrame | None, str]:
    """The datapath table of the comparison's chip, or None and why not."""
    records = _style_calibration(calibration_file) if calibration_file is not None else None
    try:
        table = datapath_table(c.chip, trace, calibration=records)
    except SpecError as err:
        return None, f"not shown: the chip cannot take every style ({err})"
    if records:
        note = f"Synthesized units from {calibration_file} beside the model's area (model / synthesized)."
    else:
        note = ("No synthesized figures: pass the JSON of `tritium hdl calibrate --styles adder_tree,lut,mac --json` "
                "as --style-calibration to set them beside the model's.")
    return table, note


def _style_calibration(path) -> list:
    """The records of ``tritium hdl calibrate --styles ... --json`` (a list of objects) as attribute records."""
    import json
    from pathlib import Path
    from types import SimpleNamespace

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise TritiumError(f"{path}: cannot read the style calibration ({type(err).__name__}: {err})") from None
    needed = ("style", "width", "synth_um2", "model_um2")
    if not isinstance(data, list) or not all(isinstance(r, dict) and all(k in r for k in needed) for r in data):
        raise TritiumError(f"{path}: not the JSON of tritium hdl calibrate --styles (a list of records with "
                           f"{', '.join(needed)})")
    return [SimpleNamespace(**r) for r in data]


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


def _weight_modes(c: Comparison, trace: Trace) -> pd.DataFrame:
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
    """Both sides in each region, each at its own PUE, lifetime and utilization. Where the GPU's
    die area is unpublished its embodied carbon is NaN and its total is operational only (as in
    :meth:`Comparison.table`)."""
    def usage(u: Usage) -> dict:
        return dict(pue=u.pue, lifetime_years=u.lifetime_years, utilization=u.utilization)

    chip = carbon_by_region(c.chip_result, c.chip, regions, **usage(c.chip_usage))
    if c.gpu.die_mm2 is not None:
        gpu = carbon_by_region(c.gpu_result, gpu_hardware(c.gpu, count=c.gpus), regions, **usage(c.gpu_usage))
    else:  # no die area: operational only
        scale = c.gpu_operational_g_per_mtok / grid_intensity(c.gpu_usage.region).g_per_kwh
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
                                                regions.gpu_embodied_g_per_mtok))),
    }
    ratio_names = list(RATIOS)
    out = [
        Plot("energy_breakdown", "Energy per token by component",
             "Stacked mJ per generated token: dynamic energy by unit plus static and idle power over the request; "
             "on the GPU the linear layers run on tensor cores and on-chip memory is its caches.",
             plots.energy_breakdown(results, labels)),
        Plot("latency_by_kind", "Latency by op kind",
             "Share of each phase's op time by kind of op (each op on its own, before overlap).",
             plots.latency_by_kind(results, labels)),
        Plot("roofline", "Roofline with the trace's ops",
             "Each op at its operational intensity (2 x MACs per DRAM byte) and achieved rate; the lines are "
             "each machine's peak compute and DRAM bandwidth.", plots.roofline(results, [chip_peak, gpu_peak], labels)),
        Plot("area_breakdown", "Chip area by component",
             f"Area of one {c.chip.name} die by component, largest first, each with its share of the die "
             f"({_gpu_die_text(c)}).", plots.area_breakdown([c.chip_result], [c.chip_label])),
        Plot("carbon_by_region", "Carbon by grid region",
             f"gCO2e per 1M generated tokens in each region, operational (solid) and embodied (hatched), each side "
             f"on its own scale: {_usage_text(c.chip_label, c.chip_usage)}; {_usage_text(c.gpu_label, c.gpu_usage)}"
             f"{_gpu_embodied_text(c)}. The regions asked for are in bold, first.",
             plots.carbon_by_region(per_region, highlight=[c.chip_usage.region, c.gpu_usage.region],
                                    names={g.region: f"{g.region_name} ({g.region})" if g.region != "world"
                                           else "World" for g in regions.itertuples(index=False)})),
        Plot("ratios_vs_batch", "Chip advantage vs batch size",
             f"Ratios at prompt {c.scenario['prefill']} and {decode} generated tokens; above 1 the chip is better.",
             plots.ratio_sweep(batch_sweep.batch.tolist(), {n: batch_sweep[n].tolist() for n in ratio_names},
                               "batch size", "Chip advantage vs batch size (>1: chip better)")),
        Plot("ratios_vs_context", "Chip advantage vs context length",
             f"Ratios at batch {c.scenario['batch']} and {decode} generated tokens as the prompt grows.",
             plots.ratio_sweep(context_sweep.prefill.tolist(), {n: context_sweep[n].tolist() for n in ratio_names},
                               "prompt tokens", "Chip advantage vs context length (>1: chip better)")),
        Plot("headline", "Where the 71.4x goes",
             "BitNet b1.58's 71.4x is arithmetic only: an FP16 multiply-add against the INT8 add that replaces it "
             "(45 nm energies). Each bar divides the energy FP16 multiply-adds would spend on the same ternary "
             "matmuls by the chip's energy counted so far: the adder trees with their registers, then the SRAM "
             "reads of their operands, then everything else the chip spends (DRAM, attention, norms, static "
             "power). Below 1, the chip's energy up to that step exceeds FP16 arithmetic alone (which no real "
             "FP16 machine achieves either). The last bar is the comparison that counts: the GPU's whole "
             "J/token over the chip's.", plots.headline_ratios(c.chip_result, c.gpu_result)),
    ]
    return tuple(out)


def _gpu_die_text(c: Comparison) -> str:
    if c.gpu.die_mm2 is None:
        return f"the {c.gpu.name} die area is not published"
    return f"the {c.gpu.name} die is {c.gpu.die_mm2:,.0f} mm^2"


def _gpu_embodied_text(c: Comparison) -> str:
    if c.gpu_carbon is not None:
        return ""
    return f" ({c.gpu.name}: operational only, its die area is not published, so its embodied carbon is unknown)"


def _usage_text(label: str, u: Usage) -> str:
    return (f"{label} as a {u.device_class} device at PUE {u.pue:g}, embodied spread over {u.lifetime_years:g} years "
            f"at {100 * u.utilization:g}% utilization")


def _watts(x: float) -> str:
    return f"{x:,.0f} W" if abs(x) >= 1000 else f"{x:.3g} W"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _dram_rows(label: str, dram_type: str, peak_gb_s: float) -> dict[str, str]:
    """What a DRAM sustains for each access pattern, and what costs it (tritium.sim.dram)."""
    from tritium.sim.dram import refresh_overhead, sustained_bandwidth_fraction

    stream = sustained_bandwidth_fraction(dram_type, "stream")
    refresh = refresh_overhead(dram_type, "stream")
    return {
        "DRAM": f"{dram_type}, {peak_gb_s:,.1f} GB/s peak ({label})",
        "sustained on weight streams": f"{stream * peak_gb_s:,.1f} GB/s ({_pct(stream)}; refresh costs "
                                       f"{_pct(refresh)}, row changes {_pct(1 - stream / (1 - refresh))})",
        "sustained on KV pages": _pct(sustained_bandwidth_fraction(dram_type, "kv")) + " of peak (row misses on "
                                                                                       "short visits)",
        "sustained on spilled activations": _pct(sustained_bandwidth_fraction(dram_type, "mixed"))
                                            + " of peak (read/write turnaround)",
    }


def _decode_dram(result, peak_gb_s: float) -> str:
    ops = result.ops[result.ops.phase == "decode"]
    seconds = float(ops.seconds.sum())
    if seconds <= 0:
        return "n/a (no decode ops)"
    rate = float(ops.dram_bytes.sum()) / seconds / 1e9
    return f"{rate:,.1f} GB/s ({_pct(rate / peak_gb_s)} of peak)"


def hardware_table(c: Comparison) -> pd.DataFrame:
    """The memory, link and power facts of both sides, one row per quantity (columns
    ``quantity``, ``chip``, ``gpu``): each DRAM's sustained bandwidth by access pattern and
    why (refresh, row changes, turnaround: :mod:`tritium.sim.dram`, the same model on both
    sides), the bandwidth decode reached, the DRAM's background power, the chips' collective
    time per output token (:mod:`tritium.sim.collectives`), average and peak power.

    Figures the simulator does not give are "n/a" with the reason.
    """
    chip, gpu = c.chip, c.gpu
    chip_peak = chip.dram.bandwidth_gb_s
    gpu_peak = gpu.memory_bandwidth_gb_s
    left, right = _dram_rows("per chip", chip.dram.type, chip_peak), _dram_rows("per card", gpu.memory_type, gpu_peak)
    rows = [{"quantity": k, "chip": left[k], "gpu": right[k]} for k in left]
    rows.append({"quantity": "DRAM bandwidth reached in decode (ops on their own)",
                 "chip": _decode_dram(c.chip_result, chip_peak * chip.chips),
                 "gpu": _decode_dram(c.gpu_result, gpu_peak * c.gpus)})
    t = c.chip_result.totals
    background = t.get("dram_background_j")
    rows.append({"quantity": "DRAM background and refresh power",
                 "chip": (f"{_watts(background / t['total_s'])} over the whole run" if background is not None
                          and t["total_s"] > 0 else "n/a (the simulator gives no dram_background_j)"),
                 "gpu": "inside the card's idle power"})
    rows.append({"quantity": "collectives per output token", "chip": _collectives(c), "gpu": _gpu_links(c)})
    peak = t.get("peak_power_w")
    rows.append({"quantity": "average power", "chip": _watts(t["average_power_w"]),
                 "gpu": _watts(c.gpu_result.totals["average_power_w"])})
    rows.append({"quantity": "peak power (every unit busy)",
                 "chip": _watts(peak) if peak is not None and math.isfinite(peak)
                 else "n/a (this simulator version gives no peak_power_w)",
                 "gpu": f"{c.gpus * gpu.tdp_w:,.0f} W (board power limit, TDP)"})
    return pd.DataFrame(rows, columns=["quantity", "chip", "gpu"])


def _collectives(c: Comparison) -> str:
    chip = c.chip
    if chip.chips == 1 or chip.link is None:
        return "none (one chip)"
    ops = c.chip_result.ops
    decode = ops[ops.phase == "decode"]
    if "link_cycles" not in decode:
        return "n/a (the ops table has no link_cycles)"
    tokens = max(1, int(c.scenario.get("decode") or 1))
    link_s = float(decode.link_cycles.sum()) / (chip.clock_mhz * 1e6) / tokens
    count = int((decode.link_cycles > 0).sum())
    share = float(decode.link_cycles.sum()) / max(1.0, float(decode.cycles.sum()))
    link = chip.link
    return (f"{count} all-reduces, {link_s * 1e3:.3g} ms ({_pct(share)} of decode op time), {link.algorithm} "
            f"algorithm on a {link.topology} of {chip.chips} chips at {link.bandwidth_gb_s:g} GB/s x "
            f"{link.efficiency:g} efficiency, {link.latency_ns:g} ns per hop")


def _gpu_links(c: Comparison) -> str:
    if c.gpus == 1:
        return "none (one GPU)"
    cal = c.calibration
    return (f"NCCL-style all-reduce over {c.gpu.interconnect} at {c.gpu.interconnect_gb_s:g} GB/s x "
            f"{cal.link_efficiency:g}, {cal.allreduce_latency_s * 1e6:g} us each")


def area_table(result) -> pd.DataFrame:
    """The die area of one chip by component, largest first: ``component`` (the readable label of
    :func:`tritium.analysis.plots.area_label`), ``key`` (the ``area_mm2`` key), ``mm2``, ``share``.

    Any key the simulator adds (control, NoC, DMA, PLL, I/O, test logic, white space) is listed;
    subtotals (:data:`tritium.analysis.plots.AREA_SUBTOTALS`) are not."""
    items = [(k, float(v)) for k, v in result.area_mm2.items() if k not in plots.AREA_SUBTOTALS and float(v) > 0]
    total = float(result.area_mm2.get("total", sum(v for _, v in items)))
    items.sort(key=lambda kv: -kv[1])
    return pd.DataFrame([{"component": plots.area_label(k), "key": k, "mm2": v, "share": v / total if total else 0.0}
                         for k, v in items], columns=["component", "key", "mm2", "share"])
