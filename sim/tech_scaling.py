"""The technology data and how it is carried from 45 nm to a node: :class:`ScalingMethod`.

``tech_data.toml`` (beside this file) holds every figure with its source; this module reads it
(:func:`tech_tables`, :func:`data_entries`) and defines the named scaling methods
(:data:`SCALING_METHODS`: ``bitnet``, ``stillmaker``, ``stillmaker_lowvdd``) that
:func:`tritium.sim.tech.tech` builds its per-node table with. The module docstring of
:mod:`tritium.sim.tech` says what each method does and why the choice is reported.

>>> round(SCALING_METHODS["bitnet"].energy_factor(7, "int8_add"), 4)   # BitNet's 7 nm INT8 add over Horowitz's 45 nm
0.2333
>>> SCALING_METHODS["stillmaker"].energy_factor(45)
1.0
"""

from __future__ import annotations

import functools
import math
import tomllib
import types
from dataclasses import dataclass
from importlib import resources

from tritium.base.figures import interpolate
from tritium.base.specio import check_choice, check_int
from tritium.sim.chip import NODES_NM

__all__ = ["DEFAULT_SCALING", "OPS", "EVENTS", "MACRO_KIB_RANGE", "Datum", "ScalingMethod", "SCALING_METHODS",
           "tech_tables", "tech_value", "tech_source", "by_node", "logic_density", "data_entries", "check_node"]

DEFAULT_SCALING = "bitnet"
"""The scaling method used when none is named (reproduces BitNet's 71.4x)."""

OPS = ("int8_add", "int16_add", "int32_add", "int8_mul", "fp16_add", "fp16_mul", "fp32_add", "fp32_mul")
_BITNET_TABLE2 = ("int8_add", "int8_mul", "fp16_add", "fp16_mul", "fp32_add", "fp32_mul")
EVENTS = OPS + ("logic", "sram")
MACRO_KIB_RANGE = (0.125, 65536.0)


@dataclass(frozen=True, slots=True)
class Datum:
    """One number of ``tech_data.toml``: ``key`` is ``table.entry.field``."""

    key: str
    value: float
    source: str


