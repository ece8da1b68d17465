"""compare(): the chip and the GPU on one trace, joined into one table."""

import json
import math

import pytest

from tritium.analysis.compare import METRICS, compare, default_weights
from tritium.analysis.gpu import DEFAULT_CALIBRATION, gpu_baseline, save_calibration
from tritium.base.errors import TritiumError
from tritium.sim import simulate
from tritium.workloads import Scenario, load_model, trace


@pytest.fixture(scope="module")
def small():
    return compare("bitnet-b1.58-2b-4t", "edge-lpddr5", "h100", batch=2, prefill=64, decode=8)


def test_table_joins_the_two_results(small):
    table = small.table().set_index("metric")
    assert list(table.index) == [m for m, _, _ in METRICS]
    c, g = small.chip_result.totals, small.gpu_result.totals
    assert table.loc["J/token", "chip"] == pytest.approx(c["joules_per_token"] * 1e3)
    assert table.loc["J/token", "gpu"] == pytest.approx(g["joules_per_token"] * 1e3)
    assert table.loc["tokens/s", "gpu_over_chip"] == pytest.approx(g["tokens_per_s"] / c["tokens_per_s"])
    assert table.loc["time to first token", "chip"] > 0
    assert table.loc["die area", "gpu"] == 814.0
    assert table.loc["cost to make, one chip/card", "chip"] == pytest.approx(small.chip_cost.unit_cost_usd)
    assert table.loc["price to buy (list/street)", "gpu"] == 27500.0
    total = table.loc["gCO2e per 1M tokens"]
    assert total.chip == pytest.approx(table.loc["  operational", "chip"] + table.loc["  embodied", "chip"])
    assert total.gpu == pytest.approx(table.loc["  operational", "gpu"] + table.loc["  embodied", "gpu"])
    # the winner follows the direction of each metric
    for metric, _, lower in METRICS:
        row = table.loc[metric]
        if row.better:
            assert (row.better == "chip") == ((row.chip < row.gpu) == lower), metric


def test_warnings_name_the_side_whose_memory_does_not_hold_the_model(small):
    assert small.warnings == [] and small.as_dict()["warnings"] == []
    # fpga-proto's 0.5 GiB of DRAM does not hold BitNet 2B4T's 1.1 GiB of weights
    tight = compare("bitnet-b1.58-2b-4t", "fpga-proto", "h100", prefill=16, decode=2)
    assert len(tight.warnings) == 1 and tight.warnings[0].startswith("chip: DRAM too small:")
    assert all(w in tight.notes for w in tight.warnings) and tight.as_dict()["warnings"] == tight.warnings
    # a BF16 Llama-3-70B (141 GB) on one 24 GB RTX 4090: the note says how many GPUs would hold it
    big = compare("llama-3-70b", "multichip-hbm3", "rtx-4090", prefill=16, decode=2)
    gpu = [w for w in big.warnings if w.startswith("GPU: ")]
    assert len(gpu) == 1 and "does not fit" in gpu[0] and "at least 6 GPUs would hold it" in gpu[0]


def test_same_trace_as_running_each_side_alone(small):
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=2, prefill=64, decode=8))
    assert small.chip_result.totals == simulate("edge-lpddr5", t).totals
    alone = gpu_baseline("h100", t, weights="w2a8").totals
    assert {k: v for k, v in small.gpu_result.totals.items() if v == v} == {k: v for k, v in alone.items() if v == v}


def test_default_weights_follow_the_model():
    assert default_weights(load_model("bitnet-b1.58-2b-4t")) == "w2a8"
    assert default_weights(load_model("llama-3-8b")) == "bf16"
    c = compare("llama-3-8b", "datacenter-hbm3", "h100", prefill=32, decode=4, weights="int8")
    assert c.weights == "int8" and c.gpu_label == "h100-sxm (int8)"


