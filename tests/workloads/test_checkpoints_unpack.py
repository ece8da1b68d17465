"""Bit orders and counting kernels, checked against transliterations of the reference packers."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tritium.workloads.checkpoints.synthetic as synth
import tritium.workloads.checkpoints.tensors as tensors
import tritium.workloads.checkpoints.unpack as unpack
from tritium.workloads.checkpoints import canonical_op, checkpoint_tensors, tensor_name
from tritium.workloads.checkpoints.decode import i2s_counts, i2s_rows, packed_u8_rows
from tritium.workloads.checkpoints.synthetic import TernaryTensor, write_gguf, write_packed_safetensors
from tritium.workloads.checkpoints.unpack import (
    bf16_to_f32,
    count_i2s,
    count_packed_u8,
    f32_to_bf16,
    pack_i2s,
    pack_u8,
    unpack_i2s,
    unpack_u8,
)

def per_row(rows_pass, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Every row's +1 and -1 counts from a decoder's row pass, in row order."""
    pos, neg = np.full(rows, -1, np.int64), np.full(rows, -1, np.int64)
    for r0, p, n in rows_pass(lambda nbytes: None):
        pos[r0 : r0 + len(p)], neg[r0 : r0 + len(n)] = p, n
    assert (pos >= 0).all() and (neg >= 0).all()
    return pos, neg


PROPS = settings(derandomize=True, database=None, max_examples=60, deadline=None)


