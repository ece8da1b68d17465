"""Which datapath? The TLU styles side by side at equal throughput, the synthesized figures beside the model's.

:func:`datapath_table` simulates one trace on a chip in each datapath style
(``docs/datapaths.md``): the chip's own ``rows x width`` geometry and clock in every style,
so every variant has the same peak ternary throughput (rows x width x clock per core),
and everything else (SRAM, DRAM, attention array, zero handling) unchanged. A style's keys
take the values of each variant (:data:`DEFAULT_VARIANTS`: the adder tree, the LUT at
g = 2, 3 and 4, the INT8 MAC baseline). Each row gives the area, energy per token and
tokens/s the variant reaches, and, when the RTL calibration records of ``tritium hdl
calibrate`` are passed (:func:`tritium.hdl.calibrate_styles.calibrate_styles`), the
synthesized area of that style's calibration unit beside the model's and its ECP5 figures.
:func:`datapath_plot` draws the table.

Nothing here writes files: the report (or the caller) does.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from tritium.sim.chip_parts import STYLE_KEYS, TluSpec  # noqa: E402
from tritium.workloads.trace_record import Trace  # noqa: E402

__all__ = ["DEFAULT_VARIANTS", "DATAPATH_COLUMNS", "styled_chip", "datapath_table", "datapath_plot"]

DEFAULT_VARIANTS: tuple[tuple[str, dict], ...] = (
    ("adder tree", {"style": "adder_tree"}),
    ("LUT g=2", {"style": "lut", "lut_group": 2}),
    ("LUT g=3", {"style": "lut", "lut_group": 3}),
    ("LUT g=4", {"style": "lut", "lut_group": 4}),
    ("INT8 MAC", {"style": "mac", "mac_bits": 8}),
)
"""(label, ``[tlu]`` keys) of the variants :func:`datapath_table` compares by default."""

DATAPATH_COLUMNS = {
    "variant": "the variant's label",
    "style": "tlu.style",
    "lut_group": "tlu.lut_group (0 unless lut)",
    "peak_tops": "peak ternary multiply-accumulates, 10^12 per second (equal for every variant)",
    "tokens_per_s": "generated tokens per second over the decode phase",
    "time_to_first_token_s": "prefill time, s",
    "joules_per_token": "all energy of the request per generated token, J",
    "tlu_joules_per_token": "the TLU's dynamic energy per generated token, J (a mac TLU's includes the attention "
                            "products and LM head it takes over from the attention array)",
    "tlu_area_mm2": "area of the TLUs of one chip, mm^2 (the model)",
    "area_mm2": "area of one chip, mm^2 (the model)",
    "synth_width": "width of the synthesized calibration unit (0: none passed for this style)",
    "model_unit_um2": "the model's area of that unit, um^2",
    "synth_unit_um2": "its synthesized (yosys generic) area, um^2",
    "model_over_synth": "model_unit_um2 / synth_unit_um2",
    "ecp5_luts": "ECP5 LUT4s of the unit (NaN when not run)",
    "ecp5_dsps": "ECP5 DSP blocks of the unit",
    "ecp5_fmax_mhz": "out-of-context ECP5 fmax of the unit, MHz",
}
"""Columns of :func:`datapath_table`, with their meaning."""


def styled_chip(chip, **tlu):
    """``chip`` with its ``[tlu]`` keys replaced by ``tlu`` (the old style's own keys dropped first).

    Raises:
        SpecError: the keys make an invalid TLU (names the key, the value and what is allowed).
    """
    fields = {f.name: getattr(chip.tlu, f.name) for f in dataclasses.fields(chip.tlu)}
    for keys in STYLE_KEYS.values():
        for key in keys:
            fields[key] = None
    if fields["zero_handling"] == "skip" and tlu.get("style", fields["style"]) != "adder_tree":
        fields["zero_handling"] = "gate"  # weight skip is the adder tree's; gate is the closest other styles have
    if fields["zero_act"] == "skip" and tlu.get("style", fields["style"]) == "lut":
        fields["zero_act"] = "gate"
    return dataclasses.replace(chip, name=chip.name, tlu=TluSpec(**(fields | tlu)))


def _calibration_by_style(calibration: Iterable | None) -> dict:
    """The widest calibration record of each (style, lut_group)."""
    best: dict = {}
    for rec in calibration or ():
        key = (rec.style, int(getattr(rec, "lut_group", 0) or 0))
        if key not in best or rec.width > best[key].width:
            best[key] = rec
    return best


def datapath_table(chip, trace: Trace | pd.DataFrame, *, variants: Sequence[tuple[str, dict]] = DEFAULT_VARIANTS,
                   calibration: Iterable | None = None, scaling: str = "bitnet") -> pd.DataFrame:
    """One row per variant of ``chip``'s datapath (:data:`DATAPATH_COLUMNS`), simulated on ``trace``.

    ``chip`` is a :class:`~tritium.sim.Chip` or a preset name / TOML path; ``variants``
    (label, ``[tlu]`` keys) pairs; ``calibration`` the records of
    :func:`tritium.hdl.calibrate_styles.calibrate_styles` (any objects with ``style``,
    ``lut_group``, ``width``, ``synth_um2``, ``model_um2`` and the ``ecp5_*`` fields), of
    which the widest unit of each style (and group size) is set beside the variant.

    Raises:
        SpecError: a variant's keys make an invalid chip.
    """
    from tritium.sim import load_chip, simulate

    chip = load_chip(chip)
    trace = Trace.of(trace)  # one record: its facts are worked out once for all the variants
    calib = _calibration_by_style(calibration)
    rows = []
    for label, keys in variants:
        variant = styled_chip(chip, **keys)
        result = simulate(variant, trace, scaling=scaling)
        totals = result.totals
        generated = max(1, trace.generated_tokens)
        tlu = variant.tlu
        group = tlu.lut_group if tlu.style == "lut" else 0
        rec = calib.get((tlu.style, group))
        synth = rec.synth_um2 if rec is not None else float("nan")
        model = rec.model_um2 if rec is not None and rec.model_um2 is not None else float("nan")
        rows.append({
            "variant": label,
            "style": tlu.style,
            "lut_group": group,
            "peak_tops": variant.peak_tlu_macs_per_s / 1e12,
            "tokens_per_s": totals["tokens_per_s"],
            "time_to_first_token_s": totals["time_to_first_token_s"],
            "joules_per_token": totals["joules_per_token"],
            "tlu_joules_per_token": result.totals.arithmetic.tlu_j / generated,
            "tlu_area_mm2": result.area_mm2["tlu"],
            "area_mm2": result.area_mm2["total"],
            "synth_width": int(rec.width) if rec is not None else 0,
            "model_unit_um2": model,
            "synth_unit_um2": synth,
            "model_over_synth": model / synth if rec is not None and synth else float("nan"),
            "ecp5_luts": _or_nan(rec, "ecp5_luts"),
            "ecp5_dsps": _or_nan(rec, "ecp5_dsps"),
            "ecp5_fmax_mhz": _or_nan(rec, "ecp5_fmax_mhz"),
        })
    table = pd.DataFrame(rows, columns=list(DATAPATH_COLUMNS))
    table.attrs = {"chip": chip.name, "model": trace.model, "scaling": scaling, "scenario": trace.scenario_dict()}
    return table


def _or_nan(rec, field: str) -> float:
    value = getattr(rec, field, None) if rec is not None else None
    return float("nan") if value is None else float(value)


def datapath_plot(table: pd.DataFrame) -> Figure:
    """Three panels of :func:`datapath_table`'s rows: TLU area (model, and synthesized/model ratio
    where calibrated), TLU energy per token, tokens/s and time to first token."""
    from tritium.analysis.plots import STYLE

    import matplotlib.pyplot as plt

    colors = {"adder_tree": "#2a9d8f", "lut": "#e9c46a", "mac": "#e76f51"}
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(14, 5.2))
        axes = fig.subplots(1, 3)
        x = range(len(table))
        bar_colors = [colors.get(s, "#6c757d") for s in table["style"]]
        labels = list(table["variant"])
        panels = (
            ("tlu_area_mm2", "TLU area (mm$^2$)", 1.0),
            ("tlu_joules_per_token", "TLU energy per token (mJ)", 1e3),
            ("tokens_per_s", "tokens/s (decode)", 1.0),
        )
        for ax, (col, title, scale) in zip(axes, panels):
            values = table[col] * scale
            ax.bar(x, values, color=bar_colors)
            ax.set_title(title)
            ax.set_xticks(list(x), labels, rotation=30, ha="right")
            if col == "tlu_area_mm2":
                for i, ratio in enumerate(table["model_over_synth"]):
                    if ratio == ratio:  # not NaN
                        ax.annotate(f"model/synth {ratio:.2f}", (i, values.iloc[i]), ha="center", va="bottom",
                                    fontsize=9)
            if col == "tokens_per_s":
                twin = ax.twinx()
                twin.plot(list(x), table["time_to_first_token_s"], "k.--", label="time to first token")
                twin.set_ylabel("time to first token (s)")
                twin.grid(False)
                twin.legend(loc="center right")
        attrs = table.attrs
        fig.suptitle(f"Which datapath: {attrs.get('model', '')} on {attrs.get('chip', '')} variants "
                     f"(equal peak throughput, {table['peak_tops'].iloc[0]:.1f} T ternary MAC/s)" if len(table)
                     else "Which datapath")
        fig.tight_layout()
    return fig
