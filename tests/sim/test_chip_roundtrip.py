"""Property: every valid chip survives TOML exactly (chip_to_toml, then load_chip)."""

from __future__ import annotations

import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from tritium.sim import (
    ATTENTION_UNITS,
    DRAM_TYPES,
    NODES_NM,
    VECTOR_PRECISIONS,
    WEIGHT_ENCODINGS,
    ZERO_HANDLING,
    AttentionSpec,
    BufferSpec,
    Chip,
    DmaSpec,
    DramSpec,
    LinkSpec,
    SramSpec,
    TluSpec,
    VectorSpec,
    chip_to_toml,
    load_chip,
    save_chip,
)
from tritium.base.specio import from_mapping

# Characters TOML must escape or encode, plus non-ASCII; an explicit alphabet also keeps
# Hypothesis from building (and caching) its Unicode tables.
TEXT = "aZ09 _-.#=[]{}'\"\\\n\t\r\x00\x1f\x7fé€😀"


def positive(hi: float = 1e6, lo: float = 0.0) -> st.SearchStrategy[float]:
    return st.floats(min_value=lo, max_value=hi, exclude_min=lo == 0.0, allow_nan=False, allow_infinity=False)


@st.composite
def tlus(draw) -> TluSpec:
    levels = draw(st.integers(1, 12))
    act_bits = draw(st.integers(2, 16))
    return TluSpec(
        rows=draw(st.integers(1, 4096)),
        width=2**levels,
        act_bits=act_bits,
        acc_bits=draw(st.integers(act_bits + levels + 1, 64)),
        levels_per_stage=draw(st.integers(1, levels)),
        zero_handling=draw(st.sampled_from(ZERO_HANDLING)),
        weight_encoding=draw(st.sampled_from(WEIGHT_ENCODINGS)),
        acc_per_tree=draw(st.integers(1, 64)),
    )


@st.composite
def attentions(draw) -> AttentionSpec:
    unit = draw(st.sampled_from(ATTENTION_UNITS))
    size = st.integers(1, 256) if unit == "mac_array" else st.just(0)
    mac_bits = draw(st.sampled_from((8, 16)))
    return AttentionSpec(unit=unit, mac_rows=draw(size), mac_cols=draw(size), mac_bits=mac_bits,
                         fused=draw(st.booleans()))


@st.composite
def buffers(draw) -> BufferSpec:
    banks = 2 ** draw(st.integers(0, 8))
    port_bits = 2 ** draw(st.integers(3, 12))
    unit_kib = max(1, banks * port_bits // 8 // 1024)  # smallest capacity with whole words per bank
    return BufferSpec(capacity_kib=unit_kib * draw(st.integers(1, 4096)), banks=banks, port_bits=port_bits)


@st.composite
def drams(draw) -> DramSpec:
    dram_type = draw(st.sampled_from(sorted(DRAM_TYPES)))
    return DramSpec(
        type=dram_type,
        channels=draw(st.integers(1, 64)),
        channel_bandwidth_gb_s=draw(positive(2 * DRAM_TYPES[dram_type].peak_channel_gb_s, lo=0.1)),
        energy_pj_per_bit=draw(positive(1e3)),
        latency_ns=draw(positive(1e5)),
        capacity_gib=draw(positive(65536.0)),
    )


links = st.builds(LinkSpec, phy=st.sampled_from(["serdes", "ucie-standard", "ucie-advanced"]),
                  bandwidth_gb_s=positive(1e5, lo=0.1), latency_ns=positive(1e6), energy_pj_per_bit=positive(1e3))


@st.composite
def chips(draw) -> Chip:
    n_chips = draw(st.integers(1, 64))
    stages = draw(st.sampled_from([d for d in range(1, n_chips + 1) if n_chips % d == 0]))
    return Chip(
        name=draw(st.text("abcxyz0189._-", min_size=1, max_size=24)),
        description=draw(st.text(TEXT, max_size=40)),
        node_nm=draw(st.sampled_from(NODES_NM)),
        clock_mhz=draw(st.floats(1.0, 5000.0, allow_nan=False)),
        cores=draw(st.integers(1, 256)),
        chips=n_chips,
        tlu=draw(tlus()),
        attention=draw(attentions()),
        vector=VectorSpec(
            lanes=draw(st.integers(1, 4096)), precision=draw(st.sampled_from(VECTOR_PRECISIONS))
        ),
        sram=SramSpec(weight=draw(buffers()), act=draw(buffers()), kv=draw(buffers())),
        dma=DmaSpec(
            engines=draw(st.integers(1, 64)),
            burst_bytes=2 ** draw(st.integers(4, 12)),
            setup_cycles=draw(st.integers(0, 10_000)),
            double_buffered=draw(st.booleans()),
        ),
        dram=draw(drams()),
        link=draw(links) if n_chips > 1 else None,
        pipeline_stages=stages,
        micro_batches=draw(st.integers(0, 4096)),
        dvfs=draw(st.booleans()),
        power_cap_w=draw(st.one_of(st.just(0.0), positive(1e5))),
        power_density_limit_w_per_mm2=draw(st.one_of(st.just(0.0), positive(10.0))),
    )


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(chips())
def test_every_valid_chip_round_trips_through_toml(chip):
    text = chip_to_toml(chip)
    again = from_mapping(Chip, tomllib.loads(text))
    assert again == chip
    assert chip_to_toml(again) == text


@settings(derandomize=True, database=None, deadline=None, max_examples=25)
@given(chips())
def test_saved_chips_load_back_equal(tmp_path_factory, chip):
    path = save_chip(chip, tmp_path_factory.mktemp("chips") / "chip.toml")
    assert load_chip(path) == chip
