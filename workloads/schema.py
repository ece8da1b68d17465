"""The trace table: its documented schema, signatures, save and load.

A trace is a :class:`pandas.DataFrame` with exactly the columns of
:data:`TRACE_COLUMNS`, one row per op of the request, in execution order.
Rows are grouped in *blocks*: block 0 is the prefill pass; the decode steps follow.
A row runs ``steps`` times in a row (once per step of its block), so a whole
decode phase of D steps is one block whose rows have ``steps = D`` and whose
attention rows see a KV cache of ``kv_len`` tokens at the first step, one more at
each following step. Count columns (``macs``, ``elements``, the ``*_bytes``
columns) are **totals over the row's steps**, so ``trace.macs.sum()`` is the
request's total. Every count column's total over the table is at most
:data:`COUNT_LIMIT` (2^60), so int64 sums of a column, of up to eight columns, or a
count times a small factor cannot overflow; a request whose counts would pass it is
refused with an error naming the column, not wrapped around. :func:`tritium.workloads.trace` with ``expand_decode=True``
gives one block per decode step instead (same totals).

Columns (dtype, meaning):

============== ======= ==========================================================
block          int64   0 = prefill, then decode blocks
phase          str     "prefill" or "decode"
steps          int64   consecutive steps this row runs (1 in prefill)
kv_len         int64   KV-cache tokens an attention op reads at its first step
                       (0 for ops that do not read the cache)
layer          int64   -1 embedding, 0..L-1 decoder layers, L final norm/LM head
op             str     name of the op within its layer ("q_proj", "softmax", ...)
kind           str     one of :data:`KINDS`
m, k, n        int64   GEMM shape per step: M rows (tokens), K reduction, N outputs;
                       vector ops: m tokens x n features, k = 0
groups         int64   independent GEMMs of that shape (batch x heads for attention)
causal         bool    prefill attention: only the lower triangle is computed
weight_dtype   str     "ternary", "bf16", "fp16", "fp32" or "" (no weights)
act_dtype      str     input precision ("int8" for BitNet's quantized inputs)
out_dtype      str     output precision ("int32" for ternary accumulators)
macs           int64   multiply-accumulates (for ternary: sign-select additions)
elements       int64   elements a vector op processes (0 for GEMMs)
weight_bytes   int64   weight bytes read (ternary at 2 bits per weight)
act_in_bytes   int64   activation bytes read
act_out_bytes  int64   activation bytes written
kv_read_bytes  int64   KV-cache bytes read
kv_write_bytes int64   KV-cache bytes written
weight_name    str     the weight tensor ("layers.3.q_proj"; "" if none)
zero_frac      float64 fraction of zero weights (NaN unless ternary)
pos_frac       float64 fraction of +1 weights (NaN unless ternary)
neg_frac       float64 fraction of -1 weights (NaN unless ternary)
nnz_lo         int64   per-output-row non-zero histogram range, low end (-1 unless ternary)
nnz_hi         int64   high end, inclusive (-1 unless ternary)
nnz_hist       str     32 space-separated row counts over [nnz_lo, nnz_hi] ("" unless ternary)
act_zero_frac  float64 fraction of the op's INT8 input activations that are exactly zero, in
                       [0, 1) (NaN unless ternary; :mod:`tritium.workloads.sparsity`)
stats_source   str     where the weight statistics came from ("" unless ternary)
signature      str     16 hex digits; equal for ops a chip evaluates identically
============== ======= ==========================================================

The request a table describes (model, scenario, statistics sources...) travels beside it in
a :class:`~tritium.workloads.Trace` record; trace files keep it as the table's ``attrs``
(:mod:`tritium.workloads.trace_io`).
"""

from __future__ import annotations

import pandas as pd

from tritium.base.errors import TraceError

__all__ = [
    "TRACE_COLUMNS",
    "KINDS",
    "SIGNATURE_COLUMNS",
    "SCHEMA_VERSION",
    "COUNT_COLUMNS",
    "COUNT_LIMIT",
    "MAX_TRACE_ROWS",
    "new_trace_frame",
    "validate_trace",
]

SCHEMA_VERSION = 1

