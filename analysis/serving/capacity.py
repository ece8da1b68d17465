"""Capacity at an SLO: the highest arrival rate whose p90 TTFT and p99 TPOT meet the targets.

:func:`find_capacity` bisects over rates between 0 and the device's batch-limited peak (its peak
tokens/s over the mean output length, which no rate can beat); every run uses the same seed, so
the streams differ only in their time scale. :func:`rate_sweep` runs a list of rates (the
latency-throughput knee); :func:`serving_comparison` puts a chip and a GPU side by side at the
same SLO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from tritium.base.errors import SpecError

__all__ = ["CapacityResult", "find_capacity", "rate_sweep", "serving_comparison", "sweep_metrics", "SWEEP_COLUMNS",
           "SWEEP_METRICS"]

SWEEP_COLUMNS = ("rate_rps", "throughput_rps", "throughput_tokens_per_s", "goodput_rps", "ttft_p50_s", "ttft_p90_s",
                 "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "e2e_p50_s", "joules_per_token", "average_power_w",
                 "meets_slo")


@dataclass(frozen=True)
class CapacityResult:
    """``capacity_rps``: the highest rate found meeting the SLOs (0 when even a trickle does not);
    ``result``: the run at that rate (None at 0); ``probes``: every rate tried (:data:`SWEEP_COLUMNS`);
    ``upper_rps``: the bound the search started from."""

    capacity_rps: float
    result: object
    probes: pd.DataFrame
    upper_rps: float

    def summary(self) -> dict:
        out = {"capacity_rps": self.capacity_rps, "upper_bound_rps": self.upper_rps,
               "probes": self.probes.to_dict(orient="records")}
        if self.result is not None:
            s = self.result.summary
            out.update({k: s[k] for k in ("joules_per_token", "joules_per_request", "average_power_w",
                                          "throughput_tokens_per_s", "goodput_rps", "ttft_s", "tpot_s", "e2e_s")})
        return out


def _row(rate: float, result) -> dict:
    s = result.summary
    return {"rate_rps": rate, "throughput_rps": s["throughput_rps"],
            "throughput_tokens_per_s": s["throughput_tokens_per_s"], "goodput_rps": s["goodput_rps"],
            "ttft_p50_s": s["ttft_s"]["p50"], "ttft_p90_s": s["ttft_s"]["p90"], "ttft_p99_s": s["ttft_s"]["p99"],
            "tpot_p50_s": s["tpot_s"]["p50"], "tpot_p99_s": s["tpot_s"]["p99"], "e2e_p50_s": s["e2e_s"]["p50"],
            "joules_per_token": s["joules_per_token"], "average_power_w": s["average_power_w"],
            "meets_slo": s["meets_slo"]}


def rate_sweep(costs, rates, *, progress=None, **serve_kw) -> pd.DataFrame:
    """One :func:`~tritium.analysis.serving.serve` run per rate (``serve_kw`` as it takes them,
    no exactness check); a table of :data:`SWEEP_COLUMNS`."""
    import dataclasses

    from tritium.analysis.serving import ServeConfig, serve

    config = dataclasses.replace(serve_kw.pop("config", ServeConfig()), check_samples=0)
    rows = []
    for i, rate in enumerate(rates):
        rows.append(_row(rate, serve(costs=costs, rate=rate, config=config, **serve_kw)))
        if progress is not None:
            progress(i + 1, len(rates))
    return pd.DataFrame(rows, columns=list(SWEEP_COLUMNS))


def find_capacity(model=None, *, costs=None, chip=None, gpu=None, n_requests: int = 500, tolerance: float = 0.02,
                  max_runs: int = 16, progress=None, device_kw: dict | None = None, **serve_kw) -> CapacityResult:
    """The highest arrival rate (requests/s) whose p90 TTFT and p99 TPOT meet ``config``'s SLOs.

    Bisection between 0 and the batch-limited bound until the bracket is within ``tolerance``
    (relative) or ``max_runs`` runs; each run serves ``n_requests`` requests with the same seed.
    The final run at the found rate is checked against the full model (its ``bucket_error``).

    Raises:
        SpecError: a tolerance or run count out of range; as :func:`serve` otherwise.
    """
    import dataclasses

    from tritium.analysis.serving import ServeConfig, serve, serving_costs
    from tritium.analysis.serving.requests import generate, parse_length

    if not (0 < tolerance < 1):
        raise SpecError("tolerance", tolerance, "a relative bracket width between 0 and 1")
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or not 2 <= max_runs <= 100:
        raise SpecError("max_runs", max_runs, "an integer from 2 to 100")
    if "rate" in serve_kw or "trace" in serve_kw or "requests" in serve_kw:
        raise SpecError("rate", serve_kw.get("rate"), "find_capacity picks the rates itself (no rate, trace or "
                                                      "request list)")
    if costs is None:
        costs = serving_costs(model, chip=chip, gpu=gpu, **(device_kw or {}))
    config = serve_kw.pop("config", ServeConfig())
    quick = dataclasses.replace(config, check_samples=0)
    seed = serve_kw.get("seed", 0)
    spec = costs.device.spec
    sample = generate(arrivals="poisson", rate=1.0, requests=n_requests,
                      prompt=parse_length(serve_kw.get("prompt", "lognormal:512:0.5"), "prompt"),
                      output=parse_length(serve_kw.get("output", "lognormal:128:0.5"), "output"),
                      seed=seed, max_position=spec.max_position)
    mean_tokens = max(float(sample.output.mean()), 1.0)
    upper = costs.peak_tokens_per_s(config.max_batch) / mean_tokens
    rows, results = [], {}

    def run(rate: float, cfg=quick):
        r = serve(costs=costs, rate=rate, n_requests=n_requests, config=cfg, **serve_kw)
        rows.append(_row(rate, r))
        results[rate] = r
        if progress is not None:
            progress(len(rows), max_runs)
        return r.summary["meets_slo"]

    lo, hi = 0.0, upper
    if run(hi):
        lo = hi
    else:
        floor = upper / 1000
        if not run(floor):
            return CapacityResult(0.0, None, pd.DataFrame(rows, columns=list(SWEEP_COLUMNS)), upper)
        lo = floor
        while len(rows) < max_runs and (hi - lo) > tolerance * hi:
            mid = math.sqrt(lo * hi) if hi / lo > 4 else (lo + hi) / 2
            if run(mid):
                lo = mid
            else:
                hi = mid
    final = serve(costs=costs, rate=lo, n_requests=n_requests, config=config, **serve_kw)
    return CapacityResult(lo, final, pd.DataFrame(rows, columns=list(SWEEP_COLUMNS)).sort_values("rate_rps",
                                                                                                  kind="stable"), upper)


def serving_comparison(model, chip, gpu, *, config=None, n_requests: int = 500, gpus: int = 1,
                       gpu_weights: str | None = None, gpu_engine: str | None = None, lifetime_years: float = 3.0,
                       usd_per_kwh: float = 0.10, seed: int = 0, **serve_kw) -> pd.DataFrame:
    """The chip and the GPU side by side at the same SLO: one row each with ``device``,
    ``capacity_rps``, ``tokens_per_s`` and ``average_power_w`` at that capacity,
    ``joules_per_request``, ``joules_per_token``, ``hardware_usd`` (the chip's cost to make with
    its DRAM, :func:`tritium.analysis.cost.chip_cost`; the GPUs' price to buy,
    :func:`tritium.analysis.cost.gpu_cost`, NaN where it is not published), and ``usd_per_million_tokens``: the hardware spread
    over ``lifetime_years`` of service at capacity plus energy at ``usd_per_kwh``.

    For the comparison report's serving section (the report is built elsewhere)."""
    from tritium.analysis.cost import chip_cost, gpu_cost
    from tritium.analysis.gpu import load_gpu
    from tritium.analysis.serving import ServeConfig, serving_costs
    from tritium.sim import load_chip
    from tritium.sim.die import resolve_die

    config = config or ServeConfig()
    rows = []
    the_chip = load_chip(chip)
    chip_usd = chip_cost(the_chip, resolve_die(the_chip)[1].area_mm2["total"]).system_cost_usd  # the whole die
    the_gpu = load_gpu(gpu)
    gpu_usd = gpu_cost(the_gpu, gpus).system_price_usd  # NaN where the card's price is not published
    for kind, costs, usd in (
            ("chip", serving_costs(model, chip=the_chip), chip_usd),
            ("gpu", serving_costs(model, gpu=the_gpu, gpus=gpus, gpu_weights=gpu_weights, gpu_engine=gpu_engine),
             gpu_usd)):
        cap = find_capacity(costs=costs, n_requests=n_requests, config=config, seed=seed, **serve_kw)
        s = cap.result.summary if cap.result is not None else {}
        tokens = s.get("throughput_tokens_per_s", math.nan)
        power = s.get("average_power_w", math.nan)
        per_s = usd / (lifetime_years * 365.25 * 86400) + power * usd_per_kwh / 3.6e6
        rows.append({"device": costs.device.name, "kind": kind, "capacity_rps": cap.capacity_rps,
                     "tokens_per_s": tokens, "average_power_w": power,
                     "joules_per_request": s.get("joules_per_request", math.nan),
                     "joules_per_token": s.get("joules_per_token", math.nan), "hardware_usd": usd,
                     "usd_per_million_tokens": per_s / tokens * 1e6 if tokens and tokens > 0 else math.nan,
                     "slo_ttft_p90_s": config.slo_ttft_s, "slo_tpot_p99_s": config.slo_tpot_s})
    return pd.DataFrame(rows)


