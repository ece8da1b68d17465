"""The functional golden model: TLU arithmetic, BitNet quantizers, weight encodings, shared vectors."""

from __future__ import annotations

import dataclasses
import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tritium.base.errors import SpecError, TritiumError
from tritium.sim import golden, quantize, weight_encoding
from tritium.sim.chip_parts import TluSpec
from tritium.sim.golden import golden_vectors, ternary_matmul
from tritium.sim.quantize import dequantize, quantize_absmax, ternarize_absmean
from tritium.sim.weight_encoding import TRITS_PER_BYTE, decode_weights, encode_weights

DERANDOMIZED = settings(derandomize=True, database=None, deadline=None, max_examples=200)


def reference_tlu(acts: np.ndarray, weights: np.ndarray, tlu: TluSpec) -> tuple[np.ndarray, np.ndarray, bool]:
    """The TLU spelled out: zero-pad K, per slice sign-select and sum, add into a wrapping register."""
    a, w = acts.astype(np.int64), weights.astype(np.int64)
    pad = -a.shape[1] % tlu.width
    a, w = np.pad(a, ((0, 0), (0, pad))), np.pad(w, ((0, 0), (0, pad)))
    lo, hi = -(2 ** (tlu.acc_bits - 1)), 2 ** (tlu.acc_bits - 1) - 1
    acc = np.zeros((a.shape[0], w.shape[0]), dtype=np.int64)
    exact = np.zeros_like(acc)
    overflow = False
    for s in range(0, a.shape[1], tlu.width):
        x, t = a[:, None, s : s + tlu.width], w[None, :, s : s + tlu.width]
        tree = np.where(t == 1, x, np.where(t == -1, -x, 0)).sum(axis=-1)
        exact += tree
        overflow |= bool(((exact < lo) | (exact > hi)).any())
        acc = (acc + tree - lo) % 2**tlu.acc_bits + lo
    return acc, exact, overflow


@st.composite
def tlu_problems(draw) -> tuple[TluSpec, np.ndarray, np.ndarray]:
    width = 2 ** draw(st.integers(1, 4))
    act_bits = draw(st.integers(2, 9))
    tlu = TluSpec(rows=draw(st.integers(1, 8)), width=width, act_bits=act_bits,
                  acc_bits=act_bits + int(math.log2(width)) + 1 + draw(st.integers(0, 8)))
    m, n, k = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 70))
    half = 2 ** (act_bits - 1)
    acts = draw(hnp.arrays(np.int16, (m, k), elements=st.integers(-half, half - 1)))
    weights = draw(hnp.arrays(np.int8, (n, k), elements=st.integers(-1, 1)))
    return tlu, acts, weights


# --- ternary_matmul: values -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tlu", "m", "k", "n"),
    [
        (TluSpec(rows=64, width=64, acc_bits=24), 17, 2560, 300),  # K a multiple of width
        (TluSpec(rows=64, width=64, acc_bits=24), 5, 1000, 70),  # ragged last slice
        (TluSpec(rows=4, width=4096, acc_bits=32), 3, 100, 9),  # one partial slice
        (TluSpec(rows=8, width=16, acc_bits=20), 4, 3000, 33),  # narrow: checked slice by slice
        (TluSpec(rows=8, width=256, act_bits=16, acc_bits=48), 6, 3000, 20),  # sums past 2**24
        (TluSpec(rows=2, width=8, act_bits=12, acc_bits=64), 3, 500, 5),  # 64-bit register
    ],
)
def test_matches_an_int64_matmul_when_nothing_overflows(tlu, m, k, n):
    rng = np.random.default_rng(k + n)
    half = 2 ** (tlu.act_bits - 1)
    acts = rng.integers(-half, half, size=(m, k))
    weights = rng.integers(-1, 2, size=(n, k), dtype=np.int8)
    r = ternary_matmul(acts, weights, tlu)
    want = acts @ weights.astype(np.int64).T
    assert r.outputs.dtype == r.exact.dtype == np.int64
    assert np.array_equal(r.exact, want) and np.array_equal(r.outputs, want)
    assert not r.overflow and r.tlu is tlu
    assert r.slices == math.ceil(k / tlu.width) == tlu.dot_product_cycles(k) - tlu.pipeline_depth_cycles


