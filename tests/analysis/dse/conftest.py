"""Small design spaces for the sweep tests: TriLM 99M on a short request, a few dozen chips."""

from __future__ import annotations

import pytest

TINY = '''
name = "tiny"
base = "edge-lpddr5"
objectives = ["tokens_per_s", "joules_per_token"]

[[workload]]
model = "trilm-99m"
prefill = 16
decode = 4

[params]
tlu.rows = [16, 32, 64]
clock_mhz = [500.0, 1000.0]
dram.channels = [1, 2]
node_nm = [12, 7]

[constraints]
max_area_mm2 = 7.0
'''
"""24 chips; the larger 12 nm ones miss the area limit (which: the die model's area, overheads included)."""


@pytest.fixture
def tiny_text() -> str:
    return TINY


@pytest.fixture(scope="session")
def tiny_sweep(tmp_path_factory):
    """A finished in-process sweep of the 24-point space (shared: do not write into it)."""
    from tritium.analysis.dse import sweep

    folder = tmp_path_factory.mktemp("tiny-sweep")
    (folder / "tiny.toml").write_text(TINY)
    sweep(folder / "tiny.toml", folder / "out", workers=0)
    return folder / "out"


@pytest.fixture
def tiny_space(tmp_path):
    """The path of a 24-point space file."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path
