"""Reading what yosys and nextpnr wrote: cell counts, placed utilization, fmax, overflow.

:func:`~tritium.hdl.synth.synthesize` runs the tools (:mod:`tritium.hdl.synth_tools`); this
module turns their files into records:

- :func:`parse_stat`: yosys's ``stat -json`` (and, for the generic target, the multiplier
  count taken before gate mapping) -> :class:`CellCounts`, each cell classed by
  :data:`CELL_CLASSES` and :func:`is_flip_flop`;
- :func:`parse_pnr`: nextpnr's ``--report`` JSON -> :class:`Placement`;
- :func:`parse_does_not_fit`: the log of a nextpnr run that failed because the design is
  larger than the device -> the utilization it printed.

>>> is_flip_flop("TRELLIS_FF"), is_flip_flop("LUT4")
(True, False)
>>> multipliers_file("stat_generic.json")
'stat_generic_multipliers.txt'
"""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tritium.base.errors import TritiumError

__all__ = ["CELL_CLASSES", "CellCounts", "Placement", "is_flip_flop", "multipliers_file", "parse_stat",
           "parse_pnr", "parse_does_not_fit"]

# --- cells --------------------------------------------------------------------------------

_FF_CELL = re.compile(r"^\$_(DFF|DFFE|SDFF|SDFFE|SDFFCE|DFFSR|DFFSRE|ALDFF|ALDFFE|DLATCH|DLATCHSR|SR)_([PN01]*)_$")
_FF_PRIMITIVE = re.compile(r"^(TRELLIS_FF|SB_DFF\w*|FD[RSCP]E?(_1)?|LDCE|LDPE)$")


def is_flip_flop(cell_type: str) -> bool:
    """Whether ``cell_type`` (a yosys internal or vendor cell) is a flip-flop or latch."""
    return bool(_FF_CELL.match(cell_type) or _FF_PRIMITIVE.match(cell_type))


CELL_CLASSES = types.MappingProxyType({
    "ecp5": {"luts": r"LUT4", "carry": r"CCU2C", "dsps": r"MULT18X18D|ALU54B|MULT9X9D|ALU24B",
             "brams": r"DP16KD|PDPW16KD"},
    "ice40": {"luts": r"SB_LUT4", "carry": r"SB_CARRY", "dsps": r"SB_MAC16", "brams": r"SB_RAM40_4K\w*|SB_SPRAM256KA"},
    "xc7": {"luts": r"LUT[1-6](_2)?|INV", "carry": r"CARRY[48]", "dsps": r"DSP48E1|DSP48E2",
            "brams": r"RAMB18E1|RAMB36E1|RAMB18E2|RAMB36E2"},
    "generic": {"dsps": r"\$mul", "brams": r"\$mem(_v2)?"},
})
"""Per target, the cell types (regular expressions, matched whole) counted as LUTs, carry
cells, DSPs and block RAMs. The generic target has no LUTs or carry cells; its DSP count
comes from the multiplier count yosys takes before gate mapping."""


def _count(cells: Mapping[str, int], pattern: str) -> int:
    rx = re.compile(pattern)
    return sum(n for t, n in cells.items() if rx.fullmatch(t))


# --- yosys stat ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CellCounts:
    """The cells of one synthesized design.

    The fields are those of :class:`~tritium.hdl.synth.SynthReport` of the same names.

    Attributes:
        luts: look-up tables; None for generic.
        carry_cells: carry cells; None for generic.
        flip_flops: flip-flop and latch cells.
        dsps: DSP or multiplier blocks (generic: ``$mul`` and product-forming ``$macc``
            cells before gate mapping).
        block_rams: block RAMs (generic: memories left unmapped).
        cells: cells of all kinds (``$scopeinfo`` left out: it only records flattened hierarchy).
        cells_by_type: cell count by cell type.
        transistors: generic only: CMOS transistor estimate of the logic, flip-flops excluded.
    """

    luts: int | None
    carry_cells: int | None
    flip_flops: int
    dsps: int
    block_rams: int
    cells: int
    cells_by_type: Mapping[str, int]
    transistors: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells_by_type", types.MappingProxyType(dict(self.cells_by_type)))


def multipliers_file(stat: str) -> str:
    """The file beside yosys's stat JSON ``stat`` where the generic flow writes its multiplier count."""
    return stat.removesuffix(".json") + "_multipliers.txt"


