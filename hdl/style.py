"""Which datapath a chip's TLU is built as (``tlu.style``), and the unit of each style.

``tlu.style`` is ``"adder_tree"`` (:class:`~tritium.hdl.tlu.Tlu`), ``"lut"``
(:class:`~tritium.hdl.lut.LutUnit`) or ``"mac"`` (:class:`~tritium.hdl.mac.MacUnit`). All
three have the same ports and are driven by the same controller
(:class:`~tritium.hdl.core.TritiumCore`); their cycle contracts are
:func:`tritium.sim.tlu_schedule.tlu_schedule` and :mod:`tritium.sim.datapath`.

The style keys (validated by :class:`~tritium.sim.chip_parts.TluSpec`) are read with
:func:`datapath_style`, which fills in the defaults of keys left None. :func:`with_style`
returns a TluSpec with other style keys (for tests, calibration and benchmarks).

>>> from tritium.sim import load_chip
>>> tlu = load_chip("fpga-proto").tlu
>>> datapath_style(tlu).style
'adder_tree'
>>> lut = with_style(tlu, style="lut", lut_group=3)
>>> (datapath_style(lut).style, datapath_style(lut).lut_group, unit_depth(lut))
('lut', 3, 8)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.sim.chip_parts import TluSpec
from tritium.sim.datapath import LUT_TABLES, STYLES, lut_entry_bits, lut_pipeline_depth, mac_pipeline_depth
from tritium.base.specio import check_choice

__all__ = ["DatapathStyle", "HDL_LUT_TABLES", "datapath_style", "with_style", "chip_with_style", "unit_depth",
           "make_unit", "table_bits", "check_style"]

HDL_LUT_TABLES = ("registers",)
"""Values of ``tlu.lut_tables`` the HDL builds."""


@dataclass(frozen=True, slots=True)
class DatapathStyle:
    """The style keys of one TLU, with the chip template's defaults filled in.

    Attributes:
        style: ``"adder_tree"``, ``"lut"`` or ``"mac"``.
        lut_group: activations per table (g), for ``lut``.
        lut_table_bits: bits per table entry; 0 means exact (``act_bits + bit_length(g)``).
        lut_tables: ``"registers"`` or ``"sram"``.
        lut_share_rows: rows sharing one copy of the tables; 0 means all rows.
        mac_bits: multiplier operand bits, for ``mac``.
    """

    style: str = "adder_tree"
    lut_group: int = 2
    lut_table_bits: int = 0
    lut_tables: str = "registers"
    lut_share_rows: int = 0
    mac_bits: int = 8

    def __post_init__(self) -> None:
        check_choice("tlu.style", self.style, STYLES)
        check_choice("tlu.lut_tables", self.lut_tables, LUT_TABLES)


_KEYS = tuple(f.name for f in dataclasses.fields(DatapathStyle))
_DEFAULTS = DatapathStyle()


def datapath_style(tlu: TluSpec) -> DatapathStyle:
    """The style keys of ``tlu`` (the defaults for keys that are None or absent)."""
    return DatapathStyle(**{key: value for key in _KEYS
                            if (value := getattr(tlu, key, None)) is not None})


def with_style(tlu: TluSpec, **keys) -> TluSpec:
    """``tlu`` with the style keys ``keys`` (``style``, ``lut_group``, ...) replaced; a new
    ``style`` drops the old style's keys that ``keys`` does not give.

    Raises:
        SpecError: a key that is not a style key, or a value :class:`TluSpec` refuses.
    """
    for key in keys:
        if key not in _KEYS:
            raise SpecError(f"tlu.{key}", keys[key], f"is not a style key ({', '.join(_KEYS)})")
    if "style" in keys:
        keys = {**{key: None for key in _KEYS if key != "style"}, **keys}
    return dataclasses.replace(tlu, **keys)


def check_style(tlu: TluSpec) -> DatapathStyle:
    """Return ``tlu``'s style keys, or raise :class:`SpecError` naming one the HDL cannot build.

    (:class:`TluSpec` has checked the keys themselves.) The ``lut`` and ``mac`` units build
    ``zero_handling`` and ``zero_act`` ``"none"`` only, and ``lut`` builds tables in registers
    only; the adder tree builds ``zero_act`` ``"none"`` and ``"gate"``.
    """
    keys = datapath_style(tlu)
    zero_act = getattr(tlu, "zero_act", "none")
    built = ("none", "gate") if keys.style == "adder_tree" else ("none",)
    if zero_act not in built:
        raise SpecError("tlu.zero_act", zero_act, f"the {keys.style!r} RTL builds only "
                        f"{' or '.join(map(repr, built))} (the simulator models the rest)")
    if keys.style == "adder_tree":
        return keys
    if tlu.zero_handling != "none":
        raise SpecError("tlu.zero_handling", tlu.zero_handling,
                        f"the {keys.style!r} RTL builds only 'none' (gating and skipping are built for the adder tree)")
    if keys.style == "lut":
        if keys.lut_tables not in HDL_LUT_TABLES:
            raise SpecError("tlu.lut_tables", keys.lut_tables,
                            "the HDL builds only 'registers' (SRAM tables are modelled by the simulator)")
    return keys


def unit_depth(tlu: TluSpec) -> int:
    """Registers from the unit's inputs to its accumulators, for ``tlu``'s style."""
    keys = datapath_style(tlu)
    if keys.style == "lut":
        return lut_pipeline_depth(tlu.width, keys.lut_group, tlu.levels_per_stage)
    if keys.style == "mac":
        return mac_pipeline_depth(tlu.width, tlu.levels_per_stage)
    return tlu.pipeline_depth_cycles


def table_bits(tlu: TluSpec) -> int:
    """Bits of one ``lut`` table entry of ``tlu`` (exact when ``lut_table_bits`` is 0)."""
    keys = datapath_style(tlu)
    return keys.lut_table_bits or lut_entry_bits(tlu.act_bits, keys.lut_group)


def make_unit(tlu: TluSpec):
    """The row unit of ``tlu``'s style (ports of :class:`~tritium.hdl.tlu.Tlu`).

    Raises:
        SpecError: the HDL cannot build ``tlu`` (:func:`check_style`).
    """
    from tritium.hdl.lut import LutUnit
    from tritium.hdl.mac import MacUnit
    from tritium.hdl.tlu import Tlu

    keys = check_style(tlu)
    return {"adder_tree": Tlu, "lut": LutUnit, "mac": MacUnit}[keys.style](tlu)


def chip_with_style(chip, **keys):
    """``chip`` with its TLU's style keys replaced (:func:`with_style`)."""
    return dataclasses.replace(chip, tlu=with_style(chip.tlu, **keys))
