"""Collectives between chips and tensor-parallel semantics in the simulator."""

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.base.errors import SpecError
from tritium.sim import load_chip, simulate
from tritium.sim.collectives import collective, torus_dims
from tritium.workloads import Scenario, trace

MULTI = load_chip("multichip-hbm3")


def test_ring_all_reduce_is_the_textbook_formula():
    c = collective("all_reduce", 8e6, 8, bandwidth_gb_s=100, latency_s=2e-6, efficiency=0.8, algorithm="ring")
    assert c.steps == 14 and c.algorithm == "ring"
    assert c.seconds == pytest.approx(14 * (2e-6 + 1e6 / 80e9))
    assert c.bytes_sent == pytest.approx(2 * 7 / 8 * 8e6)
    gather = collective("all_gather", 8e6, 8, bandwidth_gb_s=100, latency_s=2e-6, algorithm="ring")
    assert gather.steps == 7 and gather.seconds == pytest.approx(c.seconds / 2)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(n=st.floats(1e2, 1e9), p=st.integers(2, 128), topology=st.sampled_from(["ring", "switch"]))
def test_auto_is_the_faster_and_nothing_beats_the_bounds(n, p, topology):
    kw = dict(bandwidth_gb_s=50, latency_s=1e-6, topology=topology)
    ring = collective("all_reduce", n, p, algorithm="ring", **kw)
    tree = collective("all_reduce", n, p, algorithm="tree", **kw)
    auto = collective("all_reduce", n, p, **kw)
    assert auto.seconds == min(ring.seconds, tree.seconds)
    # latency bound: at least log2(p) one-hop latencies; bandwidth bound: 2 (p-1)/p of the message
    assert auto.seconds >= math.ceil(math.log2(p)) * 1e-6 * (1 - 1e-12)
    assert auto.seconds >= 2 * (p - 1) / p * n / 40e9 * (1 - 1e-12)


def test_tree_beats_ring_for_small_messages_on_a_switch_not_on_a_long_ring():
    small = dict(bandwidth_gb_s=200, latency_s=500e-9)
    assert collective("all_reduce", 16384, 64, topology="switch", **small).algorithm == "tree"
    ring_topo = collective("all_reduce", 16384, 64, topology="ring", algorithm="tree", **small)
    switch = collective("all_reduce", 16384, 64, topology="switch", algorithm="tree", **small)
    assert ring_topo.seconds > 5 * switch.seconds


def test_torus_dims_and_a_topology_that_does_not_match_the_chips():
    assert torus_dims(16) == (4, 4) and torus_dims(8) == (2, 4) and torus_dims(12, 3) == (3, 4)
    with pytest.raises(SpecError, match=r"chips = 7 is not"):
        torus_dims(7)
    link = dataclasses.replace(MULTI.link, topology="torus2d", dims_x=3)
    with pytest.raises(SpecError, match=r"link.dims_x = 3: must divide chips = 4"):
        dataclasses.replace(MULTI, link=link)
    with pytest.raises(SpecError, match=r"topology = 'mesh': must be one of"):
        dataclasses.replace(MULTI.link, topology="mesh")


def test_norms_are_replicated_and_every_token_pays_its_collectives():
    t = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=32, decode=8))
    one_chip = dataclasses.replace(MULTI, chips=1, link=None)
    multi, single = simulate(MULTI, t).ops, simulate(one_chip, t).ops
    norms = multi.op == "attn_norm"
    # the same work on each chip's 4 cores, not split over all 16
    assert (multi.compute_cycles[norms].to_numpy() == single.compute_cycles[norms].to_numpy()).all()
    assert (multi.energy_vector_j[norms].to_numpy() > 3.9 * single.energy_vector_j[norms].to_numpy()).all()
    # two all-reduces per decoder layer plus the LM head's all-gather, each at least its latency
    decode = multi[multi.phase == "decode"]
    reduced = decode[decode.link_cycles > 0]
    assert len(reduced) == 2 * 30 + 1
    hop = math.ceil(MULTI.link.latency_ns * MULTI.clock_mhz / 1e3)
    assert (reduced.cycles >= reduced.steps * 2 * hop).all()
