"""The BitNet b1.58 quantizers around the TLU: the vector unit's part of a ternary linear layer.

Per-token absmax INT-``bits`` activations (:func:`quantize_absmax`), absmean ternary weights
(:func:`ternarize_absmean`) and the rescaling of the integer result (:func:`dequantize`), equal
bit for bit to transformers' ``BitLinear`` / ``ActQuant`` / ``WeightQuant``. The integer product
between them is :func:`tritium.sim.golden.ternary_matmul`.

>>> import numpy as np
>>> q, scale = quantize_absmax(np.array([[0.5, -1.0, 0.25]]))
>>> q.tolist(), scale.tolist()
([[64, -127, 32]], [127.0])
>>> trits, w_scale = ternarize_absmean(np.array([[0.3, -0.6, 0.0, 0.05]]))
>>> trits.tolist()
[[1, -1, 0, 0]]
"""

from __future__ import annotations

import numpy as np

from tritium.base.arrays import real_array
from tritium.base.errors import SpecError
from tritium.base.specio import check_int

__all__ = ["quantize_absmax", "ternarize_absmean", "dequantize"]

_SCALE_FLOOR = 1e-5
"""Smallest max|x| or mean|w| a scale is computed from (transformers' ``clamp_(min=1e-5)``)."""


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
    x = real_array("x", x)
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
    w = real_array("w", w)
    scale = np.float32(max(float(np.abs(w).mean(dtype=np.float64)) if w.size else 0.0, _SCALE_FLOOR))
    trits = np.clip(np.rint(w * (np.float32(1.0) / scale)), -1, 1)
    return trits.astype(np.int8), scale


def dequantize(acc: np.ndarray, act_scale: np.ndarray, weight_scale: float | np.ndarray) -> np.ndarray:
    """Turn TLU accumulator values back into real outputs: ``acc / act_scale[..., None] * weight_scale``.

    Args:
        acc: integer array (..., N), e.g. :attr:`tritium.sim.golden.TluResult.exact` (M, N).
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
