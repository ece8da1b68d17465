"""GPU database: every card is valid and sourced; user TOML GPUs load; bad files are refused."""

import dataclasses
import tomllib

import pytest

from tritium.analysis.gpu import GPU_ALIASES, Gpu, gpu_to_toml, list_gpus, load_gpu, save_gpu
from tritium.base.errors import SpecError, TritiumError
from tritium.sim.chip_memory import DRAM_TYPES

ISSUE_CARDS = {"h100-sxm", "h100-pcie", "h200", "a100-80gb", "l4", "l40s", "rtx-4090", "rtx-3090",
               "jetson-agx-orin-64gb", "b200", "mi300x", "rtx-4000-sff-ada"}
GEFORCE = {"rtx-4090", "rtx-3090"}


def test_database_holds_the_issue_cards():
    assert set(list_gpus()) == ISSUE_CARDS


@pytest.mark.parametrize("name", sorted(ISSUE_CARDS))
def test_every_card_is_valid_and_sourced(name):
    gpu = load_gpu(name)
    assert gpu.name == name
    assert gpu.sources and all(s.startswith(("[V]", "[R]", "[E]")) for s in gpu.sources)
    # published ratios every NVIDIA tensor core since Ampere keeps: INT8 dense = 2x BF16 dense
    # (GeForce cards: 4x, since their BF16 rate is the FP32-accumulate half rate)
    ratio = gpu.int8_tops / gpu.bf16_tflops
    assert ratio == pytest.approx(4.0 if gpu.name in GEFORCE else 2.0, rel=0.02)
    assert 0 < gpu.idle_w < 0.25 * gpu.tdp_w
    if gpu.price_is_estimate:
        assert any("price" in s and s.startswith("[E]") for s in gpu.sources)
    if gpu.die_mm2 is None:
        assert any("die area not published" in s for s in gpu.sources)
    assert not any("shared/" "reference" in s for s in gpu.sources)  # cited inside the repository


def test_2026_cards_and_an_edge_gpu_with_die_data():
    b200, mi300x, edge = load_gpu("b200"), load_gpu("mi300x"), load_gpu("rtx-4000-sff-ada")
    assert (b200.bf16_tflops, b200.memory_bandwidth_gb_s, b200.mem_gb, b200.tdp_w) == (2250.0, 7700.0, 180.0, 1000.0)
    assert (mi300x.bf16_tflops, mi300x.mem_gb, mi300x.memory_type, mi300x.tdp_w) == (1307.4, 192.0, "HBM3", 750.0)
    assert edge.die_mm2 == 294.5 and edge.tdp_w == 70.0 and edge.memory_type == "GDDR6"


def test_reference_figures_of_h100_and_h200():
    h100, h200 = load_gpu("H100 SXM"), load_gpu("h200")
    assert (h100.bf16_tflops, h100.memory_bandwidth_gb_s, h100.mem_gb, h100.tdp_w, h100.die_mm2) == (
        989.4, 3352.0, 80.0, 700.0, 814.0)
    assert h200.bf16_tflops == h100.bf16_tflops and h200.memory_bandwidth_gb_s == 4800.0 and h200.mem_gb == 141.0


@pytest.mark.parametrize("alias", sorted(GPU_ALIASES))
def test_aliases_and_spelling(alias):
    assert load_gpu(alias).name == GPU_ALIASES[alias]
    assert load_gpu(alias.upper().replace("-", "_")).name == GPU_ALIASES[alias]


def test_user_gpu_round_trips_through_toml(tmp_path):
    mine = dataclasses.replace(load_gpu("rtx-4090"), name="my-card", tdp_w=300.0, price_usd=999.0,
                               sources=("[E] my own measurements",))
    path = save_gpu(mine, tmp_path / "my-card.toml")
    assert load_gpu(path) == mine
    assert load_gpu(str(path)) == mine
    assert tomllib.loads(gpu_to_toml(mine))["name"] == "my-card"


def _user_file(tmp_path, **changes):
    body = tomllib.loads(gpu_to_toml(load_gpu("l4")))
    body.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del body[key]
    import tomli_w

    path = tmp_path / "gpu.toml"
    path.write_text(tomli_w.dumps(body))
    return path


def test_unknown_key_is_refused(tmp_path):
    with pytest.raises(SpecError, match="hbm_stacks") as err:
        load_gpu(_user_file(tmp_path, hbm_stacks=5))
    assert str(tmp_path / "gpu.toml") in str(err.value)


@pytest.mark.parametrize("key, value, phrase", [
    ("tdp_w", -5.0, "tdp_w"),
    ("idle_w", 100.0, "idle_w"),
    ("interconnect", "infiniband", "interconnect"),
    ("sms", 0, "sms"),
    ("sources", [], "sources"),
    ("bf16_tflops", "fast", "bf16_tflops"),
    ("name", "My Card!", "name"),
])
def test_bad_values_are_refused(tmp_path, key, value, phrase):
    with pytest.raises(SpecError, match=phrase):
        load_gpu(_user_file(tmp_path, **{key: value}))


def test_missing_field_is_refused(tmp_path):
    with pytest.raises(SpecError, match="tdp_w"):
        load_gpu(_user_file(tmp_path, tdp_w=None))


@pytest.mark.parametrize("value", [None, "HBM9", "hbm3"])
def test_memory_type_is_required_and_named(tmp_path, value):
    """No default: the GPU's DRAM physics come from tritium.sim.dram by this key; the one error lists the types."""
    with pytest.raises(SpecError) as err:
        load_gpu(_user_file(tmp_path, memory_type=value))
    text = str(err.value)
    assert text.count("\n") == 0 and text.startswith("memory_type")
    assert all(t in text for t in DRAM_TYPES) and str(tmp_path / "gpu.toml") in text


@pytest.mark.parametrize("name", sorted(ISSUE_CARDS))
def test_every_card_names_its_memory_type_with_a_source(name):
    gpu = load_gpu(name)
    assert gpu.memory_type in DRAM_TYPES
    assert any(s.startswith("[V] memory_type " + gpu.memory_type + ":") for s in gpu.sources)


def test_interconnect_none_needs_zero_bandwidth():
    base = load_gpu("jetson-agx-orin-64gb")
    with pytest.raises(SpecError, match="interconnect_gb_s"):
        dataclasses.replace(base, interconnect_gb_s=10.0)
    with pytest.raises(SpecError, match="price_is_estimate"):
        dataclasses.replace(load_gpu("h200"), price_is_estimate=True)


def test_unknown_name_lists_the_database():
    with pytest.raises(TritiumError, match="unknown GPU 'b300'.*h100-sxm"):
        load_gpu("b300")


def test_gpu_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_gpu("l4").tdp_w = 1.0  # type: ignore[misc]
    assert isinstance(load_gpu("l4"), Gpu)


def test_docstring_examples():
    import doctest

    import tritium.analysis.gpu as facade
    import tritium.analysis.gpu.db as db

    for module in (facade, db):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0, module.__name__
