"""``tritium serve`` and ``tritium serve-bench``: request streams on a chip or GPUs (docs/serving.md).

A thin layer over :func:`tritium.analysis.serving.serve` and :func:`~tritium.analysis.serving.find_capacity`;
:func:`register` adds the subcommands to the ``tritium`` parser.
"""

from __future__ import annotations

import argparse
import os
import time

from tritium.cliutil import ProgressBar, mapping_args, precision_args, print_json

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``serve`` and ``serve-bench`` to ``sub``."""
    p = sub.add_parser("serve", help="serve a request stream: continuous batching, KV capacity, latency, goodput",
                       description="Simulate a serving engine (iteration-level continuous batching, paged KV "
                                   "cache, preemption by recompute) on a chip or GPUs under a request stream, "
                                   "and print TTFT/TPOT/end-to-end percentiles, throughput, goodput at the SLOs "
                                   "and energy. --find-capacity searches the highest rate meeting the SLOs.")
    p.add_argument("--model", default="bitnet-b1.58-2b-4t",
                   help="zoo name, HF id or config.json (default: %(default)s)")
    p.add_argument("--chip", help="chip preset or TOML file")
    p.add_argument("--gpu", help="GPU name (tritium gpus) or GPU TOML file")
    p.add_argument("--gpus", type=int, default=1, help="GPUs in tensor parallelism (default: %(default)s)")
    p.add_argument("--gpu-weights", choices=("fp16", "bf16", "int8", "w4a16", "w2a8"),
                   help="GPU weight kernel (default: w2a8 for a ternary model, else bf16)")
    p.add_argument("--gpu-engine", choices=("vllm", "eager", "cuda-graph"), help="GPU serving engine")
    p.add_argument("--arrivals", choices=("poisson", "gamma"), default="poisson",
                   help="arrival process (default: %(default)s)")
    p.add_argument("--rate", type=float, help="requests per second (scales a --trace's timestamps)")
    p.add_argument("--cv", type=float, default=1.0, help="gamma arrivals' coefficient of variation (default: 1)")
    p.add_argument("--trace", metavar="FILE.csv", help="replay a CSV trace (Azure or BurstGPT columns)")
    p.add_argument("--requests", type=int, help="requests to serve (default 1000; a trace: all its rows)")
    p.add_argument("--duration", type=float, help="serve the requests arriving within this many seconds")
    p.add_argument("--prompt", default="lognormal:512:0.5",
                   help="prompt lengths: N, uniform:A:B, lognormal:MEAN[:CV] or trace (default: %(default)s)")
    p.add_argument("--output", default="lognormal:128:0.5",
                   help="output lengths, as --prompt (default: %(default)s)")
    p.add_argument("--slo-ttft", type=float, default=2.0, help="p90 time-to-first-token target, s (default: 2)")
    p.add_argument("--slo-tpot", type=float, default=0.2, help="p99 time-per-output-token target, s (default: 0.2)")
    p.add_argument("--max-batch", type=int, default=64, help="most running sequences (default: %(default)s)")
    p.add_argument("--max-batched-tokens", type=int, default=4096,
                   help="most tokens per iteration (default: %(default)s)")
    p.add_argument("--chunked-prefill", type=int, metavar="T", help="run prompts in chunks of at most T tokens")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--find-capacity", action="store_true", help="search the highest rate meeting both SLOs")
    p.add_argument("--out", metavar="DIR", help="write requests.parquet, summary.json, series.csv and plots here")
    p.add_argument("--force", action="store_true", help="overwrite files in DIR that Tritium did not write")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    precision_args(p)
    mapping_args(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("serve-bench", help="time tritium serve: 10,000 requests and a capacity search",
                       description="Time 10,000 Poisson requests of a model on a chip (lognormal lengths around "
                                   "512 and 128) and a --find-capacity search; prints figures (no pass/fail).")
    p.add_argument("--model", default="bitnet-b1.58-2b-4t", help="(default: %(default)s)")
    p.add_argument("--chip", default="edge-lpddr5", help="(default: %(default)s)")
    p.add_argument("--requests", type=int, default=10_000, help="(default: %(default)s)")
    p.add_argument("--rate", type=float, default=0.5, help="requests per second (default: %(default)s)")
    p.add_argument("--capacity-requests", type=int, default=500,
                   help="requests per run of the capacity search (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_bench)


def _costs(args):
    from tritium.analysis.serving import serving_costs

    return serving_costs(args.model, chip=args.chip, gpu=args.gpu, gpus=args.gpus, gpu_weights=args.gpu_weights,
                         gpu_engine=args.gpu_engine, mapping_objective=args.mapping_objective,
                         lm_head_dtype=args.lm_head_dtype, kv_dtype=args.kv_dtype)


def _cmd_serve(args: argparse.Namespace) -> int:
    from tritium.analysis.serving import ServeConfig, find_capacity, rate_sweep, serve
    from tritium.analysis.serving.results import write_outputs
    from tritium.base.errors import SpecError

    config = ServeConfig(max_batch=args.max_batch, max_batched_tokens=args.max_batched_tokens,
                         chunked_prefill=args.chunked_prefill, slo_ttft_s=args.slo_ttft, slo_tpot_s=args.slo_tpot)
    if args.find_capacity and (args.trace or args.rate is not None):
        raise SpecError("--find-capacity", "with --rate/--trace", "no --rate or --trace: it picks the rates itself")
    if args.out:  # refuse before any work, not after it
        from pathlib import Path

        from tritium.analysis.serving.results import output_names
        from tritium.base.fileio import check_overwrite

        check_overwrite([Path(args.out) / n for n in output_names(args.find_capacity or not args.trace)],
                        force=args.force)
    costs = _costs(args)
    stream = dict(arrivals=args.arrivals, cv=args.cv, prompt=args.prompt, output=args.output, seed=args.seed)
    sweep = None
    if args.find_capacity:
        with ProgressBar("capacity search", unit="run") as bar:
            cap = find_capacity(costs=costs, n_requests=args.requests or 500, config=config, progress=bar, **stream)
        result = cap.result
        sweep = cap.probes
        summary = dict(result.summary) if result is not None else {}
        summary.update(cap.summary())
    else:
        with ProgressBar("serving", unit="req") as bar:
            result = serve(costs=costs, rate=args.rate, trace=args.trace, n_requests=args.requests,
                           duration_s=args.duration, config=config, progress=bar, **stream)
        summary = result.summary
        if args.out and not args.trace:
            rate = args.rate
            with ProgressBar("rate sweep", unit="run") as bar:
                sweep = rate_sweep(costs, [rate * f for f in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)],
                                   n_requests=min(args.requests or 1000, 500), config=config, progress=bar, **stream)
    if args.out and result is not None:
        write_outputs(result, args.out, sweep=sweep, force=args.force)
    if args.json:
        print_json(summary)
        return 0
    _print(summary, args)
    if args.out:
        print(f"requests.parquet, summary.json, series.csv and plots written to {args.out}")
    return 0


def _ms(x: float) -> str:
    return f"{x * 1e3:,.1f}"


def _print(s: dict, args) -> None:
    if args.find_capacity:
        print(f"capacity at p90 TTFT <= {args.slo_ttft:g} s and p99 TPOT <= {args.slo_tpot:g} s: "
              f"{s['capacity_rps']:.4g} requests/s (bound {s['upper_bound_rps']:.4g})")
        if not s.get("ttft_s"):
            return
    print(f"{s['model']} on {s['device_name']}: {s['source']}")
    print(f"  requests {s['requests']:,} (rejected {s['rejected']}, preemptions {s['preemptions']}), "
          f"{s['iterations']:,} iterations over {s['duration_s']:,.1f} s simulated")
    print(f"  {'':<22}{'p50':>10}{'p90':>10}{'p99':>10}  (ms)")
    for key, name in (("ttft_s", "time to first token"), ("tpot_s", "time per output token"),
                      ("e2e_s", "end to end")):
        q = s[key]
        print(f"  {name:<22}{_ms(q['p50']):>10}{_ms(q['p90']):>10}{_ms(q['p99']):>10}")
    print(f"  throughput {s['throughput_rps']:.4g} requests/s, {s['throughput_tokens_per_s']:,.1f} tokens/s "
          f"(batch-limited peak {s['peak_tokens_per_s']:,.1f}); goodput {s['goodput_rps']:.4g} requests/s "
          f"({s['slo_attainment']:.1%} meet both SLOs)")
    print(f"  energy {s['joules_per_token'] * 1e3:.2f} mJ/token, {s['joules_per_request']:.3g} J/request, "
          f"{s['average_power_w']:.3g} W average (idle {s['idle_energy_j'] / s['energy_j']:.1%} of it)")
    e = s["bucket_error"]
    print(f"  iteration-cost buckets vs full model at {e['checked']} iterations: max {e['max_time_error']:.2%} time, "
          f"{e['max_energy_error']:.2%} energy")
    for w in s.get("warnings", []):
        print(f"  warning: {w}")


def _cmd_bench(args: argparse.Namespace) -> int:
    from tritium.analysis.serving import IterationCosts, ServeConfig, find_capacity, serve

    def cold():  # a new cost model with empty caches, so each figure includes its model runs
        from tritium.analysis.serving.device import chip_device
        from tritium.workloads import load_model

        return IterationCosts(chip_device(args.chip, load_model(args.model)))

    start, cpu = time.perf_counter(), time.process_time()
    r = serve(costs=cold(), rate=args.rate, n_requests=args.requests, seed=0)
    serve_s, serve_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    cap = find_capacity(costs=cold(), n_requests=args.capacity_requests, config=ServeConfig())
    cap_s, cap_cpu = time.perf_counter() - start, time.process_time() - cpu
    load = os.getloadavg()[0]
    figures = {"requests": args.requests, "serve_wall_s": serve_s, "serve_cpu_s": serve_cpu,
               "find_capacity_cpu_s": cap_cpu, "load_average": load, "simulated_s": r.summary["duration_s"],
               "simulated_per_wall": r.summary["duration_s"] / serve_s, "iterations": r.summary["iterations"],
               "bucket_max_time_error": r.summary["bucket_error"]["max_time_error"],
               "find_capacity_wall_s": cap_s, "capacity_rps": cap.capacity_rps, "capacity_runs": len(cap.probes)}
    if args.json:
        print_json(figures)
        return 0
    print(f"serve: {args.requests:,} Poisson requests of {args.model} on {args.chip} at {args.rate:g}/s in "
          f"{serve_s:.1f} s wall, {serve_cpu:.1f} s CPU ({figures['simulated_per_wall']:,.0f}x simulated time, "
          f"{figures['iterations']:,} iterations, bucket error {figures['bucket_max_time_error']:.2%})")
    print(f"find-capacity: {cap.capacity_rps:.4g} requests/s in {cap_s:.1f} s wall, {cap_cpu:.1f} s CPU "
          f"({len(cap.probes)} runs of {args.capacity_requests})")
    print(f"(load average {load:.1f}: wall times include other processes' share of the CPUs)")
    return 0
