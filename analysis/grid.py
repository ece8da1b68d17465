"""Grid carbon intensity by region: gCO2e per kWh of a country's electricity, or the world's.

The per-country figures are an offline, CC BY 4.0 dataset shipped in ``data/`` (Our World in
Data / Ember, as carried by carbontracker 2.4.7; see ``data/ATTRIBUTION.md``), named by
``carbon_data.toml`` ``[grid]``, which also holds the IEA world average. A region is found by
``"world"``, its ISO alpha-2 or alpha-3 code or its name, in any case.

>>> grid_intensity("france").alpha2, round(grid_intensity("FRA").g_per_kwh, 1)
('FR', 44.2)
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
from dataclasses import dataclass
from importlib import resources

from tritium.analysis import carbon_data
from tritium.base.errors import TritiumError

__all__ = ["GridIntensity", "grid_intensity", "list_regions"]

_CSV_VALUE = "Carbon intensity of electricity (gCO2eq/kWh)"


@dataclass(frozen=True, slots=True)
class GridIntensity:
    """Carbon intensity of one region's electricity.

    Attributes:
        key: ``"world"`` or the ISO alpha-2 code. name: the region's name.
        alpha2, alpha3: ISO 3166-1 codes (empty for the world).
        year: the year the figure is for. g_per_kwh: gCO2e per kWh. source: where it comes from.
    """

    key: str
    name: str
    alpha2: str
    alpha3: str
    year: int
    g_per_kwh: float
    source: str


@functools.cache
def _grid() -> tuple[dict[str, GridIntensity], tuple[GridIntensity, ...]]:
    """The world entry and every CSV row, indexed by lowercase alpha-2, alpha-3 and name."""
    grid = carbon_data.tables()["grid"]
    text = resources.files("tritium.analysis").joinpath(grid["file"]).read_text(encoding="utf-8")
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        rows.append(GridIntensity(row["alpha-2"], row["Entity"], row["alpha-2"], row["Code"], int(row["Year"]),
                                  float(row[_CSV_VALUE]), grid["source"]))
    world = grid["world"]
    rows.append(GridIntensity("world", "World", "", "", int(world["year"]), float(world["g_per_kwh"]),
                              world["source"]))
    index = {}
    for entry in rows:
        for name in (entry.key, entry.alpha2, entry.alpha3, entry.name):
            if name:
                index.setdefault(name.lower(), entry)
    return index, tuple(rows)


def list_regions() -> list[GridIntensity]:
    """Every region :func:`grid_intensity` knows, the world first, then by name."""
    rows = _grid()[1]
    return [rows[-1], *sorted(rows[:-1], key=lambda r: r.name)]


def grid_intensity(region: str) -> GridIntensity:
    """The grid intensity of ``region``: ``"world"``, an ISO alpha-2 or alpha-3 code or a
    country name, any case.

    Raises:
        TritiumError: unknown region (the message lists close matches).
    """
    index, rows = _grid()
    if isinstance(region, str) and region.strip().lower() in index:
        return index[region.strip().lower()]
    text = str(region).strip().lower()
    close = difflib.get_close_matches(text, list(index), n=8, cutoff=0.6)
    seen = dict.fromkeys(index[c] for c in close)  # one mention per region, best first
    if seen:
        hint = "close matches: " + ", ".join(f"{r.name} ({r.key})" for r in list(seen)[:4])
    else:
        hint = "e.g. " + ", ".join(f"{r.name} ({r.key})" for r in rows[-1:] + rows[:3])
    raise TritiumError(f"unknown region {region!r}; {hint}; use 'world', an ISO alpha-2 or "
                       f"alpha-3 code or a country name ({len(rows)} regions)")
