"""Design-space exploration: ``tritium sweep``, ``pareto``, ``pick``, ``sweep-plot``, ``sweep-bench``.

Thin layers over :mod:`tritium.analysis.dse`; :func:`register` adds the subcommands to the
``tritium`` parser (:func:`tritium.cli.build_parser`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from tritium.cliutil import ProgressBar, print_json
from tritium.base.errors import SpecError

__all__ = ["register"]

_OBJECTIVES_HELP = "2 or 3 comma-separated metrics (default: the space's objectives)"


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to ``sub``."""
    from tritium.analysis.dse.pareto import PICK_LIMITS
    from tritium.analysis.dse.space import list_spaces
    from tritium.analysis.dse.space_record import METRICS, SEARCH_STRATEGIES

    metrics = ", ".join(METRICS)
    p = sub.add_parser("sweep", help="evaluate a design space of chips",
                       description="Simulate every chip a space file asks for (grid, random or guided search) "
                                   "on local worker processes or a Dask cluster, writing each point to "
                                   "DIR/results.sqlite as it finishes. A killed sweep continues with --resume.")
    p.add_argument("space", metavar="SPACE", help="a design space TOML file, or a built-in space: "
                   f"{', '.join(list_spaces())} (analysis/dse/spaces/)")
    p.add_argument("--out", required=True, metavar="DIR", help="results folder (new, empty, or the sweep to resume)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="local worker processes (default: the CPUs available; 0: in this process)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="evaluate on the workers of this Dask scheduler")
    p.add_argument("--resume", action="store_true", help="continue the sweep in DIR; stored points are not recomputed")
    p.add_argument("--force", action="store_true",
                   help="overwrite a space.toml or base.toml in DIR that Tritium did not write")
    p.add_argument("--strategy", choices=SEARCH_STRATEGIES, help="override the space's [search] strategy")
    p.add_argument("--samples", type=int, metavar="N", help="override [search] samples (random: points; guided: "
                                                           "initial sample)")
    p.add_argument("--seed", type=int, metavar="N", help="override [search] seed")
    p.add_argument("--plots", action="store_true", help="also write the standard plots into DIR/plots")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("pareto", help="print the Pareto front of a sweep",
                       description=f"The non-dominated chips of a sweep for 2 or 3 objectives ({metrics}); "
                                   "tokens/s is maximised, the others minimised. Each workload has its own front.")
    p.add_argument("dir", metavar="DIR", help="a sweep's results folder")
    p.add_argument("--objectives", metavar="A,B[,C]", help=_OBJECTIVES_HELP)
    p.add_argument("--workload", help="one workload's front, or 'all': each chip by its worst figures over every "
                                      "workload (default: each workload's own front)")
    p.add_argument("--all", action="store_true", help="include points that miss the space's constraints")
    p.add_argument("--csv", metavar="FILE", help="also write the front (with chip TOML) as CSV")
    p.add_argument("--force", action="store_true", help="overwrite a FILE that Tritium did not write")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_pareto)

    p = sub.add_parser("pick", help="write the best chips of a sweep as chip TOML files",
                       description="Keep the chips that meet the limits given (and the space's constraints), "
                                   "take their Pareto front and write the best --top of them as chip TOML files "
                                   "for tritium simulate --chip, tritium hdl export and tritium report.")
    p.add_argument("dir", metavar="DIR", help="a sweep's results folder")
    for limit in PICK_LIMITS:
        kind, _, metric = limit.partition("_")
        p.add_argument(f"--{limit.replace('_', '-')}", dest=limit, type=float, metavar="X",
                       help=f"{'at most' if kind == 'max' else 'at least'} X {METRICS[metric].unit}")
    p.add_argument("--objectives", metavar="A,B[,C]", help=_OBJECTIVES_HELP)
    p.add_argument("--rank-by", choices=tuple(METRICS), help="order of the picked chips (default: first objective)")
    p.add_argument("--top", type=int, default=5, metavar="N", help="chips to write (default: %(default)s)")
    p.add_argument("--workload", help="the workload the limits apply to, or 'all': chips that meet them on every "
                                      "workload, judged by their worst figures (default: the space's first)")
    p.add_argument("--hdl", action="store_true", help="only chips the HDL generator builds (for tritium hdl export)")
    p.add_argument("--out", metavar="DEST", help="folder for the TOML files (default: DIR/picked)")
    p.add_argument("--force", action="store_true", help="overwrite files in DEST that Tritium did not write")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_pick)

    p = sub.add_parser("sweep-plot", help="plot a sweep's Pareto fronts and parameter sensitivity",
                       description="tokens/s against J/token, die area and system cost, coloured by node and by "
                                   "DRAM type, GPU baselines marked; sensitivity of tokens/s and J/token to each "
                                   "parameter. PNG and SVG.")
    p.add_argument("dir", metavar="DIR", help="a sweep's results folder")
    p.add_argument("--out", metavar="DEST", help="folder for the plots (default: DIR/plots)")
    p.add_argument("--gpus", metavar="A,B", help="GPUs to mark (default: h100-sxm,rtx-4090,jetson-agx-orin-64gb; "
                                                "'none' for none)")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("sweep-bench", help="measure sweep speed and the guided search's savings",
                       description="Points per second (and per CPU-second) of a random sweep of the edge "
                                   "example (BitNet b1.58 2B4T, prefill 512 + decode 128), its scaling from 1 "
                                   "to N workers, and the guided search against the full 10,368-point grid "
                                   "(timed: the 10k-point sweep figure). Figures, not pass/fail.")
    p.add_argument("--points", type=int, default=400, metavar="N",
                   help="points per worker of each scaling run (default: %(default)s)")
    p.add_argument("--workers", default="1,2", metavar="1,2", help="worker counts to time (default: %(default)s)")
    p.add_argument("--space", metavar="SPACE", help="space file or built-in name to benchmark (default: edge-bitnet-2b)")
    p.add_argument("--grid-dir", metavar="DIR", help="keep the grid sweep here (an earlier one there is reused)")
    p.add_argument("--no-guided", action="store_true", help="skip the grid sweep and the guided comparison")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_bench)


