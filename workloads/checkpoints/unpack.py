"""Ternary codes: packing (numpy) and per-row +1/-1 counting (numba kernels).

Two 2-bit encodings hold ternary weights as the code ``w + 1`` (``00`` = -1,
``01`` = 0, ``10`` = +1; ``11`` is invalid):

* **Packed U8** (Hugging Face BitNet, transformers ``pack_weights``): a matrix of
  ``out`` rows is stored as ``R = out / 4`` byte rows; bits ``[2i+1:2i]`` of byte
  row ``r`` hold output row ``i*R + r``, so the four fields of a byte are four row
  *blocks*, not four consecutive rows.
* **I2_S** (bitnet.cpp, type 36): the row-major flattened tensor is cut into blocks
  of 128 values, 32 bytes each; byte ``j`` of a block holds elements ``j``,
  ``j+32``, ``j+64``, ``j+96`` at bits 7-6, 5-4, 3-2, 1-0.

The kernels count, per output row, the +1 and -1 weights, reading the packed bytes
once and allocating nothing per byte; they release the GIL and are compiled on
first use (no on-disk cache). They report whether an invalid ``11`` code was seen.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "I2S_BLOCK",
    "bf16_to_f32",
    "f32_to_bf16",
    "count_i2s",
    "count_i2s_range",
    "count_packed_u8",
    "pack_i2s",
    "pack_u8",
    "unpack_i2s",
    "unpack_u8",
]

I2S_BLOCK = 128
"""Values per I2_S block (x86 bitnet.cpp; 32 code bytes)."""
_LANE_LIMIT = 16384  # bytes summed into 16-bit LUT lanes before flushing

# For a byte b: lane i (bits 16i..16i+15) of _POS_LANES[b] is 1 when field i
# (bits 2i+1:2i) holds code 2 (+1); _NEG_LANES likewise for code 0 (-1).
_FIELDS = (np.arange(256)[:, None] >> (2 * np.arange(4))[None, :]) & 3
_POS_LANES = ((_FIELDS == 2).astype(np.int64) << (16 * np.arange(4))).sum(axis=1).astype(np.int64)
_NEG_LANES = ((_FIELDS == 0).astype(np.int64) << (16 * np.arange(4))).sum(axis=1).astype(np.int64)
# Counts of +1 / -1 fields in a byte, for when all four fields belong to one row.
_POS_IN_BYTE = (_FIELDS == 2).sum(axis=1).astype(np.int64)
_NEG_IN_BYTE = (_FIELDS == 0).sum(axis=1).astype(np.int64)


@njit(nogil=True)
def _packed_u8_kernel(packed, r0, r1, pos, neg, pos_lanes, neg_lanes, lane_limit):
    block = packed.shape[0]
    cols = packed.shape[1]
    bad = 0
    for r in range(r0, r1):
        k = 0
        while k < cols:
            stop = min(cols, k + lane_limit)
            acc_pos = 0
            acc_neg = 0
            for j in range(k, stop):
                b = packed[r, j]
                acc_pos += pos_lanes[b]
                acc_neg += neg_lanes[b]
                bad |= b & (b >> 1) & 0x55
            for i in range(4):
                pos[i * block + r] += (acc_pos >> (16 * i)) & 0xFFFF
                neg[i * block + r] += (acc_neg >> (16 * i)) & 0xFFFF
            k = stop
    return bad != 0


@njit(nogil=True)
def _i2s_rows_kernel(codes, cols, row0, row1, pos, neg, pos_in_byte, neg_in_byte):
    # cols % 128 == 0: row r's values are exactly bytes [r*cols/4, (r+1)*cols/4).
    per_row = cols // 4
    bad = 0
    for r in range(row0, row1):
        p = 0
        q = 0
        base = r * per_row
        for j in range(base, base + per_row):
            b = codes[j]
            p += pos_in_byte[b]
            q += neg_in_byte[b]
            bad |= b & (b >> 1) & 0x55
        pos[r] += p
        neg[r] += q
    return bad != 0


@njit(nogil=True)
def _i2s_blocks_kernel(codes, block0, cols, first, last, row0, pos, neg, pos_in_byte, neg_in_byte):
    # General case (cols % 128 != 0): count elements first..last-1 of the flattened
    # tensor; codes[0] is the first byte of block `block0`, pos[0] counts row `row0`.
    # A block within one row is counted bytewise, a block straddling rows value by value.
    bad = 0
    for blk in range(first // 128, (last + 127) // 128):
        start = blk * 128
        base = (blk - block0) * 32
        if start >= first and start + 128 <= last and start // cols == (start + 127) // cols:
            r = start // cols - row0
            for j in range(base, base + 32):
                b = codes[j]
                pos[r] += pos_in_byte[b]
                neg[r] += neg_in_byte[b]
                bad |= b & (b >> 1) & 0x55
            continue
        for e in range(max(start, first), min(start + 128, last)):
            within = e - start
            code = (codes[base + within % 32] >> (6 - 2 * (within // 32))) & 3
            r = e // cols - row0
            if code == 2:
                pos[r] += 1
            elif code == 0:
                neg[r] += 1
            elif code == 3:
                bad = 1
    return bad != 0


def count_packed_u8(packed: np.ndarray, pos: np.ndarray, neg: np.ndarray, r0: int = 0, r1: int | None = None) -> bool:
    """Add the +1/-1 counts of byte rows ``r0:r1`` of a packed-U8 matrix to ``pos``/``neg``.

    ``packed`` is the whole stored ``(R, in)`` uint8 array (a memory map is fine:
    only rows ``r0:r1`` are read); ``pos`` and ``neg`` are int64 arrays of length
    ``4 * R`` indexed by output row. Returns True if any invalid ``11`` code was
    found in those rows (the counts are then meaningless).
    """
    r1 = packed.shape[0] if r1 is None else r1
    return bool(_packed_u8_kernel(packed, r0, r1, pos, neg, _POS_LANES, _NEG_LANES, _LANE_LIMIT))


def count_i2s(
    codes: np.ndarray, cols: int, pos: np.ndarray, neg: np.ndarray, row0: int = 0, row1: int | None = None
) -> bool:
    """Add the +1/-1 counts of rows ``row0:row1`` of an I2_S tensor to ``pos``/``neg``.

    ``codes`` is the tensor's ``n / 4`` code bytes (uint8, without the scale tail),
    ``n = rows * cols`` a multiple of 128; rows are of length ``cols`` (in_features).
    Returns True if an invalid ``11`` code was found.
    """
    row1 = pos.size if row1 is None else row1
    if cols % I2S_BLOCK == 0:
        return bool(_i2s_rows_kernel(codes, cols, row0, row1, pos, neg, _POS_IN_BYTE, _NEG_IN_BYTE))
    return count_i2s_range(codes, 0, cols, row0 * cols, row1 * cols, pos, neg, 0)


def count_i2s_range(
    codes: np.ndarray, block0: int, cols: int, first: int, last: int, pos: np.ndarray, neg: np.ndarray, row0: int
) -> bool:
    """Add the +1/-1 counts of elements ``first:last`` of a flattened I2_S tensor.

    ``codes`` holds the code bytes from the start of 128-value block ``block0``
    (which holds ``first``) to the end of the block holding ``last - 1``; rows are
    ``cols`` long and ``pos[0]``/``neg[0]`` count row ``row0``. For reading a tensor
    a piece at a time. Returns True if an invalid ``11`` code was found.
    """
    return bool(_i2s_blocks_kernel(codes, block0, cols, first, last, row0, pos, neg, _POS_IN_BYTE, _NEG_IN_BYTE))


def pack_u8(trits: np.ndarray) -> np.ndarray:
    """Pack an ``(out, in)`` ternary matrix (``out`` a multiple of 4) into ``(out/4, in)`` uint8.

    >>> pack_u8(np.array([[1], [0], [-1], [1]], dtype=np.int8)).tolist()  # codes 2, 1, 0, 2
    [[134]]
    """
    t = np.asarray(trits)
    if t.ndim != 2 or t.shape[0] % 4:
        raise ValueError(f"pack_u8 needs a 2-D matrix with rows a multiple of 4, got shape {t.shape}")
    codes = (t.astype(np.int16) + 1).astype(np.uint8).reshape(4, t.shape[0] // 4, t.shape[1])
    return codes[0] | (codes[1] << 2) | (codes[2] << 4) | (codes[3] << 6)


def unpack_u8(packed: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pack_u8` (code 3 unpacks to 2): ``(R, in)`` uint8 to ``(4R, in)`` int8."""
    p = np.asarray(packed, dtype=np.uint8)
    fields = [((p >> (2 * i)) & 3).astype(np.int8) - 1 for i in range(4)]
    return np.concatenate(fields, axis=0)


