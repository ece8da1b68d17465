"""Render a :class:`~tritium.analysis.report.Report` as one self-contained HTML file and a Markdown twin.

:func:`render` returns the files as bytes, keyed by relative path: ``report.html`` (plots
embedded as base64 PNG; no external resource of any kind), ``report.md`` with its plots
beside it in ``plots/`` (PNG and SVG), and the resolved inputs (``chip.toml``,
``gpu.toml``, ``calibration.toml``, ``comparison.json``). :func:`write_report` writes them
as one folder, swapped in whole (:func:`tritium.fileio.replace_folder`): a run killed at any
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
from tritium.analysis.gpu_calibrate import report_markdown
from tritium.analysis.gpu_db import gpu_to_toml
from tritium.analysis.gpu_params import calibration_to_toml
from tritium.analysis.plots import figure_bytes
from tritium.analysis.report import RATIOS, Report
from tritium.fileio import json_text, record_written, replace_folder
from tritium.sim import chip_to_toml
from tritium.specio import dumps_toml
from tritium.workloads import load_model

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
    if abs(value) >= 10 ** digits:
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
    cost, gcost = c.chip_cost, c.gpu_cost
    die = gcost.die
    out["cost"] = _Table(
        ("item", c.chip.name, c.gpu.name),
        (("die area (mm^2)", _num(cost.die_area_mm2), _num(die.die_area_mm2 if die else math.nan)),
         ("node (nm)", _num(cost.node_nm), _num(c.gpu.node_nm)),
         ("wafer price (USD)", _num(cost.wafer_usd), _num(die.wafer_usd if die else math.nan)),
         ("dies per wafer", _num(cost.dies_per_wafer), _num(die.dies_per_wafer if die else math.nan)),
         ("die yield", _num(cost.die_yield, 3), _num(die.die_yield if die else math.nan, 3)),
         ("good die (USD)", _num(cost.cost_per_good_die_usd), _num(die.cost_per_good_die_usd if die else math.nan)),
         ("package, assembly, test (USD)", _num(cost.package_test_usd), _num(gcost.package_test_usd)),
         ("DRAM", f"{_num(cost.dram_gb)} GB {cost.dram_type}", f"{_num(gcost.mem_gb)} GB {gcost.memory_type}"),
         ("DRAM (USD)", _num(cost.memory_usd), _num(gcost.memory_usd)),
         ("cost to make, one chip/card (USD)", _num(cost.cost_per_chip_usd), _num(gcost.cost_to_make_usd)),
         ("price of one card (USD)", "n/a", _num(gcost.price_usd if gcost.price_usd is not None else math.nan)
          + (" (street estimate)" if gcost.price_is_estimate else ""))),
        (False, True, True))
    reg = r.carbon_regions
    out["carbon"] = _Table(
        ("region", "grid gCO2e/kWh", "chip operational", "chip embodied", "chip total", "GPU operational",
         "GPU embodied", "GPU total", "GPU / chip"),
        tuple((f"{g.region_name} ({g.region})", _num(g.grid_g_per_kwh), _num(g.chip_operational_g_per_mtok),
               _num(g.chip_embodied_g_per_mtok), _num(g.chip_total_g_per_mtok), _num(g.gpu_operational_g_per_mtok),
               _num(g.gpu_embodied_g_per_mtok), _num(g.gpu_total_g_per_mtok),
               _ratio(g.gpu_total_g_per_mtok / g.chip_total_g_per_mtok)) for g in reg.itertuples(index=False)),
        (False,) + (True,) * 8)
    return out


def _summary(r: Report) -> str:
    c = r.comparison
    t = c.table().set_index("metric")
    energy = t.loc["J/token", "gpu_over_chip"]
    speed = t.loc["tokens/s", "gpu_over_chip"]
    carbon = t.loc["gCO2e per 1M tokens", "gpu_over_chip"]
    def times(x: float, more: str, less: str) -> str:
        return f"{x:,.1f}x {more}" if x >= 1 else f"{1 / x:,.1f}x {less}"

    return (f"{c.chip_label} spends {times(energy, 'less', 'more')} energy per generated token than "
            f"{c.gpu_label} ({_num(t.loc['J/token', 'chip'])} vs {_num(t.loc['J/token', 'gpu'])} mJ), emits "
            f"{times(carbon, 'less', 'more')} CO2e per token on the '{c.region}' grid, and decodes "
            f"{times(speed, 'slower', 'faster')} ({_num(t.loc['tokens/s', 'chip'])} vs "
            f"{_num(t.loc['tokens/s', 'gpu'])} tokens/s).")


def _configs(r: Report) -> dict[str, str]:
    c = r.comparison
    try:
        model_toml = dumps_toml(load_model(c.model))
    except Exception:  # a model given as a file that is gone: the name is all we have
        model_toml = f'name = "{c.model}"\n'
    scenario = "\n".join(f"{k} = {v}" for k, v in c.scenario.items())
    scenario += f'\nregion = "{c.region}"\npue = {c.pue}\ngpu_weights = "{c.weights}"\ngpus = {c.gpus}\n'
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
    replacing an earlier report there (:func:`tritium.fileio.replace_folder`).

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


_SECTIONS = (
    ("compare", "Side by side", "The same trace on both; ratios are GPU over chip."),
    ("modes", "The GPU in every weight mode", "Same trace, GPU weight kernels from 16 down to 2 bits."),
    ("batch", "Against batch size", ""),
    ("context", "Against context length", ""),
    ("cost", "Cost to make", "Dies per wafer, negative-binomial yield, wafer price by node, package and "
                             "test, DRAM per GB (analysis/cost.py); the GPU's die priced the same way."),
    ("carbon", "Carbon by grid region", "gCO2e per 1M generated tokens: operational = energy x PUE x grid "
                                        "intensity; embodied (ACT) spread over 4 years at 50% utilization."),
)


def _html(r: Report, tables, configs, sources, pngs) -> str:
    c = r.comparison
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(r.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(r.title)}</h1>",
             f"<p>Made by <code>{html.escape(r.command)}</code> with Tritium {tritium.__version__}. Scenario: batch "
             f"{c.scenario['batch']}, prompt {c.scenario['prefill']} tokens, {c.scenario['decode']} generated.</p>",
             f"<p class=\"summary\">{html.escape(_summary(r))}</p>"]
    parts += [f"<p class=\"warning\"><b>Warning:</b> {html.escape(w)}</p>" for w in c.warnings]
    for key, title, intro in _SECTIONS[:1]:
        parts += [f"<h2>{title}</h2>", f"<p>{html.escape(intro)}</p>", tables[key].html()]
    parts.append("<h2>Plots</h2>")
    for p in r.plots:
        data = base64.b64encode(pngs[p.name]).decode()
        parts.append(f'<figure id="{p.name}"><img src="data:image/png;base64,{data}" alt="{html.escape(p.title)}">'
                     f"<figcaption><b>{html.escape(p.title)}.</b> {html.escape(p.caption)}</figcaption></figure>")
    for key, title, intro in _SECTIONS[1:]:
        parts += [f"<h2>{title}</h2>", f"<p>{html.escape(intro)}</p>" if intro else "", tables[key].html()]
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
             f"> {_summary(r)}", ""]
    parts += [line for w in c.warnings for line in (f"> **Warning:** {w}", "")]
    key, title, intro = _SECTIONS[0]
    parts += [f"## {title}", "", intro, "", tables[key].markdown(), "## Plots", ""]
    for p in r.plots:
        parts += [f"![{p.title}](plots/{p.name}.png)", "", f"**{p.title}.** {p.caption}", ""]
    for key, title, intro in _SECTIONS[1:]:
        parts += [f"## {title}", ""] + ([intro, ""] if intro else []) + [tables[key].markdown()]
    text, table = _calibration_text(r)
    parts += ["## GPU model calibration", "", text, ""] + ([table] if table else [])
    parts += ["## Notes", ""] + [f"- {n}" for n in c.notes] + ["", "## Configuration", ""]
    for name, body in configs.items():
        parts += [f"### {name}", "", "```toml", body.rstrip(), "```", ""]
    parts += ["## Sources", ""] + [f"- {s}" for s in sources] + [""]
    return "\n".join(parts)
