"""Iteration traces and the cached iteration costs against the full model."""

import pandas as pd
import pytest

from tritium.analysis.serving import serving_costs
from tritium.analysis.serving.costs import grid_points
from tritium.analysis.serving.iteration import IterationShape, iteration_trace
from tritium.base.errors import SpecError
from tritium.workloads import Scenario, load_model, trace

MODEL = "bitnet-b1.58-2b-4t"
COLS = ["layer", "op", "kind", "m", "k", "n", "groups", "causal", "kv_len", "macs", "elements", "weight_bytes",
        "act_in_bytes", "act_out_bytes", "kv_read_bytes", "kv_write_bytes"]


def test_a_prompt_alone_is_the_trace_generators_prefill_block():
    spec = load_model(MODEL)
    mine = iteration_trace(spec, [IterationShape(0, 0, ((300, 0),), 1)]).table
    ref = trace(MODEL, Scenario(1, 300, 1)).table
    ref = ref[ref.phase == "prefill"]
    pd.testing.assert_frame_equal(mine[COLS].reset_index(drop=True), ref[COLS].reset_index(drop=True))


def test_decode_group_counts_sum_the_contexts():
    spec = load_model(MODEL)
    t = iteration_trace(spec, [IterationShape(3, 100 + 200 + 301, (), 3)]).table
    qk = t[(t.op == "attn_qk") & (t.layer == 0)].iloc[0]
    assert qk.groups == 3 * spec.num_heads and qk.kv_len == 200
    assert qk.macs == spec.num_heads * spec.head_dim * 601
    head = t[t.op == "lm_head"].iloc[0]
    assert head.m == 3


def test_shapes_are_validated():
    with pytest.raises(SpecError, match="decode_context"):
        IterationShape(2, 1, (), 2)
    with pytest.raises(SpecError, match="logits"):
        IterationShape(1, 5, ((10, 0),), 3)
    with pytest.raises(SpecError, match="chunks"):
        IterationShape(0, 0, ((0, 5),), 0)
    with pytest.raises(SpecError, match="tokens"):
        IterationShape(0, 0, (), 0)


def test_grid_points_bracket():
    assert grid_points(10) == (10, 10, 0.0)
    lo, hi, w = grid_points(1000.5)
    assert lo <= 1000.5 <= hi and 0 <= w <= 1 and hi / lo < 1.07


@pytest.mark.parametrize("device", [dict(chip="edge-lpddr5"), dict(gpu="h100-sxm")])
def test_composed_costs_are_within_one_percent_of_the_full_model(device):
    costs = serving_costs(MODEL, **device)
    shapes = [IterationShape(17, 17 * 900, (), 17), IterationShape(40, 40 * 300, ((700, 0), (95, 0)), 42),
              IterationShape(5, 5 * 3000, ((256, 1024),), 5), IterationShape(0, 0, ((333, 0),), 1)]
    check = costs.check(shapes)
    assert check["checked"] == 4
    assert check["max_time_error"] < 0.01 and check["max_energy_error"] < 0.01
    # joules include the busy power over the pass
    seconds, joules = costs.cost(shapes[0])
    assert joules > costs.device.busy_w * seconds > 0


def test_doctests():
    import doctest

    import tritium.analysis.serving as serving

    result = doctest.testmod(serving)
    assert result.attempted > 0 and result.failed == 0