@given(tlu_problems())
@DERANDOMIZED
def test_agrees_with_a_slice_by_slice_wrapping_register(problem):
    tlu, acts, weights = problem
    outputs, exact, overflow = reference_tlu(acts, weights, tlu)
    r = ternary_matmul(acts, weights, tlu, check_overflow=False)
    assert np.array_equal(r.outputs, outputs) and np.array_equal(r.exact, exact)
    assert r.overflow == overflow
    if overflow:
        with pytest.raises(SpecError, match="accumulator overflow"):
            ternary_matmul(acts, weights, tlu)
    else:
        assert np.array_equal(ternary_matmul(acts, weights, tlu).outputs, outputs)


def test_outputs_do_not_depend_on_row_tiling_or_zero_handling():
    rng = np.random.default_rng(3)
    acts = rng.integers(-128, 128, size=(4, 300))
    weights = rng.integers(-1, 2, size=(50, 300), dtype=np.int8)
    base = TluSpec(rows=16, width=32, acc_bits=20)
    full = ternary_matmul(acts, weights, base).outputs
    for tlu in (dataclasses.replace(base, rows=1), dataclasses.replace(base, rows=64, zero_handling="skip"),
                dataclasses.replace(base, levels_per_stage=5, weight_encoding="5trit")):
        assert np.array_equal(ternary_matmul(acts, weights, tlu).outputs, full)
    for lo in range(0, 50, 16):
        assert np.array_equal(ternary_matmul(acts, weights[lo : lo + 16], base).outputs, full[:, lo : lo + 16])


def test_result_is_frozen_and_read_only():
    r = ternary_matmul(np.ones((1, 3), dtype=np.int8), np.ones((2, 3), dtype=np.int8), TluSpec(rows=1, width=2))
    assert r.outputs.tolist() == [[3, 3]] and r.slices == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.overflow = True
    with pytest.raises(ValueError):
        r.outputs[0, 0] = 1


# --- ternary_matmul: accumulator overflow -------------------------------------------------

NARROW_TLUS = [
    TluSpec(rows=8, width=64, acc_bits=16),
    TluSpec(rows=1, width=64, acc_bits=15),  # = tree_sum_bits: one tree sum just fits
    TluSpec(rows=2, width=8, act_bits=4, acc_bits=8),
]


@pytest.mark.parametrize("tlu", NARROW_TLUS)
def test_worst_case_fits_at_max_reduction_length_and_overflows_one_term_later(tlu):
    k, half, bits = tlu.max_reduction_length, 2 ** (tlu.act_bits - 1), tlu.acc_bits
    r = ternary_matmul(np.full((2, k), -half), np.full((3, k), -1, dtype=np.int8), tlu)
    assert not r.overflow and (r.outputs == k * half).all() and (r.exact == k * half).all()

    acts, weights = np.full((2, k + 1), -half), np.full((3, k + 1), -1, dtype=np.int8)
    match = rf"^tlu\.acc_bits = {bits}: accumulator overflow: .* need acc_bits >= {bits + 1} "
    with pytest.raises(SpecError, match=match):
        ternary_matmul(acts, weights, tlu)
    r = ternary_matmul(acts, weights, tlu, check_overflow=False)
    assert (k + 1) * half == 2 ** (bits - 1)  # the first sum past the register's top
    assert r.overflow and (r.exact == 2 ** (bits - 1)).all() and (r.outputs == -(2 ** (bits - 1))).all()


