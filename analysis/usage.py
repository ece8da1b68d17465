"""How a device is used: PUE, lifetime and utilization, with sourced defaults by device class.

A :class:`Usage` says where one side of a comparison runs (its grid region), in what facility
(PUE: facility energy over IT energy) and how its embodied carbon is spread (lifetime x
utilization = seconds of use). :func:`device_class` sorts a system into ``"edge"`` or
``"datacenter"``; :func:`default_usage` gives that class's defaults from ``carbon_data.toml``
``[pue]``, ``[usage]`` and ``[usage_edge]``.

>>> u = default_usage(device_class("LPDDR5"))
>>> (u.device_class, u.pue, u.lifetime_years, u.utilization)
('edge', 1.0, 5.0, 0.1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tritium.analysis import carbon_data
from tritium.base.errors import SpecError
from tritium.base.specio import check_choice, check_float

__all__ = ["DEFAULT_PUE", "UPTIME_PUE", "DEVICE_CLASSES", "Usage", "device_class", "default_usage"]

DEFAULT_PUE = 1.1
"""Hyperscale PUE (Chien et al., HotCarbon 2023); the default everywhere here."""
UPTIME_PUE = 1.58
"""Uptime Institute's 2023 global average PUE, the documented alternative."""

DEVICE_CLASSES = ("datacenter", "edge")
"""Device classes with their own PUE, lifetime and utilization defaults (:func:`default_usage`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """How one side of a comparison is deployed: where, in what facility, for how long.

    Attributes:
        device_class: one of :data:`DEVICE_CLASSES`. region: grid region (see
            :func:`tritium.analysis.grid.grid_intensity`).
        pue: facility energy over IT energy, >= 1. lifetime_years: service life, > 0.
        utilization: share of the lifetime spent serving, in (0, 1].
        sources: where each default came from ("given by the caller" for what was given).
    """

    device_class: str
    region: str = "world"
    pue: float = DEFAULT_PUE
    lifetime_years: float = 4.0
    utilization: float = 0.5
    sources: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        check_choice("device_class", self.device_class, DEVICE_CLASSES)
        if not isinstance(self.region, str):
            raise SpecError("region", self.region, "must be 'world', an ISO code or a country name")
        check_float("pue", self.pue, lo=1)
        check_float("lifetime_years", self.lifetime_years, lo=0, lo_open=True)
        check_float("utilization", self.utilization, lo=0, lo_open=True, hi=1)


def device_class(dram_type: str | None, chips: int = 1) -> str:
    """The device class of a system: ``"edge"`` for one chip or card on LPDDR or DDR memory,
    else ``"datacenter"`` (HBM, GDDR, or several chips working as one).

    >>> device_class("LPDDR5"), device_class("HBM3"), device_class("LPDDR5", chips=4)
    ('edge', 'datacenter', 'datacenter')
    """
    kind = str(dram_type or "").upper()
    return "edge" if chips == 1 and (kind.startswith("LPDDR") or kind.startswith("DDR")) else "datacenter"


def default_usage(device_class: str, *, region: str = "world", pue: float | None = None,
                  lifetime_years: float | None = None, utilization: float | None = None) -> Usage:
    """The :class:`Usage` of ``device_class`` with its sourced defaults (``carbon_data.toml``
    ``[pue]``, ``[usage]``, ``[usage_edge]``), each replaced where given.

    >>> u = default_usage("edge")
    >>> (u.pue, u.lifetime_years, u.utilization)
    (1.0, 5.0, 0.1)

    Raises:
        SpecError: an unknown class or a bad number (names the parameter).
    """
    check_choice("device_class", device_class, DEVICE_CLASSES)
    table = "usage_edge" if device_class == "edge" else "usage"
    figures = {"pue": carbon_data.figure("pue", "edge" if device_class == "edge" else "hyperscale"),
               "lifetime_years": carbon_data.figure(table, "lifetime_years"),
               "utilization": carbon_data.figure(table, "utilization")}
    given = {"pue": pue, "lifetime_years": lifetime_years, "utilization": utilization}
    values = {k: carbon_data.override(given[k], k, figures[k]) for k in figures}
    return Usage(device_class=device_class, region=region, **{k: f.value for k, f in values.items()},
                 sources={k: f.source for k, f in values.items()})
