"""Render a :class:`~tritium.analysis.report.Report` as one self-contained HTML file and a Markdown twin.

:func:`render` returns the files as bytes, keyed by relative path: ``report.html`` (plots
embedded as base64 PNG; no external resource of any kind), ``report.md`` with its plots
beside it in ``plots/`` (PNG and SVG), and the resolved inputs (``chip.toml``,
``gpu.toml``, ``calibration.toml``, ``comparison.json``). :func:`write_report` writes them
as one folder, swapped in whole (:func:`tritium.base.fileio.replace_folder`): a run killed at any
moment leaves the old report or the new one.
"""

from __future__ import annotations

import base64
import html
import math
import os
from dataclasses import dataclass
from pathlib import Path


import tritium
from tritium.analysis.gpu.calibrate import report_markdown
from tritium.analysis.gpu.db import gpu_to_toml
from tritium.analysis.gpu.params import calibration_to_toml
from tritium.analysis.plots import figure_bytes
from tritium.analysis.report import RATIOS, Report
from tritium.base.fileio import json_text, record_written, replace_folder
from tritium.sim import chip_to_toml
from tritium.base.specio import dumps_toml

__all__ = ["render", "write_report", "PNG_DPI", "REPORT_ENTRIES"]

REPORT_ENTRIES = ("report.html", "report.md", "plots", "chip.toml", "gpu.toml", "calibration.toml",
                  "comparison.json")
"""The top-level entries of a report folder (:func:`render`'s paths)."""

