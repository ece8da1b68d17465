"""Never overwrite a file Tritium did not write unless --force (issue 12 item 9): simulate, sweep,
report; one error line, exit 2, the user's file untouched."""

from __future__ import annotations

import pytest

from tritium.cli import main
from tritium.base.fileio import record_written

SCENARIO = ["--prefill", "16", "--decode", "4"]

SPACE = '''
name = "mine"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4
[params]
tlu.rows = [16, 64]
'''


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _refused(code, err, name):
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert f"{name}: exists and was not written by Tritium" in err and "--force" in err


def test_simulate_does_not_rewrite_the_users_chip(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, text, _ = run(capsys, "chips", "show", "edge-lpddr5")
    mine = text + "# my notes\n"
    (tmp_path / "chip.toml").write_text(mine)
    code, _, err = run(capsys, "simulate", "--model", "trilm-99m", *SCENARIO, "--chip", "chip.toml", "--out", ".")
    _refused(code, err, "chip.toml")
    assert (tmp_path / "chip.toml").read_text() == mine and not (tmp_path / "ops.parquet").exists()
    code, _, err = run(capsys, "simulate", "--model", "trilm-99m", *SCENARIO, "--chip", "chip.toml", "--out", ".",
                       "--force")
    assert code == 0, err
    assert "# my notes" not in (tmp_path / "chip.toml").read_text() and (tmp_path / "ops.parquet").is_file()


def test_simulate_replaces_its_own_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    for _ in range(2):
        code, _, err = run(capsys, "simulate", "--model", "trilm-99m", *SCENARIO, "--out", out)
        assert code == 0, err
    (out / "totals.json").write_text("{}")  # changed since: the user's now
    code, _, err = run(capsys, "simulate", "--model", "trilm-99m", *SCENARIO, "--out", out)
    _refused(code, err, "totals.json")


def test_sweep_into_a_folder_with_the_users_inputs(tmp_path, capsys):
    out = tmp_path / "work"
    out.mkdir()
    (out / "space.toml").write_text(SPACE)
    (out / "base.toml").write_text("# my base\n")
    code, _, err = run(capsys, "sweep", out / "space.toml", "--out", out, "--workers", "0")
    _refused(code, err, "space.toml")
    assert sorted(p.name for p in out.iterdir()) == ["base.toml", "space.toml"]  # nothing made, nothing changed
    assert (out / "base.toml").read_text() == "# my base\n"
    code, _, err = run(capsys, "sweep", out / "space.toml", "--out", out, "--workers", "0", "--force")
    assert code == 0, err
    assert (out / "results.sqlite").is_file() and (out / "base.toml").read_text() != "# my base\n"
    code, _, err = run(capsys, "sweep", out / "space.toml", "--out", out, "--workers", "0", "--resume")
    assert code == 0, err  # its own copies now


@pytest.mark.parametrize(("mine", "force", "needle"), [
    ("chip.toml", False, "chip.toml: exists and was not written by Tritium"),
    ("notes.txt", False, "notes.txt: not part of the report"),
    ("notes.txt", True, "notes.txt: not part of the report"),
])
def test_report_refuses_a_folder_with_the_users_files_before_working(tmp_path, capsys, mine, force, needle):
    out = tmp_path / "rep"
    out.mkdir()
    (out / mine).write_text("mine\n")
    code, text, err = run(capsys, "report", "--model", "no-such-model", "--out", out, *(["--force"] if force else []))
    assert code == 2 and text == "" and err.count("\n") == 1 and needle in err  # refused before the model is read
    assert [p.name for p in out.iterdir()] == [mine] and len(list(tmp_path.iterdir())) == 1


def test_report_into_the_current_folder_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "report", "--out", ".")
    assert code == 2 and "cannot be the current folder" in err and not list(tmp_path.iterdir())


def test_report_replaces_its_own_folder_whole(tmp_path, capsys):
    out = tmp_path / "rep"
    small = ["--prefill", "64", "--decode", "8", "--gpu", "rtx-4090", "--out", out]
    code, _, err = run(capsys, "report", *small)
    assert code == 0, err
    (out / "plots" / "stale.png").write_bytes(b"png")  # a plot of an older report: Tritium's, gone with the rest
    record_written([out / "plots" / "stale.png"])
    (tmp_path / ".rep.tritium-new.dead.tmp").mkdir()  # a killed run's temporary
    first = (out / "report.html").stat().st_ino
    code, _, err = run(capsys, "report", *small)
    assert code == 0, err
    assert (out / "report.html").stat().st_ino != first and [p.name for p in tmp_path.iterdir()] == ["rep"]
    assert not (out / "plots" / "stale.png").exists()


def test_trace_out_replaces_its_own_table_but_not_the_users_file(tmp_path, capsys):
    out = tmp_path / "t.csv"
    for _ in range(2):
        code, _, err = run(capsys, "trace", "trilm-99m", *SCENARIO, "--out", out)
        assert code == 0, err
    mine = tmp_path / "mine.csv"
    mine.write_text("my,own\n1,2\n")
    code, _, err = run(capsys, "trace", "trilm-99m", *SCENARIO, "--out", mine)
    _refused(code, err, "mine.csv")
    assert mine.read_text() == "my,own\n1,2\n"
    code, _, err = run(capsys, "trace", "trilm-99m", *SCENARIO, "--out", mine, "--force")
    assert code == 0, err
    assert "my,own" not in mine.read_text()
