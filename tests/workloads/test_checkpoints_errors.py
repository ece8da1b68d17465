"""Bad input: every case raises CheckpointError with one line naming the file and the fault."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from tritium.base.errors import CheckpointError, SpecError
from tritium.workloads.checkpoints import checkpoint_tensors, iter_weight_stats, read_weight_stats, tensor_name
from tritium.workloads.checkpoints.gguf_io import TYPE_I2_S, RawTensor, encode_gguf
from tritium.workloads.checkpoints.synthetic import (
    TernaryTensor,
    random_trits,
    write_float_safetensors,
    write_gguf,
    write_packed_safetensors,
)

Q = tensor_name(0, "q_proj")


def raises(fn, *words: str) -> str:
    """Run ``fn``; it must raise CheckpointError with a one-line message containing ``words``."""
    with pytest.raises(CheckpointError) as info:
        fn()
    text = str(info.value)
    assert "\n" not in text and text
    for w in words:
        assert w in text, text
    return text


def st_bytes(header: object, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def entry(dtype: str, shape: list, begin: int, end: int) -> dict:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# --- safetensors headers -----------------------------------------------------------


@pytest.mark.parametrize(
    "content, words",
    [
        (b"abc", ["model.safetensors", "too short"]),
        (struct.pack("<Q", 1000) + b"{}", ["exceeds the file"]),
        (struct.pack("<Q", 4) + b"\xff\xfe{}", ["not valid UTF-8"]),
        (struct.pack("<Q", 9) + b"{not json", ["not valid JSON"]),
        (st_bytes([1, 2]), ["must be a JSON object"]),
        (st_bytes({"w": [1]}), ["'w'", "entry must be an object"]),
        (struct.pack("<Q", 13) + b'{"a":1,"a":2}', ["repeats the key 'a'"]),
        (st_bytes({"__metadata__": 3}), ["__metadata__"]),
        (st_bytes({"w": {"shape": [2], "data_offsets": [0, 2]}}, b"xx"), ["'w'", "lacks 'dtype'"]),
        (st_bytes({"w": {"dtype": "U8", "data_offsets": [0, 2]}}, b"xx"), ["'w'", "lacks 'shape'"]),
        (st_bytes({"w": {"dtype": "U8", "shape": [2]}}, b"xx"), ["'w'", "lacks 'data_offsets'"]),
        (st_bytes({"w": entry("Q4", [2], 0, 2)}, b"xx"), ["'w'", "unknown dtype 'Q4'", "BF16"]),
        (st_bytes({"w": entry("F32", [2], 0, 4)}, b"xxxx"), ["'w'", "span 4 bytes", "needs 8"]),
        (st_bytes({"w": entry("U8", [-2], 0, 2)}, b"xx"), ["'w'", "shape [-2]"]),
        (st_bytes({"w": entry("U8", [2], 4, 2)}, b"xx"), ["'w'", "end before they begin"]),
        (st_bytes({"w": entry("U8", [4], 0, 4)}, b"xx"), ["'w'", "beyond the end of the file"]),
        (st_bytes({"": entry("U8", [2], 0, 2)}, b"xx"), ["must not be empty"]),
    ],
)
def test_bad_safetensors_header(tmp_path, content, words):
    (tmp_path / "model.safetensors").write_bytes(content)
    raises(lambda: checkpoint_tensors(tmp_path), "model.safetensors", *words)


def write_st(path, tensors: dict[str, np.ndarray], dtypes: dict[str, str] | None = None) -> None:
    header, pos, blobs = {}, 0, []
    for name, a in tensors.items():
        dtype = (dtypes or {}).get(name) or {"uint8": "U8", "float32": "F32", "float16": "F16"}[str(a.dtype)]
        header[name] = entry(dtype, list(a.shape), pos, pos + a.nbytes)
        pos += a.nbytes
        blobs.append(a.tobytes())
    path.write_bytes(st_bytes(header, b"".join(blobs)))


def test_packed_u8_weight_scale_must_be_one_value(tmp_path):
    write_st(tmp_path / "model.safetensors", {Q: np.zeros((4, 8), np.uint8), Q + "_scale": np.ones(2, np.float32)})
    raises(lambda: read_weight_stats(tmp_path), Q + "_scale", "shape [2]", "one value")


def test_packed_u8_without_weight_scale(tmp_path):
    write_st(tmp_path / "model.safetensors", {Q: np.zeros((4, 8), np.uint8)})
    raises(lambda: read_weight_stats(tmp_path), Q, "no", "_scale")


@pytest.mark.parametrize("value", [0.0, -1.0, np.inf])
def test_packed_u8_weight_scale_must_be_positive(tmp_path, value):
    write_st(tmp_path / "model.safetensors", {Q: np.zeros((4, 8), np.uint8), Q + "_scale": np.array([value], "f4")})
    raises(lambda: read_weight_stats(tmp_path), Q + "_scale", "must be > 0")


def test_packed_u8_shape_contradicts_config(tmp_path):
    tensors = {Q: TernaryTensor(random_trits(256, 512), 0.1)}
    config = {"hidden_size": 512, "intermediate_size": 1024, "num_attention_heads": 4, "head_dim": 32}
    write_packed_safetensors(tmp_path, tensors, config=config)
    raises(lambda: read_weight_stats(tmp_path), Q, "[256, 512]", "stored [64, 512]", "[128, 512]", "q_proj")


def test_packed_u8_invalid_code_11(tmp_path):
    tensors = {
        Q: TernaryTensor(random_trits(64, 32), 0.1),
        tensor_name(1, "q_proj"): TernaryTensor(random_trits(8, 8), 1.0),
    }
    write_packed_safetensors(tmp_path, tensors)
    info = next(t for t in checkpoint_tensors(tmp_path) if t.name == tensor_name(1, "q_proj"))
    with open(tmp_path / "model.safetensors", "r+b") as fh:
        fh.seek(info.data_offset + 8 + 3)  # byte row 1, column 3
        fh.write(bytes([0b00110001]))
    it = iter_weight_stats(tmp_path)
    assert next(it)[:2] == (0, "q_proj")  # streaming: the good tensor comes out before the bad one is read
    raises(lambda: next(it), tensor_name(1, "q_proj"), "[1, 3]", "invalid code 11")


def test_float_weights_with_nan(tmp_path):
    w = np.ones((4, 8), np.float16)
    w[2, 3] = np.nan
    write_float_safetensors(tmp_path, {}, extra={Q: w})
    raises(lambda: read_weight_stats(tmp_path), Q, "NaN or infinite")


def test_projection_must_be_a_matrix(tmp_path):
    write_float_safetensors(tmp_path, {}, extra={Q: np.ones(8, np.float16)})
    raises(lambda: read_weight_stats(tmp_path), Q, "2-D")


def test_bad_arguments_are_spec_errors(tmp_path):
    write_float_safetensors(tmp_path, {}, extra={Q: np.ones((4, 8), np.float16)})
    with pytest.raises(SpecError, match="float_mode"):
        read_weight_stats(tmp_path, float_mode="round")
    with pytest.raises(SpecError, match="scale_convention"):
        read_weight_stats(tmp_path, scale_convention="inverse")


# --- folders, indexes and config.json ----------------------------------------------


def test_missing_path_and_empty_folder(tmp_path):
    raises(lambda: checkpoint_tensors(tmp_path / "nope"), "no such file or folder")
    raises(lambda: checkpoint_tensors(tmp_path), "no checkpoint found")
    (tmp_path / "a.txt").write_text("x")
    raises(lambda: checkpoint_tensors(tmp_path / "a.txt"), "not a checkpoint")


def test_folder_with_two_gguf_files(tmp_path):
    for name in ("a.gguf", "b.gguf"):
        write_gguf(tmp_path / name, {"blk.0.attn_q.weight": TernaryTensor(random_trits(4, 256), 1.0)}, "TQ2_0")
    raises(lambda: checkpoint_tensors(tmp_path), "2 *.gguf files", "a.gguf")


def sharded(tmp_path):
    tensors = {Q: TernaryTensor(random_trits(8, 16), 1.0)}
    write_float_safetensors(tmp_path, tensors, extra={"x": np.ones(2, "f2")}, shards=2)
    return tmp_path / "model.safetensors.index.json"


@pytest.mark.parametrize(
    "index, words",
    [
        ("{bad", ["not valid JSON"]),
        ("[]", ["must be a JSON object"]),
        ('{"metadata": {}}', ["weight_map"]),
        ('{"weight_map": {"a": 3}}', ["weight_map['a']"]),
        ('{"weight_map": {"a": "../up.safetensors"}}', ["inside the folder"]),
        ('{"weight_map": {"a": "gone.safetensors"}}', ["'gone.safetensors'", "does not exist"]),
        ('{"weight_map": {"y": "model-00002-of-00002.safetensors"}}', ["'y'", "which lacks it"]),
    ],
)
def test_bad_index(tmp_path, index, words):
    path = sharded(tmp_path)
    path.write_text(index)
    raises(lambda: checkpoint_tensors(tmp_path), "model.safetensors.index.json", *words)


def test_sharded_reads_despite_unlisted_tensors(tmp_path):
    path = sharded(tmp_path)
    index = json.loads(path.read_text())
    del index["weight_map"]["x"]
    path.write_text(json.dumps(index))
    assert [t.name for t in checkpoint_tensors(tmp_path)] == [Q]


@pytest.mark.parametrize(
    "config, words",
    [
        ("{oops", ["config.json", "cannot read"]),
        ("[1]", ["config.json", "JSON object"]),
        ('{"quantization_config": {"quant_method": "bitnet", "linear_class": "fancy"}}', ["linear_class", "'fancy'"]),
    ],
)
def test_bad_config(tmp_path, config, words):
    write_packed_safetensors(tmp_path, {Q: TernaryTensor(random_trits(4, 8), 1.0)}, write_config=False)
    (tmp_path / "config.json").write_text(config)
    raises(lambda: read_weight_stats(tmp_path), *words)


# --- GGUF --------------------------------------------------------------------------


def gguf_file(tmp_path, tensors=None, meta=None) -> bytes:
    raw = tensors or [RawTensor("blk.0.attn_q.weight", (256, 4), 1, bytes(2 * 256 * 4))]
    return encode_gguf(meta or {"general.architecture": "llama"}, raw)


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda b: b"GGML" + b[4:], ["not a GGUF file", "b'GGML'"]),
        (lambda b: b[:4] + struct.pack("<I", 1) + b[8:], ["unsupported GGUF version 1", "supported: 2, 3"]),
        (lambda b: b[:4] + struct.pack(">I", 3) + b[8:], ["unsupported GGUF version", "big-endian"]),
        (lambda b: b[:30], ["header truncated at byte"]),
        (lambda b: b[:-100], ["'blk.0.attn_q.weight'", "beyond the end of the file"]),
        (lambda b: b"", ["empty"]),
    ],
)
def test_bad_gguf(tmp_path, mutate, words):
    path = tmp_path / "m.gguf"
    path.write_bytes(mutate(gguf_file(tmp_path)))
    raises(lambda: checkpoint_tensors(path), "m.gguf", *words)


def test_gguf_unknown_type_id(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_file(tmp_path, [RawTensor("blk.0.attn_q.weight", (256, 4), 37, bytes(512))]))
    words = ("'blk.0.attn_q.weight'", "unknown GGML type id 37", "TQ2_0(35)", "I2_S(36)")
    raises(lambda: checkpoint_tensors(path), *words)


def test_gguf_bad_alignment_and_offset(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_file(tmp_path, meta={"general.alignment": 24}))
    raises(lambda: checkpoint_tensors(path), "general.alignment = 24")
    good = gguf_file(tmp_path)
    at = good.index(b"blk.0.attn_q.weight") + len("blk.0.attn_q.weight") + 4 + 16 + 4
    path.write_bytes(good[:at] + struct.pack("<Q", 8) + good[at + 8 :])
    raises(lambda: checkpoint_tensors(path), "data offset 8", "alignment 32")


def test_gguf_row_not_multiple_of_block(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_file(tmp_path, [RawTensor("blk.0.attn_q.weight", (100, 4), 35, bytes(4 * 66))]))
    raises(lambda: checkpoint_tensors(path), "row length 100", "TQ2_0 block 256")


def test_i2s_invalid_code_and_size(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", {"blk.0.attn_q.weight": TernaryTensor(random_trits(4, 128), 1.0)}, "I2_S")
    info = checkpoint_tensors(path)[0]
    with open(path, "r+b") as fh:
        fh.seek(info.data_offset + 40)  # row 1
        fh.write(b"\xff")
    raises(lambda: read_weight_stats(path), "'blk.0.attn_q.weight'", "rows 0..3", "invalid I2_S code 11")
    odd = [RawTensor("blk.0.attn_q.weight", (96, 1), TYPE_I2_S, bytes(24 + 32))]
    path.write_bytes(encode_gguf({"general.architecture": "bitnet"}, odd))
    raises(lambda: read_weight_stats(path), "holds 96 values", "multiple of the 128-value block")


def test_argument_and_path_errors_are_raised_at_the_call(tmp_path):
    """Headers and arguments are checked eagerly; only tensor data waits for iteration."""
    with pytest.raises(SpecError):
        iter_weight_stats(tmp_path, float_mode="round")
    raises(lambda: iter_weight_stats(tmp_path / "missing"), "no such file or folder")