PNG_DPI = 100
"""Resolution of the PNG plots (10 x 5.6 inch figures: about 1000 x 560 pixels)."""

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; } th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; } pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; }
code { background: #f3f3f3; padding: 0 0.2em; } .summary { font-size: 1.1em; background: #eef6f4; padding: 0.8em; }
.warning { background: #fdf0e6; border-left: 4px solid #d9822b; padding: 0.6em 0.8em; }
"""


@dataclass(frozen=True, slots=True)
class _Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.headers)
        body = "".join("<tr>" + "".join(f'<td class="num">{html.escape(v)}</td>' if n else f"<td>{html.escape(v)}</td>"
                                        for v, n in zip(row, self.numeric)) + "</tr>\n" for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n"

    def markdown(self) -> str:
        def cell(v: str) -> str:
            return v.replace("|", "\\|")
        lines = ["| " + " | ".join(self.headers) + " |",
                 "|" + "|".join("---:" if n else "---" for n in self.numeric) + "|"]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


def _num(value: float, digits: int = 4) -> str:
    """A number for a table: n/a for missing, thousands separators, ``digits`` significant figures."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    value = float(value)
    if value.is_integer() and abs(value) < 10**6:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:#.{digits}g}".rstrip(".") if value != 0 else "0"


def _ratio(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.3g}x"


def _tables(r: Report) -> dict[str, _Table]:
    c = r.comparison
    out = {}
    main = c.table()
    out["compare"] = _Table(("metric", "unit", c.chip_label, c.gpu_label, "GPU / chip", "better"),
                            tuple((f"- {m.strip()}" if m.startswith(" ") else m, u, _num(a), _num(b), _ratio(q), w)
                                  for m, u, a, b, q, w in
                                  main.itertuples(index=False)),
                            (False, False, True, True, True, False))
    modes = r.weight_modes
    out["modes"] = _Table(("weights", "kernel", "TTFT ms", "TPOT ms", "tokens/s", "mJ/token", "avg power W"),
                          tuple((f"{m.weights}{' (used)' if m.used else ''}", m.kernel, _num(m.ttft_ms), _num(m.tpot_ms),
                                 _num(m.tokens_per_s), _num(m.mj_per_token), _num(m.average_power_w))
                                for m in modes.itertuples(index=False)),
                          (False, False, True, True, True, True, True))
    for key, col, label in (("batch", "batch", "batch"), ("context", "prefill", "prompt tokens")):
        sweep = r.batch_sweep if key == "batch" else r.context_sweep
        out[key] = _Table((label, "chip tokens/s", "GPU tokens/s", "chip mJ/token", "GPU mJ/token", *RATIOS),
                          tuple((str(int(getattr(s, col))), _num(s.chip_tokens_per_s), _num(s.gpu_tokens_per_s),
                                 _num(s.chip_mj_per_token), _num(s.gpu_mj_per_token),
                                 *(_ratio(v) for v in s[-len(RATIOS):]))
                                for s in sweep.itertuples(index=False)),
                          (True,) * (5 + len(RATIOS)))
    out["cost"] = _cost_table(c)
    reg = r.carbon_regions
    gpu_total = "GPU total" if c.gpu_carbon is not None else "GPU total (operational only)"
    out["carbon"] = _Table(
        ("region", "grid gCO2e/kWh", "chip operational", "chip embodied", "chip total", "GPU operational",
         "GPU embodied", gpu_total, "GPU / chip"),
        tuple((f"{g.region_name} ({g.region})", _num(g.grid_g_per_kwh), _num(g.chip_operational_g_per_mtok),
               _num(g.chip_embodied_g_per_mtok), _num(g.chip_total_g_per_mtok), _num(g.gpu_operational_g_per_mtok),
               _num(g.gpu_embodied_g_per_mtok), _num(g.gpu_total_g_per_mtok),
               _ratio(g.gpu_total_g_per_mtok / g.chip_total_g_per_mtok)) for g in reg.itertuples(index=False)),
        (False,) + (True,) * 8)
    if r.hardware is not None:
        out["hardware"] = _Table(("quantity", c.chip_label, c.gpu_label),
                                 tuple((h.quantity, h.chip, h.gpu) for h in r.hardware.itertuples(index=False)),
                                 (False, False, False))
    if r.area is not None:
        total = float(c.chip_result.area_mm2.get("total", r.area.mm2.sum()))
        rows = tuple((a.component, a.key, _num(a.mm2), f"{100 * a.share:.1f}%" if a.share >= 0.0005 else "<0.1%")
                     for a in r.area.itertuples(index=False))
        out["area"] = _Table(("component", "key", "mm^2", "share"), rows + (("die total", "total", _num(total),
                                                                             "100.0%"),),
                             (False, False, True, True))
    if r.datapaths is not None:
        d = r.datapaths

        def opt(v: float, fmt: str) -> str:
            return "n/a" if v != v else format(v, fmt)

        out["datapaths"] = _Table(
            ("variant", "tokens/s", "TTFT ms", "mJ/token", "TLU mJ/token", "TLU mm^2", "die mm^2",
             "model / synthesized unit", "ECP5 LUT4", "ECP5 DSP", "ECP5 fmax MHz"),
            tuple((v.variant, _num(v.tokens_per_s), _num(1e3 * v.time_to_first_token_s), _num(1e3 * v.joules_per_token),
                   _num(1e3 * v.tlu_joules_per_token), _num(v.tlu_area_mm2), _num(v.area_mm2),
                   opt(v.model_over_synth, ".2f"), opt(v.ecp5_luts, ".0f"), opt(v.ecp5_dsps, ".0f"),
                   opt(v.ecp5_fmax_mhz, ".0f")) for v in d.itertuples(index=False)),
            (False,) + (True,) * 10)
    if r.serving is not None:
        out["serving"] = _Table(
            ("device", "capacity req/s", "tokens/s", "power W", "J/request", "mJ/token", "hardware $",
             "$ per 1M tokens"),
            tuple((f"{v.device} ({'cost to make' if v.kind == 'chip' else 'price to buy'})", _num(v.capacity_rps),
                   _num(v.tokens_per_s), _num(v.average_power_w), _num(v.joules_per_request),
                   _num(1e3 * v.joules_per_token), "n/a (not published)" if v.hardware_usd != v.hardware_usd
                   else f"{v.hardware_usd:,.0f}", "n/a" if v.usd_per_million_tokens != v.usd_per_million_tokens
                   else f"{v.usd_per_million_tokens:.4g}") for v in r.serving.itertuples(index=False)),
            (False,) + (True,) * 7)
    return out


def _cost_table(c) -> _Table:
    cost, gcost = c.chip_cost, c.gpu_cost
    die = gcost.die
    na = math.nan

    def g(attr: str) -> float:
        return getattr(die, attr) if die is not None else na

    rows = [
        ("die area (mm^2)", _num(cost.die_area_mm2), _num(g("die_area_mm2"))),
        ("node (nm)", _num(cost.node_nm), _num(c.gpu.node_nm)),
        ("wafer price (USD, 300 mm)", _num(cost.wafer_usd), _num(g("wafer_usd"))),
        ("gross dies per wafer (whole dies)", f"{cost.dies_per_wafer:,}",
         f"{die.dies_per_wafer:,}" if die is not None else "n/a"),
        ("die yield (negative binomial)", _num(cost.die_yield, 3), _num(g("die_yield"), 3)),
        ("good die (USD)", _num(cost.cost_per_good_die_usd), _num(g("cost_per_good_die_usd"))),
        ("package, assembly, test (USD)", _num(cost.package_test_usd), _num(gcost.package_test_usd)),
        ("DRAM", f"{_num(cost.dram_gb)} GB {cost.dram_type}", f"{_num(gcost.mem_gb)} GB {gcost.memory_type}"),
        ("DRAM (USD)", _num(cost.memory_usd), _num(gcost.memory_usd)),
        ("cost to make, one chip/card (USD)", _num(cost.unit_cost_usd), _num(gcost.cost_to_make_usd)),
    ]
    if cost.volume is not None:
        rows += [
            ("NRE: mask set + design (USD)", f"{_num(cost.mask_set_usd)} + {_num(cost.design_nre_usd)}",
             "n/a (not published)"),
            ("production volume (chips)", f"{cost.volume:,}", "n/a"),
            ("cost per chip with NRE (USD)", _num(cost.cost_per_chip_usd), "n/a"),
        ]
    price = gcost.price_usd if gcost.price_usd is not None else na
    rows.append(("price to buy one card (USD)", "n/a (no price: the maker sets it)",
                 _num(price) + (" (street estimate)" if gcost.price_is_estimate and gcost.price_usd else "")))
    return _Table(("item", c.chip.name, c.gpu.name), tuple(rows), (False, True, True))


def _cost_intro(c) -> str:
    text = ("The same model on both sides (analysis/cost.py): gross dies per 300 mm wafer "
            "floor(pi (d/2)^2 / A - pi d / sqrt(2 A)), negative-binomial yield, wafer price by node, package "
            "and test, DRAM per GB: the cost to make, not a price.")
    if c.chip_cost.volume is None:
        text += (" No NRE is counted: give --volume (and --nre-usd for design and IP) to spread the mask set "
                 "over production.")
    else:
        text += (f" The NRE (a {c.chip_cost.node_nm:g} nm mask set and {c.chip_cost.design_nre_usd:,.0f} USD of "
                 f"design given) is spread over {c.chip_cost.volume:,} chips.")
    return text + " A card's price is what a buyer pays, shown apart."


def _carbon_intro(c) -> str:
    from tritium.analysis.report import _usage_text

    return ("gCO2e per 1M generated tokens: operational = energy x PUE x grid intensity; embodied (ACT) spread "
            f"over the device's lifetime at its utilization. {_usage_text(c.chip_label, c.chip_usage)}; "
            f"{_usage_text(c.gpu_label, c.gpu_usage)}."
            + (f" {c.gpu.name}'s die area is not published: its embodied carbon is n/a and its total is "
               "operational only." if c.gpu_carbon is None else ""))


def _summary(r: Report) -> str:
    c = r.comparison
    t = c.table().set_index("metric")
    energy = t.loc["J/token", "gpu_over_chip"]
    speed = t.loc["tokens/s", "gpu_over_chip"]
    carbon = t.loc["gCO2e per 1M tokens", "gpu_over_chip"]
    def times(x: float, more: str, less: str) -> str:
        return f"{x:,.1f}x {more}" if x >= 1 else f"{1 / x:,.1f}x {less}"

    if c.gpu_carbon is None:
        carbon = t.loc["  operational", "gpu_over_chip"]
        co2 = (f"emits {times(carbon, 'less', 'more')} operational CO2e per token (embodied n/a: "
               f"{c.gpu.name}'s die area is not published)")
    else:
        co2 = f"emits {times(carbon, 'less', 'more')} CO2e per token"
    where = (f"on the '{c.chip_usage.region}' grid" if c.chip_usage.region == c.gpu_usage.region else
             f"(chip on the '{c.chip_usage.region}' grid, GPU on '{c.gpu_usage.region}')")
    batch = "" if c.gpu_batch == c.scenario["batch"] else f" at batch {c.gpu_batch}"
    caveat = "Read with the warnings above: " if c.warnings else ""
    return (f"{caveat}{c.chip_label} spends {times(energy, 'less', 'more')} energy per generated token than "
            f"{c.gpu_label}{batch} ({_num(t.loc['J/token', 'chip'])} vs {_num(t.loc['J/token', 'gpu'])} mJ), "
            f"{co2} {where}, and decodes {times(speed, 'slower', 'faster')} ({_num(t.loc['tokens/s', 'chip'])} vs "
            f"{_num(t.loc['tokens/s', 'gpu'])} tokens/s).")


def _configs(r: Report) -> dict[str, str]:
    c = r.comparison
    model_toml = dumps_toml(c.request.model)  # the spec the comparison ran (precisions included)
    scenario = "\n".join(f"{k} = {v}" for k, v in c.scenario.items())
    scenario += f'\ngpu_batch = {c.gpu_batch}\ngpu_weights = "{c.weights}"\ngpus = {c.gpus}\n'
    for side, u in (("chip", c.chip_usage), ("gpu", c.gpu_usage)):
        scenario += (f'\n[{side}_usage]\ndevice_class = "{u.device_class}"\nregion = "{u.region}"\npue = {u.pue}\n'
                     f"lifetime_years = {u.lifetime_years}\nutilization = {u.utilization}\n")
    if c.chip_cost.volume is not None:
        scenario += f"\n[cost]\nvolume = {c.chip_cost.volume}\nnre_usd = {c.chip_cost.design_nre_usd}\n"
    return {"scenario": scenario, "chip": chip_to_toml(c.chip), "gpu": gpu_to_toml(c.gpu),
            "model": model_toml, "calibration": calibration_to_toml(c.calibration)}


def _sources(r: Report) -> list[str]:
    c = r.comparison
    seen = {}
    for group in (c.chip_cost.sources, c.gpu_cost.sources, c.chip_carbon.sources, c.chip_carbon.embodied.sources,
                  *([c.gpu_carbon.sources, c.gpu_carbon.embodied.sources] if c.gpu_carbon else [])):
        for key, source in group.items():
            seen.setdefault(f"{key}: {source}", None)
    seen.update({f"{c.gpu.name}: {s}": None for s in c.gpu.sources})
    return list(seen)


def render(report: Report) -> dict[str, bytes]:
    """Every file of the report, keyed by its path relative to the report folder."""
    files: dict[str, bytes] = {}
    pngs = {}
    for p in report.plots:
        pngs[p.name] = figure_bytes(p.figure, "png", PNG_DPI)
        files[f"plots/{p.name}.png"] = pngs[p.name]
        files[f"plots/{p.name}.svg"] = figure_bytes(p.figure, "svg")
    tables, configs, sources = _tables(report), _configs(report), _sources(report)
    files["report.html"] = _html(report, tables, configs, sources, pngs).encode()
    files["report.md"] = _markdown(report, tables, configs, sources).encode()
    c = report.comparison
    files["chip.toml"] = configs["chip"].encode()
    files["gpu.toml"] = configs["gpu"].encode()
    files["calibration.toml"] = configs["calibration"].encode()
    files["comparison.json"] = (json_text(c.as_dict()) + "\n").encode()
    return files


def write_report(report: Report, out_dir: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Write :func:`render`'s files as the folder ``out_dir``; return their paths.

    The report is built in a temporary folder beside ``out_dir`` and swapped in whole,
    replacing an earlier report there (:func:`tritium.base.fileio.replace_folder`).

    Raises:
        TritiumError: ``out_dir`` is not a folder, or holds a file Tritium did not write
            (under a report's name: unless ``force``; any other: always).
    """
    out, files = Path(out_dir), render(report)
    with replace_folder(out, force=force) as tmp:
        for name, data in files.items():
            (tmp / name).parent.mkdir(exist_ok=True)
            (tmp / name).write_bytes(data)
        written = [tmp / name for name in files]
        record_written(written)
    return [out / name for name in files]


def _calibration_text(r: Report) -> tuple[str, str]:
    """(paragraph, Markdown table or "") describing the GPU model's calibration."""
    cal = r.comparison.calibration
    text = f"Calibration '{cal.name}': {cal.description.rstrip('.')}."
    if r.calibration_errors is None:
        return text, ""
    return text + " Model against the measured H100 anchors:", report_markdown(r.calibration_errors)


def _md_table_to_html(md: str) -> str:
    lines = [line.strip().strip("|").split("|") for line in md.strip().splitlines()]
    header, rows = lines[0], lines[2:]
    table = _Table(tuple(h.strip() for h in header), tuple(tuple(v.strip() for v in row) for row in rows),
                   tuple(i >= 2 and i <= 5 for i in range(len(header))))
    return table.html()


def _sections(r: Report) -> list[tuple[str, str, str, str]]:
    """(table key, title, text before, text after) of each table section, in order; the first is
    shown before the plots."""
    c = r.comparison
    missing = c.missing()
    shown = c.table().set_index("metric")
    grouped: dict[str, list[str]] = {}
    for m, why in missing.items():
        if m in shown.index and not (math.isfinite(shown.loc[m, "chip"]) and math.isfinite(shown.loc[m, "gpu"])):
            grouped.setdefault(why, []).append(m.strip())
    reasons = [f"{', '.join(ms)}: {why}" for why, ms in grouped.items()]
    if reasons:
        reasons[0] = "Where a figure is n/a: " + reasons[0]
    compare_intro = "The same trace on both; ratios are GPU over chip."
    if c.gpu_batch != c.scenario["batch"]:
        compare_intro += (f" The GPU runs batch {c.gpu_batch}, the chip batch {c.scenario['batch']}: per-token "
                          "figures compare, time to first token and power are each at its own batch.")
    out = [("compare", "Side by side", compare_intro, "; ".join(reasons) + "." if reasons else "")]
    if "hardware" in _KEYS(r):
        out.append(("hardware", "Memory, links and power",
                    "What each DRAM sustains and why (tritium.sim.dram: refresh, row changes, read/write turnaround; "
                    "one model for the chip and the GPU), the bandwidth decode reached, the collectives of a "
                    "multi-chip system (tritium.sim.collectives), and power.", ""))
    if "area" in _KEYS(r):
        out.append(("area", "Die area by component", f"One {c.chip.name} die; {_die_note(c)}.", ""))
    if "serving" in _KEYS(r):
        v = r.serving.iloc[0]
        out.append(("serving", "Serving at an SLO",
                    f"Each side serves a Poisson request stream (tritium serve: continuous batching, paged KV cache, "
                    f"prompts and outputs lognormal around {c.scenario['prefill']} and {c.scenario['decode']} tokens); "
                    f"capacity is the highest rate whose p90 time to first token is at most {v.slo_ttft_p90_s:g} s and "
                    f"p99 time per output token at most {v.slo_tpot_p99_s:g} s. Dollars per million tokens spread "
                    "the hardware over 3 years of service at that rate plus electricity at $0.10/kWh; the chip's "
                    "hardware is its cost to make (no NRE), the GPU's its price to buy (docs/serving.md).", ""))
    if "datapaths" in _KEYS(r):
        out.append(("datapaths", "Which datapath",
                    f"The {c.chip.name} chip's ternary unit in each datapath style (adder tree, LUT of g activations, "
                    "INT8 MAC array) at the same rows x width and clock, so the same peak throughput, everything else "
                    "unchanged, on this request (docs/datapaths.md). A MAC unit also runs attention and the LM head.",
                    r.datapaths_note))
    out += [
        ("modes", "The GPU in every weight mode", "Same trace, GPU weight kernels from 16 down to 2 bits.", ""),
        ("batch", "Against batch size", "Both sides at each batch.", ""),
        ("context", "Against context length", "", ""),
        ("cost", "Cost to make", _cost_intro(c), ""),
        ("carbon", "Carbon by grid region", _carbon_intro(c), ""),
    ]
    return out


def _KEYS(r: Report) -> set[str]:
    return {k for k, v in (("hardware", r.hardware), ("area", r.area), ("datapaths", r.datapaths),
                           ("serving", r.serving)) if v is not None}


def _die_note(c) -> str:
    if c.gpu.die_mm2 is None:
        return f"the {c.gpu.name} die area is not published"
    return f"for scale, the {c.gpu.name} die is {c.gpu.die_mm2:,.0f} mm^2"


def _html(r: Report, tables, configs, sources, pngs) -> str:
    c = r.comparison
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(r.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(r.title)}</h1>",
             f"<p>Made by <code>{html.escape(r.command)}</code> with Tritium {tritium.__version__}. Scenario: batch "
             f"{c.scenario['batch']}, prompt {c.scenario['prefill']} tokens, {c.scenario['decode']} generated.</p>",
             ]
    # what undermines every figure comes before the headline that rests on them
    parts += [f"<p class=\"warning\"><b>Warning:</b> {html.escape(w)}</p>" for w in c.warnings]
    parts.append(f"<p class=\"summary\">{html.escape(_summary(r))}</p>")
    sections = _sections(r)
    for key, title, intro, after in sections[:1]:
        parts += [f"<h2>{title}</h2>", f"<p>{html.escape(intro)}</p>", tables[key].html(),
                  f"<p>{html.escape(after)}</p>" if after else ""]
    parts.append("<h2>Plots</h2>")
    for p in r.plots:
        data = base64.b64encode(pngs[p.name]).decode()
        parts.append(f'<figure id="{p.name}"><img src="data:image/png;base64,{data}" alt="{html.escape(p.title)}">'
                     f"<figcaption><b>{html.escape(p.title)}.</b> {html.escape(p.caption)}</figcaption></figure>")
    for key, title, intro, after in sections[1:]:
        parts += [f"<h2>{title}</h2>", f"<p>{html.escape(intro)}</p>" if intro else "", tables[key].html(),
                  f"<p>{html.escape(after)}</p>" if after else ""]
    text, table = _calibration_text(r)
    parts += ["<h2>GPU model calibration</h2>", f"<p>{html.escape(text)}</p>",
              _md_table_to_html(table) if table else ""]
    parts += ["<h2>Notes</h2><ul>", *(f"<li>{html.escape(n)}</li>" for n in c.notes), "</ul>"]
    parts.append("<h2>Configuration</h2>")
    for name, body in configs.items():
        parts.append(f"<h3>{name}</h3><pre>{html.escape(body)}</pre>")
    parts += ["<h2>Sources</h2><ul>", *(f"<li>{html.escape(s)}</li>" for s in sources), "</ul>", "</body></html>\n"]
    return "\n".join(p for p in parts if p)


def _markdown(r: Report, tables, configs, sources) -> str:
    c = r.comparison
    parts = [f"# {r.title}", "",
             f"Made by `{r.command}` with Tritium {tritium.__version__}. Scenario: batch {c.scenario['batch']}, "
             f"prompt {c.scenario['prefill']} tokens, {c.scenario['decode']} generated. "
             "Plots are in `plots/` (PNG and SVG); `report.html` is the same report in one file.", "",
             ]
    parts += [line for w in c.warnings for line in (f"> **Warning:** {w}", "")]
    parts += [f"> {_summary(r)}", ""]
    sections = _sections(r)
    key, title, intro, after = sections[0]
    parts += [f"## {title}", "", intro, "", tables[key].markdown()] + ([after, ""] if after else [])
    parts += ["## Plots", ""]
    for p in r.plots:
        parts += [f"![{p.title}](plots/{p.name}.png)", "", f"**{p.title}.** {p.caption}", ""]
    for key, title, intro, after in sections[1:]:
        parts += [f"## {title}", ""] + ([intro, ""] if intro else []) + [tables[key].markdown()]
        parts += [after, ""] if after else []
    text, table = _calibration_text(r)
    parts += ["## GPU model calibration", "", text, ""] + ([table] if table else [])
    parts += ["## Notes", ""] + [f"- {n}" for n in c.notes] + ["", "## Configuration", ""]
    for name, body in configs.items():
        parts += [f"### {name}", "", "```toml", body.rstrip(), "```", ""]
    parts += ["## Sources", ""] + [f"- {s}" for s in sources] + [""]
    return "\n".join(parts)
