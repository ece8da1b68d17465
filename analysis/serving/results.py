"""A serving run's results: the per-request table, its summary, the files and plots.

Per-request columns (:data:`REQUEST_COLUMNS`): ``request``, ``arrival_s``, ``admitted_s`` (first
admission), ``first_token_s``, ``finish_s``, ``prompt_tokens``, ``output_tokens``, ``ttft_s``
(first token less arrival), ``tpot_s`` ((finish - first token) / (output - 1); NaN under two
output tokens), ``e2e_s`` (finish less arrival), ``energy_j`` (the request's token share of each
iteration's energy plus an even share of the idle energy), ``preemptions``, ``rejected`` and
``meets_slo`` (TTFT and TPOT both within the SLOs). Times are NaN for rejected requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["ServeResult", "build_result", "REQUEST_COLUMNS", "write_outputs", "output_names", "percentiles"]

REQUEST_COLUMNS = ("request", "arrival_s", "admitted_s", "first_token_s", "finish_s", "prompt_tokens",
                   "output_tokens", "ttft_s", "tpot_s", "e2e_s", "energy_j", "preemptions", "rejected", "meets_slo")


@dataclass(frozen=True)
class ServeResult:
    """One serving run: ``requests`` (:data:`REQUEST_COLUMNS`), ``summary`` (JSON-ready; see
    docs/serving.md), ``series`` (time, waiting, running, KV blocks used, sampled) and
    ``warnings`` (what undermines the figures)."""

    requests: pd.DataFrame
    summary: dict
    series: pd.DataFrame
    warnings: list = field(default_factory=list)


def percentiles(values: np.ndarray) -> dict:
    """p50, p90, p99 and mean of the finite ``values`` (NaN when there are none)."""
    v = values[np.isfinite(values)]
    if not len(v):
        return {"p50": math.nan, "p90": math.nan, "p99": math.nan, "mean": math.nan}
    p50, p90, p99 = np.percentile(v, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "mean": float(v.mean())}


def build_result(requests, run, costs, config, kv_bytes: float, kv_blocks: int, check: dict, *, wall_s: float,
                 seed: int) -> ServeResult:
    from tritium.analysis.serving.scheduler import KV_BLOCK_TOKENS

    arrival = requests.arrival_s
    out_tokens = requests.output
    served = ~run.rejected
    ttft = run.first_token - arrival
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(out_tokens >= 2, (run.finish - run.first_token) / (out_tokens - 1), np.nan)
    e2e = run.finish - arrival
    completed = int(np.count_nonzero(served))
    idle_share = run.idle_j / completed if completed else 0.0
    energy = np.where(served, run.energy_j + idle_share, 0.0)
    meets = served & (ttft <= config.slo_ttft_s) & ~(tpot > config.slo_tpot_s)
    table = pd.DataFrame({
        "request": np.arange(len(requests), dtype=np.int64), "arrival_s": arrival, "admitted_s": run.admitted,
        "first_token_s": run.first_token, "finish_s": run.finish, "prompt_tokens": requests.prompt,
        "output_tokens": out_tokens, "ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e, "energy_j": energy,
        "preemptions": run.preemptions.astype(np.int64), "rejected": run.rejected.astype(bool), "meets_slo": meets,
    })
    span = run.end_s - float(arrival[0]) if len(arrival) else 0.0
    tokens = int(out_tokens[served].sum())
    total_j = run.busy_j + run.idle_j
    spread = float(arrival[-1] - arrival[0]) if len(arrival) > 1 else 0.0
    rate_in = (len(arrival) - 1) / spread if spread > 0 else math.nan
    mean_in_system = run.in_system_area / span if span > 0 else math.nan
    served_rate = completed / span if span > 0 else math.nan
    device = costs.device
    peak = costs.peak_tokens_per_s(config.max_batch)
    series = pd.DataFrame(run.series)
    series["kv_occupancy"] = series.kv_blocks / kv_blocks
    summary = {
        "model": device.spec.name, "device": {k: v for k, v in device.describe.items()}, "device_name": device.name,
        "source": requests.source, "seed": seed,
        "config": {"max_batch": config.max_batch, "max_batched_tokens": config.max_batched_tokens,
                   "chunked_prefill": config.chunked_prefill, "kv_block_tokens": KV_BLOCK_TOKENS},
        "slo": {"ttft_p90_s": config.slo_ttft_s, "tpot_p99_s": config.slo_tpot_s},
        "requests": int(len(arrival)), "completed": completed, "rejected": int(np.count_nonzero(run.rejected)),
        "preemptions": int(run.preemptions.sum()),
        "ttft_s": percentiles(ttft[served]), "tpot_s": percentiles(tpot[served]), "e2e_s": percentiles(e2e[served]),
        "duration_s": span, "arrival_rate_rps": rate_in,
        "throughput_rps": served_rate, "throughput_tokens_per_s": tokens / span if span > 0 else math.nan,
        "goodput_rps": int(np.count_nonzero(meets)) / span if span > 0 else math.nan,
        "slo_attainment": int(np.count_nonzero(meets)) / completed if completed else math.nan,
        "meets_slo": bool(completed and percentiles(ttft[served])["p90"] <= config.slo_ttft_s
                          and not percentiles(tpot[served])["p99"] > config.slo_tpot_s),
        "energy_j": total_j, "busy_energy_j": run.busy_j, "idle_energy_j": run.idle_j,
        "joules_per_token": total_j / tokens if tokens else math.nan,
        "joules_per_request": total_j / completed if completed else math.nan,
        "average_power_w": total_j / span if span > 0 else math.nan,
        "busy_w": device.busy_w, "idle_w": device.idle_w,
        "busy_fraction": run.busy_s / span if span > 0 else math.nan,
        "iterations": run.iterations,
        "mean_batch": float(np.mean(series.running)) if len(series) else math.nan,
        "kv_capacity_bytes": kv_bytes, "kv_capacity_tokens": kv_blocks * KV_BLOCK_TOKENS,
        "peak_kv_occupancy": float(series.kv_occupancy.max()) if len(series) else 0.0,
        "peak_tokens_per_s": peak,
        "littles_law": {"mean_in_system": mean_in_system, "served_rate_rps": served_rate,
                        "mean_time_in_system_s": float(np.mean(e2e[served])) if completed else math.nan},
        "bucket_error": check, "cost_model_probes": costs.probes,
        "wall_s": wall_s, "simulated_per_wall": span / wall_s if wall_s > 0 else math.nan,
    }
    warnings = []
    if check["checked"] and check["max_time_error"] >= 0.01:
        warnings.append(f"iteration-cost buckets are {check['max_time_error']:.2%} off the full model at a checked "
                        "iteration (above the 1% they are kept under)")
    if summary["rejected"]:
        warnings.append(f"{summary['rejected']} requests rejected: prompt plus output larger than the KV cache "
                        f"({kv_blocks * KV_BLOCK_TOKENS:,} tokens) or, without chunked prefill, the prompt larger "
                        f"than max_batched_tokens ({config.max_batched_tokens})")
    summary["warnings"] = warnings
    return ServeResult(table, summary, series, warnings)


def write_outputs(result: ServeResult, out_dir: str | Path, *, sweep: pd.DataFrame | None = None,
                  force: bool = False) -> list[Path]:
    """Write ``requests.parquet``, ``summary.json``, ``series.csv`` and the plots (PNG and SVG):
    ``ttft_cdf``, ``tpot_cdf``, ``occupancy`` and, given a rate ``sweep``
    (:func:`~tritium.analysis.serving.rate_sweep`), ``knee``; each atomically, recorded in the
    folder's manifest; files Tritium did not write are not replaced unless ``force``."""
    from tritium.analysis.plots import save_figure
    from tritium.base.fileio import atomic_path, check_overwrite, json_text, record_written, write_text_atomic

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    check_overwrite([out / n for n in output_names(sweep is not None)], force=force)
    written = []
    with atomic_path(out / "requests.parquet") as tmp:
        result.requests.to_parquet(tmp, index=False)
    written.append(out / "requests.parquet")
    written.append(write_text_atomic(out / "summary.json", json_text(result.summary) + "\n"))
    written.append(write_text_atomic(out / "series.csv", result.series.to_csv(index=False)))
    label = f"{result.summary['model']} on {result.summary['device_name']}"
    written += save_figure(cdf_plot(result.requests.ttft_s, "time to first token (s)", label,
                                    result.summary["slo"]["ttft_p90_s"]), out / "ttft_cdf")
    written += save_figure(cdf_plot(result.requests.tpot_s, "time per output token (s)", label,
                                    result.summary["slo"]["tpot_p99_s"]), out / "tpot_cdf")
    written += save_figure(occupancy_plot(result.series, label), out / "occupancy")
    if sweep is not None:
        written.append(write_text_atomic(out / "sweep.csv", sweep.to_csv(index=False)))
        written += save_figure(knee_plot(sweep, label), out / "knee")
    record_written(written)
    return written


