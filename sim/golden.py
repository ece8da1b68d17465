"""The functional golden model: what the chip computes, bit for bit.

The Amaranth datapath is tested against these functions, so they model values, not
time (cycles are :meth:`~tritium.sim.chip_parts.TluSpec.dot_product_cycles`):

- :func:`ternary_matmul`: the TLU's integer result for INT-``act_bits`` activations
  times ternary weights, slice by slice into a wrapping ``acc_bits`` accumulator,
  with overflow detection.
- :func:`quantize_absmax`, :func:`ternarize_absmean`, :func:`dequantize`: the BitNet
  b1.58 quantizers around it (transformers' ``BitLinear`` / ``ActQuant`` /
  ``WeightQuant``), the vector unit's part of a ternary linear layer.
- :func:`encode_weights`, :func:`decode_weights`: the weight-SRAM byte formats.
- :func:`golden_vectors`: shared test vectors (random and extreme) with their results.

Every bad input raises :class:`~tritium.base.errors.SpecError` naming the argument (and the
first bad element's index), the value and what is allowed.

>>> import numpy as np
>>> from tritium.sim.chip_parts import TluSpec
>>> tlu = TluSpec(rows=4, width=4, acc_bits=16)
>>> acts = np.array([[1, -2, 3, 127, -128]])
>>> weights = np.array([[1, 1, 0, -1, -1], [0, 0, 0, 0, 1]], dtype=np.int8)
>>> r = ternary_matmul(acts, weights, tlu)
>>> r.outputs.tolist(), r.slices, r.overflow
([[0, -128]], 2, False)
>>> encode_weights(np.array([1, -1, 0, 1], dtype=np.int8), "2bit").tolist()
[77]
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np

from tritium.base.errors import SpecError
from tritium.sim.chip_parts import WEIGHT_ENCODINGS, TluSpec
from tritium.base.specio import check_choice, check_int

__all__ = [
    "TluResult",
    "ternary_matmul",
    "quantize_absmax",
    "ternarize_absmean",
    "dequantize",
    "TRITS_PER_BYTE",
    "encode_weights",
    "decode_weights",
    "GoldenCase",
    "golden_vectors",
]

_SCALE_FLOOR = 1e-5
"""Smallest max|x| or mean|w| a scale is computed from (transformers' ``clamp_(min=1e-5)``)."""

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
    acts = _int_array("acts", acts, "(M, K)")
    weights = _int_array("weights", weights, "(N, K)")
    if weights.shape[1] != acts.shape[1]:
        raise SpecError(
            "weights.shape", weights.shape, f"must be (N, K) with K = {acts.shape[1]} as in acts (M, K)"
        )
    half = 2 ** (tlu.act_bits - 1)
    _check_range("acts", acts, -half, half - 1, f"a signed {tlu.act_bits}-bit activation (tlu.act_bits)")
    _check_range("weights", weights, -1, 1, "a trit")

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


# --- BitNet b1.58 quantization ----------------------------------------------------------


def quantize_absmax(x: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Per-token absmax quantization of activations (BitNet b1.58, transformers ``BitLinear``).

    For each row (the last axis is K): ``scale = (2**(bits-1) - 1) / max(max|x|, 1e-5)``
    and ``q = clamp(round(x * scale), -2**(bits-1), 2**(bits-1) - 1)``, rounding half to
    even like ``torch.round``. The arithmetic is float32 (transformers calls
    ``.float()`` first) and the division is a reciprocal times ``2**(bits-1) - 1`` as
    torch evaluates it, so ``q`` and ``scale`` equal transformers' bit for bit. An
    all-zero row gets ``scale = (2**(bits-1) - 1) / 1e-5`` and ``q = 0``.

    Args:
        x: real array (..., K), finite; cast to float32.
        bits: activation bits, 2 to 16 (``tlu.act_bits``).

    Returns:
        ``(q, scale)``: ``q`` int8 (int16 for bits > 8) of ``x``'s shape; ``scale``
        float32 of shape ``x.shape[:-1]``, quantized units per unit of ``x``.

    Raises:
        SpecError: ``x`` is not a finite real array with at least one axis, or ``bits``
            is out of range.
    """
    check_int("bits", bits, lo=2, hi=16)
    x = _real_array("x", x)
    top = 2 ** (bits - 1) - 1
    # torch evaluates ``top / tensor`` as ``tensor.reciprocal() * top``; so does this.
    absmax = np.maximum(np.abs(x).max(axis=-1, initial=0), np.float32(_SCALE_FLOOR))
    scale = np.float32(1.0) / absmax * np.float32(top)
    q = np.clip(np.rint(x * scale[..., None]), -top - 1, top)
    return q.astype(np.int8 if bits <= 8 else np.int16), scale


def ternarize_absmean(w: np.ndarray) -> tuple[np.ndarray, np.float32]:
    """Absmean ternarization of a weight matrix (BitNet b1.58, transformers ``WeightQuant``).

    ``scale = max(mean|w|, 1e-5)`` over the whole tensor and
    ``trits = clamp(round(w * (1 / scale)), -1, 1)`` in float32, rounding half to even
    (multiplying by the reciprocal, as transformers does, rather than dividing).
    ``mean|w|`` is summed in float64 and rounded to float32, so it can differ from
    torch's float32 sum in the last bit.

    Args:
        w: real array of any shape with at least one axis, finite; cast to float32.

    Returns:
        ``(trits, scale)``: ``trits`` int8 of ``w``'s shape in {-1, 0, +1}; ``scale``
        a float32 scalar, ``w`` is approximately ``trits * scale``.

    Raises:
        SpecError: ``w`` is not a finite real array with at least one axis.
    """
    w = _real_array("w", w)
    scale = np.float32(max(float(np.abs(w).mean(dtype=np.float64)) if w.size else 0.0, _SCALE_FLOOR))
    trits = np.clip(np.rint(w * (np.float32(1.0) / scale)), -1, 1)
    return trits.astype(np.int8), scale


def dequantize(acc: np.ndarray, act_scale: np.ndarray, weight_scale: float | np.ndarray) -> np.ndarray:
    """Turn TLU accumulator values back into real outputs: ``acc / act_scale[..., None] * weight_scale``.

    Args:
        acc: integer array (..., N), e.g. :attr:`TluResult.exact` (M, N).
        act_scale: the activation scales from :func:`quantize_absmax`, shape ``acc.shape[:-1]``.
        weight_scale: ``mean|W|`` from :func:`ternarize_absmean` (a scalar), or one per
            output (N,). Note transformers' packed ``BitLinear`` stores the reciprocal.

    Returns:
        float64 array of ``acc``'s shape.
    """
    acc = np.asarray(acc)
    act_scale = np.asarray(act_scale, dtype=np.float64)
    if act_scale.shape != acc.shape[:-1]:
        raise SpecError("act_scale.shape", act_scale.shape, f"must be acc.shape[:-1] = {acc.shape[:-1]}")
    return acc.astype(np.float64) / act_scale[..., None] * np.asarray(weight_scale, dtype=np.float64)


# --- weight encodings -------------------------------------------------------------------

TRITS_PER_BYTE = types.MappingProxyType({"2bit": 4, "5trit": 5})
"""Weights per byte of each :data:`~tritium.sim.chip_parts.WEIGHT_ENCODINGS` value."""

_2BIT_TRIT = np.array([0, 1, 0, -1], dtype=np.int8)  # code 0b10 is invalid
_5TRIT_POWERS = 3 ** np.arange(5, dtype=np.uint16)


def _decode_tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per encoding: (256, weights per byte) int8 trits of each byte, and which bytes are invalid."""
    byte = np.arange(256)
    codes = (byte[:, None] >> (2 * np.arange(4))) & 3
    digits = (byte[:, None] // 3 ** np.arange(5)) % 3
    tables = {
        "2bit": (_2BIT_TRIT[codes], (codes == 2).any(axis=1)),
        "5trit": ((digits - 1).astype(np.int8), byte >= 243),
    }
    for trits, invalid in tables.values():
        trits.setflags(write=False)
        invalid.setflags(write=False)
    return tables


_DECODE = _decode_tables()


def encode_weights(trits: np.ndarray, encoding: str) -> np.ndarray:
    """Pack trits into weight-SRAM bytes, row by row along the last axis.

    Each row of K trits becomes ``ceil(K / TRITS_PER_BYTE[encoding])`` bytes; trit k lies in
    byte ``k // per_byte``, and the last byte of a row is padded with 0 trits, so every
    row starts on a byte. The encodings:

    - ``"2bit"`` (the chip's sign-select code): trit j of a byte (j = 0..3) is the code in
      bits ``[2j+1:2j]``, LSB first: 0b00 = 0, 0b01 = +1, 0b11 = -1 (bit 0 = non-zero,
      bit 1 = negative; 0b10 is invalid). This is not the checkpoints' packing
      (transformers stores ``trit + 1`` interleaved across rows).
    - ``"5trit"``: 5 trits per byte in base 3, ``byte = sum((t_j + 1) * 3**j, j = 0..4)``,
      0..242 (Muller et al., TVLSI 2019: 1.6 bits per weight).

    Args:
        trits: integer array (..., K) of -1, 0, +1 (K may be 0).
        encoding: ``"2bit"`` or ``"5trit"``.

    Returns:
        uint8 array (..., ceil(K / per_byte)).

    Raises:
        SpecError: ``encoding`` is unknown, or ``trits`` is not an integer array of trits.
    """
    check_choice("encoding", encoding, WEIGHT_ENCODINGS)
    trits = _int_array("trits", trits, "(..., K)", ndim=None)
    _check_range("trits", trits, -1, 1, "a trit")
    per_byte = TRITS_PER_BYTE[encoding]
    k = trits.shape[-1]
    nbytes = -(-k // per_byte)
    digits = np.zeros((*trits.shape[:-1], nbytes * per_byte), dtype=np.uint8)
    if encoding == "2bit":
        digits[..., :k] = trits.astype(np.int8) & 3  # two's complement: -1 -> 0b11
        groups = digits.reshape(*trits.shape[:-1], nbytes, 4) << (2 * np.arange(4, dtype=np.uint8))
        return np.bitwise_or.reduce(groups, axis=-1).astype(np.uint8)
    digits += 1  # pad trits are 0, digit 1
    digits[..., :k] = trits + 1
    groups = digits.reshape(*trits.shape[:-1], nbytes, 5).astype(np.uint16)
    return (groups * _5TRIT_POWERS).sum(axis=-1).astype(np.uint8)


def decode_weights(packed: np.ndarray, encoding: str, count: int) -> np.ndarray:
    """Unpack weight-SRAM bytes into trits: the inverse of :func:`encode_weights`.

    Args:
        packed: uint8 array (..., ceil(count / TRITS_PER_BYTE[encoding])), rows as
            :func:`encode_weights` writes them.
        encoding: ``"2bit"`` or ``"5trit"``.
        count: trits per row, K >= 0.

    Returns:
        int8 array (..., count) of -1, 0, +1.

    Raises:
        SpecError: unknown ``encoding``; ``packed`` not uint8 or of the wrong length;
            a byte holding an invalid code (a 0b10 code in ``"2bit"``, a byte above 242
            in ``"5trit"``); or a non-zero padding trit.
    """
    check_choice("encoding", encoding, WEIGHT_ENCODINGS)
    check_int("count", count, lo=0)
    per_byte = TRITS_PER_BYTE[encoding]
    packed = np.asarray(packed)
    nbytes = -(-count // per_byte)
    if packed.dtype != np.uint8 or packed.ndim < 1 or packed.shape[-1] != nbytes:
        raise SpecError(
            "packed",
            f"{packed.dtype} array of shape {packed.shape}",
            f"must be a uint8 array (..., {nbytes}): ceil(count / {per_byte}) bytes per row "
            f"of count = {count} trits",
        )
    table, invalid = _DECODE[encoding]
    bad = invalid[packed]
    if bad.any():
        if encoding == "2bit":
            allowed = "must hold 2-bit codes 0b00 (0), 0b01 (+1) or 0b11 (-1); 0b10 is invalid"
        else:
            allowed = "must be at most 242 (5 base-3 digits)"
        _raise_at("packed", packed, bad, f"is not a valid {encoding!r} byte: {allowed}")
    trits = table[packed].reshape(*packed.shape[:-1], nbytes * per_byte)
    bad = np.zeros(packed.shape, dtype=bool)
    bad[..., -1:] = trits[..., count:].any(axis=-1, keepdims=True)
    if bad.any():
        _raise_at("packed", packed, bad, f"is a row's last byte: its padding trits (after trit {count}) "
                  "must be 0")
    return np.ascontiguousarray(trits[..., :count])


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


# --- input checks -----------------------------------------------------------------------


def _int_array(key: str, value: object, shape: str, ndim: int | None = 2) -> np.ndarray:
    """``value`` as an integer ndarray (2-D with both sides >= 1, or >= 1-D when ``ndim`` is None)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise SpecError(f"{key}.dtype", str(array.dtype), f"must be an integer dtype (an integer array {shape})")
    if ndim is None:
        if array.ndim < 1:
            raise SpecError(f"{key}.shape", array.shape, f"must have at least one axis: {shape}")
    elif array.ndim != ndim or min(array.shape) < 1:
        raise SpecError(f"{key}.shape", array.shape, f"must be {shape} with every side >= 1")
    return array


def _real_array(key: str, value: object) -> np.ndarray:
    """``value`` as a float32 ndarray with at least one axis and only finite values."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf" or array.ndim < 1:
        raise SpecError(
            key, f"{array.dtype} array of shape {array.shape}",
            "must be a real (integer or float) array with at least one axis",
        )
    with np.errstate(over="ignore"):  # too large for float32: inf, reported below
        array = array.astype(np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        _raise_at(key, array, ~finite, "must be finite (in float32)")
    return array


def _check_range(key: str, array: np.ndarray, lo: int, hi: int, what: str) -> None:
    """Raise :class:`SpecError` at the first element of ``array`` outside [lo, hi]."""
    if array.size and (int(array.min()) < lo or int(array.max()) > hi):
        _raise_at(key, array, (array < lo) | (array > hi), f"must be {what}, an integer from {lo} to {hi}")


def _raise_at(key: str, array: np.ndarray, bad: np.ndarray, allowed: str) -> None:
    """Raise :class:`SpecError` for the first element where ``bad`` is true, keyed ``key[i, j]``."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    value = array[index]
    raise SpecError(f"{key}[{', '.join(map(str, index))}]", value.item(), allowed)

