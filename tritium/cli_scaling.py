"""``tritium scaling``: one request on 1 to N chips, per link topology and tensor x pipeline split
(where scaling stops).

A thin layer over :func:`tritium.analysis.scaling.chip_scaling`; :func:`register` adds the
subcommand to the ``tritium`` parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tritium.cliutil import mapping_args, precision_args, print_json, scenario_args
from tritium.base.errors import TritiumError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``scaling`` to ``sub``."""
    p = sub.add_parser("scaling", help="one request on 1 to N chips per link topology and TP x PP split: where "
                                       "scaling stops",
                       description="Simulate the same request on copies of a chip that differ only in the chip "
                                   "count, the link topology (ring, torus2d, switch) and the pipeline stages the "
                                   "chips are cut into (each a tensor-parallel group), and print time per output "
                                   "token, tokens/s, J/token, the collectives' share of decode time and the "
                                   "pipeline bubble. --out writes scaling.csv and scaling.png/.svg.")
    p.add_argument("--model", default="llama-3-70b", help="zoo name, HF id or config.json (default: %(default)s)")
    p.add_argument("--ternarize", action="store_true", help="make every projection of an FP model ternary")
    p.add_argument("--chip", default="multichip-hbm3", help="preset name or chip TOML file (default: %(default)s)")
    scenario_args(p)
    p.add_argument("--chips", default="1,2,4,8,16,32,64", help="comma-separated chip counts (default: %(default)s)")
    p.add_argument("--topologies", default="ring,torus2d,switch",
                   help="comma-separated link topologies (default: %(default)s)")
    p.add_argument("--stages", default="1,2,4,8",
                   help="comma-separated pipeline stage counts tried at each chip count that they divide; 1 is "
                        "tensor parallelism alone (default: %(default)s)")
    precision_args(p)
    mapping_args(p)
    p.add_argument("--out", metavar="DIR", help="write scaling.csv, scaling.png and scaling.svg here")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=_cmd_scaling)


def _ints(text: str, key: str, what: str = "chip count") -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise TritiumError(f"--{key} {text!r}: must be comma-separated integers, e.g. 1,2,4,8") from None
    if not values:
        raise TritiumError(f"--{key} {text!r}: give at least one {what}")
    return values


def _cmd_scaling(args: argparse.Namespace) -> int:
    from tritium.analysis.plots import save_figure
    from tritium.analysis.scaling import chip_scaling, scaling_plot
    from tritium.base.fileio import write_text_atomic
    from tritium.workloads import Scenario, build_trace

    chips = _ints(args.chips, "chips")
    stages = _ints(args.stages, "stages", "stage count")
    topologies = tuple(t.strip() for t in args.topologies.split(",") if t.strip())
    trace = build_trace(args.model, Scenario(batch=args.batch, prefill=args.prefill, decode=args.decode),
                        ternarize=args.ternarize, lm_head_dtype=args.lm_head_dtype, kv_dtype=args.kv_dtype)
    result = chip_scaling(args.chip, trace, chips=chips, topologies=topologies, stages=stages,
                          mapping_objective=args.mapping_objective)
    model = trace.model or args.model
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "scaling.csv", result.to_csv(index=False))
        save_figure(scaling_plot(result, f"{model} on {args.chip}: batch {args.batch}"), out / "scaling")
    if args.json:
        print_json(result.to_dict(orient="records"))
        return 0
    print(f"{model} on {args.chip} x N: batch {args.batch}, prefill {args.prefill}, decode {args.decode}")
    print(f"  {'topology':<9} {'chips':>5} {'TP x PP':>8} {'ms/token':>9} {'tokens/s':>9} {'mJ/token':>9} "
          f"{'collectives':>11} {'bubble':>7} {'speedup':>8}")
    for r in result.itertuples(index=False):
        split = f"{r.tp_chips}x{r.pipeline_stages}"
        print(f"  {r.topology:<9} {r.chips:>5} {split:>8} {r.time_per_output_token_s * 1e3:>9.3f} "
              f"{r.tokens_per_s:>9,.0f} {r.joules_per_token * 1e3:>9.2f} {r.collective_share:>10.0%} "
              f"{r.decode_bubble:>6.0%} {r.speedup:>7.2f}x{' *' if r.best and r.pipeline_stages > 1 else ''}")
    for topo, group in result.groupby("topology", sort=False):
        best = group.loc[group.time_per_output_token_s.idxmin()]
        split = (f"TP {int(best.tp_chips)} x PP {int(best.pipeline_stages)}" if best.pipeline_stages > 1
                 else "tensor parallel alone")
        text = f"  {topo}: fastest at {int(best.chips)} chips, {split} ({best.speedup:.2f}x one chip)"
        tp = group[group.pipeline_stages == 1]
        if len(tp) and best.pipeline_stages > 1:
            alone = tp.loc[tp.time_per_output_token_s.idxmin()]
            text += f"; tensor parallel alone at {int(alone.chips)} chips ({alone.speedup:.2f}x)"
        print(text)
    if (result.pipeline_stages > 1).any():
        print("  bubble: the pipeline stages' idle share of a decode step"
              + ("; *: the fastest split at its chip count" if (result.best & (result.pipeline_stages > 1)).any()
                 else ""))
    if args.out:
        print(f"scaling.csv, scaling.png and scaling.svg written to {args.out}")
    return 0
