"""Cycle functions of each unit: exact counts of the chip template."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.sim import AttentionSpec, TluSpec, VectorSpec
from tritium.sim.cycles import (
    expected_skip_slices, mac_array_cycles, tlu_cycles, tlu_cycles_skip, transfer_cycles, vector_cycles,
)
from tritium.workloads.stats import modelled_stats, nnz_histogram

TLU = TluSpec(rows=8, width=16, acc_bits=24, levels_per_stage=2)


def test_tlu_single_pass_is_the_dot_product_latency():
    for k in (1, 15, 16, 17, 100):
        assert tlu_cycles(TLU, 1, k, 8) == TLU.dot_product_cycles(k)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 300), n=st.integers(1, 70), cores=st.integers(1, 5))
def test_tlu_cycles_formula_and_roofline(m, k, n, cores):
    cycles = tlu_cycles(TLU, m, k, n, cores=cores)
    passes = m * math.ceil(math.ceil(n / TLU.rows) / cores)
    assert cycles == passes * math.ceil(k / TLU.width) + TLU.pipeline_depth_cycles
    # never faster than the MACs at the TLUs' peak rate
    assert cycles >= m * k * n / (TLU.rows * TLU.width * cores)


@settings(derandomize=True, max_examples=60, deadline=None)
@given(m=st.integers(1, 6), n=st.integers(1, 50), k=st.integers(1, 200), cores=st.integers(1, 3), data=st.data())
def test_skip_never_slower_than_dense(m, n, k, cores, data):
    nnz = np.array(data.draw(st.lists(st.integers(0, k), min_size=n, max_size=n)))
    assert tlu_cycles_skip(TLU, m, nnz, cores=cores) <= tlu_cycles(TLU, m, k, n, cores=cores)


def test_skip_counts_the_densest_row_of_each_tile():
    tlu = TluSpec(rows=2, width=4, acc_bits=16)
    # tiles: rows (0,1) -> max 9 -> 3 slices; rows (2,3) -> max 4 -> 1 slice; row 4 alone -> 0 -> 1 slice
    assert tlu_cycles_skip(tlu, 3, np.array([9, 2, 4, 0, 0])) == 3 * (3 + 1 + 1) + tlu.pipeline_depth_cycles


def test_expected_skip_slices_from_histogram_matches_sampling():
    tlu = TluSpec(rows=64, width=64, acc_bits=24)
    stats = modelled_stats(6912, 2560)
    expected = expected_skip_slices(tlu, stats.nnz_lo, stats.nnz_hi, stats.nnz_hist)
    rng = np.random.default_rng(0)
    rows = rng.binomial(2560, 1 - stats.zero_frac, size=(4000, 64))
    sampled = np.maximum(1, -(-rows.max(axis=1) // 64)).mean()
    assert expected == pytest.approx(sampled, abs=0.1)
    assert expected <= math.ceil(2560 / 64)
    lo, hi, hist = nnz_histogram(np.full(100, 2560))
    assert expected_skip_slices(tlu, lo, hi, hist) == pytest.approx(40.0)


def test_mac_array_dense_causal_and_decode():
    att = AttentionSpec(unit="mac_array", mac_rows=4, mac_cols=4)
    fill = 4 + 4 - 1
    assert mac_array_cycles(att, 8, 16, 8, 1) == 2 * 2 * 16 + fill
    # causal Q K^T: row tile 0 needs key tile 0 only, row tile 1 needs both
    assert mac_array_cycles(att, 8, 16, 8, 1, causal="n") == (1 + 2) * 16 + fill
    # causal P V: row tile 0 reduces over 4 keys, row tile 1 over 8
    assert mac_array_cycles(att, 8, 8, 16, 1, causal="k") == 4 * (4 + 8) + fill
    # decode (M=1 < rows): outputs packed 16 at a time; kv grows per step
    kv = np.array([10, 11, 12])
    assert mac_array_cycles(att, 1, 8, kv, 3) == 3 * (1 + 1 + 1) * 8 + fill


def test_vector_and_transfer_cycles():
    vec = VectorSpec(lanes=8)
    assert vector_cycles(vec, "rmsnorm", 100) == math.ceil(400 / 8)
    assert vector_cycles(vec, "residual", 100, cores=2) == math.ceil(100 / 16)
    assert transfer_cycles(0, 10.0, burst_bytes=64, latency_cycles=50) == 0
    assert transfer_cycles(65, 16.0, burst_bytes=64, latency_cycles=5) == 128 // 16 + 5


def test_a_linear_on_the_mac_array_splits_its_outputs_over_every_core():
    """One group (a linear layer such as the LM head) no longer runs on one core of many."""
    from tritium.sim import load_chip
    from tritium.sim.cycles import mac_array_cycles

    att = load_chip("multichip-hbm3").attention
    fill = att.mac_rows + att.mac_cols - 1
    one = mac_array_cycles(att, 8, 8192, 128256, 1, cores=1) - fill
    for cores in (4, 16, 64):
        split = mac_array_cycles(att, 8, 8192, 128256, 1, cores=cores) - fill
        assert one / cores <= split <= one / cores * 1.05  # N split evenly, tiles rounded up per core
    # with at least as many groups as cores, groups are split as before
    assert mac_array_cycles(att, 8, 128, 128, 64, cores=16) - fill == 4 * (mac_array_cycles(att, 8, 128, 128, 1) - fill)
