"""The trace front door: a model or workload file in, a trace table out.

:func:`build_trace` is what ``tritium trace`` runs; notebooks call it the same way. It returns a
:class:`~tritium.workloads.Trace` (the table and the request it describes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Mapping

from tritium.workloads.models import ModelSpec
from tritium.workloads.zoo import load_model
from tritium.workloads.scalesim import trace_from_scalesim
from tritium.workloads.stats import WeightModel
from tritium.workloads.scenario import Scenario
from tritium.workloads.trace import trace
from tritium.workloads.trace_record import Trace

__all__ = ["build_trace"]


def build_trace(
    workload: str | Path | ModelSpec,
    scenario: Scenario = Scenario(),
    *,
    checkpoint: str | Path | None = None,
    weight_model: WeightModel = WeightModel(),
    ternarize: bool = False,
    scale_convention: str | None = None,
    lm_head_dtype: str | None = None,
    kv_dtype: str | None = None,
    act_sparsity: Mapping[str, float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Trace:
    """Trace ``workload`` under ``scenario``: a :class:`~tritium.workloads.Trace` record.

    ``workload`` is a zoo name or HF id, a ``config.json`` (or its folder), a
    :class:`ModelSpec`, or a SCALE-Sim GEMM topology ``.csv`` (its layers become
    ternary linears; ``scenario`` does not apply). ``checkpoint`` is a local
    checkpoint (safetensors file/folder, sharded index, GGUF) whose measured
    ternary statistics replace ``weight_model``'s. ``ternarize`` makes every
    projection of a high-precision model ternary (see
    :meth:`ModelSpec.ternarized`). ``progress(done_bytes, total_bytes)`` is called
    while the checkpoint is read. ``lm_head_dtype`` (``bf16``, ``fp16``, ``fp32`` or
    ``int8``) and ``kv_dtype`` (``bf16``, ``fp16``, ``fp32``, ``fp8`` or ``int8``) replace
    the model's precisions of the LM head and the KV cache (None: the model's own).
    ``act_sparsity`` maps projections to the fraction of their INT8 inputs that are zero
    (None: the default of the model's activation function; see :func:`trace`).

    Raises:
        SpecError: an unknown precision (names the key and the allowed values), an unknown
            projection or a fraction outside [0, 1).
    """
    if isinstance(workload, (str, Path)) and str(workload).lower().endswith(".csv"):
        return trace_from_scalesim(workload, weight_model=weight_model)
    spec = load_model(workload)
    if ternarize:
        spec = spec.ternarized()
    overrides = {key: value for key, value in (("lm_head_dtype", lm_head_dtype), ("kv_dtype", kv_dtype))
                 if value is not None}
    if overrides:
        spec = dataclasses.replace(spec, **overrides)
    stats = None
    if checkpoint is not None:
        from tritium.workloads.checkpoints import read_weight_stats

        stats = read_weight_stats(checkpoint, scale_convention=scale_convention, model=spec, progress=progress)
        stats = {key: st for key, st in stats.items() if key[1] in spec.ternary_linears}
    return trace(spec, scenario, stats=stats, weight_model=weight_model, act_sparsity=act_sparsity)
