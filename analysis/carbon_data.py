"""The carbon figures on disk: ``carbon_data.toml`` read once, each number with its source.

The grid (:mod:`tritium.analysis.grid`), usage (:mod:`tritium.analysis.usage`) and embodied
(:mod:`tritium.analysis.embodied`) models read their defaults here; a caller's value replaces a
default through :func:`override`, which tags it "given by the caller".

>>> carbon_figures()["pue.hyperscale"].value
1.1
>>> figure("act", "fab_g_per_kwh").value
583.0
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources
from typing import Any

from tritium.base.figures import Figure, figures_of
from tritium.base.specio import check_float

__all__ = ["tables", "figure", "override", "carbon_figures"]


@functools.cache
def tables() -> dict[str, Any]:
    """``carbon_data.toml`` parsed: its tables by name (read once)."""
    text = resources.files("tritium.analysis").joinpath("carbon_data.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def carbon_figures() -> dict[str, Figure]:
    """Every number in ``carbon_data.toml`` with its source, keyed ``table.entry``."""
    fields = {"grid": "g_per_kwh", "dram_g_per_gb": "g"}
    return {f"{table}.{key}": fig for table, body in tables().items()
            for key, fig in figures_of(body, fields.get(table, "value")).items()}


def figure(table: str, entry: str, fieldname: str = "value") -> Figure:
    """The figure ``entry`` of ``table`` (its number under ``value`` or ``fieldname``)."""
    return figures_of(tables()[table], fieldname)[entry]


def override(value: float | None, key: str, default: Figure) -> Figure:
    """``default``, or the caller's ``value`` (> 0) in its place, sourced "given by the caller".

    Raises:
        SpecError: ``value`` is not a number > 0 (keyed ``key``).
    """
    if value is None:
        return default
    check_float(key, value, lo=0, lo_open=True)
    return Figure(float(value), "given by the caller")
