"""Serving-level simulation: request streams on a chip or GPUs, continuous batching, paged KV
capacity, preemption, latency percentiles and goodput at an SLO (``tritium serve``).

>>> r = serve("trilm-99m", chip="edge-lpddr5", rate=2.0, n_requests=20, prompt="fixed:32", output="fixed:8")
>>> r.summary["requests"], r.summary["rejected"]
(20, 0)
>>> r.summary["ttft_s"]["p50"] > 0
True

:func:`serve` runs one stream; :func:`find_capacity` bisects the highest rate meeting the SLOs;
:func:`serving_comparison` puts a chip and a GPU side by side at the same SLO. See docs/serving.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tritium.analysis.serving.costs import IterationCosts
from tritium.analysis.serving.device import Device, chip_device, gpu_device
from tritium.analysis.serving.iteration import IterationShape, iteration_trace
from tritium.analysis.serving.requests import LengthDist, Requests, generate, parse_length, read_trace
from tritium.analysis.serving.results import ServeResult, build_result
from tritium.analysis.serving.scheduler import KV_BLOCK_TOKENS, EngineConfig, run_engine
from tritium.base.errors import SpecError
from tritium.base.specio import check_float, check_int

__all__ = ["serve", "find_capacity", "serving_comparison", "serving_costs", "ServeResult", "ServeConfig",
           "Requests", "LengthDist", "parse_length", "generate", "read_trace", "IterationCosts", "Device",
           "CapacityResult", "rate_sweep"]

from tritium.analysis.serving.capacity import (  # noqa: E402  (capacity imports serve from here)
    CapacityResult, find_capacity, rate_sweep, serving_comparison)


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """The engine's limits and the SLOs.

    Attributes:
        max_batch: most running sequences (1 to 65,536). max_batched_tokens: most tokens one
            iteration runs (1 to 2^20). chunked_prefill: chunk size in tokens (None: prompts run
            whole). slo_ttft_s: p90 time-to-first-token target, s (> 0). slo_tpot_s: p99
            time-per-output-token target, s (> 0). check_samples: iterations checked against the
            full model (0 to 1,000).
    """

    max_batch: int = 64
    max_batched_tokens: int = 4096
    chunked_prefill: int | None = None
    slo_ttft_s: float = 2.0
    slo_tpot_s: float = 0.2
    check_samples: int = 8

    def __post_init__(self) -> None:
        check_int("max_batch", self.max_batch, lo=1, hi=65536)
        check_int("max_batched_tokens", self.max_batched_tokens, lo=1, hi=1 << 20)
        if self.chunked_prefill is not None:
            check_int("chunked_prefill", self.chunked_prefill, lo=1, hi=1 << 20)
        for key in ("slo_ttft_s", "slo_tpot_s"):
            value = getattr(self, key)
            check_float(key, value, lo=0, hi=1e9)
            if value <= 0:
                raise SpecError(key, value, "a latency target > 0 seconds")
        check_int("check_samples", self.check_samples, lo=0, hi=1000)


def serving_costs(model, *, chip=None, gpu=None, gpus: int = 1, gpu_weights: str | None = None,
                  gpu_engine: str | None = None, calibration=None, scaling: str = "bitnet",
                  mapping_objective: str = "latency", lm_head_dtype: str | None = None,
                  kv_dtype: str | None = None) -> IterationCosts:
    """The iteration-cost model of ``model`` on ``chip`` or on ``gpus`` x ``gpu`` (exactly one):
    reuse it across :func:`serve` calls (its caches are what make a rate search fast). The last
    few models made are kept and returned again for equal arguments."""
    import dataclasses

    from tritium.workloads import load_model

    if (chip is None) == (gpu is None):
        raise SpecError("device", "chip and gpu" if chip is not None else "none", "name exactly one of chip or gpu")
    spec = load_model(model)
    overrides = {k: v for k, v in (("lm_head_dtype", lm_head_dtype), ("kv_dtype", kv_dtype)) if v is not None}
    if overrides:
        spec = dataclasses.replace(spec, **overrides)
    if chip is not None:
        from tritium.sim import load_chip

        chip = load_chip(chip)
        key = ("chip", chip, spec, scaling, mapping_objective)
    else:
        from tritium.analysis.gpu import load_gpu

        gpu = load_gpu(gpu)
        key = ("gpu", gpu, spec, gpu_weights, gpus, calibration, gpu_engine)
    try:
        cached = _COSTS.pop(key, None)
    except TypeError:  # an unhashable input (a calibration given as a dict): no reuse
        key, cached = None, None
    if cached is None:
        if chip is not None:
            device = chip_device(chip, spec, scaling=scaling, mapping_objective=mapping_objective)
        else:
            device = gpu_device(gpu, spec, weights=gpu_weights, gpus=gpus, calibration=calibration,
                                engine=gpu_engine)
        cached = IterationCosts(device)
    if key is not None:
        _COSTS[key] = cached  # most recent last
        while len(_COSTS) > _COSTS_KEPT:
            del _COSTS[next(iter(_COSTS))]
    return cached


_COSTS: dict = {}
_COSTS_KEPT = 8
"""Iteration-cost models kept for reuse by equal arguments (their caches are pure functions of
the device and model, so a second ``tritium serve`` in one process, or a sweep's chip seen
again, starts warm)."""


def serve(model=None, *, chip=None, gpu=None, costs: IterationCosts | None = None, requests: Requests | None = None,
          arrivals: str = "poisson", rate: float | None = None, cv: float = 1.0, trace: str | Path | None = None,
          n_requests: int | None = None, duration_s: float | None = None,
          prompt: str | LengthDist = "lognormal:512:0.5", output: str | LengthDist = "lognormal:128:0.5",
          config: ServeConfig = ServeConfig(), seed: int = 0, progress=None, **device_kw) -> ServeResult:
    """Serve a request stream and measure it.

    The device is ``costs`` (from :func:`serving_costs`) or ``chip``/``gpu`` (with
    ``device_kw`` as :func:`serving_costs` takes them) for ``model``. The stream is
    ``requests``, or a CSV ``trace`` (replayed, scaled to ``rate`` if given), or ``arrivals`` at
    ``rate`` requests/s; ``n_requests`` or ``duration_s`` bounds it (default 1,000 requests for a
    process; the whole file for a trace). ``prompt`` and ``output`` are length distributions
    (:func:`parse_length`). ``seed`` fixes the stream and the checked iterations: the same seed
    gives the same per-request table, byte for byte.

    Raises:
        SpecError / TritiumError: one line naming the bad input (rate, lengths, trace file, SLO,
            a device without memory left for a KV cache).
    """
    if costs is None:
        if model is None:
            raise SpecError("model", None, "a zoo name, HF id or config.json")
        costs = serving_costs(model, chip=chip, gpu=gpu, **device_kw)
    if not isinstance(config, ServeConfig):
        raise SpecError("config", config, "a ServeConfig")
    spec = costs.device.spec
    if requests is None:
        p = prompt if isinstance(prompt, LengthDist) else parse_length(prompt, "prompt")
        o = output if isinstance(output, LengthDist) else parse_length(output, "output")
        if trace is not None:
            requests = read_trace(trace, rate=rate, requests=n_requests, duration_s=duration_s, prompt=p, output=o,
                                  seed=seed, max_position=spec.max_position)
        else:
            if rate is None:
                raise SpecError("rate", None, "requests per second > 0 (or a --trace file)")
            if n_requests is None and duration_s is None:
                n_requests = 1000
            requests = generate(arrivals=arrivals, rate=rate, cv=cv, requests=n_requests, duration_s=duration_s,
                                prompt=p, output=o, seed=seed, max_position=spec.max_position)
    if len(requests) == 0:
        raise SpecError("requests", 0, "at least one request (a longer duration or a higher rate)")
    largest = iteration_trace(spec, [IterationShape(0, 0, ((config.max_batched_tokens, 0),), 1)])
    kv_bytes = costs.device.kv_capacity_bytes(largest)
    kv_blocks = int(kv_bytes // (KV_BLOCK_TOKENS * costs.device.kv_bytes_per_token))
    if kv_blocks < 1:
        raise SpecError("kv_capacity", f"{kv_bytes:.0f} bytes", f"at least one KV page of {KV_BLOCK_TOKENS} tokens")
    engine = EngineConfig(config.max_batch, config.max_batched_tokens, config.chunked_prefill, kv_blocks)
    if config.chunked_prefill is None:
        prompts = sorted({int(x) for x in requests.prompt if x <= config.max_batched_tokens})
        costs.warm_chunks([(x, 0) for x in prompts])
    typical = float(np.median(requests.prompt) + np.median(requests.output) / 2)
    costs.set_reference_context(int(round(typical)))
    started = time.perf_counter()
    run = run_engine(requests, costs, engine, check_samples=config.check_samples, seed=seed, progress=progress)
    wall = time.perf_counter() - started
    check = costs.check(run.shapes)
    return build_result(requests, run, costs, config, kv_bytes, kv_blocks, check, wall_s=wall, seed=seed)
