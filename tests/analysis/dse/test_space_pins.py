"""Pins of the space loader: every built-in space's parsed form and grid points, and the exact
error text of bad spaces, stored in ``space_pins.json`` beside this file.

The pins were written once, before the loader was rebuilt on :mod:`tritium.base.specio` and split
into modules, so the rebuild is checked to change nothing a sweep depends on. The suite only
reads the file; after a deliberate change (a clearer error message, say), rewrite it with::

    .venv/bin/python tests/analysis/dse/test_space_pins.py --write

and review the diff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import pytest

PINS = Path(__file__).with_name("space_pins.json")

HEAD = '''name = "t"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4
'''
PARAMS = "[params]\ntlu.rows = [32, 64]\n"

BAD_SPACES = {
    # unknown keys
    "unknown_top_key": "colour = 'blue'\n" + HEAD + PARAMS,
    "unknown_workload_key": HEAD + "batchsize = 2\n" + PARAMS,
    "unknown_search_key": HEAD + PARAMS + "[search]\nstratgy = 'grid'\n",
    "unknown_deployment_key": HEAD + PARAMS + "[deployment]\nregoin = 'world'\n",
    "unknown_range_key": HEAD + "[params]\nclock_mhz = { start = 500, stop = 1000, stride = 250 }\n",
    "unknown_constraint": HEAD + PARAMS + "[constraints]\nmax_speed = 3.0\n",
    "unknown_chip_parameter": HEAD + "[params]\ntlu.rowz = [32, 64]\n",
    # wrong types
    "name_not_a_string": HEAD.replace('name = "t"', "name = 3") + PARAMS,
    "description_not_a_string": "description = 1\n" + HEAD + PARAMS,
    "value_wrong_type": HEAD + "[params]\ntlu.rows = [32, 'x']\n",
    "bool_param_wrong_type": HEAD + "[params]\ndma.double_buffered = [1, 0]\n",
    "float_param_nan": HEAD + "[params]\nclock_mhz = [500.0, nan]\n",
    "ternarize_wrong_type": HEAD + "ternarize = 'yes'\n" + PARAMS,
    "batch_wrong_type": HEAD + "batch = 'x'\n" + PARAMS,
    "samples_wrong_type": HEAD + PARAMS + "[search]\nsamples = 'many'\n",
    "samples_too_many": HEAD + PARAMS + "[search]\nsamples = 100001\n",
    "band_out_of_range": HEAD + PARAMS + "[search]\nband = 0.9\n",
    "strategy_unknown": HEAD + PARAMS + "[search]\nstrategy = 'annealing'\n",
    "constraint_wrong_type": HEAD + PARAMS + "[constraints]\nmax_power_w = 'low'\n",
    "constraint_inf": HEAD + PARAMS + "[constraints]\nmax_power_w = inf\n",
    "objectives_one": HEAD.replace('objectives = ["tokens_per_s", "joules_per_token"]',
                                   'objectives = ["tokens_per_s"]') + PARAMS,
    "objective_unknown": HEAD.replace('"joules_per_token"]', '"speed"]') + PARAMS,
    "kv_dtype_unknown": HEAD + "kv_dtype = 'int4'\n" + PARAMS,
    "mapping_objective_unknown": HEAD + "mapping_objective = 'area'\n" + PARAMS,
    "act_zero_not_a_table": HEAD + "act_zero = 0.5\n" + PARAMS,
    "act_zero_bad_fraction": HEAD + "act_zero = { down_proj = 1.5 }\n" + PARAMS,
    "deployment_volume_zero": HEAD + PARAMS + "[deployment]\nvolume = 0\n",
    "deployment_nre_wrong_type": HEAD + PARAMS + "[deployment]\nnre_usd = 'lots'\n",
    "deployment_pue_low": HEAD + PARAMS + "[deployment]\npue = 0.5\n",
    "deployment_region_unknown": HEAD + PARAMS + "[deployment]\nregion = 'mars'\n",
    "deployment_not_a_table": HEAD.replace('name = "t"', 'name = "t"\ndeployment = 3') + PARAMS,
    # bad axes
    "params_missing": HEAD,
    "params_empty_list": HEAD + "[params]\ntlu.rows = []\n",
    "params_scalar": HEAD + "[params]\ntlu.rows = 32\n",
    "params_repeated_value": HEAD + "[params]\ntlu.rows = [32, 32]\n",
    "range_step_and_factor": HEAD + "[params]\ntlu.rows = { start = 16, stop = 64, step = 16, factor = 2 }\n",
    "range_no_stop": HEAD + "[params]\ntlu.rows = { start = 16, step = 16 }\n",
    "range_backwards": HEAD + "[params]\ntlu.rows = { start = 64, stop = 16, step = 16 }\n",
    "range_zero_step": HEAD + "[params]\nclock_mhz = { start = 500, stop = 1000, step = 0 }\n",
    "range_factor_one": HEAD + "[params]\ntlu.rows = { start = 16, stop = 64, factor = 1 }\n",
    "range_too_long": HEAD + "[params]\ntlu.rows = { start = 1, stop = 100000, step = 1 }\n",
    "range_of_strings": HEAD + "[params]\ndram.type = { start = 1, stop = 2, step = 1 }\n",
    "attention_size_negative": HEAD + "[params]\nattention.size = [-8, 8]\n",
    "gib_per_channel_zero": HEAD + "[params]\ndram.gib_per_channel = [0.0, 16.0]\n",
    "attention_size_with_unit": HEAD + "[params]\nattention.size = [8]\nattention.unit = ['vector']\n",
    "gib_per_channel_with_capacity": HEAD + "[params]\ndram.gib_per_channel = [16.0]\ndram.capacity_gib = [32.0]\n",
    "workload_scenario_empty_list": HEAD.replace("decode = 4", "decode = []") + PARAMS,
    "workload_names_repeat": HEAD + '[[workload]]\nmodel = "trilm-99m"\nprefill = 16\ndecode = 4\n' + PARAMS,
    "workload_missing": 'name = "t"\nbase = "edge-lpddr5"\nobjectives = ["tokens_per_s", "area_mm2"]\n' + PARAMS,
    "base_missing": HEAD.replace('base = "edge-lpddr5"\n', "") + PARAMS,
    "base_unknown": HEAD.replace('"edge-lpddr5"', '"nope"') + PARAMS,
    "model_unknown": HEAD.replace('"trilm-99m"', '"trilm-9"') + PARAMS,
    # malformed TOML
    "malformed_toml": HEAD + "[params\ntlu.rows = [32, 64]\n",
    "duplicate_key": HEAD + PARAMS + "tlu.rows = [16]\n",
}
"""Bad space texts, each with one mistake (loaded from a folder where relative paths lead nowhere)."""


def _json_value(value: object) -> object:
    """A JSON form that keeps int and float apart (``500`` vs ``500.0``) and tuples as lists."""
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def space_pin(name: str) -> dict:
    """What a built-in space parses to, and a hash of every grid point it expands to."""
    from tritium.analysis.dse import load_space
    from tritium.analysis.dse.evaluate import point_id
    from tritium.analysis.dse.search import GridSearch, random_points
    from tritium.sim import chip_to_toml

    space = load_space(name)
    paths = [p.path for p in space.params]
    strategy = GridSearch(space)
    points = hashlib.sha256()
    count = 0
    while wave := strategy.next_wave():
        for point in wave:
            points.update(json.dumps({"id": point_id(paths, point), "workload": point.workload,
                                      "params": _json_value(point.params(paths))}, sort_keys=True).encode())
            count += 1
    sample = random_points(space, 5, seed=1)
    return {
        "name": space.name,
        "description": space.description,
        "base_source": space.base_source,
        "base_sha256": hashlib.sha256(chip_to_toml(space.base).encode()).hexdigest(),
        "params": [{"path": p.path, "values": _json_value(p.values), "ordered": p.ordered} for p in space.params],
        "workloads": [_json_value(dataclasses.asdict(w)) for w in space.workloads],
        "constraints": [[c.metric, c.kind, _json_value(c.bound), c.key] for c in space.constraints],
        "objectives": list(space.objectives),
        "search": _json_value(dataclasses.asdict(space.search)),
        "deployment": _json_value(dataclasses.asdict(space.deployment)),
        "grid_size": space.grid_size,
        "digest": space.digest,
        "points": count,
        "points_sha256": points.hexdigest(),
        "random_sample": [[p.workload, _json_value(p.params(paths))] for p in sample],
    }


def error_pin(text: str, folder: Path) -> str:
    """``"<error class>: <message>"`` of loading the bad space ``text`` (``folder`` shown as ``<dir>``)."""
    from tritium.analysis.dse import space_from_toml

    try:
        space_from_toml(text, base_dir=folder)
    except Exception as err:  # noqa: BLE001 - the class is part of what is pinned
        return f"{type(err).__name__}: {err}".replace(str(folder.resolve()), "<dir>").replace(str(folder), "<dir>")
    return "no error"


def _builtin() -> list[str]:
    from tritium.analysis.dse import list_spaces

    return list_spaces()


def current_pins(folder: Path) -> dict:
    return {"spaces": {name: space_pin(name) for name in _builtin()},
            "errors": {case: error_pin(text, folder) for case, text in BAD_SPACES.items()}}


@pytest.fixture(scope="module")
def pins() -> dict:
    return json.loads(PINS.read_text(encoding="utf-8"))


def test_every_builtin_space_is_pinned(pins):
    assert sorted(pins["spaces"]) == _builtin()


@pytest.mark.parametrize("name", _builtin())
def test_builtin_space_expands_as_pinned(pins, name):
    assert space_pin(name) == pins["spaces"][name]


@pytest.mark.parametrize("case", sorted(BAD_SPACES))
def test_bad_space_error_text_as_pinned(pins, case, tmp_path):
    assert error_pin(BAD_SPACES[case], tmp_path) == pins["errors"][case]


def test_every_bad_space_is_pinned(pins):
    assert sorted(pins["errors"]) == sorted(BAD_SPACES)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write   (rewrites {PINS.name}; the suite never writes it)")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        data = current_pins(Path(tmp))
    PINS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {PINS} ({len(data['spaces'])} spaces, {len(data['errors'])} errors)")
