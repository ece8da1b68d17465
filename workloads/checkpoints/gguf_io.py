"""GGUF headers: Tritium's own strict parser (and a small encoder for synthetic files).

``gguf.GGUFReader`` refuses type ids it does not know, such as bitnet.cpp's I2_S
(36), so Tritium parses every GGUF header itself. Layout (little-endian, versions 2
and 3): ``b"GGUF"``, u32 version, u64 tensor count, u64 key-value count; key-value
pairs (u64-length UTF-8 key, u32 value type, value; arrays are u32 item type, u64
count, items); tensor infos (name, u32 n_dims, n_dims x u64 dims in ggml order --
``ne0`` = columns = in_features first --, u32 type id, u64 offset); then, aligned to
``general.alignment`` (default 32), the data section, in which each tensor's offset
is a multiple of the alignment.

Types: every type of ``gguf.constants.GGML_QUANT_SIZES``, plus bitnet.cpp's I2_S
(36; ``n/4`` bytes of 2-bit codes then a 32-byte tail holding one fp32 scale), TL1
(38) and TL2 (39). TL1/TL2 byte sizes depend on bitnet.cpp's per-shape kernel
tiling, so their extent is taken as the distance to the next tensor (or the end of
file) and they are never decoded. Id 39 is MXFP4 in upstream llama.cpp: it is read
as TL2 when ``general.architecture`` names a BitNet model, else as MXFP4.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from gguf.constants import GGML_QUANT_SIZES

from tritium.base.errors import CheckpointError
from tritium.workloads.checkpoints.tensors import TensorInfo

__all__ = [
    "GGML_TYPES",
    "I2S_TAIL_BYTES",
    "TYPE_I2_S",
    "TYPE_TL1",
    "TYPE_TL2",
    "MAX_HEADER_BYTES",
    "GGUFArray",
    "GGUFHeader",
    "RawTensor",
    "encode_gguf",
    "parse_gguf_header",
    "read_gguf_header",
]

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4
MAX_ARRAY_NESTING = 8
MAX_HEADER_BYTES = 100_000_000
"""Largest header read (as for safetensors); real ones, vocabulary included, are under 20 MB."""
MAX_TENSORS = MAX_KEYS = 1 << 16
"""Most tensors and metadata keys a header may declare (real files: a few thousand, a few dozen)."""
TYPE_I2_S, TYPE_TL1, TYPE_TL2 = 36, 38, 39
I2S_TAIL_BYTES = 32

GGML_TYPES: dict[int, tuple[str, int | None, int | None]] = {
    int(t): (t.name, bs, ts) for t, (bs, ts) in GGML_QUANT_SIZES.items()
}
"""``{type id: (name, block size, bytes per block)}``; None sizes for I2_S (``n/4 + 32``
bytes per tensor) and TL1 (unknown); id 39 is resolved per file (TL2 or MXFP4)."""
GGML_TYPES[TYPE_I2_S] = ("I2_S", None, None)
GGML_TYPES[TYPE_TL1] = ("TL1", None, None)
_MXFP4 = GGML_TYPES.get(TYPE_TL2)

_STRING, _ARRAY = 8, 9
_SCALARS = {
    0: struct.Struct("<B"),
    1: struct.Struct("<b"),
    2: struct.Struct("<H"),
    3: struct.Struct("<h"),
    4: struct.Struct("<I"),
    5: struct.Struct("<i"),
    6: struct.Struct("<f"),
    7: struct.Struct("<?"),
    10: struct.Struct("<Q"),
    11: struct.Struct("<q"),
    12: struct.Struct("<d"),
}
_U32, _U64 = _SCALARS[4], _SCALARS[10]


@dataclass(frozen=True, slots=True)
class GGUFArray:
    """An array value of the key-value section, summarised: its item type id and length."""

    item_type: int
    count: int


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    """A parsed GGUF header.

    ``metadata`` maps keys to scalars, strings or :class:`GGUFArray` summaries;
    ``tensors`` are :class:`TensorInfo` records (shape in PyTorch order, dtype the
    GGML type name, absolute ``data_offset``) in offset order; ``data_start`` is
    the aligned start of the data section.
    """

    version: int
    metadata: Mapping[str, object]
    tensors: tuple[TensorInfo, ...]
    alignment: int
    data_start: int


@dataclass(frozen=True, slots=True)
class RawTensor:
    """A tensor for :func:`encode_gguf`: ggml-order ``dims``, ``type_id`` and its bytes."""

    name: str
    dims: tuple[int, ...]
    type_id: int
    data: bytes


class _Short(CheckpointError):
    """The header runs past the bytes given, but the file has more (read more and retry)."""


def parse_gguf_header(buf, *, file: str, file_size: int | None = None) -> GGUFHeader:
    """Parse the GGUF header at the start of the buffer ``buf``.

    ``buf`` is anything supporting the buffer protocol (bytes, a numpy memmap)
    holding the file's first bytes, at least its whole header; ``file_size`` is the
    size of the whole file (defaults to ``len(buf)``), against which tensor data is
    bounds-checked. ``file`` names the file in messages and records.

    Raises :class:`CheckpointError` for a bad magic, an unsupported version, a
    truncated or malformed header, an unknown tensor type id, a misaligned offset
    or tensor data beyond the end of the file.
    """
    view = memoryview(buf).cast("B")
    size = len(view) if file_size is None else file_size
    cur = _Cursor(view, file, size)
    if bytes(cur.buf[:4]) != GGUF_MAGIC:
        raise CheckpointError(f"{file}: not a GGUF file (magic {bytes(cur.buf[:4])!r}, expected b'GGUF')")
    cur.pos = 4
    version = cur.scalar(_U32, "version")
    if version not in SUPPORTED_VERSIONS:
        hint = " (a big-endian file?)" if version > 0xFFFF else ""
        raise CheckpointError(f"{file}: unsupported GGUF version {version}{hint}; supported: 2, 3")
    n_tensors = cur.scalar(_U64, "tensor count")
    n_kv = cur.scalar(_U64, "key-value count")
    if n_tensors > MAX_TENSORS or n_kv > MAX_KEYS:
        raise CheckpointError(
            f"{file}: header declares {n_tensors} tensors and {n_kv} keys; at most {MAX_TENSORS} and {MAX_KEYS} allowed"
        )
    metadata: dict[str, object] = {}
    for _ in range(n_kv):
        key = cur.string("key")
        if key in metadata:
            raise CheckpointError(f"{file}: key {key!r} appears twice")
        metadata[key] = cur.value(cur.scalar(_U32, f"type of {key!r}"), key, 0)
    alignment = _alignment(metadata, file)
    arch = metadata.get("general.architecture")
    bitnet = isinstance(arch, str) and "bitnet" in arch.lower()
    raw = []
    names: set[str] = set()
    for _ in range(n_tensors):
        name = cur.string("tensor name")
        if not name or name in names:
            raise CheckpointError(f"{file}: tensor name {name!r} is empty or repeated")
        names.add(name)
        n_dims = cur.scalar(_U32, f"n_dims of {name!r}")
        if not 1 <= n_dims <= MAX_DIMS:
            raise CheckpointError(f"{file}: tensor {name!r}: n_dims = {n_dims}, must be 1 to {MAX_DIMS}")
        dims = tuple(cur.scalar(_U64, f"dims of {name!r}") for _ in range(n_dims))
        type_id = cur.scalar(_U32, f"type of {name!r}")
        offset = cur.scalar(_U64, f"offset of {name!r}")
        raw.append((name, dims, type_id, offset))
    data_start = -(-cur.pos // alignment) * alignment
    located = [_locate(file, size, data_start, alignment, bitnet, *r) for r in raw]
    tensors = _tensor_infos(file, size, located)
    return GGUFHeader(
        version=version, metadata=metadata, tensors=tuple(tensors), alignment=alignment, data_start=data_start
    )


def read_gguf_header(path: str | os.PathLike, *, file: str | None = None) -> GGUFHeader:
    """Read and parse the header of the GGUF file ``path`` (see :func:`parse_gguf_header`).

    Reads the first MiB, and four times more while the header runs past it, up to
    :data:`MAX_HEADER_BYTES`; the tensor data is never read or mapped.
    """
    path = Path(path)
    label = file if file is not None else path.name
    want = 1 << 20
    while True:
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                head = fh.read(min(size, want))
        except OSError as exc:
            raise CheckpointError(f"{label}: cannot read ({exc.strerror or exc})") from None
        if size == 0:
            raise CheckpointError(f"{label}: file is empty, not a GGUF file")
        try:
            return parse_gguf_header(head, file=label, file_size=size)
        except _Short:
            if want >= MAX_HEADER_BYTES:
                raise CheckpointError(f"{label}: header runs past {MAX_HEADER_BYTES} bytes, the limit") from None
            want = min(4 * want, MAX_HEADER_BYTES)


def encode_gguf(
    metadata: Mapping[str, str | int | float | bool], tensors: Sequence[RawTensor], *, alignment: int = 32
) -> bytes:
    """A complete GGUF v3 file holding ``metadata`` and ``tensors`` (for small synthetic files).

    Strings are stored as STRING, bools as BOOL, floats as FLOAT32, ints as UINT32
    when they fit, else INT64. ``general.alignment`` is written when not 32.
    """
    meta = dict(metadata)
    if alignment != DEFAULT_ALIGNMENT:
        meta["general.alignment"] = alignment
    out = bytearray(GGUF_MAGIC + struct.pack("<IQQ", 3, len(tensors), len(meta)))
    for key, value in meta.items():
        out += _encode_string(key)
        if isinstance(value, str):
            out += struct.pack("<I", _STRING) + _encode_string(value)
        elif isinstance(value, bool):
            out += struct.pack("<I?", 7, value)
        elif isinstance(value, float):
            out += struct.pack("<If", 6, value)
        elif 0 <= value < 2**32:
            out += struct.pack("<II", 4, value)
        else:
            out += struct.pack("<Iq", 11, value)
    offset = 0
    for t in tensors:
        out += _encode_string(t.name) + struct.pack("<I", len(t.dims))
        out += struct.pack(f"<{len(t.dims)}Q", *t.dims) + struct.pack("<IQ", t.type_id, offset)
        offset += -(-len(t.data) // alignment) * alignment
    out += bytes(-len(out) % alignment)
    for t in tensors:
        out += t.data + bytes(-len(t.data) % alignment)
    return bytes(out)


class _Cursor:
    """Bounds-checked reads from a byte buffer; every overrun is a CheckpointError."""

    __slots__ = ("buf", "pos", "file", "size")

    def __init__(self, buf: memoryview, file: str, size: int):
        self.buf, self.pos, self.file, self.size = buf, 0, file, size

    def need(self, n: int, what: str) -> None:
        if n > len(self.buf) - self.pos:
            if n <= self.size - self.pos:
                raise _Short(f"{self.file}: header runs past the {len(self.buf)} bytes given, reading {what}")
            raise CheckpointError(f"{self.file}: header truncated at byte {self.pos} while reading {what}")

    def scalar(self, fmt: struct.Struct, what: str):
        self.need(fmt.size, what)
        (v,) = fmt.unpack_from(self.buf, self.pos)
        self.pos += fmt.size
        return v

    def string(self, what: str) -> str:
        n = self.scalar(_U64, what)
        self.need(n, what)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError(f"{self.file}: {what} at byte {self.pos - n} is not valid UTF-8") from None

    def value(self, vtype: int, key: str, depth: int) -> object:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype], f"value of {key!r}")
        if vtype == _STRING:
            return self.string(f"value of {key!r}")
        if vtype != _ARRAY:
            raise CheckpointError(f"{self.file}: key {key!r} has unknown value type {vtype}")
        if depth >= MAX_ARRAY_NESTING:
            raise CheckpointError(f"{self.file}: key {key!r}: arrays nested deeper than {MAX_ARRAY_NESTING}")
        item = self.scalar(_U32, f"array type of {key!r}")
        count = self.scalar(_U64, f"array length of {key!r}")
        if item in _SCALARS:
            self.need(count * _SCALARS[item].size, f"array {key!r}")
            self.pos += count * _SCALARS[item].size
        elif item == _STRING:  # skipped, not decoded: vocabularies are large and need not be UTF-8
            self.need(count * 8, f"array {key!r}")
            for _ in range(count):
                n = self.scalar(_U64, f"string length in array {key!r}")
                self.need(n, f"string in array {key!r}")
                self.pos += n
        elif item == _ARRAY:
            self.need(count * 12, f"array {key!r}")
            for _ in range(count):
                self.value(item, key, depth + 1)
        else:
            raise CheckpointError(f"{self.file}: key {key!r} is an array of unknown value type {item}")
        return GGUFArray(item_type=item, count=count)


def _encode_string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _alignment(metadata: Mapping[str, object], file: str) -> int:
    value = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value & (value - 1):
        raise CheckpointError(f"{file}: general.alignment = {value!r}, must be a power of two")
    return value


def _type_of(type_id: int, bitnet: bool) -> tuple[str, int | None, int | None] | None:
    if type_id == TYPE_TL2:
        return ("TL2", None, None) if bitnet or _MXFP4 is None else _MXFP4
    return GGML_TYPES.get(type_id)


def _locate(
    file: str, size: int, data_start: int, alignment: int, bitnet: bool, name: str, dims, type_id: int, offset: int
) -> tuple[str, str, tuple[int, ...], int, int | None]:
    """Check one tensor info; return ``(name, type name, shape, start, nbytes or None)``."""
    where = f"{file}: tensor {name!r}"
    kind = _type_of(type_id, bitnet)
    if kind is None:
        known = ", ".join(f"{n}({i})" for i, (n, _, _) in sorted(GGML_TYPES.items()))
        raise CheckpointError(f"{where}: unknown GGML type id {type_id}; supported: {known}, TL2(39)")
    type_name, block, type_size = kind
    n = math.prod(dims)
    nbytes: int | None = None  # TL1/TL2: found from the next tensor's offset
    if block is not None:
        if dims[0] % block:
            raise CheckpointError(f"{where}: row length {dims[0]} is not a multiple of the {type_name} block {block}")
        nbytes = n // block * type_size
    elif type_id == TYPE_I2_S:
        nbytes = -(-n // 4) + I2S_TAIL_BYTES
    if offset % alignment:
        raise CheckpointError(f"{where}: data offset {offset} is not a multiple of the alignment {alignment}")
    start = data_start + offset
    end = start + (nbytes or 0)
    if end > size:
        raise CheckpointError(f"{where}: data [{start}, {end}) lies beyond the end of the file ({size} bytes)")
    return name, type_name, tuple(reversed(dims)), start, nbytes


def _tensor_infos(file: str, size: int, located: list[tuple]) -> list[TensorInfo]:
    """TensorInfo records in offset order; TL1/TL2 extend to the next tensor (or end of file)."""
    located = sorted(located, key=lambda r: r[3])
    out = []
    for i, (name, type_name, shape, start, nbytes) in enumerate(located):
        if nbytes is None:
            nbytes = (located[i + 1][3] if i + 1 < len(located) else size) - start
        out.append(
            TensorInfo(
                name=name,
                dtype=type_name,
                shape=shape,
                file=file,
                logical_shape=shape,
                data_offset=start,
                nbytes=nbytes,
            )
        )
    return out
