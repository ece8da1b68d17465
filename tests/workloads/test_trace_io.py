"""Trace files: save and reload without loss; malformed files are refused."""

import dataclasses

import pandas as pd
import pytest

from tritium.base.errors import TraceError, TritiumError
from tritium.workloads import Scenario, load_trace, save_trace, trace, validate_trace


@pytest.fixture(scope="module")
def record():
    return trace("bitnet-b1.58-2b-4t", Scenario(batch=2, prefill=8, decode=3))


@pytest.fixture(scope="module")
def table(record):
    return record.table


def _metadata(t) -> list:
    return [getattr(t, f.name) for f in dataclasses.fields(t) if f.name not in ("table", "spec")]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_is_exact(tmp_path, record, suffix):
    path = save_trace(record, tmp_path / f"t{suffix}")
    back = load_trace(path)
    pd.testing.assert_frame_equal(back.table, record.table, check_exact=True)
    assert _metadata(back) == _metadata(record) and back.table.attrs == {}


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_a_table_with_attrs_saves_as_its_record(tmp_path, record, suffix):
    """The file format is the one written before traces were records: a table with attrs."""
    back = load_trace(save_trace(record.to_table(), tmp_path / f"t{suffix}"))
    assert _metadata(back) == _metadata(record)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_of_fp_model_with_nan_stats(tmp_path, suffix):
    t = trace("llama-2-7b", Scenario(1, 4, 2))
    back = load_trace(save_trace(t, tmp_path / f"t{suffix}"))
    pd.testing.assert_frame_equal(back.table, t.table, check_exact=True)


def test_unknown_suffix_writes_nothing(tmp_path, table):
    with pytest.raises(TritiumError, match="use .parquet or .csv"):
        save_trace(table, tmp_path / "t.xlsx")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_no_partial_file(tmp_path, record):
    broken = record.to_table().drop(columns=["macs"])
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
