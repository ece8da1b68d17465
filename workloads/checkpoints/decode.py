"""Per-tensor ternary statistics, one encoding at a time, streaming row chunks.

Each function here reads one projection tensor through a read-only memory map in
row chunks (:data:`CHUNK_BYTES` packed bytes, or :data:`CHUNK_VALUES` weights when
decoding to floats) and returns per-row +1/-1 counts
(folded into a :class:`~tritium.workloads.stats.WeightStats` by the caller) and the
absmean scale:

* packed U8 (:func:`packed_u8_counts`): scale from ``weight_scale``, undone per
  convention by the caller;
* float latent or pre-ternarized weights (:func:`float_counts`): ``absmean``
  ternarizes with ``s = mean|W|`` and ``T = 0 where |W| < s/2, else sign(W)`` --
  an exact tie ``|W| = s/2`` becomes +-1 (rounding half away from zero; PyTorch's
  half-to-even ``round`` would give 0, a measure-zero difference for real
  weights); ``sign`` takes ``sign(W)`` with scale = mean |W| over non-zeros;
  ``auto`` picks ``sign`` when the tensor has at most :data:`MAX_TERNARY_LEVELS`
  distinct non-zero magnitudes (TriLM stores ``+-scale`` with up to 6 scales per
  matrix), else ``absmean``;
* GGUF TQ1_0/TQ2_0 and other block types (:func:`dequantized_chunks`): row chunks
  dequantized by ``gguf.quants``, then ``sign`` for TQ types (scale = mean |W| over
  non-zeros, i.e. the fp16 block scales) or the float mode for the others;
* GGUF I2_S (:func:`i2s_counts`): one fp32 scale after the codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import gguf.quants
import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from tritium.errors import CheckpointError
from tritium.workloads.checkpoints.tensors import TensorInfo
from tritium.workloads.checkpoints.unpack import I2S_BLOCK, bf16_to_f32, count_i2s, count_packed_u8

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_VALUES",
    "FLOAT_MODES",
    "MAX_TERNARY_LEVELS",
    "RowCounts",
    "dequantized_chunks",
    "float_counts",
    "gguf_can_dequantize",
    "i2s_counts",
    "is_float_dtype",
    "map_tensor",
    "packed_u8_counts",
    "read_scalar",
    "stored_float_chunks",
]

CHUNK_BYTES = 8 << 20
"""Packed bytes counted per step (progress granularity; the kernels allocate nothing)."""

CHUNK_VALUES = 1 << 22
"""Weights decoded to floats per step; bounds the temporary memory of float decoding (~16 MB each)."""

FLOAT_MODES = ("auto", "absmean", "sign")
MAX_TERNARY_LEVELS = 8
"""``auto`` treats a float tensor with at most this many distinct non-zero |values| as pre-ternarized."""

_FLOAT_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "BF16": np.uint16}

Progress = Callable[[int], None]
"""Called with the number of stored bytes just decoded."""


@dataclass(frozen=True, slots=True)
class RowCounts:
    """Per-output-row counts of +1 and -1 weights, the scale, and how they were obtained.

    ``mode`` is ``"absmean"`` or ``"sign"`` for floats, else the encoding name.
    """

    pos: np.ndarray
    neg: np.ndarray
    scale: float
    mode: str


def map_tensor(root: Path, info: TensorInfo, dtype, shape: tuple[int, ...], *, skip: int = 0) -> np.memmap:
    """Read-only memory map of ``shape`` x ``dtype`` starting ``skip`` bytes into ``info``'s data."""
    try:
        return np.memmap(root / info.file, dtype=dtype, mode="r", offset=info.data_offset + skip, shape=shape)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{info.file}: tensor {info.name!r}: cannot map its data ({exc})") from None


def read_scalar(root: Path, info: TensorInfo) -> float:
    """The single value of a one-element float tensor (a ``weight_scale``)."""
    if info.numel != 1:
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r} has shape {list(info.shape)}; expected one value ([1]) per tensor"
        )
    if info.dtype not in _FLOAT_DTYPES:
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r} has dtype {info.dtype}; expected F16, BF16, F32 or F64"
        )
    raw = map_tensor(root, info, _FLOAT_DTYPES[info.dtype], (1,))
    value = float(bf16_to_f32(raw)[0] if info.dtype == "BF16" else raw[0])
    del raw
    return value


