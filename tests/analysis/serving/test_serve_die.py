"""Serving runs on the die simulate runs on: clock refused past fmax, DVFS energy, overhead leakage."""

from __future__ import annotations

import dataclasses

import pytest

from tritium.analysis.serving import serve
from tritium.base.errors import SpecError
from tritium.sim import load_chip

RUN = dict(rate=0.5, n_requests=12, prompt="64", output="8", seed=3)


def test_a_clock_past_fmax_is_refused_by_serve_as_by_simulate():
    fast = dataclasses.replace(load_chip("edge-lpddr5"), clock_mhz=5000.0)
    with pytest.raises(SpecError, match=r"clock_mhz = 5000.*above the"):
        serve("trilm-99m", chip=fast, **RUN)


def test_dvfs_at_a_slow_clock_serves_the_same_stream_on_less_energy():
    slow = dataclasses.replace(load_chip("edge-lpddr5"), clock_mhz=400.0)
    nominal = serve("trilm-99m", chip=slow, **RUN).summary
    scaled = serve("trilm-99m", chip=dataclasses.replace(slow, dvfs=True), **RUN).summary
    assert scaled["ttft_s"]["p50"] == pytest.approx(nominal["ttft_s"]["p50"])  # same clock, same times
    assert scaled["joules_per_token"] < nominal["joules_per_token"]