@pytest.mark.parametrize("tlu", NARROW_TLUS)
def test_most_negative_sum_fits_one_term_further(tlu):
    k, half, bits = tlu.max_reduction_length + 1, 2 ** (tlu.act_bits - 1), tlu.acc_bits
    r = ternary_matmul(np.full((1, k), -half), np.ones((1, k), dtype=np.int8), tlu)
    assert not r.overflow and r.outputs[0, 0] == -(2 ** (bits - 1))
    acts, weights = np.full((1, k + 1), -half), np.ones((1, k + 1), dtype=np.int8)
    r = ternary_matmul(acts, weights, tlu, check_overflow=False)
    assert r.overflow and r.outputs[0, 0] == 2 ** (bits - 1) - half


def test_overflow_message_names_the_slice_the_sum_and_the_width_needed():
    tlu = TluSpec(rows=1, width=64, acc_bits=16)
    with pytest.raises(SpecError) as err:
        ternary_matmul(np.full((1, 300), -128), np.full((1, 300), -1, dtype=np.int8), tlu)
    assert isinstance(err.value, TritiumError) and err.value.key == "tlu.acc_bits"
    text = str(err.value)
    assert "after slice 4 of 5 is 32768, outside [-32768, 32767]; these inputs need acc_bits >= 17 " in text
    assert "any K <= 255 fits" in text and "check_overflow=False" in text


def test_an_overflow_that_wraps_back_is_still_reported():
    tlu = TluSpec(rows=1, width=2, acc_bits=10)  # [-512, 511]; one tree sum is at most 256
    weights = np.array([[1] * 6 + [-1] * 6], dtype=np.int8)
    r = ternary_matmul(np.full((1, 12), 127), weights, tlu, check_overflow=False)
    assert r.outputs[0, 0] == r.exact[0, 0] == 0 and r.overflow  # 762 after slice 3
    with pytest.raises(SpecError, match="after slice 3 of 6 is 762"):
        ternary_matmul(np.full((1, 12), 127), weights, tlu)


# --- ternary_matmul: bad input ----------------------------------------------------------

_ACTS, _W = np.zeros((2, 3), dtype=np.int8), np.zeros((4, 3), dtype=np.int8)


@pytest.mark.parametrize(
    ("acts", "weights", "match"),
    [
        (_ACTS, np.array([[0, 1, -1], [1, 0, 2]]), r"^weights\[1, 2\] = 2: must be a trit, .* -1 to 1"),
        (np.array([[0, 128, 0]]), _W, r"^acts\[0, 1\] = 128: must be a signed 8-bit activation .* -128 to 127$"),
        (np.array([[0, 0, -129]], dtype=np.int16), _W, r"^acts\[0, 2\] = -129: "),
        (_ACTS.astype(np.float32), _W, r"^acts\.dtype = 'float32': must be an integer dtype"),
        (_ACTS, _W.astype(bool), r"^weights\.dtype = 'bool': must be an integer dtype"),
        (np.zeros(3, dtype=np.int8), _W, r"^acts\.shape = \(3,\): must be \(M, K\)"),
        (np.zeros((0, 3), dtype=np.int8), _W, r"^acts\.shape = \(0, 3\): must be \(M, K\) with every side >= 1"),
        (_ACTS, np.zeros((4, 5), dtype=np.int8), r"^weights\.shape = \(4, 5\): must be \(N, K\) with K = 3"),
    ],
)
def test_bad_inputs_are_named(acts, weights, match):
    with pytest.raises(SpecError, match=match):
        ternary_matmul(acts, weights, TluSpec(rows=1, width=2))


def test_tlu_must_be_a_tlu_spec():
    with pytest.raises(SpecError, match=r"^tlu = 64: must be a TluSpec"):
        ternary_matmul(_ACTS, _W, 64)


# --- shared vectors ---------------------------------------------------------------------


