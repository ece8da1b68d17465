"""Results that survive: every point stored once with its chip, invalid points kept, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from tritium.analysis.dse import load_results, load_space, load_space_of, space_from_toml, sweep
from tritium.analysis.dse.evaluate import MEMORY_VIOLATION, point_id
from tritium.analysis.dse.search import GridSearch
from tritium.base.errors import TritiumError
from tritium.sim import load_chip


def test_every_point_is_stored_with_the_chip_it_describes(tiny_space, tmp_path):
    out = tmp_path / "out"
    seen = []
    summary = sweep(tiny_space, out, workers=0, progress=seen.append)
    assert (summary.stored, summary.evaluated, summary.skipped, summary.ok) == (24, 24, 0, 24)
    assert 0 < summary.feasible < 24 and summary.invalid == summary.errors == 0  # the limit splits the space
    assert seen[-1].done == seen[-1].total == 24 and seen[-1].eta_s == 0
    df = load_results(out, chips=True)
    assert len(df) == 24 and df.id.is_unique and list(df.seq) == list(range(1, 25))
    space = load_space(tiny_space)
    paths = [p.path for p in space.params]
    assert set(df.id) == {point_id(paths, p) for p in GridSearch(space).next_wave()}
    for row in df.to_dict("records"):
        (tmp_path / "c.toml").write_text(row["chip_toml"])
        chip = load_chip(tmp_path / "c.toml")
        assert (chip.tlu.rows, chip.clock_mhz, chip.dram.channels, chip.node_nm) == (
            row["tlu.rows"], row["clock_mhz"], row["dram.channels"], row["node_nm"])
        assert chip.name == f"tiny-{row['id'][:10]}"
        assert chip.tlu.width == 64  # everything not varied is the base chip's
    assert df.feasible.tolist() == (df.area_mm2 <= 7.0).tolist() and df.feasible.sum() == summary.feasible
    assert (df.violations[~df.feasible] == "max_area_mm2").all()
    assert (out / "space.toml").read_text() == tiny_space.read_text()
    assert load_chip(out / "base.toml") == load_chip("edge-lpddr5")
    assert load_space_of(out).digest == load_space(tiny_space).digest


def test_a_chip_whose_dram_cannot_hold_the_model_is_infeasible(tmp_path, tiny_text):
    # TriLM 99M needs tens of MB (weights + KV cache): 0.01 GiB of DRAM is too small, whatever
    # the space's own constraints say; the point is stored, simulated and marked infeasible.
    text = tiny_text.replace("tlu.rows = [16, 32, 64]", "dram.capacity_gib = [0.01, 8.0]")
    text = text.replace("max_area_mm2 = 7.0", "max_area_mm2 = 1000.0")
    path = tmp_path / "mem.toml"
    path.write_text(text)
    summary = sweep(path, tmp_path / "out", workers=0)
    df = load_results(tmp_path / "out")
    assert summary.ok == len(df) == 16 and (df.status == "ok").all()
    small = df["dram.capacity_gib"] == 0.01
    assert summary.feasible == 8 and df.feasible.tolist() == (~small).tolist()
    assert (df.violations[small] == MEMORY_VIOLATION).all() and (df.violations[~small] == "").all()
    db = sqlite3.connect(tmp_path / "out" / "results.sqlite")
    try:
        extra = [json.loads(e) for (e,) in db.execute("SELECT extra FROM points ORDER BY seq")]
    finally:
        db.close()
    assert all(e["memory_needed_bytes"] > 0.01 * 2**30 for e in extra)


def test_invalid_points_are_recorded_and_reported_not_dropped(tmp_path, tiny_text):
    # tlu.width = 2 has one adder level but the base registers every 2 levels: an invalid
    # chip; acc_bits = 16 holds dot products of K <= 255, too short for TriLM's K = 1536.
    text = tiny_text.replace("tlu.rows = [16, 32, 64]", "tlu.width = [2, 64]\ntlu.acc_bits = [16, 24]")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    summary = sweep(path, tmp_path / "out", workers=0)
    assert summary.stored == 2 * 2 * 2 * 2 * 2 == 32
    df = load_results(tmp_path / "out")
    invalid = df[df.status == "invalid"]
    width2 = df["tlu.width"] == 2
    narrow = (df["tlu.width"] == 64) & (df["tlu.acc_bits"] == 16)
    assert set(invalid.id) == set(df.id[width2 | narrow])
    assert invalid.error[width2].str.contains("levels_per_stage").all()
    assert invalid.error[narrow].str.contains("acc_bits").all()
    assert invalid.tokens_per_s.isna().all() and not invalid.feasible.any()
    assert summary.invalid == len(invalid) == 24 and summary.ok == 8
    assert sum(n for _, n in summary.top_errors) == 24
    assert any("invalid" in line for line in summary.lines())


def test_an_existing_sweep_is_resumed_only_when_asked(tiny_space, tmp_path, tiny_text):
    out = tmp_path / "out"
    sweep(tiny_space, out, workers=0)
    with pytest.raises(TritiumError, match="already holds a sweep of space 'tiny' .24 points.; resume it"):
        sweep(tiny_space, out, workers=0)
    again = sweep(tiny_space, out, workers=0, resume=True)
    assert (again.evaluated, again.skipped, again.stored) == (0, 24, 24)
    other = tmp_path / "other.toml"
    other.write_text(tiny_text.replace("[16, 32, 64]", "[16, 32]"))
    with pytest.raises(TritiumError, match="different space"):
        sweep(other, out, workers=0, resume=True)
    runs = sqlite3.connect(out / "results.sqlite").execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert runs == 2


def test_resume_into_an_empty_folder_starts_a_sweep(tiny_space, tmp_path):
    assert sweep(tiny_space, tmp_path / "new", workers=0, resume=True).evaluated == 24


def test_an_output_that_is_a_file_or_not_a_database_is_one_error(tiny_space, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(TritiumError, match="not a folder"):
        sweep(tiny_space, tmp_path / "file", workers=0)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "results.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(TritiumError, match="not a Tritium results database"):
        sweep(tiny_space, tmp_path / "junk", workers=0, resume=True)
    with pytest.raises(TritiumError, match="not a Tritium results database"):
        load_results(tmp_path / "junk")


def test_the_database_appears_with_its_tables_and_an_empty_file_is_adopted(tiny_space, tmp_path, monkeypatch):
    from tritium.analysis.dse import store

    seen = []
    real_connect = store._connect

    def spy(path):  # the moment the sweep first opens the file it must be complete
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            seen.append(dict(con.execute("SELECT key, value FROM meta").fetchall())["name"])
        finally:
            con.close()
        return real_connect(path)

    monkeypatch.setattr(store, "_connect", spy)
    sweep(tiny_space, tmp_path / "a", workers=0)
    assert seen == ["tiny"]
    monkeypatch.undo()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.sqlite").write_bytes(b"")
    assert sweep(tiny_space, tmp_path / "b", workers=0, resume=True).evaluated == 24
    assert (tmp_path / "b" / "space.toml").is_file() and (tmp_path / "b" / "base.toml").is_file()


def test_reading_a_folder_without_results_is_one_error(tmp_path):
    with pytest.raises(TritiumError, match="no sweep results here"):
        load_results(tmp_path)


def test_a_resumed_random_sweep_adds_only_new_points(tiny_space, tmp_path):
    out = tmp_path / "out"
    space = load_space(tiny_space)
    first = sweep(space.with_search(strategy="random", samples=10, seed=4), out, workers=0)
    second = sweep(space.with_search(strategy="random", samples=20, seed=4), out, workers=0, resume=True)
    # the first 10 draws of seed 4 are the first draws of the 20-point sample
    assert (first.evaluated, second.skipped, second.evaluated, second.stored) == (10, 10, 10, 20)


KILLED = textwrap.dedent('''
    import sys
    from tritium.analysis.dse import sweep
    if __name__ == "__main__":  # worker processes import this file too
        sweep(sys.argv[1], sys.argv[2], workers=int(sys.argv[3]), batch_size=2)
''')


def _count(path) -> int:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_a_sweep_killed_with_sigkill_resumes_without_recomputing(tmp_path, tiny_text, workers):
    text = tiny_text.replace("clock_mhz = [500.0, 1000.0]", "clock_mhz = [500.0, 750.0, 1000.0, 1250.0]")
    space_path = tmp_path / "s.toml"
    space_path.write_text(text)  # 48 points
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(KILLED)
    log = tmp_path / "log.txt"
    with open(log, "wb") as sink:
        proc = subprocess.Popen([sys.executable, str(script), str(space_path), str(out), str(workers)],
                                start_new_session=True, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while _count(out / "results.sqlite") < 6:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the sweep stored nothing in 120 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker processes, mid-sweep
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = load_results(out)
    assert 6 <= len(before) < 48, "killed too late to test resuming"
    assert before.id.is_unique

    progress = []
    resumed = sweep(space_path, out, workers=0, resume=True, progress=progress.append)
    assert resumed.skipped == len(before)
    assert resumed.evaluated == 48 - len(before)  # nothing finished is computed again
    after = load_results(out)
    assert len(after) == 48 and after.id.is_unique
    space = load_space(space_path)
    paths = [p.path for p in space.params]
    assert set(after.id) == {point_id(paths, p) for p in GridSearch(space).next_wave()}
    # the first run's points are untouched: same rows, same run number, same metrics
    kept = after.set_index("id").loc[before.id]
    assert (kept.run == 1).all() and (after.run[~after.id.isin(before.id)] == 2).all()
    assert kept.tokens_per_s.tolist() == before.tokens_per_s.tolist()
    assert progress[0].done >= len(before) and progress[-1].done == 48


def test_metrics_hold_every_energy_component(tiny_space, tmp_path):
    sweep(tiny_space, tmp_path / "out", workers=0)
    con = sqlite3.connect(tmp_path / "out" / "results.sqlite")
    extra = json.loads(con.execute("SELECT extra FROM points LIMIT 1").fetchone()[0])
    con.close()
    assert {"energy_j", "total_s", "energy_linear_j", "energy_dram_j", "energy_static_j"} <= set(extra)
    assert sum(v for k, v in extra.items() if k.startswith("energy_") and k != "energy_j") == pytest.approx(
        extra["energy_j"])


def test_space_of_a_sweep_is_its_stored_text(tiny_space, tmp_path):
    sweep(tiny_space, tmp_path / "out", workers=0)
    tiny_space.unlink()  # the sweep folder stands on its own
    space = load_space_of(tmp_path / "out")
    assert space.name == "tiny" and space.grid_size == 24
    assert space.digest == space_from_toml(space.text).digest


def test_a_resumed_guided_sweep_counts_the_stored_points(tiny_space, tmp_path):
    space = load_space(tiny_space).with_search(strategy="guided", samples=4, max_evaluations=9)
    first = sweep(space, tmp_path / "out", workers=0)
    assert (first.evaluated, first.stored) == (9, 9)
    again = sweep(space.with_search(max_evaluations=0), tmp_path / "out", workers=0, resume=True)
    assert again.skipped == 9 and again.evaluated == again.stored - 9 > 0
    # it ran to convergence: a search told every stored point has nothing left to ask
    from tritium.analysis.dse import GuidedSearch
    from tritium.analysis.dse.store import ResultStore

    store = ResultStore.open(tmp_path / "out", space, resume=True, strategy="guided", executor="test")
    search = GuidedSearch(space, 4, 0)
    search.tell(store.records())
    store.close()
    assert search.next_wave() == []
