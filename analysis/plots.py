"""Plots for decks and papers: matplotlib figures from :class:`~tritium.sim.SimResult`s.

Every function returns a :class:`matplotlib.figure.Figure` and draws nothing on
screen (Agg backend); :func:`save_figure` writes it as PNG and SVG. Chip and GPU
results share one schema, so each plot takes them side by side. Fonts are sized
for a 16:9 slide.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import matplotlib.patches

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tritium.base.fileio import write_bytes_atomic  # noqa: E402
from tritium.sim.result import ENERGY_COMPONENTS  # noqa: E402

__all__ = [
    "STYLE",
    "figure_bytes",
    "save_figure",
    "energy_breakdown",
    "latency_by_kind",
    "roofline",
    "area_breakdown",
    "area_label",
    "AREA_LABELS",
    "AREA_SUBTOTALS",
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
    "linear": "#2a9d8f", "attention": "#e9c46a", "vector": "#f4a261", "memory_path": "#8ab17d",
    "dram": "#e76f51", "link": "#9d4edd", "static": "#6c757d",
}
_ENERGY_LABELS = {
    "linear": "linear layers (chip: adder trees, MAC array for the LM head; GPU: GEMM kernels)",
    "attention": "attention", "vector": "norms, activations, (de)quantize",
    "memory_path": "on-chip memory path (chip: SRAM; GPU: L2, crossbar, controllers)", "dram": "DRAM devices",
    "link": "chip-to-chip links",
    "static": "static and idle power",
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
        ax.bar(labels, values, bottom=bottom, label=_ENERGY_LABELS.get(comp, comp), color=_COLORS[comp])
        bottom += values
    for x, total in enumerate(bottom):
        ax.annotate(f"{_short(total)} mJ", (x, total), ha="center", va="bottom", fontsize=12)
    if len(bottom):
        ax.set_ylim(0, max(bottom.max(), 1e-12) * 1.12)
    _tilt(ax)
    ax.set_ylabel("energy per output token (mJ)")
    ax.set_title("Energy per token by component")
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], names[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
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


AREA_LABELS = {
    "tlu": "ternary linear unit (adder trees)",
    "attention": "attention MAC array",
    "vector": "vector unit",
    "sram": "SRAM (weight, activation, KV buffers)",
    "dram_phy": "DRAM PHYs",
    "link_phy": "chip-to-chip link PHYs",
    "control": "control and sequencing",
    "noc": "network-on-chip",
    "dma": "DMA engines",
    "pll": "PLL and clocking",
    "io": "I/O pads and bumps",
    "dft": "test logic (DFT)",
    "white_space": "white space (PHY shoreline)",
    "whitespace": "white space (PHY shoreline)",
}
"""Readable names of the ``SimResult.area_mm2`` keys (others: :func:`area_label` spells them out)."""


AREA_SUBTOTALS = ("total", "datapath")
"""``area_mm2`` keys that sum others (not components of their own): left out of the breakdown."""


def area_label(key: str) -> str:
    """A readable name for an ``area_mm2`` key: :data:`AREA_LABELS`, else the key with ``_mm2``
    dropped and underscores as spaces (``"noc_router_mm2"`` -> ``"noc router"``)."""
    if key in AREA_LABELS:
        return AREA_LABELS[key]
    text = key.removesuffix("_mm2").replace("_", " ").strip()
    words = [w.upper() if w in ("phy", "noc", "dma", "pll", "io", "dft", "sram", "dram") else w for w in text.split()]
    return " ".join(words) or key


def _short(value: float) -> str:
    """Three significant figures, never in e-notation: 0.0123, 9.9, 84.1, 1,273."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def _area_text(value: float, total: float) -> str:
    share = 100 * value / total if total else 0.0
    digits = _short(value) if value < 100 else f"{value:,.0f}"
    return f"{digits} mm$^2$ ({share:.1f}%)" if share >= 0.1 else f"{digits} mm$^2$ (<0.1%)"


