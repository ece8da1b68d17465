"""GPU baselines, comparisons and reports: ``tritium gpus``, ``gpu-bench``, ``compare``, ``report``.

Thin layers over public functions; :func:`register` adds the subcommands to the
``tritium`` parser (:func:`tritium.cli.build_parser`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import time

from tritium.analysis.request import CompareRequest, ReportRequest, changed
from tritium.cliutil import ProgressBar, mapping_args, precision_args, print_json, scenario_args
from tritium.base.errors import TritiumError

__all__ = ["register"]

_DEFAULTS = CompareRequest()  # the one set of defaults (a light module: --help stays fast)
_DEFAULT_MODEL, _DEFAULT_CHIP, _DEFAULT_GPU = _DEFAULTS.model, _DEFAULTS.chip, _DEFAULTS.gpu
_REPORT_DEFAULTS = ReportRequest()


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to ``sub``."""
    p = sub.add_parser("gpus", help="list the GPU database, show one GPU, or the GPU model's calibration errors",
                       description="List the GPU database; 'show NAME' prints one GPU (or a GPU TOML file) as TOML "
                                   "with its sources; 'calibration' prints the GPU model against its measured anchors.")
    p.add_argument("action", nargs="?", choices=("list", "show", "calibration"), default="list")
    p.add_argument("name", nargs="?", help="database name, alias or GPU TOML file (for 'show')")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_gpus)

    p = sub.add_parser("gpu-bench", help="measure a model's matmuls on the local CUDA GPU into a calibration",
                       description="Time the trace's GEMM kernels with torch on the local CUDA GPU, read board "
                                   "energy from NVML, and write a calibration TOML that 'compare' and 'report' "
                                   "use with --calibration. Without a CUDA GPU it says so and exits 2.")
    p.add_argument("--model", default=_DEFAULT_MODEL, help="zoo name, HF id or config.json (default: %(default)s)")
    scenario_args(p)
    p.add_argument("--gpu", help="the database GPU this is (default: detected from the device name)")
    p.add_argument("--weights", default="bf16",
                   help="comma-separated weight modes to time: bf16, fp16, int8 (default: %(default)s)")
    p.add_argument("--out", required=True, metavar="FILE", help="calibration TOML to write")
    p.add_argument("--json", action="store_true", help="print what was measured as JSON")
    p.set_defaults(func=_cmd_gpu_bench)

    p = sub.add_parser("compare", help="the same request on a chip and on a GPU, side by side",
                       description="Trace one request, simulate it on the chip, run the GPU model on the same "
                                   "trace, and print TTFT, TPOT, tokens/s, J/token, power, die area, cost and "
                                   "gCO2e per 1M tokens side by side with their ratios.")
    _comparison_args(p)
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("report", help="write the comparison report: one HTML file and a Markdown twin",
                       description="Compare, sweep batch size and context length, draw the plots, and write "
                                   "DIR/report.html (self-contained), DIR/report.md with DIR/plots/, and the "
                                   "resolved chip, GPU and calibration beside them. With no options: BitNet "
                                   "b1.58 2B4T on edge-lpddr5 against an H100 SXM.")
    _comparison_args(p)
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the report's folder: new, empty, or an earlier report (replaced whole)")
    p.add_argument("--force", action="store_true",
                   help="replace files of the report's names in DIR that Tritium did not write")
    p.add_argument("--no-datapaths", action="store_true",
                   help="leave out the 'which datapath' section (the chip in every datapath style)")
    p.add_argument("--style-calibration", metavar="FILE",
                   help="the JSON of 'tritium hdl calibrate --styles adder_tree,lut,mac --json': synthesized units "
                        "beside the model's area in the 'which datapath' section")
    p.add_argument("--serving", action="store_true",
                   help="add 'serving at an SLO': each side's capacity under a Poisson request stream (tritium serve; "
                        "about half a minute per side)")
    p.add_argument("--slo-ttft", type=float, default=_REPORT_DEFAULTS.slo_ttft_s, metavar="S",
                   help="with --serving: p90 time-to-first-token target, s (default: %(default)s)")
    p.add_argument("--slo-tpot", type=float, default=_REPORT_DEFAULTS.slo_tpot_s, metavar="S",
                   help="with --serving: p99 time-per-output-token target, s (default: %(default)s)")
    p.set_defaults(func=_cmd_report)


