"""Evaluate design points: build each chip from the base and its parameters, simulate it, record it.

This is the code that runs in the workers (local processes or Dask workers). A worker
keeps one :class:`_WorkerCache` per sweep (keyed by the space digest): the base chip as
nested dicts and the trace of each workload, generated once and reused for every point.
Identical per-op costs within one chip are already shared by the simulator
(:func:`tritium.sim.simulate` computes each distinct op once), and it memoizes each step's
SimPy timeline on its inputs, so chips that differ only where timing does not (the node,
energy figures) reuse it within a worker: a grid whose last parameter is the node (the
shipped edge space) runs about half the timelines.

A point never raises: a chip the description rejects, or a workload the chip cannot run
(accumulator too narrow), is recorded with ``status = "invalid"`` and the error's text;
anything else that goes wrong is ``status = "error"`` with the exception's type and text.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Sequence

from tritium.analysis.dse.space_record import METRICS, Constraint, Deployment, Space, Workload
from tritium.base.errors import SpecError, TritiumError

__all__ = ["Point", "EvalContext", "point_id", "eval_context", "build_chip", "evaluate_batch",
           "STATUSES", "MEMORY_VIOLATION"]

SERVING_METRICS = ("capacity_rps", "goodput_per_w", "goodput_per_dollar")
"""Metrics from a capacity search per point (:func:`tritium.analysis.serving.capacity.sweep_metrics`):
NaN unless the space's objectives or constraints name one."""

MEMORY_VIOLATION = "dram_capacity"
"""The violation of a point whose chips' DRAM cannot hold the weights and the final KV
cache: always checked, whatever the space's constraints (the simulator does not page)."""

STATUSES = ("ok", "invalid", "error")
"""``ok``: simulated; ``invalid``: the chip (or chip + workload) is rejected; ``error``: a failure."""


@dataclass(frozen=True, slots=True)
class Point:
    """One design point: a workload name and one value per varied parameter (in space order)."""

    workload: str
    values: tuple

    def params(self, paths: Sequence[str]) -> dict:
        return dict(zip(paths, self.values))


