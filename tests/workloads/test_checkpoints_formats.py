"""Round trips: synthetic checkpoints with known trits read back to exact statistics."""

from __future__ import annotations

import json

import gguf
import numpy as np
import pytest
import safetensors.numpy

from tritium.workloads.checkpoints import checkpoint_tensors, decode, iter_weight_stats, read_weight_stats, tensor_name
from tritium.workloads.checkpoints.gguf_io import TYPE_TL1, TYPE_TL2, RawTensor, encode_gguf
from tritium.workloads.checkpoints.synthetic import (
    TernaryTensor,
    random_trits,
    write_float_safetensors,
    write_gguf,
    write_packed_safetensors,
)
from tritium.workloads.checkpoints.unpack import pack_u8
from tritium.workloads.stats import HIST_BINS, WeightStats

# (layer, op, rows, cols, zero fraction, scale): two layers, several shapes
LAYOUT = [
    (0, "q_proj", 256, 512, 0.31, 0.031),
    (0, "k_proj", 64, 512, 0.45, 0.047),
    (0, "down_proj", 512, 256, 0.10, 0.012),
    (1, "q_proj", 256, 512, 0.60, 0.020),
    (1, "up_proj", 64, 256, 0.31, 0.090),
]


def make_tensors(style: str = "hf") -> dict[str, TernaryTensor]:
    out = {}
    for seed, (layer, op, rows, cols, zero, scale) in enumerate(LAYOUT):
        trits = random_trits(rows, cols, zero_frac=zero, seed=seed)
        out[tensor_name(layer, op, style=style)] = TernaryTensor(trits=trits, scale=scale)
    return out


def assert_exact(stats: WeightStats, trits: np.ndarray) -> None:
    """Counts, fractions and the per-row histogram equal numpy's, bit for bit."""
    rows, cols = trits.shape
    nnz = np.count_nonzero(trits, axis=1)
    lo, hi = int(nnz.min()), int(nnz.max())
    hist, _ = np.histogram(nnz, bins=HIST_BINS, range=(lo, hi + 1))
    assert (stats.rows, stats.cols) == (rows, cols)
    assert stats.zero_frac == np.count_nonzero(trits == 0) / trits.size
    assert stats.pos_frac == np.count_nonzero(trits == 1) / trits.size
    assert stats.neg_frac == np.count_nonzero(trits == -1) / trits.size
    assert (stats.nnz_lo, stats.nnz_hi) == (lo, hi)
    assert stats.nnz_hist == tuple(int(c) for c in hist)


def check_all(found: dict, tensors: dict[str, TernaryTensor], rel: float, source: str) -> None:
    assert sorted(found) == sorted((layer, op) for layer, op, *_ in LAYOUT)
    for (layer, op, *_), tt in zip(LAYOUT, tensors.values()):
        stats = found[(layer, op)]
        assert_exact(stats, tt.trits)
        assert stats.scale == pytest.approx(tt.scale, rel=rel)
        assert source in stats.source


@pytest.mark.parametrize(
    "linear_class, write_config, label",
    [
        ("autobitlinear", True, "packed_u8:autobitlinear"),
        ("bitlinear", True, "packed_u8:bitlinear"),
        (None, True, "packed_u8:bitlinear"),  # Falcon3: quant_method bitnet, no class
        ("autobitlinear", False, "packed_u8:autobitlinear-assumed"),
    ],
)
def test_packed_u8_both_conventions(tmp_path, linear_class, write_config, label):
    tensors = make_tensors()
    extra = {"model.embed_tokens.weight": np.ones((16, 512), np.float16)}
    write_packed_safetensors(tmp_path, tensors, linear_class=linear_class, write_config=write_config, extra=extra)
    check_all(read_weight_stats(tmp_path), tensors, rel=2**-7, source=label)


def test_packed_u8_convention_override(tmp_path):
    tensors = make_tensors()
    write_packed_safetensors(tmp_path, tensors, linear_class="bitlinear")
    found = read_weight_stats(tmp_path, scale_convention="autobitlinear")
    for (layer, op, *_), tt in zip(LAYOUT, tensors.values()):
        assert found[(layer, op)].scale == pytest.approx(1.0 / tt.scale, rel=2**-7)
        assert found[(layer, op)].source.endswith("packed_u8:autobitlinear")


