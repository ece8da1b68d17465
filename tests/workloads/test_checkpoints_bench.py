"""The benchmark helpers run, and a 70B checkpoint's shapes come from headers alone."""

from __future__ import annotations

import math
import os

from tritium.workloads.checkpoints import bench_header_shapes, bench_packed_stats, canonical_op, checkpoint_tensors
from tritium.workloads.checkpoints.reader_bench import LLAMA2_70B
from tritium.workloads.checkpoints.synthetic import llama_shapes


def test_llama2_70b_tensor_list():
    shapes = llama_shapes(**LLAMA2_70B)
    assert len(shapes) == 723
    params = sum(math.prod(s) for s in shapes.values())
    assert 68.9e9 < params < 69.0e9  # 68.98B, as the meta-device build counts
    assert shapes["model.layers.79.self_attn.k_proj.weight"] == (1024, 8192)
    assert shapes["model.layers.0.mlp.down_proj.weight"] == (8192, 28672)


def test_header_shapes_of_sparse_70b_checkpoint(tmp_path):
    seconds = bench_header_shapes(tmp_path, repeats=1)
    assert seconds < 1.0
    folder = tmp_path / "llama-2-70b-sparse"
    shards = sorted(folder.glob("*.safetensors"))
    assert len(shards) == 15 and shards[0].name == "model-00001-of-00015.safetensors"
    apparent = sum(p.stat().st_size for p in shards)
    assert 137e9 < apparent < 139e9
    assert sum(os.stat(p).st_blocks * 512 for p in shards) < 64e6  # headers only on disk
    infos = checkpoint_tensors(folder)
    projections = [t for t in infos if canonical_op(t.name)]
    assert len(projections) == 560
    assert {t.dtype for t in infos} == {"F16"}


def test_packed_stats_bench_reports_throughput(tmp_path):
    mb_per_s = bench_packed_stats(tmp_path, out_features=256, in_features=512, repeats=2)
    assert mb_per_s > 0
