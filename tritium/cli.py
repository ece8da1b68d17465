"""The ``tritium`` command. Each subcommand is a thin layer over a public function.

Errors in what the user gave (files, names, numbers) print one ``error:`` line and
exit with status 2; argparse usage errors exit 2 as well.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import tritium
from tritium import cli_analysis, cli_dse, cli_hdl, cli_scaling, cli_serve
from tritium.cliutil import (
    USER_ERRORS, ProgressBar, mapping_args, one_line, precision_args, print_json, scenario_args, user_error,
)
from tritium.base.errors import TritiumError
from tritium.base.fileio import check_overwrite, record_written

__all__ = ["main", "build_parser"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status.

    What a user can cause prints one ``error:`` line and returns 2: a :class:`TritiumError`,
    and the few built-in errors that only come from the user's files, names and numbers
    (:func:`tritium.cliutil.user_error`: a file that cannot be read or written, a number
    too large, nesting too deep, a corrupt results database). Anything else is a bug
    and keeps its traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except TritiumError as err:
        print(f"error: {one_line(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`tritium ... | head`): stop quietly, as Unix tools do.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except USER_ERRORS as err:
        message = user_error(err)
        if message is None:
            raise
        print(f"error: {one_line(message)}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tritium",
        description="Simulate and explore ternary-weight (BitNet b1.58) LLM accelerator chips.",
    )
    parser.add_argument("--version", action="version", version=f"tritium {tritium.__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("models", help="list the built-in models, or show one",
                       description="List the model zoo, or print one model's spec as TOML.")
    p.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    p.add_argument("name", nargs="?", help="zoo name, HF id or config.json path (for 'show')")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("chips", help="list the built-in chip presets, or show one",
                       description="List the chip presets, or print one chip as TOML (a preset name or a TOML file).")
    p.add_argument("action", nargs="?", choices=("list", "show"), default="list")
    p.add_argument("name", nargs="?", help="preset name or chip TOML file (for 'show')")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_chips)

    p = sub.add_parser("trace", help="trace a model's request and summarise it",
                       description="Generate the ordered ops of one request (prefill, then decode steps) "
                                   "and print a summary; --out saves the trace table.")
    p.add_argument("model", nargs="?", default="bitnet-b1.58-2b-4t",
                   help="zoo name, HF id, config.json (or its folder), or a SCALE-Sim GEMM topology .csv "
                        "(default: %(default)s)")
    scenario_args(p)
    p.add_argument("--checkpoint", metavar="PATH",
                   help="local checkpoint (safetensors file/folder, sharded index, GGUF) for real weight statistics")
    p.add_argument("--scale-convention", choices=("autobitlinear", "bitlinear"),
                   help="how packed checkpoints store weight_scale (default: from config.json)")
    p.add_argument("--zero-fraction", type=float, metavar="F",
                   help="zero fraction of modelled ternary weights (default: absmean of Gaussian, 0.310)")
    p.add_argument("--weight-dist", choices=("gaussian", "laplace", "uniform"), default="gaussian",
                   help="latent weight distribution for modelled statistics (default: %(default)s)")
    p.add_argument("--ternarize", action="store_true", help="make every projection of an FP model ternary")
    precision_args(p)
    _act_zero_arg(p)
    p.add_argument("--out", metavar="FILE", help="write the trace table (.parquet or .csv)")
    p.add_argument("--force", action="store_true", help="overwrite FILE even if Tritium did not write it")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_trace)

    p = sub.add_parser("simulate", help="simulate a model's request on a chip",
                       description="Trace one request and simulate it on a chip: time to first token, time "
                                   "per output token, tokens/s, J/token, power, area. --out writes the per-op "
                                   "table, the totals and the resolved chip.")
    p.add_argument("--model", default="bitnet-b1.58-2b-4t",
                   help="zoo name, HF id, config.json (or its folder) or SCALE-Sim .csv (default: %(default)s)")
    p.add_argument("--chip", default="edge-lpddr5", help="preset name or chip TOML file (default: %(default)s)")
    scenario_args(p)
    p.add_argument("--checkpoint", metavar="PATH", help="local checkpoint for real weight statistics")
    p.add_argument("--ternarize", action="store_true", help="make every projection of an FP model ternary")
    p.add_argument("--scaling", default="bitnet", choices=("bitnet", "stillmaker"),
                   help="technology scaling from 45 nm (default: %(default)s)")
    precision_args(p)
    _act_zero_arg(p)
    mapping_args(p)
    p.add_argument("--out", metavar="DIR", help="write ops.parquet, totals.json and chip.toml here")
    p.add_argument("--force", action="store_true",
                   help="overwrite files of those names in DIR that Tritium did not write (your own chip.toml)")
    p.add_argument("--json", action="store_true", help="print the totals as JSON")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("bench", help="run the speed benchmarks and print figures",
                       description="Time the trace generator, checkpoint header reading and weight "
                                   "statistics throughput; prints figures (no pass/fail).")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_bench)

    for module in (cli_hdl, cli_analysis, cli_dse, cli_scaling, cli_serve):
        module.register(sub)
    return parser


def _show(args: argparse.Namespace, what: str, load, to_toml=None) -> None:
    """``models show`` / ``chips show``: one description as TOML, or JSON with --json."""
    from tritium.base.specio import dumps_toml, to_mapping

    if not args.name:
        raise TritiumError(f"{what} show: name one (see 'tritium {what}')")
    obj = load(args.name)
    if args.json:
        print_json(to_mapping(obj))
    else:
        print((to_toml or dumps_toml)(obj), end="")


def _cmd_models(args: argparse.Namespace) -> int:
    from tritium.workloads import load_model, zoo_model, zoo_names

    if args.action == "show":
        _show(args, "models", load_model)
        return 0
    specs = [zoo_model(n) for n in zoo_names()]
    if args.json:
        print_json([{"name": s.name, "hf_id": s.hf_id, "params": s.params, "ternary": s.is_ternary,
                      "layers": s.num_layers, "hidden": s.hidden_size, "source": s.source} for s in specs])
        return 0
    print(f"{'name':<22} {'params':>8} {'weights':<8} {'layers':>6} {'hidden':>6} {'heads':>7}  hf id")
    for s in specs:
        kind = "ternary" if s.is_ternary else s.linear_dtype
        print(f"{s.name:<22} {s.params / 1e9:>7.2f}B {kind:<8} {s.num_layers:>6} {s.hidden_size:>6} "
              f"{s.num_heads:>3}/{s.num_kv_heads:<3}  {s.hf_id}")
    return 0


def _cmd_chips(args: argparse.Namespace) -> int:
    from tritium.sim import chip_to_toml, list_presets, load_chip
    from tritium.base.specio import to_mapping

    if args.action == "show":
        _show(args, "chips", load_chip, chip_to_toml)
        return 0
    chips = [load_chip(n) for n in list_presets()]
    if args.json:
        print_json([to_mapping(c) for c in chips])
        return 0
    print(f"{'name':<18} {'node':>5} {'MHz':>5} {'cores x chips':>13} {'TLU rows x width':>16} {'SRAM KiB':>9}  DRAM")
    for c in chips:
        sram = c.sram.total_kib
        print(f"{c.name:<18} {c.node_nm:>3}nm {c.clock_mhz:>5g} {c.cores:>7} x {c.chips:<3} {c.tlu.rows:>8} x {c.tlu.width:<5} "
              f"{sram:>9g}  {c.dram.type} x{c.dram.channels}, {c.dram.bandwidth_gb_s:g} GB/s")
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from tritium.workloads import Scenario, WeightModel, build_trace, save_trace, summarize

    scenario = Scenario(batch=args.batch, prefill=args.prefill, decode=args.decode)
    weight_model = WeightModel(distribution=args.weight_dist, zero_fraction=args.zero_fraction)
    if args.out:
        suffix = Path(args.out).suffix.lower()
        if suffix not in (".parquet", ".csv"):
            raise TritiumError(f"--out {args.out}: unknown format {suffix or '(none)'!r}; use .parquet or .csv")
        check_overwrite([args.out], force=args.force)  # before the work: never the user's own file
    with ProgressBar("reading checkpoint") as progress:
        trace = build_trace(args.model, scenario, checkpoint=args.checkpoint, weight_model=weight_model,
                            act_sparsity=_act_zero(args.act_zero),
                            ternarize=args.ternarize, scale_convention=args.scale_convention,
                            lm_head_dtype=args.lm_head_dtype, kv_dtype=args.kv_dtype,
                            progress=progress if args.checkpoint else None)
    summary = summarize(trace)
    if args.out:
        save_trace(trace, args.out)
        record_written([args.out])
    if args.json:
        print_json(summary.to_dict())
    else:
        _print_summary(summary, trace.table)
        if args.out:
            print(f"trace written to {args.out} ({len(trace.table)} rows)")
    if summary.context_exceeded:
        print(f"note: prefill + decode = {summary.prefill + summary.decode} tokens is longer than the model's "
              "trained context", file=sys.stderr)
    return 0


def _act_zero_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--act-zero", action="append", metavar="PROJ=FRAC", default=[],
                   help="fraction of a projection's INT8 inputs that are exactly zero, e.g. down_proj=0.6 "
                        "(repeatable; default: the model's activation function's, docs/datapaths.md)")


def _act_zero(items: list[str]) -> dict[str, float] | None:
    """``["down_proj=0.6", ...]`` as ``{"down_proj": 0.6}``; None when none given."""
    out: dict[str, float] = {}
    for item in items:
        proj, sep, frac = item.partition("=")
        try:
            value = float(frac)
        except ValueError:
            value = None
        if not sep or not proj.strip() or value is None:
            raise TritiumError(f"--act-zero {item!r}: expected PROJ=FRAC, e.g. down_proj=0.6")
        out[proj.strip()] = value
    return out or None


def _print_summary(s, table) -> None:
    print(f"model       {s.model}")
    print(f"scenario    batch {s.batch}, prefill {s.prefill}, decode {s.decode}")
    print(f"ops         {s.rows} rows, {s.op_executions} executions, {s.distinct_ops} distinct signatures")
    print("GMACs by kind")
    for kind, g in s.gmacs_by_kind.items():
        print(f"  {kind:<16} {g:>14,.2f}")
    print(f"  {'total':<16} {s.gmacs_total:>14,.2f}")
    print(f"weights     ternary {s.ternary_weight_bytes / 2**20:,.1f} MiB, other {s.other_weight_bytes / 2**20:,.1f} MiB "
          f"(read over the request: {s.weight_bytes_read / 2**30:,.2f} GiB)")
    print(f"KV cache    {s.kv_cache_bytes / 2**20:,.1f} MiB at the end")
    if s.zero_fraction == s.zero_fraction:
        first = table[table.block == table.block.min()]
        ternary = first[first.kind == "ternary_linear"]
        measured = int(ternary.stats_source.str.startswith("checkpoint").sum())
        print(f"zeros       {s.zero_fraction:.2%} of ternary weights ({s.weight_stats}; "
              f"{measured} of {len(ternary)} ternary matrices measured)")


_SIMULATE_FILES = ("ops.parquet", "totals.json", "chip.toml")
"""What ``simulate --out DIR`` writes (:func:`tritium.sim.write_result`)."""


def _cmd_simulate(args: argparse.Namespace) -> int:
    from tritium.sim import load_chip, simulate, write_result
    from tritium.workloads import Scenario, build_trace

    chip = load_chip(args.chip)
    scenario = Scenario(batch=args.batch, prefill=args.prefill, decode=args.decode)
    outputs = [Path(args.out) / name for name in _SIMULATE_FILES] if args.out else []
    check_overwrite(outputs, force=args.force)  # before the work, and never the user's own chip.toml
    with ProgressBar("reading checkpoint") as progress:
        trace = build_trace(args.model, scenario, checkpoint=args.checkpoint, ternarize=args.ternarize,
                            act_sparsity=_act_zero(args.act_zero),
                            lm_head_dtype=args.lm_head_dtype, kv_dtype=args.kv_dtype,
                            progress=progress if args.checkpoint else None)
    with ProgressBar("simulating", unit="block") as progress:
        result = simulate(chip, trace, scaling=args.scaling, mapping_objective=args.mapping_objective,
                          progress=progress)
    if args.out:
        write_result(result, chip, args.out)
        record_written(outputs)
    if args.json:
        print_json(result.summary())
    else:
        for warning in result.warnings:
            print(f"warning: {warning}")
        _print_result(result)
        if args.out:
            print(f"per-op table, totals and chip written to {args.out}")
    return 0


def _ratio(value: float, arithmetic_j: float) -> str:
    """A headline ratio, or why there is none (no ternary linears: no FP16 arithmetic they replace)."""
    if arithmetic_j <= 0:
        return "n/a (no ternary linears)"
    return f"{value:.3g}x"


def _print_result(r) -> None:
    t = r.totals
    print(f"{r.model} on {r.chip}: batch {r.scenario['batch']}, prefill {r.scenario['prefill']}, "
          f"decode {r.scenario['decode']}")
    def shown(value: float, scale: float, spec: str, unit: str = "") -> str:
        # per-token figures do not exist for a request without decode (a SCALE-Sim topology)
        return f"{value * scale:{spec}}{unit}" if math.isfinite(value) else "n/a (no decode)"

    rows = [
        ("time to first token", shown(t["time_to_first_token_s"], 1e3, ",.3f", " ms")),
        ("time per output token", shown(t["time_per_output_token_s"], 1e3, ",.3f", " ms")),
        ("tokens/s (decode)", shown(t["tokens_per_s"], 1, ",.1f")),
        ("energy per output token", shown(t["joules_per_token"], 1e3, ",.3f", " mJ")),
        ("whole request", f"{t['total_s']:,.4g} s, {t['energy_j']:,.4g} J"),
        ("average power", f"{t['average_power_w']:,.3f} W"),
        ("die area", f"{r.area_mm2['total']:,.2f} mm^2"),
    ]
    for name, value in rows:
        print(f"  {name:<26} {value:>16}")
    total = t.energy_j
    print("  energy by component       " + ", ".join(f"{k.replace('_', ' ')} {v / total:.1%}"
                                                  for k, v in t.energy.by_component().items() if v > 0))
    if t.arithmetic is None:
        return _print_notes(r)
    tlu = t["tlu_arithmetic_ratio"]
    tlu = f"{tlu:.1f}x" if math.isfinite(tlu) else "n/a (no ternary linears)"
    ops = t["tlu_with_operands_ratio"]
    ops = f"{ops:.2f}x" if math.isfinite(ops) else "n/a"
    print(f"  seed's arithmetic ratio   {t['seed_arithmetic_ratio']:.1f}x (FP16 MAC / INT8 add); "
          f"TLU only {tlu}; with its SRAM operand reads {ops}; end to end "
          f"{_ratio(t['end_to_end_ratio'], t['fp16_matmul_arithmetic_j'])}")
    _print_notes(r)


def _print_notes(r) -> None:
    for note in r.notes:
        print(f"  note: {note}")


def _cmd_bench(args: argparse.Namespace) -> int:
    from tritium.speed_bench import run_benchmarks

    figures = run_benchmarks(progress=None if args.json else print)
    if args.json:
        print_json([f.to_dict() for f in figures])
    return 0


if __name__ == "__main__":
    sys.exit(main())
