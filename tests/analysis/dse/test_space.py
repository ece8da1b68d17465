"""Space files: parsing, ranges, derived parameters, and one clear error per mistake."""

from __future__ import annotations

import pytest

from tritium.analysis.dse import METRICS, load_space, param_paths, space_from_toml
from tritium.analysis.dse.evaluate import build_chip
from tritium.base.errors import SpecError, TritiumError
from tritium.sim import DRAM_TYPES, chip_to_toml, load_chip
from tritium.base.specio import to_mapping

HEAD = '''
name = "t"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4
'''


def space(params: str = "tlu.rows = [32, 64]", extra: str = ""):
    return space_from_toml(f"{HEAD}\n[params]\n{params}\n{extra}")


def test_lists_ranges_and_grid_size():
    s = space('tlu.rows = [16, 32]\nclock_mhz = { start = 500, stop = 1000, step = 250 }\n'
              'tlu.width = { start = 32, stop = 256, factor = 2 }\n"sram.kv.capacity_kib" = [512, 1024]\n'
              'dram.type = ["LPDDR5", "LPDDR5X"]')
    values = {p.path: p.values for p in s.params}
    assert values == {"tlu.rows": (16, 32), "clock_mhz": (500.0, 750.0, 1000.0), "tlu.width": (32, 64, 128, 256),
                      "sram.kv.capacity_kib": (512, 1024), "dram.type": ("LPDDR5", "LPDDR5X")}
    assert all(isinstance(v, float) for v in values["clock_mhz"])  # a float field is stored as float
    assert s.grid_size == 2 * 3 * 4 * 2 * 2
    assert [p.ordered for p in s.params] == [True, True, True, True, False]
    assert s.workloads[0].name == "trilm-99m/b1-p16-d4"
    assert s.search.strategy == "grid" and s.constraints == ()


def test_float_step_range_keeps_the_stop_value():
    s = space("clock_mhz = { start = 0.5, stop = 1.5, step = 0.1 }")
    assert s.params[0].values[-1] == 1.5 and len(s.params[0].values) == 11


def test_two_workloads_multiply_the_grid():
    s = space_from_toml(HEAD + '[[workload]]\nmodel = "trilm-99m"\nbatch = 4\nprefill = 8\ndecode = 2\n'
                        '[params]\ntlu.rows = [16, 32, 64]')
    assert s.grid_size == 6 and [w.batch for w in s.workloads] == [1, 4]


def test_every_scalar_chip_field_is_a_parameter():
    paths = param_paths()
    assert {"node_nm", "clock_mhz", "cores", "tlu.rows", "tlu.zero_handling", "tlu.weight_encoding",
            "sram.weight.capacity_kib", "dram.channels", "dram.type", "attention.size"} <= set(paths)
    assert "name" not in paths and "description" not in paths
    assert paths["tlu.rows"] is int and paths["clock_mhz"] is float and paths["dram.type"] is str
    assert paths["dma.double_buffered"] is bool


def test_dram_type_sets_bandwidth_and_energy_unless_varied():
    base = to_mapping(load_chip("edge-lpddr5"))
    chip = build_chip(base, {"dram.type": "LPDDR5X"}, "x")
    assert chip.dram.channel_bandwidth_gb_s == DRAM_TYPES["LPDDR5X"].peak_channel_gb_s
    assert chip.dram.energy_pj_per_bit == 0.0  # the DRAM model's figures for the new type
    mine = build_chip({**base, "dram": {**base["dram"], "energy_pj_per_bit": 9.0}}, {"dram.type": "LPDDR5X"}, "x")
    assert mine.dram.energy_pj_per_bit == 0.0  # a figure for the old type does not follow to the new one
    chip = build_chip(base, {"dram.type": "LPDDR5X", "dram.channel_bandwidth_gb_s": 40.0}, "x")
    assert chip.dram.channel_bandwidth_gb_s == 40.0
    assert base["dram"]["type"] == "LPDDR5"  # the base is not modified


def test_attention_size_is_a_square_array_or_the_vector_unit():
    base = to_mapping(load_chip("edge-lpddr5"))
    chip = build_chip(base, {"attention.size": 8}, "x")
    assert (chip.attention.unit, chip.attention.mac_rows, chip.attention.mac_cols) == ("mac_array", 8, 8)
    chip = build_chip(base, {"attention.size": 0}, "x")
    assert (chip.attention.unit, chip.attention.macs) == ("vector", 0)