@functools.cache
def tech_tables() -> dict[str, dict]:
    """``tech_data.toml``, read once."""
    text = resources.files("tritium.sim").joinpath("tech_data.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def data_entries() -> tuple[Datum, ...]:
    """Every number in the data file with its source (the entry's own, else its table's)."""
    out = []
    for table, body in tech_tables().items():
        for entry, fields in body.items():
            if entry == "source":
                continue
            source = fields.get("source", body.get("source", ""))
            out += [Datum(f"{table}.{entry}.{k}", float(v), source) for k, v in fields.items() if k != "source"]
    return tuple(out)


def tech_value(table: str, entry: str, field: str) -> float:
    """One number of the data file: ``table.entry.field``."""
    return float(tech_tables()[table][entry][field])


def tech_source(table: str, entry: str | None = None) -> str:
    """The source of a table's entry (the entry's own, else its table's)."""
    body = tech_tables()[table]
    return body.get(entry, {}).get("source", body["source"]) if entry else body["source"]


def by_node(table: str, field: str) -> dict[int, float]:
    """``{node_nm: value}`` of a table keyed ``nm_<node>``."""
    return {int(k.removeprefix("nm_")): float(v[field]) for k, v in tech_tables()[table].items() if k != "source"}


def logic_density(n: int) -> float:
    """Logic transistor density at node ``n``, MTr/mm^2 (log-log interpolated between tabulated nodes)."""
    return interpolate(by_node("logic_density", "mtr_per_mm2"), n, log=True)


def _bitnet_ratio(event: str) -> float:
    """BitNet's 45->7 nm energy ratio for one event kind."""
    if event == "int16_add":  # 7 nm INT16 add: linear in bits between BitNet's INT8 and INT32 adds
        e8, e32 = tech_value("bitnet7", "int8_add", "pj"), tech_value("bitnet7", "int32_add", "pj")
        return (e8 + (e32 - e8) * (16 - 8) / (32 - 8)) / tech_value("horowitz45", "int16_add", "pj")
    if event == "logic":
        return _bitnet_ratio("int8_add")
    if event == "sram":
        return math.prod(_bitnet_ratio(op) for op in _BITNET_TABLE2) ** (1 / len(_BITNET_TABLE2))
    return tech_value("bitnet7", event, "pj") / tech_value("horowitz45", event, "pj")


def _stillmaker_energy(n: int, vdd: float) -> float:
    fits = {int(k.removeprefix("nm_")): v for k, v in tech_tables()["stillmaker"].items() if k != "source"}
    return interpolate({k: f["a"] * vdd**2 + f["b"] * vdd + f["c"] for k, f in fits.items()}, n, log=False)


@dataclass(frozen=True, slots=True)
class ScalingMethod:
    """How 45 nm energies and areas are carried to a node: a named, reported choice.

    Attributes:
        name: the key in :data:`SCALING_METHODS` (``"bitnet"``, ...).
        summary: one line saying what the method does, for reports.
    """

    name: str
    summary: str

    def __post_init__(self) -> None:
        check_choice("scaling", self.name, ("bitnet", "stillmaker", "stillmaker_lowvdd"))

    @property
    def source(self) -> str:
        """Where the method's factors come from."""
        if self.name == "bitnet":
            return f"{tech_source('bitnet7')}; below 7 nm: {tech_source('tsmc_below_7nm')}; area: {tech_source('logic_density')}"
        return f"{tech_source('stillmaker')}; {tech_source('stillmaker_vdd')}; below 7 nm: {tech_source('tsmc_below_7nm')}"

    def energy_factor(self, node_nm: int, event: str = "logic") -> float:
        """Energy of one ``event`` at ``node_nm`` over its energy at 45 nm (Horowitz).

        ``event`` is one of the Horowitz operations (``"int8_add"``, ... ``"fp32_mul"``),
        ``"logic"`` (registers, gates) or ``"sram"``; only ``"bitnet"`` tells them apart.
        """
        check_node(node_nm)
        check_choice("event", event, EVENTS)
        if node_nm < 7:
            return self.energy_factor(7, event) * tech_value("tsmc_below_7nm", f"nm_{node_nm}", "energy_vs_7nm")
        if self.name == "bitnet":
            return _bitnet_ratio(event) ** (math.log(45 / node_nm) / math.log(45 / 7))
        variant = tech_tables()["stillmaker_vdd"]["same" if self.name == "stillmaker" else "lowvdd"]
        if node_nm == 45:
            return 1.0
        return _stillmaker_energy(node_nm, variant["target_v"]) / _stillmaker_energy(45, variant["source_v"])

    def area_factor(self, node_nm: int) -> float:
        """Area of a logic block at ``node_nm`` over its area at 45 nm."""
        check_node(node_nm)
        if self.name == "bitnet":
            return logic_density(45) / logic_density(node_nm)
        if node_nm < 7:
            return self.area_factor(7) * logic_density(7) / logic_density(node_nm)
        return interpolate(by_node("stillmaker", "area_vs_45nm"), node_nm, log=False)


SCALING_METHODS: types.MappingProxyType[str, ScalingMethod] = types.MappingProxyType({
    "bitnet": ScalingMethod("bitnet", "BitNet/PokeBNN 7 nm table, per-operation ratios, power law in node "
                            "from 45 to 7 nm; area by logic density"),
    "stillmaker": ScalingMethod("stillmaker", "Stillmaker & Baas 2017 fits at 0.8 V, one factor for every "
                                "event; Stillmaker area"),
    "stillmaker_lowvdd": ScalingMethod("stillmaker_lowvdd", "Stillmaker & Baas 2017 fits, 0.9 V at 45 nm to "
                                       "0.7 V at smaller nodes; Stillmaker area"),
})
"""The scaling methods by name."""


def check_node(node_nm: object) -> None:
    """Refuse a node the tables do not cover (one error naming the nodes allowed)."""
    check_int("node_nm", node_nm)
    check_choice("node_nm", node_nm, NODES_NM)
