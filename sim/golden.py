"""The functional golden model: what the TLU computes, bit for bit, and the vectors it is tested on.

The Amaranth datapath is tested against these functions, so they model values, not
time (cycles are :meth:`~tritium.sim.chip_parts.TluSpec.dot_product_cycles`):

- :func:`ternary_matmul`: the TLU's integer result for INT-``act_bits`` activations
  times ternary weights, slice by slice into a wrapping ``acc_bits`` accumulator,
  with overflow detection.
- :func:`golden_vectors`: shared test vectors (random and extreme) with their results.

Around it, the rest of the golden model: the BitNet b1.58 quantizers that feed and rescale
the TLU (:mod:`tritium.sim.quantize`) and the weight-SRAM byte formats
(:mod:`tritium.sim.weight_encoding`). Every bad input raises
:class:`~tritium.base.errors.SpecError` naming the argument (and the first bad element's
index), the value and what is allowed.

>>> import numpy as np
>>> from tritium.sim.chip_parts import TluSpec
>>> tlu = TluSpec(rows=4, width=4, acc_bits=16)
>>> acts = np.array([[1, -2, 3, 127, -128]])
>>> weights = np.array([[1, 1, 0, -1, -1], [0, 0, 0, 0, 1]], dtype=np.int8)
>>> r = ternary_matmul(acts, weights, tlu)
>>> r.outputs.tolist(), r.slices, r.overflow
([[0, -128]], 2, False)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tritium.base.arrays import check_range, int_array
from tritium.base.errors import SpecError
from tritium.base.specio import check_int
from tritium.sim.chip_parts import TluSpec

__all__ = ["TluResult", "ternary_matmul", "GoldenCase", "golden_vectors"]

# Largest integer bound for which a float32 / float64 BLAS matmul of integers is exact:
# every partial sum, in whatever order BLAS adds, is an integer below the bound.
_FLOAT32_EXACT = 2**24
_FLOAT64_EXACT = 2**53


# --- the ternary linear unit ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class TluResult:
    """What the TLU's accumulators hold after a ternary matmul (see :func:`ternary_matmul`).

    The arrays are read-only.

    Attributes:
        tlu: the TLU that computed it.
        outputs: int64 (M, N), the ``tlu.acc_bits``-bit two's-complement accumulator
            values as the RTL outputs them (``exact`` wrapped into
            ``[-2**(acc_bits-1), 2**(acc_bits-1) - 1]``).
        exact: int64 (M, N), the true dot products (no wrapping).
        overflow: whether any accumulator held a partial sum outside its range after
            any slice. ``outputs`` can equal ``exact`` even then (a wrap and a wrap
            back), but the hardware did overflow.
        slices: slices per dot product, ceil(K / tlu.width).
    """

    tlu: TluSpec
    outputs: np.ndarray
    exact: np.ndarray
    overflow: bool
    slices: int


def ternary_matmul(
    acts: np.ndarray, weights: np.ndarray, tlu: TluSpec, *, check_overflow: bool = True
) -> TluResult:
    """Compute ``acts @ weights.T`` exactly as the TLU does.

    K is cut into ``ceil(K / tlu.width)`` slices of ``tlu.width`` (the last slice
    zero-padded). For each slice every output's adder tree sign-selects +a, -a or 0 per
    weight and sums them (``tlu.tree_sum_bits`` wide, never overflows), and the sum is
    added into the output's ``tlu.acc_bits``-bit accumulator, which starts at 0 and
    wraps like two's-complement hardware. Output values do not depend on how the N
    rows are tiled into groups of ``tlu.rows`` trees (row n of a tile gets the same
    value as row n alone), nor on the pipelining, ``tlu.zero_handling`` or
    ``tlu.weight_encoding``. Overflow detection is exact, not a bound: it compares
    every partial sum after every slice with the accumulator's range.

    The sums run through float32/float64 BLAS, exact because every partial sum is an
    integer below 2**24 / 2**53 (checked from sum |a| per token); a 512 x 2560 x 6912
    product takes well under a second.

    Args:
        acts: integer array (M, K), M, K >= 1, signed ``tlu.act_bits``-bit values
            (-128..127 for 8 bits); any integer dtype.
        weights: integer array (N, K), N >= 1, trits -1, 0, +1 (int8 expected).
        tlu: the ternary linear unit.
        check_overflow: raise when an accumulator overflows (the default); with
            ``False`` the wrapped outputs are returned with ``overflow=True``.

    Returns:
        A :class:`TluResult`.

    Raises:
        SpecError: a shape, dtype or value is not allowed (the key names the argument
            and the first bad element); ``tlu`` is not a
            :class:`~tritium.sim.chip_parts.TluSpec`; or, with ``check_overflow``, an accumulator
            overflowed (key ``tlu.acc_bits``; the message names the partial sum and
            the ``acc_bits`` these inputs need).
    """
    if not isinstance(tlu, TluSpec):
        raise SpecError("tlu", tlu, "must be a TluSpec")
    acts = int_array("acts", acts, "(M, K)")
    weights = int_array("weights", weights, "(N, K)")
    if weights.shape[1] != acts.shape[1]:
        raise SpecError(
            "weights.shape", weights.shape, f"must be (N, K) with K = {acts.shape[1]} as in acts (M, K)"
        )
    half = 2 ** (tlu.act_bits - 1)
    check_range("acts", acts, -half, half - 1, f"a signed {tlu.act_bits}-bit activation (tlu.act_bits)")
    check_range("weights", weights, -1, 1, "a trit")

    k, width, acc_bits = acts.shape[1], tlu.width, tlu.acc_bits
    starts = np.arange(0, k, width)
    # Per slice, a bound on every |tree sum| (max over tokens of sum |a|), and on every
    # |partial sum| after it; the leading slices whose bound fits the accumulator (and
    # float64) cannot overflow and are done in one matmul, the rest slice by slice.
    slice_abs = np.add.reduceat(np.abs(acts.astype(np.int64)), starts, axis=1)
    slice_bound = slice_abs.max(axis=0)
    prefix_bound = np.cumsum(slice_abs, axis=1).max(axis=0)
    acc_max = 2 ** (acc_bits - 1) - 1
    safe = int(np.searchsorted(prefix_bound, min(acc_max, _FLOAT64_EXACT - 1), side="right"))

    end = int(starts[safe]) if safe < len(starts) else k
    exact = np.zeros((acts.shape[0], weights.shape[0]), dtype=np.int64)
    if safe:
        exact += _exact_matmul(acts[:, :end], weights[:, :end], int(prefix_bound[safe - 1]))
    lowest = highest = 0  # extremes of the partial sums after the checked slices
    first_bad = None  # (slice, partial sum) of the first overflow
    for s in range(safe, len(starts)):
        lo, hi = int(starts[s]), min(int(starts[s]) + width, k)
        exact += _exact_matmul(acts[:, lo:hi], weights[:, lo:hi], int(slice_bound[s]))
        low, high = int(exact.min()), int(exact.max())
        lowest, highest = min(lowest, low), max(highest, high)
        if first_bad is None and (low < -acc_max - 1 or high > acc_max):
            first_bad = (s, low if low < -acc_max - 1 else high)

    if first_bad is not None and check_overflow:
        # Partial sums the loop did not see fit acc_bits, so they need fewer bits.
        needed = max(_signed_bits(lowest), _signed_bits(highest))
        raise SpecError(
            "tlu.acc_bits",
            acc_bits,
            f"accumulator overflow: a partial sum after slice {first_bad[0] + 1} of {len(starts)} is "
            f"{first_bad[1]}, outside [{-acc_max - 1}, {acc_max}]; these inputs need acc_bits >= {needed} "
            f"(any K <= {tlu.max_reduction_length} fits); pass check_overflow=False for the wrapped outputs",
        )
    outputs = _wrap(exact, acc_bits)
    outputs.setflags(write=False)
    exact.setflags(write=False)
    return TluResult(tlu=tlu, outputs=outputs, exact=exact, overflow=first_bad is not None, slices=len(starts))


def _exact_matmul(acts: np.ndarray, weights: np.ndarray, bound: int) -> np.ndarray:
    """int64 ``acts @ weights.T`` through BLAS, exact when sum |a| over K is <= ``bound`` < 2**53."""
    dtype = np.float32 if bound < _FLOAT32_EXACT else np.float64
    return (acts.astype(dtype) @ weights.astype(dtype).T).astype(np.int64)


def _wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """``values`` (int64, |v| < 2**62) as ``bits``-bit two's-complement numbers, as int64."""
    if bits >= 64:
        return values.copy()
    offset = np.int64(2 ** (bits - 1))
    return ((values + offset) & np.int64(2**bits - 1)) - offset