TRACE_COLUMNS: dict[str, str] = {
    "block": "int64",
    "phase": "str",
    "steps": "int64",
    "kv_len": "int64",
    "layer": "int64",
    "op": "str",
    "kind": "str",
    "m": "int64",
    "k": "int64",
    "n": "int64",
    "groups": "int64",
    "causal": "bool",
    "weight_dtype": "str",
    "act_dtype": "str",
    "out_dtype": "str",
    "macs": "int64",
    "elements": "int64",
    "weight_bytes": "int64",
    "act_in_bytes": "int64",
    "act_out_bytes": "int64",
    "kv_read_bytes": "int64",
    "kv_write_bytes": "int64",
    "weight_name": "str",
    "zero_frac": "float64",
    "pos_frac": "float64",
    "neg_frac": "float64",
    "nnz_lo": "int64",
    "nnz_hi": "int64",
    "nnz_hist": "str",
    "act_zero_frac": "float64",
    "stats_source": "str",
    "signature": "str",
}
"""Column name -> dtype of a trace table (see the module docstring for meanings)."""

KINDS: dict[str, str] = {
    "embedding": "gather one embedding row per token",
    "rmsnorm": "RMSNorm (input, post-attention, BitNet sub-norms, final)",
    "quantize": "per-token absmax INT8 quantization of a ternary linear's input",
    "ternary_linear": "GEMM with ternary weights: sign-selected additions, no multiplies",
    "linear": "GEMM with high-precision weights (LM head, non-ternary models)",
    "dequantize": "rescale a ternary linear's integer outputs (weight scale / act scale)",
    "rope": "rotary position embedding of queries and keys",
    "kv_write": "append the new keys and values to the KV cache",
    "attn_qk": "Q K^T per head: activation x activation products",
    "softmax": "softmax over attention scores",
    "attn_pv": "P V per head: activation x activation products",
    "activation": "GLU activation: silu(gate) * up or relu(gate)^2 * up",
    "residual": "residual add",
}
"""Op kinds a trace may contain, with what each computes."""

SIGNATURE_COLUMNS = (
    "kind", "steps", "kv_len", "m", "k", "n", "groups", "causal",
    "weight_dtype", "act_dtype", "out_dtype", "elements",
    "zero_frac", "pos_frac", "nnz_lo", "nnz_hi", "nnz_hist", "act_zero_frac",
)
"""Columns that determine an op's cost on a chip; equal values give equal signatures."""

COUNT_COLUMNS = ("macs", "elements", "weight_bytes", "act_in_bytes", "act_out_bytes", "kv_read_bytes",
                 "kv_write_bytes")
"""Columns that count work or bytes over a row's steps (their sums are request totals)."""

COUNT_LIMIT = 2**60
"""Largest total a count column may reach over one trace (about 1.15e18): int64 holds 8x
that, the headroom for sums of several columns and for a simulator's re-reads. 2^60 MACs is
about 40 minutes of a 1 PFLOP/s accelerator for one request."""

MAX_TRACE_ROWS = 2**17
"""Most rows a trace may hold (131,072; a block of Llama-3-405B is about 4,300)."""

_INT64_MAX = 2**63 - 1

_DEFAULTS = {
    col: {"int64": 0, "float64": float("nan"), "bool": False, "str": ""}[dtype]
    for col, dtype in TRACE_COLUMNS.items()
    if col != "signature"
} | {"nnz_lo": -1, "nnz_hi": -1}


def new_trace_frame(rows: list[dict], where: str = "trace") -> pd.DataFrame:
    """Build a trace table from row dicts (missing columns take neutral defaults:
    0, NaN, False, "" and -1 for the histogram range) and compute signatures; the
    table of a :class:`~tritium.workloads.Trace`, which carries its metadata.

    Raises :class:`TraceError` (its message starting with ``where``) when the table
    would pass :data:`MAX_TRACE_ROWS` rows, a count column's total would pass
    :data:`COUNT_LIMIT`, or another integer would not fit int64; the checks run on the
    rows' Python integers, before any conversion could wrap around.
    """
    if len(rows) > MAX_TRACE_ROWS:
        raise TraceError(f"{where}: {len(rows)} rows, more than the {MAX_TRACE_ROWS} a trace may hold")
    for col in COUNT_COLUMNS:
        _check_total(col, sum(int(row.get(col, 0)) for row in rows), where)
    for col, dtype in TRACE_COLUMNS.items():
        if dtype == "int64" and col not in COUNT_COLUMNS:
            big = max((abs(int(row[col])) for row in rows if col in row), default=0)
            if big > _INT64_MAX:
                raise TraceError(f"{where}: column {col!r} would hold {big:.3g}, beyond int64")
    records = [_DEFAULTS | row for row in rows]
    df = pd.DataFrame.from_records(records, columns=list(_DEFAULTS))
    df = df.astype({col: TRACE_COLUMNS[col] for col in _DEFAULTS})
    df["signature"] = signatures(df)
    return df


