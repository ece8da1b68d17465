"""The chip parts: TLU arithmetic (accumulator width, pipeline depth, cycles) and part-level checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.base.errors import SpecError
from tritium.sim import DRAM_TYPES, AttentionSpec, BufferSpec, DmaSpec, DramSpec, SramSpec, TluSpec, preset

DERANDOMIZED = settings(derandomize=True, database=None, deadline=None, max_examples=300)


@st.composite
def tlus(draw) -> TluSpec:
    width = 2 ** draw(st.integers(1, 12))
    act_bits = draw(st.integers(2, 16))
    levels = int(math.log2(width))
    acc_bits = draw(st.integers(act_bits + levels + 1, 64))
    return TluSpec(rows=draw(st.integers(1, 512)), width=width, act_bits=act_bits, acc_bits=acc_bits,
                   levels_per_stage=draw(st.integers(1, levels)))


# --- accumulator ------------------------------------------------------------------------


def test_max_reduction_length_is_exact_for_a_24_bit_accumulator():
    tlu = TluSpec(rows=1, width=64, act_bits=8, acc_bits=24)
    k = tlu.max_reduction_length
    assert k == (2**23 - 1) // 128 == 65535
    assert k * 128 <= 2**23 - 1 < (k + 1) * 128


@pytest.mark.parametrize(("acc_bits", "dtype"), [(16, np.int16), (32, np.int32)])
def test_max_reduction_length_matches_a_wrapping_numpy_accumulator(acc_bits, dtype):
    # Worst case: every weight -1 times activation -128, summed in an acc_bits register.
    k = TluSpec(rows=1, width=64, acc_bits=acc_bits).max_reduction_length
    terms = np.full(k + 1, 128, dtype=np.int64)
    wrapped = np.cumsum(terms).astype(dtype)  # what an acc_bits register would hold
    assert wrapped[k - 1] == k * 128  # K terms fit
    assert wrapped[k] < 0  # K + 1 terms overflow
    assert np.cumsum(-terms).astype(dtype)[k - 1] == -k * 128  # the negative worst case fits too


@DERANDOMIZED
@given(tlus())
def test_max_reduction_length_is_the_largest_k_that_fits(tlu):
    k, term, top = tlu.max_reduction_length, 2 ** (tlu.act_bits - 1), 2 ** (tlu.acc_bits - 1) - 1
    assert k * term <= top < (k + 1) * term
    assert k == 2 ** (tlu.acc_bits - tlu.act_bits) - 1
    assert k >= tlu.width  # one full slice always fits
    tlu.check_reduction_length(k)
    with pytest.raises(SpecError, match=rf"K = {k + 1} needs acc_bits >= {tlu.acc_bits + 1}$"):
        tlu.check_reduction_length(k + 1)


@DERANDOMIZED
@given(st.integers(2, 16), st.integers(4, 2**48))
def test_check_reduction_length_names_the_narrowest_accumulator_that_fits(act_bits, k):
    tlu = TluSpec(rows=1, width=2, act_bits=act_bits, acc_bits=act_bits + 2)
    assert tlu.max_reduction_length == 3
    with pytest.raises(SpecError) as info:
        tlu.check_reduction_length(k)
    needed = int(str(info.value).rsplit(">= ", 1)[1])

    def holds(acc_bits: int) -> int:
        return (2 ** (acc_bits - 1) - 1) // 2 ** (act_bits - 1)

    assert holds(needed - 1) < k <= holds(needed)


def test_check_reduction_length_names_both_numbers():
    tlu = TluSpec(rows=4, width=64, acc_bits=24)
    tlu.check_reduction_length(65535)
    with pytest.raises(SpecError, match=r"^tlu\.acc_bits = 24: too narrow for a dot product of length "
                                        r"K = 65536: holds K <= 65535 .* needs acc_bits >= 25$"):
        tlu.check_reduction_length(65536)


def test_acc_bits_must_hold_one_tree_sum():
    # 64 inputs of [-128, 128] sum to [-8192, 8192]: 15 signed bits (the RTL's signed(9 + log2 N)).
    assert TluSpec(rows=1, width=64, acc_bits=15).tree_sum_bits == 15
    with pytest.raises(SpecError, match=r"^acc_bits = 14: must be an integer from 15 to 64"):
        TluSpec(rows=1, width=64, acc_bits=14)


# --- pipeline and cycles ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "levels_per_stage", "adder_stages", "depth"),
    [(64, 1, 6, 8), (64, 2, 3, 5), (64, 4, 2, 4), (64, 6, 1, 3), (2, 1, 1, 3), (256, 3, 3, 5)],
)
def test_pipeline_depth_is_sign_select_plus_adder_stages_plus_accumulator(
    width, levels_per_stage, adder_stages, depth
):
    tlu = TluSpec(rows=1, width=width, levels_per_stage=levels_per_stage)
    assert tlu.adder_stages == adder_stages
    assert tlu.pipeline_depth_cycles == depth == 1 + adder_stages + 1


def test_dot_product_cycles_are_slices_plus_depth():
    tlu = preset("fpga-proto").tlu  # width 64, depth 8
    assert tlu.pipeline_depth_cycles == 8
    assert tlu.dot_product_cycles(1) == 1 + 8
    assert tlu.dot_product_cycles(64) == 1 + 8
    assert tlu.dot_product_cycles(65) == 2 + 8
    assert tlu.dot_product_cycles(2560) == 40 + 8
    with pytest.raises(SpecError, match=r"^K = 0: must be an integer >= 1"):
        tlu.dot_product_cycles(0)


def test_weight_bits_per_weight():
    assert TluSpec(rows=1, width=8).weight_bits_per_weight == 2.0
    assert TluSpec(rows=1, width=8, weight_encoding="5trit").weight_bits_per_weight == 1.6


# --- other parts ------------------------------------------------------------------------


def test_buffer_banks_hold_whole_words():
    buffer = BufferSpec(capacity_kib=128, banks=2, port_bits=512)
    assert (buffer.capacity_bytes, buffer.words_per_bank, buffer.bits_per_cycle) == (131072, 1024, 1024)
    with pytest.raises(SpecError, match=r"^capacity_kib = 3: must be a multiple of banks \* port_bits / 8 "
                                        r"= 4 \* 4096 / 8 = 2048 bytes"):
        BufferSpec(capacity_kib=3, banks=4, port_bits=4096)


def test_parts_reject_wrong_python_types():
    with pytest.raises(SpecError, match=r"^weight = 5: must be a BufferSpec"):
        SramSpec(weight=5, act=BufferSpec(capacity_kib=1), kv=BufferSpec(capacity_kib=1))
    with pytest.raises(SpecError, match=r"^rows = True: must be an integer from 1 to 65536"):
        TluSpec(rows=True, width=8)
    with pytest.raises(SpecError, match=r"^mac_rows = False: must be 0 when unit = 'vector'"):
        AttentionSpec(unit="vector", mac_rows=False)
    with pytest.raises(SpecError, match=r"^mac_bits = 8.0: must be an integer"):
        AttentionSpec(unit="vector", mac_bits=8.0)
    with pytest.raises(SpecError, match=r"^double_buffered = 1: must be true or false"):
        DmaSpec(engines=1, double_buffered=1)


def test_attention_on_the_vector_unit_has_no_macs():
    assert AttentionSpec(unit="vector").macs == 0
    assert AttentionSpec(unit="mac_array", mac_rows=16, mac_cols=8).macs == 128


@pytest.mark.parametrize("dram_type", sorted(DRAM_TYPES))
def test_every_dram_type_accepts_its_published_figure_and_rejects_a_unit_mistake(dram_type):
    peak = DRAM_TYPES[dram_type].peak_channel_gb_s
    fields = dict(type=dram_type, channels=2, energy_pj_per_bit=4.0, latency_ns=100.0, capacity_gib=16.0)
    assert DramSpec(channel_bandwidth_gb_s=peak, **fields).bandwidth_gb_s == 2 * peak
    assert DramSpec(channel_bandwidth_gb_s=2 * peak, **fields).channel_bandwidth_gb_s == 2 * peak
    expected = rf"^channel_bandwidth_gb_s = .*: must be a number > 0 and <= {2 * peak:g} for {dram_type} \(twice"
    with pytest.raises(SpecError, match=expected):
        DramSpec(channel_bandwidth_gb_s=8 * peak, **fields)


def test_dram_capacity_bytes():
    dram = DramSpec(type="DDR3", channels=1, channel_bandwidth_gb_s=1.6, energy_pj_per_bit=30.0,
                    latency_ns=150.0, capacity_gib=0.5)
    assert dram.capacity_bytes == 2**29
