"""Feedback into the area model: synthesized adder trees against the simulator's area.

:func:`calibrate_area` synthesizes :class:`~tritium.hdl.tree.AdderTree` s of several
widths with the generic flow (yosys ``synth``, ``stat -tech cmos``), adds the
flip-flops' transistors (:func:`flip_flop_transistors`: 16 for a plain
D flip-flop, 22 with the synchronous reset yosys folds the zero weight into), converts
transistors to area with the node's logic density
(:attr:`~tritium.sim.tech.TechTable.logic_mtr_per_mm2`) and sets the simulator's model of
the same tree (:func:`tritium.sim.energy.tree_area_um2`: sign-selects, adders, pipeline
registers) beside it. The model must stay within :data:`TOLERANCE` of the synthesized
area at every width.

Both sides are idealized in the same way: transistor count over a marketing logic
density leaves out placement utilization and wiring, which a real layout adds to both.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tritium.base.errors import SpecError, TritiumError
from tritium.hdl.synth import synthesize
from tritium.hdl.synth_reports import is_flip_flop
from tritium.sim.chip_parts import TluSpec
from tritium.sim.energy import tree_area_parts_um2
from tritium.sim.tech import tech
from tritium.sim.tech_scaling import DEFAULT_SCALING
from tritium.base.specio import check_int, check_power_of_two

__all__ = ["TOLERANCE", "DEFAULT_WIDTHS", "AreaCalibration", "calibrate_area", "calibration_table",
           "flip_flop_transistors"]

TOLERANCE = 0.25
"""Largest allowed |model / synthesized - 1|."""
DEFAULT_WIDTHS = (16, 32, 64, 128, 256)
"""Tree widths :func:`calibrate_area` synthesizes by default."""


_FF_CELL = re.compile(r"^\$_(DFF|DFFE|SDFF|SDFFE|SDFFCE|DFFSR|DFFSRE|ALDFF|ALDFFE|DLATCH|DLATCHSR|SR)_([PN01]*)_$")
_PLAIN_POLARITIES = {"DFF": 1, "DFFE": 2, "DLATCH": 1}  # polarity letters of the kinds without an async control


def flip_flop_transistors(cell_type: str) -> int:
    """CMOS transistors of one yosys internal flip-flop or latch cell (``$_SDFF_PP0_``, ...).

    A plain D flip-flop is 16 transistors: yosys's own ``stat -tech cmos`` cost of
    ``$_DFF_P_`` (yosys 0.70), which is the static transmission-gate master-slave
    flip-flop (two latches, each an input transmission gate, an inverter, a feedback
    inverter and a feedback transmission gate: 8 transistors). Controls add the gates
    yosys would otherwise have counted in the logic: a synchronous reset or set one
    2-input AND/OR (6, yosys's ``$_AND_``), an enable a 2:1 mux (12, ``$_MUX_``). An
    asynchronous reset, set or load turns one inverter of each latch into a NAND/NOR (+4;
    estimate), both of them +8. A latch is half a flip-flop (8) with the same additions;
    a bare set-reset latch is two cross-coupled 2-input gates (8).

    Raises:
        TritiumError: ``cell_type`` is not a yosys internal flip-flop or latch cell.
    """
    match = _FF_CELL.match(cell_type)
    if not match:
        raise TritiumError(f"{cell_type!r} is not a yosys internal flip-flop or latch cell")
    kind, polarities = match.group(1), match.group(2)
    if kind == "SR":
        return 8
    base = 8 if kind.startswith("DLATCH") else 16
    extra = 6 if kind.startswith("SDFF") else 0
    if kind in ("DFFE", "SDFFE", "SDFFCE", "ALDFFE", "DFFSRE"):
        extra += 12
    if kind in ("DFFSR", "DFFSRE", "DLATCHSR"):
        extra += 8
    elif kind.startswith("ALDFF") or len(polarities) > _PLAIN_POLARITIES.get(kind, len(polarities)):
        extra += 4
    return base + extra


@dataclass(frozen=True, slots=True, kw_only=True)
class AreaCalibration:
    """One tree width: synthesized transistors and area beside the model's area.

    Attributes:
        width, act_bits: the tree (levels_per_stage 1, as the presets build it).
        node_nm, scaling: the technology the areas are at.
        cells: gate-level cells after generic synthesis.
        logic_transistors: yosys's CMOS estimate of the logic, flip-flops excluded.
        flip_flops: flip-flop cells.
        ff_transistors: their transistors (:func:`flip_flop_transistors`).
        synth_um2: (logic + flip-flop transistors) / logic density, um^2.
        model_logic_um2: the model's sign-selects and adders, um^2.
        model_register_um2: the model's pipeline registers, um^2.
    """

    width: int
    act_bits: int
    node_nm: int
    scaling: str
    cells: int
    logic_transistors: int
    flip_flops: int
    ff_transistors: int
    synth_um2: float
    model_logic_um2: float
    model_register_um2: float

    def __post_init__(self) -> None:
        for name in ("width", "act_bits", "node_nm", "cells", "logic_transistors", "flip_flops", "ff_transistors"):
            check_int(name, getattr(self, name), lo=1)
        if not self.synth_um2 > 0:
            raise SpecError("synth_um2", self.synth_um2, "must be > 0")

    @property
    def synth_transistors(self) -> int:
        """Logic and flip-flop transistors."""
        return self.logic_transistors + self.ff_transistors

    @property
    def model_um2(self) -> float:
        """The model's area of the tree, um^2."""
        return self.model_logic_um2 + self.model_register_um2

    @property
    def ratio(self) -> float:
        """Model area over synthesized area."""
        return self.model_um2 / self.synth_um2

    @property
    def logic_ratio(self) -> float:
        """Model logic area over the synthesized logic's (flip-flops left out of both)."""
        return self.model_logic_um2 / (self.synth_um2 * self.logic_transistors / self.synth_transistors)

    @property
    def register_ratio(self) -> float:
        """Model register area over the synthesized flip-flops'."""
        return self.model_register_um2 / (self.synth_um2 * self.ff_transistors / self.synth_transistors)

    @property
    def within_tolerance(self) -> bool:
        """|ratio - 1| <= :data:`TOLERANCE`."""
        return abs(self.ratio - 1) <= TOLERANCE

    def to_dict(self) -> dict:
        """Every field and derived figure, JSON-ready."""
        out = {name: getattr(self, name) for name in self.__slots__}
        for name in ("synth_transistors", "model_um2", "ratio", "logic_ratio", "register_ratio", "within_tolerance"):
            out[name] = getattr(self, name)
        return out


def calibrate_area(widths: Iterable[int] = DEFAULT_WIDTHS, node_nm: int = 7, *, act_bits: int = 8,
                   scaling: str = DEFAULT_SCALING, work_dir: str | Path | None = None,
                   progress: Callable[[str], None] | None = None) -> list[AreaCalibration]:
    """Synthesize an adder tree per width and compare its area with the model's.

    Args:
        widths: tree widths (powers of two, 2 to 4096).
        node_nm: the node whose logic density and tables convert both sides to um^2.
        act_bits: activation bits of the trees.
        scaling: the technology scaling method of the model's side.
        work_dir: where the synthesis logs go (a folder per width); default a temporary
            folder, removed afterwards.
        progress: called with one-line messages (synthesis steps).

    Returns:
        One :class:`AreaCalibration` per width, in the order given.

    Raises:
        SpecError: a width, ``act_bits``, ``node_nm`` or ``scaling`` out of range.
        TritiumError: yosys failed.
    """
    from tritium.hdl.tree import AdderTree

    widths = tuple(widths)
    if not widths:
        raise SpecError("widths", widths, "must name at least one tree width")
    t = tech(node_nm, scaling)
    for width in widths:  # every width is checked before any synthesis
        check_power_of_two("width", width, lo=2, hi=4096)
    check_int("act_bits", act_bits, lo=2, hi=16)
    with tempfile.TemporaryDirectory(prefix="tritium-calibrate-") as tmp:
        root = Path(work_dir) if work_dir is not None else Path(tmp)
        rows = []
        for width in widths:
            report = synthesize(AdderTree(width, act_bits), "generic", root / f"tree{width}", name=f"tree{width}",
                                progress=progress)
            ffs = {c: n for c, n in report.cells_by_type.items() if is_flip_flop(c)}
            ff_transistors = sum(n * flip_flop_transistors(c) for c, n in ffs.items())
            tlu = TluSpec(rows=1, width=width, act_bits=act_bits, acc_bits=act_bits + width.bit_length())
            parts = tree_area_parts_um2(tlu, t)
            rows.append(AreaCalibration(
                width=width, act_bits=act_bits, node_nm=node_nm, scaling=scaling, cells=report.cells,
                logic_transistors=report.transistors, flip_flops=report.flip_flops, ff_transistors=ff_transistors,
                synth_um2=(report.transistors + ff_transistors) / t.logic_mtr_per_mm2,
                model_logic_um2=parts["sign_select"] + parts["adders"], model_register_um2=parts["registers"],
            ))
    return rows


def calibration_table(rows: Iterable[AreaCalibration]) -> str:
    """A plain-text table of calibration rows (width, transistors, areas, ratios)."""
    header = (f"{'width':>5} {'cells':>6} {'logic T':>8} {'FF':>5} {'FF T':>7} {'synth T':>8} "
              f"{'synth um2':>9} {'model um2':>9} {'ratio':>6} {'logic':>6} {'regs':>6}")
    lines = [header]
    for r in rows:
        lines.append(f"{r.width:>5} {r.cells:>6} {r.logic_transistors:>8} {r.flip_flops:>5} {r.ff_transistors:>7} "
                     f"{r.synth_transistors:>8} {r.synth_um2:>9.1f} {r.model_um2:>9.1f} {r.ratio:>6.3f} "
                     f"{r.logic_ratio:>6.3f} {r.register_ratio:>6.3f}")
    return "\n".join(lines)