def _objectives(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def _cmd_sweep(args: argparse.Namespace) -> int:
    from tritium.analysis.dse import load_space, sweep
    from tritium.analysis.dse.plots import plot_sweep

    space = load_space(args.space)
    overrides = {k: v for k, v in (("strategy", args.strategy), ("samples", args.samples), ("seed", args.seed))
                 if v is not None}
    if overrides:
        space = space.with_search(**overrides)
    bar = ProgressBar(f"sweep {space.name}", unit="pt")
    with bar as update:
        def progress(p) -> None:
            fresh = bar.bar is None
            update(p.done, p.total, rate=p.rate_per_s, eta_s=p.eta_s, extra=f"{p.invalid} invalid, {p.errors} failed")
            if bar.bar is None:  # stderr is not a terminal: update printed a line (rate, ETA) when due
                return
            if fresh:  # rate and ETA of this run's points only (tqdm's would count the resumed ones)
                bar.bar.bar_format = ("{desc}: {n_fmt} pt [{elapsed}{postfix}]" if p.total is None
                                      else "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
            eta = "" if p.eta_s is None else f", ETA {_duration(p.eta_s)}"
            bar.bar.set_postfix_str(f"{p.rate_per_s:.1f} pt/s{eta}, {p.invalid} invalid, {p.errors} failed")

        summary = sweep(space, args.out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                        progress=progress, force=args.force)
    plots = plot_sweep(args.out) if args.plots and summary.ok else []
    if args.json:
        out = {k: getattr(summary, k) for k in summary.__dataclass_fields__}
        out["top_errors"] = [{"error": e, "count": n} for e, n in summary.top_errors]
        out["plots"] = [str(p) for p in plots]
        print_json(out)
        return 0
    print("\n".join(summary.lines()))
    if plots:
        print(f"{len(plots)} plot files written to {plots[0].parent}")
    print(f"next: tritium pareto {args.out}   |   tritium pick {args.out} --max-area-mm2 X ...")
    return 0


def _duration(seconds: float) -> str:
    from tritium.cliutil import duration

    return duration(seconds)


def _cmd_pareto(args: argparse.Namespace) -> int:
    from tritium.analysis.dse import load_space_of, pareto
    from tritium.base.fileio import atomic_path, check_overwrite, record_written

    if args.csv:
        check_overwrite([args.csv], force=args.force)
    space = load_space_of(args.dir)
    objectives = _objectives(args.objectives) or list(space.objectives)
    front = pareto(args.dir, objectives, workload=args.workload, feasible_only=not args.all)
    paths = [p.path for p in space.params]
    if args.csv:
        with atomic_path(args.csv) as tmp:
            front.to_csv(tmp, index=False)
        record_written([args.csv])
    if args.json:
        cols = ["id", "workload", *objectives, *paths, "equal_to"]
        print_json(front[cols].to_dict("records"))
        return 0
    what = "points" if args.all else "points meeting the constraints"
    print(f"Pareto front of '{space.name}' over {', '.join(objectives)} ({len(front)} {what})")
    for name, group in front.groupby("workload", sort=False):
        equal = int((group.equal_to != "").sum())
        extra = f" ({equal} with the same objectives as an earlier one: 'same as')" if equal else ""
        print(f"\nworkload {name}: {len(group)} chips{extra}")
        shown = group.rename(columns={"equal_to": "same as"})
        _table(shown, ["id", *objectives, *paths, *(["same as"] if equal else [])])
    if args.csv:
        print(f"\nfront written to {args.csv}")
    return 0


def _table(df, cols: list[str]) -> None:
    def fmt(v) -> str:
        if isinstance(v, float):
            return f"{v:.4g}" if math.isfinite(v) else "-"
        return str(v)

    rows = [[fmt(v) for v in rec] for rec in df[cols].itertuples(index=False)]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths)))


