"""Progress when stderr is not a terminal: lines with the count, rate and ETA; short work silent."""

import io

from tritium.cliutil import ProgressBar, duration


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_lines_with_rate_and_eta(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("tritium.cliutil.time.monotonic", clock)
    out = io.StringIO()
    with ProgressBar("sweep x", unit="pt", interval_s=5, delay_s=2, stream=out) as update:
        for done in range(0, 101, 10):
            update(done, 100)
            clock.now += 1.0
    lines = out.getvalue().splitlines()
    assert lines[0] == "sweep x: 20/100 pt (20%), 10.0 pt/s, ETA 8s"
    assert lines[1] == "sweep x: 70/100 pt (70%), 10.0 pt/s, ETA 3s"
    assert lines[-1] == "sweep x: 100/100 pt (100%), 10.0 pt/s"
    assert len(lines) == 3


def test_caller_rate_extra_and_short_work_silent(monkeypatch):
    clock = Clock()
    monkeypatch.setattr("tritium.cliutil.time.monotonic", clock)
    out = io.StringIO()
    with ProgressBar("quick", stream=out) as update:
        update(1, 2)
        update(2, 2)
    assert out.getvalue() == ""
    out = io.StringIO()
    with ProgressBar("resumed", unit="pt", delay_s=0, stream=out) as update:
        update(500, 1000, rate=25.0, eta_s=20.0, extra="0 invalid")
    assert out.getvalue() == "resumed: 500/1,000 pt (50%), 25.0 pt/s, ETA 20s, 0 invalid\n"


def test_duration():
    assert (duration(42), duration(185), duration(4020)) == ("42s", "3m05s", "1h07m")