def output_names(with_sweep: bool) -> list[str]:
    """The files :func:`write_outputs` writes (to check them before any work)."""
    plots = ["ttft_cdf", "tpot_cdf", "occupancy"] + (["knee"] if with_sweep else [])
    return (["requests.parquet", "summary.json", "series.csv"] + (["sweep.csv"] if with_sweep else [])
            + [f"{p}.{ext}" for p in plots for ext in ("png", "svg")])


def cdf_plot(values: pd.Series, what: str, label: str, slo: float):
    from tritium.analysis.plots import _figure

    v = np.sort(values.to_numpy(dtype=np.float64))
    v = v[np.isfinite(v)]
    fig, ax = _figure(figsize=(6, 4))
    if len(v):
        ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post", label=label)
    ax.axvline(slo, color="#e76f51", linestyle="--", label=f"SLO {slo:g} s")
    ax.set_xlabel(what)
    ax.set_ylabel("fraction of requests")
    ax.set_title(f"{what.split(' (')[0]}: CDF")
    ax.legend(loc="lower right")
    return fig


def occupancy_plot(series: pd.DataFrame, label: str):
    from tritium.analysis.plots import _figure

    fig, ax = _figure(figsize=(7, 4))
    ax.plot(series.t, series.running, label="running batch", drawstyle="steps-post")
    ax.plot(series.t, series.waiting, label="waiting", drawstyle="steps-post")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("requests")
    twin = ax.twinx()
    twin.plot(series.t, 100 * series.kv_occupancy, color="#6c757d", label="KV cache used (%)", linewidth=0.8)
    twin.set_ylabel("KV cache used (%)")
    twin.set_ylim(0, 105)
    ax.set_title(f"{label}: batch, queue and KV cache over time")
    ax.legend(loc="upper left")
    return fig


def knee_plot(sweep: pd.DataFrame, label: str):
    from tritium.analysis.plots import _figure

    fig, ax = _figure(figsize=(6, 4))
    ax.plot(sweep.throughput_rps, sweep.ttft_p90_s, marker="o", label="p90 TTFT")
    ax.plot(sweep.throughput_rps, sweep.e2e_p50_s, marker="s", label="p50 end to end")
    ax.set_yscale("log")
    ax.set_xlabel("throughput (requests/s)")
    ax.set_ylabel("latency (s)")
    ax.set_title(f"{label}: latency vs throughput")
    ax.legend(loc="upper left")
    return fig
