"""Checkpoint readers in bounded memory: chunking changes nothing, sparse giants stream under RLIMIT_AS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tritium.workloads.checkpoints.decode as decode
import tritium.workloads.stats as stats_module
from tritium.workloads.checkpoints import read_weight_stats, tensor_name
from tritium.workloads.checkpoints.gguf_io import TYPE_I2_S, RawTensor, encode_gguf
from tritium.workloads.checkpoints.safetensors_io import encode_safetensors_header
from tritium.workloads.checkpoints.synthetic import (
    TernaryTensor,
    random_trits,
    write_float_safetensors,
    write_gguf,
    write_packed_safetensors,
)
from tritium.workloads.stats import NnzTally, nnz_histogram

PROPS = settings(derandomize=True, database=None, max_examples=40, deadline=None)


def tiny_chunks(monkeypatch, *, values: int = 7, nbytes: int = 3, rows: int = 2) -> None:
    """Pieces far smaller than a row: every reader must split rows into column pieces."""
    monkeypatch.setattr(decode, "CHUNK_VALUES", values)
    monkeypatch.setattr(decode, "CHUNK_BYTES", nbytes)
    monkeypatch.setattr(decode, "CHUNK_ROWS", rows)


def ragged_trits(rows: int, cols: int, seed: int) -> np.ndarray:
    """Rows of very different densities, so the row histogram has many distinct counts."""
    rng = np.random.default_rng(seed)
    zero_frac = rng.random((rows, 1))
    signs = np.where(rng.random((rows, cols)) < 0.5, -1, 1)
    return np.where(rng.random((rows, cols)) < zero_frac, 0, signs).astype(np.int8)


def write(kind: str, folder: Path, trits: np.ndarray) -> None:
    style = "gguf" if kind in ("TQ1_0", "TQ2_0", "I2_S") else "hf"
    tensors = {tensor_name(0, "up_proj", style=style): TernaryTensor(trits, 0.25)}
    if kind == "packed":
        write_packed_safetensors(folder, tensors)
    elif kind in ("latent-F16", "latent-BF16", "latent-F32"):
        write_float_safetensors(folder, tensors, dtype=kind.split("-")[1], mode="latent")
    elif kind == "ternary-F16":
        write_float_safetensors(folder, tensors, dtype="F16", mode="ternary")
    else:
        write_gguf(folder / "m.gguf", tensors, kind)


SHAPES = {  # kind: (rows, cols) shapes the encoding accepts, wide, tall and odd
    "packed": [(4, 40), (64, 3), (8, 257)],
    "latent-F16": [(3, 40), (64, 3), (2, 301)],
    "latent-BF16": [(5, 33)],
    "latent-F32": [(7, 19)],
    "ternary-F16": [(6, 50), (40, 2)],
    "TQ1_0": [(3, 512)],
    "TQ2_0": [(5, 256), (2, 768)],
    "I2_S": [(4, 128), (6, 192), (2, 384), (64, 2)],
}
CASES = [(kind, shape) for kind, shapes in SHAPES.items() for shape in shapes]


@pytest.mark.parametrize("kind, shape", CASES, ids=[f"{k}-{r}x{c}" for k, (r, c) in CASES])
def test_tiny_chunks_give_exactly_the_unchunked_stats(tmp_path, monkeypatch, kind, shape):
    write(kind, tmp_path, ragged_trits(*shape, seed=sum(shape)))
    whole = read_weight_stats(tmp_path)
    tiny_chunks(monkeypatch)
    assert read_weight_stats(tmp_path) == whole
    monkeypatch.setattr(stats_module, "MAX_NNZ_TABLE", 2)  # a binning pass for every tensor
    assert read_weight_stats(tmp_path) == whole


@pytest.mark.parametrize("float_mode", ["auto", "absmean", "sign"])
def test_float_modes_unchanged_by_column_pieces(tmp_path, monkeypatch, float_mode):
    write("latent-F16", tmp_path, ragged_trits(3, 100, seed=1))
    whole = read_weight_stats(tmp_path, float_mode=float_mode)
    tiny_chunks(monkeypatch, values=9)
    monkeypatch.setattr(stats_module, "MAX_NNZ_TABLE", 3)
    assert read_weight_stats(tmp_path, float_mode=float_mode) == whole


def test_progress_counts_every_stored_byte_once_in_pieces(tmp_path, monkeypatch):
    write("packed", tmp_path, random_trits(8, 100))
    tiny_chunks(monkeypatch, nbytes=30)
    calls = []
    read_weight_stats(tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (200, 200) and len(calls) > 6
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))


@PROPS
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=1, max_size=60),
    st.integers(1, 5),
    st.integers(1, 100),
)
def test_tally_equals_the_per_row_histogram(rows, batch, limit):
    """Any batching and table size give the histogram of all per-row counts at once."""
    cols = 80
    pos = np.array([p for p, _ in rows], dtype=np.int64)
    neg = np.array([n for _, n in rows], dtype=np.int64)
    tally = NnzTally(cols, table_limit=limit)
    for i in range(0, len(rows), batch):
        tally.add(pos[i : i + batch], neg[i : i + batch])
    if tally.needs_binning_pass:
        for i in range(0, len(rows), batch):
            tally.bin(pos[i : i + batch], neg[i : i + batch])
    assert tally.histogram() == nnz_histogram(pos + neg)
    assert (tally.rows, tally.n_pos, tally.n_neg) == (len(rows), pos.sum(), neg.sum())


def test_tally_without_its_binning_pass_is_an_error():
    tally = NnzTally(10, table_limit=2)
    tally.add(np.arange(5), np.zeros(5, np.int64))
    assert tally.needs_binning_pass
    with pytest.raises(RuntimeError, match="binning pass"):
        tally.histogram()


# --- giants on sparse files, under an address-space limit ----------------------------

Q = tensor_name(0, "q_proj")
G = tensor_name(0, "q_proj", style="gguf")
MARGIN_MIB = 128
"""Address space the child may add after warming up: far below any of the tensors."""


def sparse_safetensors(folder: Path, dtype: str, shape: tuple[int, int], *, packed: bool = False) -> Path:
    """A one-projection safetensors file whose data is a hole (reads as zeros)."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = {Q + "_scale": ("F32", (1,))} if packed else {}
    spec[Q] = (dtype, shape)
    header, offsets = encode_safetensors_header(spec)
    path = folder / "model.safetensors"
    with open(path, "wb") as fh:
        fh.write(header + (np.float32(0.5).tobytes() if packed else b""))
    os.truncate(path, len(header) + max(end for _, end in offsets.values()))
    return folder


