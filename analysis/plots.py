"""Plots for decks and papers: matplotlib figures from :class:`~tritium.sim.SimResult`s.

Every function returns a :class:`matplotlib.figure.Figure` and draws nothing on
screen (Agg backend); :func:`save_figure` writes it as PNG and SVG. Chip and GPU
results share one schema, so each plot takes them side by side. Fonts are sized
for a 16:9 slide.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tritium.fileio import write_bytes_atomic  # noqa: E402
from tritium.sim.energy import ENERGY_COMPONENTS  # noqa: E402

__all__ = [
    "STYLE",
    "figure_bytes",
    "save_figure",
    "energy_breakdown",
    "latency_by_kind",
    "roofline",
    "area_breakdown",
    "carbon_by_region",
    "ratio_sweep",
    "headline_ratios",
]

STYLE = {
    "figure.figsize": (10, 5.6),
    "figure.dpi": 110,
    "font.size": 13,
    "axes.titlesize": 16,
    "axes.labelsize": 14,
    "legend.fontsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "tritium",  # fixed SVG element ids: the same plot gives the same file
}
"""matplotlib rcParams every Tritium plot is drawn with."""

_COLORS = {
    "tlu": "#2a9d8f", "attention": "#e9c46a", "vector": "#f4a261", "sram": "#8ab17d",
    "dram": "#e76f51", "link": "#9d4edd", "static": "#6c757d",
}
_KIND_GROUPS = {
    "ternary_linear": "ternary linears", "linear": "FP linears / LM head",
    "attn_qk": "attention", "attn_pv": "attention", "softmax": "attention",
    "rmsnorm": "norms", "quantize": "(de)quantize", "dequantize": "(de)quantize",
    "activation": "activation, RoPE, residual", "rope": "activation, RoPE, residual",
    "residual": "activation, RoPE, residual", "embedding": "embedding, KV writes", "kv_write": "embedding, KV writes",
}


def _figure(**kw) -> tuple[Figure, plt.Axes]:
    with plt.rc_context(STYLE):
        fig = Figure(**kw)
        ax = fig.add_subplot()
    return fig, ax


def _label(result) -> str:
    return f"{result.chip}"


def _tilt(ax: plt.Axes) -> None:
    """Tilt category labels so long chip and GPU names do not collide."""
    for label in ax.get_xticklabels():
        label.set_rotation(20)
        label.set_horizontalalignment("right")


def figure_bytes(fig: Figure, fmt: str, dpi: int = 150) -> bytes:
    """``fig`` as PNG or SVG bytes in the Tritium style, without dates or software stamps
    (the same plot gives the same bytes); ``dpi`` applies to PNG."""
    buf = io.BytesIO()
    with plt.rc_context(STYLE):
        fig.savefig(buf, format=fmt, bbox_inches="tight", dpi=dpi if fmt == "png" else None,
                    metadata={"Software": None} if fmt == "png" else {"Date": None})
    return buf.getvalue()


def save_figure(fig: Figure, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg`` atomically; return both paths."""
    stem = Path(stem)
    return [write_bytes_atomic(stem.with_suffix(f".{fmt}"), figure_bytes(fig, fmt)) for fmt in ("png", "svg")]


def energy_breakdown(results: Sequence, labels: Sequence[str] | None = None) -> Figure:
    """Stacked bars of energy per generated token by component (mJ/token), one bar per result."""
    labels = list(labels or [_label(r) for r in results])
    fig, ax = _figure()
    bottom = np.zeros(len(results))
    for comp in (*ENERGY_COMPONENTS, "static"):
        values = np.array([r.totals[f"energy_{comp}_j"] / _generated(r) * 1e3 for r in results])
        if not values.any():
            continue
        ax.bar(labels, values, bottom=bottom, label=comp, color=_COLORS[comp])
        bottom += values
    for x, total in enumerate(bottom):
        ax.annotate(f"{total:,.1f}", (x, total), ha="center", va="bottom", fontsize=12)
    _tilt(ax)
    ax.set_ylabel("energy per output token (mJ)")
    ax.set_title("Energy per token by component")
    ax.legend(loc="upper left", ncols=4, frameon=False)
    return fig


