"""serve(): the checks the issue names (vanishing rate vs simulate on chip and GPU, Little's law,
the batch-limited bound, TTFT rising with rate, the same table for the same seed) and edge cases."""

import dataclasses

import numpy as np
import pytest

from tritium.analysis.gpu import gpu_baseline
from tritium.analysis.serving import IterationCosts, ServeConfig, serve, serving_costs
from tritium.analysis.serving.device import chip_device
from tritium.analysis.serving.requests import Requests
from tritium.base.errors import SpecError
from tritium.sim import load_chip, simulate
from tritium.workloads import Scenario, load_model, trace

MODEL = "bitnet-b1.58-2b-4t"
SMALL = "trilm-99m"


@pytest.fixture(scope="module")
def chip_costs():
    return serving_costs(MODEL, chip="edge-lpddr5")


@pytest.fixture(scope="module")
def small_costs():
    return serving_costs(SMALL, chip="edge-lpddr5")


@pytest.mark.parametrize("prompt,output", [(512, 128), (200, 32)])
def test_vanishing_rate_matches_a_single_request_simulation_on_the_chip(chip_costs, prompt, output):
    ref = simulate("edge-lpddr5", trace(MODEL, Scenario(1, prompt, output))).totals
    r = serve(costs=chip_costs, rate=1e-3, n_requests=2, prompt=f"fixed:{prompt}", output=f"fixed:{output}")
    t = r.requests
    assert r.summary["ttft_s"]["p90"] / ref["time_to_first_token_s"] == pytest.approx(1, abs=0.01)
    assert np.allclose(t.ttft_s / ref["time_to_first_token_s"], 1, atol=0.01)
    assert np.allclose(t.tpot_s / ref["time_per_output_token_s"], 1, atol=0.01)
    assert r.summary["bucket_error"]["max_time_error"] < 0.01


def test_vanishing_rate_matches_the_gpu_model():
    costs = serving_costs(MODEL, gpu="h100-sxm")
    ref = gpu_baseline("h100-sxm", trace(MODEL, Scenario(1, 300, 40)), weights="w2a8").totals
    r = serve(costs=costs, rate=1e-3, n_requests=2, prompt="fixed:300", output="fixed:40")
    assert np.allclose(r.requests.ttft_s / ref["time_to_first_token_s"], 1, atol=0.01)
    assert np.allclose(r.requests.tpot_s / ref["time_per_output_token_s"], 1, atol=0.01)
    # and a loaded GPU is checked against the full model as well
    busy = serve(costs=costs, rate=100, n_requests=100, seed=3, prompt="fixed:256", output="fixed:32")
    assert busy.summary["bucket_error"]["checked"] == 8 and busy.summary["bucket_error"]["max_time_error"] < 0.01


def test_littles_law_and_the_throughput_bound(chip_costs):
    r = serve(costs=chip_costs, rate=0.3, n_requests=300, seed=1)
    s = r.summary
    law = s["littles_law"]
    assert law["mean_in_system"] == pytest.approx(law["served_rate_rps"] * law["mean_time_in_system_s"], rel=1e-6)
    # against the offered rate: within sampling error of 300 arrivals (and the drain at the end)
    assert law["mean_in_system"] == pytest.approx(s["arrival_rate_rps"] * law["mean_time_in_system_s"], rel=0.15)
    assert 0 < s["throughput_tokens_per_s"] <= s["peak_tokens_per_s"]
    assert s["bucket_error"]["max_time_error"] < 0.01
    assert s["joules_per_token"] > 0 and s["idle_energy_j"] >= 0
    assert r.requests.energy_j.sum() == pytest.approx(s["energy_j"], rel=1e-9)


def test_ttft_rises_with_rate_and_throughput_saturates(small_costs):
    p99, tput = [], []
    for rate in (5, 40, 400):
        s = serve(costs=small_costs, rate=rate, n_requests=200, seed=2, prompt="lognormal:256:0.5",
                  output="lognormal:64:0.5").summary
        p99.append(s["ttft_s"]["p99"])
        tput.append(s["throughput_tokens_per_s"])
        assert s["throughput_tokens_per_s"] <= s["peak_tokens_per_s"]
    assert p99[0] < p99[1] < p99[2]
    assert tput[2] < 400 / 5 * tput[0]  # saturated: far below linear growth


def test_same_seed_same_table_byte_for_byte(small_costs, tmp_path):
    stream = dict(rate=30, n_requests=50, prompt="lognormal:96:0.5", output="lognormal:16:0.5")
    a = serve(costs=small_costs, seed=7, **stream)
    fresh = IterationCosts(chip_device("edge-lpddr5", load_model(SMALL)))  # cold caches, same figures
    b = serve(costs=fresh, seed=7, **stream)
    a.requests.to_parquet(tmp_path / "a.parquet", index=False)
    b.requests.to_parquet(tmp_path / "b.parquet", index=False)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    c = serve(costs=small_costs, seed=8, **stream)
    assert not c.requests.equals(a.requests)