def test_gib_per_channel_makes_capacity_follow_the_channels():
    base = to_mapping(load_chip("datacenter-hbm3"))
    chip = build_chip(base, {"dram.channels": 6, "dram.gib_per_channel": 16.0}, "x")
    assert (chip.dram.channels, chip.dram.capacity_gib) == (6, 96.0)
    chip = build_chip(base, {"dram.gib_per_channel": 24.0}, "x")  # the base's 5 stacks
    assert chip.dram.capacity_gib == 120.0
    dc = load_space("datacenter-70b")  # the shipped space: 4-8 stacks of 16 GiB
    assert {p.path: p.values for p in dc.params}["dram.gib_per_channel"] == (16.0,)
    four, eight = (build_chip(to_mapping(dc.base), {"dram.channels": c, "dram.gib_per_channel": 16.0}, "y")
                   for c in (4, 8))
    assert (four.dram.capacity_gib, eight.dram.capacity_gib) == (64.0, 128.0)


def test_build_chip_rejects_an_invalid_combination():
    base = to_mapping(load_chip("edge-lpddr5"))
    with pytest.raises(SpecError, match="tlu.levels_per_stage"):
        build_chip(base, {"tlu.width": 2}, "x")  # 1 adder level, 2 levels per stage


def test_base_chip_from_a_file_relative_to_the_space(tmp_path):
    chip = load_chip("edge-lpddr5")
    (tmp_path / "chips").mkdir()
    (tmp_path / "chips" / "mine.toml").write_text(chip_to_toml(chip))
    (tmp_path / "s.toml").write_text(HEAD.replace('"edge-lpddr5"', '"chips/mine.toml"') + "[params]\ncores = [1, 2]")
    s = load_space(tmp_path / "s.toml")
    assert s.base == chip and s.source == str(tmp_path / "s.toml")


def test_digest_follows_what_the_results_depend_on():
    assert space().digest == space().digest
    assert space().digest != space("tlu.rows = [32, 128]").digest
    assert space().digest != space(extra="[constraints]\nmax_area_mm2 = 5.0").digest
    # comments, the description, objectives and the search do not change a stored point
    same = f"# a comment\ndescription = 'x'\n{HEAD}".replace('"joules_per_token"]', '"area_mm2"]')
    assert space_from_toml(same + "\n[params]\ntlu.rows = [32, 64]\n[search]\nstrategy = 'guided'").digest \
        == space().digest
    other = space_from_toml(f"{HEAD}\n[params]\ntlu.rows = [32, 64]", base=load_chip("lowcost-28nm"))
    assert other.digest != space().digest


def test_constraints_search_and_three_objectives():
    s = space_from_toml(HEAD.replace('"joules_per_token"]', '"joules_per_token", "cost_usd"]')
                        + '[params]\ntlu.rows = [32]\n[constraints]\nmax_area_mm2 = 30\nmin_tokens_per_s = 5.5\n'
                          '[search]\nstrategy = "guided"\nsamples = 10\nseed = 3\nmax_evaluations = 50')
    assert s.objectives == ("tokens_per_s", "joules_per_token", "cost_usd")
    assert [(c.key, c.bound) for c in s.constraints] == [("max_area_mm2", 30.0), ("min_tokens_per_s", 5.5)]
    assert s.constraints[0].satisfied(30.0) and not s.constraints[0].satisfied(30.1)
    assert not s.constraints[1].satisfied(float("nan"))
    assert (s.search.strategy, s.search.samples, s.search.seed, s.search.max_evaluations) == ("guided", 10, 3, 50)
    assert s.with_search(strategy="random").search.strategy == "random"


