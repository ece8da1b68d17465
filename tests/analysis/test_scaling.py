"""chip_scaling: tensor parallelism over 1 to N chips, per link topology, and tensor x pipeline splits."""

import pytest

from tritium.analysis.scaling import chip_scaling, scaling_plot
from tritium.base.errors import SpecError
from tritium.workloads import Scenario, build_trace

TRACE = build_trace("llama-3-70b", Scenario(1, 16, 4), ternarize=True)


def test_a_switch_scales_further_than_a_ring_and_collectives_grow():
    table = chip_scaling("multichip-hbm3", TRACE, chips=(1, 4, 16, 64), topologies=("ring", "switch"), stages=(1,))
    ring = table[table.topology == "ring"].set_index("chips")
    switch = table[table.topology == "switch"].set_index("chips")
    assert ring.speedup[1] == 1.0 and ring.speedup[4] > 2
    assert (switch.time_per_output_token_s <= ring.time_per_output_token_s * (1 + 1e-9)).all()
    assert ring.collective_share.is_monotonic_increasing
    assert ring.time_per_output_token_s[64] > ring.time_per_output_token_s[16]  # where a ring stops scaling
    assert (table.pipeline_stages == 1).all() and (table.tp_chips == table.chips).all()


def test_pipeline_stages_of_smaller_groups_beat_one_ring_of_64():
    table = chip_scaling("multichip-hbm3", TRACE, chips=(1, 4, 64), topologies=("ring",), stages=(1, 8))
    assert list(zip(table.chips, table.pipeline_stages)) == [(1, 1), (4, 1), (64, 1), (64, 8)]
    assert (table.tp_chips * table.pipeline_stages == table.chips).all()
    at64 = table[table.chips == 64].set_index("pipeline_stages")
    # a ring all-reduce over 64 chips costs more than the pipeline's idle stages: PP wins at 64
    assert at64.time_per_output_token_s[8] < at64.time_per_output_token_s[1]
    assert list(at64.best) == [False, True]
    assert (at64.collective_share[8] < at64.collective_share[1]) and at64.decode_bubble[8] > 0.8
    assert (table[table.pipeline_stages == 1][["prefill_bubble", "decode_bubble"]] == 0).all().all()
    assert table.groupby("chips").best.sum().ge(1).all()


def test_splits_that_cannot_be_built_are_left_out():
    tiny = build_trace("trilm-99m", Scenario(1, 16, 4))  # 16 decoder layers
    table = chip_scaling("multichip-hbm3", tiny, chips=(1, 8, 16), topologies=("torus2d",), stages=(1, 2, 3, 4))
    # a torus needs each stage's group to be two dimensions of >= 2 chips (not 8 / 4); 3 divides neither count
    assert list(zip(table.chips, table.pipeline_stages)) == [(1, 1), (8, 1), (8, 2), (16, 1), (16, 2), (16, 4)]
    # 32 stages cannot be cut from 16 layers
    assert list(chip_scaling("multichip-hbm3", tiny, chips=(32,), topologies=("ring",), stages=(16, 32)).pipeline_stages) == [16]
    assert chip_scaling("multichip-hbm3", tiny, chips=(7,), topologies=("torus2d",)).empty


def test_torus_leaves_out_counts_it_cannot_join_and_bad_input_is_refused():
    table = chip_scaling("multichip-hbm3", TRACE, chips=(1, 2, 4, 7), topologies=("torus2d",), stages=(1,))
    assert list(table.chips) == [1, 4]
    with pytest.raises(SpecError, match="chips = 0: must be an integer from 1 to 4096"):
        chip_scaling("multichip-hbm3", TRACE, chips=(0,))
    with pytest.raises(SpecError, match="pipeline_stages = 0: must be an integer from 1 to 4096"):
        chip_scaling("multichip-hbm3", TRACE, stages=(1, 0))
    with pytest.raises(SpecError, match="topology = 'mesh': must be one of ring, torus2d, switch"):
        chip_scaling("multichip-hbm3", TRACE, topologies=("mesh",))


def test_the_plot_draws_tensor_parallel_and_best_split_lines_per_topology():
    table = chip_scaling("edge-lpddr5", TRACE, chips=(1, 2), topologies=("ring", "switch"), stages=(1,))
    assert len(scaling_plot(table, "t").axes[0].get_lines()) == 2
    table = chip_scaling("edge-lpddr5", TRACE, chips=(1, 2), topologies=("ring", "switch"), stages=(1, 2))
    fig = scaling_plot(table, "t")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4 and [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    assert {t.get_text() for t in fig.axes[0].get_legend().get_texts()} >= {"ring: TP", "ring: best TP x PP"}
