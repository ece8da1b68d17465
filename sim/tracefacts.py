"""What the simulator needs from a trace alone, worked out once per trace table.

A design-space sweep simulates thousands of chips on one trace. Validating the table,
finding its distinct ops, and working out each block's layer structure and op
dependencies depend on the trace only, so :func:`trace_facts` does them once and
keeps the result beside a private copy of the table; a later call with the same
table object reuses it only if the table still equals that copy exactly (every
column's values bit for bit, dtypes, index, column names and ``attrs``). A different
table, or the same one modified in place, is worked out afresh, and a malformed one
raises :class:`~tritium.base.errors.TraceError` every time (nothing is cached for it).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tritium.sim.engine import dependencies
from tritium.sim.work import ROW_PARALLEL
from tritium.workloads.schema import validate_trace

__all__ = ["StepRun", "BlockPlan", "TraceFacts", "trace_facts", "block_plan"]

_CACHE_TRACES = 64  # traces kept (a sweep uses one per workload, a pipeline one per stage) ...
_CACHE_ROWS = 250_000  # ... and rows over all of them (each is kept with a copy)


@dataclass(frozen=True, slots=True)
class StepRun:
    """One SimPy run of a block's step: the distinct-op code of each op (in trace order)
    and the op each one waits for (:func:`~tritium.sim.engine.dependencies`)."""

    codes: tuple[int, ...]
    deps: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BlockPlan:
    """How a block's step is composed: one run of all its ops (``two`` is None), or, when
    its decoder layers are identical, runs with one and with two of them, the rest
    extrapolated: ``one + more_layers * (two - one)`` cycles. ``steps``: the block's steps."""

    block: int
    steps: int
    one: StepRun
    two: StepRun | None
    more_layers: int


@dataclass(frozen=True, slots=True)
class TraceFacts:
    """The trace-only inputs of :func:`tritium.sim.simulate` (see the module docstring).

    Attributes:
        frame: the validated table (the caller's own object when its dtypes were canonical).
        max_ternary_k: the longest ternary dot product (None without ternary ops).
        ternary_weights: ternary weights of the first block (sum of K x N), as a float.
        kv_bytes: KV-cache bytes written over the request.
        other_weight_bytes: bytes of the high-precision weights one forward pass reads (the
            first block's non-ternary rows: LM head, FP linears, norm gains; a lower bound on
            what DRAM holds besides the ternary weights, as an untied embedding table is not read whole).
        held_weight_bytes: the high-precision weights memory holds besides the embedding table (an
            LM head tied to it, in its dtype, is the table). embedding_table_bytes: vocabulary x
            hidden at the embedding's dtype. peak_act_bytes: the largest op's input plus output of one step.
        codes: each row's distinct-op code (rows with equal signatures, and equally
            row-parallel, share one); rows: the first row of each code, as a namedtuple.
        steps, macs, act_bytes: per-row steps, MACs and activation bytes in + out.
        blocks: each block's :class:`BlockPlan`, by block number.
        prefill_blocks, decode_blocks: block numbers of each phase, sorted.
        ternary_macs: MACs of the ternary linears, as a float.
    """

    frame: pd.DataFrame
    max_ternary_k: int | None
    ternary_weights: float
    kv_bytes: int
    other_weight_bytes: int
    held_weight_bytes: int
    embedding_table_bytes: int
    peak_act_bytes: int
    codes: np.ndarray
    rows: tuple
    steps: np.ndarray
    macs: np.ndarray
    act_bytes: np.ndarray
    blocks: tuple[BlockPlan, ...]
    prefill_blocks: tuple[int, ...]
    decode_blocks: tuple[int, ...]
    ternary_macs: float


_cache: dict[int, tuple[pd.DataFrame, tuple, TraceFacts]] = {}  # id(table) -> (table, its copy, facts)
_lock = threading.Lock()  # Dask workers may simulate in threads