def test_packed_u8_shapes_from_headers(tmp_path):
    write_packed_safetensors(tmp_path, make_tensors(), config={"hidden_size": 512})
    infos = {t.name: t for t in checkpoint_tensors(tmp_path)}
    q = infos["model.layers.0.self_attn.q_proj.weight"]
    assert (q.dtype, q.shape, q.logical_shape, q.file) == ("U8", (64, 512), (256, 512), "model.safetensors")
    scale = infos["model.layers.0.self_attn.q_proj.weight_scale"]
    assert (scale.dtype, scale.shape, scale.logical_shape) == ("BF16", (1,), (1,))


def test_packed_u8_written_by_safetensors_library(tmp_path):
    """Files from the official writer (F32 scale) read the same."""
    trits = random_trits(128, 256, seed=7)
    arrays = {
        "model.layers.0.mlp.gate_proj.weight": pack_u8(trits),
        "model.layers.0.mlp.gate_proj.weight_scale": np.array([0.25], np.float32),
        "model.norm.weight": np.ones(256, np.float32),
    }
    safetensors.numpy.save_file(arrays, str(tmp_path / "model.safetensors"))
    with safetensors.safe_open(str(tmp_path / "model.safetensors"), framework="np") as f:
        official = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    assert {t.name: t.shape for t in checkpoint_tensors(tmp_path)} == official
    stats = read_weight_stats(tmp_path)[(0, "gate_proj")]
    assert_exact(stats, trits)
    assert stats.scale == 0.25


@pytest.mark.parametrize("dtype, rel", [("F16", 2e-3), ("BF16", 1e-2), ("F32", 1e-6)])
def test_float_latent_absmean(tmp_path, dtype, rel):
    tensors = make_tensors()
    write_float_safetensors(tmp_path, tensors, dtype=dtype, mode="latent")
    check_all(read_weight_stats(tmp_path), tensors, rel=rel, source=f"{dtype.lower()}:absmean")


@pytest.mark.parametrize("dtype, rel", [("F16", 2e-3), ("BF16", 1e-2), ("F32", 1e-6)])
def test_float_pre_ternarized_sign(tmp_path, dtype, rel):
    tensors = make_tensors()
    write_float_safetensors(tmp_path, tensors, dtype=dtype, mode="ternary")
    check_all(read_weight_stats(tmp_path), tensors, rel=rel, source=f"{dtype.lower()}:sign")


def test_trilm_six_scales_per_matrix(tmp_path):
    trits = random_trits(384, 256, seed=3)
    scales = (0.011, 0.013, 0.017, 0.019, 0.023, 0.029)
    write_float_safetensors(tmp_path, {tensor_name(0, "o_proj"): TernaryTensor(trits, scales)}, mode="ternary")
    stats = read_weight_stats(tmp_path)[(0, "o_proj")]
    assert_exact(stats, trits)
    w = np.abs(trits * np.repeat(np.float16(scales).astype(np.float64), 64)[:, None])
    assert stats.scale == pytest.approx(w.sum() / np.count_nonzero(trits), rel=1e-12)
    assert stats.source.endswith("f16:sign")


def test_float_mode_override(tmp_path):
    """Forcing 'sign' on latent weights gives sign(W); 'absmean' on ternary values re-derives them."""
    tensors = make_tensors()
    write_float_safetensors(tmp_path / "latent", tensors, mode="latent")
    write_float_safetensors(tmp_path / "ternary", tensors, mode="ternary")
    as_sign = read_weight_stats(tmp_path / "latent", float_mode="sign")[(0, "q_proj")]
    assert as_sign.zero_frac < 1e-3 and as_sign.source.endswith("f16:sign")  # only fp16 underflows are 0
    tt = tensors[tensor_name(0, "q_proj")]
    as_absmean = read_weight_stats(tmp_path / "ternary", float_mode="absmean")[(0, "q_proj")]
    assert_exact(as_absmean, tt.trits)  # |W| = s, s/2 < mean|W| < s: the trits survive
    assert as_absmean.scale == pytest.approx(tt.scale * (1 - as_absmean.zero_frac), rel=2e-3)


