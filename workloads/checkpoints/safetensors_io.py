"""safetensors headers: parse (strictly, for untrusted files), read, and encode.

A safetensors file is an 8-byte little-endian header length ``n``, ``n`` bytes of
UTF-8 JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{...}}``, then the data; offsets are relative to the end of the header. A sharded
checkpoint lists ``{tensor: shard file}`` in the ``weight_map`` of
``model.safetensors.index.json``. See docs/sources.md §7.

Every malformed header raises :class:`~tritium.base.errors.CheckpointError` with one line
naming the file, the tensor (where there is one) and what is wrong.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Mapping

from tritium.base.errors import CheckpointError
from tritium.workloads.checkpoints.tensors import TensorInfo

__all__ = [
    "DTYPE_SIZES",
    "MAX_HEADER_BYTES",
    "SafetensorsHeader",
    "encode_safetensors_header",
    "parse_safetensors_header",
    "read_safetensors_header",
    "read_safetensors_index",
]

DTYPE_SIZES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
"""Bytes per element of each safetensors dtype Tritium accepts."""

MAX_HEADER_BYTES = 100_000_000
"""Largest header accepted (the safetensors library's own limit)."""


@dataclass(frozen=True, slots=True)
class SafetensorsHeader:
    """The parsed header of one safetensors file.

    ``tensors`` are in data-offset order, with absolute ``data_offset``;
    ``metadata`` is the ``__metadata__`` object (empty when absent); ``data_start``
    is the byte where the data section begins (``8 + header length``).
    """

    tensors: tuple[TensorInfo, ...]
    metadata: Mapping[str, object]
    data_start: int


def parse_safetensors_header(data: bytes, *, file: str, file_size: int | None = None) -> SafetensorsHeader:
    """Parse a safetensors header from ``data``, the first bytes of the file.

    ``data`` must hold at least the 8-byte length and the JSON header;
    ``file_size`` is the size of the whole file (defaults to ``len(data)``), used to
    check that every tensor's data lies inside it. ``file`` names the file in
    messages and in the returned :class:`TensorInfo` records.

    Raises :class:`CheckpointError` for a short file, an oversized or non-JSON
    header, a missing or ill-typed ``dtype``/``shape``/``data_offsets``, an unknown
    dtype, an offset span that disagrees with shape x dtype, or data past the end.
    """
    size = len(data) if file_size is None else file_size
    if size < 8 or len(data) < 8:
        raise CheckpointError(f"{file}: file is {size} bytes, too short for the 8-byte safetensors header length")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > size - 8:
        raise CheckpointError(f"{file}: header length {n} bytes exceeds the file ({size} bytes)")
    if n > MAX_HEADER_BYTES:
        raise CheckpointError(f"{file}: header length {n} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    if len(data) < 8 + n:
        raise CheckpointError(f"{file}: only {len(data)} header bytes given, header needs {8 + n}")
    header = _decode_json(bytes(data[8 : 8 + n]), file)
    data_start = 8 + n
    data_size = size - data_start
    metadata: Mapping[str, object] = {}
    tensors = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict):
                raise CheckpointError(f"{file}: __metadata__ must be a JSON object, got {type(entry).__name__}")
            metadata = entry
            continue
        dtype, shape, begin, end = _check_entry(file, name, entry, data_size)
        tensors.append(
            TensorInfo(
                name=name,
                dtype=dtype,
                shape=shape,
                file=file,
                logical_shape=shape,
                data_offset=data_start + begin,
                nbytes=end - begin,
            )
        )
    tensors.sort(key=lambda t: t.data_offset)
    return SafetensorsHeader(tensors=tuple(tensors), metadata=metadata, data_start=data_start)


def read_safetensors_header(path: str | os.PathLike, *, file: str | None = None) -> SafetensorsHeader:
    """Read and parse the header of the safetensors file ``path`` (reads the header only).

    ``file`` is the name used in messages and records (defaults to the file name).
    Raises :class:`CheckpointError` if the file cannot be read or is malformed.
    """
    path = Path(path)
    label = file if file is not None else path.name
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            if len(head) == 8:
                (n,) = struct.unpack("<Q", head)
                if n <= min(size - 8, MAX_HEADER_BYTES):
                    head += fh.read(n)
    except OSError as exc:
        raise CheckpointError(f"{label}: cannot read ({exc.strerror or exc})") from None
    return parse_safetensors_header(head, file=label, file_size=size)


def read_safetensors_index(path: str | os.PathLike) -> dict[str, str]:
    """The ``weight_map`` of a sharded checkpoint's index JSON: ``{tensor: shard file}``.

    Shard names must be plain relative paths inside the checkpoint folder. Raises
    :class:`CheckpointError` for unreadable or invalid JSON, a missing or ill-typed
    ``weight_map``, or a shard path that leaves the folder.
    """
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path.name}: cannot read ({exc.strerror or exc})") from None
    index = _decode_json(text, path.name)
    weight_map = index.get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{path.name}: needs a non-empty 'weight_map' object mapping tensor names to shard files")
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard:
            raise CheckpointError(f"{path.name}: weight_map[{name!r}] = {shard!r}: must be a shard file name")
        parts = PurePosixPath(shard).parts
        if PurePosixPath(shard).is_absolute() or ".." in parts or "\\" in shard:
            raise CheckpointError(f"{path.name}: weight_map[{name!r}] = {shard!r}: must be a path inside the folder")
    return dict(weight_map)


