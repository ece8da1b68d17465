"""Sourced numbers: a value with where it comes from, data-file tables of them, and node interpolation.

The technology, DRAM, silicon, cost and carbon tables all hold numbers tagged with their source
(``[V]`` read in the named document, ``[R]`` reproduced secondhand, ``[E]`` an estimate). This is
the one record and the one interpolation they share.

>>> t = {28: Figure(3.0, "[V] a"), 7: Figure(1.0, "[V] b")}
>>> by_node(t, 14, "price").value
1.6666666666666667
>>> round(interpolate({28: 3.0, 7: 1.0}, 14, log=True), 3)
1.732
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from tritium.base.errors import SpecError
from tritium.base.specio import check_float

__all__ = ["Figure", "figures_of", "interpolate", "by_node"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One number and where it comes from (``[V]``, ``[R]``, ``[V-news]`` or ``[E]`` tagged)."""

    value: float
    source: str


def figures_of(body: Mapping[str, Any], fieldname: str = "value") -> dict[str, Figure]:
    """Every entry of a parsed data-file table as a :class:`Figure`, keyed by entry name.

    An entry is a bare number (the table's ``source`` applies) or an inline table holding
    ``value`` or ``fieldname`` and optionally its own ``source``; text entries (file names)
    are skipped.
    """
    out = {}
    for key, entry in body.items():
        if key == "source" or isinstance(entry, str):
            continue
        if isinstance(entry, dict):
            value = entry["value"] if "value" in entry else entry[fieldname]
            out[key] = Figure(float(value), entry.get("source", body["source"]))
        else:
            out[key] = Figure(float(entry), body["source"])
    return out


def interpolate(points: Mapping[float, float], x: float, *, log: bool = False) -> float:
    """``points`` (node nm -> value) at ``x``: the entry itself, else the straight line between the
    two neighbours, in nm (``log=False``) or log-log (``log=True``: a power law between them).
    ``x`` must lie within the points' range."""
    if x in points:
        return points[x]
    lo = max(k for k in points if k < x)
    hi = min(k for k in points if k > x)
    if not log:
        return points[hi] + (points[lo] - points[hi]) * (hi - x) / (hi - lo)
    k = math.log(points[lo] / points[hi]) / math.log(hi / lo)
    return points[hi] * (hi / x) ** k


def by_node(table: Mapping[int, Figure], node_nm: float, what: str) -> Figure:
    """The figure for ``node_nm`` from a by-node ``table``: exact, else interpolated.

    A node between two entries gets the straight line between them (in nm), tagged ``[E]``
    and naming both sources. ``what`` names the quantity in messages.

    Raises:
        SpecError: ``node_nm`` is not a number > 0 or lies outside the table's range.
    """
    check_float("node_nm", node_nm, lo=0, lo_open=True)
    if node_nm in table:
        return table[node_nm]
    nodes = sorted(table)
    if not nodes[0] < node_nm < nodes[-1]:
        raise SpecError("node_nm", node_nm, f"{what} is known from {nodes[0]} to {nodes[-1]} nm only")
    lo = max(n for n in nodes if n < node_nm)
    hi = min(n for n in nodes if n > node_nm)
    value = interpolate({lo: table[lo].value, hi: table[hi].value}, node_nm)
    if table[lo].source == table[hi].source:
        source = f"[E] linear interpolation in node between {lo} and {hi} nm, both {table[lo].source}"
    else:
        source = (f"[E] linear interpolation in node between {lo} nm ({table[lo].source}) "
                  f"and {hi} nm ({table[hi].source})")
    return Figure(value, source)
