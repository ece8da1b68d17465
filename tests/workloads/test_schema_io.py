"""Trace tables: save and reload without loss; malformed files are refused."""

import pandas as pd
import pytest

from tritium.base.errors import TraceError, TritiumError
from tritium.workloads import Scenario, load_trace, save_trace, trace, validate_trace


@pytest.fixture(scope="module")
def table():
    return trace("bitnet-b1.58-2b-4t", Scenario(batch=2, prefill=8, decode=3))


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_is_exact(tmp_path, table, suffix):
    path = save_trace(table, tmp_path / f"t{suffix}")
    back = load_trace(path)
    pd.testing.assert_frame_equal(back, table, check_exact=True)
    assert back.attrs == table.attrs


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_of_fp_model_with_nan_stats(tmp_path, suffix):
    t = trace("llama-2-7b", Scenario(1, 4, 2))
    back = load_trace(save_trace(t, tmp_path / f"t{suffix}"))
    pd.testing.assert_frame_equal(back, t, check_exact=True)


def test_unknown_suffix_writes_nothing(tmp_path, table):
    with pytest.raises(TritiumError, match="use .parquet or .csv"):
        save_trace(table, tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_partial_file(tmp_path, table):
    broken = table.drop(columns=["macs"])
    with pytest.raises(TraceError, match="missing columns macs"):
        save_trace(broken, tmp_path / "t.parquet")
    assert list(tmp_path.iterdir()) == []


def test_malformed_files(tmp_path, table):
    csv = tmp_path / "plain.csv"
    table.to_csv(csv, index=False)
    with pytest.raises(TraceError, match="tritium-trace"):
        load_trace(csv)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(TraceError, match="unreadable"):
        load_trace(bad)
    with pytest.raises(TritiumError, match="no such file"):
        load_trace(tmp_path / "none.csv")


def test_validate_rejects_bad_values(table):
    t = table.copy()
    t.loc[0, "kind"] = "teleport"
    with pytest.raises(TraceError, match="unknown op kind 'teleport'"):
        validate_trace(t)
    t = table.copy()
    t.loc[3, "steps"] = 0
    with pytest.raises(TraceError, match="'steps' must be >= 1"):
        validate_trace(t)
