"""Grams of CO2e per million generated tokens: operational plus embodied.

- **Operational** = energy x PUE x grid carbon intensity of the region, from an offline,
  CC BY 4.0 per-country dataset shipped in ``data/`` (Our World in Data / Ember, as carried by
  carbontracker 2.4.7; see ``data/ATTRIBUTION.md``), or the IEA world average.
- **Embodied** (ACT, Gupta et al., ISCA 2022): die area x carbon per cm^2 at the node,
  ``CPA = (CI_fab x EPA + GPA + MPA) / fab_yield``, plus DRAM per GB and 150 g per packaged IC;
  spread over ``lifetime_years x utilization`` seconds of use, and charged for the seconds the
  request held the hardware.

The hardware is described by :class:`Hardware` (die area, node, dies, DRAM), built from a
chip (:func:`chip_hardware`) or from any GPU record with ``die_mm2``, ``node_nm`` and ``mem_gb``
(:func:`gpu_hardware`), so the GPU and chip sides are priced the same way. The figures live in
``carbon_data.toml`` beside this file, each with its source.

>>> from tritium.analysis.carbon import cpa_kg_per_cm2, grid_intensity
>>> round(cpa_kg_per_cm2(7).value, 2)  # ACT, Taiwan grid 583 g/kWh, 97% abatement
2.32
>>> grid_intensity("france").alpha2, round(grid_intensity("FRA").g_per_kwh, 1)
('FR', 44.2)
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import io
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable, Mapping

import pandas as pd

from tritium.base.figures import Figure, by_node, figures_of
from tritium.base.errors import MISSING, SpecError, TritiumError
from tritium.sim.chip import Chip
from tritium.sim.chip_parts import DRAM_TYPES
from tritium.base.specio import check_choice, check_float, check_int

__all__ = [
    "DEFAULT_PUE",
    "UPTIME_PUE",
    "DEFAULT_REGIONS",
    "DEVICE_CLASSES",
    "Usage",
    "device_class",
    "default_usage",
    "GridIntensity",
    "Hardware",
    "EmbodiedReport",
    "CarbonReport",
    "grid_intensity",
    "list_regions",
    "cpa_kg_per_cm2",
    "chip_hardware",
    "gpu_hardware",
    "embodied_carbon",
    "carbon_per_million_tokens",
    "carbon_by_region",
    "carbon_figures",
]

DEFAULT_PUE = 1.1
"""Hyperscale PUE (Chien et al., HotCarbon 2023); the default everywhere here."""
UPTIME_PUE = 1.58
"""Uptime Institute's 2023 global average PUE, the documented alternative."""
DEFAULT_REGIONS = ("world", "SE", "FR", "BR", "GB", "US", "DE", "CN", "TW", "IN", "PL", "ZA")
"""Regions :func:`carbon_by_region` shows by default: clean to dirty grids."""

DEVICE_CLASSES = ("datacenter", "edge")
"""Device classes with their own PUE, lifetime and utilization defaults (:func:`default_usage`)."""

