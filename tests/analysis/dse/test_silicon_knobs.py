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
