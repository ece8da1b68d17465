"""Small synthetic checkpoints in every format Tritium reads (for tests and benchmarks).

Each writer takes ternary matrices with known scales (:class:`TernaryTensor`) and
writes real files -- safetensors headers, ``config.json``, sharded indexes, GGUF via
``gguf.GGUFWriter`` or, for bitnet.cpp's I2_S, Tritium's own encoder -- atomically,
so a failed write leaves nothing behind. :func:`write_sparse_checkpoint` writes
headers only and truncates each shard to its full size, giving a checkpoint with
real shapes and no data (a Llama-2-70B one takes ~138 GB of apparent, not actual,
disk space on a file system with sparse files).
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import gguf
import numpy as np

from tritium.base.errors import SpecError
from tritium.base.fileio import atomic_path, write_bytes_atomic, write_text_atomic
from tritium.base.specio import check_choice, check_int
from tritium.workloads.checkpoints.gguf_io import I2S_TAIL_BYTES, TYPE_I2_S, RawTensor, encode_gguf
from tritium.workloads.checkpoints.safetensors_io import encode_safetensors_header
from tritium.workloads.checkpoints.unpack import f32_to_bf16, pack_i2s, pack_u8

__all__ = [
    "TernaryTensor",
    "llama_shapes",
    "random_trits",
    "write_float_safetensors",
    "write_gguf",
    "write_packed_safetensors",
    "write_sparse_checkpoint",
]

_NP_FLOAT = {"F16": np.float16, "F32": np.float32}


@dataclass(frozen=True, slots=True, eq=False)
class TernaryTensor:
    """A ternary matrix and the absmean scale of the latent weights it stands for.

    ``trits`` is an ``(out, in)`` integer array with values in {-1, 0, +1};
    ``scale`` is one positive number (mean|W|), or a tuple of them, one per equal
    block of rows (TriLM's per-shard scales; only ``write_float_safetensors(...,
    mode="ternary")`` and the GGUF TQ writers accept several).
    """

    trits: np.ndarray
    scale: float | tuple[float, ...]

    def __post_init__(self) -> None:
        t = self.trits
        if not isinstance(t, np.ndarray) or t.ndim != 2 or t.dtype.kind not in "iu" or 0 in t.shape:
            raise SpecError("trits", getattr(t, "shape", t), "must be a non-empty 2-D integer array")
        if t.size and (t.min() < -1 or t.max() > 1):
            raise SpecError("trits", (int(t.min()), int(t.max())), "values must be -1, 0 or +1")
        scales = self.scale if isinstance(self.scale, tuple) else (self.scale,)
        if not scales or t.shape[0] % len(scales):
            raise SpecError("scale", self.scale, f"must give 1 or a divisor of {t.shape[0]} scales")
        for s in scales:
            if isinstance(s, bool) or not isinstance(s, (int, float, np.floating)) or not 0 < s < math.inf:
                raise SpecError("scale", self.scale, "scales must be finite numbers > 0")

    @property
    def row_scales(self) -> np.ndarray:
        """The scale of each output row (float64, length ``out``)."""
        scales = np.asarray(self.scale if isinstance(self.scale, tuple) else (self.scale,), dtype=np.float64)
        return np.repeat(scales, self.trits.shape[0] // scales.size)

    def single_scale(self, writer: str) -> float:
        """The one scale; ``writer`` names the caller in the error when there are several."""
        if isinstance(self.scale, tuple):
            if len(self.scale) != 1:
                raise SpecError("scale", self.scale, f"{writer} stores one scale per tensor")
            return float(self.scale[0])
        return float(self.scale)


def random_trits(rows: int, cols: int, *, zero_frac: float = 0.31, seed: int = 0) -> np.ndarray:
    """A random ``(rows, cols)`` int8 ternary matrix: zeros with probability ``zero_frac``, else +-1."""
    rng = np.random.default_rng(seed)
    signs = np.where(rng.random((rows, cols)) < 0.5, -1, 1).astype(np.int8)
    return np.where(rng.random((rows, cols)) < zero_frac, 0, signs).astype(np.int8)


def write_packed_safetensors(
    directory: str | os.PathLike,
    tensors: Mapping[str, TernaryTensor],
    *,
    linear_class: str | None = "autobitlinear",
    scale_dtype: str = "BF16",
    write_config: bool = True,
    config: Mapping[str, object] | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
    shards: int = 1,
) -> Path:
    """Write a packed-U8 BitNet checkpoint (2B4T / Falcon3 layout) into ``directory``.

    Each entry ``name`` (a ``*.weight``) becomes a U8 ``(out/4, in)`` tensor and a
    ``name + "_scale"`` ``[1]`` tensor of ``scale_dtype`` holding ``mean|W|``
    (``autobitlinear``) or ``1/mean|W|`` (``bitlinear``, also used when
    ``linear_class`` is None: then config.json omits the class, as Falcon3's does).
    ``config.json`` gets ``quantization_config`` plus the keys of ``config``;
    ``write_config=False`` writes none. ``extra`` float arrays are stored as-is.
    Returns the checkpoint folder.
    """
    if linear_class is not None:
        check_choice("linear_class", linear_class, ("autobitlinear", "bitlinear"))
    check_choice("scale_dtype", scale_dtype, ("BF16", "F16", "F32"))
    arrays: dict[str, tuple[str, np.ndarray]] = {}
    for name, tt in tensors.items():
        scale = tt.single_scale("packed U8")
        stored = scale if linear_class == "autobitlinear" else 1.0 / scale
        arrays[name] = ("U8", pack_u8(tt.trits))
        arrays[name + "_scale"] = _float_array(np.array([stored]), scale_dtype)
    arrays.update(_extra_arrays(extra))
    directory = Path(directory)
    if write_config:
        qc: dict[str, object] = {"quant_method": "bitnet", "quantization_mode": "offline"}
        if linear_class is not None:
            qc["linear_class"] = linear_class
        write_text_atomic(directory / "config.json", json.dumps({**(config or {}), "quantization_config": qc}))
    return _write_safetensors_set(directory, arrays, shards)


def write_float_safetensors(
    directory: str | os.PathLike,
    tensors: Mapping[str, TernaryTensor],
    *,
    dtype: str = "F16",
    mode: str = "latent",
    extra: Mapping[str, np.ndarray] | None = None,
    shards: int = 1,
    seed: int = 0,
) -> Path:
    """Write float weights (``F16``, ``BF16`` or ``F32``) into ``directory``.

    ``mode="latent"`` (1bitLLM) stores random latent weights whose absmean
    ternarization is exactly the given trits and whose mean|W| is the scale:
    non-zeros ``+-U(0.8, 1.2)``, zeros below 0.45x the non-zeros' contribution to
    the mean (so below half the mean, after rescaling and rounding), checked after
    rounding to ``dtype``. ``mode="ternary"`` (TriLM) stores ``trits x row scale``.
    Returns the checkpoint folder.
    """
    check_choice("dtype", dtype, ("F16", "BF16", "F32"))
    check_choice("mode", mode, ("latent", "ternary"))
    arrays: dict[str, tuple[str, np.ndarray]] = {}
    for i, (name, tt) in enumerate(tensors.items()):
        if mode == "ternary":
            w = tt.trits * tt.row_scales[:, None]
        else:
            w = _latent_weights(tt.trits, tt.single_scale("latent mode"), np.random.default_rng([seed, i]))
        arrays[name] = _float_array(w, dtype)
        if mode == "latent":
            _check_absmean(name, _as_float64(*arrays[name]), tt.trits)
    arrays.update(_extra_arrays(extra))
    return _write_safetensors_set(Path(directory), arrays, shards)


def write_gguf(
    path: str | os.PathLike,
    tensors: Mapping[str, TernaryTensor],
    qtype: str,
    *,
    architecture: str = "bitnet",
    extra: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write a GGUF file with the ternary ``tensors`` encoded as ``qtype``.

    ``qtype`` is ``TQ1_0`` or ``TQ2_0`` (through ``gguf.quants.quantize`` and
    ``GGUFWriter``; rows must be a multiple of 256 long), ``I2_S`` (bitnet.cpp type
    36, Tritium's own encoder: codes then a 32-byte tail with the fp32 scale; size
    a multiple of 128, one scale) or ``F16`` (``trits x row scale``). ``extra``
    float32/float16 arrays are stored as F32/F16. Returns ``path``.
    """
    check_choice("qtype", qtype, ("TQ1_0", "TQ2_0", "I2_S", "F16"))
    extra = dict(extra or {})
    if qtype == "I2_S":
        raw = [_i2s_tensor(name, tt) for name, tt in tensors.items()]
        for name, a in extra.items():
            a = np.ascontiguousarray(a)
            type_id = 1 if a.dtype == np.float16 else 0
            raw.append(RawTensor(name, tuple(reversed(a.shape)), type_id, a.astype(_gguf_float(type_id)).tobytes()))
        meta = {"general.architecture": architecture, "general.name": "tritium-synthetic"}
        return write_bytes_atomic(path, encode_gguf(meta, raw))
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(tmp, architecture)
        for name, tt in tensors.items():
            w = (tt.trits * tt.row_scales[:, None]).astype(np.float32)
            if qtype == "F16":
                writer.add_tensor(name, w.astype(np.float16))
                continue
            if w.shape[1] % 256:
                raise SpecError(f"{name}.cols", w.shape[1], f"{qtype} needs rows a multiple of 256 long")
            q = gguf.GGMLQuantizationType[qtype]
            writer.add_tensor(name, gguf.quants.quantize(w, q), raw_dtype=q)
        for name, a in extra.items():
            writer.add_tensor(name, np.ascontiguousarray(a))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return Path(path)


def llama_shapes(
    *,
    hidden: int,
    intermediate: int,
    layers: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    vocab: int,
    tie_embeddings: bool,
) -> dict[str, tuple[int, ...]]:
    """``{tensor name: shape}`` of a Llama-style Hugging Face checkpoint, in file order.

    Llama-2-70B (``hidden=8192, intermediate=28672, layers=80, heads=64, kv_heads=8,
    head_dim=128, vocab=32000, tie_embeddings=False``) gives 723 tensors.
    """
    q, kv = heads * head_dim, kv_heads * head_dim
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (vocab, hidden)}
    for i in range(layers):
        p = f"model.layers.{i}"
        shapes[f"{p}.input_layernorm.weight"] = (hidden,)
        shapes[f"{p}.self_attn.q_proj.weight"] = (q, hidden)
        shapes[f"{p}.self_attn.k_proj.weight"] = (kv, hidden)
        shapes[f"{p}.self_attn.v_proj.weight"] = (kv, hidden)
        shapes[f"{p}.self_attn.o_proj.weight"] = (hidden, q)
        shapes[f"{p}.post_attention_layernorm.weight"] = (hidden,)
        shapes[f"{p}.mlp.gate_proj.weight"] = (intermediate, hidden)
        shapes[f"{p}.mlp.up_proj.weight"] = (intermediate, hidden)
        shapes[f"{p}.mlp.down_proj.weight"] = (hidden, intermediate)
    shapes["model.norm.weight"] = (hidden,)
    if not tie_embeddings:
        shapes["lm_head.weight"] = (vocab, hidden)
    return shapes


