"""Where multi-chip scaling stops: one request on 1 to N chips of a chip, per link topology.

:func:`chip_scaling` simulates the same trace on copies of a chip that differ only in
``chips`` (and ``link.topology``), so the time per output token shows what tensor
parallelism buys and what its collectives (:mod:`tritium.sim.collectives`) cost;
:func:`scaling_plot` draws it.

>>> from tritium.workloads import Scenario, build_trace
>>> t = build_trace("bitnet-b1.58-2b-4t", Scenario(1, 16, 4))
>>> table = chip_scaling("multichip-hbm3", t, chips=(1, 2, 4), topologies=("ring",))
>>> list(table.chips), bool(table.time_per_output_token_s.iloc[1] < table.time_per_output_token_s.iloc[0])
([1, 2, 4], True)
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, ScalarFormatter

from tritium.errors import SpecError
from tritium.sim import Chip, LinkSpec, load_chip, simulate
from tritium.sim.collectives import TOPOLOGIES

__all__ = ["DEFAULT_CHIPS", "chip_scaling", "scaling_plot"]

DEFAULT_CHIPS = (1, 2, 4, 8, 16, 32, 64)
_DEFAULT_LINK = LinkSpec(bandwidth_gb_s=200.0, latency_ns=500.0, energy_pj_per_bit=5.0)  # multichip-hbm3's


def chip_scaling(
    chip: Chip | str | os.PathLike,
    trace: pd.DataFrame,
    *,
    chips: Sequence[int] = DEFAULT_CHIPS,
    topologies: Sequence[str] = TOPOLOGIES,
    mapping_objective: str = "latency",
) -> pd.DataFrame:
    """One row per (topology, chip count): the trace on ``chip`` with ``chips`` copies joined by
    ``chip``'s link (multichip-hbm3's when it has none) in that topology.

    Columns: topology, chips, time_per_output_token_s, tokens_per_s, joules_per_token,
    collective_share (decode cycles of the ops' collectives over all decode cycles),
    speedup (over one chip). Chip counts a topology cannot join (a 2D torus of a prime
    number of chips) are left out.

    Raises:
        SpecError: a chip count < 1 or an unknown topology.
    """
    base = load_chip(chip)
    link = base.link or _DEFAULT_LINK
    for n in chips:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 4096:
            raise SpecError("chips", n, "must be an integer from 1 to 4096")
    for topo in topologies:
        if topo not in TOPOLOGIES:
            raise SpecError("topology", topo, f"must be one of {', '.join(TOPOLOGIES)}")
    single = simulate(dataclasses.replace(base, chips=1, link=None), trace, mapping_objective=mapping_objective)
    t1 = single.totals["time_per_output_token_s"]
    rows = []
    for topo in topologies:
        for n in chips:
            try:
                sized = dataclasses.replace(base, chips=n, link=None if n == 1 else
                                            dataclasses.replace(link, topology=topo, dims_x=0))
            except SpecError:
                continue  # this topology cannot join n chips
            r = single if n == 1 else simulate(sized, trace, mapping_objective=mapping_objective)
            decode = r.ops[r.ops.phase == "decode"]
            cycles = float(decode.cycles.sum())
            rows.append({
                "topology": topo, "chips": n,
                "time_per_output_token_s": r.totals["time_per_output_token_s"],
                "tokens_per_s": r.totals["tokens_per_s"],
                "joules_per_token": r.totals["joules_per_token"],
                "collective_share": float(decode.link_cycles.sum()) / cycles if cycles else 0.0,
                "speedup": t1 / r.totals["time_per_output_token_s"],
            })
    return pd.DataFrame(rows)


def scaling_plot(table: pd.DataFrame, title: str) -> Figure:
    """Time per output token against the chip count, one line per topology (log-log)."""
    from tritium.analysis.plots import _figure

    fig, ax = _figure()
    for topo, group in table.groupby("topology", sort=False):
        ax.plot(group.chips, group.time_per_output_token_s * 1e3, marker="o", label=topo)
        best = group.loc[group.time_per_output_token_s.idxmin()]
        ax.annotate(f"best: {int(best.chips)}", (best.chips, best.time_per_output_token_s * 1e3),
                    textcoords="offset points", xytext=(4, -12), fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(set(table.chips)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("chips (tensor parallel)")
    ax.set_ylabel("time per output token (ms, log)")
    ax.set_title(title)
    ax.legend(title="link topology", frameon=False)
    return fig