def sparse_gguf(folder: Path, qtype: str, shape: tuple[int, int]) -> Path:
    """A one-projection GGUF file whose data is a hole."""
    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = shape
    type_id, nbytes = {"TQ2_0": (35, rows * cols // 256 * 66), "I2_S": (TYPE_I2_S, rows * cols // 4 + 32)}[qtype]
    head = encode_gguf({"general.architecture": "bitnet"}, [RawTensor(G, (cols, rows), type_id, b"")])
    path = folder / "m.gguf"
    path.write_bytes(head)
    os.truncate(path, len(head) + nbytes)
    return folder


CHILD = r"""
import json, resource, sys
from tritium.workloads.checkpoints import read_weight_stats
warm, big, margin = sys.argv[1], sys.argv[2], int(sys.argv[3])
read_weight_stats(warm)  # imports, JIT compilation
vm = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm + (margin << 20),) * 2)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
(stats,) = read_weight_stats(big).values()
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"rows": stats.rows, "cols": stats.cols, "zero_frac": stats.zero_frac, "grown_kib": grown}))
"""

GIANTS = {  # name: (builder, big shape, warm shape); every big one is >= 256 MiB stored or decoded
    "F16-tall": (lambda f, s: sparse_safetensors(f, "F16", s), (1 << 26, 4), (64, 4)),
    "F16-one-row": (lambda f, s: sparse_safetensors(f, "F16", s), (1, 1 << 28), (1, 64)),
    "U8-packed-tall": (lambda f, s: sparse_safetensors(f, "U8", s, packed=True), (1 << 25, 8), (64, 8)),
    "TQ2_0-one-row": (lambda f, s: sparse_gguf(f, "TQ2_0", s), (1, 1 << 26), (4, 256)),
    "I2_S-tall": (lambda f, s: sparse_gguf(f, "I2_S", s), (1 << 22, 256), (4, 256)),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", GIANTS)
def test_giant_tensor_streams_under_an_address_space_limit(tmp_path, name):
    """Mapping or decoding these whole would take 256 MiB to 2 GiB; the child may add 128 MiB."""
    build, big_shape, warm_shape = GIANTS[name]
    big = build(tmp_path / "big", big_shape)
    warm = build(tmp_path / "warm", warm_shape)
    if sum(os.stat(p).st_blocks * 512 for p in big.iterdir()) > 16 << 20:
        pytest.skip("no sparse files on this file system")
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(warm), str(big), str(MARGIN_MIB)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout)
    rows, cols = big_shape
    assert (found["rows"], found["cols"]) == ((4 * rows, cols) if name.startswith("U8") else (rows, cols))
    # zeros are -1 codes in packed U8 and I2_S, zero weights (scale 0) in F16 and TQ2_0
    assert found["zero_frac"] == (0.0 if name.startswith(("U8", "I2_S")) else 1.0)
    assert found["grown_kib"] < 96 << 10


@pytest.mark.parametrize("kind, shape", [("I2_S", (6, 192)), ("latent-F16", (5, 30)), ("TQ2_0", (3, 512))])
def test_progress_is_monotone_and_ends_at_the_tensor_size(tmp_path, monkeypatch, kind, shape):
    """Pieces that share an I2_S block at their ends do not count its bytes twice."""
    write(kind, tmp_path, ragged_trits(*shape, seed=3))
    tiny_chunks(monkeypatch, values=30, nbytes=10)
    calls = []
    read_weight_stats(tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:])) and calls[-1][0] == calls[-1][1]
    stored = [a[0] for a in calls]
    assert len(set(stored)) > 3 and max(stored) == calls[-1][1]