def _generated(result) -> int:
    s = result.scenario
    return max(1, int(s.get("batch") or 1) * int(s.get("decode") or 1))


def latency_by_kind(results: Sequence, labels: Sequence[str] | None = None) -> Figure:
    """Where the time goes: per result, prefill and decode seconds by op kind (each op on its own)."""
    labels = list(labels or [_label(r) for r in results])
    groups = list(dict.fromkeys(_KIND_GROUPS.values()))
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(11, 5.6))
        axes = fig.subplots(1, 2)
    cmap = plt.get_cmap("tab10")
    for ax, phase in zip(axes, ("prefill", "decode")):
        bottom = np.zeros(len(results))
        for g, group in enumerate(groups):
            share = []
            for r in results:
                ops = r.ops[r.ops.phase == phase]
                secs = ops.seconds.groupby(ops.kind.map(_KIND_GROUPS)).sum()
                total = ops.seconds.sum()
                share.append(secs.get(group, 0.0) / total * 100 if total > 0 else 0.0)
            ax.bar(labels, share, bottom=bottom, label=group, color=cmap(g))
            bottom += np.array(share)
        ax.set_title(f"{phase}")
        _tilt(ax)
        ax.set_ylabel("share of op time (%)")
        ax.set_ylim(0, 100)
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle("Latency breakdown by op kind")
    return fig


def roofline(results: Sequence, peaks: Sequence[tuple[float, float]], labels: Sequence[str] | None = None) -> Figure:
    """Roofline per result with its ops placed on it.

    ``peaks[i]`` is (peak ops/s, peak DRAM bytes/s) of result ``i``'s machine. An op's
    operational intensity is 2 x MACs per DRAM byte and its achieved rate 2 x MACs
    per second of its own time; ops with no MACs or no DRAM bytes are left out.
    """
    labels = list(labels or [_label(r) for r in results])
    fig, ax = _figure()
    cmap = plt.get_cmap("tab10")
    x = np.logspace(-2, 5, 200)
    for i, (r, (peak, bw)) in enumerate(zip(results, peaks)):
        color = cmap(i)
        ax.plot(x, np.minimum(peak, bw * x), color=color, lw=2, label=f"{labels[i]} roof")
        ops = r.ops[(r.ops.macs > 0) & (r.ops.dram_bytes > 0) & (r.ops.seconds > 0)]
        points = pd.DataFrame({"intensity": 2 * ops.macs / ops.dram_bytes, "achieved": 2 * ops.macs / ops.seconds,
                               "prefill": ops.phase == "prefill"})
        # identical layers give identical points: draw each once (same picture, 30x smaller SVG)
        points = points.loc[points.round({"intensity": 6, "achieved": 0}).drop_duplicates().index]
        ax.scatter(points.intensity, points.achieved, s=18 + 40 * points.prefill, alpha=0.6, color=color,
                   marker="o", edgecolors="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (ops per DRAM byte)")
    ax.set_ylabel("achieved ops/s")
    ax.set_title("Roofline with the trace's ops (large: prefill, small: decode)")
    ax.legend(frameon=False)
    return fig