def test_absmean_tie_rounds_away_from_zero(tmp_path):
    # mean|W| = 1, so |W| = 0.5 is an exact tie: documented to become +-1, below it 0.
    w = np.array([[2.5, 0.5, -0.5, 0.5], [511 / 1024, -1537 / 1024, 0.5, 1.5]], np.float32)
    write_float_safetensors(tmp_path, {}, extra={tensor_name(0, "v_proj"): w})
    stats = read_weight_stats(tmp_path, float_mode="absmean")[(0, "v_proj")]
    assert stats.scale == 1.0
    assert (stats.pos_frac, stats.neg_frac, stats.zero_frac) == (5 / 8, 2 / 8, 1 / 8)


@pytest.mark.parametrize("float_mode", ["auto", "absmean", "sign"])
def test_all_zero_matrix(tmp_path, float_mode):
    w = np.zeros((8, 16), np.float16)
    write_float_safetensors(tmp_path, {}, extra={tensor_name(0, "k_proj"): w})
    stats = read_weight_stats(tmp_path, float_mode=float_mode)[(0, "k_proj")]
    assert (stats.zero_frac, stats.scale, stats.nnz_hi) == (1.0, 0.0, 0)


@pytest.mark.parametrize("kind", ["packed", "latent", "bf16-ternary", "I2_S", "TQ2_0"])
def test_small_chunks_give_the_same_stats(tmp_path, monkeypatch, kind):
    """Decoding in many row chunks (here 1-3 rows each) changes nothing."""
    monkeypatch.setattr(decode, "CHUNK_BYTES", 1000)
    monkeypatch.setattr(decode, "CHUNK_VALUES", 1000)
    tensors = make_tensors(style="gguf" if kind in ("I2_S", "TQ2_0") else "hf")
    if kind == "packed":
        write_packed_safetensors(tmp_path, tensors)
    elif kind == "latent":
        write_float_safetensors(tmp_path, tensors, mode="latent")
    elif kind == "bf16-ternary":
        write_float_safetensors(tmp_path, tensors, dtype="BF16", mode="ternary")
    else:
        write_gguf(tmp_path / "m.gguf", tensors, kind)
    calls = []
    found = read_weight_stats(tmp_path, progress=lambda done, total: calls.append(done))
    check_all(found, tensors, rel=1e-2, source="checkpoint:")
    assert len(calls) > 3 * len(LAYOUT)


@pytest.mark.parametrize("kind", ["packed", "float"])
def test_sharded_checkpoint(tmp_path, kind):
    tensors = make_tensors()
    if kind == "packed":
        write_packed_safetensors(tmp_path, tensors, shards=3)
    else:
        write_float_safetensors(tmp_path, tensors, dtype="BF16", shards=3)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) == 3
    assert {t.file for t in checkpoint_tensors(tmp_path)} == set(index["weight_map"].values())
    rel = 2**-7 if kind == "packed" else 1e-2
    check_all(read_weight_stats(tmp_path / "model.safetensors.index.json"), tensors, rel=rel, source="checkpoint:")


@pytest.mark.parametrize("qtype, rel", [("TQ1_0", 1e-3), ("TQ2_0", 1e-3), ("I2_S", 1e-7), ("F16", 1e-3)])
def test_gguf(tmp_path, qtype, rel):
    tensors = make_tensors(style="gguf")
    extra = {"token_embd.weight": np.ones((16, 256), np.float32), "blk.0.attn_norm.weight": np.ones(512, np.float32)}
    path = write_gguf(tmp_path / f"model-{qtype}.gguf", tensors, qtype, extra=extra)
    check_all(read_weight_stats(path), tensors, rel=rel, source=f"model-{qtype}.gguf:")
    infos = {t.name: t for t in checkpoint_tensors(tmp_path)}  # the folder holds exactly one .gguf
    assert infos["blk.0.ffn_down.weight"].shape == (512, 256)
    assert infos["blk.0.ffn_down.weight"].dtype == qtype


