"""Plots of a sweep: Pareto fronts with GPU baselines on the same axes, and parameter sensitivity.

Figures follow :mod:`tritium.analysis.plots` (its style, :func:`~tritium.analysis.plots.save_figure`
for PNG + SVG). :func:`plot_sweep` writes the standard set for each workload of a sweep.

GPU baselines (:func:`gpu_points`) come from :func:`tritium.analysis.gpu.gpu_baseline` on the
same trace; a GPU the baseline model refuses (the model does not fit its memory, say) is left
off with a note printed under the plot. A GPU's area is its die. On a cost axis the chips sit at
their cost to make (die, package, test, DRAM; no NRE: :mod:`tritium.analysis.cost`) and each GPU
twice: a filled star at its cost to make by the same model, a hollow one at its price to buy
(what a buyer pays), both labelled.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tritium.analysis.dse.pareto import minimization_matrix, non_dominated
from tritium.analysis.dse.space_record import METRICS, Space
from tritium.analysis.dse.store import load_results, load_space_of
from tritium.analysis.plots import STYLE, save_figure
from tritium.base.errors import SpecError, TritiumError

__all__ = ["DEFAULT_GPUS", "COLOR_BY", "gpu_points", "front_plot", "sensitivity_plot", "plot_sweep", "param_label",
           "value_label"]

DEFAULT_GPUS = ("h100-sxm", "rtx-4090", "jetson-agx-orin-64gb")
"""GPUs marked on front plots by default."""
COLOR_BY = ("node_nm", "dram_type")
"""Columns front plots may colour points by."""

_LABELS = {
    "tokens_per_s": "tokens/s (decode)", "joules_per_token": "energy per token (J)", "area_mm2": "die area (mm²)",
    "cost_usd": "system cost (USD): chips' cost to make; GPUs' cost to make (★) and price (☆)",
    "power_w": "average power (W)",
    "time_per_output_token_s": "time per output token (s)", "time_to_first_token_s": "time to first token (s)",
}
_LOG_SPAN = 10.0  # an axis whose values span more than this ratio is logarithmic
_PALETTE = ("#2a9d8f", "#e76f51", "#264653", "#e9c46a", "#9d4edd", "#f4a261", "#8ab17d", "#6c757d")


def gpu_points(space: Space, workload: str, gpus: Sequence[str] = DEFAULT_GPUS, *,
               weights: str | None = None) -> tuple[list[dict], list[str]]:
    """GPU baselines of ``workload`` as metric dicts (with ``label``), and notes on GPUs left out.

    ``weights`` is the GPU weight mode (default ``"w2a8"``, BitNet's 2-bit kernel, for a
    ternary model; ``"fp16"`` otherwise). A GPU :func:`~tritium.analysis.gpu.gpu_baseline`
    refuses is left out with a note.
    """
    key = (space.digest, workload, tuple(gpus), weights)
    if key not in _GPU_CACHE:
        _GPU_CACHE.clear()  # one sweep's baselines at a time
        _GPU_CACHE[key] = _gpu_points(space, workload, gpus, weights)
    points, notes = _GPU_CACHE[key]
    return [dict(p) for p in points], list(notes)


_GPU_CACHE: dict[tuple, tuple[list[dict], list[str]]] = {}


def _gpu_points(space: Space, workload: str, gpus: Sequence[str], weights: str | None):
    from tritium.analysis.cost import gpu_cost
    from tritium.analysis.gpu import gpu_baseline, load_gpu
    from tritium.workloads import load_model

    wl = space.workload(workload)
    trace = wl.trace()
    spec = load_model(wl.model)
    mode = weights or ("w2a8" if wl.ternarize or spec.is_ternary else "fp16")
    out, notes = [], []
    for name in gpus:
        gpu = load_gpu(name)  # an unknown name is the user's error, not a note
        try:
            r = gpu_baseline(gpu, trace, weights=mode)
        except TritiumError as err:
            notes.append(f"{gpu.name}: {err}")
            continue
        t = r.totals
        price = gpu.price_usd if gpu.price_usd is not None else math.nan
        out.append({"label": f"{gpu.name} ({mode})", "tokens_per_s": t["tokens_per_s"],
                    "joules_per_token": t["joules_per_token"],
                    "area_mm2": gpu.die_mm2 if gpu.die_mm2 is not None else math.nan,
                    "cost_usd": gpu_cost(gpu).cost_to_make_usd, "price_usd": price, "power_w": t["average_power_w"],
                    "time_per_output_token_s": t["time_per_output_token_s"],
                    "time_to_first_token_s": t["time_to_first_token_s"]})
    return out, notes


def _style():
    import matplotlib.pyplot as plt

    return plt.rc_context(STYLE)


def _workload(space: Space, workload: str | None) -> str:
    if workload is None:
        return space.workloads[0].name
    if workload not in {w.name for w in space.workloads}:
        raise TritiumError(f"no workload '{workload}'; workloads: {', '.join(w.name for w in space.workloads)}")
    return workload


def _category(value) -> str:
    if isinstance(value, (int, float, np.integer, np.floating)) and not pd.isna(value):
        return f"{value:g} nm"
    return str(value)


def front_plot(out_dir: str | Path, x: str = "joules_per_token", y: str = "tokens_per_s", *,
               color_by: str = "node_nm", workload: str | None = None, gpus: Sequence[str] = DEFAULT_GPUS,
               gpu_weights: str | None = None) -> Figure:
    """The 2-D Pareto front of ``y`` against ``x`` for one workload (default the space's first).

    Every simulated point is a small dot (grey where it misses a constraint); the front of
    the feasible points (directions from METRICS) is drawn large, coloured by ``color_by``
    (``"node_nm"`` or ``"dram_type"``), joined by a step line; GPU baselines are black stars.
    Axes are logarithmic where the values span more than :data:`_LOG_SPAN` (10x).

    Raises:
        TritiumError: no sweep in ``out_dir``; an unknown workload.
        SpecError: an unknown metric or ``color_by``.
    """
    for key, metric in (("x", x), ("y", y)):
        if metric not in METRICS:
            raise SpecError(key, metric, "must be one of " + ", ".join(METRICS))
    if color_by not in COLOR_BY:
        raise SpecError("color_by", color_by, "must be one of " + ", ".join(COLOR_BY))
    space = load_space_of(out_dir)
    return _front_figure(space, load_results(out_dir, status="ok"), x, y, color_by, _workload(space, workload),
                         gpus, gpu_weights)


def _front_figure(space: Space, df: pd.DataFrame, x: str, y: str, color_by: str, name: str,
                  gpus: Sequence[str], gpu_weights: str | None) -> Figure:
    df = df[(df.workload == name) & np.isfinite(df[x]) & np.isfinite(df[y])]
    baselines, notes = gpu_points(space, name, gpus, weights=gpu_weights) if gpus else ([], [])
    with _style():
        fig = Figure()
        ax = fig.add_subplot()
        _draw_front(ax, df, x, y, color_by, baselines)
        ax.set_title(f"{space.name}: {name}")
        if notes:
            fig.text(0.01, 0.005, "; ".join(notes)[:160], fontsize=8, color="#666666")
    return fig


def _draw_front(ax, df: pd.DataFrame, x: str, y: str, color_by: str, baselines: list[dict]) -> None:
    from matplotlib.lines import Line2D

    feasible, missed = df[df.feasible], df[~df.feasible]
    handles = []
    if len(missed):
        ax.scatter(missed[x], missed[y], s=6, color="#cccccc", rasterized=True)
        handles.append(Line2D([], [], ls="", marker="o", ms=4, color="#cccccc", label="misses a constraint"))
    front = feasible[non_dominated(minimization_matrix(feasible, (x, y)))].sort_values(x)
    cats = sorted({_category(v) for v in feasible[color_by]}, key=_category_key)
    colors = {c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(cats)}
    fcat = feasible[color_by].map(_category)
    ax.scatter(feasible[x], feasible[y], s=8, c=[colors[c] for c in fcat], alpha=0.25, rasterized=True)
    if len(front):
        ax.step(front[x], front[y], where="post", color="#555555", lw=1, zorder=2)
        ax.scatter(front[x], front[y], s=46, c=[colors[c] for c in front[color_by].map(_category)],
                   edgecolor="black", lw=0.5, zorder=3)
    counts = fcat.value_counts()
    on_front = front[color_by].map(_category).value_counts() if len(front) else pd.Series(dtype=int)
    for cat in cats:  # every category, on the front or not
        handles.append(Line2D([], [], ls="", marker="o", ms=7, color=colors[cat],
                              label=f"{cat}: {int(counts.get(cat, 0))} chips, {int(on_front.get(cat, 0))} on the front"))
    if len(front):
        handles.append(Line2D([], [], ls="-", marker="o", ms=7, color="#555555", mfc="white", mec="black",
                              label="Pareto front (outlined)"))
    cost_axis = "cost_usd" in (x, y)
    for g in baselines:
        if math.isfinite(g[x]) and math.isfinite(g[y]):
            ax.scatter([g[x]], [g[y]], marker="*", s=260, color="black", zorder=4)
            ax.annotate(g["label"] + (" cost to make" if cost_axis else ""), (g[x], g[y]), textcoords="offset points",
                        xytext=(8, 6), fontsize=11)
        if cost_axis and math.isfinite(g.get("price_usd", math.nan)):
            px, py = (g["price_usd"], g[y]) if x == "cost_usd" else (g[x], g["price_usd"])
            if math.isfinite(px) and math.isfinite(py):
                ax.scatter([px], [py], marker="*", s=260, facecolor="white", edgecolor="black", zorder=4)
                ax.annotate(g["label"] + " price to buy", (px, py), textcoords="offset points", xytext=(8, -14),
                            fontsize=11)
    if baselines:
        handles.append(Line2D([], [], ls="", marker="*", ms=14, color="black", label="GPU on the same trace"))
    for axis, metric in (("x", x), ("y", y)):
        extra = [g[metric] for g in baselines if math.isfinite(g[metric])]
        if metric == "cost_usd":
            extra += [g["price_usd"] for g in baselines if math.isfinite(g.get("price_usd", math.nan))]
        values = np.concatenate([df[metric].to_numpy(), extra])
        values = values[values > 0]
        if values.size and values.max() / values.min() > _LOG_SPAN:
            getattr(ax, f"set_{axis}scale")("log")
    ax.set_xlabel(_LABELS[x] + (" (better ←)" if METRICS[x].direction == "min" else " (better →)"))
    ax.set_ylabel(_LABELS[y])
    ax.legend(handles=handles, loc="best", frameon=False, fontsize=10)


def _category_key(text: str):
    number = re.match(r"^(\d+(?:\.\d+)?)", text)
    return (0, float(number.group(1)), text) if number else (1, 0.0, text)


_UNITS = {"nm": "nm", "mhz": "MHz", "kib": "KiB", "gib": "GiB", "gb_s": "GB/s", "ns": "ns", "pj_per_bit": "pJ/bit",
          "bits": "bits", "w": "W"}
_WORDS = {"tlu": "TLU", "sram": "SRAM", "dram": "DRAM", "dma": "DMA", "kv": "KV", "act": "activation",
          "mac": "MAC", "nm": "", "mhz": "", "kib": "", "gib": ""}


def _split_unit(name: str) -> tuple[str, str]:
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if name.endswith("_" + suffix):
            return name[: -len(suffix) - 1], _UNITS[suffix]
    return name, ""


def param_label(path: str) -> str:
    """A swept parameter's dotted key in words, with its unit: ``"node_nm"`` -> ``"node (nm)"``,
    ``"sram.weight.capacity_kib"`` -> ``"SRAM weight capacity (KiB)"``, ``"tlu.rows"`` -> ``"TLU rows"``."""
    parts = path.split(".")
    base, unit = _split_unit(parts[-1])
    words = [w for part in [*parts[:-1], base] for w in part.split("_")]
    text = " ".join(_WORDS.get(w, w) for w in words if _WORDS.get(w, w))
    return f"{text} ({unit})" if unit else text


def value_label(path: str, value) -> str:
    """A parameter value for a label: whole numbers without ``.0``, the unit of the key appended
    (``("clock_mhz", 500.0)`` -> ``"500 MHz"``)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    elif isinstance(value, (float, np.floating)):
        value = f"{float(value):.4g}"
    unit = _split_unit(path.split(".")[-1])[1]
    return f"{value} {unit}" if unit else str(value)


def sensitivity_plot(out_dir: str | Path, metric: str = "tokens_per_s", *, workload: str | None = None) -> Figure:
    """How much each varied parameter moves ``metric``: one bar per parameter (a tornado chart).

    For each parameter, the median of ``metric`` over the simulated points having each of its
    values, divided by the median over all points; the bar spans the lowest to the highest
    of these ratios (log scale), labelled with the values that give them. Parameters are
    sorted by their spread, widest on top.

    Raises:
        TritiumError: no sweep in ``out_dir``, no simulated points, an unknown workload.
        SpecError: an unknown metric.
    """
    if metric not in METRICS:
        raise SpecError("metric", metric, "must be one of " + ", ".join(METRICS))
    space = load_space_of(out_dir)
    return _sensitivity_figure(space, load_results(out_dir, status="ok"), metric, _workload(space, workload),
                               str(out_dir))


def _sensitivity_figure(space: Space, df: pd.DataFrame, metric: str, name: str, out_dir: str) -> Figure:
    df = df[(df.workload == name) & np.isfinite(df[metric]) & (df[metric] > 0)]
    if df.empty:
        raise TritiumError(f"{out_dir}: no simulated points with a positive {metric} for workload {name}")
    overall = float(df[metric].median())
    rows = []
    for p in space.params:
        med = df.groupby(p.path)[metric].median() / overall
        if med.empty:
            continue
        rows.append((p.path, float(med.min()), float(med.max()), med.idxmin(), med.idxmax()))
    rows.sort(key=lambda r: r[2] / r[1])
    with _style():
        fig = Figure()
        ax = fig.add_subplot()
        _draw_bars(ax, rows)
        ax.set_xlabel(f"median {_LABELS[metric]} over points with that value / overall median ({overall:.3g})")
        ax.set_title(f"Sensitivity of {_LABELS[metric]}: {space.name}, {name}")
    return fig


def _draw_bars(ax, rows: list[tuple]) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator

    for i, (path, lo, hi, at_lo, at_hi) in enumerate(rows):
        ax.barh(i, hi - lo, left=lo, color="#2a9d8f", height=0.6)
        if hi / lo < 1.0005:
            ax.annotate("no effect: every value gives the same median", (hi, i), textcoords="offset points",
                        xytext=(4, 0), ha="left", va="center", fontsize=10, color="#555555")
            continue
        ax.annotate(value_label(path, at_lo), (lo, i), textcoords="offset points", xytext=(-4, 0), ha="right",
                    va="center", fontsize=10)
        ax.annotate(value_label(path, at_hi), (hi, i), textcoords="offset points", xytext=(4, 0), ha="left",
                    va="center", fontsize=10)
    ax.set_yticks(range(len(rows)), [param_label(r[0]) for r in rows])
    ax.axvline(1.0, color="#555555", lw=1)
    ax.set_xscale("log")
    if rows:  # room for the value labels either side (a log axis: pad by a factor)
        lo, hi = min(r[1] for r in rows), max(r[2] for r in rows)
        pad = max(hi / lo, 1.05) ** 0.18
        ax.set_xlim(lo / pad, hi * pad)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(1, 10))))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}x" if round(v * 10) % 2 == 0 and v < 3 else ""))


