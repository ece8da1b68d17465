"""tritium scaling: the table, its files, and one-line errors."""

import json

from tritium.cli import main


def test_scaling_prints_where_it_stops_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["scaling", "--ternarize", "--prefill", "16", "--decode", "4", "--chips", "1,4,16", "--topologies",
            "ring,switch", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "ring: fastest at" in text and "switch: fastest at" in text
    assert {p.name for p in out.iterdir()} == {"scaling.csv", "scaling.png", "scaling.svg"}
    assert main(args[:-2] + ["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6 and {r["topology"] for r in rows} == {"ring", "switch"}


def test_bad_chip_counts_are_one_error(capsys):
    assert main(["scaling", "--chips", "1,two"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --chips '1,two': must be comma-separated integers") and len(err.splitlines()) == 1
    assert main(["scaling", "--chips", "0"]) == 2
    assert "chips = 0: must be an integer from 1 to 4096" in capsys.readouterr().err