def encode_safetensors_header(
    tensors: Mapping[str, tuple[str, tuple[int, ...]]], metadata: Mapping[str, str] | None = None
) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """Encode a header for ``{name: (dtype, shape)}``, data laid out in the given order.

    Returns the header bytes (length prefix and JSON padded with spaces to a
    multiple of 8, as the safetensors library writes it) and ``{name: (begin, end)}``
    data offsets relative to the data section.
    """
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offsets: dict[str, tuple[int, int]] = {}
    pos = 0
    for name, (dtype, shape) in tensors.items():
        nbytes = math.prod(shape) * DTYPE_SIZES[dtype]
        offsets[name] = (pos, pos + nbytes)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, offsets


def _decode_json(raw: bytes, file: str) -> dict:
    """``raw`` as a JSON object; duplicate keys and anything else odd are errors."""

    def no_duplicates(pairs: list[tuple[str, object]]) -> dict:
        out: dict[str, object] = {}
        for key, value in pairs:
            if key in out:
                raise CheckpointError(f"{file}: header repeats the key {key!r}")
            out[key] = value
        return out

    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=no_duplicates)
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{file}: header is not valid UTF-8 (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{file}: header is not valid JSON ({first})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{file}: header must be a JSON object, got {type(value).__name__}")
    return value


def _check_entry(file: str, name: str, entry: object, data_size: int) -> tuple[str, tuple[int, ...], int, int]:
    """Validate one tensor entry; return ``(dtype, shape, begin, end)``."""
    where = f"{file}: tensor {name!r}"
    if not name:
        raise CheckpointError(f"{where}: tensor names must not be empty")
    if not isinstance(entry, dict):
        raise CheckpointError(f"{where}: entry must be an object with dtype, shape, data_offsets")
    for key in ("dtype", "shape", "data_offsets"):
        if key not in entry:
            raise CheckpointError(f"{where}: entry lacks {key!r} (needs dtype, shape, data_offsets)")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
        raise CheckpointError(f"{where}: unknown dtype {dtype!r}; supported: {', '.join(DTYPE_SIZES)}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise CheckpointError(f"{where}: shape {shape!r} must be a list of integers >= 0")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_count(o) for o in offsets):
        raise CheckpointError(f"{where}: data_offsets {offsets!r} must be [begin, end], integers >= 0")
    begin, end = offsets
    if end < begin:
        raise CheckpointError(f"{where}: data_offsets [{begin}, {end}] end before they begin")
    need = math.prod(shape) * DTYPE_SIZES[dtype]
    if end - begin != need:
        raise CheckpointError(
            f"{where}: data_offsets span {end - begin} bytes but shape {shape} of {dtype} needs {need} "
            "(dtype or shape mismatch)"
        )
    if end > data_size:
        raise CheckpointError(
            f"{where}: data [{begin}, {end}) lies beyond the end of the file ({data_size} data bytes)"
        )
    return dtype, tuple(shape), begin, end


def _is_count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0
