"""Fuzzing both header parsers: any input either parses or raises CheckpointError."""

from __future__ import annotations

import json
import struct

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tritium.base.errors import CheckpointError
from tritium.workloads.checkpoints.gguf_io import TYPE_I2_S, RawTensor, encode_gguf, parse_gguf_header
from tritium.workloads.checkpoints.safetensors_io import encode_safetensors_header, parse_safetensors_header

FUZZ = settings(
    derandomize=True, database=None, max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def parses_or_refuses(parse, data: bytes) -> None:
    try:
        parse(data)
    except CheckpointError as exc:
        assert "\n" not in str(exc)


def st_parse(data: bytes) -> None:
    parse_safetensors_header(data, file="fuzz.safetensors")


def gguf_parse(data: bytes) -> None:
    parse_gguf_header(data, file="fuzz.gguf")


def valid_safetensors() -> bytes:
    header, offsets = encode_safetensors_header(
        {"a.weight": ("U8", (4, 8)), "a.weight_scale": ("BF16", (1,)), "n": ("F32", (3,))}, {"format": "pt"}
    )
    return header + bytes(max(end for _, end in offsets.values()))


@pytest.fixture(scope="module")
def valid_gguf(tmp_path_factory) -> bytes:
    """A GGUF file from the reference writer, with string, numeric and nested arrays."""
    path = tmp_path_factory.mktemp("gguf") / "v.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_array("tokenizer.ggml.tokens", ["a", "bb", ""])
    w.add_array("tokenizer.ggml.scores", [0.5, 1.5])
    w.add_array("nested", [[1, 2], [3]])
    w.add_custom_alignment(64)
    w.add_tensor("blk.0.attn_q.weight", gguf.quants.quantize(np.ones((2, 256), np.float32),
                                                             gguf.GGMLQuantizationType.TQ2_0),
                 raw_dtype=gguf.GGMLQuantizationType.TQ2_0)
    w.add_tensor("x", np.ones(3, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path.read_bytes()


def mutate(data: bytes, draw) -> bytes:
    """Overwrite a few bytes, then maybe truncate."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        buf = buf[: draw(st.integers(0, len(buf)))]
    return bytes(buf)


@FUZZ
@given(st.binary(max_size=256))
def test_safetensors_random_bytes(data):
    parses_or_refuses(st_parse, data)


@FUZZ
@given(st.data())
def test_safetensors_mutated_valid_file(data):
    parses_or_refuses(st_parse, mutate(valid_safetensors(), data.draw))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
entries = st.fixed_dictionaries(
    {},
    optional={
        "dtype": st.sampled_from(["U8", "F16", "BF16", "F32", "I64", "Q4", ""]) | json_values,
        "shape": st.lists(st.integers(-2, 10**12), max_size=4) | json_values,
        "data_offsets": st.lists(st.integers(-2, 10**12), max_size=3) | json_values,
    },
)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), entries | json_values, max_size=4), st.integers(0, 64))
def test_safetensors_structured_headers(header, data_len):
    raw = json.dumps(header).encode()
    parses_or_refuses(st_parse, struct.pack("<Q", len(raw)) + raw + bytes(data_len))


@FUZZ
@given(st.binary(max_size=256))
def test_gguf_random_bytes(data):
    parses_or_refuses(gguf_parse, data)


@FUZZ
@given(st.binary(max_size=256))
def test_gguf_random_body_after_valid_preamble(body):
    parses_or_refuses(gguf_parse, b"GGUF" + struct.pack("<I", 3) + body)


@FUZZ
@given(data=st.data())
def test_gguf_mutated_reference_file(valid_gguf, data):
    parses_or_refuses(gguf_parse, mutate(valid_gguf, data.draw))


@FUZZ
@given(data=st.data())
def test_gguf_mutated_i2s_file(data):
    raw = [RawTensor("blk.0.attn_q.weight", (128, 2), TYPE_I2_S, bytes(64 + 32)), RawTensor("t", (2,), 38, bytes(8))]
    parses_or_refuses(gguf_parse, mutate(encode_gguf({"general.architecture": "bitnet"}, raw), data.draw))


def test_valid_inputs_parse(valid_gguf):
    assert [t.name for t in parse_safetensors_header(valid_safetensors(), file="v").tensors][0] == "a.weight"
    header = parse_gguf_header(valid_gguf, file="v.gguf")
    assert header.alignment == 64
    assert [(t.name, t.dtype, t.shape) for t in header.tensors] == [
        ("blk.0.attn_q.weight", "TQ2_0", (2, 256)),
        ("x", "F32", (3,)),
    ]
