"""Synthesized area of each datapath style beside the simulator's area model: :func:`calibrate_styles`.

For every style (``adder_tree``, ``lut`` per group size, ``mac``) and width, one row unit
of ``rows`` rows (:class:`~tritium.hdl.tlu.Tlu`, :class:`~tritium.hdl.lut.LutUnit`,
:class:`~tritium.hdl.mac.MacUnit` with ``int_weights``: see there why) with one accumulator
per row is synthesized twice:

- yosys's generic flow (``synth``, ``stat -tech cmos``): logic transistors, plus the
  flip-flops' (:func:`~tritium.hdl.calibrate.flip_flop_transistors`), over the node's logic
  density: ``synth_um2``, set beside the model's area of the same unit
  (:func:`tritium.sim.energy.tlu_area_um2`: rows, accumulators, shared tables) as ``ratio``
  = model / synthesized;
- ``synth_ecp5`` and out-of-context nextpnr-ecp5 (LFE5U-85F, speed 6): LUT4s, CCU2C carry
  cells, flip-flops, DSP blocks (MULT18X18D) and fmax (optimistic: no I/O, no clock tree).

The adder tree's row here is the whole unit (its accumulators included), so its ratio is
not :func:`~tritium.hdl.calibrate.calibrate_area`'s (bare trees).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tritium.base.errors import SpecError
from tritium.hdl.calibrate import flip_flop_transistors
from tritium.hdl.synth import synthesize
from tritium.hdl.synth_reports import is_flip_flop
from tritium.sim.chip_parts import TluSpec
from tritium.sim.datapath import LUT_GROUPS, STYLES
from tritium.sim.tech import tech
from tritium.sim.tech_scaling import DEFAULT_SCALING
from tritium.base.specio import check_choice, check_int, check_power_of_two

__all__ = ["StyleCalibration", "calibrate_styles", "style_table", "STYLE_WIDTHS", "UNIT_ROWS", "UNIT_ACC_BITS"]

STYLE_WIDTHS = (16, 32)
"""Widths :func:`calibrate_styles` synthesizes by default."""
UNIT_ROWS = 4
"""Rows of each synthesized unit by default (enough for the LUT's shared tables to count)."""
UNIT_ACC_BITS = 24
"""Accumulator bits of each synthesized unit."""


def _model_um2(tlu: TluSpec, t) -> tuple[float | None, str]:
    """The simulator's area of the unit, um^2, or (None, why) where it has none."""
    try:
        from tritium.sim.energy import tlu_area_um2
    except ImportError:
        return None, "n/a: the simulator has no per-style area model (tritium.sim.energy.tlu_area_um2)"
    return tlu_area_um2(tlu, t), "tritium.sim.energy.tlu_area_um2"


@dataclass(frozen=True, slots=True, kw_only=True)
class StyleCalibration:
    """One style and width: synthesized generic and ECP5 figures beside the model's area.

    Attributes:
        style: the datapath style; lut_group: g for ``lut`` (0 otherwise); mac_bits: for
            ``mac`` (0 otherwise).
        width, rows, act_bits, acc_bits: the unit (levels_per_stage 1, one accumulator per row,
            for ``lut`` all rows sharing one copy of the tables).
        node_nm, scaling: the technology of both areas.
        cells, logic_transistors, flip_flops, ff_transistors: generic synthesis.
        synth_um2: (logic + flip-flop transistors) / logic density, um^2.
        model_um2: the model's area, um^2, or None (``model_source`` says why).
        model_source: the model function, or why there is none.
        ecp5_luts, ecp5_carry, ecp5_ffs, ecp5_dsps: ECP5 LUT4, CCU2C, flip-flops, DSP blocks
            (None when ECP5 was not run).
        ecp5_fmax_mhz: out-of-context fmax, MHz (None when not placed and routed).
    """

    style: str
    lut_group: int
    mac_bits: int
    width: int
    rows: int
    act_bits: int
    acc_bits: int
    node_nm: int
    scaling: str
    cells: int
    logic_transistors: int
    flip_flops: int
    ff_transistors: int
    synth_um2: float
    model_um2: float | None
    model_source: str
    ecp5_luts: int | None = None
    ecp5_carry: int | None = None
    ecp5_ffs: int | None = None
    ecp5_dsps: int | None = None
    ecp5_fmax_mhz: float | None = None

    def __post_init__(self) -> None:
        check_choice("style", self.style, STYLES)
        if not self.synth_um2 > 0:
            raise SpecError("synth_um2", self.synth_um2, "must be > 0")

    @property
    def label(self) -> str:
        """``adder_tree``, ``lut g=3`` or ``mac 8b``."""
        return {"lut": f"lut g={self.lut_group}", "mac": f"mac {self.mac_bits}b"}.get(self.style, self.style)

    @property
    def ratio(self) -> float | None:
        """Model area over synthesized area (None without a model)."""
        return None if self.model_um2 is None else self.model_um2 / self.synth_um2

    def to_dict(self) -> dict:
        """Every field and the ratio, JSON-ready."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["ratio"] = self.ratio
        return out


def _units(styles, lut_groups, mac_bits, width, rows, act_bits):
    """(TluSpec, unit) per style configuration at one width."""
    from tritium.hdl.lut import LutUnit
    from tritium.hdl.mac import MacUnit
    from tritium.hdl.tlu import Tlu

    base = TluSpec(rows=rows, width=width, act_bits=act_bits, acc_bits=UNIT_ACC_BITS)
    for style in styles:
        if style == "adder_tree":
            yield base, lambda tlu: Tlu(tlu)
        elif style == "lut":
            for g in lut_groups:
                if g <= width:
                    yield dataclasses.replace(base, style="lut", lut_group=g), LutUnit
        else:
            yield dataclasses.replace(base, style="mac", mac_bits=mac_bits), lambda tlu: MacUnit(tlu, int_weights=True)


def calibrate_styles(styles: Iterable[str] = STYLES, widths: Iterable[int] = STYLE_WIDTHS, node_nm: int = 7, *,
                     rows: int = UNIT_ROWS, lut_groups: Iterable[int] = (2, 3), mac_bits: int = 8, act_bits: int = 8,
                     ecp5: bool = True, pnr: bool = True, scaling: str = DEFAULT_SCALING,
                     work_dir: str | Path | None = None,
                     progress: Callable[[str], None] | None = None) -> list[StyleCalibration]:
    """Synthesize one unit per style (and LUT group) and width; compare with the area model.

    Args:
        styles: datapath styles (:data:`~tritium.sim.datapath.STYLES`).
        widths: unit widths (powers of two, 2 to 256).
        node_nm: the node whose logic density converts transistors to um^2.
        rows: rows of each unit (1 to 64).
        lut_groups: the LUT group sizes to build (each at most the width).
        mac_bits: the MAC unit's operand bits.
        act_bits: activation bits.
        ecp5: also run synth_ecp5; pnr: and out-of-context nextpnr-ecp5 for fmax.
        scaling: the technology scaling method of the model's side.
        work_dir: where the synthesis logs go; default a temporary folder, removed afterwards.
        progress: called with one-line messages.

    Returns:
        A :class:`StyleCalibration` per (style configuration, width), styles outermost.

    Raises:
        SpecError: a style, width, group, ``rows``, ``mac_bits``, ``node_nm`` or ``scaling`` out of range.
        TritiumError: yosys or nextpnr failed.
    """
    styles, widths, lut_groups = tuple(styles), tuple(widths), tuple(lut_groups)
    if not styles or not widths:
        raise SpecError("styles" if not styles else "widths", (), "must name at least one")
    for style in styles:
        check_choice("style", style, STYLES)
    for width in widths:
        check_power_of_two("width", width, lo=2, hi=256)
    for g in lut_groups:
        check_choice("lut_group", g, LUT_GROUPS)
    check_int("rows", rows, lo=1, hi=64)
    t = tech(node_nm, scaling)
    say = progress or (lambda _msg: None)
    out = []
    with tempfile.TemporaryDirectory(prefix="tritium-calibrate-styles-") as tmp:
        root = Path(work_dir) if work_dir is not None else Path(tmp)
        for style in styles:
            for width in widths:
                for tlu, build in _units((style,), lut_groups, mac_bits, width, rows, act_bits):
                    tag = f"{tlu.style}{tlu.lut_group or ''}_w{width}_r{rows}"
                    say(f"synthesizing {tag} (generic{', ECP5' if ecp5 else ''})")
                    generic = synthesize(build(tlu), "generic", root / tag / "generic", name=tag)
                    ffs = {c: n for c, n in generic.cells_by_type.items() if is_flip_flop(c)}
                    ff_t = sum(n * flip_flop_transistors(c) for c, n in ffs.items())
                    fpga = {}
                    if ecp5:
                        rep = synthesize(build(tlu), "ecp5", root / tag / "ecp5", pnr="ooc" if pnr else "none",
                                         name=tag)
                        fpga = dict(ecp5_luts=rep.luts, ecp5_carry=rep.carry_cells, ecp5_ffs=rep.flip_flops,
                                    ecp5_dsps=rep.dsps, ecp5_fmax_mhz=rep.fmax_mhz)
                    model, source = _model_um2(tlu, t)
                    out.append(StyleCalibration(
                        style=tlu.style, lut_group=tlu.lut_group or 0, mac_bits=tlu.mac_bits or 0, width=width,
                        rows=rows, act_bits=act_bits, acc_bits=tlu.acc_bits, node_nm=node_nm, scaling=scaling,
                        cells=generic.cells, logic_transistors=generic.transistors, flip_flops=generic.flip_flops,
                        ff_transistors=ff_t, synth_um2=(generic.transistors + ff_t) / t.logic_mtr_per_mm2,
                        model_um2=model, model_source=source, **fpga,
                    ))
    return out


def _cell(value, fmt: str = "") -> str:
    return "-" if value is None else format(value, fmt)


def style_table(rows: Iterable[StyleCalibration]) -> str:
    """A plain-text table: one line per style and width (generic area, model, ratio, ECP5 figures)."""
    header = (f"{'style':<11} {'width':>5} {'rows':>4} {'cells':>6} {'synth T':>8} {'synth um2':>9} "
              f"{'model um2':>9} {'ratio':>6} {'LUT4':>6} {'CCU2C':>6} {'FF':>6} {'DSP':>4} {'fmax MHz':>8}")
    lines = [header]
    notes = set()
    for r in rows:
        if r.model_um2 is None:
            notes.add(r.model_source)
        lines.append(
            f"{r.label:<11} {r.width:>5} {r.rows:>4} {r.cells:>6} {r.logic_transistors + r.ff_transistors:>8} "
            f"{r.synth_um2:>9.1f} {_cell(r.model_um2, '9.1f'):>9} {_cell(r.ratio, '6.3f'):>6} "
            f"{_cell(r.ecp5_luts):>6} {_cell(r.ecp5_carry):>6} {_cell(r.ecp5_ffs):>6} {_cell(r.ecp5_dsps):>4} "
            f"{_cell(r.ecp5_fmax_mhz, '8.1f'):>8}")
    return "\n".join(lines + sorted(notes))
