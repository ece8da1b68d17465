"""What a multiply costs at its precision: operand widths and the passes of an integer multiplier.

Multiplies (attention products, high-precision linears) run on the MAC array, the vector
unit or a ``mac``-style TLU at their real width: a wide operand is split into limbs of the
multiplier's width (:data:`LIMBS`) and a product takes :func:`precision_passes` passes.
"""

from __future__ import annotations

__all__ = ["DTYPE_BITS", "LIMBS", "precision_passes"]

DTYPE_BITS = {"int8": 8, "fp8": 8, "bf16": 16, "fp16": 16, "int32": 32, "fp32": 32}
"""Operand bits of each precision; integer multipliers take FP operands as block-floating-point
integers of the significand's width rounded up to a whole number of 8-bit limbs (FP8: one limb)."""
LIMBS = {"int8": 1, "fp8": 1, "bf16": 2, "fp16": 2, "int32": 4, "fp32": 4}
"""8-bit limbs of an operand of each precision (a precision not listed counts as two); also the
bytes of one KV-cache element at the KV cache's precision."""


def precision_passes(mac_bits: int, a_dtype: str, b_dtype: str) -> int:
    """Passes of a ``mac_bits``-bit integer multiplier for one product of ``a_dtype`` x ``b_dtype``.

    A wide operand is split into ``mac_bits``-wide limbs and the partial products are
    added (the textbook decomposition of a wide multiply into narrow ones): INT8 and FP8
    are one 8-bit limb, BF16/FP16 two (block-floating-point significands), so a BF16 x
    BF16 product is 4 passes of an 8-bit array and 1 of a 16-bit one.

    >>> precision_passes(8, "bf16", "bf16"), precision_passes(8, "int8", "int8"), precision_passes(16, "bf16", "bf16")
    (4, 1, 1)
    """
    per = mac_bits // 8
    return -(-LIMBS.get(a_dtype, 2) // per) * -(-LIMBS.get(b_dtype, 2) // per)
