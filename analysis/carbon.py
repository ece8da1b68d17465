"""Grams of CO2e per million generated tokens: operational plus embodied.

- **Operational** = energy x PUE x grid carbon intensity of the region
  (:mod:`tritium.analysis.grid`: an offline, CC BY 4.0 per-country dataset, or the IEA world
  average; PUE by device class in :mod:`tritium.analysis.usage`).
- **Embodied** (ACT, Gupta et al., ISCA 2022; :mod:`tritium.analysis.embodied`): die area x
  carbon per cm^2 at the node, plus DRAM per GB and 150 g per packaged IC; spread over
  ``lifetime_years x utilization`` seconds of use, and charged for the seconds the request
  held the hardware.

This module joins them for one result (:func:`carbon_per_million_tokens`) or a row per region
(:func:`carbon_by_region`). The figures live in ``carbon_data.toml`` beside this file, each
with its source (:mod:`tritium.analysis.carbon_data`).

>>> from types import SimpleNamespace
>>> from tritium.analysis.embodied import Hardware
>>> kwh_per_mtok = SimpleNamespace(totals={"energy_j": 3.6e6, "total_s": 0.0, "tokens": 1e6})
>>> r = carbon_per_million_tokens(kwh_per_mtok, Hardware(name="x", die_mm2=1.0, node_nm=7), region="FR", pue=1.0)
>>> round(r.operational_g_per_mtok, 1), r.embodied_g_per_mtok  # 1 kWh on France's grid
(44.2, 0.0)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pandas as pd

from tritium.analysis import carbon_data
from tritium.analysis.embodied import EmbodiedReport, Hardware, chip_hardware, embodied_carbon, gpu_hardware
from tritium.analysis.grid import grid_intensity
from tritium.analysis.usage import DEFAULT_PUE, UPTIME_PUE
from tritium.base.errors import SpecError, TritiumError
from tritium.base.specio import check_float
from tritium.sim.chip import Chip

__all__ = ["DEFAULT_REGIONS", "CarbonReport", "carbon_per_million_tokens", "carbon_by_region"]

DEFAULT_REGIONS = ("world", "SE", "FR", "BR", "GB", "US", "DE", "CN", "TW", "IN", "PL", "ZA")
"""Regions :func:`carbon_by_region` shows by default: clean to dirty grids."""

_SECONDS_PER_YEAR = 365.25 * 86400
_J_PER_KWH = 3.6e6


@dataclass(frozen=True, slots=True, kw_only=True)
class CarbonReport:
    """gCO2e per million generated tokens of one result on one piece of hardware.

    Attributes:
        hardware: the name charged. region, region_name, grid_year, grid_g_per_kwh: the grid.
        pue: power usage effectiveness applied to the energy.
        lifetime_years, utilization: how the embodied carbon is spread (seconds of use =
            lifetime x utilization).
        tokens: generated tokens of the result. energy_j: its energy. busy_s: how long it held
            the hardware.
        embodied: the :class:`EmbodiedReport`. embodied_g_per_s: embodied grams per second of use.
        operational_g_per_mtok, embodied_g_per_mtok, total_g_per_mtok: per 10^6 generated tokens.
        sources: the source of every figure used, by field name.
    """

    hardware: str
    region: str
    region_name: str
    grid_year: int
    grid_g_per_kwh: float
    pue: float
    lifetime_years: float
    utilization: float
    tokens: float
    energy_j: float
    busy_s: float
    embodied: EmbodiedReport
    embodied_g_per_s: float
    operational_g_per_mtok: float
    embodied_g_per_mtok: float
    total_g_per_mtok: float
    sources: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        """JSON-ready fields; the embodied report flattened to ``embodied_*`` keys."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "embodied"}
        emb = self.embodied
        out |= {"embodied_kg": emb.total_kg, "embodied_die_kg": emb.die_kg, "embodied_dram_kg": emb.dram_kg,
                "embodied_package_kg": emb.package_kg, "cpa_kg_per_cm2": emb.cpa_kg_per_cm2,
                "die_mm2": emb.hardware.die_mm2, "node_nm": emb.hardware.node_nm, "dies": emb.hardware.dies,
                "dram_gb": emb.hardware.dram_gb, "dram_type": emb.hardware.dram_type}
        out["sources"] = dict(self.sources) | dict(emb.sources)
        return out


def _usage(result: object) -> tuple[float, float, float]:
    """(generated tokens, energy J, busy seconds) of a SimResult-like object."""
    totals = getattr(result, "totals", None)
    if not isinstance(totals, Mapping) or "energy_j" not in totals or "total_s" not in totals:
        raise SpecError("result", type(result).__name__, "must be a SimResult (or have .totals with energy_j and total_s)")
    scenario = getattr(result, "scenario", None) or {}
    if scenario.get("batch") and scenario.get("decode"):
        tokens = float(scenario["batch"] * scenario["decode"])
    elif totals.get("tokens"):
        tokens = float(totals["tokens"])
    else:
        per_token = totals.get("joules_per_token") or 0.0
        tokens = totals["energy_j"] / per_token if per_token > 0 else 0.0
    if not tokens > 0:
        raise SpecError("result", scenario, "generated no tokens (decode = 0): nothing to charge per token")
    return tokens, float(totals["energy_j"]), float(totals["total_s"])