def area_breakdown(results: Sequence, labels: Sequence[str] | None = None) -> Figure:
    """Die area by component (mm^2), one horizontal bar per component, largest first, each
    annotated with its area and share of the die; several results side by side per component.

    Any key of ``area_mm2`` is shown (readable names: :func:`area_label`), so die overheads a
    simulator adds appear without a change here; the smallest stay readable from their labels.
    """
    labels = list(labels or [_label(r) for r in results])
    comps = list(dict.fromkeys(k for r in results for k in r.area_mm2 if k not in AREA_SUBTOTALS))
    comps = [k for k in comps if any(float(r.area_mm2.get(k, 0.0)) > 0 for r in results)]
    comps.sort(key=lambda k: -max(float(r.area_mm2.get(k, 0.0)) for r in results))
    totals = [float(r.area_mm2.get("total", sum(v for k, v in r.area_mm2.items() if k not in AREA_SUBTOTALS)))
              for r in results]
    n = max(len(results), 1)
    height = max(3.2, 0.9 + 0.42 * len(comps) * n)
    fig, ax = _figure(figsize=(10, height))
    cmap = plt.get_cmap("tab10")
    bar = 0.8 / n
    ys = np.arange(len(comps))
    widest = max([float(r.area_mm2.get(k, 0.0)) for r in results for k in comps] or [1.0])
    for i, (r, total) in enumerate(zip(results, totals)):
        values = np.array([float(r.area_mm2.get(k, 0.0)) for k in comps])
        pos = ys + (i - (n - 1) / 2) * bar
        ax.barh(pos, values, bar * 0.9, color=cmap(i), label=f"{labels[i]} ({total:,.3g} mm$^2$ die)")
        for y, v in zip(pos, values):
            ax.annotate(_area_text(v, total), (v, y), xytext=(4, 0), textcoords="offset points", va="center",
                        fontsize=11)
    ax.set_yticks(ys, [area_label(k) for k in comps])
    ax.invert_yaxis()
    ax.set_xlim(0, widest * 1.45)  # room for the largest bar's annotation
    ax.set_xlabel("area of one die (mm$^2$)")
    ax.grid(axis="y", visible=False)
    ax.set_title("Die area by component" if n > 1 else f"Die area by component: {labels[0]}, {totals[0]:,.3g} mm$^2$")
    if n > 1:
        ax.legend(frameon=False, loc="lower right")
    return fig


def carbon_by_region(per_region: Mapping[str, Mapping[str, tuple[float, float]]],
                     highlight: Sequence[str] = (), names: Mapping[str, str] | None = None) -> Figure:
    """gCO2e per 1M tokens by grid region: one panel per side (each on its own linear axis, so
    neither hides the other), operational and embodied stacked, the total written beside each bar.

    ``per_region[label][region] = (operational_g, embodied_g)``; an embodied figure that is NaN
    (unknown) is drawn as none and the total is marked "operational only". ``highlight``:
    regions to print in bold (the ones asked for). ``names``: a label per region key (default the key).
    """
    labels = list(per_region)
    regions = list(dict.fromkeys(reg for v in per_region.values() for reg in v))
    height = max(3.5, 1.4 + 0.42 * len(regions))
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(12, height))
        axes = fig.subplots(1, max(len(labels), 1), sharey=True)
    axes = np.atleast_1d(axes)
    cmap = plt.get_cmap("tab10")
    ys = np.arange(len(regions))
    for i, (ax, label) in enumerate(zip(axes, labels)):
        pairs = [per_region[label].get(reg, (math.nan, math.nan)) for reg in regions]
        op = np.array([p[0] for p in pairs], dtype=float)
        emb_raw = np.array([p[1] for p in pairs], dtype=float)
        emb = np.nan_to_num(emb_raw)
        ax.barh(ys, op, 0.7, color=cmap(i), label="operational")
        ax.barh(ys, emb, 0.7, left=op, color=cmap(i), alpha=0.4, hatch="//", label="embodied")
        widest = np.nanmax(op + emb) if len(op) else 1.0
        for y, o, e, raw in zip(ys, op, emb, emb_raw):
            text = _short(o + e) + (" (operational only)" if math.isnan(raw) else f"  ({100 * e / (o + e):.0f}% emb.)")
            ax.annotate(text, (o + e, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=10)
        ax.set_xlim(0, widest * 1.6 if widest > 0 else 1)
        ax.set_title(label, fontsize=14)
        ax.set_xlabel("gCO$_2$e per 1M generated tokens")
        ax.grid(axis="y", visible=False)
    handles = [matplotlib.patches.Patch(facecolor="#999999", label="operational"),
               matplotlib.patches.Patch(facecolor="#999999", alpha=0.4, hatch="//", label="embodied")]
    axes[0].set_yticks(ys, [(names or {}).get(reg, reg) for reg in regions])
    for tick, reg in zip(axes[0].get_yticklabels(), regions):
        if reg in highlight:
            tick.set_fontweight("bold")
    axes[0].invert_yaxis()
    fig.suptitle("Carbon by grid region")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncols=2, frameon=False)
    return fig


