"""A space's workload may set the activation sparsity its traces use (act_zero)."""

from __future__ import annotations

import pytest

from tritium.analysis.dse import load_space
from tritium.base.errors import SpecError

SPACE = '''
name = "az"
base = "edge-mac"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "bitnet-b1.58-2b-4t"
prefill = 16
decode = 4
{act_zero}
[params]
tlu.zero_act = ["none", "skip"]
'''


def _space(tmp_path, act_zero: str):
    path = tmp_path / "space.toml"
    path.write_text(SPACE.format(act_zero=act_zero))
    return load_space(path)


def test_act_zero_reaches_the_workloads_trace(tmp_path):
    (given,) = _space(tmp_path, "act_zero = { down_proj = 0.9 }").workloads
    (default,) = _space(tmp_path, "").workloads
    assert given.act_zero == (("down_proj", 0.9),) and default.act_zero == ()
    assert given.name != default.name  # the label says which
    down = given.trace().table
    down = down[down.op == "down_proj"]
    assert (down.act_zero_frac == 0.9).all()
    other = default.trace().table
    assert (other[other.op == "down_proj"].act_zero_frac != 0.9).all()


@pytest.mark.parametrize("text, needle", [
    ("act_zero = { down_proj = 1.5 }", "must be a number from 0 to below 1"),
    ("act_zero = { nope = 0.5 }", "unknown key"),
    ("act_zero = 0.5", "must be a table of projection = zero fraction"),
])
def test_bad_act_zero_names_the_workload_key(tmp_path, text, needle):
    with pytest.raises(SpecError, match=r"workload\[0\]\.act_zero") as info:
        _space(tmp_path, text)
    assert needle in str(info.value)
