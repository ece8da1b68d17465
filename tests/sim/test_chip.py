"""The chip description: presets, TOML load/save, and errors that name key, value and what is allowed."""

from __future__ import annotations

import copy
import dataclasses
import doctest
import tomllib
from importlib import resources
from pathlib import Path

import pytest
import tomli_w

import tritium.sim.chip
from tritium.base.errors import SpecError, TritiumError
from tritium.sim import (
    Chip,
    DramSpec,
    LinkSpec,
    chip_to_toml,
    list_presets,
    load_chip,
    preset,
    save_chip,
)
from tritium.base.specio import from_mapping, to_mapping

REQUIRED_PRESETS = ("edge-lpddr5", "datacenter-hbm3", "lowcost-28nm", "fpga-proto")


def write_chip(tmp_path: Path, data: dict, name: str = "chip.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def edited(base: str, key: str, value: object) -> dict:
    """The TOML mapping of preset ``base`` with dotted ``key`` set to ``value`` (None: removed)."""
    data = copy.deepcopy(to_mapping(preset(base)))
    *parents, last = key.split(".")
    table = data
    for part in parents:
        table = table.setdefault(part, {})
    if value is None:
        del table[last]
    else:
        table[last] = value
    return data


# --- presets ---------------------------------------------------------------------------


def test_required_presets_are_listed():
    names = list_presets()
    assert set(REQUIRED_PRESETS) <= set(names)
    assert names == sorted(names)


@pytest.mark.parametrize("name", list_presets())
def test_preset_loads_and_round_trips_exactly(name, tmp_path):
    chip = load_chip(name)
    assert isinstance(chip, Chip)
    assert chip.name == name
    assert load_chip(name.upper()) == chip
    assert preset(name) is chip  # presets are parsed once
    path = save_chip(chip, tmp_path / f"{name}.toml")
    assert path == tmp_path / f"{name}.toml"
    again = load_chip(path)
    assert again == chip
    assert load_chip(str(path)) == chip
    assert chip_to_toml(again) == chip_to_toml(chip)


@pytest.mark.parametrize("name", list_presets())
def test_preset_file_starts_with_a_sourced_header(name):
    text = resources.files("tritium.sim").joinpath("presets", f"{name}.toml").read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert text.startswith(f"# {name}: ")
    assert any("source" in line for line in header)  # names where its numbers come from (docs/sources.md)
    assert not any("shared/" in line or "hdl_toolchain.md" in line for line in header)  # nothing outside the repo
    assert any("stimate" in line for line in header)  # estimates are marked as such


def test_saved_toml_has_one_table_per_part():
    text = chip_to_toml(preset("multichip-hbm3"))
    for table in ("[tlu]", "[attention]", "[vector]", "[sram.weight]", "[sram.act]", "[sram.kv]",
                  "[dma]", "[dram]", "[link]"):
        assert f"\n{table}\n" in text
    assert text.startswith("# ")
    assert "[link]" not in chip_to_toml(preset("edge-lpddr5"))


def test_save_chip_creates_folders_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "out" / "deeper" / "chip.toml"
    save_chip(preset("fpga-proto"), target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["chip.toml"]


def test_preset_values_match_their_descriptions():
    edge = preset("edge-lpddr5")
    assert (edge.node_nm, edge.dram.type, edge.dram.channels) == (7, "LPDDR5", 2)
    assert edge.dram.bandwidth_gb_s == pytest.approx(102.4)
    fpga = preset("fpga-proto")
    assert (fpga.node_nm, fpga.clock_mhz, fpga.tlu.rows, fpga.tlu.width) == (40, 100.0, 8, 64)
    assert fpga.attention.unit == "vector" and fpga.attention.macs == 0
    assert fpga.sram.total_kib <= 468  # LFE5U-85F block RAM
    assert fpga.dram.bandwidth_gb_s == pytest.approx(1.6)
    datacenter = preset("datacenter-hbm3")
    assert datacenter.dram.type == "HBM3" and datacenter.cores > 1
    assert datacenter.dram_capacity_bytes > 17.5e9  # a 70B model at 2 bits/weight fits
    assert datacenter.tlu.max_reduction_length >= 28672  # Llama-70B FFN down-projection
    assert preset("lowcost-28nm").node_nm == 28


# --- derived values ---------------------------------------------------------------------


def test_derived_chip_values():
    edge = preset("edge-lpddr5")
    assert edge.peak_tlu_macs_per_s == 64 * 64 * 1e9
    assert edge.weight_sram_bytes == 2048 * 1024
    multi = preset("multichip-hbm3")
    assert multi.total_cores == 16
    assert multi.peak_tlu_macs_per_s == 16 * 128 * 256 * 1.5e9
    assert multi.weight_sram_bytes == 16 * 4096 * 1024
    assert multi.dram_capacity_bytes == 4 * 32 * 2**30
    assert multi.link == LinkSpec(bandwidth_gb_s=200.0, latency_ns=500.0, energy_pj_per_bit=5.0)


def test_chip_is_frozen_and_replace_revalidates():
    chip = preset("edge-lpddr5")
    with pytest.raises(dataclasses.FrozenInstanceError):
        chip.cores = 2
    assert dataclasses.replace(chip, cores=4).total_cores == 4
    with pytest.raises(SpecError, match=r"^link: missing; required when chips = 2"):
        dataclasses.replace(chip, chips=2)


def test_float_fields_are_stored_as_floats():
    dram = DramSpec(type="LPDDR5", channels=1, channel_bandwidth_gb_s=51, energy_pj_per_bit=4,
                    latency_ns=100, capacity_gib=8)
    assert type(dram.channel_bandwidth_gb_s) is float and dram.channel_bandwidth_gb_s == 51.0
    chip = dataclasses.replace(preset("edge-lpddr5"), clock_mhz=800, dram=dram)
    assert type(chip.clock_mhz) is float
    assert from_mapping(Chip, tomllib.loads(chip_to_toml(chip))) == chip


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("clock_mhzz", "name, description, node_nm, clock_mhz, cores, chips, tlu, attention"),
        ("tlu.rowz", "rows, width, act_bits, acc_bits, levels_per_stage, zero_handling, weight_encoding"),
        ("sram.weight.size_kib", "capacity_kib, banks, port_bits"),
        ("sram.l2", "weight, act, kv"),
    ],
)
def test_unknown_key_names_the_dotted_key_and_the_allowed_keys(tmp_path, key, allowed):
    path = write_chip(tmp_path, edited("edge-lpddr5", key, 1))
    with pytest.raises(SpecError) as info:
        load_chip(path)
    message = str(info.value)
    assert info.value.key == key
    assert message.startswith(f"{key} = 1: unknown key; allowed keys here: {allowed}")
    assert str(path) in message


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("tlu.rows", 0, "tlu.rows = 0: must be an integer from 1 to 65536"),
        ("tlu.rows", -4, "tlu.rows = -4: must be an integer from 1 to 65536"),
        ("tlu.rows", "64", "tlu.rows = '64': must be an integer"),
        ("tlu.width", 48, "tlu.width = 48: must be a power of two from 2 to 4096"),
        ("tlu.width", 8192, "tlu.width = 8192: must be an integer from 2 to 4096"),
        ("tlu.acc_bits", 14, "tlu.acc_bits = 14: must be an integer from 15 to 64: one tree sum needs "
                             "act_bits + log2(width) + 1 = 8 + 6 + 1 bits"),
        ("tlu.act_bits", 1, "tlu.act_bits = 1: must be an integer from 2 to 16"),
        ("tlu.levels_per_stage", 7, "tlu.levels_per_stage = 7: must be an integer from 1 to 6"),
        ("tlu.zero_handling", "all", "tlu.zero_handling = 'all': must be one of 'none', 'gate', 'skip'"),
        ("tlu.weight_encoding", "1.58bit", "tlu.weight_encoding = '1.58bit': must be one of '2bit', '5trit'"),
        ("clock_mhz", -1, "clock_mhz = -1.0: must be a number from 1 to 5000"),
        ("clock_mhz", 6000, "clock_mhz = 6000.0: must be a number from 1 to 5000"),
        ("node_nm", 10, "node_nm = 10: must be one of 45, 40, 28, 22, 16, 12, 7, 5, 3"),
        ("name", "Edge Chip", "name = 'Edge Chip': must be a non-empty string of a-z, 0-9"),
        ("name", "", "name = '': must be a non-empty string"),
        ("cores", 0, "cores = 0: must be an integer from 1 to 4096"),
        ("chips", 2, "link: missing; required when chips = 2 (> 1): add a [link] table"),
        ("attention.mac_rows", 0, "attention.mac_rows = 0: must be an integer from 1 to 4096"),
        ("attention.mac_bits", 4, "attention.mac_bits = 4: must be one of 8, 16"),
        ("attention.unit", "vector", "attention.mac_rows = 16: must be 0 when unit = 'vector'"),
        ("attention.unit", "systolic", "attention.unit = 'systolic': must be one of 'mac_array', 'vector'"),
        ("vector.precision", "fp8", "vector.precision = 'fp8': must be one of 'fp16', 'bf16', 'fp32'"),
        ("sram.weight.banks", 3, "sram.weight.banks = 3: must be a power of two >= 1"),
        ("sram.act.port_bits", 4, "sram.act.port_bits = 4: must be an integer from 8 to 4096"),
        ("sram.kv.capacity_kib", 0, "sram.kv.capacity_kib = 0: must be an integer from 1 to 1048576"),
        ("dma.burst_bytes", 8, "dma.burst_bytes = 8: must be an integer from 16 to 4096"),
        ("dma.setup_cycles", -1, "dma.setup_cycles = -1: must be an integer from 0 to 1000000"),
        ("dma.double_buffered", "yes", "dma.double_buffered = 'yes': must be true or false"),
        ("dram.type", "DDR9", "dram.type = 'DDR9': must be one of 'LPDDR4X', 'LPDDR5', 'LPDDR5X', 'DDR3'"),
        ("dram.type", "lpddr5", "dram.type = 'lpddr5': must be one of"),
        ("dram.channels", 0, "dram.channels = 0: must be an integer from 1 to 64"),
        ("dram.channel_bandwidth_gb_s", 409.6, "dram.channel_bandwidth_gb_s = 409.6: must be a number > 0 and "
                                               "<= 102.4 for LPDDR5 (twice the fastest published 51.2 GB/s "
                                               "per 64-bit channel)"),
        ("dram.energy_pj_per_bit", -1, "dram.energy_pj_per_bit = -1.0: must be a number from 0 to 1000"),
        ("dram.latency_ns", "fast", "dram.latency_ns = 'fast': must be a number"),
        ("dram.capacity_gib", -8, "dram.capacity_gib = -8.0: must be a number > 0"),
        ("tlu.rows", None, "tlu.rows: missing; required (an integer)"),
        ("dram", None, "dram: missing; required (a table)"),
        ("tlu", 5, "tlu = 5: must be a table"),
    ],
)
def test_impossible_values_name_key_value_and_what_is_allowed(tmp_path, key, value, message):
    path = write_chip(tmp_path, edited("edge-lpddr5", key, value))
    with pytest.raises(SpecError) as info:
        load_chip(path)
    assert str(info.value).startswith(message)
    assert str(info.value).endswith(f"(in {path})")