BAD = [
    # (params, extra tables, top-level replacement, the dotted key the message must name)
    ("tlu.rowz = [1]", "", None, "params.tlu.rowz"),
    ("tlu.rows = 32", "", None, "params.tlu.rows"),
    ("tlu.rows = []", "", None, "params.tlu.rows"),
    ("tlu.rows = [32, 32]", "", None, "params.tlu.rows"),
    ("tlu.rows = [32, 1.5]", "", None, "params.tlu.rows[1]"),
    ('clock_mhz = ["fast"]', "", None, "params.clock_mhz[0]"),
    ("tlu.zero_handling = [1]", "", None, "params.tlu.zero_handling[0]"),
    ("clock_mhz = { start = 1000, stop = 500, step = 250 }", "", None, "params.clock_mhz.stop"),
    ("clock_mhz = { start = 500, stop = 1000, step = 0 }", "", None, "params.clock_mhz.step"),
    ("clock_mhz = { start = 500, stop = 1000 }", "", None, "params.clock_mhz"),
    ("clock_mhz = { start = 500, stop = 1000, step = 1, factor = 2 }", "", None, "params.clock_mhz"),
    ("clock_mhz = { start = 500, stop = 1000, factor = 1 }", "", None, "params.clock_mhz.factor"),
    ("clock_mhz = { start = 500, stop = 1000, stepp = 1 }", "", None, "params.clock_mhz.stepp"),
    ("tlu.rows = { start = 1, stop = 100000, step = 1 }", "", None, "params.tlu.rows"),
    ('dram.type = { start = "a", stop = "b", step = 1 }', "", None, "params.dram.type"),
    ("attention.size = [-8]", "", None, "params.attention.size"),
    ("attention.size = [8]\nattention.mac_rows = [4]", "", None, "params.attention.size"),
    ("dram.gib_per_channel = [0]", "", None, "params.dram.gib_per_channel"),
    ("dram.gib_per_channel = [16]\ndram.capacity_gib = [64]", "", None, "params.dram.gib_per_channel"),
    ("name = ['x']", "", None, "params.name"),
    ("tlu.rows = [32]", "[constraints]\nmax_speed = 3", None, "constraints.max_speed"),
    ("tlu.rows = [32]", "[constraints]\nmax_area_mm2 = 'big'", None, "constraints.max_area_mm2"),
    ("tlu.rows = [32]", "[search]\nstrategy = 'anneal'", None, "search.strategy"),
    ("tlu.rows = [32]", "[search]\nsamples = 0", None, "search.samples"),
    ("tlu.rows = [32]", "[search]\nbudget = 3", None, "search.budget"),
    ("tlu.rows = [32]", "", ("objectives = [\"tokens_per_s\", \"joules_per_token\"]", "objectives = [\"tokens_per_s\"]"),
     "objectives"),
    ("tlu.rows = [32]", "", ("\"joules_per_token\"]", "\"speed\"]"), "objectives[1]"),
    ("tlu.rows = [32]", "", ("name = \"t\"", "name = \"Bad Name\""), "name"),
    ("tlu.rows = [32]", "", ("name = \"t\"", "name = \"t\"\ncolour = 1"), "colour"),
    ("tlu.rows = [32]", "", ("prefill = 16", "prefill = 16\nsteps = 3"), "workload[0].steps"),
    ("tlu.rows = [32]", "", ("prefill = 16", "prefill = 0"), "workload[0].prefill"),
]


@pytest.mark.parametrize(("params", "extra", "swap", "key"), BAD)
def test_each_mistake_is_one_error_naming_its_key(params, extra, swap, key):
    text = f"{HEAD}\n[params]\n{params}\n{extra}"
    if swap:
        assert swap[0] in text
        text = text.replace(swap[0], swap[1], 1)
    with pytest.raises(SpecError) as err:
        space_from_toml(text, source="s.toml")
    assert err.value.key == key
    assert "(in s.toml)" in str(err.value)


def test_unknown_key_lists_what_is_allowed():
    with pytest.raises(SpecError, match="allowed: .*tlu.rows"):
        space("tlu.rowz = [1]")


def test_missing_sections_and_unknown_names():
    with pytest.raises(SpecError, match="params: missing"):
        space_from_toml(HEAD)
    with pytest.raises(SpecError, match="workload"):
        space_from_toml('name = "t"\nbase = "edge-lpddr5"\nobjectives = ["tokens_per_s", "area_mm2"]\n'
                        '[params]\ncores = [1]')
    with pytest.raises(TritiumError, match="base chip 'nope'"):
        space_from_toml(HEAD.replace('"edge-lpddr5"', '"nope"') + "[params]\ncores = [1]")
    with pytest.raises(TritiumError, match="trilm-9"):
        space_from_toml(HEAD.replace('"trilm-99m"', '"trilm-9"') + "[params]\ncores = [1]")
    with pytest.raises(TritiumError, match="malformed TOML"):
        space_from_toml("name = ")
    with pytest.raises(TritiumError):
        load_space("/nonexistent/space.toml")


def test_metrics_have_a_direction():
    maximised = ("tokens_per_s", "capacity_rps", "goodput_per_w", "goodput_per_dollar")
    assert all(METRICS[k].direction == "max" for k in maximised)
    assert all(m.direction == "min" for k, m in METRICS.items() if k not in maximised)