SWEEP_METRICS = ("capacity_rps", "goodput_per_w", "goodput_per_dollar")
"""Serving figures a design-space sweep may optimise (:func:`sweep_metrics`)."""

SWEEP_REQUESTS = 200
"""Requests per run of a sweep point's capacity search (a coarser search than ``tritium serve``'s)."""


def sweep_metrics(chip, workload, cost_usd: float, *, slo_ttft_s: float = 2.0, slo_tpot_s: float = 0.2) -> dict:
    """A design point's serving figures for a sweep: ``capacity_rps`` (:func:`find_capacity` at
    p90 TTFT <= ``slo_ttft_s`` and p99 TPOT <= ``slo_tpot_s``, Poisson arrivals, lognormal lengths
    around the workload's prefill and decode (CV 0.5), the workload's batch as the engine's
    ``max_batch``, :data:`SWEEP_REQUESTS` requests a run, 5% bracket), ``goodput_per_w``
    (that capacity over the average power it draws there) and ``goodput_per_dollar`` (over
    ``cost_usd``, the system's cost to make). ``workload`` is a
    :class:`tritium.analysis.dse.space_record.Workload`."""
    import dataclasses

    from tritium.analysis.serving import ServeConfig, serving_costs
    from tritium.workloads import load_model

    spec = load_model(workload.model)
    if workload.ternarize:
        spec = spec.ternarized()
    overrides = {k: v for k, v in (("lm_head_dtype", workload.lm_head_dtype), ("kv_dtype", workload.kv_dtype))
                 if v is not None}
    if overrides:
        spec = dataclasses.replace(spec, **overrides)
    costs = serving_costs(spec, chip=chip, mapping_objective=workload.mapping_objective)
    tokens = max(workload.prefill + workload.decode, 4096)
    config = ServeConfig(max_batch=workload.batch, max_batched_tokens=min(tokens, 1 << 20), slo_ttft_s=slo_ttft_s,
                         slo_tpot_s=slo_tpot_s, check_samples=0)
    cap = find_capacity(costs=costs, n_requests=SWEEP_REQUESTS, tolerance=0.05, config=config,
                        prompt=f"lognormal:{workload.prefill}:0.5", output=f"lognormal:{workload.decode}:0.5")
    power = cap.result.summary["average_power_w"] if cap.result is not None else math.nan
    rate = cap.capacity_rps
    return {"capacity_rps": rate, "goodput_per_w": rate / power if power and power > 0 else 0.0,
            "goodput_per_dollar": rate / cost_usd if cost_usd > 0 else math.nan}