def test_region_and_pue_scale_operational_carbon_only(small):
    clean = compare("bitnet-b1.58-2b-4t", "edge-lpddr5", "h100", batch=2, prefill=64, decode=8, region="SE")
    ratio = small.chip_carbon.grid_g_per_kwh / clean.chip_carbon.grid_g_per_kwh
    assert small.chip_carbon.operational_g_per_mtok / clean.chip_carbon.operational_g_per_mtok == pytest.approx(ratio)
    assert small.gpu_operational_g_per_mtok / clean.gpu_operational_g_per_mtok == pytest.approx(ratio)
    assert clean.chip_carbon.embodied_g_per_mtok == pytest.approx(small.chip_carbon.embodied_g_per_mtok)
    hot = compare("bitnet-b1.58-2b-4t", "edge-lpddr5", "h100", batch=2, prefill=64, decode=8, pue=1.58)
    assert hot.gpu_operational_g_per_mtok / small.gpu_operational_g_per_mtok == pytest.approx(1.58 / 1.1)


def test_gpu_without_a_die_area_has_operational_carbon_only():
    c = compare("bitnet-b1.58-2b-4t", "edge-lpddr5", "orin", prefill=32, decode=4)
    table = c.table().set_index("metric")
    assert c.gpu_carbon is None and math.isnan(table.loc["  embodied", "gpu"])
    assert table.loc["  operational", "gpu"] > 0
    assert any("not published" in n for n in c.notes)


def test_tensor_parallel_and_multichip_systems():
    c = compare("llama3-8b-1.58", "multichip-hbm3", "h100", prefill=32, decode=4, gpus=2)
    table = c.table().set_index("metric")
    assert table.loc["dies in system", "chip"] == c.chip.chips and table.loc["dies in system", "gpu"] == 2
    assert table.loc["system cost to make", "gpu"] == pytest.approx(2 * c.gpu_cost.cost_to_make_usd)
    assert table.loc["price to buy (list/street)", "gpu"] == 2 * 27500.0
    assert c.gpu_label.startswith("2x h100-sxm")


def test_calibration_file_is_used(tmp_path):
    path = save_calibration(DEFAULT_CALIBRATION.with_(name="slow", gemm_efficiency=0.2, copy_kernel_efficiency=0.2,
                                                      matmul_kernel_efficiency=0.2),
                            tmp_path / "slow.toml")
    base = compare(prefill=32, decode=4)
    slow = compare(prefill=32, decode=4, calibration=path)
    assert slow.calibration.name == "slow"
    assert slow.gpu_result.totals["time_per_output_token_s"] > 1.4 * base.gpu_result.totals["time_per_output_token_s"]
    assert slow.chip_result.totals == base.chip_result.totals


def test_as_dict_is_json(small):
    data = json.loads(json.dumps(small.as_dict(), default=str))
    assert data["chip"] == "edge-lpddr5" and data["weights"] == "w2a8"
    assert [r["metric"] for r in data["table"]] == [m for m, _, _ in METRICS]


def test_a_scalesim_topology_is_refused_by_compare_and_report(tmp_path):
    from tritium.analysis.report import build_report

    topo = tmp_path / "topo.csv"
    topo.write_text("Layer, M, N, K,\nfc1, 64, 256, 128,\n")
    with pytest.raises(TritiumError, match=r"generates no tokens \(decode = 0\).*use tritium simulate"):
        compare(topo)
    with pytest.raises(TritiumError, match=r"SCALE-Sim topology .* makes no report; use tritium simulate"):
        build_report(str(topo))


def test_bad_inputs():
    with pytest.raises(TritiumError, match="unknown GPU"):
        compare(gpu="b300", prefill=32, decode=4)
    with pytest.raises(TritiumError, match="region"):
        compare(region="atlantis", prefill=32, decode=4)
    with pytest.raises(TritiumError, match="weights"):
        compare(weights="fp4", prefill=32, decode=4)


def test_docstring_examples():
    import doctest

    import tritium.analysis.compare as module

    result = doctest.testmod(module)
    assert result.attempted >= 2 and result.failed == 0