def point_id(paths: Sequence[str], point: Point) -> str:
    """Stable 16-hex-digit id of ``point``: a hash of its workload and parameter values."""
    blob = json.dumps({"workload": point.workload, "params": point.params(paths)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class EvalContext:
    """What a worker needs to evaluate points of one sweep (small: sent with every task)."""

    digest: str
    name: str
    base_toml: str
    paths: tuple[str, ...]
    workloads: tuple[Workload, ...]
    constraints: tuple[Constraint, ...]
    serving: bool = False  # objectives or constraints name a serving metric (SERVING_METRICS)
    deployment: Deployment = Deployment()  # region, usage, volume and NRE of the carbon and cost metrics


def eval_context(space: Space) -> EvalContext:
    """The :class:`EvalContext` of ``space``."""
    from tritium.sim import chip_to_toml

    wanted = set(space.objectives) | {c.metric for c in space.constraints}
    return EvalContext(space.digest, space.name, chip_to_toml(space.base), tuple(p.path for p in space.params),
                       space.workloads, space.constraints, bool(wanted & set(SERVING_METRICS)), space.deployment)


def _set(tree: dict, path: str, value: object) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = value


def _copy(tree: dict) -> dict:
    return {k: _copy(v) if isinstance(v, dict) else v for k, v in tree.items()}


def build_chip(base: dict, params: dict, name: str):
    """The chip ``base`` (nested dicts) with ``params`` (dotted key -> value) applied, named ``name``.

    ``dram.type`` also sets the type's per-channel bandwidth and energy per bit unless
    ``params`` sets them; ``attention.size`` sets a square MAC array (0: the vector unit);
    ``dram.gib_per_channel`` sets the capacity to the channel count times it; ``tlu.style``
    drops the base chip's keys of the other styles (``lut_*``, ``mac_bits``) unless ``params``
    sets them too (then the chip is invalid, as the user asked for both).

    Raises:
        SpecError: the resulting chip is invalid (names the dotted key, value and what is allowed).
    """
    from tritium.sim import DRAM_TYPES, Chip
    from tritium.base.specio import from_mapping

    tree = _copy(base)
    tree["name"] = name
    if "tlu.style" in params and isinstance(tree.get("tlu"), dict):
        from tritium.sim.chip_parts import STYLE_KEYS

        for style, keys in STYLE_KEYS.items():
            if style != params["tlu.style"]:
                for key in keys:
                    if f"tlu.{key}" not in params:
                        tree["tlu"].pop(key, None)
    for path, value in params.items():
        if path == "attention.size":
            tree["attention"] = {**tree["attention"], "unit": "mac_array" if value else "vector",
                                 "mac_rows": value, "mac_cols": value}
        elif path != "dram.gib_per_channel":
            _set(tree, path, value)
    if "dram.gib_per_channel" in params:
        channels = tree["dram"]["channels"]
        if isinstance(channels, int) and not isinstance(channels, bool):  # else the chip check names it
            tree["dram"]["capacity_gib"] = float(channels * params["dram.gib_per_channel"])
    dram_type = params.get("dram.type")
    if dram_type in DRAM_TYPES:
        if "dram.channel_bandwidth_gb_s" not in params:
            tree["dram"]["channel_bandwidth_gb_s"] = DRAM_TYPES[dram_type].peak_channel_gb_s
        if "dram.energy_pj_per_bit" not in params:
            tree["dram"]["energy_pj_per_bit"] = 0.0  # the DRAM model's figures for the new type
    return from_mapping(Chip, tree)


class _WorkerCache:
    """Per-sweep state of one worker: the base chip as dicts and each workload's trace."""

    def __init__(self, ctx: EvalContext):
        import tomllib

        self.base = tomllib.loads(ctx.base_toml)
        self.traces: dict[str, object] = {}
        self.workloads = {w.name: w for w in ctx.workloads}

    def trace(self, name: str):
        if name not in self.traces:
            self.traces[name] = self.workloads[name].trace()
        return self.traces[name]


_CACHES: dict[str, _WorkerCache] = {}


def _cache(ctx: EvalContext) -> _WorkerCache:
    cache = _CACHES.get(ctx.digest)
    if cache is None:
        if len(_CACHES) >= 4:
            _CACHES.pop(next(iter(_CACHES)))
        cache = _CACHES[ctx.digest] = _WorkerCache(ctx)
    return cache


def evaluate_batch(ctx: EvalContext, points: Sequence[tuple[str, Point]]) -> list[dict]:
    """Evaluate ``(id, point)`` pairs; one record per point (see :func:`evaluate_point`)."""
    cache = _cache(ctx)
    return [evaluate_point(ctx, cache, pid, point) for pid, point in points]


def evaluate_point(ctx: EvalContext, cache: _WorkerCache, pid: str, point: Point) -> dict:
    """One point's record: id, workload, params, status, error, chip_toml, metrics, feasible, violations.

    ``metrics`` holds every name of :data:`~tritium.analysis.dse.space_record.METRICS` plus node_nm,
    dram_type, energy_j, total_s, the energy by component (``energy_<c>_j``) and
    memory_needed_bytes / memory_capacity_bytes. A point is feasible when it meets every
    constraint of the space and its DRAM holds the model (else :data:`MEMORY_VIOLATION`).
    """
    from tritium.sim import chip_to_toml, simulate

    t0, cpu0 = time.perf_counter(), time.process_time()
    params = point.params(ctx.paths)
    record = {"id": pid, "workload": point.workload, "params": params, "status": "ok", "error": "",
              "chip_toml": "", "metrics": {}, "feasible": False, "violations": "",
              "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        chip = build_chip(cache.base, params, f"{ctx.name}-{pid[:10]}")
        record["chip_toml"] = chip_to_toml(chip)
        result = simulate(chip, cache.trace(point.workload),
                          mapping_objective=cache.workloads[point.workload].mapping_objective)
        record["metrics"] = _metrics(chip, result, ctx.deployment)
        if ctx.serving:
            from tritium.analysis.serving.capacity import sweep_metrics

            record["metrics"].update(sweep_metrics(chip, cache.workloads[point.workload],
                                                   record["metrics"]["cost_usd"]))
    except SpecError as err:
        record.update(status="invalid", error=str(err))
    except TritiumError as err:
        record.update(status="error", error=str(err))
    except Exception as err:  # a simulator failure on one point must not end a 10,000-point sweep
        record.update(status="error", error=f"{type(err).__name__}: {err}")
    if record["status"] == "ok":
        metrics = record["metrics"]
        failed = [c.key for c in ctx.constraints if not c.satisfied(metrics[c.metric])]
        if not metrics["fits_in_memory"]:
            failed.append(MEMORY_VIOLATION)  # its figures assume DRAM it does not have
        record.update(feasible=not failed, violations=",".join(failed))
    record["eval_s"] = time.perf_counter() - t0
    record["cpu_s"] = time.process_time() - cpu0
    return record


def _metrics(chip, result, deployment: Deployment = Deployment()) -> dict:
    from tritium.analysis.carbon import carbon_per_million_tokens
    from tritium.analysis.usage import default_usage, device_class
    from tritium.analysis.cost import chip_cost

    t = result.totals
    area = float(result.area_mm2["total"])
    cost = chip_cost(chip, area, volume=deployment.volume, nre_usd=deployment.nre_usd)
    use = default_usage(device_class(chip.dram.type, chip.chips), region=deployment.region, pue=deployment.pue,
                        lifetime_years=deployment.lifetime_years, utilization=deployment.utilization)
    carbon = carbon_per_million_tokens(result, chip, region=use.region, pue=use.pue,
                                       lifetime_years=use.lifetime_years, utilization=use.utilization)
    out = {
        "tokens_per_s": float(t["tokens_per_s"]),
        "joules_per_token": float(t["joules_per_token"]),
        "area_mm2": area,
        "cost_usd": float(cost.unit_cost_usd * chip.chips),
        "cost_with_nre_usd": float(cost.system_cost_usd),
        "carbon_g_per_mtok": float(carbon.total_g_per_mtok),
        "power_w": float(t["average_power_w"]),
        "time_per_output_token_s": float(t["time_per_output_token_s"]),
        "time_to_first_token_s": float(t["time_to_first_token_s"]),
        "node_nm": chip.node_nm,
        "dram_type": chip.dram.type,
        "energy_j": float(t["energy_j"]),
        "total_s": float(t["total_s"]),
        "memory_needed_bytes": int(t["memory_needed_bytes"]),
        "memory_capacity_bytes": int(t["memory_capacity_bytes"]),
        "fits_in_memory": bool(t.fits_in_memory),
    }
    out.update({k: float(v) for k, v in t.items() if k.startswith("energy_") and k.endswith("_j")})
    out.update({m: float("nan") for m in SERVING_METRICS})  # a serving space fills them (evaluate_point)
    assert set(METRICS) <= set(out)
    return out