def test_golden_vectors_cover_the_extremes():
    tlu = TluSpec(rows=4, width=8, acc_bits=16)
    cases = {c.name: c for c in golden_vectors(tlu, m=3, k=16, n=5, seed=7)}
    assert list(cases) == ["random", "extreme_random", "max_acts_plus_weights", "min_acts_minus_weights",
                           "min_acts_plus_weights", "alternating", "zero_weights", "ragged"]
    for c in cases.values():
        assert c.acts.dtype == np.int8 and c.weights.dtype == np.int8 and not c.acts.flags.writeable
        assert np.array_equal(c.result.exact, c.acts.astype(np.int64) @ c.weights.astype(np.int64).T)
        assert not c.result.overflow
    assert set(np.unique(cases["extreme_random"].acts)) == {-128, 127}
    assert (cases["max_acts_plus_weights"].result.outputs == 16 * 127).all()
    assert (cases["min_acts_minus_weights"].result.outputs == 16 * 128).all()
    assert (cases["min_acts_plus_weights"].result.outputs == -16 * 128).all()
    assert (cases["alternating"].result.outputs == 0).all()
    assert (cases["zero_weights"].result.outputs == 0).all()
    assert cases["ragged"].acts.shape == (3, 17) and cases["ragged"].result.slices == 3
    again = golden_vectors(tlu, m=3, k=16, n=5, seed=7)[0]
    assert np.array_equal(again.acts, cases["random"].acts)
    assert np.array_equal(again.weights, cases["random"].weights)


def test_golden_vectors_past_max_reduction_length_wrap():
    tlu = TluSpec(rows=1, width=8, act_bits=8, acc_bits=12)  # holds K <= 15
    cases = {c.name: c for c in golden_vectors(tlu, m=1, k=16, n=2, seed=0)}
    worst = cases["min_acts_minus_weights"].result
    assert worst.overflow and (worst.exact == 2048).all() and (worst.outputs == -2048).all()
    assert not cases["min_acts_plus_weights"].result.overflow and not cases["alternating"].result.overflow


@pytest.mark.parametrize(("key", "kwargs"), [("m", {"m": 0}), ("k", {"k": 1.5}), ("seed", {"seed": -1})])
def test_golden_vectors_reject_bad_sizes(key, kwargs):
    with pytest.raises(SpecError, match=rf"^{key} = "):
        golden_vectors(TluSpec(rows=1, width=2), **{"m": 1, "k": 1, "n": 1, **kwargs})


# --- quantization -----------------------------------------------------------------------


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3, max_side=40),
                  elements=st.floats(-1e4, 1e4, width=32)))
@DERANDOMIZED
def test_absmax_round_trip_is_within_half_a_step(x):
    q, scale = quantize_absmax(x)
    assert q.dtype == np.int8 and q.shape == x.shape
    assert scale.dtype == np.float32 and scale.shape == x.shape[:-1]
    top = np.maximum(np.abs(x).max(axis=-1, initial=0), 1e-5)
    step = top / 127
    assert (np.abs(q / scale[..., None].astype(np.float64) - x) <= (step / 2 * (1 + 1e-4))[..., None]).all()
    assert (np.abs(q) <= 127).all()
    rows = np.abs(x).max(axis=-1, initial=0) >= 1e-5  # each row's largest |x| becomes +-127
    assert (np.abs(q).max(axis=-1, initial=0)[rows] == 127).all()