def test_a_link_on_a_single_chip_is_rejected(tmp_path):
    link = {"bandwidth_gb_s": 100.0, "latency_ns": 500.0, "energy_pj_per_bit": 5.0}
    data = edited("edge-lpddr5", "link", link)
    with pytest.raises(SpecError, match=r"^link = LinkSpec\(.*\): must be absent when chips = 1"):
        load_chip(write_chip(tmp_path, data))


def test_a_multichip_system_with_a_link_loads(tmp_path):
    data = edited("edge-lpddr5", "chips", 2)
    data["link"] = {"bandwidth_gb_s": 100, "latency_ns": 500, "energy_pj_per_bit": 5}
    chip = load_chip(write_chip(tmp_path, data))
    assert chip.chips == 2 and chip.link.bandwidth_gb_s == 100.0


def test_malformed_toml_is_a_one_line_error_naming_the_path(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[tlu\nrows = 4\n', encoding="utf-8")
    with pytest.raises(TritiumError) as info:
        load_chip(path)
    assert not isinstance(info.value, SpecError)
    assert str(path) in str(info.value) and "malformed TOML" in str(info.value)
    assert "\n" not in str(info.value)


def test_duplicate_keys_are_malformed_toml(tmp_path):
    text = chip_to_toml(preset("edge-lpddr5")).replace("cores = 1\n", "cores = 1\ncores = 2\n")
    path = tmp_path / "dup.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TritiumError, match="malformed TOML"):
        load_chip(path)


@pytest.mark.parametrize("spec", ["foo", "no/such/chip.toml", Path("no-such.toml"), 42, ["edge-lpddr5"]])
def test_unknown_chip_lists_the_presets(spec):
    with pytest.raises(TritiumError) as info:
        load_chip(spec)
    message = str(info.value)
    assert message.startswith(f"unknown chip '{spec}': not a preset (")
    assert message.endswith(") and no such TOML file")
    for name in list_presets():
        assert name in message


def test_unknown_chip_suggests_close_presets():
    with pytest.raises(TritiumError, match=r"no such TOML file; did you mean edge-lpddr5(, edge-lut, edge-mac)?\?$"):
        load_chip("edge")
    with pytest.raises(TritiumError, match=r"did you mean datacenter-hbm3\?$"):
        load_chip("datacenter-hbm")


def test_a_folder_is_not_a_chip_file(tmp_path):
    with pytest.raises(TritiumError, match="unknown chip"):
        load_chip(tmp_path)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(TritiumError, match=r"^unknown chip preset 'edge'; presets: datacenter-hbm3, edge-lpddr5"):
        preset("edge")


def test_a_chip_passes_through_and_a_preset_name_wins_over_a_file(tmp_path, monkeypatch):
    chip = preset("fpga-proto")
    assert load_chip(chip) is chip
    monkeypatch.chdir(tmp_path)
    Path("fpga-proto").write_text("not toml [", encoding="utf-8")
    assert load_chip("fpga-proto") is chip


def test_module_examples_run():
    result = doctest.testmod(tritium.sim.chip)
    assert result.attempted >= 3 and result.failed == 0
