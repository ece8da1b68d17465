"""Where multi-chip scaling stops: one request on 1 to N chips of a chip, per link topology and
tensor x pipeline split.

:func:`chip_scaling` simulates the same trace on copies of a chip that differ only in
``chips``, ``link.topology`` and ``pipeline_stages``, so the time per output token shows what
tensor parallelism buys, what its collectives (:mod:`tritium.sim.collectives`) cost, and where
cutting the chips into pipeline stages of smaller tensor-parallel groups
(:mod:`tritium.sim.pipeline`) beats one group; :func:`scaling_plot` draws it.

>>> from tritium.workloads import Scenario, build_trace
>>> t = build_trace("bitnet-b1.58-2b-4t", Scenario(1, 16, 4))
>>> table = chip_scaling("multichip-hbm3", t, chips=(1, 2, 4), topologies=("ring",), stages=(1,))
>>> list(table.chips), bool(table.time_per_output_token_s.iloc[1] < table.time_per_output_token_s.iloc[0])
([1, 2, 4], True)
>>> split = chip_scaling("multichip-hbm3", t, chips=(4,), topologies=("ring",), stages=(1, 2))
>>> [(int(r.tp_chips), int(r.pipeline_stages)) for r in split.itertuples()]
[(4, 1), (2, 2)]
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, ScalarFormatter

from tritium.base.errors import SpecError
from tritium.sim import Chip, LinkSpec, load_chip, simulate
from tritium.sim.collectives import TOPOLOGIES
from tritium.workloads.trace_record import Trace

__all__ = ["DEFAULT_CHIPS", "DEFAULT_STAGES", "chip_scaling", "scaling_plot"]

DEFAULT_CHIPS = (1, 2, 4, 8, 16, 32, 64)
DEFAULT_STAGES = (1, 2, 4, 8)
"""Pipeline stage counts :func:`chip_scaling` tries at each chip count (those that divide it)."""
_DEFAULT_LINK = LinkSpec(bandwidth_gb_s=200.0, latency_ns=500.0, energy_pj_per_bit=5.0)  # multichip-hbm3's


def chip_scaling(
    chip: Chip | str | os.PathLike,
    trace: Trace | pd.DataFrame,
    *,
    chips: Sequence[int] = DEFAULT_CHIPS,
    topologies: Sequence[str] = TOPOLOGIES,
    stages: Sequence[int] = DEFAULT_STAGES,
    mapping_objective: str = "latency",
) -> pd.DataFrame:
    """One row per (topology, chip count, pipeline stages): the trace on ``chip`` with ``chips``
    copies joined by ``chip``'s link (multichip-hbm3's when it has none) in that topology, cut
    into that many pipeline stages of ``chips / stages`` tensor-parallel chips each (with the
    chip's ``micro_batches``; 0: as many as stages, capped at the batch).

    Columns: topology, chips, tp_chips, pipeline_stages, time_per_output_token_s,
    time_to_first_token_s, tokens_per_s, joules_per_token, collective_share (decode cycles of
    the ops' collectives over all decode cycles), prefill_bubble and decode_bubble (the stages'
    idle share of prefill and of a decode step; 0 without stages), speedup (time per output
    token of one chip over this one's), best (the fastest split of this topology and chip count).
    Combinations that cannot be built are left out: a topology that cannot join the count (a 2D
    torus of a prime number of chips, or of a stage's tensor-parallel group), a stage count that
    does not divide it, more stages than the model has decoder layers.

    Raises:
        SpecError: a chip count or stage count < 1, or an unknown topology.
    """
    base = load_chip(chip)
    trace = Trace.of(trace)  # one record for every simulation: its facts are worked out once
    link = base.link or _DEFAULT_LINK
    for key, values in (("chips", chips), ("pipeline_stages", stages)):
        for n in values:
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 4096:
                raise SpecError(key, n, "must be an integer from 1 to 4096")
    for topo in topologies:
        if topo not in TOPOLOGIES:
            raise SpecError("topology", topo, f"must be one of {', '.join(TOPOLOGIES)}")
    single_chip = dataclasses.replace(base, chips=1, link=None, pipeline_stages=1)
    single = simulate(single_chip, trace, mapping_objective=mapping_objective)
    t1 = single.totals["time_per_output_token_s"]
    rows = []
    for topo in topologies:
        for n in chips:
            for p in dict.fromkeys(stages):
                if n % p:
                    continue
                try:
                    sized = dataclasses.replace(base, chips=n, pipeline_stages=p, link=None if n == 1 else
                                                dataclasses.replace(link, topology=topo, dims_x=0))
                    r = single if n == 1 else simulate(sized, trace, mapping_objective=mapping_objective)
                except SpecError as err:
                    if err.key in ("link.topology", "link.dims_x", "pipeline_stages"):
                        continue  # this topology cannot join n chips, or the model has too few layers
                    raise
                rows.append(_row(topo, n, p, r, t1))
    table = pd.DataFrame(rows, columns=_COLUMNS)
    fastest = table.groupby(["topology", "chips"]).time_per_output_token_s.transform("min")
    table["best"] = table.time_per_output_token_s <= fastest
    return table


_COLUMNS = ("topology", "chips", "tp_chips", "pipeline_stages", "time_per_output_token_s", "time_to_first_token_s",
            "tokens_per_s", "joules_per_token", "collective_share", "prefill_bubble", "decode_bubble", "speedup")


def _row(topology: str, chips: int, stages: int, r, t1: float) -> dict:
    decode = r.ops[r.ops.phase == "decode"]
    cycles = float(decode.cycles.sum())
    t = r.totals
    return {  # the order of _COLUMNS
        "topology": topology, "chips": chips, "tp_chips": chips // stages, "pipeline_stages": stages,
        "time_per_output_token_s": t["time_per_output_token_s"],
        "time_to_first_token_s": t["time_to_first_token_s"],
        "tokens_per_s": t["tokens_per_s"],
        "joules_per_token": t["joules_per_token"],
        "collective_share": float(decode.link_cycles.sum()) / cycles if cycles else 0.0,
        "prefill_bubble": float(t.get("pipeline_bubble_fraction", 0.0)),
        "decode_bubble": float(t.get("decode_bubble_fraction", 0.0)),
        "speedup": t1 / t["time_per_output_token_s"],
    }


def scaling_plot(table: pd.DataFrame, title: str) -> Figure:
    """Time per output token against the chip count (log-log): per topology, one line for tensor
    parallelism alone and, where the table has pipeline splits, a dashed one for the fastest
    tensor x pipeline split at each count (each point labelled with its stage count)."""
    from tritium.analysis.plots import _figure

    fig, ax = _figure()
    for topo, group in table.groupby("topology", sort=False):
        tp = group[group.pipeline_stages == 1]
        line = ax.plot(tp.chips, tp.time_per_output_token_s * 1e3, marker="o", label=f"{topo}: TP")[0]
        if len(tp):
            best = tp.loc[tp.time_per_output_token_s.idxmin()]
            ax.annotate(f"best: {int(best.chips)}", (best.chips, best.time_per_output_token_s * 1e3),
                        textcoords="offset points", xytext=(4, -12), fontsize=8)
        if (group.pipeline_stages > 1).any():
            split = group.loc[group.groupby("chips").time_per_output_token_s.idxmin()]
            ax.plot(split.chips, split.time_per_output_token_s * 1e3, marker="s", linestyle="--",
                    color=line.get_color(), label=f"{topo}: best TP x PP")
            for r in split[split.pipeline_stages > 1].itertuples():
                ax.annotate(f"PP{r.pipeline_stages}", (r.chips, r.time_per_output_token_s * 1e3),
                            textcoords="offset points", xytext=(4, 4), fontsize=7, color=line.get_color())
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(set(table.chips)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel("chips (tensor parallel, or tensor x pipeline)")
    ax.set_ylabel("time per output token (ms, log)")
    ax.set_title(title)
    ax.legend(title="link topology: split", frameon=False)
    return fig
