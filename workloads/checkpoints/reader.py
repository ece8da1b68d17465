"""Find a checkpoint's files, list its tensors, and stream ternary weight statistics.

Accepted paths: a ``.safetensors`` file; a sharded index
(``*.safetensors.index.json``); a ``.gguf`` file; or a folder holding
``model.safetensors.index.json``, else ``model.safetensors``, else exactly one
``.gguf``, one ``*.safetensors.index.json`` or one ``.safetensors`` file.

Packed-U8 scale convention (docs/sources.md §7): ``autobitlinear`` stores
``weight_scale = mean|W|``, ``bitlinear`` stores ``1 / mean|W|``. It is taken from
the ``scale_convention`` argument, else from ``config.json`` beside the weights
(``quantization_config.linear_class``; ``bitlinear`` when ``quant_method`` is
``bitnet`` and the class is absent), else assumed ``autobitlinear`` -- in which case
the stats' ``source`` ends in ``autobitlinear-assumed``. The convention changes
only ``scale``, never the counts.

Every file read from a checkpoint folder (the file picked in it, the shards an
index lists, ``config.json``) must resolve inside that folder: a symlink leading
elsewhere is refused before a byte of its target is read. The one exception is
the Hugging Face hub cache, whose ``snapshots/<rev>/`` files link to
``../../blobs/``: targets in that ``blobs`` folder are accepted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from tritium.base.errors import CheckpointError, TritiumError
from tritium.base.specio import check_choice
from tritium.workloads.checkpoints import decode
from tritium.workloads.checkpoints.gguf_io import read_gguf_header
from tritium.workloads.checkpoints.safetensors_io import read_safetensors_header, read_safetensors_index
from tritium.workloads.checkpoints.tensors import PROJECTIONS, TensorInfo, canonical_op
from tritium.workloads.stats import WeightStats

if TYPE_CHECKING:
    from tritium.workloads.models import ModelSpec

__all__ = [
    "SCALE_CONVENTIONS",
    "Checkpoint",
    "checkpoint_tensors",
    "iter_weight_stats",
    "open_checkpoint",
    "read_weight_stats",
]

SCALE_CONVENTIONS = ("autobitlinear", "bitlinear")
_GGUF_TERNARY = ("TQ1_0", "TQ2_0")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint located and described from its headers (no tensor data read).

    ``root`` is the folder the tensors' ``file`` names are relative to; ``format``
    is ``"safetensors"`` or ``"gguf"``; ``config`` is the parsed ``config.json``
    beside safetensors weights (None when absent or for GGUF).
    """

    root: Path
    format: str
    tensors: tuple[TensorInfo, ...]
    config: Mapping[str, object] | None


