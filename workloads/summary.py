"""One-screen summary of a trace: op counts, GMACs by kind, weight bytes, zeros."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from tritium.workloads.trace_record import Trace

__all__ = ["TraceSummary", "summarize"]


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """Totals of one trace (all counts are over the whole request).

    Attributes:
        model, batch, prefill, decode: what was traced.
        rows: rows of the trace table; distinct_ops: distinct signatures
            (what a simulator must evaluate); op_executions: rows x steps.
        gmacs_by_kind: 1e9 multiply-accumulates per op kind (ternary: additions).
        gmacs_total: their sum.
        ternary_weight_bytes: bytes of ternary weights (2 bits each), one copy.
        other_weight_bytes: bytes of high-precision weights read by one forward pass
            (LM head, non-ternary linears, norm gains; not the embedding table).
        weight_bytes_read: weight bytes read over the whole request.
        kv_cache_bytes: KV cache at the end of the request.
        act_bytes: activation bytes read and written.
        zero_fraction: fraction of zero ternary weights (NaN for FP models).
        weight_stats: where the ternary statistics came from.
        context_exceeded: prefill + decode is longer than the model's context.
    """

    model: str
    batch: int
    prefill: int
    decode: int
    rows: int
    distinct_ops: int
    op_executions: int
    gmacs_by_kind: dict[str, float]
    gmacs_total: float
    ternary_weight_bytes: int
    other_weight_bytes: int
    weight_bytes_read: int
    kv_cache_bytes: int
    act_bytes: int
    zero_fraction: float
    weight_stats: str
    context_exceeded: bool

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (NaN becomes None)."""
        out = asdict(self)
        if out["zero_fraction"] != out["zero_fraction"]:
            out["zero_fraction"] = None
        return out


def _total(values: pd.Series) -> int:
    """Exact sum of an integer column, in Python integers (no int64 wrap-around)."""
    return sum(values.tolist())


def summarize(trace: Trace | pd.DataFrame) -> TraceSummary:
    """Summarise a trace (a :class:`~tritium.workloads.Trace`, or a table with its metadata in
    ``attrs``: see :mod:`tritium.workloads.schema`). Counts are summed exactly, in Python integers."""
    record = Trace.of(trace)
    table = record.table
    first = table[table.block == table.block.min()]
    ternary = first[first.kind == "ternary_linear"]
    weights = ternary.k * ternary.n
    zero = float(np.average(ternary.zero_frac, weights=weights)) if len(ternary) else float("nan")
    gmacs = {kind: _total(group) for kind, group in table.groupby("kind", sort=False)["macs"]}
    gmacs = {kind: v / 1e9 for kind, v in gmacs.items() if v > 0}
    others = first[(first.weight_dtype != "ternary") & (first.kind != "embedding")]
    kv_final = _total(table[table.kind == "kv_write"].kv_write_bytes)
    return TraceSummary(
        model=record.model,
        batch=record.batch,
        prefill=record.prefill,
        decode=record.decode,
        rows=len(table),
        distinct_ops=int(table.signature.nunique()),
        op_executions=_total(table.steps),
        gmacs_by_kind=gmacs,
        gmacs_total=_total(table.macs) / 1e9,
        ternary_weight_bytes=_total(ternary.weight_bytes // ternary.steps),
        other_weight_bytes=_total(others.weight_bytes // others.steps),
        weight_bytes_read=_total(table.weight_bytes),
        kv_cache_bytes=kv_final,
        act_bytes=_total(table.act_in_bytes) + _total(table.act_out_bytes),
        zero_fraction=zero,
        weight_stats=record.weight_stats,
        context_exceeded=record.context_exceeded,
    )
