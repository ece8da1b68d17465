"""--act-zero PROJ=FRAC on trace and simulate: the activation sparsity a zero_act datapath uses."""

from __future__ import annotations

import json

import pytest

from tritium.cli import main
from tritium.sim import chip_to_toml, load_chip


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_with_sparser_down_projection_inputs_spends_less_on_a_skipping_datapath(tmp_path, capsys):
    import dataclasses

    chip = load_chip("edge-mac")
    path = tmp_path / "skip.toml"
    path.write_text(chip_to_toml(dataclasses.replace(chip, tlu=dataclasses.replace(chip.tlu, zero_act="skip"))))
    energy = {}
    for frac in ("0.0", "0.9"):
        code, out, err = run(capsys, "simulate", "--chip", path, "--model", "bitnet-b1.58-2b-4t", "--prefill", "16",
                             "--decode", "4", "--act-zero", f"down_proj={frac}", "--json")
        assert code == 0, err
        energy[frac] = json.loads(out)["totals"]["energy_j"]
    assert energy["0.9"] < energy["0.0"]


@pytest.mark.parametrize("value, needle", [
    ("down", "--act-zero 'down': expected PROJ=FRAC"),
    ("down_proj=x", "expected PROJ=FRAC"),
    ("down_proj=1.5", "must be a number from 0 to below 1"),
    ("nope=0.5", "unknown key"),
])
def test_bad_act_zero_is_one_error_line(capsys, value, needle):
    code, _, err = run(capsys, "trace", "trilm-99m", "--prefill", "8", "--decode", "2", "--act-zero", value)
    assert code == 2 and err.startswith("error: ") and needle in err and err.count("\n") == 1