def open_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Locate the checkpoint at ``path`` and read all its headers (see the module docstring).

    Raises :class:`CheckpointError` when nothing readable is there, a header or the
    index is malformed, a shard is missing, or ``config.json`` is not valid JSON.
    """
    p = Path(path)
    if p.is_dir():
        p = _pick_in_folder(p)
        _check_inside(p.parent, p, p.name)
    elif not p.is_file():
        raise CheckpointError(f"{p}: no such file or folder")
    name = p.name
    if name.endswith(".gguf"):
        header = read_gguf_header(p)
        return Checkpoint(root=p.parent, format="gguf", tensors=header.tensors, config=None)
    if name.endswith(".index.json"):
        tensors = _sharded_tensors(p)
    elif name.endswith(".safetensors"):
        tensors = read_safetensors_header(p).tensors
    else:
        raise CheckpointError(f"{p}: not a checkpoint (expected .safetensors, .safetensors.index.json or .gguf)")
    return Checkpoint(
        root=p.parent, format="safetensors", tensors=_mark_packed(tensors), config=_read_config(p.parent)
    )


def checkpoint_tensors(path: str | os.PathLike) -> list[TensorInfo]:
    """Every tensor of the checkpoint at ``path``, from headers only (no data read).

    Safetensors tensors come in file then offset order, GGUF ones in offset order.
    For a packed-U8 ternary weight (a U8 projection with a ``weight_scale``
    sibling) ``shape`` is the stored ``(out/4, in)`` and ``logical_shape`` the
    unpacked ``(out, in)``. Raises :class:`CheckpointError` as :func:`open_checkpoint`.
    """
    return list(open_checkpoint(path).tensors)


def iter_weight_stats(
    path: str | os.PathLike,
    *,
    scale_convention: str | None = None,
    float_mode: str = "auto",
    model: "ModelSpec | None" = None,
    progress: Callable[[int, int], None] | None = None,
    on_skip: Callable[[TensorInfo, str], None] | None = None,
) -> Iterator[tuple[int, str, WeightStats]]:
    """Yield ``(layer, op, stats)`` for each ternary projection, one tensor at a time.

    Headers are read (and arguments checked) at the call; tensor data is decoded
    lazily, one tensor per item, in ``(layer, op)`` order, each in chunks of
    bounded size (see :mod:`~tritium.workloads.checkpoints.decode`), so memory
    stays near one chunk whatever the tensor's shape.
    ``stats`` has ``rows`` = out_features, ``cols`` = in_features, ``scale`` =
    mean|W| of the latent weights, and a ``source`` such as
    ``checkpoint:model.safetensors:packed_u8:autobitlinear``.

    ``scale_convention`` (``"autobitlinear"`` or ``"bitlinear"``) overrides the
    packed-U8 convention found in ``config.json``. ``float_mode`` (``"auto"``,
    ``"absmean"``, ``"sign"``) says how float weights become ternary (see
    :mod:`~tritium.workloads.checkpoints.decode`). ``model`` (a
    :class:`~tritium.workloads.models.ModelSpec`) is checked against the headers at
    the call, before any data is read: every projection must lie in its layers and
    have its ``(out, in)`` shape. ``progress(done_bytes,
    total_bytes)`` is called as stored bytes are decoded. Projections whose encoding
    is not decoded (GGUF TL1/TL2/MXFP4, integer dtypes, GGUF types ``gguf`` cannot
    dequantize) are not yielded; ``on_skip(info, reason)`` is told about each, and
    callers should fall back to modelled statistics for them.

    Raises :class:`CheckpointError` for unreadable or malformed checkpoints,
    non-2-D projections, shapes that contradict ``model`` or ``config.json``, packed tensors
    without a one-value ``weight_scale``, invalid codes and NaN weights;
    :class:`~tritium.base.errors.SpecError` for a bad argument value.
    """
    if scale_convention is not None:
        check_choice("scale_convention", scale_convention, SCALE_CONVENTIONS)
    check_choice("float_mode", float_mode, decode.FLOAT_MODES)
    ckpt = open_checkpoint(path)
    convention = scale_convention or _config_convention(ckpt.config)
    plan = _projections(ckpt.tensors)
    if model is not None:
        for layer, op, info in plan:
            _check_model_shape(info, layer, op, model)
    expected = _expected_shapes(ckpt.config)
    for _, op, info in plan:
        _check_shape(info, op, expected)
    return _stream(ckpt, plan, convention, float_mode, progress, on_skip)


def read_weight_stats(path: str | os.PathLike, **kw) -> dict[tuple[int, str], WeightStats]:
    """``{(layer, op): stats}`` for every decoded projection (see :func:`iter_weight_stats`)."""
    return {(layer, op): stats for layer, op, stats in iter_weight_stats(path, **kw)}


def _stream(
    ckpt: Checkpoint,
    plan: list[tuple[int, str, TensorInfo]],
    convention: str | None,
    float_mode: str,
    progress: Callable[[int, int], None] | None,
    on_skip: Callable[[TensorInfo, str], None] | None,
) -> Iterator[tuple[int, str, WeightStats]]:
    """The generator behind :func:`iter_weight_stats`: decode ``plan`` one tensor at a time."""
    by_name = {t.name: t for t in ckpt.tensors}
    total = sum(info.nbytes for _, _, info in plan)
    done = 0

    def advance(nbytes: int) -> None:
        nonlocal done
        done += nbytes
        if progress is not None:
            progress(min(done, total), total)

    for layer, op, info in plan:
        start = done
        counts, source = _decode(ckpt, info, by_name, convention, float_mode, advance)
        done = start + info.nbytes
        if progress is not None:
            progress(done, total)
        if counts is None:
            if on_skip is not None:
                on_skip(info, source)
            continue
        yield layer, op, counts.tally.stats(counts.scale, source)


def _decode(
    ckpt: Checkpoint,
    info: TensorInfo,
    by_name: Mapping[str, TensorInfo],
    convention: str | None,
    float_mode: str,
    advance: Callable[[int], None],
) -> tuple[decode.RowCounts | None, str]:
    """Row counts of one projection and its ``source`` label, or ``(None, reason)`` to skip it."""
    tag = f"checkpoint:{info.file}"
    root, dtype = ckpt.root, info.dtype
    if ckpt.format == "safetensors" and dtype == "U8":
        scale_info = by_name.get(info.name + "_scale")
        if scale_info is None:
            raise CheckpointError(
                f"{info.file}: tensor {info.name!r} is packed U8 but has no {info.name + '_scale'!r} tensor"
            )
        weight_scale = decode.read_scalar(root, scale_info)
        if not (math.isfinite(weight_scale) and weight_scale > 0):
            raise CheckpointError(f"{scale_info.file}: tensor {scale_info.name!r} = {weight_scale}: must be > 0")
        counts = decode.packed_u8_counts(root, info, advance)
        used = convention or "autobitlinear"
        scale = weight_scale if used == "autobitlinear" else 1.0 / weight_scale
        label = used if convention else "autobitlinear-assumed"
        return replace(counts, scale=scale), f"{tag}:packed_u8:{label}"
    if decode.is_float_dtype(dtype):
        counts = decode.float_counts(info, decode.stored_float_chunks(root, info), float_mode, advance)
        return counts, f"{tag}:{dtype.lower()}:{counts.mode}"
    if ckpt.format == "safetensors":
        return None, f"dtype {dtype} is not a ternary encoding Tritium decodes (U8 packed, F16, BF16, F32, F64)"
    if dtype == "I2_S":
        return decode.i2s_counts(root, info, advance), f"{tag}:I2_S"
    if dtype in _GGUF_TERNARY:
        counts = decode.float_counts(info, decode.dequantized_chunks(root, info), "sign", advance)
        return counts, f"{tag}:{dtype}"
    if dtype in ("TL1", "TL2"):
        return None, f"GGUF type {dtype} is not decoded (its bitnet.cpp tiling depends on the kernel configuration)"
    if dtype == "MXFP4" or not decode.gguf_can_dequantize(dtype):
        return None, f"GGUF type {dtype} is not decoded (not a ternary encoding gguf.quants dequantizes)"
    counts = decode.float_counts(info, decode.dequantized_chunks(root, info), float_mode, advance)
    return counts, f"{tag}:{dtype}:{counts.mode}"


def _projections(tensors: tuple[TensorInfo, ...]) -> list[tuple[int, str, TensorInfo]]:
    """The projection weights in ``(layer, op)`` order; two tensors for one slot are an error."""
    found: dict[tuple[int, str], TensorInfo] = {}
    for info in tensors:
        key = canonical_op(info.name)
        if key is None:
            continue
        if key in found:
            raise CheckpointError(
                f"{info.file}: tensors {found[key].name!r} and {info.name!r} are both layer {key[0]} {key[1]}"
            )
        if len(info.shape) != 2 or 0 in info.shape:
            raise CheckpointError(
                f"{info.file}: tensor {info.name!r} has shape {list(info.shape)}; a projection must be a 2-D matrix"
            )
        found[key] = info
    order = {op: i for i, op in enumerate(PROJECTIONS)}
    return [(layer, op, found[(layer, op)]) for layer, op in sorted(found, key=lambda k: (k[0], order[k[1]]))]


def _pick_in_folder(folder: Path) -> Path:
    for name in ("model.safetensors.index.json", "model.safetensors"):
        if (folder / name).is_file():
            return folder / name
    for pattern in ("*.gguf", "*.safetensors.index.json", "*.safetensors"):
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(p.name for p in found[:4])
            raise CheckpointError(f"{folder}: {len(found)} {pattern} files ({names}, ...); name the one to read")
    raise CheckpointError(
        f"{folder}: no checkpoint found (expected model.safetensors, model.safetensors.index.json or one .gguf file)"
    )


def _sharded_tensors(index_path: Path) -> list[TensorInfo]:
    weight_map = read_safetensors_index(index_path)
    folder = index_path.parent
    tensors: list[TensorInfo] = []
    for shard in sorted(set(weight_map.values())):
        if not (folder / shard).is_file():
            raise CheckpointError(f"{index_path.name}: lists shard {shard!r}, which does not exist")
        _check_inside(folder, folder / shard, f"{index_path.name}: shard {shard!r}")
        header = read_safetensors_header(folder / shard, file=shard)
        present = {t.name for t in header.tensors}
        for name, where in weight_map.items():
            if where == shard and name not in present:
                raise CheckpointError(f"{index_path.name}: lists tensor {name!r} in {shard!r}, which lacks it")
        tensors.extend(t for t in header.tensors if weight_map.get(t.name) == shard)
    return tensors


def _mark_packed(tensors: list[TensorInfo] | tuple[TensorInfo, ...]) -> tuple[TensorInfo, ...]:
    """Give packed-U8 projections (U8, 2-D, with a ``weight_scale``) their unpacked logical shape."""
    names = {t.name for t in tensors}
    out = []
    for t in tensors:
        if t.dtype == "U8" and len(t.shape) == 2 and t.name + "_scale" in names and canonical_op(t.name):
            t = replace(t, logical_shape=(4 * t.shape[0], t.shape[1]))
        out.append(t)
    return tuple(out)


def _read_config(folder: Path) -> Mapping[str, object] | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    _check_inside(folder, path, "config.json")
    from tritium.workloads.model_config import read_config_json

    try:
        return read_config_json(path)
    except TritiumError as exc:
        detail = str(exc).removeprefix(f"config {path}: ")
        raise CheckpointError(f"config.json: cannot read: {detail}") from None


def _allowed_roots(folder: Path) -> tuple[Path, ...]:
    """Where files of the checkpoint in ``folder`` may resolve: the folder, and in a
    Hugging Face hub cache (``.../snapshots/<rev>``) the repository's ``blobs``."""
    real = folder.resolve()
    if real.parent.name == "snapshots":
        return real, real.parent.parent / "blobs"
    return (real,)