def test_absmax_rounds_half_to_even_and_guards_zero_rows():
    q, scale = quantize_absmax(np.array([[2.0, 1.0, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]), bits=2)
    assert scale[0] == 0.5 and q.tolist() == [[1, 0, 0, 0], [0, 0, 0, 0]]  # 0.5 -> 0, -0.5 -> 0
    assert scale[1] == np.float32(1) / np.float32(1e-5)
    q, _ = quantize_absmax(np.array([-3.0, 1.0, 2.0]), bits=16)
    assert q.dtype == np.int16 and q.tolist() == [-32767, 10922, 21845]


@pytest.mark.parametrize(("x", "bits", "match"), [
    (np.array([[1.0, np.nan]]), 8, r"^x\[0, 1\] = nan: must be finite"),
    (np.array([1e39]), 8, r"^x\[0\] = inf: must be finite \(in float32\)"),
    (np.array(["a"]), 8, r"^x = .*: must be a real"),
    (np.float32(1.0), 8, r"^x = .*: must be a real .* at least one axis"),
    (np.ones(3), 1, r"^bits = 1: must be an integer from 2 to 16"),
])
def test_quantize_rejects_bad_input(x, bits, match):
    with pytest.raises(SpecError, match=match):
        quantize_absmax(x, bits)


def test_absmean_ternarization():
    trits, scale = ternarize_absmean(np.array([[0.5, -0.5, 2.0, 0.0], [0.3, -0.4, -3.0, 1.3]]))
    assert trits.dtype == np.int8 and scale == np.float32(1.0)
    assert trits.tolist() == [[0, 0, 1, 0], [0, 0, -1, 1]]  # 0.5 -> 0 (half to even)
    trits, scale = ternarize_absmean(np.zeros((2, 3)))
    assert scale == np.float32(1e-5) and not trits.any()


def test_ternary_linear_approximates_the_float_layer():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 640)) * rng.uniform(0.1, 10, (8, 1))
    trits, w_scale = ternarize_absmean(rng.standard_normal((96, 640)) * 0.02)
    q, a_scale = quantize_absmax(x)
    y = dequantize(ternary_matmul(q, trits, TluSpec(rows=32, width=64)).exact, a_scale, w_scale)
    want = x.astype(np.float32).astype(np.float64) @ (trits * np.float64(w_scale)).T
    # each |x_k| error is at most max|x| / 254, times |w_scale * trit| per term
    bound = np.abs(x).max(axis=1, keepdims=True) / 254 * w_scale * np.abs(trits).sum(axis=1) * (1 + 1e-4)
    assert y.dtype == np.float64 and (np.abs(y - want) <= bound).all()
    assert dequantize(np.array([[254, -127]]), np.array([127.0]), 0.5).tolist() == [[1.0, -0.5]]
    with pytest.raises(SpecError, match=r"^act_scale\.shape = \(2,\): must be acc\.shape\[:-1\] = \(1,\)"):
        dequantize(np.array([[1]]), np.ones(2), 1.0)


@pytest.mark.capture
def test_quantizers_match_transformers_bitnet():
    torch = pytest.importorskip("torch")
    bitnet = pytest.importorskip("transformers.integrations.bitnet")
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((256, 300)) * rng.uniform(1e-3, 1e3, (256, 1))).astype(np.float32)
    x[7] = 0
    q, scale = quantize_absmax(x)
    assert np.array_equal(bitnet.ActQuant.apply(torch.from_numpy(x)).numpy(), q / scale[:, None])
    w = (rng.standard_normal((64, 300)) * 0.02).astype(np.float32)
    trits, w_scale = ternarize_absmean(w)
    ref = bitnet.WeightQuant.apply(torch.from_numpy(w)).numpy()
    assert np.array_equal(np.sign(ref), trits) and np.allclose(np.abs(ref).max(), w_scale, rtol=1e-6)


# --- weight encodings -------------------------------------------------------------------


def test_known_bytes():
    assert encode_weights(np.array([1, -1, 0, 1]), "2bit").tolist() == [0b01_00_11_01]
    assert encode_weights(np.array([-1]), "2bit").tolist() == [0b11]  # pad trits are 0b00
    assert encode_weights(np.array([1, -1, 0, 1, 0]), "5trit").tolist() == [2 + 0 * 3 + 1 * 9 + 2 * 27 + 1 * 81]
    assert encode_weights(np.array([-1]), "5trit").tolist() == [0 + 3 + 9 + 27 + 81]  # pad digits are 1
    assert encode_weights(np.zeros((2, 0), dtype=np.int8), "2bit").shape == (2, 0)


@given(st.sampled_from(["2bit", "5trit"]),
       hnp.arrays(np.int8, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=23),
                  elements=st.integers(-1, 1)))