def packed_u8_counts(root: Path, info: TensorInfo, progress: Progress) -> RowCounts:
    """Row counts of a packed-U8 weight stored as ``(out/4, in)`` (scale left NaN for the caller)."""
    block, cols = info.shape
    packed = map_tensor(root, info, np.uint8, (block, cols))
    pos = np.zeros(4 * block, dtype=np.int64)
    neg = np.zeros(4 * block, dtype=np.int64)
    step = max(1, CHUNK_BYTES // max(cols, 1))
    for r0 in range(0, block, step):
        r1 = min(block, r0 + step)
        if count_packed_u8(packed, pos, neg, r0, r1):
            chunk = np.asarray(packed[r0:r1])
            r, c = np.argwhere((chunk & (chunk >> 1) & 0x55) != 0)[0]
            raise CheckpointError(
                f"{info.file}: tensor {info.name!r}: packed byte [{r0 + r}, {c}] = 0b{int(chunk[r, c]):08b} holds the "
                "invalid code 11 (allowed: 00 = -1, 01 = 0, 10 = +1)"
            )
        progress((r1 - r0) * cols)
    del packed
    return RowCounts(pos=pos, neg=neg, scale=float("nan"), mode="packed_u8")


def i2s_counts(root: Path, info: TensorInfo, progress: Progress) -> RowCounts:
    """Row counts and fp32 scale of a bitnet.cpp I2_S tensor of logical shape ``(out, in)``."""
    rows, cols = info.logical_shape
    n = rows * cols
    if n % I2S_BLOCK:
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r}: I2_S holds {n} values, not a multiple of the {I2S_BLOCK}-value block"
        )
    codes = map_tensor(root, info, np.uint8, (n // 4,))
    scale = float(map_tensor(root, info, np.float32, (1,), skip=n // 4)[0])
    if not np.isfinite(scale):
        raise CheckpointError(f"{info.file}: tensor {info.name!r}: I2_S scale is {scale}, must be finite")
    pos = np.zeros(rows, dtype=np.int64)
    neg = np.zeros(rows, dtype=np.int64)
    step = max(1, CHUNK_BYTES // max(cols // 4, 1))
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        if count_i2s(codes, cols, pos, neg, r0, r1):
            raise CheckpointError(
                f"{info.file}: tensor {info.name!r}: rows {r0}..{r1 - 1} hold the invalid I2_S code 11 "
                "(allowed: 00 = -1, 01 = 0, 10 = +1)"
            )
        progress((r1 - r0) * cols // 4)
    del codes
    return RowCounts(pos=pos, neg=neg, scale=abs(scale), mode="I2_S")


def float_counts(
    info: TensorInfo, chunks: Callable[[], Iterator[tuple[int, int, np.ndarray]]], mode: str, progress: Progress
) -> RowCounts:
    """Ternarize float weights delivered in row chunks and count per row.

    ``chunks()`` starts a fresh pass and yields ``(stored bytes, first row, values)``
    with ``values`` a float array of whole rows; it may be called twice (the
    absmean threshold needs ``mean|W|`` of the whole tensor first). ``mode`` is
    one of :data:`FLOAT_MODES` (see the module docstring). ``progress`` sees the
    bytes of the first pass. Raises :class:`CheckpointError` for NaN or infinite
    weights.
    """
    rows = info.logical_shape[0]
    pos = np.zeros(rows, dtype=np.int64)
    neg = np.zeros(rows, dtype=np.int64)
    levels = _Levels(MAX_TERNARY_LEVELS) if mode == "auto" else None
    total = 0.0
    for nbytes, r0, v in chunks():
        a = np.abs(v)
        part = float(a.sum(dtype=np.float64))
        if not np.isfinite(part):
            raise CheckpointError(f"{info.file}: tensor {info.name!r} holds NaN or infinite values")
        total += part
        if mode != "absmean":
            pos[r0 : r0 + len(v)] = (v > 0).sum(axis=1)
            neg[r0 : r0 + len(v)] = (v < 0).sum(axis=1)
            if levels is not None:
                levels.add(a[a != 0])
        progress(nbytes)
    if mode == "auto":
        mode = "absmean" if levels.over else "sign"
    if mode == "sign":
        nnz = int(pos.sum() + neg.sum())
        return RowCounts(pos=pos, neg=neg, scale=total / nnz if nnz else 0.0, mode="sign")
    scale = total / info.numel
    if scale == 0.0:  # all weights zero: nothing to threshold
        return RowCounts(pos=np.zeros(rows, np.int64), neg=np.zeros(rows, np.int64), scale=0.0, mode="absmean")
    threshold = np.float64(0.5 * scale)  # a float64 scalar keeps the comparison in float64
    for _, r0, v in chunks():
        pos[r0 : r0 + len(v)] = (v >= threshold).sum(axis=1)
        neg[r0 : r0 + len(v)] = (v <= -threshold).sum(axis=1)
    return RowCounts(pos=pos, neg=neg, scale=scale, mode="absmean")


def stored_float_chunks(root: Path, info: TensorInfo) -> Callable[[], Iterator[tuple[int, int, np.ndarray]]]:
    """Chunk source for a plain F16/BF16/F32/F64 matrix stored row-major as ``(out, in)``."""
    rows, cols = info.logical_shape
    dtype = _FLOAT_DTYPES[info.dtype]

    def chunks() -> Iterator[tuple[int, int, np.ndarray]]:
        data = map_tensor(root, info, dtype, (rows, cols))
        step = max(1, CHUNK_VALUES // cols)
        for r0 in range(0, rows, step):
            raw = np.asarray(data[r0 : r0 + step])
            if info.dtype == "BF16":
                values = bf16_to_f32(raw)
            elif info.dtype == "F16":
                values = raw.astype(np.float32)
            else:
                values = raw
            yield raw.nbytes, r0, values

    return chunks


def dequantized_chunks(root: Path, info: TensorInfo) -> Callable[[], Iterator[tuple[int, int, np.ndarray]]]:
    """Chunk source for a GGUF block-quantized matrix (TQ1_0, TQ2_0, Q6_K, ...) via ``gguf.quants``."""
    qtype = GGMLQuantizationType[info.dtype]
    block, type_size = GGML_QUANT_SIZES[qtype]
    rows, cols = info.logical_shape
    row_bytes = cols // block * type_size

    def chunks() -> Iterator[tuple[int, int, np.ndarray]]:
        data = map_tensor(root, info, np.uint8, (rows, row_bytes))
        step = max(1, CHUNK_VALUES // cols)
        for r0 in range(0, rows, step):
            raw = np.asarray(data[r0 : r0 + step])
            yield raw.nbytes, r0, gguf.quants.dequantize(raw, qtype)

    return chunks


def gguf_can_dequantize(dtype: str) -> bool:
    """Whether ``gguf.quants`` can dequantize the GGML type named ``dtype``."""
    qtype = GGMLQuantizationType.__members__.get(dtype)
    if qtype is None or qtype not in GGML_QUANT_SIZES:
        return False
    try:
        gguf.quants.dequantize(np.zeros((1, GGML_QUANT_SIZES[qtype][1]), dtype=np.uint8), qtype)
    except NotImplementedError:
        return False
    return True


def is_float_dtype(dtype: str) -> bool:
    """Whether ``dtype`` names a float encoding :func:`stored_float_chunks` reads."""
    return dtype in _FLOAT_DTYPES


class _Levels:
    """The distinct non-zero magnitudes seen so far, until there are more than ``limit``."""

    def __init__(self, limit: int):
        self.limit = limit
        self.values = np.empty(0, dtype=np.float64)
        self.over = False

    def add(self, magnitudes: np.ndarray) -> None:
        if self.over:
            return
        rest = magnitudes[~np.isin(magnitudes, self.values)]
        while rest.size:
            new = np.unique(rest[:4096]).astype(np.float64)
            self.values = np.union1d(self.values, new)
            if self.values.size > self.limit:
                self.over = True
                return
            rest = rest[~np.isin(rest, new)]
