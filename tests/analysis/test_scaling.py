"""chip_scaling: tensor parallelism over 1 to N chips, per link topology."""

import pytest

from tritium.analysis.scaling import chip_scaling, scaling_plot
from tritium.errors import SpecError
from tritium.workloads import Scenario, build_trace

TRACE = build_trace("llama-3-70b", Scenario(1, 16, 4), ternarize=True)


def test_a_switch_scales_further_than_a_ring_and_collectives_grow():
    table = chip_scaling("multichip-hbm3", TRACE, chips=(1, 4, 16, 64), topologies=("ring", "switch"))
    ring = table[table.topology == "ring"].set_index("chips")
    switch = table[table.topology == "switch"].set_index("chips")
    assert ring.speedup[1] == 1.0 and ring.speedup[4] > 2
    assert (switch.time_per_output_token_s <= ring.time_per_output_token_s * (1 + 1e-9)).all()
    assert ring.collective_share.is_monotonic_increasing
    assert ring.time_per_output_token_s[64] > ring.time_per_output_token_s[16]  # where a ring stops scaling


def test_torus_leaves_out_counts_it_cannot_join_and_bad_input_is_refused():
    table = chip_scaling("multichip-hbm3", TRACE, chips=(1, 2, 4, 7), topologies=("torus2d",))
    assert list(table.chips) == [1, 4]
    with pytest.raises(SpecError, match="chips = 0: must be an integer from 1 to 4096"):
        chip_scaling("multichip-hbm3", TRACE, chips=(0,))
    with pytest.raises(SpecError, match="topology = 'mesh': must be one of ring, torus2d, switch"):
        chip_scaling("multichip-hbm3", TRACE, topologies=("mesh",))


def test_the_plot_draws_one_line_per_topology():
    table = chip_scaling("edge-lpddr5", TRACE, chips=(1, 2), topologies=("ring", "switch"))
    fig = scaling_plot(table, "t")
    assert len(fig.axes[0].get_lines()) == 2