def area_breakdown(results: Sequence, labels: Sequence[str] | None = None) -> Figure:
    """Stacked bars of die area by component (mm^2), one bar per result."""
    labels = list(labels or [_label(r) for r in results])
    comps = list(dict.fromkeys(k for r in results for k in r.area_mm2 if k != "total"))
    fig, ax = _figure()
    bottom = np.zeros(len(results))
    cmap = plt.get_cmap("tab10")
    for i, comp in enumerate(comps):
        values = np.array([r.area_mm2.get(comp, 0.0) for r in results])
        if not values.any():
            continue
        ax.bar(labels, values, bottom=bottom, label=comp, color=cmap(i))
        bottom += values
    for x, total in enumerate(bottom):
        ax.annotate(f"{total:,.1f}", (x, total), ha="center", va="bottom", fontsize=12)
    _tilt(ax)
    ax.set_ylabel("die area (mm$^2$)")
    ax.set_title("Area by component (one die)")
    ax.legend(frameon=False)
    return fig


def carbon_by_region(per_region: Mapping[str, Mapping[str, tuple[float, float]]]) -> Figure:
    """Grouped stacked bars: gCO2e per 1M tokens by region, operational + embodied.

    ``per_region[label][region] = (operational_g, embodied_g)``.
    """
    labels = list(per_region)
    regions = list(dict.fromkeys(reg for v in per_region.values() for reg in v))
    fig, ax = _figure()
    width = 0.8 / max(len(labels), 1)
    cmap = plt.get_cmap("tab10")
    xs = np.arange(len(regions))
    for i, label in enumerate(labels):
        op = np.array([per_region[label].get(reg, (0.0, 0.0))[0] for reg in regions])
        emb = np.array([per_region[label].get(reg, (0.0, 0.0))[1] for reg in regions])
        pos = xs + (i - (len(labels) - 1) / 2) * width
        ax.bar(pos, op, width, color=cmap(i), label=f"{label} operational")
        ax.bar(pos, emb, width, bottom=op, color=cmap(i), alpha=0.45, hatch="//", label=f"{label} embodied")
    ax.set_xticks(xs, regions)
    ax.set_yscale("log")
    lows = [v for parts in per_region.values() for pair in parts.values() for v in pair[:1] if v > 0]
    if lows:  # on a log axis a bar starts at the bottom edge: keep the smallest one in view
        ax.set_ylim(bottom=min(lows) / 2)
    ax.set_ylabel("gCO$_2$e per 1M generated tokens")
    ax.set_title("Carbon by grid region")
    ax.legend(frameon=False, ncols=2)
    return fig


def ratio_sweep(xs: Sequence[float], ratios: Mapping[str, Sequence[float]], xlabel: str, title: str) -> Figure:
    """Lines of GPU-over-chip ratios (tokens/s, J/token, ...) against a swept parameter."""
    fig, ax = _figure()
    for name, values in ratios.items():
        ax.plot(xs, values, marker="o", lw=2, label=name)
    ax.axhline(1.0, color="black", lw=1, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("ratio (x)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


def headline_ratios(chip_result, gpu_result=None) -> Figure:
    """The seed's 71.4x arithmetic-energy ratio beside what Tritium measures end to end."""
    t = chip_result.totals
    names = ["seed: FP16 MAC /\nINT8 add", "TLU arithmetic\n(regs, accumulators)",
             "TLU + SRAM reads\nof its operands", "chip total vs FP16\nmatmul arithmetic"]
    values = [t["seed_arithmetic_ratio"], t["tlu_arithmetic_ratio"], t["tlu_with_operands_ratio"],
              t["end_to_end_ratio"]]
    if gpu_result is not None:
        names.append(f"{gpu_result.chip} J/token /\nchip J/token")
        values.append(gpu_result.totals["joules_per_token"] / t["joules_per_token"])
    fig, ax = _figure()
    colors = ["#6c757d", "#2a9d8f", "#e9c46a", "#e76f51", "#264653"][: len(values)]
    bars = ax.bar(names, values, color=colors)
    for bar, v in zip(bars, values):
        ax.annotate(f"{v:,.2f}x", (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom")
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", lw=1, ls=":")
    ax.set_ylabel("energy ratio (x, log)")
    ax.set_title(f"How much of the 71.4x survives ({chip_result.model} on {chip_result.chip})")
    return fig
