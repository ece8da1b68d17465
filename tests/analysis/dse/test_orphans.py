"""Local workers die with the sweep's driver, even when it is SIGKILLed (issue 12 item 4).

A real sweep runs in a subprocess on two workers; its descendants (forkserver, resource
tracker, workers) are found through /proc by parent pid before the kill, and none may be alive
5 s after it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="walks /proc; Linux's forkserver")]

LONG = '''
name = "long"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]
[[workload]]
model = "trilm-99m"
prefill = 128
decode = 32
[params]
tlu.rows = [16, 32, 64, 128]
clock_mhz = { start = 100.0, stop = 1000.0, step = 2.0 }
dram.channels = [1, 2]
node_nm = [12, 7]
'''
"""About 7,000 points: minutes of work, so the sweep is still running when it is killed."""


def _parents() -> dict[int, int]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    table[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass  # gone meanwhile
    return table


def _descendants(root: int) -> set[int]:
    parents, found, frontier = _parents(), set(), {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_no_process_outlives_a_sigkilled_driver(tmp_path):
    space = tmp_path / "long.toml"
    space.write_text(LONG)
    driver = subprocess.Popen([sys.executable, "-m", "tritium", "sweep", str(space), "--out", str(tmp_path / "out"),
                               "--workers", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    family: set[int] = set()
    try:
        # forkserver, resource tracker and two workers, the workers busy with points
        while len(family) < 4 or not (tmp_path / "out" / "results.sqlite").is_file():
            assert driver.poll() is None, driver.stderr.read()
            assert time.monotonic() < deadline, f"only {len(family)} descendants after 120 s"
            time.sleep(0.1)
            family = _descendants(driver.pid)
        time.sleep(0.5)
        family |= _descendants(driver.pid)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        time.sleep(5)
        survivors = {pid for pid in family if _alive(pid)}
        assert not survivors, f"{len(survivors)} of {len(family)} descendants alive 5 s after the driver's SIGKILL"
    finally:
        for pid in family:  # a failed test leaves no orphans either (only those still running this Python)
            if _alive(pid) and _runs(pid, sys.executable):
                os.kill(pid, signal.SIGKILL)
        if driver.poll() is None:
            driver.kill()
        driver.stderr.close()


def _runs(pid: int, program: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0] == os.fsencode(program)
    except OSError:
        return False