def _comparison_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=_DEFAULT_MODEL, help="zoo name, HF id or config.json (default: %(default)s)")
    p.add_argument("--chip", default=_DEFAULT_CHIP, help="chip preset or TOML file (default: %(default)s)")
    p.add_argument("--gpu", default=_DEFAULT_GPU, help="GPU name (tritium gpus) or GPU TOML file (default: %(default)s)")
    scenario_args(p)
    p.add_argument("--ternarize", action="store_true", help="make every projection of an FP model ternary "
                                                             "(e.g. a ternary Llama-3-70B)")
    p.add_argument("--gpu-batch", type=int, metavar="N",
                   help="the GPU's batch (default: --batch); per-token figures stay comparable")
    usage = p.add_argument_group(
        "deployment (carbon)", "Each option sets both sides; --chip-X and --gpu-X set one side. Defaults by device "
        "class: a data-centre device (HBM or GDDR, or several chips) at PUE 1.1, 4 years, 50% busy; an edge device "
        "(one chip or card on LPDDR/DDR) at PUE 1.0, 5 years, 10% busy; region 'world' (analysis/carbon_data.toml).")
    for key, kind, what in _USAGE:
        for side in ("", "chip-", "gpu-"):
            usage.add_argument(f"--{side}{key}", type=kind, metavar="X",
                               help=f"{what}{' of the ' + side[:-1].upper() if side else ', both sides'}")
    cost = p.add_argument_group("cost")
    cost.add_argument("--volume", type=int, metavar="N", help="chips produced: spreads the NRE (mask set and "
                                                               "--nre-usd) over them as the cost per chip with NRE")
    cost.add_argument("--nre-usd", type=float, metavar="USD",
                      help="design, verification and IP NRE on top of the mask set (needs --volume; default 0)")
    p.add_argument("--weights", choices=("fp16", "bf16", "int8", "w4a16", "w2a8"),
                   help="GPU weight kernel (default: w2a8 for a ternary model, else bf16)")
    p.add_argument("--gpus", type=int, default=1, help="GPUs in tensor parallelism (default: %(default)s)")
    p.add_argument("--calibration", metavar="FILE", help="GPU calibration TOML (from tritium gpu-bench)")
    p.add_argument("--gpu-engine", choices=("vllm", "eager", "cuda-graph"),
                   help="GPU serving engine: decode launches and host time per step (default: the calibration's, "
                        "vllm; see analysis/gpu/CALIBRATION.md)")
    precision_args(p)
    mapping_args(p)


_USAGE = (("region", str, "grid region for carbon: 'world', ISO code or country"),
          ("pue", float, "PUE (facility over IT energy, >= 1)"),
          ("lifetime-years", float, "service life that spreads the embodied carbon"),
          ("utilization", float, "share of the lifetime spent serving, (0, 1]"))


def _compare_request(args: argparse.Namespace) -> CompareRequest:
    """The :class:`CompareRequest` of ``compare``'s or ``report``'s options, built once."""
    def side(prefix: str) -> dict | None:
        given = {k.replace("-", "_"): getattr(args, f"{prefix}{k.replace('-', '_')}") for k, _, _ in _USAGE
                 if getattr(args, f"{prefix}{k.replace('-', '_')}") is not None}
        return given or None

    return CompareRequest(
        model=_model(args), chip=args.chip, gpu=args.gpu, batch=args.batch, prefill=args.prefill, decode=args.decode,
        region=args.region, pue=args.pue, lifetime_years=args.lifetime_years, utilization=args.utilization,
        chip_usage=side("chip_"), gpu_usage=side("gpu_"), gpu_batch=args.gpu_batch, volume=args.volume,
        nre_usd=args.nre_usd, weights=args.weights, gpus=args.gpus, calibration=_engine_calibration(args),
        mapping_objective=args.mapping_objective, lm_head_dtype=args.lm_head_dtype, kv_dtype=args.kv_dtype)


def _model(args: argparse.Namespace):
    """The model to compare: the name or file given, or its ternarized spec with --ternarize."""
    if not args.ternarize:
        return args.model
    from tritium.workloads import load_model

    return load_model(args.model).ternarized()