def test_preemption_when_the_kv_cache_fills(tmp_path):
    chip = load_chip("edge-lpddr5")
    small = dataclasses.replace(chip, dram=dataclasses.replace(chip.dram, capacity_gib=0.3))
    costs = serving_costs(SMALL, chip=small)
    r = serve(costs=costs, rate=1000, n_requests=40, prompt="fixed:1000", output="fixed:300", seed=0,
              config=ServeConfig(max_batched_tokens=2048))
    s = r.summary
    assert s["kv_capacity_tokens"] < 40 * 1300  # all at once would not fit
    assert s["preemptions"] > 0 and s["completed"] == 40 and s["rejected"] == 0
    assert s["peak_kv_occupancy"] <= 1.0
    assert r.requests.finish_s.notna().all() and (r.requests.preemptions > 0).any()


def test_requests_too_big_for_the_kv_cache_are_rejected_not_hung():
    chip = load_chip("edge-lpddr5")
    tiny = dataclasses.replace(chip, dram=dataclasses.replace(chip.dram, capacity_gib=0.3))
    costs = serving_costs(SMALL, chip=tiny)
    stream = Requests(np.array([0.0, 0.1, 0.2]), np.array([100, 1900, 50]), np.array([10, 1600, 0]), "test")
    r = serve(costs=costs, requests=stream, config=ServeConfig(max_batched_tokens=2048))
    assert r.summary["kv_capacity_tokens"] < 1900 + 1599
    rows = r.requests
    assert bool(rows.rejected.iloc[1]) and np.isnan(rows.ttft_s.iloc[1])
    assert r.summary["rejected"] == 1 and r.summary["completed"] == 2
    # zero output tokens: a prefill alone, first token when it ends, no TPOT
    assert rows.first_token_s.iloc[2] == rows.finish_s.iloc[2] and np.isnan(rows.tpot_s.iloc[2])


def test_prompt_over_the_token_budget_without_chunking_is_rejected_and_chunked_runs_it(small_costs):
    stream = Requests(np.array([0.0, 0.5]), np.array([600, 100]), np.array([4, 4]), "test")
    plain = serve(costs=small_costs, requests=stream, config=ServeConfig(max_batched_tokens=512))
    assert plain.requests.rejected.tolist() == [True, False]
    chunked = serve(costs=small_costs, requests=stream, config=ServeConfig(max_batched_tokens=512, chunked_prefill=256))
    assert chunked.requests.rejected.tolist() == [False, False]
    assert chunked.summary["iterations"] > plain.summary["iterations"]


@pytest.mark.parametrize("kw,key", [
    (dict(rate=0), "rate"), (dict(rate=-1), "rate"), (dict(rate=1, n_requests=0), "requests"),
    (dict(rate=1, prompt="lognormal:-5"), "lognormal"), (dict(rate=1, output="banana"), "output"),
    (dict(rate=1, config=None), "config"),
])
def test_bad_inputs_are_one_spec_error(small_costs, kw, key):
    with pytest.raises(SpecError, match=key):
        serve(costs=small_costs, **kw)


def test_slo_zero_is_refused():
    with pytest.raises(SpecError, match="slo_ttft_s"):
        ServeConfig(slo_ttft_s=0)
    with pytest.raises(SpecError, match="slo_tpot_s"):
        ServeConfig(slo_tpot_s=-1)


def test_chip_or_gpu_exactly_one():
    with pytest.raises(SpecError, match="exactly one"):
        serving_costs(SMALL)
    with pytest.raises(SpecError, match="exactly one"):
        serving_costs(SMALL, chip="edge-lpddr5", gpu="h100-sxm")


def test_serving_comparison_puts_chip_and_gpu_at_one_slo():
    from tritium.analysis.serving import serving_comparison

    table = serving_comparison(SMALL, "edge-lpddr5", "h100-sxm", config=ServeConfig(slo_ttft_s=0.5, slo_tpot_s=0.05),
                               n_requests=30, prompt="fixed:64", output="fixed:16")
    assert table.kind.tolist() == ["chip", "gpu"]
    assert (table.capacity_rps > 0).all() and (table.joules_per_request > 0).all()
    assert (table.usd_per_million_tokens > 0).all()
    assert table.capacity_rps.iloc[1] > table.capacity_rps.iloc[0]  # an H100 serves a 99M model faster