def _signed_bits(value: int) -> int:
    """Fewest two's-complement bits holding ``value``."""
    return (value if value >= 0 else -value - 1).bit_length() + 1



# --- shared test vectors ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GoldenCase:
    """One named test vector of :func:`golden_vectors`.

    Attributes:
        name: what it exercises, e.g. ``"min_acts_minus_weights"``.
        acts: int8 (int16 for act_bits > 8) (M, K).
        weights: int8 trits (N, K).
        result: :func:`ternary_matmul` of them, computed with ``check_overflow=False``
            (``result.overflow`` says whether the accumulator wraps).
    """

    name: str
    acts: np.ndarray
    weights: np.ndarray
    result: TluResult


def golden_vectors(tlu: TluSpec, *, m: int, k: int, n: int, seed: int = 0) -> tuple[GoldenCase, ...]:
    """Test vectors for ``tlu``, shared by the golden, cycle-model and RTL tests.

    With ``lo, hi = -2**(act_bits-1), 2**(act_bits-1) - 1`` the cases are, in order:

    - ``random``: uniform activations in [lo, hi], uniform trits.
    - ``extreme_random``: activations only lo or hi, uniform trits (sign-select of lo).
    - ``max_acts_plus_weights``: all hi, all +1 (sum ``K * hi``).
    - ``min_acts_minus_weights``: all lo, all -1 (the largest sum, ``K * 2**(act_bits-1)``;
      overflows exactly when K > ``tlu.max_reduction_length``).
    - ``min_acts_plus_weights``: all lo, all +1 (the most negative sum).
    - ``alternating``: all lo, trits +1, -1, +1, ... along K (partial sums cancel).
    - ``zero_weights``: random activations, all-zero weights.
    - ``ragged``: ``random`` with K' = width * max(1, k // width) + 1, never a multiple
      of width (the last slice holds one real activation).

    All but ``ragged`` are (m, k) x (n, k). The same ``seed`` gives the same vectors.

    Raises:
        SpecError: ``m``, ``k``, ``n`` not integers >= 1 or ``seed`` not an integer >= 0.
    """
    for key, value in (("m", m), ("k", k), ("n", n)):
        check_int(key, value, lo=1)
    check_int("seed", seed, lo=0)
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (tlu.act_bits - 1)), 2 ** (tlu.act_bits - 1) - 1
    dtype = np.int8 if tlu.act_bits <= 8 else np.int16

    def full(shape: tuple[int, int], value: int, dt: type = dtype) -> np.ndarray:
        return np.full(shape, value, dtype=dt)

    def trits(rows: int, cols: int) -> np.ndarray:
        return rng.integers(-1, 2, size=(rows, cols), dtype=np.int8)

    def uniform(cols: int) -> np.ndarray:
        return rng.integers(lo, hi, size=(m, cols), endpoint=True, dtype=dtype)

    ragged_k = tlu.width * max(1, k // tlu.width) + 1
    alternate = np.broadcast_to(np.where(np.arange(k) % 2, -1, 1).astype(np.int8), (n, k)).copy()
    cases = {
        "random": (uniform(k), trits(n, k)),
        "extreme_random": (np.where(rng.random((m, k)) < 0.5, lo, hi).astype(dtype), trits(n, k)),
        "max_acts_plus_weights": (full((m, k), hi), full((n, k), 1, np.int8)),
        "min_acts_minus_weights": (full((m, k), lo), full((n, k), -1, np.int8)),
        "min_acts_plus_weights": (full((m, k), lo), full((n, k), 1, np.int8)),
        "alternating": (full((m, k), lo), alternate),
        "zero_weights": (uniform(k), full((n, k), 0, np.int8)),
        "ragged": (uniform(ragged_k), trits(n, ragged_k)),
    }
    out = []
    for name, (acts, weights) in cases.items():
        acts.setflags(write=False)
        weights.setflags(write=False)
        result = ternary_matmul(acts, weights, tlu, check_overflow=False)
        out.append(GoldenCase(name=name, acts=acts, weights=weights, result=result))
    return tuple(out)
