"""Refused from headers and paths: wrong model, non-trit TQ2_0 codes, symlinks out of the folder."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest

from tritium.base.errors import CheckpointError
from tritium.workloads import build_trace, zoo_model
from tritium.workloads.checkpoints import checkpoint_tensors, iter_weight_stats, read_weight_stats, tensor_name
from tritium.workloads.checkpoints.reader_bench import LLAMA2_70B
from tritium.workloads.checkpoints.gguf_io import RawTensor, encode_gguf, read_gguf_header
from tritium.workloads.checkpoints.synthetic import (
    TernaryTensor,
    llama_shapes,
    random_trits,
    write_gguf,
    write_packed_safetensors,
    write_sparse_checkpoint,
)

SECRET = "TOP-SECRET-0123456789"

LLAMA2_7B = LLAMA2_70B | {"hidden": 4096, "intermediate": 11008, "layers": 32, "heads": 32, "kv_heads": 32}


def raises(fn, *words: str) -> str:
    with pytest.raises(CheckpointError) as info:
        fn()
    text = str(info.value)
    assert "\n" not in text
    for w in words:
        assert w in text, text
    return text


# --- the wrong model, from headers ------------------------------------------------


def test_llama2_7b_checkpoint_against_bitnet_2b4t_is_refused_at_once(tmp_path):
    """13 GB of (sparse) Llama-2-7B weights: refused from the headers, no data read."""
    write_sparse_checkpoint(tmp_path, llama_shapes(**LLAMA2_7B), dtype="F16", shards=2)
    bitnet = zoo_model("bitnet-b1.58-2b-4t")
    start = time.perf_counter()
    text = raises(
        lambda: iter_weight_stats(tmp_path, model=bitnet),
        "model.layers.0.self_attn.q_proj.weight", "[4096, 4096]", "[2560, 2560]", "bitnet-b1.58-2b-4t",
    )
    assert time.perf_counter() - start < 2.0, text
    with pytest.raises(CheckpointError, match=r"q_proj.weight' has shape \[4096, 4096\]"):
        build_trace("bitnet-b1.58-2b-4t", checkpoint=tmp_path)


def test_layers_beyond_the_model_are_refused(tmp_path):
    small = zoo_model("trilm-99m")
    k, n = small.projection_shape("q_proj")
    name = tensor_name(small.num_layers, "q_proj")
    write_packed_safetensors(tmp_path, {name: TernaryTensor(random_trits(n, k), 0.1)})
    raises(lambda: iter_weight_stats(tmp_path, model=small), name, f"layers 0..{small.num_layers - 1}")


def test_matching_model_passes_and_packed_shape_names_the_stored_one(tmp_path):
    small = zoo_model("trilm-99m")
    k, n = small.projection_shape("k_proj")
    write_packed_safetensors(tmp_path, {tensor_name(0, "k_proj"): TernaryTensor(random_trits(n, k), 0.1)})
    assert list(read_weight_stats(tmp_path, model=small)) == [(0, "k_proj")]
    raises(lambda: iter_weight_stats(tmp_path, model=zoo_model("bitnet-b1.58-2b-4t")),
           f"[{n}, {k}] (stored [{n // 4}, {k}])", "[640, 2560]")


# --- TQ2_0 codes --------------------------------------------------------------------


def test_tq2_0_code_3_is_not_a_trit(tmp_path):
    trits = random_trits(4, 512)
    path = write_gguf(tmp_path / "m.gguf", {tensor_name(0, "up_proj", style="gguf"): TernaryTensor(trits, 0.5)},
                      "TQ2_0")
    info = checkpoint_tensors(path)[0]
    row_bytes = 2 * 66
    with open(path, "r+b") as fh:  # row 2, second block: its code bytes all 0b11111111
        fh.seek(info.data_offset + 2 * row_bytes + 66)
        fh.write(b"\xff" * 64)
    raises(lambda: read_weight_stats(path), "blk.0.ffn_up.weight", "row 2", "values 256..511", "code 3",
           "not a trit")


def test_tq2_0_all_codes_3_is_refused_not_read_as_no_zeros(tmp_path):
    name = tensor_name(0, "down_proj", style="gguf")
    block = b"\xff" * 64 + np.float16(0.5).tobytes()
    path = tmp_path / "m.gguf"
    path.write_bytes(encode_gguf({"general.architecture": "bitnet"}, [RawTensor(name, (256, 4), 35, block * 4)]))
    raises(lambda: read_weight_stats(path), name, "row 0", "TQ2_0 code 3")


# --- symlinks -------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path):
    """A file outside the checkpoint folder that must never be read."""
    secret = tmp_path / "outside" / "secret.safetensors"
    secret.parent.mkdir()
    secret.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + SECRET.encode() * 4)
    return secret


def make_packed(folder, **kw):
    tensors = {tensor_name(i, "q_proj"): TernaryTensor(random_trits(8, 16, seed=i), 0.1) for i in range(3)}
    return write_packed_safetensors(folder, tensors, **kw)


def test_shard_symlinked_outside_the_folder_is_refused(tmp_path, outside):
    folder = make_packed(tmp_path / "ckpt", shards=3)
    shard = sorted(folder.glob("model-*.safetensors"))[1]
    shard.unlink()
    shard.symlink_to(outside)
    text = raises(lambda: checkpoint_tensors(folder), shard.name, "outside the checkpoint folder", "refused")
    assert SECRET not in text and "TOP" not in text


def test_index_entry_through_a_symlinked_folder_is_refused(tmp_path, outside):
    folder = make_packed(tmp_path / "ckpt", shards=3)
    (folder / "sub").symlink_to(outside.parent, target_is_directory=True)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    first = next(iter(index["weight_map"]))
    index["weight_map"][first] = "sub/secret.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    text = raises(lambda: checkpoint_tensors(folder), "sub/secret.safetensors", "outside the checkpoint folder")
    assert SECRET not in text


@pytest.mark.parametrize("name", ["model.safetensors", "weights.gguf", "config.json"])
def test_file_in_a_folder_symlinked_outside_is_refused(tmp_path, outside, name):
    folder = tmp_path / "ckpt"
    if name == "config.json":
        make_packed(folder, write_config=False)
    else:
        folder.mkdir()
    (folder / name).symlink_to(outside)
    text = raises(lambda: read_weight_stats(folder), name, "outside the checkpoint folder")
    assert SECRET not in text


def test_symlinks_inside_the_folder_and_the_hub_cache_layout_are_read(tmp_path):
    made = make_packed(tmp_path / "made")
    expected = read_weight_stats(made)
    repo = tmp_path / "models--org--name"
    snapshot, blobs = repo / "snapshots" / "abc123", repo / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for f in made.iterdir():  # the hub cache: snapshot files link to ../../blobs/<hash>
        (blobs / f"hash-{f.name}").write_bytes(f.read_bytes())
        (snapshot / f.name).symlink_to(f"../../blobs/hash-{f.name}")
    assert read_weight_stats(snapshot).keys() == expected.keys()
    inner = tmp_path / "inner"
    (inner / "real").mkdir(parents=True)
    (inner / "real" / "model.safetensors").write_bytes((made / "model.safetensors").read_bytes())
    (inner / "model.safetensors").symlink_to("real/model.safetensors")
    assert read_weight_stats(inner).keys() == expected.keys()


def test_a_file_named_directly_may_be_a_symlink_anywhere(tmp_path):
    made = make_packed(tmp_path / "made", write_config=False)
    link = tmp_path / "elsewhere" / "w.safetensors"
    link.parent.mkdir()
    link.symlink_to(made / "model.safetensors")
    assert len(read_weight_stats(link)) == 3


# --- GGUF headers are read, never mapped ------------------------------------------------


def test_gguf_header_longer_than_the_first_read(tmp_path):
    """A 3 MB string in the metadata: the header is read in growing prefixes."""
    tensors = {tensor_name(0, "q_proj", style="gguf"): TernaryTensor(random_trits(4, 256), 0.5)}
    path = write_gguf(tmp_path / "m.gguf", tensors, "I2_S")
    plain = read_gguf_header(path)
    raw = [RawTensor(t.name, tuple(reversed(t.shape)), 36, path.read_bytes()[t.data_offset:][: t.nbytes])
           for t in plain.tensors]
    big = tmp_path / "big.gguf"
    big.write_bytes(encode_gguf({"general.architecture": "bitnet", "general.notes": "x" * 3_000_000}, raw))
    header = read_gguf_header(big)
    assert header.metadata["general.notes"] == "x" * 3_000_000
    (found,), (plain_stats,) = read_weight_stats(big).values(), read_weight_stats(path).values()
    assert found.source == "checkpoint:big.gguf:I2_S" and found == replace(plain_stats, source=found.source)
    big.write_bytes(big.read_bytes()[:2_500_000])  # truncated inside the string: still an error, not a retry loop
    raises(lambda: read_gguf_header(big), "big.gguf", "truncated")


def test_gguf_absurd_tensor_count_is_refused_before_looping(tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + (2**62).to_bytes(8, "little") + bytes(8))
    raises(lambda: read_gguf_header(path), "m.gguf", str(2**62), "at most")