def _engine_calibration(args: argparse.Namespace):
    """The calibration (file or default) with ``--gpu-engine`` applied; the file path when no engine is asked."""
    if args.gpu_engine is None:
        return args.calibration
    from tritium.analysis.gpu import DEFAULT_CALIBRATION, load_calibration, with_engine

    cal = load_calibration(args.calibration) if args.calibration else DEFAULT_CALIBRATION
    return with_engine(cal, args.gpu_engine).with_(name=f"{cal.name}.{args.gpu_engine}")


def _cmd_gpus(args: argparse.Namespace) -> int:
    from tritium.analysis.gpu import gpu_to_toml, list_gpus, load_gpu
    from tritium.base.specio import to_mapping

    if args.action == "calibration":
        from tritium.analysis.gpu.calibrate import calibration_report, report_markdown

        report = calibration_report()
        if args.json:
            print_json(report.to_dict("records"))
        else:
            print(report_markdown(report), end="")
        return 0
    if args.action == "show":
        if not args.name:
            raise TritiumError("gpus show: name one (see 'tritium gpus')")
        gpu = load_gpu(args.name)
        if args.json:
            print_json(to_mapping(gpu))
        else:
            print(gpu_to_toml(gpu), end="")
        return 0
    gpus = [load_gpu(n) for n in list_gpus()]
    if args.json:
        print_json([to_mapping(g) for g in gpus])
        return 0
    print(f"{'name':<22} {'BF16 TF':>8} {'INT8 TOPS':>9} {'mem GB/s':>9} {'mem':>11} {'TDP W':>6} "
          f"{'die mm2':>8} {'node':<11} {'price $':>8}")
    for g in gpus:
        die = f"{g.die_mm2:g}" if g.die_mm2 is not None else "n/p"
        price = "n/p" if g.price_usd is None else f"{g.price_usd:,.0f}" + ("~" if g.price_is_estimate else "")
        print(f"{g.name:<22} {g.bf16_tflops:>8g} {g.int8_tops:>9g} {g.memory_bandwidth_gb_s:>9g} "
              f"{g.mem_gb:>4g} {g.memory_type:<6} {g.tdp_w:>6g} {die:>8} {g.node:<11} {price:>8}")
    print("n/p: not published; ~: street estimate. Sources: 'tritium gpus show NAME'.")
    return 0