def write_sparse_checkpoint(
    directory: str | os.PathLike,
    shapes: Mapping[str, tuple[int, ...]],
    *,
    dtype: str = "F16",
    shards: int = 15,
    config: Mapping[str, object] | None = None,
) -> Path:
    """Write a sharded safetensors checkpoint with real headers and no data.

    Tensors are split into ``shards`` files of about equal size, named like Hugging
    Face's (``model-00001-of-00015.safetensors``), plus
    ``model.safetensors.index.json`` and, if given, ``config.json``. Each shard is
    its header followed by a hole (``truncate``), so nothing but headers is written.
    Returns the folder.
    """
    check_int("shards", shards, lo=1, hi=len(shapes))
    directory = Path(directory)
    names = list(shapes)
    sizes = np.array([math.prod(shapes[n]) for n in names], dtype=np.float64)
    # shard k takes the tensors whose cumulative size midpoint falls in its 1/shards slice
    mid = (np.cumsum(sizes) - sizes / 2) / sizes.sum()
    which = np.minimum((mid * shards).astype(int), shards - 1)
    weight_map: dict[str, str] = {}
    total = 0
    for k in range(shards):
        members = [n for n, w in zip(names, which) if w == k]
        shard = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        header, offsets = encode_safetensors_header({n: (dtype, shapes[n]) for n in members})
        data = max((end for _, end in offsets.values()), default=0)
        with atomic_path(directory / shard) as tmp:
            tmp.write_bytes(header)
            os.truncate(tmp, len(header) + data)
        weight_map.update({n: shard for n in members})
        total += data
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    write_text_atomic(directory / "model.safetensors.index.json", json.dumps(index, indent=1))
    if config is not None:
        write_text_atomic(directory / "config.json", json.dumps(dict(config), indent=1))
    return directory