def parse_stat(target: str, stat_path: Path) -> CellCounts:
    """The cells of yosys's ``stat -json`` output at ``stat_path`` for ``target``.

    For ``"generic"`` also reads the multiplier count (:func:`multipliers_file`) and turns
    yosys's ``stat -tech cmos`` estimate into logic transistors: yosys counts only plain D
    flip-flops (``$_DFF_P_``, ``$_DFF_N_``, 16 transistors each), which are subtracted.

    Raises:
        TritiumError: the generic flow left no multiplier count or transistor estimate.
    """
    data = json.loads(stat_path.read_text(encoding="utf-8"))
    design = data.get("design") or next(iter(data["modules"].values()))
    # $scopeinfo cells only record the hierarchy that flattening removed: not logic
    cells = {str(k): int(v) for k, v in design.get("num_cells_by_type", {}).items() if k != "$scopeinfo"}
    classes = CELL_CLASSES[target]
    dsps, transistors = _count(cells, classes["dsps"]), None
    if target == "generic":
        coarse_path = stat_path.with_name(multipliers_file(stat_path.name))
        found = re.search(r"(\d+) objects", coarse_path.read_text(encoding="utf-8")) if coarse_path.exists() else None
        if found is None:
            raise TritiumError(f"yosys gave no multiplier count in {coarse_path}")
        dsps = int(found.group(1))
        estimate = design.get("estimated_num_transistors")
        if estimate is None:
            raise TritiumError(f"yosys gave no transistor estimate (stat -tech cmos) in {stat_path}")
        counted_ffs = _count(cells, r"\$_DFF_[PN]_")  # the only flip-flops yosys's estimate includes, 16 each
        transistors = int(str(estimate).rstrip("+")) - 16 * counted_ffs
    return CellCounts(
        luts=_count(cells, classes["luts"]) if "luts" in classes else None,
        carry_cells=_count(cells, classes["carry"]) if "carry" in classes else None,
        flip_flops=sum(n for t, n in cells.items() if is_flip_flop(t)),
        dsps=dsps,
        block_rams=_count(cells, classes["brams"]),
        cells=sum(cells.values()),
        cells_by_type=cells,
        transistors=transistors,
    )


# --- nextpnr ---------------------------------------------------------------------------------

_DOES_NOT_FIT = re.compile(r"(more \w+ than available|Unable to place cell|failed to place|no BELs remaining|"
                           r"Failed to expand region|Design uses .* but only .* available)", re.IGNORECASE)
_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.MULTILINE)
_MAIN_BELS = {"ecp5": ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO"),
              "ice40": ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_SPRAM", "ICESTORM_DSP", "SB_IO")}


@dataclass(frozen=True, slots=True, kw_only=True)
class Placement:
    """What place and route of one design gave.

    The fields are those of :class:`~tritium.hdl.synth.SynthReport` of the same names.

    Attributes:
        fits: whether the design fits the device.
        utilization: placed cells by kind, ``(used, available)``, for the kinds used and
            the main ones; for a design that does not fit, what nextpnr printed before it
            gave up (used may exceed available).
        fmax_mhz: the clock's achieved frequency after routing, MHz; None when it did not fit.
        timing_met: fmax_mhz >= the frequency asked; None without an fmax.
        note: why it does not fit (the end of nextpnr's log); None when it fits.
    """

    fits: bool
    utilization: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    fmax_mhz: float | None = None
    timing_met: bool | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "utilization", types.MappingProxyType(dict(self.utilization)))


def parse_does_not_fit(target: str, log_text: str) -> dict[str, tuple[int, int]] | None:
    """The utilisation nextpnr printed before it found the design too large, or None if it did not say so.

    Returns ``{bel: (used, available)}`` (used may exceed available) for the kinds used
    and the main ones, when the log of a failed run says the design does not fit.
    """
    if not _DOES_NOT_FIT.search(log_text):
        return None
    return {kind: (int(used), int(avail)) for kind, used, avail in _UTIL_LINE.findall(log_text)
            if int(used) > 0 or kind in _MAIN_BELS[target]}


def parse_pnr(target: str, report_path: Path, mhz: float) -> Placement:
    """The placement in nextpnr's ``--report`` JSON at ``report_path``, of a run asked for ``mhz`` MHz.

    fmax is the slowest clock's achieved frequency (None when the report has no clock).
    """
    data = json.loads(report_path.read_text(encoding="utf-8"))
    util = {k: (int(v["used"]), int(v["available"])) for k, v in data.get("utilization", {}).items()
            if int(v["used"]) > 0 or k in _MAIN_BELS[target]}
    clocks = {k: float(v["achieved"]) for k, v in data.get("fmax", {}).items()}
    fmax = min(clocks.values()) if clocks else None
    return Placement(fits=True, utilization=util, fmax_mhz=fmax, timing_met=None if fmax is None else fmax >= mhz)