def transformers_pack_weights(trits: np.ndarray) -> np.ndarray:
    """transformers integrations/bitnet.py ``pack_weights``, line by line, in numpy."""
    rows = trits.shape[0]
    row_dim = (rows + 3) // 4
    packed = np.zeros((row_dim, *trits.shape[1:]), dtype=np.uint8)
    unpacked = (trits + 1).astype(np.uint8)
    for i in range(min(4, rows // row_dim + 1)):
        start, end = i * row_dim, min(i * row_dim + row_dim, rows)
        packed[: end - start] |= unpacked[start:end] << (2 * i)
    return packed


def bitnet_cpp_quantize_i2s(trits: np.ndarray) -> bytes:
    """bitnet.cpp ``quantize_i2_s`` (x86, QK_I2_S = 128) packing loop, line by line."""
    q8 = (trits.reshape(-1) + 1).astype(np.uint8)
    out = bytearray(q8.size // 4)
    for i in range(q8.size // 128):
        for j in range(128):
            group_idx, group_pos = j // 32, j % 32
            out[i * 32 + group_pos] |= int(q8[i * 128 + j]) << (6 - 2 * group_idx)
    return bytes(out)


def staircase(rows: int, cols: int) -> np.ndarray:
    """Row i has i+1 non-zeros: ceil((i+1)/2) of them +1, the rest -1 (needs cols >= rows)."""
    t = np.zeros((rows, cols), np.int8)
    for i in range(rows):
        nnz = i + 1
        t[i, :nnz] = -1
        t[i, : (nnz + 1) // 2] = 1
    return np.roll(t, 3, axis=1)


def test_packed_u8_bit_order_row_blocks():
    trits = staircase(32, 40)
    packed = pack_u8(trits)
    assert np.array_equal(packed, transformers_pack_weights(trits))
    # byte [r, c] holds rows r, 8+r, 16+r, 24+r at bits 1-0, 3-2, 5-4, 7-6
    r, c = 5, 3
    codes = [(packed[r, c] >> (2 * i)) & 3 for i in range(4)]
    assert codes == [trits[i * 8 + r, c] + 1 for i in range(4)]
    pos = np.zeros(32, np.int64)
    neg = np.zeros(32, np.int64)
    assert not count_packed_u8(packed, pos, neg)
    assert pos.tolist() == [(i + 2) // 2 for i in range(32)]
    assert (pos + neg).tolist() == list(range(1, 33))


def test_packed_u8_per_row_counts_from_file(tmp_path):
    trits = staircase(64, 64)
    write_packed_safetensors(tmp_path, {tensor_name(0, "o_proj"): TernaryTensor(trits, 0.5)})
    info = next(t for t in checkpoint_tensors(tmp_path) if t.dtype == "U8")
    pos, neg = per_row(packed_u8_rows(tmp_path, info), 64)
    assert (pos + neg).tolist() == list(range(1, 65))
    assert pos.tolist() == (trits == 1).sum(axis=1).tolist()


@pytest.mark.parametrize("rows, cols", [(4, 128), (6, 192), (4, 64), (2, 384)])
def test_i2s_bit_order_matches_bitnet_cpp(rows, cols, tmp_path):
    trits = staircase(rows, cols) if cols >= rows else synth.random_trits(rows, cols)
    trits[-1, -5:] = [1, 1, -1, 0, 1]
    assert pack_i2s(trits).tobytes() == bitnet_cpp_quantize_i2s(trits)
    path = write_gguf(tmp_path / "m.gguf", {"blk.0.ffn_up.weight": TernaryTensor(trits, 0.25)}, "I2_S")
    info = checkpoint_tensors(path)[0]
    pos, neg = per_row(i2s_rows(tmp_path, info), rows)
    assert pos.tolist() == (trits == 1).sum(axis=1).tolist()
    assert neg.tolist() == (trits == -1).sum(axis=1).tolist()
    assert i2s_counts(tmp_path, info, lambda n: None).scale == 0.25


trit_matrices = hnp.arrays(
    np.int8, st.tuples(st.integers(1, 6).map(lambda r: 4 * r), st.integers(1, 40)), elements=st.integers(-1, 1)
)


@PROPS
@given(trit_matrices, st.data())
def test_packed_u8_round_trip_and_chunked_counts(trits, data):
    packed = pack_u8(trits)
    assert np.array_equal(unpack_u8(packed), trits)
    split = data.draw(st.integers(0, packed.shape[0]))
    pos = np.zeros(trits.shape[0], np.int64)
    neg = np.zeros(trits.shape[0], np.int64)
    assert not count_packed_u8(packed, pos, neg, 0, split)
    assert not count_packed_u8(packed, pos, neg, split, packed.shape[0])
    assert np.array_equal(pos, (trits == 1).sum(axis=1))
    assert np.array_equal(neg, (trits == -1).sum(axis=1))


@PROPS
@given(st.integers(1, 8), st.sampled_from([32, 64, 96, 128, 160, 256]), st.data())
def test_i2s_round_trip_and_chunked_counts(rows, cols, data):
    while (rows * cols) % 128:
        rows += 1
    trits = data.draw(hnp.arrays(np.int8, (rows, cols), elements=st.integers(-1, 1)))
    codes = pack_i2s(trits)
    assert np.array_equal(unpack_i2s(codes, trits.shape), trits)
    split = data.draw(st.integers(0, rows))
    pos = np.zeros(rows, np.int64)
    neg = np.zeros(rows, np.int64)
    assert not count_i2s(codes, cols, pos, neg, 0, split)
    assert not count_i2s(codes, cols, pos, neg, split, rows)
    assert np.array_equal(pos, (trits == 1).sum(axis=1))
    assert np.array_equal(neg, (trits == -1).sum(axis=1))


def test_invalid_code_is_reported():
    packed = np.full((2, 3), 0b01010101, np.uint8)
    pos, neg = np.zeros(8, np.int64), np.zeros(8, np.int64)
    assert not count_packed_u8(packed, pos, neg)
    packed[1, 2] = 0b01110101
    assert count_packed_u8(packed, pos, neg)
    assert count_i2s(np.full(32, 0xFF, np.uint8), 128, np.zeros(1, np.int64), np.zeros(1, np.int64))


def test_long_rows_flush_lane_counters():
    """Rows longer than the 16-bit lane limit are counted exactly."""
    trits = np.ones((4, 70000), np.int8)
    trits[:, ::7] = -1
    pos, neg = np.zeros(4, np.int64), np.zeros(4, np.int64)
    count_packed_u8(pack_u8(trits), pos, neg)
    assert pos.tolist() == [60000] * 4 and neg.tolist() == [10000] * 4


@PROPS
@given(
    hnp.arrays(
        np.float32, st.integers(1, 50), elements=st.floats(-(2.0**100), 2.0**100, width=32, allow_subnormal=False)
    )
)
def test_bf16_round_trip_is_nearest(values):
    back = bf16_to_f32(f32_to_bf16(values))
    assert np.all(np.abs(back.astype(np.float64) - values) <= np.abs(values) * 2.0**-8)
    assert np.array_equal(bf16_to_f32(f32_to_bf16(back)), back)


def test_canonical_op_names():
    assert canonical_op("model.layers.12.self_attn.k_proj.weight") == (12, "k_proj")
    assert canonical_op("model.language_model.layers.1.mlp.up_proj.weight") == (1, "up_proj")
    assert canonical_op("blk.7.ffn_gate.weight") == (7, "gate_proj")
    for name in [
        "model.embed_tokens.weight",
        "lm_head.weight",
        "model.layers.0.input_layernorm.weight",
        "model.layers.0.self_attn.q_proj.weight_scale",
        "model.layers.0.mlp.q_proj.weight",
        "model.layers.0.self_attn.qkv_proj.weight",
        "blk.0.attn_norm.weight",
        "token_embd.weight",
    ]:
        assert canonical_op(name) is None, name
    for op in ("q_proj", "o_proj", "down_proj"):
        for style in ("hf", "gguf"):
            assert canonical_op(tensor_name(4, op, style=style)) == (4, op)


@pytest.mark.parametrize("module", [tensors, unpack])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