_SECONDS_PER_YEAR = 365.25 * 86400
_J_PER_KWH = 3.6e6
_GIB_TO_GB = 2**30 / 1e9
_CSV_VALUE = "Carbon intensity of electricity (gCO2eq/kWh)"
_GPU_DRAM_ATTRS = ("dram_type", "mem_type", "memory_type", "memory")


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files("tritium.analysis").joinpath("carbon_data.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def carbon_figures() -> dict[str, Figure]:
    """Every number in ``carbon_data.toml`` with its source, keyed ``table.entry``."""
    fields = {"grid": "g_per_kwh", "dram_g_per_gb": "g"}
    return {f"{table}.{key}": fig for table, body in _data().items()
            for key, fig in figures_of(body, fields.get(table, "value")).items()}


def _figure(table: str, entry: str, fieldname: str = "value") -> Figure:
    return figures_of(_data()[table], fieldname)[entry]


# --- grid intensity --------------------------------------------------------------------------


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
    grid = _data()["grid"]
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


# --- usage: PUE, lifetime, utilization by device class --------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """How one side of a comparison is deployed: where, in what facility, for how long.

    Attributes:
        device_class: one of :data:`DEVICE_CLASSES`. region: grid region (see :func:`grid_intensity`).
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
    figures = {"pue": _figure("pue", "edge" if device_class == "edge" else "hyperscale"),
               "lifetime_years": _figure(table, "lifetime_years"), "utilization": _figure(table, "utilization")}
    given = {"pue": pue, "lifetime_years": lifetime_years, "utilization": utilization}
    values = {k: _override(given[k], k, figures[k]) for k in figures}
    return Usage(device_class=device_class, region=region, **{k: f.value for k, f in values.items()},
                 sources={k: f.source for k, f in values.items()})


# --- embodied --------------------------------------------------------------------------------


def _act_node(table: str, node_nm: float) -> Figure:
    """An ACT by-node figure; nodes above ACT's oldest (28 nm) are held at it, tagged [E]."""
    entries = {int(k.removeprefix("nm_")): v for k, v in figures_of(_data()[table]).items()}
    oldest = max(entries)
    check_float("node_nm", node_nm, lo=0, lo_open=True)
    if node_nm > oldest:
        fig = entries[oldest]
        return Figure(fig.value, f"[E] held at ACT's {oldest} nm figure, its oldest node (likely an "
                                 f"overstatement: older nodes take fewer process steps); {fig.source}")
    return by_node(entries, node_nm, f"ACT's {table}")


def cpa_kg_per_cm2(node_nm: float, *, fab_g_per_kwh: float | None = None, abatement_pct: float | None = None,
                   fab_yield: float | None = None) -> Figure:
    """ACT's carbon per cm^2 of good die at ``node_nm``, kgCO2e/cm^2.

    ``CPA = (CI_fab x EPA + GPA + MPA) / fab_yield``, with GPA interpolated linearly between
    ACT's 95% and 99% abatement columns (97%, their mean, is ACT's default). Defaults: the
    Taiwan grid, 583 g/kWh; 97% abatement; yield 0.875.

    Raises:
        SpecError: node outside 3 nm and up, abatement outside 95-99%, or a bad number.
    """
    act = _data()["act"]
    ci = _override(fab_g_per_kwh, "fab_g_per_kwh", _figure("act", "fab_g_per_kwh"))
    abate = _override(abatement_pct, "abatement_pct", Figure(float(act["abatement_pct"]), act["source"]))
    fy = _override(fab_yield, "fab_yield", Figure(float(act["fab_yield"]), act["source"]))
    check_float("abatement_pct", abate.value, lo=95, hi=99)
    check_float("fab_yield", fy.value, lo=0, lo_open=True, hi=1)
    epa = _act_node("act_epa_kwh_per_cm2", node_nm)
    gpa95, gpa99 = _act_node("act_gpa95_g_per_cm2", node_nm), _act_node("act_gpa99_g_per_cm2", node_nm)
    mpa = _act_node("act_mpa_g_per_cm2", node_nm)
    t = (abate.value - 95) / 4
    gpa = gpa95.value + t * (gpa99.value - gpa95.value)
    grams = (ci.value * epa.value + gpa + mpa.value) / fy.value
    source = (f"ACT CPA = (CI_fab {ci.value:g} g/kWh x EPA {epa.value:g} kWh/cm^2 + GPA {gpa:g} g/cm^2 "
              f"at {abate.value:g}% abatement + MPA {mpa.value:g} g/cm^2) / yield {fy.value:g}; "
              f"CI_fab: {ci.source}; EPA: {epa.source}; GPA: {gpa95.source} / {gpa99.source}; "
              f"MPA: {mpa.source}; yield and abatement: {fy.source}")
    return Figure(grams / 1000, source)


def _override(value: float | None, key: str, default: Figure) -> Figure:
    if value is None:
        return default
    check_float(key, value, lo=0, lo_open=True)
    return Figure(float(value), "given by the caller")


@dataclass(frozen=True, slots=True, kw_only=True)
class Hardware:
    """What embodied carbon is charged for: ``dies`` logic dies and their DRAM.

    Attributes:
        name: what it is (a chip or GPU name).
        die_mm2: area of one logic die, mm^2, > 0.
        node_nm: its process node, nm, > 0.
        dies: logic dies, each in its own package, >= 1.
        dram_gb: DRAM over all dies, GB (10^9 bytes), >= 0.
        dram_type: a key of :data:`tritium.sim.DRAM_TYPES`; required when ``dram_gb > 0``.
    """

    name: str
    die_mm2: float
    node_nm: float
    dies: int = 1
    dram_gb: float = 0.0
    dram_type: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise SpecError("name", self.name, "must be a string")
        check_float("die_mm2", self.die_mm2, lo=0, lo_open=True)
        check_float("node_nm", self.node_nm, lo=0, lo_open=True)
        check_int("dies", self.dies, lo=1)
        check_float("dram_gb", self.dram_gb, lo=0)
        if self.dram_type is None and self.dram_gb > 0:
            raise SpecError("dram_type", MISSING, f"required with dram_gb = {self.dram_gb:g}; "
                                                   f"one of {', '.join(DRAM_TYPES)}")
        if self.dram_type is not None and self.dram_type not in DRAM_TYPES:
            raise SpecError("dram_type", self.dram_type, f"must be one of {', '.join(DRAM_TYPES)}")


def chip_hardware(chip: Chip, die_mm2: float) -> Hardware:
    """The :class:`Hardware` of a chip system: ``chip.chips`` dies of ``die_mm2`` and all their DRAM."""
    if not isinstance(chip, Chip):
        raise SpecError("chip", chip, "must be a tritium.sim.Chip (load it with load_chip)")
    return Hardware(name=chip.name, die_mm2=float(die_mm2), node_nm=chip.node_nm, dies=chip.chips,
                    dram_gb=chip.chips * chip.dram.capacity_gib * _GIB_TO_GB, dram_type=chip.dram.type)


def gpu_hardware(gpu: object, *, dram_type: str | None = None, count: int = 1) -> Hardware:
    """The :class:`Hardware` of ``count`` GPUs described by any record with ``die_mm2``,
    ``node_nm`` and ``mem_gb`` attributes (and ``name``, optional).

    The memory type is ``dram_type`` if given, else the record's ``dram_type``, ``mem_type``,
    ``memory_type`` or ``memory`` attribute, matched to :data:`tritium.sim.DRAM_TYPES` in any case.

    Raises:
        SpecError: an attribute is missing or the memory type is unknown.
    """
    for attr in ("die_mm2", "node_nm", "mem_gb"):
        if not hasattr(gpu, attr):
            raise SpecError(attr, MISSING, f"a GPU record needs die_mm2, node_nm and mem_gb (got {type(gpu).__name__})")
    if gpu.die_mm2 is None:
        raise SpecError("die_mm2", None, f"not published for {getattr(gpu, 'name', 'this GPU')}; "
                                         "describe it with Hardware(...) and an estimated die area")
    check_int("count", count, lo=1)
    wanted = dram_type
    if wanted is None:
        wanted = next((getattr(gpu, a) for a in _GPU_DRAM_ATTRS if isinstance(getattr(gpu, a, None), str)), None)
    if wanted is None:
        raise SpecError("dram_type", MISSING, "the GPU record names no memory type; pass "
                                               f"gpu_hardware(gpu, dram_type=...), one of {', '.join(DRAM_TYPES)}")
    by_lower = {k.lower(): k for k in DRAM_TYPES}
    key = by_lower.get(wanted.strip().lower().replace("-", "").replace(" ", ""))
    if key is None:
        raise SpecError("dram_type", wanted, f"must be one of {', '.join(DRAM_TYPES)}")
    return Hardware(name=str(getattr(gpu, "name", type(gpu).__name__)), die_mm2=float(gpu.die_mm2),
                    node_nm=gpu.node_nm, dies=count, dram_gb=count * float(gpu.mem_gb), dram_type=key)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbodiedReport:
    """Embodied carbon of one :class:`Hardware`, by part, with every input.

    Attributes:
        hardware: what was charged. cpa_kg_per_cm2: ACT carbon per cm^2 of good die.
        fab_g_per_kwh, abatement_pct, fab_yield: the ACT inputs used.
        die_kg: dies x die area x CPA. dram_g_per_gb, dram_kg: the DRAM.
        package_g, package_kg: per packaged die, and over all dies. total_kg: the sum.
        sources: the source of every figure used, by field name.
    """

    hardware: Hardware
    cpa_kg_per_cm2: float
    fab_g_per_kwh: float
    abatement_pct: float
    fab_yield: float
    die_kg: float
    dram_g_per_gb: float
    dram_kg: float
    package_g: float
    package_kg: float
    total_kg: float
    sources: dict = field(default_factory=dict, compare=False)


def embodied_carbon(hardware: Hardware, *, fab_g_per_kwh: float | None = None,
                    abatement_pct: float | None = None, fab_yield: float | None = None) -> EmbodiedReport:
    """ACT embodied carbon of ``hardware``: dies x area x CPA + DRAM x g/GB + 150 g per package.

    >>> h = Hardware(name="h100-die", die_mm2=814.0, node_nm=5)
    >>> round(embodied_carbon(h).die_kg, 1)  # the reference's H100 die-only figure, ~23 kg
    22.6
    """
    if not isinstance(hardware, Hardware):
        raise SpecError("hardware", hardware, "must be a Hardware (see chip_hardware, gpu_hardware)")
    act = _data()["act"]
    cpa = cpa_kg_per_cm2(hardware.node_nm, fab_g_per_kwh=fab_g_per_kwh, abatement_pct=abatement_pct,
                         fab_yield=fab_yield)
    ci = fab_g_per_kwh if fab_g_per_kwh is not None else _figure("act", "fab_g_per_kwh").value
    dram = (figures_of(_data()["dram_g_per_gb"], "g")[hardware.dram_type] if hardware.dram_type
            else Figure(0.0, "no DRAM"))
    package = Figure(float(act["package_g"]), act["source"])
    die_kg = hardware.dies * hardware.die_mm2 / 100 * cpa.value
    dram_kg = hardware.dram_gb * dram.value / 1000
    package_kg = hardware.dies * package.value / 1000
    return EmbodiedReport(
        hardware=hardware, cpa_kg_per_cm2=cpa.value, fab_g_per_kwh=float(ci),
        abatement_pct=float(abatement_pct if abatement_pct is not None else act["abatement_pct"]),
        fab_yield=float(fab_yield if fab_yield is not None else act["fab_yield"]),
        die_kg=die_kg, dram_g_per_gb=dram.value, dram_kg=dram_kg, package_g=package.value,
        package_kg=package_kg, total_kg=die_kg + dram_kg + package_kg,
        sources={"cpa_kg_per_cm2": cpa.source, "dram_g_per_gb": dram.source, "package_g": package.source},
    )


# --- per million tokens ----------------------------------------------------------------------


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
    :class:`Hardware`. ``region``: see :func:`grid_intensity`. ``pue`` defaults to 1.1
    (hyperscale; :data:`UPTIME_PUE` is the industry average). ``lifetime_years`` (4) and
    ``utilization`` (0.5) spread the embodied carbon; the fab arguments go to
    :func:`cpa_kg_per_cm2`.

    Raises:
        TritiumError: unknown region, or a chip that is not the result's.
        SpecError: a bad number (names the parameter) or a result with no generated tokens.
    """
    hw = _hardware_of(result, hardware)
    tokens, energy_j, busy_s = _usage(result)
    grid = grid_intensity(region)
    check_float("pue", pue, lo=1)
    life = _override(lifetime_years, "lifetime_years", _figure("usage", "lifetime_years"))
    util = _override(utilization, "utilization", _figure("usage", "utilization"))
    check_float("utilization", util.value, lo=0, lo_open=True, hi=1)
    emb = embodied_carbon(hw, fab_g_per_kwh=fab_g_per_kwh, abatement_pct=abatement_pct, fab_yield=fab_yield)
    g_per_s = emb.total_kg * 1000 / (life.value * _SECONDS_PER_YEAR * util.value)
    operational = energy_j / tokens * 1e6 / _J_PER_KWH * pue * grid.g_per_kwh
    embodied = g_per_s * busy_s / tokens * 1e6
    known = {DEFAULT_PUE: "hyperscale", UPTIME_PUE: "uptime_2023", 1.0: "edge"}
    pue_source = _figure("pue", known[pue]).source if pue in known else "given by the caller"
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