def ratio_sweep(xs: Sequence[float], ratios: Mapping[str, Sequence[float]], xlabel: str, title: str) -> Figure:
    """Lines of GPU-over-chip ratios (tokens/s, J/token, ...) against a swept parameter."""
    fig, ax = _figure()
    for name, values in ratios.items():
        ax.plot(xs, values, marker="o", lw=2, label=name)
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    ax.axhline(1.0, color="black", lw=1, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(list(xs)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel("ratio (above 1x: the chip is better)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return fig


HEADLINE_STEPS = (
    ("seed_arithmetic_ratio", "Arithmetic only: one FP16 multiply-add\nover one INT8 add (the 71.4x)"),
    ("tlu_arithmetic_ratio", "+ the adder trees' pipeline registers\nand accumulators"),
    ("tlu_with_operands_ratio", "+ reading weights and activations\nfrom on-chip SRAM"),
    ("end_to_end_ratio", "+ DRAM, attention, norms, static power:\nthe whole chip"),
)
"""The steps of :func:`headline_ratios`: SimResult totals key, what that step counts."""


def headline_ratios(chip_result, gpu_result=None) -> Figure:
    """Where the 71.4x goes: the energy of FP16 multiply-adds for the trace's ternary matmuls
    over the chip's energy, as more of the chip is counted (:data:`HEADLINE_STEPS`), then the
    GPU's J/token over the chip's. Above 1 the chip uses less; a step that is n/a (no ternary
    linears) is marked."""
    t = chip_result.totals
    names, values = [], []
    for key, text in HEADLINE_STEPS:
        v = t.get(key)
        names.append(text)
        values.append(float(v) if v is not None and math.isfinite(float(v)) else math.nan)
    if gpu_result is not None:
        names.append(f"The real comparison: {gpu_result.chip}'s\nJ/token over the chip's J/token")
        values.append(gpu_result.totals["joules_per_token"] / t["joules_per_token"])
    fig, ax = _figure(figsize=(11, 1.6 + 1.05 * len(values)))
    colors = ["#6c757d", "#2a9d8f", "#e9c46a", "#e76f51", "#264653"][: len(values)]
    ys = np.arange(len(values))
    finite = [v for v in values if math.isfinite(v) and v > 0]
    ax.barh(ys, [v if math.isfinite(v) and v > 0 else 0 for v in values], 0.6, color=colors)
    ax.set_xscale("log")
    lo, hi = (min(finite + [1.0]) / 3, max(finite + [1.0]) * 8) if finite else (0.1, 100)
    ax.set_xlim(lo, hi)
    for y, v in zip(ys, values):
        if not (math.isfinite(v) and v > 0):
            ax.annotate("n/a: no ternary linears", (lo, y), xytext=(4, 0), textcoords="offset points", va="center")
            continue
        word = "less" if v >= 1 else "more"
        factor = v if v >= 1 else 1 / v
        ax.annotate(f"{_short(v)}x  (chip uses {_short(factor)}x {word})", (v, y), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=12)
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", lw=1, ls=":")
    ax.annotate("parity", (1.0, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -2), textcoords="offset points",
                va="top", fontsize=10)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("energy ratio, FP16 arithmetic (or GPU) over the chip (log; above 1: the chip uses less)")
    ax.set_title(f"Where the 71.4x goes: {chip_result.model} on {chip_result.chip}")
    return fig
