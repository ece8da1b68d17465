"""Issue 11 item 6: a space varies the silicon and parallelism knobs like any other chip key."""

from __future__ import annotations

import pytest

from tritium.analysis.dse import load_results, sweep

SPACE = '''
name = "knobs"
base = "multichip-hbm3"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4
[params]
pipeline_stages = [1, 2]
dvfs = [false, true]
clock_mhz = [800.0, 3000.0]
power_cap_w = [0.0, 150.0]
link.phy = ["serdes", "ucie-advanced"]
'''


def test_a_space_over_parallelism_dvfs_cap_and_link_phy(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    summary = sweep(path, tmp_path / "out", workers=0)
    assert summary.stored == 32
    df = load_results(tmp_path / "out")
    past = df["clock_mhz"] == 3000.0  # past the 5 nm pipeline's ~2678 MHz: refused, recorded
    assert (df.status[past] == "invalid").all() and df.error[past].str.contains("clock_mhz = 3000").all()
    ok = df[~past]
    assert (ok.status == "ok").all() and len(ok) == 16
    # the UCIe link PHY is smaller than the SerDes one, everything else equal
    serdes = ok[ok["link.phy"] == "serdes"].sort_values(["pipeline_stages", "dvfs", "power_cap_w"])
    ucie = ok[ok["link.phy"] == "ucie-advanced"].sort_values(["pipeline_stages", "dvfs", "power_cap_w"])
    assert (ucie.area_mm2.to_numpy() < serdes.area_mm2.to_numpy()).all()
    # DVFS at 800 MHz spends less energy per token than nominal voltage, at the same speed
    nominal = ok[(~ok.dvfs.astype(bool)) & (ok.power_cap_w == 0)].sort_values(["pipeline_stages", "link.phy"])
    scaled = ok[(ok.dvfs.astype(bool)) & (ok.power_cap_w == 0)].sort_values(["pipeline_stages", "link.phy"])
    assert (scaled.joules_per_token.to_numpy() < nominal.joules_per_token.to_numpy()).all()
    assert scaled.tokens_per_s.to_numpy() == pytest.approx(nominal.tokens_per_s.to_numpy())


DEPLOYED = '''
name = "deployed"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "carbon_g_per_mtok"]
[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4
[params]
tlu.rows = [16, 64]
[deployment]
{deployment}
'''


def _deployed(tmp_path, deployment: str):
    from tritium.analysis.dse import load_space

    path = tmp_path / "space.toml"
    path.write_text(DEPLOYED.format(deployment=deployment))
    return path, load_space(path)


def test_deployment_sets_the_carbon_and_nre_metrics(tmp_path):
    from tritium.analysis.carbon import carbon_per_million_tokens
    from tritium.analysis.cost import chip_cost
    from tritium.sim import load_chip, simulate
    from tritium.workloads import Scenario, trace

    metrics = {}
    for label, text in (("default", ""), ("NO", 'region = "NO"\nvolume = 10000\nnre_usd = 2e6')):
        path, _ = _deployed(tmp_path, text)
        sweep(path, tmp_path / label, workers=0)
        metrics[label] = load_results(tmp_path / label).sort_values("tlu.rows")
    d, no = metrics["default"], metrics["NO"]
    assert (no.carbon_g_per_mtok < d.carbon_g_per_mtok).all()  # Norway's grid is cleaner than the world's
    assert (d.cost_with_nre_usd == d.cost_usd).all() and (no.cost_usd == d.cost_usd).all()
    assert (no.cost_with_nre_usd > no.cost_usd).all()
    # the figures are compare's: one point recomputed by hand
    row = no.iloc[0]
    base = load_chip("edge-lpddr5")
    import dataclasses

    chip = dataclasses.replace(base, tlu=dataclasses.replace(base.tlu, rows=int(row["tlu.rows"])))
    result = simulate(chip, trace("trilm-99m", Scenario(1, 16, 4)))
    cost = chip_cost(chip, result.area_mm2["total"], volume=10000, nre_usd=2e6)
    assert row.cost_with_nre_usd == pytest.approx(cost.system_cost_usd)
    # edge-lpddr5 is an edge device: PUE 1.0, 5 years, 10% busy by default
    carbon = carbon_per_million_tokens(result, chip, region="NO", pue=1.0, lifetime_years=5.0, utilization=0.1)
    assert row.carbon_g_per_mtok == pytest.approx(carbon.total_g_per_mtok)


@pytest.mark.parametrize("text, key", [
    ('region = "atlantis"', "deployment.region"),
    ("pue = 0.5", "deployment.pue"),
    ("volume = 0", "deployment.volume"),
    ("nre_usd = -1.0", "deployment.nre_usd"),
    ("colour = 1", "deployment.colour"),
])
def test_bad_deployment_names_the_key(tmp_path, text, key):
    from tritium.base.errors import SpecError

    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        _deployed(tmp_path, text)
