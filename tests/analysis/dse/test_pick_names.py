"""`pick` writes nothing outside its folder, whatever names results.sqlite holds (issue 12 item 3):
a name no chip may have is one error, an odd one a plain file name inside --out."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3

import pytest

from tritium.analysis.dse import pick
from tritium.analysis.dse.pareto import chip_file_name
from tritium.cli import main
from tritium.base.errors import TritiumError
from tritium.sim import load_chip


@pytest.fixture
def tampered(tiny_sweep, tmp_path):
    """A copy of the tiny sweep, its results open for tampering."""
    out = tmp_path / "deep" / "er" / "out"
    shutil.copytree(tiny_sweep, out, ignore=shutil.ignore_patterns("picked", "plots"))  # what other tests wrote
    return out


def _rename_chips(out, name):
    con = sqlite3.connect(out / "results.sqlite")
    with con:
        rows = con.execute("SELECT id, chip_toml FROM points").fetchall()
        con.executemany("UPDATE points SET chip_toml = ? WHERE id = ?",
                        [(re.sub(r'^name = ".*"$', lambda _: f"name = {json.dumps(name)}", text, count=1, flags=re.M), pid)
                         for pid, text in rows])
    con.close()


def _everything(root):
    """Every path under ``root`` but SQLite's own (a reader of a WAL database makes its -shm and -wal)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if "results.sqlite-" not in p.name)


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a..b", "x" * 300])
def test_odd_chip_names_become_files_inside_dest(tampered, tmp_path, name):
    _rename_chips(tampered, name)
    before = _everything(tmp_path)
    dest = tampered / "picked"
    paths = pick(tampered, dest, top=3, objectives=["tokens_per_s", "area_mm2"], feasible_only=False)
    assert len(paths) == 3 and len(set(paths)) == 3  # one name for every chip: each kept under its own file
    for path in paths:
        assert path.parent == dest and path.is_file() and not path.name.startswith(".")
        assert len(path.name) <= 105 and load_chip(path).name == name
    assert set(_everything(tmp_path)) - set(before) == {"deep/er/out/picked", *(
        f"deep/er/out/picked/{p.name}" for p in paths), "deep/er/out/picked/.tritium-files.json"}


@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "a/b", "tab\there", "\u00e9t\u00e9", ""])
def test_a_stored_name_no_chip_may_have_is_one_error_and_nothing_written(tampered, tmp_path, capsys, name):
    _rename_chips(tampered, name)
    before = _everything(tmp_path)
    with pytest.raises(TritiumError, match=r"out: point \S+ holds a chip that is not valid chip TOML \(name = "):
        pick(tampered, tampered / "picked", top=3)
    assert main(["pick", str(tampered), "--out", str(tmp_path / "dest")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert _everything(tmp_path) == before


def test_a_stored_chip_that_is_not_toml_is_one_error(tampered, capsys):
    con = sqlite3.connect(tampered / "results.sqlite")
    with con:
        con.execute("UPDATE points SET chip_toml = 'name = [unclosed'")
    con.close()
    with pytest.raises(TritiumError, match="holds a chip that is not valid chip TOML"):
        pick(tampered, top=1)
    assert main(["pick", str(tampered)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_pick_does_not_overwrite_a_users_file(tiny_sweep, tmp_path, capsys):
    dest = tmp_path / "dest"
    first = pick(tiny_sweep, dest, top=1)
    assert pick(tiny_sweep, dest, top=1) == first  # its own file: replaced
    first[0].write_text("# mine now\n")
    assert main(["pick", str(tiny_sweep), "--out", str(dest), "--top", "1"]) == 2
    assert "was not written by Tritium" in capsys.readouterr().err and first[0].read_text() == "# mine now\n"
    assert main(["pick", str(tiny_sweep), "--out", str(dest), "--top", "1", "--force"]) == 0
    assert first[0].read_text().startswith("# Picked from sweep")


def test_chip_file_name():
    assert chip_file_name("edge-7nm_a1.v2") == "edge-7nm_a1.v2"
    assert chip_file_name("a/../b") == "a_.._b" and chip_file_name("../..") == "chip"
    assert chip_file_name("") == chip_file_name("...") == "chip"