def trace_facts(trace: pd.DataFrame) -> TraceFacts:
    """The :class:`TraceFacts` of ``trace`` (validated; reused while the table is unchanged).

    Raises:
        TraceError: the table is malformed (:func:`~tritium.workloads.schema.validate_trace`).
    """
    entry = _cache.get(id(trace))
    if entry is not None and entry[0] is trace and _unchanged(trace, entry[1]):
        return entry[2]
    facts = _work_out(trace)
    entry = (trace, _snapshot(trace), facts)
    with _lock:
        _cache.pop(id(trace), None)
        _cache[id(trace)] = entry
        while len(_cache) > _CACHE_TRACES or (len(_cache) > 1 and _cached_rows() > _CACHE_ROWS):
            del _cache[next(iter(_cache))]
    return facts


def _cached_rows() -> int:
    return sum(len(table) for table, _, _ in _cache.values())


def block_plan(block: int, steps: int, idx: np.ndarray, layers: np.ndarray, kinds: list[str], sigs: list[str],
               codes: np.ndarray) -> BlockPlan:
    """The :class:`BlockPlan` of the block made of rows ``idx``.

    Decoder layers are the block's layers >= 0 but its last (the final norm and LM head);
    they are identical when there are more than two and all have the same op signatures.
    """
    blk_layers = layers[idx]
    decoder = sorted({int(x) for x in blk_layers if x >= 0} - {int(blk_layers.max())}) if len(idx) else []
    per_layer = {lay: tuple(sigs[i] for i in idx[blk_layers == lay]) for lay in decoder}
    identical = len(decoder) > 2 and len(set(per_layer.values())) == 1

    def run(selected: np.ndarray) -> StepRun:
        return StepRun(tuple(int(codes[i]) for i in selected), tuple(dependencies([kinds[i] for i in selected])))

    if not identical:
        return BlockPlan(block, steps, run(idx), None, 0)
    first, second = decoder[0], decoder[1]
    keep_one = idx[~np.isin(blk_layers, decoder) | (blk_layers == first)]
    keep_two = idx[~np.isin(blk_layers, decoder) | (blk_layers == first) | (blk_layers == second)]
    return BlockPlan(block, steps, run(keep_one), run(keep_two), len(decoder) - 1)


