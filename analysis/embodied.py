"""Embodied carbon (ACT, Gupta et al., ISCA 2022): what making the hardware emitted.

Die area x carbon per cm^2 of good die at the node, ``CPA = (CI_fab x EPA + GPA + MPA) /
fab_yield`` (:func:`cpa_kg_per_cm2`), plus DRAM per GB and 150 g per packaged IC
(:func:`embodied_carbon`). The hardware is described by :class:`Hardware` (die area, node,
dies, DRAM), built from a chip (:func:`chip_hardware`) or from any GPU record with
``die_mm2``, ``node_nm`` and ``mem_gb`` (:func:`gpu_hardware`), so the GPU and chip sides are
priced the same way. The ACT figures live in ``carbon_data.toml`` ``[act*]`` and
``[dram_g_per_gb]``, each with its source.

>>> round(cpa_kg_per_cm2(7).value, 2)  # ACT, Taiwan grid 583 g/kWh, 97% abatement
2.32
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tritium.analysis import carbon_data
from tritium.base.errors import MISSING, SpecError
from tritium.base.figures import Figure, by_node, figures_of
from tritium.base.specio import check_float, check_int
from tritium.sim.chip import Chip
from tritium.sim.chip_memory import DRAM_TYPES

__all__ = ["Hardware", "EmbodiedReport", "cpa_kg_per_cm2", "chip_hardware", "gpu_hardware", "embodied_carbon"]

_GIB_TO_GB = 2**30 / 1e9
_GPU_DRAM_ATTRS = ("dram_type", "mem_type", "memory_type", "memory")


def _act_node(table: str, node_nm: float) -> Figure:
    """An ACT by-node figure; nodes above ACT's oldest (28 nm) are held at it, tagged [E]."""
    entries = {int(k.removeprefix("nm_")): v for k, v in figures_of(carbon_data.tables()[table]).items()}
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
    act = carbon_data.tables()["act"]
    ci = carbon_data.override(fab_g_per_kwh, "fab_g_per_kwh", carbon_data.figure("act", "fab_g_per_kwh"))
    abate = carbon_data.override(abatement_pct, "abatement_pct", Figure(float(act["abatement_pct"]), act["source"]))
    fy = carbon_data.override(fab_yield, "fab_yield", Figure(float(act["fab_yield"]), act["source"]))
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
    act = carbon_data.tables()["act"]
    cpa = cpa_kg_per_cm2(hardware.node_nm, fab_g_per_kwh=fab_g_per_kwh, abatement_pct=abatement_pct,
                         fab_yield=fab_yield)
    ci = fab_g_per_kwh if fab_g_per_kwh is not None else carbon_data.figure("act", "fab_g_per_kwh").value
    dram = (figures_of(carbon_data.tables()["dram_g_per_gb"], "g")[hardware.dram_type] if hardware.dram_type
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
