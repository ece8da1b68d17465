"""Cycle counts of each unit: pure functions of (chip part, op shape).

These are the exact counts of the chip template in DESIGN.md. The TLU count is
the contract with the RTL: the HDL's controller takes exactly
:func:`tlu_cycles` cycles for a dense ternary GEMM, and its tests check that.

TLU schedule. An M x K x N ternary GEMM is cut into *passes*: one token (a row
of M) times one tile of ``rows`` outputs. A pass streams ``ceil(K / width)``
activation slices, one per cycle; passes follow each other with no bubble (the
accumulator loads instead of adding on a pass's first slice). The pipeline fills
once per op and drains once, so an op of P passes on one core takes
``P * ceil(K / width) + pipeline_depth_cycles`` cycles. With several cores, the
output tiles are split between cores in contiguous blocks and the op takes as
long as the busiest core. ``zero_handling = "skip"`` streams only non-zero
weights: a pass takes as many slices as its densest row needs (the trees of a
tile share the activation broadcast), at least one.
"""

from __future__ import annotations

import math

import numpy as np

from tritium.sim.chip_parts import AttentionSpec, TluSpec, VectorSpec
from tritium.base.specio import check_int

__all__ = [
    "VECTOR_OPS_PER_ELEMENT",
    "tlu_cycles",
    "tlu_cycles_skip",
    "expected_skip_slices",
    "mac_array_cycles",
    "vector_cycles",
    "transfer_cycles",
]

VECTOR_OPS_PER_ELEMENT = {
    "rmsnorm": 4,  # square, accumulate, scale by rsqrt, multiply by the gain
    "softmax": 5,  # running max, subtract, exp, accumulate, divide
    "rope": 3,  # x * cos + rotate(x) * sin: two multiplies, one add
    "activation": 4,  # GLU: act(gate) (exp/reciprocal or square), times up
    "residual": 1,  # one add
    "quantize": 3,  # absmax compare, scale, round-and-clamp
    "dequantize": 1,  # one multiply by the combined scale
}
"""Elementary vector-unit operations per element, by op kind (a design assumption
of this model: each lane does one elementary FP operation per cycle). Embedding
gathers and KV-cache writes are pure data movement: the DMA engines do them."""


def _tiles_per_core(n: int, rows: int, cores: int) -> int:
    return math.ceil(math.ceil(n / rows) / cores)


def tlu_cycles(tlu: TluSpec, m: int, k: int, n: int, *, cores: int = 1) -> int:
    """Cycles of a dense (``none``/``gate``) M x K x N ternary GEMM on ``cores`` TLUs.

    ``m * ceil(ceil(n / rows) / cores) * ceil(k / width) + pipeline_depth_cycles``.
    For one pass (m = 1, n <= rows) this is :meth:`TluSpec.dot_product_cycles`.
    """
    for name, value in (("M", m), ("K", k), ("N", n), ("cores", cores)):
        check_int(name, value, lo=1)
    passes = m * _tiles_per_core(n, tlu.rows, cores)
    return passes * math.ceil(k / tlu.width) + tlu.pipeline_depth_cycles


