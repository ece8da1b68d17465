"""What the simulator needs from a trace alone: :class:`TraceFacts`, worked out once per trace.

A design-space sweep simulates thousands of chips on one trace. The distinct ops, the
blocks' layer structure and op dependencies, and the sizes that decide where weights and
the KV cache live depend on the trace only: :attr:`tritium.workloads.Trace.facts` works
them out once (:func:`trace_facts`) and keeps them on the frozen trace record, so every
simulation of that record reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tritium.workloads.dataflow import ROW_PARALLEL, BlockPlan, block_plan

__all__ = ["TraceFacts", "trace_facts"]


@dataclass(frozen=True, slots=True)
class TraceFacts:
    """The trace-only inputs of :func:`tritium.sim.simulate` (see the module docstring).

    Attributes:
        frame: the validated table (:attr:`tritium.workloads.Trace.table`).
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



def trace_facts(trace: pd.DataFrame) -> TraceFacts:
    """The :class:`TraceFacts` of ``trace``, a validated trace table
    (:func:`~tritium.workloads.schema.validate_trace`; :attr:`tritium.workloads.Trace.table` is one)."""
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
