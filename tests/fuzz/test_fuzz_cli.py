"""Fuzzing the command line with numbers: exit status 0 or 2, never a traceback, nothing written
outside the output folder, and bounded memory (some cases run under RLIMIT_AS in a subprocess).

Fast and derandomized by default; ``TRITIUM_FUZZ_EXAMPLES=5000`` runs that many random
examples per test (see README.md, Tests).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tritium.cli import main

EXAMPLES = int(os.environ.get("TRITIUM_FUZZ_EXAMPLES", "0"))


def fuzz(default: int) -> settings:
    return settings(derandomize=EXAMPLES == 0, database=None, max_examples=EXAMPLES or default, deadline=None,
                    suppress_health_check=list(HealthCheck))


NUMBERS = st.one_of(
    st.integers(1, 64),
    st.integers(1, 4096),
    st.integers(1, 2**21),
    st.sampled_from([0, -1, 2**20, 2**20 + 1, 2**24, 2**24 + 1, 2**31, 2**63, 10**12, 10**23, 10**4000]),
).map(str) | st.sampled_from(["1e3", "0x10", " 7", "", "nan", "-0", "9" * 5000])
"""Command-line numbers: mostly plausible, some at and past the bounds, some not numbers at all."""

MODELS = st.sampled_from(["trilm-99m", "bitnet-b1.58-2b-4t", "llama-3-70b"])


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def ran_cleanly(capsys, argv: list[str]) -> tuple[int, str]:
    """Run the CLI in-process; it must exit 0 or 2 (argparse's own usage errors raise SystemExit 2)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in err
    event(f"exit {code}")
    if code == 2:
        assert len([line for line in err.splitlines() if line.startswith("error:") or ": error:" in line]) == 1, err
    return code, out


@given(model=MODELS, batch=NUMBERS, prefill=NUMBERS, decode=NUMBERS)
@fuzz(60)
def test_trace_numbers(capsys, tmp_path_factory, monkeypatch, model, batch, prefill, decode):
    work = tmp_path_factory.mktemp("trace")
    monkeypatch.chdir(work)
    out = work / "out" / "t.parquet"
    code, _ = ran_cleanly(capsys, ["trace", model, "--batch", batch, "--prefill", prefill, "--decode", decode,
                                   "--json", "--out", str(out)])
    assert files_under(work) <= {Path("out"), Path("out/t.parquet"), Path("out/.tritium-files.json")}
    assert (code == 0) == out.is_file()


@given(model=MODELS, chip=st.sampled_from(["edge-lpddr5", "datacenter-hbm3"]),
       batch=NUMBERS, prefill=NUMBERS, decode=NUMBERS)
@fuzz(25)
def test_simulate_numbers(capsys, tmp_path_factory, monkeypatch, model, chip, batch, prefill, decode):
    work = tmp_path_factory.mktemp("simulate")
    monkeypatch.chdir(work)
    argv = ["simulate", "--model", model, "--chip", chip, "--batch", batch, "--prefill", prefill,
            "--decode", decode, "--json", "--out", str(work / "out")]
    if model == "llama-3-70b":
        argv.append("--ternarize")
    code, out = ran_cleanly(capsys, argv)
    assert all(p.parts[0] == "out" for p in files_under(work))
    if code == 0:
        totals = json.loads(out)
        assert all(v is None or v >= 0 for v in totals.values() if isinstance(v, (int, float)) and
                   not isinstance(v, bool)), totals


@given(samples=NUMBERS, seed=NUMBERS)
@fuzz(20)
def test_sweep_search_numbers(capsys, tmp_path_factory, monkeypatch, samples, seed):
    """--samples and --seed reach the search's bounds; a refused sweep leaves nothing behind."""
    work = tmp_path_factory.mktemp("sweep")
    monkeypatch.chdir(work)
    (work / "space.toml").write_text(
        'name = "fuzz"\nbase = "edge-lpddr5"\nobjectives = ["tokens_per_s", "area_mm2"]\n'
        '[[workload]]\nmodel = "trilm-99m"\nprefill = 4\ndecode = 1\n[params]\ntlu.rows = [16, 32]\n')
    code, _ = ran_cleanly(capsys, ["sweep", "space.toml", "--out", "out", "--workers", "0", "--strategy", "random",
                                   "--samples", samples, "--seed", seed])
    assert all(p.parts[0] == "out" for p in files_under(work) - {Path("space.toml")})


# -- bounded memory: the largest inputs, in a subprocess under an address-space limit ------------------

LIMIT_MIB = 2560
"""Address space allowed: about 1.4 GiB is the interpreter with numpy, pandas and pyarrow mapped."""

_UNDER_LIMIT = textwrap.dedent("""
    import resource, sys
    limit = int(sys.argv[1]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from tritium.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def run_limited(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", _UNDER_LIMIT, str(LIMIT_MIB), *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS"), reason="needs RLIMIT_AS")
@pytest.mark.parametrize("argv", [
    ["simulate", "--model", "llama-3-70b", "--ternarize", "--chip", "datacenter-hbm3", "--prefill", "4096",
     "--decode", str(2**20), "--json"],
    ["simulate", "--decode", "100000000", "--json"],
    ["simulate", "--prefill", "3800000", "--decode", "1000", "--json"],
    ["trace", "llama-3-70b", "--batch", str(2**20), "--prefill", str(2**24), "--decode", str(2**20), "--json"],
    ["trace", "llama-3-70b", "--batch", "4096", "--prefill", "4096", "--decode", "131072", "--json"],
])
def test_largest_inputs_in_bounded_memory(tmp_path, argv):
    proc = run_limited(argv, tmp_path)
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS"), reason="needs RLIMIT_AS")
def test_huge_search_sample_in_bounded_memory(tmp_path):
    (tmp_path / "space.toml").write_text(
        'name = "big"\nbase = "edge-lpddr5"\nobjectives = ["tokens_per_s", "area_mm2"]\n'
        '[[workload]]\nmodel = "trilm-99m"\nprefill = 4\ndecode = 1\n[params]\n'
        'clock_mhz = { start = 100, stop = 4195, step = 1 }\nnode_nm = { start = 3, stop = 4098, step = 1 }\n'
        '[search]\nstrategy = "random"\nsamples = 1000000000\n')
    proc = run_limited(["sweep", "space.toml", "--out", "out", "--workers", "0"], tmp_path)
    assert proc.returncode == 2 and "search.samples = 1000000000" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