def tlu_cycles_skip(tlu: TluSpec, m: int, nnz_per_row: np.ndarray, *, cores: int = 1) -> int:
    """Cycles of a ternary GEMM with ``skip`` zero handling, from real per-row non-zero counts.

    ``nnz_per_row`` has one entry per output row (N of them). Output row tiles are
    ``rows`` consecutive rows; a pass over a tile takes ``max(1, ceil(max nnz / width))``
    slices; core ``c`` takes the ``c``-th contiguous block of tiles.
    """
    nnz = np.asarray(nnz_per_row, dtype=np.int64)
    check_int("M", m, lo=1)
    check_int("cores", cores, lo=1)
    n = nnz.size
    tiles = math.ceil(n / tlu.rows)
    padded = np.zeros(tiles * tlu.rows, dtype=np.int64)
    padded[:n] = nnz
    slices = np.maximum(1, -(-padded.reshape(tiles, tlu.rows).max(axis=1) // tlu.width))
    per_core = math.ceil(tiles / cores)
    busiest = max(int(slices[c * per_core:(c + 1) * per_core].sum()) for c in range(cores))
    return m * busiest + tlu.pipeline_depth_cycles


def expected_skip_slices(tlu: TluSpec, lo: int, hi: int, hist: tuple[int, ...] | np.ndarray) -> float:
    """Expected slices per pass under ``skip``, from a per-row non-zero histogram.

    Rows are drawn independently from the histogram (counts uniform within a bin);
    a pass takes ``max(1, ceil(max over its rows nnz / width))`` slices, so the
    expectation is over the maximum of ``rows`` draws. Never more than the dense
    ``ceil(K / width)`` when ``hi <= K``.
    """
    counts = np.asarray(hist, dtype=np.float64)
    edges = np.linspace(lo, hi + 1, counts.size + 1)
    s_max = max(1, math.ceil(hi / tlu.width))
    s = np.arange(0, s_max + 1)
    # P(nnz <= s * width): piecewise-linear CDF over each bin's integer range
    x = s * tlu.width + 1.0  # nnz < x  <=>  nnz <= s * width
    cdf_edges = np.concatenate(([0.0], np.cumsum(counts))) / counts.sum()
    cdf = np.interp(x, edges, cdf_edges, left=0.0, right=1.0)
    cdf_max = cdf ** tlu.rows  # P(max over a tile's rows <= s * width)
    cdf_max[-1] = 1.0
    pmf = np.diff(np.concatenate(([0.0], cdf_max)))
    return float(np.sum(np.maximum(s, 1) * pmf))


def mac_array_cycles(
    att: AttentionSpec,
    m: int,
    k: np.ndarray | int,
    n: np.ndarray | int,
    groups: int,
    *,
    causal: str | None = None,
    cores: int = 1,
) -> int:
    """Cycles of ``groups`` M x K x N products on an output-stationary ``mac_rows x mac_cols`` array.

    Each output tile takes as many cycles as its reduction length; tiles follow back
    to back and the array fills once per call (``mac_rows + mac_cols - 1`` cycles).
    Output tiles are ``mac_rows`` rows of M by ``mac_cols`` columns of N; when M is
    smaller than ``mac_rows`` (decode), the M x N outputs are packed ``mac_rows *
    mac_cols`` at a time instead, each MAC fed its own weight column.
    ``k`` and ``n`` may be arrays with one entry per decode step (counts are summed).
    ``causal`` is for prefill attention, where query i sees keys 0..i: ``"n"`` for
    Q K^T (a row tile needs only the key columns up to its last query), ``"k"`` for
    P V (a row tile reduces only over those keys). Groups are split evenly between cores;
    with fewer groups than cores (a linear layer: one group), each group's N outputs are
    split between the ``cores // groups`` cores it has (column-parallel, like the tensor
    parallelism of the linears themselves).
    """
    r, c = att.mac_rows, att.mac_cols
    k_arr = np.atleast_1d(np.asarray(k, dtype=np.int64))[:, None]
    n_arr = np.atleast_1d(np.asarray(n, dtype=np.int64))[:, None]
    if groups < cores:
        split = cores // groups  # cores per group: each takes a slice of the group's N
        n_arr = -(-n_arr // split)
        cores = groups
    if causal is None and m < r:
        # few rows of outputs (decode): pack the M x N outputs r * c at a time
        tile_cycles = -(-(m * n_arr) // (r * c)) * k_arr
    else:
        last = np.minimum((np.arange(math.ceil(m / r)) + 1) * r, m)[None, :]  # queries up to each row tile's end
        if causal == "n":
            n_arr = np.minimum(last, n_arr)
        elif causal == "k":
            k_arr = np.minimum(last, k_arr)
        tile_cycles = np.broadcast_to(-(-n_arr // c) * k_arr, (max(k_arr.shape[0], n_arr.shape[0]), last.shape[1]))
    per_core = math.ceil(groups / cores)
    return int(per_core * int(tile_cycles.sum())) + r + c - 1


def vector_cycles(vec: VectorSpec, kind: str, elements: int, *, cores: int = 1) -> int:
    """Cycles of a vector op: ``elements * ops_per_element / (lanes * cores)``, rounded up."""
    ops = VECTOR_OPS_PER_ELEMENT.get(kind, 0) * elements
    return math.ceil(ops / (vec.lanes * cores))


def transfer_cycles(nbytes: int, bytes_per_cycle: float, *, burst_bytes: int = 1, latency_cycles: int = 0) -> int:
    """Cycles to move ``nbytes`` at ``bytes_per_cycle``, in whole bursts, plus a fixed latency.

    Zero bytes take zero cycles (no transfer is issued).
    """
    if nbytes <= 0:
        return 0
    bursts = math.ceil(nbytes / burst_bytes)
    return math.ceil(bursts * burst_bytes / bytes_per_cycle) + latency_cycles
