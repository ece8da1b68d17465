"""Execution: local worker processes, a real Dask scheduler and workers on loopback, workers killed mid-sweep."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tritium.analysis.dse import load_results, sweep
from tritium.base.errors import SpecError, TritiumError

PROCESSES = [sys.executable, "-m", "tritium"]


def _workers_of(out: Path) -> set[str]:
    con = sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        return {row[0] for row in con.execute("SELECT DISTINCT worker FROM points")}
    finally:
        con.close()


def test_local_workers_give_the_same_results_as_in_process(tiny_space, tmp_path):
    inline = sweep(tiny_space, tmp_path / "a", workers=0)
    pooled = sweep(tiny_space, tmp_path / "b", workers=2, batch_size=3)
    assert inline.executor == "in process" and pooled.executor == "2 local workers"
    a = load_results(tmp_path / "a").set_index("id").sort_index()
    b = load_results(tmp_path / "b").set_index("id").sort_index()
    assert a.index.equals(b.index)
    for m in ("tokens_per_s", "joules_per_token", "area_mm2", "cost_usd", "power_w"):
        assert a[m].tolist() == b[m].tolist()  # the simulator is deterministic
    assert len(set(b.worker)) == 2 and all(w.split(":")[1] != str(os.getpid()) for w in b.worker)


def test_a_killed_local_worker_has_its_batches_rerun(tiny_space, tmp_path):
    out = tmp_path / "out"
    killed = []

    def kill_one(progress) -> None:
        if killed or progress.new == 0:
            return
        pid = int(sorted(_workers_of(out))[0].rsplit(":", 1)[1])
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    summary = sweep(tiny_space, out, workers=2, batch_size=2, progress=kill_one)
    assert killed and summary.resubmitted >= 1
    df = load_results(out)
    assert len(df) == summary.stored == 24 and df.id.is_unique
    assert summary.evaluated == 24  # batches lost with the pool are run again, finished ones are not


def test_bad_counts_and_a_scheduler_nobody_runs(tiny_space, tmp_path):
    with pytest.raises(SpecError, match="workers"):
        sweep(tiny_space, tmp_path / "o", workers=-1)
    with pytest.raises(SpecError, match="batch_size"):
        sweep(tiny_space, tmp_path / "o", batch_size=0)
    with pytest.raises(SpecError, match="scheduler"):
        sweep(tiny_space, tmp_path / "o", scheduler="localhost:8786")
    with pytest.raises(TritiumError, match="cannot reach the Dask scheduler"):
        sweep(tiny_space, tmp_path / "o", scheduler="tcp://127.0.0.1:9", connect_timeout_s=2)


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as sink:
        return subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(predicate, what: str, timeout_s: float = 90.0, procs=()):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        for p in procs:
            assert p.poll() is None, f"{p.args} exited while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _worker_names(client) -> dict[str, str]:
    """``{address: name}`` of the workers, asked of the scheduler itself: the client's
    ``scheduler_info()`` returns a cache that a background refresh can leave without
    per-worker entries (distributed 2026.8; a CI run hit it)."""
    return client.run_on_scheduler(lambda dask_scheduler: {a: ws.name for a, ws in dask_scheduler.workers.items()})


@pytest.mark.slow
def test_dask_scheduler_and_workers_on_loopback_survive_a_killed_worker(tmp_path, tiny_text):
    from distributed import Client

    text = tiny_text.replace("clock_mhz = [500.0, 1000.0]", "clock_mhz = [500.0, 750.0, 1000.0, 1250.0]")
    text = text.replace("node_nm = [12, 7]", "node_nm = [16, 12, 7]")
    space = tmp_path / "s.toml"
    space.write_text(text)  # 3 * 4 * 2 * 3 = 72 points
    sched_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file),
              "--nthreads", "1", "--no-nanny", "--no-dashboard", "--local-directory", str(tmp_path / "w")]
    procs = [_start(dask + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                            str(sched_file)], tmp_path / "scheduler.log")]
    try:
        _wait_for(sched_file.exists, "the scheduler file", procs=procs)
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs += [_start(worker + ["--name", f"w{i}"], tmp_path / f"worker{i}.log") for i in (1, 2)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the monitoring client's own deprecation chatter
            client = Client(address, timeout="30s", set_as_default=False)
        try:
            _wait_for(lambda: len(_worker_names(client)) == 2, "two workers", procs=procs)
            names = _worker_names(client)
            pids = {names[a]: pid for a, pid in client.run(os.getpid).items()}
            victim = procs[1]
            assert pids["w1"] == victim.pid
            [victim_address] = [a for a, name in names.items() if name == "w1"]
            out = tmp_path / "out"
            sweeping = _start(PROCESSES + ["sweep", str(space), "--out", str(out), "--scheduler", address],
                              tmp_path / "sweep.log")
            procs.append(sweeping)

            def victim_busy() -> bool:  # it has stored a batch and is computing another
                if not (out / "results.sqlite").exists():
                    return False
                stored = any(w.endswith(f":{victim.pid}") for w in _workers_of(out))
                # by address, as processing() reports it
                return stored and bool(client.processing().get(victim_address))

            _wait_for(victim_busy, "the first worker to be mid-batch", procs=procs)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            procs.remove(victim)
            assert sweeping.wait(timeout=180) == 0, (tmp_path / "sweep.log").read_text()
        finally:
            client.close()
        log = (tmp_path / "sweep.log").read_text()
        assert f"dask {address}" in log and "evaluated 72 points" in log, log
        df = load_results(out)
        assert len(df) == 72 and df.id.is_unique and (df.status == "ok").all()
        by_worker = df.worker.str.rsplit(":", n=1).str[1].astype(int).value_counts()
        survivor = pids["w2"]
        assert set(by_worker.index) == {victim.pid, survivor}
        # the victim's unfinished batch went to the survivor: every point is stored once
        assert by_worker[survivor] == 72 - by_worker[victim.pid]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