def _work_out(raw: pd.DataFrame) -> TraceFacts:
    trace = validate_trace(raw)
    ternary = trace[trace.kind == "ternary_linear"]
    first_block = trace[trace.block == trace.block.min()]
    first_ternary = first_block[first_block.kind == "ternary_linear"]
    first_others = first_block[first_block.kind != "ternary_linear"]
    row_parallel = trace.op.isin(ROW_PARALLEL).to_numpy()
    keys = pd.Series(trace.signature.to_numpy(dtype=object) + np.where(row_parallel, "+", ""))
    codes, _ = pd.factorize(keys)
    first_rows = pd.Series(np.arange(len(trace))).groupby(codes).first().to_numpy()
    blocks = trace.block.to_numpy()
    layers = trace.layer.to_numpy()
    kinds = trace.kind.tolist()
    sigs = trace.signature.tolist()
    plans = []
    for block in sorted(set(blocks.tolist())):
        idx = np.flatnonzero(blocks == block)
        plans.append(block_plan(block, int(trace.steps.iat[idx[0]]), idx, layers, kinds, sigs, codes))
    return TraceFacts(
        frame=trace,
        max_ternary_k=int(ternary.k.max()) if len(ternary) else None,
        ternary_weights=float((first_ternary.k * first_ternary.n).sum()),
        kv_bytes=int(trace.kv_write_bytes.sum()),
        other_weight_bytes=int((first_others.weight_bytes // first_others.steps).sum()),
        held_weight_bytes=_held_weight_bytes(first_others),
        embedding_table_bytes=_embedding_table_bytes(first_block),
        peak_act_bytes=int(((trace.act_in_bytes + trace.act_out_bytes) // trace.steps.clip(lower=1)).max())
        if len(trace) else 0,
        codes=_frozen(codes),
        rows=tuple(trace.iloc[first_rows].itertuples(index=False)),
        steps=_frozen(trace.steps.to_numpy()),
        macs=_frozen(trace.macs.to_numpy()),
        act_bytes=_frozen((trace.act_in_bytes + trace.act_out_bytes).to_numpy()),
        blocks=tuple(plans),
        prefill_blocks=tuple(sorted(set(trace.block[trace.phase == "prefill"]))),
        decode_blocks=tuple(sorted(set(trace.block[trace.phase == "decode"]))),
        ternary_macs=float(trace.macs[trace.kind == "ternary_linear"].sum()),
    )


_DTYPE_BYTES = {"int8": 1, "fp8": 1, "bf16": 2, "fp16": 2, "fp32": 4}


def _embedding_table_bytes(first_block: pd.DataFrame) -> int:
    """The embedding table (vocabulary x hidden at its dtype), from the embedding row's width and
    the LM head's outputs; 0 without both (a SCALE-Sim topology)."""
    embed = first_block[first_block.kind == "embedding"]
    head = first_block[first_block.op == "lm_head"]
    if not len(embed) or not len(head):
        return 0
    return int(head.n.iloc[0]) * int(embed.n.iloc[0]) * _DTYPE_BYTES.get(str(embed.weight_dtype.iloc[0]), 2)


def _held_weight_bytes(first_others: pd.DataFrame) -> int:
    """High-precision weights memory holds besides the embedding table: every non-ternary row's
    weights of one pass, without the embedding rows it gathers and without an LM head tied to the
    embedding table in the table's dtype (it is that table)."""
    others = first_others[first_others.kind != "embedding"]
    embed_dtype = first_others.weight_dtype[first_others.kind == "embedding"]
    tied = (others.op == "lm_head") & (others.weight_name == "embed_tokens")
    if len(embed_dtype):
        tied &= others.weight_dtype == embed_dtype.iloc[0]
    kept = others[~tied]
    return int((kept.weight_bytes // kept.steps).sum())


def _frozen(values: np.ndarray) -> np.ndarray:
    out = np.array(values, copy=True)
    out.flags.writeable = False
    return out


def _columns(df: pd.DataFrame) -> list:
    """Each column's values as stored (numpy array or extension array), by position."""
    get = getattr(df, "_get_column_array", None)  # pandas' own accessor; avoids a Series per column
    if get is None:
        return [df.iloc[:, i].array for i in range(df.shape[1])]
    return [get(i) for i in range(df.shape[1])]


def _snapshot(df: pd.DataFrame) -> tuple:
    arrays = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a.copy() for a in _columns(df)]
    return (df.columns, list(df.columns.names), df.index, list(df.index.names), copy.deepcopy(df.attrs), arrays)


def _unchanged(df: pd.DataFrame, snapshot: tuple) -> bool:
    """Whether ``df`` still equals its snapshot exactly (values bit for bit, labels, attrs)."""
    columns, column_names, index, index_names, attrs, arrays = snapshot
    if df.shape != (len(index), len(arrays)):
        return False
    if df.columns is not columns and not (df.columns.dtype == columns.dtype and df.columns.equals(columns)):
        return False
    if df.index is not index and not (type(df.index) is type(index) and df.index.dtype == index.dtype
                                      and df.index.equals(index)):
        return False
    if not (_equal(list(df.columns.names), column_names) and _equal(list(df.index.names), index_names)
            and _equal(df.attrs, attrs)):
        return False
    for now, then in zip(_columns(df), arrays):
        if now.dtype != then.dtype:
            return False
        if isinstance(now, np.ndarray):
            if now.dtype.kind in "fc":  # bit for bit: -0.0 is not 0.0, NaN payloads count
                now, then = _bits(now), _bits(then)
            if now.dtype == object:
                if now.tolist() != then.tolist():
                    return False
            elif not np.array_equal(now, then):
                return False
        elif not (type(now) is type(then) and now.equals(then)):
            return False
    return True


def _bits(values: np.ndarray) -> np.ndarray:
    if values.itemsize in (1, 2, 4, 8):
        return values.view(f"u{values.itemsize}")
    return np.ascontiguousarray(values).view(np.uint8)


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # values that do not compare as one bool count as changed
        return False
