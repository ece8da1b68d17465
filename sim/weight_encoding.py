"""The weight-SRAM byte formats: trits packed into bytes and back, bit for bit as the chip stores them.

``"2bit"`` is the chip's sign-select code (4 trits a byte), ``"5trit"`` base 3 (5 trits a byte);
:data:`TRITS_PER_BYTE` says how many of each fit a byte.

>>> import numpy as np
>>> encode_weights(np.array([1, -1, 0, 1], dtype=np.int8), "2bit").tolist()
[77]
>>> decode_weights(np.array([77], dtype=np.uint8), "2bit", 4).tolist()
[1, -1, 0, 1]
"""

from __future__ import annotations

import types

import numpy as np

from tritium.base.arrays import check_range, int_array, raise_at
from tritium.base.errors import SpecError
from tritium.base.specio import check_choice, check_int
from tritium.sim.chip_parts import WEIGHT_ENCODINGS

__all__ = ["TRITS_PER_BYTE", "encode_weights", "decode_weights"]

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
    trits = int_array("trits", trits, "(..., K)", ndim=None)
    check_range("trits", trits, -1, 1, "a trit")
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
        raise_at("packed", packed, bad, f"is not a valid {encoding!r} byte: {allowed}")
    trits = table[packed].reshape(*packed.shape[:-1], nbytes * per_byte)
    bad = np.zeros(packed.shape, dtype=bool)
    bad[..., -1:] = trits[..., count:].any(axis=-1, keepdims=True)
    if bad.any():
        raise_at("packed", packed, bad, f"is a row's last byte: its padding trits (after trit {count}) "
                  "must be 0")
    return np.ascontiguousarray(trits[..., :count])
