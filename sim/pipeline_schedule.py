"""The schedule arithmetic of pipeline parallelism (:mod:`tritium.sim.pipeline`): pure functions of
plain numbers.

- :func:`micro_batch_sizes`: a batch cut into micro-batches.
- :func:`split_layers`: the exact least-largest-stage cut of layer costs into contiguous
  stages (dynamic programming); :func:`best_split`: the cut with the least estimated request
  time among those balancing prefill, decode, both, and the layer count.
- :func:`prefill_makespan`: a GPipe forward pass as a permutation flow shop (Huang et al. 2019,
  arXiv:1811.06965): ``(m + p - 1) t`` for ``m`` micro-batches on ``p`` equal stages, a bubble of
  ``(p - 1) / (m + p - 1)`` (Narayanan et al. 2021, arXiv:2104.04473, section 2.2.1).
- :func:`decode_cycle`: the steady-state time of one decode step of every micro-batch in a
  cyclic pipeline: ``max(m, p) t`` for equal stages.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tritium.base.errors import SpecError

__all__ = ["micro_batch_sizes", "split_layers", "best_split", "prefill_makespan", "decode_cycle"]


def micro_batch_sizes(batch: int, micro_batches: int, stages: int) -> list[int]:
    """Sequences in each micro-batch: ``batch`` cut into ``micro_batches`` (0: ``stages``)
    near-equal parts, at most ``batch`` of them, larger ones first.

    >>> micro_batch_sizes(10, 4, 2), micro_batch_sizes(1, 0, 4), micro_batch_sizes(8, 0, 4)
    ([3, 3, 2, 2], [1], [2, 2, 2, 2])
    """
    m = min(micro_batches or stages, batch)
    return [batch // m + (1 if j < batch % m else 0) for j in range(m)]


def split_layers(costs: Sequence[float], stages: int) -> list[int]:
    """Cut ``costs`` (one per layer, in order) into ``stages`` contiguous non-empty runs whose
    largest sum is least; return each run's length. Ties go to the most even run lengths.

    >>> split_layers([1, 1, 1, 1, 1, 1, 1, 1], 4), split_layers([1, 1, 1, 1, 1, 1, 3], 3)
    ([2, 2, 2, 2], [3, 3, 1])
    """
    n = len(costs)
    if not 1 <= stages <= n:
        raise SpecError("pipeline_stages", stages, f"must be at most the model's {n} decoder layers (one at least "
                        "per stage)")
    prefix = np.concatenate([[0.0], np.cumsum(np.asarray(costs, dtype=np.float64))])
    # best[k][i]: least largest run over the first i layers in k runs; exact DP, O(stages x n^2) in numpy
    best = np.full((stages + 1, n + 1), np.inf)
    cut = np.zeros((stages + 1, n + 1), dtype=np.int64)
    best[0][0] = 0.0
    for k in range(1, stages + 1):
        for i in range(k, n + 1):
            j = np.arange(k - 1, i)
            worst = np.maximum(best[k - 1][j], prefix[i] - prefix[j])
            low = worst.min()
            ties = j[worst <= low * (1 + 1e-9)]
            # among equally good cuts, the run length nearest the even share
            cut[k][i] = ties[np.argmin(np.abs((i - ties) - i / k))]
            best[k][i] = low
    lengths, i = [], n
    for k in range(stages, 0, -1):
        lengths.append(i - int(cut[k][i]))
        i = int(cut[k][i])
    return lengths[::-1]


def best_split(prefill: Sequence[float], decode: Sequence[float], stages: int, micro_batches: int) -> list[int]:
    """The cut of the layers (run lengths, as :func:`split_layers`) whose estimated request time is
    least, among the cuts that balance prefill, decode, both together, and the layer count.

    ``prefill[i]`` and ``decode[i]`` are layer ``i``'s seconds in each phase (decode: over all
    its steps). A cut's estimate is the GPipe prefill ``sum + (m - 1) max`` of its stages'
    prefill seconds plus the decode ``max(m max, sum)`` of their decode seconds, for ``m``
    equal micro-batches. Balancing one phase alone can unbalance the other: an FP16 LM head
    weighs like ten ternary layers in decode and like one in prefill.

    >>> best_split([1, 1, 1, 1], [1, 1, 1, 9], 2, 4), best_split([1, 1, 1, 1], [1, 1, 1, 1], 2, 4)
    ([3, 1], [2, 2])
    """
    pre, dec = np.asarray(prefill, dtype=np.float64), np.asarray(decode, dtype=np.float64)

    def estimate(lengths: list[int]) -> float:
        edges = np.cumsum([0, *lengths])
        p_s = np.add.reduceat(pre, edges[:-1])
        d_s = np.add.reduceat(dec, edges[:-1])
        return float(p_s.sum() + (micro_batches - 1) * p_s.max() + max(micro_batches * d_s.max(), d_s.sum()))

    candidates = [split_layers(pre + dec, stages), split_layers(pre, stages), split_layers(dec, stages),
                  split_layers(np.ones(len(pre)), stages)]
    times = [estimate(c) for c in candidates]
    return next(c for c, t in zip(candidates, times) if t <= min(times) * (1 + 1e-9))  # the first of equals


def prefill_makespan(times: np.ndarray, sends: np.ndarray) -> float:
    """Seconds until the last micro-batch leaves the last stage (a permutation flow shop).

    ``times[j, s]``: micro-batch ``j`` on stage ``s``; ``sends[j, s]``: its send from stage ``s``
    to ``s + 1`` (``p - 1`` columns). A stage takes one micro-batch at a time, in order, and
    a link carries one send at a time.

    >>> float(prefill_makespan(np.ones((4, 4)), np.zeros((4, 3))))   # (m + p - 1) t
    7.0
    """
    m, p = times.shape
    stage_free, link_free = np.zeros(p), np.zeros(max(p - 1, 0))
    done = 0.0
    for j in range(m):
        ready = 0.0
        for s in range(p):
            stage_free[s] = max(ready, stage_free[s]) + times[j, s]
            ready = stage_free[s]
            if s < p - 1:
                link_free[s] = max(ready, link_free[s]) + sends[j, s]
                ready = link_free[s]
        done = max(done, ready)
    return float(done)


def decode_cycle(times: np.ndarray, sends: np.ndarray, back: np.ndarray) -> float:
    """Steady-state seconds of one decode step of every micro-batch (a cyclic pipeline).

    ``times`` and ``sends`` as in :func:`prefill_makespan`; ``back[j]``: the send of micro-batch
    ``j``'s sampled tokens from the last stage to the first. The cycle is the longest of the
    busiest stage (all micro-batches), the busiest link, and the slowest round trip.

    >>> decode_cycle(np.ones((2, 4)), np.zeros((2, 3)), np.zeros(2)), decode_cycle(np.ones((8, 4)), np.zeros((8, 3)), np.zeros(8))
    (4.0, 8.0)
    """
    stage = float(times.sum(axis=0).max())
    link = float(sends.sum(axis=0).max()) if sends.size else 0.0
    trip = float((times.sum(axis=1) + sends.sum(axis=1) + back).max())
    return max(stage, link, trip)
