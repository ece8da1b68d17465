"""tritium scaling: the table, its files, and one-line errors."""

import json

from tritium.cli import main


def test_scaling_prints_where_it_stops_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["scaling", "--ternarize", "--prefill", "16", "--decode", "4", "--chips", "1,4,16", "--topologies",
            "ring,switch", "--stages", "1,4", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "ring: fastest at" in text and "switch: fastest at" in text and "TP x PP" in text
    assert "ring: fastest at 16 chips, tensor parallel alone" in text
    assert "   16      4x4 " in text and "bubble: the pipeline stages' idle share" in text  # 4 stages of 4 chips
    assert {p.name for p in out.iterdir()} == {"scaling.csv", "scaling.png", "scaling.svg"}
    assert main(args[:-2] + ["--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 10 and {r["topology"] for r in rows} == {"ring", "switch"}
    assert sorted({(r["chips"], r["pipeline_stages"]) for r in rows}) == [(1, 1), (4, 1), (4, 4), (16, 1), (16, 4)]


def test_bad_chip_and_stage_counts_are_one_error(capsys):
    assert main(["scaling", "--chips", "1,two"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --chips '1,two': must be comma-separated integers") and len(err.splitlines()) == 1
    assert main(["scaling", "--chips", "0"]) == 2
    assert "chips = 0: must be an integer from 1 to 4096" in capsys.readouterr().err
    assert main(["scaling", "--stages", ","]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --stages ',': give at least one stage count") and len(err.splitlines()) == 1
