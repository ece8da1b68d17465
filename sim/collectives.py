"""Collectives between chips: all-reduce, all-gather and reduce-scatter as ring or tree algorithms.

Tensor parallelism over ``chips`` (Megatron-style: Shoeybi et al. 2019, arXiv:1909.08053)
splits the column-parallel projections (q, k, v, gate, up) by outputs and the
row-parallel ones (o, down) by inputs, so each decoder layer ends two row-parallel
projections with an all-reduce of their outputs; the vocabulary-parallel LM head ends
with an all-gather of its logits. Norms, residual adds and the quantization of the
hidden state are replicated on every chip.

Time of one collective of an ``n``-byte message (each chip's full output) on ``p`` chips,
with per-step latency ``a`` (the link's one-way latency) and per-chip bandwidth ``B``
(one direction) at efficiency ``e`` (the same 0.8 the GPU model's NCCL ring gets):

- ``ring`` (bandwidth-optimal; Patarasuk and Yuan 2009): an all-reduce is a
  reduce-scatter and an all-gather, ``2 (p - 1)`` steps of ``n / p`` bytes:
  ``2 (p - 1) (a + n / (p B e))``; an all-gather or a reduce-scatter is half of it.
- ``tree`` (latency-optimal recursive doubling; Thakur, Rabenseifner and Gropp 2005):
  ``ceil(log2 p)`` steps, each exchanging the whole message: ``ceil(log2 p) (a + n / (B e))``
  for an all-reduce or an all-gather. It needs a partner at distance ``2**k`` in one hop,
  so it runs on a ``switch``; on a ``ring`` a round whose partner is ``h`` hops away takes
  ``h`` times as long (latency per hop, each link shared by ``h`` flows).
- On a ``torus2d`` of ``x`` by ``y`` chips the ring runs per dimension (reduce-scatter along
  x, then along y on ``n / x`` bytes, then the all-gathers back): ``2 (x - 1) (a + n / (x B e))
  + 2 (y - 1) (a + n / (x y B e))``.
- ``auto`` takes the faster of the algorithms the topology runs, per message, as NCCL does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tritium.base.errors import SpecError

__all__ = ["TOPOLOGIES", "ALGORITHMS", "COLLECTIVES", "DEFAULT_LINK_EFFICIENCY", "CollectiveCost", "collective",
           "torus_dims"]

TOPOLOGIES = ("ring", "torus2d", "switch")
"""How the chips are joined: a ring of links, a 2D torus, or one switch every chip connects to."""
ALGORITHMS = ("auto", "ring", "tree")
"""Collective algorithms (see the module docstring)."""
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter")
DEFAULT_LINK_EFFICIENCY = 0.8
"""Share of a link's bandwidth a collective reaches: the figure the GPU model's NCCL ring uses
(:attr:`tritium.analysis.gpu.params.Calibration.link_efficiency`), so both sides pay the same."""


@dataclass(frozen=True, slots=True)
class CollectiveCost:
    """One collective: ``seconds``, the ``bytes_sent`` by each chip, the ``steps`` and the
    ``algorithm`` that ran (``ring``, ``tree`` or ``ring2d``)."""

    seconds: float
    bytes_sent: float
    steps: int
    algorithm: str


def torus_dims(chips: int, dims_x: int = 0) -> tuple[int, int]:
    """``(x, y)`` of a 2D torus of ``chips``: ``dims_x`` by ``chips / dims_x``, or the most square
    factorization when ``dims_x`` is 0.

    Raises:
        SpecError: ``link.dims_x`` does not divide ``chips`` into two dimensions of at least 2.
    """
    if dims_x:
        if chips % dims_x or dims_x < 2 or chips // dims_x < 2:
            raise SpecError("link.dims_x", dims_x, f"must divide chips = {chips} into two dimensions of at least 2 "
                            "chips each")
        return dims_x, chips // dims_x
    for x in range(math.isqrt(chips), 1, -1):
        if chips % x == 0:
            return x, chips // x
    raise SpecError("link.topology", "torus2d", f"needs a chip count that is a product of two numbers >= 2; "
                    f"chips = {chips} is not (use 'ring' or 'switch')")


def _ring(kind: str, n: float, p: int, a: float, bw: float) -> CollectiveCost:
    steps = (2 if kind == "all_reduce" else 1) * (p - 1)
    return CollectiveCost(steps * (a + n / (p * bw)), steps * n / p, steps, "ring")


def _tree(kind: str, n: float, p: int, a: float, bw: float, on_ring: bool) -> CollectiveCost:
    """Recursive doubling (halving for a reduce-scatter). On a ring topology the partner of round
    ``k`` is ``2**k`` hops away: that round pays the latency per hop and shares each link with
    ``2**k`` flows."""
    rounds = math.ceil(math.log2(p))
    seconds = sent = 0.0
    for k in range(rounds):
        hops = min(2**k, p - 2**k) if on_ring else 1
        size = n / 2 ** (k + 1) if kind == "reduce_scatter" else n
        seconds += hops * (a + size / bw)
        sent += size
    return CollectiveCost(seconds, sent, rounds, "tree")


def collective(kind: str, nbytes: float, chips: int, *, bandwidth_gb_s: float, latency_s: float,
               efficiency: float = DEFAULT_LINK_EFFICIENCY, algorithm: str = "auto", topology: str = "ring",
               dims_x: int = 0) -> CollectiveCost:
    """The cost of one ``kind`` collective of an ``nbytes`` message over ``chips`` chips.

    >>> c = collective("all_reduce", 1e6, 4, bandwidth_gb_s=100, latency_s=1e-6, algorithm="ring")
    >>> (c.steps, round(c.seconds * 1e6, 2), c.bytes_sent)    # 6 x (1 us + 250 kB / 80 GB/s)
    (6, 24.75, 1500000.0)
    >>> collective("all_reduce", 1e6, 1, bandwidth_gb_s=100, latency_s=1e-6).seconds
    0.0
    """
    if kind not in COLLECTIVES:
        raise SpecError("collective", kind, f"must be one of {', '.join(COLLECTIVES)}")
    if chips <= 1 or nbytes <= 0:
        return CollectiveCost(0.0, 0.0, 0, "none")
    bw = bandwidth_gb_s * 1e9 * efficiency
    a = latency_s
    if topology == "torus2d":
        x, y = torus_dims(chips, dims_x)
        first, second = _ring(kind, nbytes, x, a, bw), _ring(kind, nbytes / x, y, a, bw)
        return CollectiveCost(first.seconds + second.seconds, first.bytes_sent + second.bytes_sent,
                              first.steps + second.steps, "ring2d")
    ring = _ring(kind, nbytes, chips, a, bw)
    if algorithm == "ring":
        return ring
    tree = _tree(kind, nbytes, chips, a, bw, on_ring=topology == "ring")
    if algorithm == "tree":
        return tree
    return min(ring, tree, key=lambda c: c.seconds)
