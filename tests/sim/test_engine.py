"""The fast engine gives the stock-SimPy model's timeline exactly, ties included."""

import random

import numpy as np
import pytest
import simpy

from tritium.sim import load_chip
from tritium.sim.engine import OpTiming, schedule_block, schedule_block_reference
from tritium.sim.simulate import _distinct_costs
from tritium.sim.work import placement_for
from tritium.workloads import Scenario, trace
from tritium.workloads.dataflow import dependencies

_UNITS = ("tlu", "attention", "vector", "dma")
_KINDS = ("ternary_linear", "dequantize", "rmsnorm", "quantize", "kv_write", "attn_qk", "linear")


def _random_block(rng: random.Random):
    """A block of up to 14 ops with durations of a few cycles (zeros included), so that
    many events fall on the same cycle and the order ties are broken in matters."""
    n = rng.randint(1, 14)
    hi = rng.choice([1, 2, 3, 5, 20])

    def cycles(p_zero: float) -> int:
        return 0 if rng.random() < p_zero else rng.randint(0, hi)

    ops = [OpTiming(rng.choice(_UNITS), cycles(0.1), cycles(0.5), cycles(0.5), cycles(0.7), rng.randint(1, 5))
           for _ in range(n)]
    if rng.random() < 0.5:
        deps = [rng.randint(-1, i - 1) for i in range(n)]
    else:
        deps = dependencies([rng.choice(_KINDS) for _ in range(n)])
    return ops, deps, rng.random() < 0.6


def _outcome(engine, ops, deps, double_buffered):
    try:
        s = engine(ops, deps, double_buffered=double_buffered)
    except RuntimeError as err:  # random dependencies can deadlock the in-order DMA queue: both must say so
        return str(err)
    assert s.start.dtype == s.end.dtype == np.int64
    return s.start.tolist(), s.end.tolist()


def _differences(blocks) -> int:
    return sum(_outcome(schedule_block, *b) != _outcome(schedule_block_reference, *b) for b in blocks)


def test_tie_heavy_random_blocks_give_the_reference_timeline():
    rng = random.Random(20240611)
    assert _differences([_random_block(rng) for _ in range(1500)]) == 0


def test_the_random_blocks_catch_a_changed_tie_break(monkeypatch):
    """The check above can fail: starting each write-back one same-cycle hop later than
    SimPy starts a process (a normal event instead of an urgent one) changes timelines."""
    import tritium.sim.engine as engine

    rng = random.Random(7)
    blocks = [_random_block(rng) for _ in range(400)]
    monkeypatch.setattr(engine, "URGENT", engine.NORMAL)
    assert _differences(blocks) > 20


@pytest.mark.parametrize("name", ["edge-lpddr5", "datacenter-hbm3", "lowcost-28nm", "fpga-proto", "multichip-hbm3"])
def test_every_block_run_of_a_real_trace_matches_the_reference(name):
    chip = load_chip(name)
    facts = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=64, decode=8)).facts
    placement = placement_for(chip, facts.ternary_weights, facts.kv_bytes)
    _, timings = _distinct_costs(chip, placement, facts, "latency", "bitnet")
    for plan in facts.blocks:
        for run in (plan.one, plan.two):
            if run is not None:
                ops = [timings[c] for c in run.codes]
                for db in (True, False):
                    fast = _outcome(schedule_block, ops, list(run.deps), db)
                    assert fast == _outcome(schedule_block_reference, ops, list(run.deps), db)
                    assert max(fast[1]) > 0


def test_the_private_simpy_fields_the_fast_engine_sets_still_exist():
    """The fast engine marks events processed through SimPy's private ``_ok``/``_value`` (pinned to
    SimPy 4.1.x in pyproject.toml); a SimPy that renamed them must fail here, loudly."""
    env = simpy.Environment()
    event = env.event()
    assert event._value is simpy.events.PENDING
    event.succeed(7)
    assert event._ok is True and event._value == 7
    assert simpy.__version__.startswith("4.1.")
