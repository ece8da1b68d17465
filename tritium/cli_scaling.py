"""``tritium scaling``: one request on 1 to N chips, per link topology (where scaling stops).

A thin layer over :func:`tritium.analysis.scaling.chip_scaling`; :func:`register` adds the
subcommand to the ``tritium`` parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tritium.cliutil import mapping_args, precision_args, print_json, scenario_args
from tritium.errors import TritiumError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``scaling`` to ``sub``."""
    p = sub.add_parser("scaling", help="one request on 1 to N chips per link topology: where scaling stops",
                       description="Simulate the same request on copies of a chip that differ only in the chip "
                                   "count and the link topology (ring, torus2d, switch), and print time per output "
                                   "token, tokens/s, J/token and the collectives' share of decode time. --out "
                                   "writes scaling.csv and scaling.png/.svg.")
    p.add_argument("--model", default="llama-3-70b", help="zoo name, HF id or config.json (default: %(default)s)")
    p.add_argument("--ternarize", action="store_true", help="make every projection of an FP model ternary")
    p.add_argument("--chip", default="multichip-hbm3", help="preset name or chip TOML file (default: %(default)s)")
    scenario_args(p)
    p.add_argument("--chips", default="1,2,4,8,16,32,64", help="comma-separated chip counts (default: %(default)s)")
    p.add_argument("--topologies", default="ring,torus2d,switch",
                   help="comma-separated link topologies (default: %(default)s)")
    precision_args(p)
    mapping_args(p)
    p.add_argument("--out", metavar="DIR", help="write scaling.csv, scaling.png and scaling.svg here")
    p.add_argument("--json", action="store_true", help="print the table as JSON")
    p.set_defaults(func=_cmd_scaling)


def _ints(text: str, key: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise TritiumError(f"--{key} {text!r}: must be comma-separated integers, e.g. 1,2,4,8") from None
    if not values:
        raise TritiumError(f"--{key} {text!r}: give at least one chip count")
    return values


def _cmd_scaling(args: argparse.Namespace) -> int:
    from tritium.analysis.plots import save_figure
    from tritium.analysis.scaling import chip_scaling, scaling_plot
    from tritium.fileio import write_text_atomic
    from tritium.workloads import Scenario, build_trace

    chips = _ints(args.chips, "chips")
    topologies = tuple(t.strip() for t in args.topologies.split(",") if t.strip())
    table = build_trace(args.model, Scenario(batch=args.batch, prefill=args.prefill, decode=args.decode),
                        ternarize=args.ternarize, lm_head_dtype=args.lm_head_dtype, kv_dtype=args.kv_dtype)
    result = chip_scaling(args.chip, table, chips=chips, topologies=topologies,
                          mapping_objective=args.mapping_objective)
    model = table.attrs.get("model", args.model)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "scaling.csv", result.to_csv(index=False))
        save_figure(scaling_plot(result, f"{model} on {args.chip}: batch {args.batch}"), out / "scaling")
    if args.json:
        print_json(result.to_dict(orient="records"))
        return 0
    print(f"{model} on {args.chip} x N: batch {args.batch}, prefill {args.prefill}, decode {args.decode}")
    print(f"  {'topology':<9} {'chips':>5} {'ms/token':>9} {'tokens/s':>9} {'mJ/token':>9} {'collectives':>11} "
          f"{'speedup':>8}")
    for r in result.itertuples(index=False):
        print(f"  {r.topology:<9} {r.chips:>5} {r.time_per_output_token_s * 1e3:>9.3f} {r.tokens_per_s:>9,.0f} "
              f"{r.joules_per_token * 1e3:>9.2f} {r.collective_share:>10.0%} {r.speedup:>7.2f}x")
    for topo, group in result.groupby("topology", sort=False):
        best = group.loc[group.time_per_output_token_s.idxmin()]
        print(f"  {topo}: fastest at {int(best.chips)} chips ({best.speedup:.2f}x one chip)")
    if args.out:
        print(f"scaling.csv, scaling.png and scaling.svg written to {args.out}")
    return 0