def _slug(text: str) -> str:
    """A file-name part: no '.', which would read as a suffix ("b1.58" in model names)."""
    return re.sub(r"[^a-z0-9_-]+", "_", text.lower()).strip("_")


def plot_sweep(out_dir: str | Path, dest: str | Path | None = None, *, gpus: Sequence[str] = DEFAULT_GPUS) -> list[Path]:
    """Write the standard plots of a sweep (PNG + SVG) to ``dest`` (default ``OUT/plots``); return the paths.

    Per workload: tokens/s against J/token, area and cost (cost when the sweep has costs),
    each coloured by node and by DRAM type, and the sensitivity of tokens/s and J/token.
    """
    space = load_space_of(out_dir)
    folder = Path(dest) if dest is not None else Path(out_dir) / "plots"
    df = load_results(out_dir, status="ok")
    paths: list[Path] = []
    for wl in space.workloads:
        if not (df.workload == wl.name).any():
            continue
        tag = _slug(wl.name)
        for x in ("joules_per_token", "area_mm2", "cost_usd"):
            if not np.isfinite(df[x]).any():
                continue
            for color in COLOR_BY:
                fig = _front_figure(space, df, x, "tokens_per_s", color, wl.name, gpus, None)
                paths += save_figure(fig, folder / f"front-{tag}-tokens_per_s-vs-{x}-by-{color}")
        for metric in ("tokens_per_s", "joules_per_token"):
            paths += save_figure(_sensitivity_figure(space, df, metric, wl.name, str(out_dir)),
                                 folder / f"sensitivity-{tag}-{metric}")
    return paths