def pack_i2s(trits: np.ndarray) -> np.ndarray:
    """Pack a ternary tensor (``size`` a multiple of 128) into ``size / 4`` I2_S code bytes."""
    t = np.asarray(trits).reshape(-1)
    if t.size % I2S_BLOCK:
        raise ValueError(f"pack_i2s needs a multiple of {I2S_BLOCK} values, got {t.size}")
    codes = (t.astype(np.int16) + 1).astype(np.uint8).reshape(-1, 4, 32)
    return ((codes[:, 0] << 6) | (codes[:, 1] << 4) | (codes[:, 2] << 2) | codes[:, 3]).reshape(-1)


def unpack_i2s(codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`pack_i2s`: code bytes to an int8 tensor of ``shape``."""
    c = np.asarray(codes, dtype=np.uint8).reshape(-1, 1, 32)
    fields = (c >> np.array([6, 4, 2, 0], dtype=np.uint8)[None, :, None]) & 3
    return (fields.astype(np.int8) - 1).reshape(shape)


def bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values given as their uint16 bit patterns, widened exactly to float32."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to nearest-even bfloat16, returned as uint16 bit patterns.

    >>> f32_to_bf16(np.array([1.0, -2.5], dtype=np.float32)).tolist()
    [16256, 49184]
    """
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)
