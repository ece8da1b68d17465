"""What a chip costs to make: dies per wafer, yield, wafer price by node, package, test, DRAM, masks.

The method is the one ttm-cas (ISCA 2023) and LLMCompass (ISCA 2024) use
(docs/sources.md, "Cost"):

- gross dies per 300 mm wafer ``DPW = floor(pi (d/2)^2 / A - pi d / sqrt(2 A))``: the wafer's area
  over the die's, less the partial dies lost along the edge (the formula ttm-cas and LLMCompass
  use, :func:`dies_per_wafer`), rounded down to whole dies (:func:`whole_dies_per_wafer`);
- die yield from the defect density D0 (per cm^2) and the die area A (cm^2): negative binomial
  ``(1 + A D0 / alpha)^-alpha`` with ``alpha = 3`` by default, or Murphy ``((1 - e^-AD) / AD)^2``
  or Poisson ``e^-AD``;
- cost per good die = wafer price / (DPW x yield); then package, assembly, test and the chip's
  DRAM: the *cost to make* one chip (``unit_cost_usd``);
- given a production ``volume``, the NRE (one mask set at the node, plus the design,
  verification and IP cost the caller gives as ``nre_usd``) spread over it: the *amortized*
  cost per chip (``cost_per_chip_usd``).

The figures (wafer price, D0, masks by node; package and test; DRAM price by type) live in
``cost_data.toml`` beside this file, each with its source; nodes between two entries are
linearly interpolated and reported as ``[E]``. Worked example, the reference's table
(100 mm^2 at 7 nm, before package and test):

>>> from tritium.analysis.cost import die_cost
>>> d = die_cost(100.0, 7)
>>> d.dies_per_wafer, round(d.cost_per_good_die_usd, 2)
(640, 16.9)
"""

from __future__ import annotations

import dataclasses
import functools
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Mapping

from tritium.base.figures import Figure, by_node, figures_of
from tritium.base.errors import SpecError
from tritium.sim.chip import Chip
from tritium.base.specio import check_choice, check_float, check_int

__all__ = [
    "YIELD_MODELS",
    "DieCost",
    "CostReport",
    "GpuCost",
    "gpu_cost",
    "dies_per_wafer",
    "whole_dies_per_wafer",
    "DPW_FORMULA",
    "die_yield",
    "wafer_price",
    "defect_density",
    "mask_set_cost",
    "memory_price",
    "die_cost",
    "chip_cost",
    "cost_figures",
]

YIELD_MODELS = ("negative_binomial", "murphy", "poisson")
"""Die-yield models :func:`die_yield` knows."""