def _cmd_gpu_bench(args: argparse.Namespace) -> int:
    from tritium.analysis.gpu import save_calibration
    from tritium.analysis.gpu.measure import TorchCuda, gpu_bench
    from tritium.workloads import Scenario, build_trace

    weights = tuple(w.strip() for w in args.weights.split(",") if w.strip())
    trace = build_trace(args.model, Scenario(batch=args.batch, prefill=args.prefill, decode=args.decode))
    bench = TorchCuda()  # no CUDA: NoCudaError, one error line, exit 2
    with ProgressBar("measuring", unit="kernel") as progress:
        report = gpu_bench(trace, measurement=bench, gpu=args.gpu, weights=weights, progress=progress)
    save_calibration(report.calibration, args.out)
    if args.json:
        print_json({"gpu": report.gpu, "device": report.device_name, "software": report.software,
                    "gemm_tflops": report.gemm_tflops, "gemm_w": report.gemm_w, "copy_tbps": report.copy_tbps,
                    "copy_w": report.copy_w, "idle_w": report.idle_w, "shapes": report.shapes.to_dict("records"),
                    "notes": list(report.notes), "calibration": args.out})
        return 0
    print(f"{report.device_name} ({report.software}), as database GPU {report.gpu}")
    watts = (lambda w: "power not read" if w is None else f"{w:.0f} W")
    print(f"  BF16 8192^3 GEMM   {report.gemm_tflops:9.1f} TFLOP/s  ({watts(report.gemm_w)})")
    print(f"  device copy        {report.copy_tbps:9.3f} TB/s     ({watts(report.copy_w)})")
    print(f"  idle               {watts(report.idle_w)}")
    for s in report.shapes.itertuples(index=False):
        print(f"  {s.phase:<8} {s.weights:<5} {s.m:>6} x {s.k:>6} x {s.n:>6}  {s.seconds * 1e6:10.1f} us "
              f"(model {s.model_seconds * 1e6:.1f} us)  {s.tflops:8.2f} TFLOP/s")
    for note in report.notes:
        print(f"  note: {note}")
    print(f"calibration written to {args.out}; use it with --calibration {args.out}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from tritium.analysis.compare import run_comparison

    c = run_comparison(_compare_request(args))
    if args.json:
        print_json(c.as_dict())
        return 0
    s = c.scenario
    for warning in c.warnings:  # first: they undermine every figure below
        print(f"warning: {warning}")
    gpu_batch = "" if c.gpu_batch == s["batch"] else f" (GPU batch {c.gpu_batch})"
    print(f"{c.model}: batch {s['batch']}{gpu_batch}, prefill {s['prefill']}, decode {s['decode']}")
    for label, u in (("chip", c.chip_usage), ("GPU", c.gpu_usage)):
        print(f"  carbon, {label}: {u.device_class} device on the '{u.region}' grid at PUE {u.pue:g}, embodied "
              f"over {u.lifetime_years:g} years at {100 * u.utilization:g}% utilization")
    table = c.table()
    left, right = c.chip_label, c.gpu_label
    width = max(14, len(left), len(right))
    print(f"  {'':<34} {left:>{width}} {right:>{width}} {'GPU / chip':>11}  better")
    for r in table.itertuples(index=False):
        ratio = "" if not math.isfinite(r.gpu_over_chip) else f"{r.gpu_over_chip:,.3g}x"
        name = f"{r.metric.strip()}{f' ({r.unit})' if r.unit and r.unit != r.metric else ''}"
        indent = "  " if r.metric.startswith(" ") else ""
        print(f"  {indent + name:<34} {_cell(r.chip):>{width}} {_cell(r.gpu):>{width}} {ratio:>11}  {r.better}")
    for metric, why in c.missing().items():
        row = table[table.metric == metric]
        if len(row) and not (math.isfinite(row.chip.iloc[0]) and math.isfinite(row.gpu.iloc[0])):
            print(f"  n/a: {metric.strip()}: {why}")
    print(f"  note: GPU model calibration '{c.calibration.name}'; cost to make = die + package + DRAM on both sides "
          "(no NRE); the GPU's price to buy is a list or street price")
    return 0


def _cell(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if value.is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"


def _cmd_report(args: argparse.Namespace) -> int:
    from tritium.analysis.report import run_report
    from tritium.analysis.report_render import REPORT_ENTRIES, write_report
    from tritium.base.fileio import check_replaceable

    check_replaceable(args.out, REPORT_ENTRIES, force=args.force)  # before minutes of work, not after
    request = ReportRequest(_compare_request(args), datapaths=not args.no_datapaths,
                            style_calibration=args.style_calibration, serving=args.serving,
                            slo_ttft_s=args.slo_ttft, slo_tpot_s=args.slo_tpot)
    request = dataclasses.replace(request, command=_report_command(args, request))
    start = time.perf_counter()
    with ProgressBar("comparing", unit="run") as progress:
        report = run_report(request, progress=progress)
    paths = write_report(report, args.out, force=args.force)
    seconds = time.perf_counter() - start
    print(f"report written to {args.out}: report.html (self-contained), report.md and "
          f"{sum(p.parent.name == 'plots' for p in paths)} plot files in plots/, chip.toml, gpu.toml, "
          f"calibration.toml, comparison.json ({seconds:.1f} s)")
    return 0


def _report_command(args: argparse.Namespace, request: ReportRequest) -> str:
    """The command that makes this report again: every option whose value differs from its default."""
    words = ["tritium", "report"]
    given = changed(request.compare)
    for side in ("chip_usage", "gpu_usage"):  # --chip-X and --gpu-X
        for key, value in (given.pop(side, None) or {}).items():
            given[f"{side[:-len('usage')]}{key}"] = value
    given.pop("calibration", None)  # the file and --gpu-engine, as given
    given |= {k: getattr(args, k) for k in ("calibration", "gpu_engine") if getattr(args, k) is not None}
    if args.ternarize:  # the model as named (the request holds its ternarized spec)
        given.pop("model", None)
        if args.model != _DEFAULT_MODEL:
            given = {"model": args.model, **given}
    for key, value in given.items():
        words += [f"--{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
    if args.ternarize:
        words.append("--ternarize")
    if args.no_datapaths:
        words.append("--no-datapaths")
    if args.serving:
        words += ["--serving", "--slo-ttft", f"{args.slo_ttft:g}", "--slo-tpot", f"{args.slo_tpot:g}"]
    if args.style_calibration:
        words += ["--style-calibration", str(args.style_calibration)]
    return shlex.join(words + ["--out", str(args.out)])
