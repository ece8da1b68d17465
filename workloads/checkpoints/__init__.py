"""Checkpoint readers: tensor shapes from headers, ternary weight statistics from data.

Reads Hugging Face safetensors (single file or sharded; packed-U8 BitNet weights,
FP16/BF16/F32 latent or pre-ternarized weights) and GGUF (TQ1_0, TQ2_0, bitnet.cpp
I2_S, float types), streaming one tensor at a time::

    from tritium.workloads.checkpoints import checkpoint_tensors, iter_weight_stats

    for layer, op, stats in iter_weight_stats("path/to/checkpoint"):
        print(layer, op, stats.zero_frac, stats.scale)

Every bad input raises :class:`~tritium.base.errors.CheckpointError` with one line naming
the file, the tensor and what is wrong. On-disk layouts: docs/sources.md
§7; the submodules' docstrings restate what the code relies on.
"""

from tritium.workloads.checkpoints.reader_bench import bench_header_shapes, bench_packed_stats
from tritium.workloads.checkpoints.decode import FLOAT_MODES
from tritium.workloads.checkpoints.reader import (
    SCALE_CONVENTIONS,
    Checkpoint,
    checkpoint_tensors,
    iter_weight_stats,
    open_checkpoint,
    read_weight_stats,
)
from tritium.workloads.checkpoints.tensors import PROJECTIONS, TensorInfo, canonical_op, tensor_name

__all__ = [
    "FLOAT_MODES",
    "PROJECTIONS",
    "SCALE_CONVENTIONS",
    "Checkpoint",
    "TensorInfo",
    "bench_header_shapes",
    "bench_packed_stats",
    "canonical_op",
    "checkpoint_tensors",
    "iter_weight_stats",
    "open_checkpoint",
    "read_weight_stats",
    "tensor_name",
]
