"""Sweeps with serving objectives: a point gets capacity_rps, goodput_per_w and goodput_per_dollar."""

import math

from tritium.analysis.dse.evaluate import eval_context, evaluate_batch, point_id
from tritium.analysis.dse.search import GridSearch
from tritium.analysis.dse.space import space_from_toml

SPACE = '''
name = "serve-t"
base = "edge-lpddr5"
objectives = ["capacity_rps", "goodput_per_w"]
[[workload]]
model = "trilm-99m"
batch = 8
prefill = 64
decode = 8
[params]
tlu.rows = [32, 64]
'''


def test_serving_objectives_are_computed_per_point_and_only_when_asked():
    space = space_from_toml(SPACE)
    ctx = eval_context(space)
    assert ctx.serving
    points = GridSearch(space).next_wave()
    paths = [p.path for p in space.params]
    records = evaluate_batch(ctx, [(point_id(paths, pt), pt) for pt in points])
    caps = []
    for r in records:
        m = r["metrics"]
        assert r["status"] == "ok", r["error"]
        assert m["capacity_rps"] > 0 and m["goodput_per_w"] > 0
        assert m["goodput_per_dollar"] == m["capacity_rps"] / m["cost_usd"]
        caps.append(m["capacity_rps"])
    assert caps[1] >= caps[0] * 0.95  # twice the adder trees serve at least as much
    plain = eval_context(space_from_toml(SPACE.replace('["capacity_rps", "goodput_per_w"]',
                                                       '["tokens_per_s", "joules_per_token"]')))
    assert not plain.serving
    record = evaluate_batch(plain, [(point_id(paths, points[0]), points[0])])[0]
    assert math.isnan(record["metrics"]["capacity_rps"])
