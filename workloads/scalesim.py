"""Bring SCALE-Sim workloads: a GEMM-form topology CSV as a trace of linear ops.

SCALE-Sim (v2/v3) describes GEMM workloads as a CSV with a header ``Layer, M, N, K``
(``topologies/GEMM_mnk/*.csv`` in its repository): an M x K activation times a
K x N weight. Each row becomes one linear op of a single-block trace, in file
order; trailing commas and spaces are accepted. The convolution form
(``IFMAP Height, ...``) is refused with a message saying what to use instead.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tritium.base.errors import TraceError, TritiumError
from tritium.base.specio import check_choice
from tritium.workloads.schema import new_trace_frame
from tritium.workloads.stats import WeightModel, modelled_stats
from tritium.workloads.trace import DTYPE_BYTES, TERNARY_BITS
from tritium.workloads.trace_record import Trace

__all__ = ["trace_from_scalesim"]

_PRECISIONS = ("ternary", "int8", "fp16", "bf16")


def trace_from_scalesim(
    path: str | Path, *, weights: str = "ternary", weight_model: WeightModel = WeightModel()
) -> Trace:
    """Read a SCALE-Sim GEMM topology (``Layer,M,N,K``) as a trace of linear ops: one pass,
    not a request (its :class:`~tritium.workloads.Trace` has no scenario).

    ``weights`` is the weight precision to assume: "ternary" (INT8 activations,
    statistics from ``weight_model``), "int8", "fp16" or "bf16".
    """
    check_choice("weights", weights, _PRECISIONS)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TritiumError(f"SCALE-Sim topology {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TritiumError(f"SCALE-Sim topology {path}: cannot read ({err})") from None
    records = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines())]
    records = [[c for c in row if c] for row in records]
    records = [row for row in records if row]
    if not records:
        raise TraceError(f"SCALE-Sim topology {path}: empty file")
    header = [h.lower() for h in records[0]]
    if header[:4] != ["layer", "m", "n", "k"]:
        raise TraceError(f"SCALE-Sim topology {path}: header {', '.join(records[0])!s} is not the GEMM form; "
                         "expected 'Layer, M, N, K' (convolution topologies must be converted to GEMM form)")
    rows = []
    for line, rec in enumerate(records[1:], start=2):
        if len(rec) < 4:
            raise TraceError(f"SCALE-Sim topology {path}, line {line}: expected 4 fields (Layer, M, N, K), got {len(rec)}")
        name = rec[0]
        dims = {}
        for col, value in zip("mnk", rec[1:4]):
            try:
                dims[col] = int(value)
            except ValueError:
                dims[col] = None
            if dims[col] is None or dims[col] < 1:
                raise TraceError(f"SCALE-Sim topology {path}, line {line}: {col.upper()} = {value!r} "
                                 "must be a positive integer")
        rows.append(_linear_row(len(rows), name, dims["m"], dims["k"], dims["n"], weights, weight_model))
    if not rows:
        raise TraceError(f"SCALE-Sim topology {path}: no layers after the header")
    record = Trace(new_trace_frame(rows, where=f"SCALE-Sim topology {path}"), model=f"scalesim:{path.stem}",
                   weight_stats=weight_model.describe() if weights == "ternary" else "")
    return record


def _linear_row(index: int, name: str, m: int, k: int, n: int, weights: str, weight_model: WeightModel) -> dict:
    row = {"block": 0, "phase": "prefill", "steps": 1, "layer": index, "op": name, "m": m, "k": k, "n": n,
           "groups": 1, "macs": m * k * n, "weight_name": name}
    if weights == "ternary":
        st = modelled_stats(n, k, weight_model)
        row.update(kind="ternary_linear", weight_dtype="ternary", act_dtype="int8", out_dtype="int32",
                   weight_bytes=k * n * TERNARY_BITS // 8, act_in_bytes=m * k, act_out_bytes=m * n * 4,
                   zero_frac=st.zero_frac, pos_frac=st.pos_frac, neg_frac=st.neg_frac,
                   nnz_lo=st.nnz_lo, nnz_hi=st.nnz_hi, nnz_hist=st.hist_string(), stats_source=st.source)
    else:
        size = DTYPE_BYTES[weights]
        out = "int32" if weights == "int8" else weights
        row.update(kind="linear", weight_dtype=weights, act_dtype=weights, out_dtype=out,
                   weight_bytes=k * n * size, act_in_bytes=m * k * size, act_out_bytes=m * n * DTYPE_BYTES[out])
    return row