def _latent_weights(trits: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    nonzero = trits != 0
    w = trits * rng.uniform(0.8, 1.2, trits.shape)
    # Zeros stay below 0.45 * sum(non-zero |w|) / n <= 0.45 * mean|w| < mean|w| / 2,
    # and non-zeros stay >= 0.8 > 0.6 >= mean|w| / 2 (mean|w| <= 1.2 here); the
    # rescaling below keeps both margins, which dwarf bf16 rounding (0.4 %).
    cap = 0.45 * float(np.abs(w).sum()) / trits.size
    zeros = rng.uniform(0.0, cap, trits.shape) * np.where(rng.random(trits.shape) < 0.5, -1.0, 1.0)
    w = np.where(nonzero, w, zeros)
    mean = float(np.abs(w).mean())
    return w * (scale / mean) if mean > 0 else w


def _check_absmean(name: str, w: np.ndarray, trits: np.ndarray) -> None:
    s = np.abs(w).mean()
    t = np.where(np.abs(w) < s / 2, 0, np.sign(w))
    if not np.array_equal(t, trits):
        raise RuntimeError(f"{name}: generated latent weights do not ternarize back to the given trits")


def _float_array(values: np.ndarray, dtype: str) -> tuple[str, np.ndarray]:
    """``(safetensors dtype, array)``; BF16 is stored as uint16 bit patterns."""
    if dtype == "BF16":
        return dtype, f32_to_bf16(values.astype(np.float32))
    return dtype, np.asarray(values).astype(_NP_FLOAT[dtype])


def _as_float64(dtype: str, array: np.ndarray) -> np.ndarray:
    if dtype == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return array.astype(np.float64)


def _extra_arrays(extra: Mapping[str, np.ndarray] | None) -> dict[str, tuple[str, np.ndarray]]:
    names = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32"}
    out = {}
    for name, a in (extra or {}).items():
        a = np.asarray(a)
        if a.dtype not in names:
            raise SpecError(f"extra[{name!r}].dtype", str(a.dtype), "must be float16 or float32")
        out[name] = (names[a.dtype], a)
    return out


def _write_safetensors_set(directory: Path, arrays: Mapping[str, tuple[str, np.ndarray]], shards: int) -> Path:
    """Write ``model.safetensors`` (or ``shards`` shard files plus the index JSON)."""
    check_int("shards", shards, lo=1, hi=max(1, len(arrays)))
    names = list(arrays)
    groups = [list(g) for g in np.array_split(np.array(names, dtype=object), shards)]
    weight_map: dict[str, str] = {}
    total = 0
    for k, group in enumerate(groups):
        shard = "model.safetensors" if shards == 1 else f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        header, _ = encode_safetensors_header({n: (arrays[n][0], arrays[n][1].shape) for n in group})
        with atomic_path(directory / shard) as tmp, open(tmp, "wb") as fh:
            fh.write(header)
            for n in group:
                data = np.ascontiguousarray(arrays[n][1]).tobytes()
                fh.write(data)
                total += len(data)
        weight_map.update({n: shard for n in group})
    if shards > 1:
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        write_text_atomic(directory / "model.safetensors.index.json", json.dumps(index, indent=1))
    return directory


def _i2s_tensor(name: str, tt: TernaryTensor) -> RawTensor:
    rows, cols = tt.trits.shape
    scale = tt.single_scale("I2_S")
    tail = struct.pack("<f", scale) + bytes(I2S_TAIL_BYTES - 4)
    return RawTensor(name, (cols, rows), TYPE_I2_S, pack_i2s(tt.trits).tobytes() + tail)


def _gguf_float(type_id: int) -> type:
    return np.float16 if type_id == 1 else np.float32