def test_gguf_headers_agree_with_gguf_reader(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", make_tensors(style="gguf"), "TQ2_0")
    ours = {t.name: t for t in checkpoint_tensors(path)}
    for t in gguf.GGUFReader(path).tensors:
        mine = ours[t.name]
        assert mine.shape == tuple(int(d) for d in reversed(t.shape))
        assert (mine.data_offset, mine.nbytes, mine.dtype) == (t.data_offset, t.n_bytes, t.tensor_type.name)


def test_gguf_other_quant_type_uses_absmean(tmp_path):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((32, 256)).astype(np.float32)
    q8 = gguf.GGMLQuantizationType.Q8_0
    writer = gguf.GGUFWriter(tmp_path / "q8.gguf", "llama")
    writer.add_tensor("blk.0.ffn_gate.weight", gguf.quants.quantize(w, q8), raw_dtype=q8)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    values = gguf.quants.dequantize(gguf.quants.quantize(w, q8), q8).astype(np.float64)
    s = np.abs(values).mean()
    trits = np.where(np.abs(values) < s / 2, 0, np.sign(values)).astype(np.int8)
    stats = read_weight_stats(tmp_path / "q8.gguf")[(0, "gate_proj")]
    assert_exact(stats, trits)
    assert stats.scale == pytest.approx(s, rel=1e-9)
    assert stats.source.endswith("Q8_0:absmean")


@pytest.mark.parametrize(
    "arch, type_id, name",
    [("bitnet-b1.58", TYPE_TL1, "TL1"), ("bitnet", TYPE_TL2, "TL2"), ("llama", TYPE_TL2, "MXFP4")],
)
def test_gguf_tl_types_skipped_with_shapes(tmp_path, arch, type_id, name):
    i2s = write_gguf(tmp_path / "i2s.gguf", {"blk.0.attn_q.weight": TernaryTensor(random_trits(64, 256), 0.1)}, "I2_S")
    raw = [
        RawTensor("blk.0.attn_k.weight", (256, 64), type_id, bytes(64 * 256 * 17 // 32)),
        RawTensor("blk.0.attn_v.weight", (256, 64), 1, np.ones((64, 256), np.float16).tobytes()),
    ]
    path = tmp_path / "tl" / "tl.gguf"
    path.parent.mkdir()
    path.write_bytes(encode_gguf({"general.architecture": arch}, raw))
    infos = {t.name: t for t in checkpoint_tensors(path)}
    assert (infos["blk.0.attn_k.weight"].dtype, infos["blk.0.attn_k.weight"].shape) == (name, (64, 256))
    skipped = []
    found = read_weight_stats(path, on_skip=lambda info, why: skipped.append((info.name, why)))
    assert list(found) == [(0, "v_proj")]
    assert skipped and skipped[0][0] == "blk.0.attn_k.weight" and name in skipped[0][1]
    assert read_weight_stats(i2s)[(0, "q_proj")].rows == 64


def test_streaming_one_tensor_at_a_time(tmp_path):
    write_packed_safetensors(tmp_path, make_tensors())
    seen: list[tuple[int, int]] = []
    it = iter_weight_stats(tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert seen == []  # a generator: nothing is read before the first item is asked for
    layer, op, _ = next(it)
    first = next(t for t in checkpoint_tensors(tmp_path) if t.name == tensor_name(layer, op))
    assert seen[-1][0] == first.nbytes < seen[-1][1]
    rest = list(it)
    assert len(rest) == len(LAYOUT) - 1
    assert seen[-1][0] == seen[-1][1]
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_yield_order_is_layer_then_projection(tmp_path):
    write_float_safetensors(tmp_path, make_tensors(), mode="ternary", shards=2)
    keys = [(layer, op) for layer, op, _ in iter_weight_stats(tmp_path)]
    assert keys == [(0, "q_proj"), (0, "k_proj"), (0, "down_proj"), (1, "q_proj"), (1, "up_proj")]