def _hardware_of(result: object, hardware: object) -> Hardware:
    if isinstance(hardware, Hardware):
        return hardware
    if isinstance(hardware, Chip):
        name = getattr(result, "chip", hardware.name)
        if name != hardware.name:
            raise TritiumError(f"the result is for chip '{name}' but the hardware given is chip '{hardware.name}'")
        return chip_hardware(hardware, result.area_mm2["total"])
    return gpu_hardware(hardware)


def carbon_per_million_tokens(result: object, hardware: object, *, region: str = "world", pue: float = DEFAULT_PUE,
                              lifetime_years: float | None = None, utilization: float | None = None,
                              fab_g_per_kwh: float | None = None, abatement_pct: float | None = None,
                              fab_yield: float | None = None) -> CarbonReport:
    """gCO2e per million generated tokens of ``result`` run on ``hardware`` in ``region``.

    ``result`` is a :class:`tritium.sim.SimResult` (chip or GPU baseline). ``hardware`` is the
    :class:`tritium.sim.Chip` that made it (die area from ``result.area_mm2["total"]``), a GPU
    record (see :func:`gpu_hardware`; use ``gpu_hardware(gpu, count=n)`` for n GPUs) or a
    :class:`Hardware`. ``region``: see :func:`~tritium.analysis.grid.grid_intensity`. ``pue``
    defaults to 1.1 (hyperscale; :data:`~tritium.analysis.usage.UPTIME_PUE` is the industry
    average). ``lifetime_years`` (4) and ``utilization`` (0.5) spread the embodied carbon; the
    fab arguments go to :func:`~tritium.analysis.embodied.cpa_kg_per_cm2`.

    Raises:
        TritiumError: unknown region, or a chip that is not the result's.
        SpecError: a bad number (names the parameter) or a result with no generated tokens.
    """
    hw = _hardware_of(result, hardware)
    tokens, energy_j, busy_s = _usage(result)
    grid = grid_intensity(region)
    check_float("pue", pue, lo=1)
    life = carbon_data.override(lifetime_years, "lifetime_years", carbon_data.figure("usage", "lifetime_years"))
    util = carbon_data.override(utilization, "utilization", carbon_data.figure("usage", "utilization"))
    check_float("utilization", util.value, lo=0, lo_open=True, hi=1)
    emb = embodied_carbon(hw, fab_g_per_kwh=fab_g_per_kwh, abatement_pct=abatement_pct, fab_yield=fab_yield)
    g_per_s = emb.total_kg * 1000 / (life.value * _SECONDS_PER_YEAR * util.value)
    operational = energy_j / tokens * 1e6 / _J_PER_KWH * pue * grid.g_per_kwh
    embodied = g_per_s * busy_s / tokens * 1e6
    known = {DEFAULT_PUE: "hyperscale", UPTIME_PUE: "uptime_2023", 1.0: "edge"}
    pue_source = carbon_data.figure("pue", known[pue]).source if pue in known else "given by the caller"
    return CarbonReport(
        hardware=hw.name, region=grid.key, region_name=grid.name, grid_year=grid.year,
        grid_g_per_kwh=grid.g_per_kwh, pue=float(pue), lifetime_years=life.value, utilization=util.value,
        tokens=tokens, energy_j=energy_j, busy_s=busy_s, embodied=emb, embodied_g_per_s=g_per_s,
        operational_g_per_mtok=operational, embodied_g_per_mtok=embodied, total_g_per_mtok=operational + embodied,
        sources={"grid_g_per_kwh": grid.source, "pue": pue_source, "lifetime_years": life.source,
                 "utilization": util.source},
    )


def carbon_by_region(result: object, hardware: object, regions: Iterable[str] = DEFAULT_REGIONS,
                     **kwargs: Any) -> pd.DataFrame:
    """:func:`carbon_per_million_tokens` for each of ``regions``, one row each.

    Columns: region, region_name, grid_year, grid_g_per_kwh, operational_g_per_mtok,
    embodied_g_per_mtok, total_g_per_mtok; ``kwargs`` as for :func:`carbon_per_million_tokens`.
    For :func:`tritium.analysis.plots.carbon_by_region`:
    ``dict(zip(df.region, zip(df.operational_g_per_mtok, df.embodied_g_per_mtok)))``.
    """
    columns = ["region", "region_name", "grid_year", "grid_g_per_kwh", "operational_g_per_mtok",
               "embodied_g_per_mtok", "total_g_per_mtok"]
    rows = []
    for region in regions:
        report = carbon_per_million_tokens(result, hardware, region=region, **kwargs)
        rows.append({c: getattr(report, c) for c in columns})
    return pd.DataFrame(rows, columns=columns)
