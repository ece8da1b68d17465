"""Never overwrite a file Tritium did not write; folders swapped in whole (issue 12 item 9)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap

import pytest

from tritium.base.errors import TritiumError
from tritium.base.fileio import (
    MANIFEST_FILE, check_overwrite, check_replaceable, is_tritiums, record_written, replace_folder,
    write_text_atomic,
)


def test_only_unchanged_files_tritium_wrote_are_its_own(tmp_path):
    mine, theirs = tmp_path / "chip.toml", tmp_path / "base.toml"
    theirs.write_text("# the user's own\n")
    record_written([write_text_atomic(mine, "name = 'a'\n")])
    check_overwrite([mine, tmp_path / "absent.toml"])
    assert is_tritiums(mine) and not is_tritiums(theirs)
    with pytest.raises(TritiumError, match=r"base.toml: exists and was not written by Tritium.*--force"):
        check_overwrite([mine, theirs])
    check_overwrite([theirs], force=True)
    mine.write_text("name = 'edited'\n")  # changed since: the user's now
    with pytest.raises(TritiumError, match="chip.toml: exists"):
        check_overwrite([mine])


def test_links_folders_and_a_foreign_manifest_are_never_tritiums(tmp_path):
    record_written([write_text_atomic(tmp_path / "a.toml", "x = 1\n")])
    (tmp_path / "link.toml").symlink_to(tmp_path / "a.toml")
    (tmp_path / "dir.toml").mkdir()
    for name in ("link.toml", "dir.toml"):
        with pytest.raises(TritiumError, match=name):
            check_overwrite([tmp_path / name])
    (tmp_path / MANIFEST_FILE).write_text("[1, 2]")  # not one Tritium wrote: nothing is known to be its own
    assert not is_tritiums(tmp_path / "a.toml")


def _fill(folder, **files):
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    record_written(folder / name for name in files)


def test_replace_folder_swaps_the_whole_folder(tmp_path):
    target = tmp_path / "rep"
    with replace_folder(target) as tmp:
        _fill(tmp, **{"report.html": "old", "stale.png": "old"})
    assert (target / "report.html").read_text() == "old"
    with replace_folder(target) as tmp:
        _fill(tmp, **{"report.html": "new", "plots/a.png": "new"})
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        ".tritium-files.json", "plots/.tritium-files.json", "plots/a.png", "report.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary left


def test_a_failed_build_leaves_the_old_folder(tmp_path):
    target = tmp_path / "rep"
    with replace_folder(target) as tmp:
        _fill(tmp, **{"report.html": "old"})
    with pytest.raises(ValueError):
        with replace_folder(target) as tmp:
            _fill(tmp, **{"report.html": "half"})
            raise ValueError("boom")
    assert (target / "report.html").read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["rep"]


def test_a_killed_build_leaves_the_old_folder_and_its_temporary_is_cleaned(tmp_path):
    target = tmp_path / "rep"
    with replace_folder(target) as tmp:
        _fill(tmp, **{"report.html": "old", "plots/a.png": "old"})
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from tritium.base.fileio import replace_folder
        with replace_folder(Path({str(target)!r})) as tmp:
            (tmp / "report.html").write_text("new")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert subprocess.run([sys.executable, "-c", script]).returncode == -9
    assert (target / "report.html").read_text() == "old" and (target / "plots" / "a.png").read_text() == "old"
    assert len(list(tmp_path.iterdir())) == 2  # the killed run's temporary
    with replace_folder(target) as tmp:
        _fill(tmp, **{"report.html": "new"})
    assert [p.name for p in tmp_path.iterdir()] == ["rep"] and (target / "report.html").read_text() == "new"


def test_a_running_builds_temporary_is_left_alone(tmp_path):
    live = tmp_path / ".rep.tritium-new.abc.tmp"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what a running replace_folder holds
        with replace_folder(tmp_path / "rep") as tmp:
            _fill(tmp, **{"report.html": "x"})
        assert live.is_dir()
    finally:
        os.close(fd)


def test_what_a_folder_swap_refuses(tmp_path, monkeypatch):
    target = tmp_path / "rep"
    names = ["report.html", "plots"]
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    for force in (False, True):  # a file the new folder would lose: never, --force or not
        with pytest.raises(TritiumError, match="notes.txt: not part of the report"):
            check_replaceable(target, names, force=force)
    (target / "notes.txt").unlink()
    (target / "plots").mkdir()
    (target / "plots" / "a.png").write_text("mine")
    with pytest.raises(TritiumError, match=r"plots/a.png: exists and was not written by Tritium.*--force"):
        check_replaceable(target, names)
    check_replaceable(target, names, force=True)
    (target / ".report.html.abcd1234.tmp").write_text("an atomic write's leftover")
    check_replaceable(target, names, force=True)
    monkeypatch.chdir(target)
    with pytest.raises(TritiumError, match="cannot be the current folder"):
        check_replaceable(".", names, force=True)
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(TritiumError, match="not a folder"):
        check_replaceable(file, names)