_GIVEN = "given by the caller"
DPW_FORMULA = "floor(pi (d/2)^2 / A - pi d / sqrt(2 A)), d = 300 mm wafer, A = die area"
"""How :func:`whole_dies_per_wafer` counts gross dies (shown beside the count in reports)."""
_GIB_TO_GB = 2**30 / 1e9


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files("tritium.analysis").joinpath("cost_data.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


# The value field of each table's inline entries (others use "value").
_FIELDS = {"wafer_usd": "usd", "defect_density": "per_cm2", "mask_set_usd": "usd", "memory_usd_per_gb": "usd"}


def _entries(table: str) -> dict[str, Figure]:
    return figures_of(_data()[table], _FIELDS.get(table, "value"))


@functools.cache
def _node_table(table: str) -> dict[int, Figure]:
    return {int(k.removeprefix("nm_")): v for k, v in _entries(table).items()}


def cost_figures() -> dict[str, Figure]:
    """Every number in ``cost_data.toml`` with its source, keyed ``table.entry``."""
    return {f"{table}.{key}": fig for table in _data()
            for key, fig in _entries(table).items()}


def wafer_price(node_nm: float) -> Figure:
    """Price of one processed 300 mm wafer at ``node_nm``, USD."""
    return by_node(_node_table("wafer_usd"), node_nm, "the wafer price")


def defect_density(node_nm: float) -> Figure:
    """Defect density D0 at ``node_nm``, defects per cm^2."""
    return by_node(_node_table("defect_density"), node_nm, "the defect density")


def mask_set_cost(node_nm: float) -> Figure:
    """One full mask set at ``node_nm``, USD."""
    return by_node(_node_table("mask_set_usd"), node_nm, "the mask-set cost")


def memory_price(dram_type: str) -> Figure:
    """DRAM price of ``dram_type`` (a key of :data:`tritium.sim.DRAM_TYPES`), USD per GB."""
    table = _entries("memory_usd_per_gb")
    check_choice("dram_type", dram_type, table)
    return table[dram_type]


def whole_dies_per_wafer(die_mm2: float, wafer_mm: float = 300.0) -> int:
    """Whole gross dies per wafer: :func:`dies_per_wafer` rounded down (:data:`DPW_FORMULA`).

    >>> whole_dies_per_wafer(100.0), whole_dies_per_wafer(814.0)
    (640, 63)
    """
    return math.floor(dies_per_wafer(die_mm2, wafer_mm))


def dies_per_wafer(die_mm2: float, wafer_mm: float = 300.0) -> float:
    """Gross dies per wafer, ``pi (d/2)^2 / A - pi d / sqrt(2 A)`` (A in mm^2, d in mm), unrounded
    (the closed form; :func:`whole_dies_per_wafer` is the count).

    >>> round(dies_per_wafer(100.0), 1)
    640.2

    Raises:
        SpecError: the area is not > 0, or so large that no whole die fits.
    """
    check_float("die_area_mm2", die_mm2, lo=0, lo_open=True)
    check_float("wafer_mm", wafer_mm, lo=0, lo_open=True)
    dpw = math.pi * (wafer_mm / 2) ** 2 / die_mm2 - math.pi * wafer_mm / math.sqrt(2 * die_mm2)
    if dpw < 1:
        raise SpecError("die_area_mm2", die_mm2, f"must leave at least one die on a {wafer_mm:g} mm wafer")
    return dpw


def die_yield(die_mm2: float, d0_per_cm2: float, *, model: str = "negative_binomial",
              alpha: float = 3.0) -> float:
    """Fraction of dies without a killer defect.

    ``model`` is one of :data:`YIELD_MODELS`; ``alpha`` (clustering) is used by the negative
    binomial only. A is the die area in cm^2, D the defect density per cm^2.

    >>> round(die_yield(100.0, 0.15), 4)  # (1 + 1 x 0.15 / 3)^-3
    0.8638
    """
    check_float("die_area_mm2", die_mm2, lo=0, lo_open=True)
    check_float("d0_per_cm2", d0_per_cm2, lo=0)
    check_choice("yield_model", model, YIELD_MODELS)
    check_float("alpha", alpha, lo=0, lo_open=True)
    ad = die_mm2 / 100 * d0_per_cm2
    if model == "negative_binomial":
        return (1 + ad / alpha) ** -alpha
    if model == "poisson":
        return math.exp(-ad)
    return 1.0 if ad == 0 else ((1 - math.exp(-ad)) / ad) ** 2


@dataclass(frozen=True, slots=True, kw_only=True)
class DieCost:
    """The cost of one good die and every input that made it.

    Attributes:
        die_area_mm2, node_nm, wafer_mm: the die and the process.
        wafer_usd: price of one processed wafer. d0_per_cm2: defect density.
        yield_model, alpha: the yield model and its clustering parameter.
        dies_per_wafer: whole gross dies per wafer (:func:`whole_dies_per_wafer`). die_yield: fraction good.
        cost_per_good_die_usd: wafer_usd / (dies_per_wafer x die_yield).
        notes: caveats (a die beyond the reticle limit).
        sources: the source of every figure used, by field name.
    """

    die_area_mm2: float
    node_nm: float
    wafer_mm: float
    wafer_usd: float
    d0_per_cm2: float
    yield_model: str
    alpha: float
    dies_per_wafer: int
    die_yield: float
    cost_per_good_die_usd: float
    notes: tuple[str, ...] = ()
    sources: dict = field(default_factory=dict, compare=False)


def die_cost(die_mm2: float, node_nm: float, *, yield_model: str = "negative_binomial",
             alpha: float | None = None, wafer_usd: float | None = None,
             d0_per_cm2: float | None = None) -> DieCost:
    """Cost of one good die of ``die_mm2`` mm^2 at ``node_nm`` (wafer only: no package or test).

    ``wafer_usd`` and ``d0_per_cm2`` default to the node's figures, ``alpha`` to 3; pass them to
    override (the report then says "given by the caller").

    Raises:
        SpecError: a bad area, node, model or override (names the parameter).
    """
    data = _data()
    wafer_mm = float(data["wafer"]["diameter_mm"])
    sources = {"wafer_mm": data["wafer"]["source"], "dies_per_wafer": f"{DPW_FORMULA} ({data['wafer']['dpw_source']})"}
    wafer = _given_or(wafer_usd, "wafer_usd", lambda: wafer_price(node_nm))
    d0 = _given_or(d0_per_cm2, "d0_per_cm2", lambda: defect_density(node_nm), lo_zero=True)
    a = _given_or(alpha, "alpha", lambda: Figure(float(data["yield"]["alpha"]), data["yield"]["source"]))
    sources |= {"wafer_usd": wafer.source, "d0_per_cm2": d0.source, "alpha": a.source}
    dpw = whole_dies_per_wafer(die_mm2, wafer_mm)
    y = die_yield(die_mm2, d0.value, model=yield_model, alpha=a.value)
    reticle = _entries("wafer")["reticle_limit_mm2"]
    notes = ()
    if die_mm2 > reticle.value:
        notes = (f"die of {die_mm2:.0f} mm^2 exceeds the {reticle.value:.0f} mm^2 reticle limit: "
                 f"not printable as one die ({reticle.source})",)
    return DieCost(die_area_mm2=float(die_mm2), node_nm=node_nm, wafer_mm=wafer_mm, wafer_usd=wafer.value,
                   d0_per_cm2=d0.value, yield_model=yield_model, alpha=a.value, dies_per_wafer=dpw,
                   die_yield=y, cost_per_good_die_usd=wafer.value / (dpw * y), notes=notes, sources=sources)


def _given_or(value: float | None, key: str, default, *, lo_zero: bool = False) -> Figure:
    if value is None:
        return default()
    check_float(key, value, lo=0, lo_open=not lo_zero)
    return Figure(float(value), _GIVEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class CostReport:
    """What one chip (and the whole ``chips``-chip system) costs to make, with every input.

    Attributes:
        chip: the chip's name. chips: chips in the system. node_nm, die_area_mm2: one die.
        wafer_mm, wafer_usd, d0_per_cm2, yield_model, alpha, dies_per_wafer, die_yield,
            cost_per_good_die_usd: as in :class:`DieCost`.
        package_usd, assembly_usd: per packaged chip. test_fraction: test cost over the
            good-die cost. test_usd: test cost per chip.
        package_test_usd: package + assembly + test.
        dram_type, dram_gb (10^9 bytes, per chip), memory_usd_per_gb, memory_usd: the DRAM
            attached to one chip.
        unit_cost_usd: cost to make one chip: good die + package_test + memory (no NRE).
        volume: chips produced to spread the NRE over (None: no NRE counted).
        mask_set_usd: one mask set at the node. design_nre_usd: design, verification and IP
            as given by the caller (0 unless given). nre_usd: mask_set_usd + design_nre_usd.
        nre_per_unit_usd: nre_usd / volume (0 without a volume).
        cost_per_chip_usd: amortized cost of one chip: unit_cost_usd + nre_per_unit_usd.
        system_cost_usd: chips x cost_per_chip_usd.
        notes: caveats. sources: the source of every figure used, by field name.
    """

    chip: str
    chips: int
    node_nm: float
    die_area_mm2: float
    wafer_mm: float
    wafer_usd: float
    d0_per_cm2: float
    yield_model: str
    alpha: float
    dies_per_wafer: float
    die_yield: float
    cost_per_good_die_usd: float
    package_usd: float
    assembly_usd: float
    test_fraction: float
    test_usd: float
    package_test_usd: float
    dram_type: str
    dram_gb: float
    memory_usd_per_gb: float
    memory_usd: float
    unit_cost_usd: float
    volume: int | None
    mask_set_usd: float
    design_nre_usd: float
    nre_usd: float
    nre_per_unit_usd: float
    cost_per_chip_usd: float
    system_cost_usd: float
    notes: tuple[str, ...] = ()
    sources: dict = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict:
        """JSON-ready fields (notes as a list, sources as a dict)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["notes"] = list(self.notes)
        out["sources"] = dict(self.sources)
        return out


def chip_cost(chip: Chip, die_area_mm2: float, *, volume: int | None = None, nre_usd: float | None = None,
              yield_model: str = "negative_binomial", alpha: float | None = None,
              wafer_usd: float | None = None, d0_per_cm2: float | None = None,
              package_usd: float | None = None, memory_usd_per_gb: float | None = None) -> CostReport:
    """What one ``chip`` with its DRAM costs to make, and the whole ``chip.chips`` system.

    ``die_area_mm2`` is one chip's die area (``SimResult.area_mm2["total"]``). Node and DRAM
    (type, ``capacity_gib`` per chip) come from ``chip``. ``volume`` (chips produced) spreads the
    NRE over them: one mask set at the node plus ``nre_usd`` (design, verification, IP licences:
    the caller's figure, 0 unless given); without a volume no NRE is counted and the cost per
    chip is the cost to make it. ``package_usd`` overrides the $20
    flip-chip package (an HBM part on a silicon interposer costs far more); the other
    overrides are as in :func:`die_cost` and :func:`memory_price`.

    >>> from tritium.sim import load_chip
    >>> r = chip_cost(load_chip("edge-lpddr5"), 7.0)
    >>> (r.dram_type, round(r.memory_usd, 2), round(r.cost_per_chip_usd, 2))
    ('LPDDR5', 25.77, 47.74)

    Raises:
        SpecError: a bad area, volume, model or override (names the parameter).
    """
    if not isinstance(chip, Chip):
        raise SpecError("chip", chip, "must be a tritium.sim.Chip (load it with load_chip)")
    if volume is not None:
        check_int("volume", volume, lo=1)
    if nre_usd is not None:
        check_float("nre_usd", nre_usd, lo=0)
        if volume is None:
            raise SpecError("volume", None, f"needed to spread nre_usd = {nre_usd:g} over production: "
                                            "give the number of chips made (an integer >= 1)")
    die = die_cost(die_area_mm2, chip.node_nm, yield_model=yield_model, alpha=alpha,
                   wafer_usd=wafer_usd, d0_per_cm2=d0_per_cm2)
    pkg = _data()["package"]
    package = _given_or(package_usd, "package_usd", lambda: Figure(float(pkg["package_usd"]), pkg["source"]),
                        lo_zero=True)
    assembly = Figure(float(pkg["assembly_usd"]), pkg["source"])
    test = _entries("package")["test_fraction"]
    test_usd = test.value * die.cost_per_good_die_usd
    mem = _given_or(memory_usd_per_gb, "memory_usd_per_gb", lambda: memory_price(chip.dram.type), lo_zero=True)
    dram_gb = chip.dram.capacity_gib * _GIB_TO_GB
    masks = mask_set_cost(chip.node_nm)
    design = float(nre_usd or 0.0)
    nre = (masks.value + design) / volume if volume else 0.0
    package_test = package.value + assembly.value + test_usd
    unit = die.cost_per_good_die_usd + package_test + mem.value * dram_gb
    per_chip = unit + nre
    sources = dict(die.sources) | {"package_usd": package.source, "assembly_usd": assembly.source,
                                   "test_fraction": test.source, "memory_usd_per_gb": mem.source,
                                   "mask_set_usd": masks.source}
    if nre_usd is not None:
        sources["design_nre_usd"] = _GIVEN
    notes = die.notes + (("no NRE counted: give a production volume to spread the mask set (and any design "
                          "NRE) over it",) if volume is None else ())
    return CostReport(
        chip=chip.name, chips=chip.chips, node_nm=chip.node_nm, die_area_mm2=die.die_area_mm2,
        wafer_mm=die.wafer_mm, wafer_usd=die.wafer_usd, d0_per_cm2=die.d0_per_cm2,
        yield_model=die.yield_model, alpha=die.alpha, dies_per_wafer=die.dies_per_wafer,
        die_yield=die.die_yield, cost_per_good_die_usd=die.cost_per_good_die_usd,
        package_usd=package.value, assembly_usd=assembly.value, test_fraction=test.value,
        test_usd=test_usd, package_test_usd=package_test, dram_type=chip.dram.type, dram_gb=dram_gb,
        memory_usd_per_gb=mem.value, memory_usd=mem.value * dram_gb, unit_cost_usd=unit, volume=volume,
        mask_set_usd=masks.value, design_nre_usd=design, nre_usd=masks.value + design, nre_per_unit_usd=nre, cost_per_chip_usd=per_chip,
        system_cost_usd=chip.chips * per_chip, notes=notes, sources=sources,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class GpuCost:
    """What ``count`` GPU cards cost to make by the same model as a chip, beside what they sell for.

    Attributes:
        gpu: the GPU's name. count: cards.
        die: the :class:`DieCost` of its die (None where the die area is not published).
        package_test_usd: package + assembly + test per card (a flip-chip BGA: the CoWoS
            interposer of HBM parts costs far more, so this is a lower bound for them).
        memory_type, mem_gb, memory_usd_per_gb, memory_usd: the card's DRAM.
        cost_to_make_usd: good die + package_test + memory, one card (NaN without a die area).
        price_usd: the card's list or street price (None where not published);
            price_is_estimate: a street estimate.
        system_price_usd: count x price (NaN without a price).
        notes: caveats. sources: the source of every figure used.
    """

    gpu: str
    count: int
    die: DieCost | None
    package_test_usd: float
    memory_type: str
    mem_gb: float
    memory_usd_per_gb: float
    memory_usd: float
    cost_to_make_usd: float
    price_usd: float | None
    price_is_estimate: bool
    system_price_usd: float
    notes: tuple[str, ...] = ()
    sources: dict = field(default_factory=dict, compare=False)


def gpu_cost(gpu: Any, count: int = 1) -> GpuCost:
    """What ``count`` cards of ``gpu`` (a :class:`tritium.analysis.gpu.Gpu`) cost to make, and their price.

    The die is priced like a chip's (:func:`die_cost` at the GPU's node); package, assembly
    and test as for a chip; memory at the card's DRAM type's price per GB.

    >>> from tritium.analysis.gpu import load_gpu
    >>> r = gpu_cost(load_gpu("h100"))
    >>> (round(r.die.cost_per_good_die_usd), round(r.memory_usd), r.price_usd)
    (990, 680, 27500.0)
    """
    check_int("count", count, lo=1)
    pkg = _data()["package"]
    test = _entries("package")["test_fraction"]
    mem = memory_price(gpu.memory_type)
    notes: list[str] = []
    die = None
    if gpu.die_mm2 is not None:
        die = die_cost(gpu.die_mm2, gpu.node_nm)
        notes.extend(die.notes)
        test_usd = test.value * die.cost_per_good_die_usd
    else:
        test_usd = 0.0
        notes.append(f"{gpu.name}: die area not published, so no cost to make")
    package_test = float(pkg["package_usd"]) + float(pkg["assembly_usd"]) + test_usd
    if gpu.memory_type.startswith("HBM"):
        notes.append("package priced as a flip-chip BGA: the CoWoS interposer an HBM part needs costs far more "
                     "(not modelled), so the cost to make is a lower bound")
    memory_usd = mem.value * gpu.mem_gb
    to_make = die.cost_per_good_die_usd + package_test + memory_usd if die is not None else math.nan
    sources = {"memory_usd_per_gb": mem.source, "package_usd": pkg["source"], "test_fraction": test.source,
               "price_usd": next((s for s in gpu.sources if "price" in s), "not published")}
    if die is not None:
        sources |= die.sources
    price = gpu.price_usd
    return GpuCost(gpu=gpu.name, count=count, die=die, package_test_usd=package_test, memory_type=gpu.memory_type,
                   mem_gb=gpu.mem_gb, memory_usd_per_gb=mem.value, memory_usd=memory_usd, cost_to_make_usd=to_make,
                   price_usd=price, price_is_estimate=gpu.price_is_estimate,
                   system_price_usd=count * price if price is not None else math.nan, notes=tuple(notes),
                   sources=sources)
