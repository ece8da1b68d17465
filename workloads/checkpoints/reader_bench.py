"""Benchmarks of the checkpoint readers, for ``tritium bench``.

Both write a synthetic checkpoint into a folder the caller gives and time Tritium's
real reading path on it (after a warm-up, so JIT compilation and a cold page cache
are not counted).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from tritium.base.errors import CheckpointError
from tritium.base.specio import check_int
from tritium.workloads.checkpoints.reader import checkpoint_tensors, read_weight_stats
from tritium.workloads.checkpoints.synthetic import (
    TernaryTensor,
    llama_shapes,
    write_packed_safetensors,
    write_sparse_checkpoint,
)

__all__ = ["LLAMA2_70B", "bench_header_shapes", "bench_packed_stats"]

LLAMA2_70B = {
    "hidden": 8192,
    "intermediate": 28672,
    "layers": 80,
    "heads": 64,
    "kv_heads": 8,
    "head_dim": 128,
    "vocab": 32000,
    "tie_embeddings": False,
}
"""Llama-2-70B's dimensions (docs/sources.md §6), as keyword arguments of :func:`llama_shapes`."""


def bench_packed_stats(
    directory: str | os.PathLike,
    *,
    out_features: int = 13824,
    in_features: int = 5120,
    repeats: int = 3,
    seed: int = 0,
) -> float:
    """Throughput of packed-U8 weight statistics, in MB/s of packed bytes (best of ``repeats``).

    Writes one random ``out_features x in_features`` packed-U8 projection into
    ``directory`` (reused when already there) and times :func:`read_weight_stats`
    on it end to end (memory map, numba kernel, histogram) on one thread.
    """
    check_int("out_features", out_features, lo=4)
    check_int("repeats", repeats, lo=1)
    if out_features % 4:
        raise CheckpointError(f"bench: out_features = {out_features} must be a multiple of 4 for packed U8")
    directory = Path(directory) / f"packed-{out_features}x{in_features}"
    if not (directory / "model.safetensors").is_file():
        trits = np.random.default_rng(seed).integers(-1, 2, (out_features, in_features), dtype=np.int8)
        tensor = TernaryTensor(trits=trits, scale=0.02)
        write_packed_safetensors(directory, {"model.layers.0.mlp.down_proj.weight": tensor})
    packed_bytes = out_features // 4 * in_features
    read_weight_stats(directory)  # warm-up: JIT compile, page cache
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        read_weight_stats(directory)
        best = min(best, time.perf_counter() - start)
    return packed_bytes / best / 1e6


def bench_header_shapes(directory: str | os.PathLike, *, repeats: int = 3) -> float:
    """Seconds to list every tensor of a Llama-2-70B checkpoint from headers (best of ``repeats``).

    Writes a sparse 15-shard checkpoint with the real 723 tensor shapes (~138 GB
    apparent size, only headers on disk) into ``directory`` unless already there,
    then times :func:`checkpoint_tensors`.
    """
    check_int("repeats", repeats, lo=1)
    directory = Path(directory) / "llama-2-70b-sparse"
    if not (directory / "model.safetensors.index.json").is_file():
        write_sparse_checkpoint(directory, llama_shapes(**LLAMA2_70B), dtype="F16", shards=15)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tensors = checkpoint_tensors(directory)
        best = min(best, time.perf_counter() - start)
    if len(tensors) != 723:
        raise CheckpointError(f"{directory}: expected 723 Llama-2-70B tensors, found {len(tensors)}")
    return best