def _check_inside(folder: Path, path: Path, what: str) -> None:
    """Refuse ``path`` when it resolves outside ``folder`` (see the module docstring)."""
    real = path.resolve()
    if not any(real.is_relative_to(root) for root in _allowed_roots(folder)):
        raise CheckpointError(
            f"{what}: is a symlink resolving outside the checkpoint folder {folder}; refused "
            "(copy the file into the folder, or name it directly)"
        )


def _config_convention(config: Mapping[str, object] | None) -> str | None:
    """The packed-U8 scale convention config.json declares, or None."""
    qc = (config or {}).get("quantization_config")
    if not isinstance(qc, dict):
        return None
    linear_class = qc.get("linear_class")
    if linear_class is None:
        return "bitlinear" if qc.get("quant_method") == "bitnet" else None
    if linear_class not in SCALE_CONVENTIONS:
        raise CheckpointError(
            f"config.json: quantization_config.linear_class = {linear_class!r}; expected 'autobitlinear' or 'bitlinear'"
        )
    return linear_class


def _expected_shapes(config: Mapping[str, object] | None) -> dict[str, tuple[int, int]]:
    """``{op: (out, in)}`` implied by a Llama-style config.json; empty if it lacks the sizes."""
    c = config or {}

    def size(key: str, default: object = None) -> int | None:
        v = c.get(key, default)
        return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None

    hidden, inter, heads = size("hidden_size"), size("intermediate_size"), size("num_attention_heads")
    if hidden is None or inter is None or heads is None:
        return {}
    kv = size("num_key_value_heads", heads)
    head_dim = size("head_dim") or hidden // heads
    if kv is None or head_dim == 0:
        return {}
    q, kv_out = heads * head_dim, kv * head_dim
    return {
        "q_proj": (q, hidden),
        "k_proj": (kv_out, hidden),
        "v_proj": (kv_out, hidden),
        "o_proj": (hidden, q),
        "gate_proj": (inter, hidden),
        "up_proj": (inter, hidden),
        "down_proj": (hidden, inter),
    }


def _check_model_shape(info: TensorInfo, layer: int, op: str, model: "ModelSpec") -> None:
    """Refuse a projection outside ``model``'s layers or of another shape than it needs."""
    if layer >= model.num_layers:
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r} is layer {layer}; {model.name} has layers 0..{model.num_layers - 1} "
            "(a checkpoint of another model?)"
        )
    k, n = model.projection_shape(op)
    if tuple(info.logical_shape) != (n, k):
        stored = f" (stored {list(info.shape)})" if info.shape != info.logical_shape else ""
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r} has shape {list(info.logical_shape)}{stored}; "
            f"{model.name} needs [{n}, {k}] (out x in) for {op}: a checkpoint of another model?"
        )


def _check_shape(info: TensorInfo, op: str, expected: Mapping[str, tuple[int, int]]) -> None:
    want = expected.get(op)
    if want is not None and tuple(info.logical_shape) != want:
        stored = f" (stored {list(info.shape)})" if info.shape != info.logical_shape else ""
        raise CheckpointError(
            f"{info.file}: tensor {info.name!r} has shape {list(info.logical_shape)}{stored}; "
            f"config.json implies {list(want)} for {op}"
        )
