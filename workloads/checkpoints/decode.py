"""Per-tensor ternary statistics, one encoding at a time, streaming bounded pieces.

Each function here reads one projection tensor in pieces of at most
:data:`CHUNK_BYTES` stored bytes (or :data:`CHUNK_VALUES` weights when decoding to
floats) -- whole rows when a row fits, else one row in column pieces -- into one
reused buffer (no memory map, so not even address space grows with the tensor),
and folds the per-row +1/-1 counts into a :class:`~tritium.workloads.stats.NnzTally`
as rows complete, so memory is bounded by the chunk whatever the shape. It returns
the tally and the absmean scale (:class:`RowCounts`):

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
* GGUF TQ1_0/TQ2_0 and other block types (:func:`dequantized_chunks`): pieces of
  whole blocks dequantized by ``gguf.quants`` (TQ2_0's 2-bit code 3, not a trit,
  is refused first), then ``sign`` for TQ types (scale = mean |W| over non-zeros,
  i.e. the fp16 block scales) or the float mode for the others;
* GGUF I2_S (:func:`i2s_counts`): one fp32 scale after the codes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import gguf.quants
import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from tritium.base.errors import CheckpointError
from tritium.workloads.checkpoints.tensors import TensorInfo
from tritium.workloads.checkpoints.unpack import (
    I2S_BLOCK,
    bf16_to_f32,
    count_i2s,
    count_i2s_range,
    count_packed_u8,
)
from tritium.workloads.stats import NnzTally

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_ROWS",
    "CHUNK_VALUES",
    "FLOAT_MODES",
    "MAX_TERNARY_LEVELS",
    "RowCounts",
    "RowPass",
    "dequantized_chunks",
    "float_counts",
    "gguf_can_dequantize",
    "i2s_counts",
    "i2s_rows",
    "is_float_dtype",
    "packed_u8_counts",
    "packed_u8_rows",
    "read_scalar",
    "stored_float_chunks",
]

CHUNK_BYTES = 8 << 20
"""Stored bytes of packed codes (U8, I2_S) read and counted per step."""

CHUNK_VALUES = 1 << 21
"""Weights decoded to floats per step; with their temporaries about 40 MB at most."""

CHUNK_ROWS = 1 << 17
"""Rows per step at most, bounding the per-row counts of tall, narrow tensors (~1 MB per array)."""

FLOAT_MODES = ("auto", "absmean", "sign")
MAX_TERNARY_LEVELS = 8
"""``auto`` treats a float tensor with at most this many distinct non-zero |values| as pre-ternarized."""

_FLOAT_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "BF16": np.uint16}

Progress = Callable[[int], None]
"""Called with the number of stored bytes just decoded."""

Chunks = Callable[[], Iterator[tuple[int, int, int, np.ndarray]]]
"""A fresh pass over a float tensor: ``(stored bytes, first row, end column, values)``;
``values`` is 2-D: whole rows when the end column is ``cols``, else one piece of one row."""

RowPass = Callable[[Progress], Iterator[tuple[int, np.ndarray, np.ndarray]]]
"""A fresh pass over a tensor: ``(first row, pos, neg)`` for runs of complete rows."""


@dataclass(frozen=True, slots=True)
class RowCounts:
    """The rows' +1/-1 counts folded into a tally, the scale, and how they were obtained.

    ``mode`` is ``"absmean"`` or ``"sign"`` for floats, else the encoding name.
    """

    tally: NnzTally
    scale: float
    mode: str


def _quiet(nbytes: int) -> None:
    """Progress sink for the passes after the first."""


class _Stored:
    """Byte ranges of one tensor's data, read into one reused buffer (a context manager).

    A short read (a file shorter than its header says, or truncated meanwhile) is
    a :class:`CheckpointError`. The array :meth:`read` returns is valid until the
    next call.
    """

    def __init__(self, root: Path, info: TensorInfo):
        self.path, self.info = root / info.file, info
        self.buf = np.empty(0, dtype=np.uint8)
        self.fh = None

    def __enter__(self) -> "_Stored":
        try:
            self.fh = open(self.path, "rb", buffering=0)
        except OSError as exc:
            raise CheckpointError(f"{self.info.file}: cannot read ({exc.strerror or exc})") from None
        return self

    def __exit__(self, *exc) -> None:
        self.fh.close()

    def read(self, start: int, nbytes: int) -> np.ndarray:
        """``nbytes`` bytes from ``start`` bytes into the tensor's data, as uint8."""
        if self.buf.size < nbytes:
            self.buf = np.empty(nbytes, dtype=np.uint8)
        view = self.buf[:nbytes]
        got = 0
        try:
            while got < nbytes:
                n = os.preadv(self.fh.fileno(), [memoryview(view[got:])], self.info.data_offset + start + got)
                if n == 0:
                    break
                got += n
        except OSError as exc:
            raise CheckpointError(f"{self.info.file}: cannot read ({exc.strerror or exc})") from None
        if got < nbytes:
            raise CheckpointError(
                f"{self.info.file}: tensor {self.info.name!r}: file ends {nbytes - got} bytes short of its data "
                "(truncated?)"
            )
        return view


