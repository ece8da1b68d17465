"""Feedback into the timing model: synthesized ECP5 fmax of adder trees against the model's stages.

The reachable-clock model (:mod:`tritium.sim.silicon`) counts each pipeline stage in FO4;
its one FPGA-calibrated figure is the register overhead of a stage, fitted so that the
model's ``stage(k) / stage(1)`` of a 64-input tree matches the ECP5 fmax ratios of the
generated tree at ``levels_per_stage`` k (stored in ``sim/silicon_data.toml``,
``[ecp5_tree64]``). :func:`calibrate_timing` re-measures those fmax on this machine
(yosys + nextpnr through the harness, the same flow and seed) and sets, per k, the
measured ratio beside the model's, and the stored fmax beside today's (a drift in the
tools shows there). Only ratios are compared: FPGA absolute times never enter the ASIC
model.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tritium.base.errors import SpecError, TritiumError
from tritium.hdl.synth import synthesize
from tritium.base.specio import check_float, check_int, check_power_of_two

__all__ = ["TIMING_TOLERANCE", "DEFAULT_LEVELS", "TimingCalibration", "calibrate_timing", "timing_table"]

TIMING_TOLERANCE = 0.10
"""Largest |model ratio / measured ratio - 1| the fitted 64-input tree keeps (a test on the stored figures)."""
DEFAULT_LEVELS = (1, 2, 3, 6)
"""levels_per_stage the stored calibration measured on the 64-input tree."""


@dataclass(frozen=True, slots=True)
class TimingCalibration:
    """One tree's fmax on ECP5 and the model's stage depth, relative to the first row's.

    Attributes:
        width, act_bits, levels_per_stage: the tree.
        fmax_mhz: ECP5 fmax after place and route, MHz (harness flow).
        stored_fmax_mhz: the fmax stored in ``[ecp5_tree64]`` for this k (64-input, 8-bit trees
            only), MHz; None where none is stored.
        measured_ratio: the first row's fmax over this one's (how much deeper this stage is).
        model_ratio: the model's tree stage depth over the first row's.
    """

    width: int
    act_bits: int
    levels_per_stage: int
    fmax_mhz: float
    stored_fmax_mhz: float | None
    measured_ratio: float
    model_ratio: float

    @property
    def error(self) -> float:
        """model_ratio / measured_ratio - 1."""
        return self.model_ratio / self.measured_ratio - 1.0


def _model_stage(width: int, act_bits: int, k: int) -> float:
    from tritium.sim.silicon import Pipeline, stage_depths_fo4

    return stage_depths_fo4(Pipeline(width=width, levels_per_stage=k, act_bits=act_bits))["tree"]


def _stored(width: int, act_bits: int, k: int) -> float | None:
    from tritium.sim.silicon import silicon_data

    if (width, act_bits) != (64, 8):
        return None
    entry = silicon_data()["ecp5_tree64"].get(f"k_{k}")
    return float(entry["fmax_mhz"]) if entry else None


def calibrate_timing(levels: Iterable[int] = DEFAULT_LEVELS, width: int = 64, *, act_bits: int = 8,
                     freq_mhz: float = 200.0, seed: int = 1, work_dir: str | Path | None = None,
                     progress: Callable[[str], None] | None = None) -> list[TimingCalibration]:
    """Place and route a ``width``-input tree on ECP5 at each ``levels_per_stage`` and compare ratios.

    Args:
        levels: levels_per_stage values, each 1 to log2(width); the first is the reference.
        width: tree inputs, a power of two from 2 to 4096.
        act_bits: activation bits.
        freq_mhz: the clock asked of place and route, MHz (the stored figures used 200).
        seed: place-and-route seed (the stored figures used 1).
        work_dir: where the tool logs go (a folder per k); default a temporary folder.
        progress: called with one-line messages.

    Raises:
        SpecError: a bad width, level, ``act_bits``, ``freq_mhz`` or ``seed``.
        TritiumError: a tool failed, or place and route gave no fmax.
    """
    from tritium.hdl.tree import AdderTree

    levels = tuple(levels)
    check_power_of_two("width", width, lo=2, hi=4096)
    check_int("act_bits", act_bits, lo=2, hi=16)
    check_float("freq_mhz", freq_mhz, lo=1, hi=2000)
    if not levels:
        raise SpecError("levels", levels, "must name at least one levels_per_stage")
    for k in levels:  # every value checked before any tool runs
        check_int("levels_per_stage", k, lo=1, hi=width.bit_length() - 1)
    fmax: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="tritium-timing-") as tmp:
        root = Path(work_dir) if work_dir is not None else Path(tmp)
        for k in levels:
            name = f"tree{width}_k{k}"
            report = synthesize(AdderTree(width, act_bits, k), "ecp5", root / name, pnr="harness",
                                freq_mhz=freq_mhz, seed=seed, name=name, progress=progress)
            if report.fmax_mhz is None:
                raise TritiumError(f"place and route of {name} reported no fmax (see {root / name})")
            fmax[k] = float(report.fmax_mhz)
    ref = levels[0]
    base = _model_stage(width, act_bits, ref)
    return [TimingCalibration(width=width, act_bits=act_bits, levels_per_stage=k, fmax_mhz=fmax[k],
                              stored_fmax_mhz=_stored(width, act_bits, k), measured_ratio=fmax[ref] / fmax[k],
                              model_ratio=_model_stage(width, act_bits, k) / base) for k in levels]


def timing_table(rows: Iterable[TimingCalibration]) -> str:
    """A plain-text table: k, ECP5 fmax (and the stored one), measured and model stage ratios, error."""
    lines = [f"{'width':>5} {'k':>3} {'ECP5 MHz':>9} {'stored':>8} {'measured':>9} {'model':>7} {'error':>7}"]
    for r in rows:
        stored = f"{r.stored_fmax_mhz:.1f}" if r.stored_fmax_mhz is not None else "n/a"
        lines.append(f"{r.width:>5} {r.levels_per_stage:>3} {r.fmax_mhz:>9.1f} {stored:>8} {r.measured_ratio:>9.3f} "
                     f"{r.model_ratio:>7.3f} {r.error:>+7.1%}")
    return "\n".join(lines)