def _check_total(col: str, total: int, where: str) -> None:
    if total > COUNT_LIMIT:
        shown = f"{total:,}" if total < 1000 * COUNT_LIMIT else f"{total:.3g}"
        raise TraceError(f"{where}: {col} over the request total {shown}, more than the {COUNT_LIMIT:,} "
                         "(2^60) a trace counts exactly; lower batch, prefill or decode")


def signatures(df: pd.DataFrame) -> pd.Series:
    """Signature strings of the rows of ``df`` (a stable hash of :data:`SIGNATURE_COLUMNS`)."""
    hashed = pd.util.hash_pandas_object(df[list(SIGNATURE_COLUMNS)], index=False).to_numpy()
    return pd.Series([f"{h:016x}" for h in hashed], index=df.index, dtype=str)


def validate_trace(df: pd.DataFrame, where: str = "trace") -> pd.DataFrame:
    """Check that ``df`` has exactly the trace columns with sane values; return it
    with canonical dtypes. Raises :class:`TraceError` naming the first problem."""
    cols = list(df.columns)
    if "act_zero_frac" not in cols and "nnz_hist" in cols:  # a trace written before the column existed
        df = df.copy()
        df.insert(cols.index("nnz_hist") + 1, "act_zero_frac", float("nan"))
        cols = list(df.columns)
    if cols == list(TRACE_COLUMNS) and all(_dtype_ok(df[c].dtype, t) for c, t in TRACE_COLUMNS.items()):
        return _check_values(df, where)
    missing = [c for c in TRACE_COLUMNS if c not in cols]
    extra = [c for c in cols if c not in TRACE_COLUMNS]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {', '.join(missing)}")
        if extra:
            parts.append(f"unknown columns {', '.join(extra)}")
        raise TraceError(f"{where}: not a Tritium trace ({'; '.join(parts)})")
    out = df[list(TRACE_COLUMNS)].copy()
    for col, dtype in TRACE_COLUMNS.items():
        try:
            if dtype == "str":
                out[col] = out[col].fillna("").astype(str)
            elif dtype == "bool" and out[col].dtype != bool:
                out[col] = out[col].map({True: True, False: False, "True": True, "False": False}).astype(bool)
            else:
                out[col] = out[col].astype(dtype)
        except (ValueError, TypeError):
            raise TraceError(f"{where}: column {col!r} must hold {dtype} values") from None
    out.attrs.update(df.attrs)
    return _check_values(out, where)


def _dtype_ok(dtype, wanted: str) -> bool:
    if wanted == "str":
        return pd.api.types.is_string_dtype(dtype)
    return str(dtype) == wanted


def _check_values(out: pd.DataFrame, where: str) -> pd.DataFrame:
    bad_kind = sorted(set(out["kind"]) - set(KINDS))
    if bad_kind:
        raise TraceError(f"{where}: unknown op kind {bad_kind[0]!r}; allowed: {', '.join(KINDS)}")
    for col in ("steps", "m", "groups"):
        if (out[col] < 1).any():
            raise TraceError(f"{where}: column {col!r} must be >= 1 in every row")
    for col in ("k", "n", *COUNT_COLUMNS, "kv_len"):
        if (out[col] < 0).any():
            raise TraceError(f"{where}: column {col!r} must be >= 0 in every row")
    act_zero = out["act_zero_frac"]
    if ((act_zero < 0) | (act_zero >= 1)).any():
        raise TraceError(f"{where}: column 'act_zero_frac' must be NaN or in [0, 1) in every row")
    if len(out) > MAX_TRACE_ROWS:
        raise TraceError(f"{where}: {len(out)} rows, more than the {MAX_TRACE_ROWS} a trace may hold")
    for col in COUNT_COLUMNS:
        _check_total(col, sum(out[col].tolist()), where)  # Python ints: exact, no wrap-around
    return out