def _tiles(rows: int, cols: int, budget: int, align: int = 1) -> Iterator[tuple[int, int, int, int]]:
    """``(r0, r1, c0, c1)`` pieces of a ``rows x cols`` matrix of at most ``budget`` elements.

    Whole rows (at most :data:`CHUNK_ROWS`) when one fits, else one row in pieces
    whose widths are multiples of ``align`` (budgets below ``align`` still give one
    ``align`` piece).
    """
    if cols <= budget:
        step = max(1, min(budget // cols, CHUNK_ROWS))
        for r0 in range(0, rows, step):
            yield r0, min(rows, r0 + step), 0, cols
        return
    width = max(align, budget // align * align)
    for r in range(rows):
        for c0 in range(0, cols, width):
            yield r, r + 1, c0, min(cols, c0 + width)


class _RowJoin:
    """Joins per-piece counts into complete rows: pieces of one row are summed."""

    def __init__(self, cols: int):
        self.cols = cols
        self.pending: tuple[np.ndarray, np.ndarray] | None = None

    def feed(self, c1: int, pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Counts of a piece ending at column ``c1``; the row's totals once ``c1 == cols``."""
        if self.pending is not None:
            pos, neg = pos + self.pending[0], neg + self.pending[1]
        if c1 < self.cols:
            self.pending = (pos, neg)
            return None
        self.pending = None
        return pos, neg


def _tally(rows_pass: RowPass, cols: int, progress: Progress) -> NnzTally:
    """Fold one pass (and, when the tally asks for it, a binning pass) into an :class:`NnzTally`."""
    tally = NnzTally(cols)
    for _, pos, neg in rows_pass(progress):
        tally.add(pos, neg)
    if tally.needs_binning_pass:
        for _, pos, neg in rows_pass(_quiet):
            tally.bin(pos, neg)
    return tally


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
    dtype = np.dtype(_FLOAT_DTYPES[info.dtype])
    with _Stored(root, info) as data:
        raw = data.read(0, dtype.itemsize).view(dtype)
        return float(bf16_to_f32(raw)[0] if info.dtype == "BF16" else raw[0])


def packed_u8_rows(root: Path, info: TensorInfo) -> RowPass:
    """Row pass over a packed-U8 weight stored as ``(out/4, in)``: field ``i`` of byte row
    ``r`` is output row ``i * out/4 + r``, so each piece gives four runs of rows."""
    block, cols = info.shape

    def run(progress: Progress) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        join = _RowJoin(cols)
        with _Stored(root, info) as data:
            for r0, r1, c0, c1 in _tiles(block, cols, CHUNK_BYTES):
                n, width = r1 - r0, c1 - c0
                tile = data.read(r0 * cols + c0, n * width).reshape(n, width)
                pos = np.zeros(4 * n, dtype=np.int64)
                neg = np.zeros(4 * n, dtype=np.int64)
                if count_packed_u8(tile, pos, neg):
                    r, c = np.argwhere((tile & (tile >> 1) & 0x55) != 0)[0]
                    raise CheckpointError(
                        f"{info.file}: tensor {info.name!r}: packed byte [{r0 + r}, {c0 + c}] = "
                        f"0b{int(tile[r, c]):08b} holds the invalid code 11 (allowed: 00 = -1, 01 = 0, 10 = +1)"
                    )
                progress(n * width)
                done = join.feed(c1, pos, neg)
                if done is not None:
                    for i in range(4):
                        yield i * block + r0, done[0][i * n : (i + 1) * n], done[1][i * n : (i + 1) * n]

    return run


def packed_u8_counts(root: Path, info: TensorInfo, progress: Progress) -> RowCounts:
    """Tally of a packed-U8 weight stored as ``(out/4, in)`` (scale left NaN for the caller)."""
    tally = _tally(packed_u8_rows(root, info), info.shape[1], progress)
    return RowCounts(tally=tally, scale=float("nan"), mode="packed_u8")


def _i2s_shape(info: TensorInfo) -> tuple[int, int]:
    rows, cols = info.logical_shape
    if rows * cols % I2S_BLOCK:
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r}: I2_S holds {rows * cols} values, "
            f"not a multiple of the {I2S_BLOCK}-value block"
        )
    return rows, cols


def i2s_rows(root: Path, info: TensorInfo) -> RowPass:
    """Row pass over a bitnet.cpp I2_S tensor of logical shape ``(out, in)``."""
    rows, cols = _i2s_shape(info)

    def run(progress: Progress) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        join = _RowJoin(cols)
        counted = 0  # code bytes reported to progress (pieces may share a block at their ends)
        with _Stored(root, info) as data:
            for r0, r1, c0, c1 in _tiles(rows, cols, 4 * CHUNK_BYTES, I2S_BLOCK):
                n = r1 - r0
                first, last = r0 * cols + c0, (r1 - 1) * cols + c1
                block0, block1 = first // I2S_BLOCK, -(-last // I2S_BLOCK)
                codes = data.read(block0 * 32, (block1 - block0) * 32)
                pos = np.zeros(n, dtype=np.int64)
                neg = np.zeros(n, dtype=np.int64)
                if cols % I2S_BLOCK == 0:  # pieces are whole blocks and each row's bytes are its own
                    bad = count_i2s(codes, (last - first) // n, pos, neg)
                else:
                    bad = count_i2s_range(codes, block0, cols, first, last, pos, neg, r0)
                if bad:
                    raise CheckpointError(
                        f"{info.file}: tensor {info.name!r}: rows {r0}..{r1 - 1} hold the invalid I2_S code 11 "
                        "(allowed: 00 = -1, 01 = 0, 10 = +1)"
                    )
                progress(block1 * 32 - counted)
                counted = block1 * 32
                done = join.feed(c1, pos, neg)
                if done is not None:
                    yield r0, done[0], done[1]

    return run


def i2s_counts(root: Path, info: TensorInfo, progress: Progress) -> RowCounts:
    """Tally and fp32 scale of a bitnet.cpp I2_S tensor of logical shape ``(out, in)``."""
    rows, cols = _i2s_shape(info)
    with _Stored(root, info) as data:
        scale = float(data.read(rows * cols // 4, 4).view(np.float32)[0])
    if not np.isfinite(scale):
        raise CheckpointError(f"{info.file}: tensor {info.name!r}: I2_S scale is {scale}, must be finite")
    tally = _tally(i2s_rows(root, info), cols, progress)
    return RowCounts(tally=tally, scale=abs(scale), mode="I2_S")


def _float_rows(chunks: Chunks, cols: int, count: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> RowPass:
    """A row pass over float pieces, ``count(values)`` giving each piece's per-row (pos, neg)."""

    def run(progress: Progress) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        join = _RowJoin(cols)
        for nbytes, r0, c1, v in chunks():
            progress(nbytes)
            done = join.feed(c1, *count(v))
            if done is not None:
                yield r0, done[0], done[1]

    return run


def _signs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (v > 0).sum(axis=1), (v < 0).sum(axis=1)


def float_counts(info: TensorInfo, chunks: Chunks, mode: str, progress: Progress) -> RowCounts:
    """Ternarize float weights delivered in pieces and tally them per row.

    ``chunks()`` starts a fresh pass (see :data:`Chunks`); it is called again when
    the absmean threshold needs ``mean|W|`` of the whole tensor first. ``mode`` is
    one of :data:`FLOAT_MODES` (see the module docstring). ``progress`` sees the
    bytes of the first pass. Raises :class:`CheckpointError` for NaN or infinite
    weights.
    """
    cols = info.logical_shape[1]
    levels = _Levels(MAX_TERNARY_LEVELS) if mode == "auto" else None
    total = 0.0
    signs = NnzTally(cols) if mode != "absmean" else None
    join = _RowJoin(cols)
    for nbytes, _, c1, v in chunks():
        a = np.abs(v)
        part = float(a.sum(dtype=np.float64))
        if not np.isfinite(part):
            raise CheckpointError(f"{info.file}: tensor {info.name!r} holds NaN or infinite values")
        total += part
        if signs is not None:
            done = join.feed(c1, *_signs(v))
            if done is not None:
                signs.add(*done)
            if levels is not None:
                levels.add(a[a != 0])
        progress(nbytes)
    if mode == "auto":
        mode = "absmean" if levels.over else "sign"
    if mode == "sign":
        if signs.needs_binning_pass:
            for _, pos, neg in _float_rows(chunks, cols, _signs)(_quiet):
                signs.bin(pos, neg)
        nnz = signs.n_pos + signs.n_neg
        return RowCounts(tally=signs, scale=total / nnz if nnz else 0.0, mode="sign")
    scale = total / info.numel
    # All weights zero: nothing to threshold; an infinite threshold counts no +-1.
    threshold = np.float64(0.5 * scale) if scale > 0.0 else np.float64(np.inf)

    def absmean(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # float64 threshold: compared in float64
        return (v >= threshold).sum(axis=1), (v <= -threshold).sum(axis=1)

    tally = _tally(_float_rows(chunks, cols, absmean), cols, _quiet)
    return RowCounts(tally=tally, scale=scale, mode="absmean")


def stored_float_chunks(root: Path, info: TensorInfo) -> Chunks:
    """Chunk source for a plain F16/BF16/F32/F64 matrix stored row-major as ``(out, in)``."""
    rows, cols = info.logical_shape
    dtype = np.dtype(_FLOAT_DTYPES[info.dtype])

    def chunks() -> Iterator[tuple[int, int, int, np.ndarray]]:
        with _Stored(root, info) as data:
            for r0, r1, c0, c1 in _tiles(rows, cols, CHUNK_VALUES):
                n, width = r1 - r0, c1 - c0
                raw = data.read((r0 * cols + c0) * dtype.itemsize, n * width * dtype.itemsize)
                raw = raw.view(dtype).reshape(n, width)
                if info.dtype == "BF16":
                    values = bf16_to_f32(raw)
                elif info.dtype == "F16":
                    values = raw.astype(np.float32)
                else:
                    values = raw
                yield raw.nbytes, r0, c1, values

    return chunks


def dequantized_chunks(root: Path, info: TensorInfo) -> Chunks:
    """Chunk source for a GGUF block-quantized matrix (TQ1_0, TQ2_0, Q6_K, ...) via ``gguf.quants``.

    Pieces are whole blocks. TQ2_0 codes are checked first: the 2-bit code 3 is
    not a trit (``gguf.quants`` would read it as +2) and raises :class:`CheckpointError`.
    """
    qtype = GGMLQuantizationType[info.dtype]
    block, type_size = GGML_QUANT_SIZES[qtype]
    rows, cols = info.logical_shape
    row_bytes = cols // block * type_size

    def chunks() -> Iterator[tuple[int, int, int, np.ndarray]]:
        with _Stored(root, info) as data:
            for r0, r1, c0, c1 in _tiles(rows, cols, CHUNK_VALUES, block):
                n, width = r1 - r0, (c1 - c0) // block * type_size
                raw = data.read(r0 * row_bytes + c0 // block * type_size, n * width).reshape(n, width)
                if qtype == GGMLQuantizationType.TQ2_0:
                    _check_tq2_codes(info, raw, r0, c0)
                yield raw.nbytes, r0, c1, gguf.quants.dequantize(raw, qtype)

    return chunks


def _check_tq2_codes(info: TensorInfo, raw: np.ndarray, r0: int, c0: int) -> None:
    """Refuse a TQ2_0 piece holding code 3: each 66-byte block is 64 code bytes, then fp16 d."""
    qs = raw.reshape(raw.shape[0], -1, 66)[:, :, :64]
    bad = (qs & (qs >> 1) & 0x55) != 0
    if bad.any():
        r, blk, _ = np.argwhere(bad)[0]
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r}: row {r0 + r}, values {c0 + 256 * blk}..{c0 + 256 * blk + 255} "
            "hold the TQ2_0 code 3, which is not a trit (allowed: 0 = -1, 1 = 0, 2 = +1)"
        )


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