@DERANDOMIZED
def test_encode_follows_the_layout_and_decode_inverts_it(encoding, trits):
    per_byte = TRITS_PER_BYTE[encoding]
    packed = encode_weights(trits, encoding)
    k = trits.shape[-1]
    assert packed.dtype == np.uint8 and packed.shape == (*trits.shape[:-1], math.ceil(k / per_byte))
    for index in np.ndindex(trits.shape):
        byte, j = int(packed[(*index[:-1], index[-1] // per_byte)]), index[-1] % per_byte
        if encoding == "2bit":
            assert (byte >> 2 * j) & 3 == {0: 0b00, 1: 0b01, -1: 0b11}[int(trits[index])]
        else:
            assert byte // 3**j % 3 == trits[index] + 1
    decoded = decode_weights(packed, encoding, k)
    assert decoded.dtype == np.int8 and np.array_equal(decoded, trits)


@given(st.data(), st.sampled_from(["2bit", "5trit"]), st.integers(0, 30))
@DERANDOMIZED
def test_every_valid_byte_string_round_trips(data, encoding, nbytes):
    if encoding == "2bit":
        codes = data.draw(hnp.arrays(np.uint8, (nbytes, 4), elements=st.sampled_from([0, 1, 3])))
        packed = (codes << np.array([0, 2, 4, 6], dtype=np.uint8)).sum(axis=1, dtype=np.uint8)
    else:
        packed = data.draw(hnp.arrays(np.uint8, (nbytes,), elements=st.integers(0, 242)))
    trits = decode_weights(packed, encoding, nbytes * TRITS_PER_BYTE[encoding])
    assert np.array_equal(encode_weights(trits, encoding), packed)


@pytest.mark.parametrize("encoding", ["2bit", "5trit"])
def test_invalid_bytes_raise(encoding):
    for byte in range(256):
        invalid = any((byte >> s) & 3 == 0b10 for s in (0, 2, 4, 6)) if encoding == "2bit" else byte > 242
        packed = np.array([[0, 0], [0, byte]], dtype=np.uint8)
        if invalid:
            with pytest.raises(SpecError, match=rf"^packed\[1, 1\] = {byte}: is not a valid '{encoding}' byte"):
                decode_weights(packed, encoding, 2 * TRITS_PER_BYTE[encoding])
        else:
            decode_weights(packed, encoding, 2 * TRITS_PER_BYTE[encoding])


@pytest.mark.parametrize(
    ("packed", "encoding", "count", "match"),
    [
        (np.array([[0, 0], [0, 0b01_000000]], dtype=np.uint8), "2bit", 7,
         r"^packed\[1, 1\] = 64: .* padding trits \(after trit 7\) must be 0"),
        (encode_weights(np.array([0, 0, 0, 0, 1]), "5trit"), "5trit", 4, r"^packed\[0\] = 202: .* padding"),
        (np.zeros(3, dtype=np.uint8), "2bit", 8,
         r"^packed = 'uint8 array of shape \(3,\)': must be a uint8 array \(\.\.\., 2\)"),
        (np.zeros(1, dtype=np.int8), "2bit", 4, r"^packed = 'int8 array"),
        (np.zeros(1, dtype=np.uint8), "3trit", 4, r"^encoding = '3trit': must be one of '2bit', '5trit'"),
        (np.zeros(1, dtype=np.uint8), "2bit", -1, r"^count = -1: must be an integer >= 0"),
    ],
)
def test_decode_rejects_bad_input(packed, encoding, count, match):
    with pytest.raises(SpecError, match=match):
        decode_weights(packed, encoding, count)


def test_encode_rejects_non_trits():
    with pytest.raises(SpecError, match=r"^trits\[0, 1\] = -2: must be a trit"):
        encode_weights(np.array([[1, -2]]), "5trit")
    with pytest.raises(SpecError, match=r"^trits\.shape = \(\): must have at least one axis"):
        encode_weights(np.int8(1), "2bit")


@pytest.mark.parametrize("encoding", ["2bit", "5trit"])
def test_storage_matches_the_chip_bits_per_weight(encoding):
    tlu = TluSpec(rows=1, width=2, weight_encoding=encoding)
    packed = encode_weights(np.zeros((3, 40), dtype=np.int8), encoding)
    assert packed.size * 8 / (3 * 40) == tlu.weight_bits_per_weight


@pytest.mark.parametrize("module", [golden, quantize, weight_encoding])
def test_module_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted >= 3 and result.failed == 0
