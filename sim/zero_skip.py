"""What skipping zeros costs the TLU: the ``skip`` weight storage and gather network, and
``zero_act = "skip"`` windows.

``tlu.zero_handling = "skip"`` stores each weight row as a non-zero bitmap plus a sign per
non-zero (:func:`skip_storage_bits_per_weight`) and feeds each tree through a gather network
that picks a slice's ``width`` non-zeros from a window of activations (:func:`gather_window`).
``tlu.zero_act = "skip"`` compacts each window of ``2 * width`` activations to its non-zeros,
which takes :func:`window_cycles` per token. :mod:`tritium.sim.mapper` maps ternary linears
with these; :mod:`tritium.sim.energy` prices the networks.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from tritium.base.specio import check_float
from tritium.sim.chip_parts import TluSpec

__all__ = ["skip_storage_bits_per_weight", "gather_window", "window_cycles"]


def skip_storage_bits_per_weight(density: float) -> float:
    """Storage of ``skip`` weights, bits per weight: a 1-bit non-zero bitmap plus a sign bit
    per non-zero (``1 + density``); the bitmap is the index metadata the gather network reads."""
    return 1.0 + density


def gather_window(tlu: TluSpec) -> int:
    """Activations the ``skip`` gather network of one tree selects from each cycle: ``2 * width``
    (so a slice of ``width`` non-zeros is found at densities down to one half; sparser rows
    are limited to ``2 * width`` activations per cycle). Each tree input is a ``2 * width``:1
    multiplexer of ``act_bits`` bits."""
    return 2 * tlu.width


@functools.lru_cache(maxsize=1024)
def window_cycles(width: int, act_density: float) -> float:
    """Expected cycles one token spends on a window of ``2 * width`` activations under
    ``zero_act = "skip"``: ``ceil(nnz / width)`` for ``nnz`` non-zero activations in the window,
    Binomial(2 * width, ``act_density``) (zeros independent): ``P(nnz >= 1) + P(nnz > width)``.
    A dense window takes 2 cycles (no faster than no skip), one at most half full takes 1.

    >>> window_cycles(64, 1.0), window_cycles(64, 0.0), round(window_cycles(64, 0.2), 6)
    (2.0, 0.0, 1.0)
    """
    check_float("act_density", act_density, lo=0.0, hi=1.0)
    window = 2 * width
    if act_density <= 0.0:
        return 0.0
    if act_density >= 1.0:
        return 2.0
    j = np.arange(window + 1, dtype=np.float64)
    log_pmf = (math.lgamma(window + 1) - np.array([math.lgamma(x + 1) for x in j])
               - np.array([math.lgamma(window - x + 1) for x in j])
               + j * math.log(act_density) + (window - j) * math.log1p(-act_density))
    pmf = np.exp(log_pmf)
    return float(min(2.0, max(0.0, 1.0 - pmf[0] + pmf[width + 1:].sum())))  # no rounding past the ends
