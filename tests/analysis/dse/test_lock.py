"""One writer per sweep folder; readers see whole transactions while it writes (issue 12 item 2).

Real processes: a sweep in a subprocess, held mid-run by its progress callback, against a second
``tritium sweep`` and the readers.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from tritium.analysis.dse import load_results, pareto, pick
from tritium.analysis.dse.plots import plot_sweep
from tritium.analysis.dse.store import LOCK_FILE, SweepLock
from tritium.base.errors import TritiumError

pytestmark = pytest.mark.slow

_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from tritium.analysis.dse import sweep

    space, out, gate, pause = sys.argv[1:5]

    def progress(p):
        if p.new:
            time.sleep(float(pause))
            while Path(gate).exists():  # held mid-sweep, the lock taken and some points stored
                time.sleep(0.02)

    sweep(space, out, workers=0, batch_size=1, progress=progress)
""")


def _writer(tiny_space, out, gate, pause=0.0):
    return subprocess.Popen([sys.executable, "-c", _WRITER, str(tiny_space), str(out), str(gate), str(pause)],
                            stderr=subprocess.PIPE, text=True)


def _wait_for_points(out, proc, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if (out / "results.sqlite").is_file() and len(load_results(out)):
            return
        time.sleep(0.05)
    raise AssertionError("the writer stored no point")


def _state(folder):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_a_second_writer_is_refused_and_changes_nothing(tiny_space, tmp_path):
    out, gate = tmp_path / "out", tmp_path / "hold"
    gate.touch()
    writer = _writer(tiny_space, out, gate)
    try:
        _wait_for_points(out, writer)
        assert (out / LOCK_FILE).read_text().strip() == str(writer.pid)
        before = _state(out)
        for extra in ([], ["--resume"]):
            second = subprocess.run([sys.executable, "-m", "tritium", "sweep", str(tiny_space), "--out", str(out),
                                     "--workers", "0", *extra], capture_output=True, text=True)
            assert second.returncode == 2 and second.stdout == ""
            assert second.stderr == f"error: {out} is being written by another sweep (pid {writer.pid})\n"
        assert _state(out) == before
        # the readers, while the writer holds the folder mid-sweep
        stored = len(load_results(out))
        assert 1 <= stored < 24 and len(pareto(out, feasible_only=False))
        assert pick(out, tmp_path / "picked", top=2) and plot_sweep(out, tmp_path / "plots", gpus=())
    finally:
        gate.unlink()
        _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    df = load_results(out)
    assert len(df) == 24 and df.id.is_unique
    with SweepLock.acquire(out) as lock:  # released at the end: the next writer takes it
        assert lock.path == out / LOCK_FILE


def test_the_lock_is_taken_before_anything_is_written(tiny_space, tmp_path):
    from tritium.analysis.dse import sweep

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from tritium.analysis.dse.store import SweepLock
        lock = SweepLock.acquire({str(out)!r})
        print("held", flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(TritiumError, match=rf"is being written by another sweep \(pid {holder.pid}\)"):
            sweep(tiny_space, out, workers=0)
        assert [p.name for p in out.iterdir()] == [LOCK_FILE]
    finally:
        holder.communicate("", timeout=60)


def test_readers_never_fail_while_a_sweep_writes(tiny_space, tmp_path):
    out = tmp_path / "out"
    writer = _writer(tiny_space, out, tmp_path / "no-gate", pause=0.05)
    counts = []
    try:
        _wait_for_points(out, writer)
        while writer.poll() is None:
            df = load_results(out)
            assert df.id.is_unique and df.tokens_per_s.notna().all()
            pareto(out, feasible_only=False)
            counts.append(len(df))
    finally:
        _, err = writer.communicate(timeout=300)
    assert writer.returncode == 0, err
    assert len(counts) >= 2 and counts == sorted(counts) and len(load_results(out)) == 24