def _cmd_pick(args: argparse.Namespace) -> int:
    from tritium.analysis.dse import PICK_LIMITS, pick

    limits = {k: getattr(args, k) for k in PICK_LIMITS}
    paths = pick(args.dir, args.out, objectives=_objectives(args.objectives), rank_by=args.rank_by, top=args.top,
                 workload=args.workload, hdl=args.hdl, force=args.force, **limits)
    if args.json:
        print_json([str(p) for p in paths])
        return 0
    given = ", ".join(f"{k} = {v:g}" for k, v in limits.items() if v is not None) or "no limits"
    given += ", buildable in HDL" if args.hdl else ""
    given += " on every workload (each chip's worst figures)" if args.workload == "all" else ""
    if not paths:
        print(f"no chip of {args.dir} meets {given} (and the space's constraints)")
        return 0
    from tritium.analysis.dse.pareto import picked_params

    print(f"{len(paths)} chip{'s' if len(paths) != 1 else ''} meeting {given}:")
    for p in paths:
        print(f"  {p}  {_picked_metrics(p)}")
        params = picked_params(p)
        if params:
            print("      " + ", ".join(f"{k} = {v}" for k, v in params.items()))
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.startswith("# equal results: "):
                print("      " + line[2:])
    if len(paths) > 1 and not picked_params(paths[0]):
        print("  (the picked chips differ in no swept parameter)")
    print(f"use: tritium simulate --chip {paths[0]}")
    return 0


def _picked_metrics(path: Path) -> str:
    """The headline metrics from a picked chip's comment header, on one line."""
    from tritium.analysis.dse.pareto import picked_metrics

    values = picked_metrics(path)
    shown = [("tokens_per_s", "{:,.1f} tok/s", 1), ("joules_per_token", "{:,.1f} mJ/token", 1e3),
             ("area_mm2", "{:,.2f} mm^2", 1), ("power_w", "{:,.2f} W", 1), ("cost_usd", "${:,.2f} to make", 1)]
    return ", ".join(fmt.format(values[k] * scale) for k, fmt, scale in shown if k in values)


def _cmd_plot(args: argparse.Namespace) -> int:
    from tritium.analysis.dse.plots import DEFAULT_GPUS, plot_sweep

    gpus = DEFAULT_GPUS if args.gpus is None else () if args.gpus == "none" else tuple(_objectives(args.gpus))
    paths = plot_sweep(args.dir, args.out, gpus=gpus)
    for p in paths:
        print(p)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from tritium.analysis.dse import load_space
    from tritium.analysis.dse.sweep_bench import bench_guided, bench_scaling, example_space

    try:
        workers = [int(w) for w in args.workers.split(",")]
    except ValueError:
        raise SpecError("--workers", args.workers, "must be comma-separated worker counts, e.g. 1,2") from None
    if not workers or min(workers) < 1:
        raise SpecError("--workers", args.workers, "every worker count must be >= 1")
    if args.points < 1:
        raise SpecError("--points", args.points, "must be >= 1")
    space = load_space(args.space) if args.space else example_space()
    show = not args.json
    if show:
        print(f"space '{space.name}': {', '.join(w.name for w in space.workloads)}; {space.grid_size} grid points")
    scaling = bench_scaling(args.points, workers, space=space, show=show)
    guided = None
    if not args.no_guided:
        if show:
            print(f"grid sweep of all {space.grid_size} points on {max(workers)} workers, then the guided search "
                  "replayed on its results ...", flush=True)
        with ProgressBar(f"grid sweep {space.name}", unit="pt") as update:
            guided = bench_guided(space, grid_dir=args.grid_dir, workers=max(workers),
                                  progress=lambda p: update(p.done, p.total, rate=p.rate_per_s, eta_s=p.eta_s))
        if show:
            print("\n".join(guided.lines()))
    if args.json:
        print_json({"space": space.name, "scaling": [f.as_dict() for f in scaling],
                    "guided": guided.as_dict() if guided else None})
    return 0
