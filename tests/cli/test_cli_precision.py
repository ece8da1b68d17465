"""--lm-head-dtype, --kv-dtype and --mapping-objective on trace, simulate and compare."""

import json

import pytest

from tritium import cliutil
from tritium.cli import main
from tritium.sim.mapping import OBJECTIVES
from tritium.workloads.models import KV_DTYPES, LM_HEAD_DTYPES

ARGS = ["--prefill", "16", "--decode", "4"]


def test_cli_choices_are_the_libraries_own():
    assert cliutil.LM_HEAD_DTYPES == LM_HEAD_DTYPES
    assert cliutil.KV_DTYPES == KV_DTYPES
    assert cliutil.OBJECTIVES == OBJECTIVES


def _simulate(capsys, *extra) -> dict:
    assert main(["simulate", *ARGS, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_int8_head_and_kv_are_cheaper_on_the_chip(capsys):
    base = _simulate(capsys)["totals"]
    int8 = _simulate(capsys, "--lm-head-dtype", "int8", "--kv-dtype", "int8")["totals"]
    assert int8["joules_per_token"] < base["joules_per_token"]
    assert int8["time_per_output_token_s"] < base["time_per_output_token_s"]
    assert int8["dram_bytes"] < base["dram_bytes"]


def test_objective_is_noted_and_a_bad_one_refused(capsys):
    out = _simulate(capsys, "--mapping-objective", "energy")
    assert "mapping objective: energy" in " ".join(out["notes"])
    with pytest.raises(SystemExit) as info:
        main(["simulate", *ARGS, "--mapping-objective", "fastest"])
    assert info.value.code == 2
    assert "invalid choice: 'fastest'" in capsys.readouterr().err


def test_trace_takes_the_precisions(capsys):
    assert main(["trace", *ARGS, "--kv-dtype", "fp8", "--json"]) == 0
    fp8 = json.loads(capsys.readouterr().out)
    assert main(["trace", *ARGS, "--json"]) == 0
    bf16 = json.loads(capsys.readouterr().out)
    assert fp8["kv_cache_bytes"] * 2 == bf16["kv_cache_bytes"]


def test_compare_passes_them_to_both_sides(capsys):
    assert main(["compare", *ARGS, "--json"]) == 0
    base = json.loads(capsys.readouterr().out)
    assert main(["compare", *ARGS, "--lm-head-dtype", "int8", "--mapping-objective", "edp", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(n.startswith("chip: mapping objective: edp") for n in out["notes"])
    for side in ("chip_result", "gpu_result"):
        assert out[side]["totals"]["dram_bytes"] < base[side]["totals"]["dram_bytes"]


def test_a_request_beyond_the_context_is_warned_first(capsys):
    assert main(["simulate", "--prefill", "4000", "--decode", "200"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("warning: context exceeded: prefill + decode = 4,200 tokens")
    assert "4,096 tokens" in first
    assert main(["simulate", "--prefill", "4000", "--decode", "200", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"][0].startswith("context exceeded")
    assert main(["compare", "--prefill", "4000", "--decode", "200"]) == 0
    assert capsys.readouterr().out.startswith("warning: chip: context exceeded")
    assert main(["simulate", *ARGS, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == []
