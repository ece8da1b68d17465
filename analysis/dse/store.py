"""Sweep results on disk: one SQLite database (WAL) per output folder, written point by point.

``OUT/results.sqlite`` holds one row per evaluated point (its id, workload, parameters, the
full chip TOML, status and error, metrics, feasibility), the space it came from and the
resolved base chip. Only the sweep's driver writes, holding an exclusive lock on
``OUT/.sweep.lock`` (:class:`SweepLock`) for its whole run, so a second sweep into the same
folder is refused before it changes anything. Each batch of finished points is one
transaction, so a point is in the file completely or not at all, and a sweep killed at any
moment (even SIGKILL) keeps every point it had written; readers open the file read-only and
see whole transactions only. ``OUT/space.toml`` and ``OUT/base.toml`` are copies of the
inputs, for people; files of those names that Tritium did not write are not overwritten
(unless forced).

:func:`load_results` reads the table back as a DataFrame: one row per point, the metrics of
:data:`~tritium.analysis.dse.space_record.METRICS` as columns, and one column per varied parameter
named by its dotted key (``tlu.rows``).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

import pandas as pd

from tritium.analysis.dse.space import space_from_toml
from tritium.analysis.dse.space_record import METRICS, Space
from tritium.base.errors import TritiumError, shown_path
from tritium.base.fileio import atomic_path, check_overwrite, record_written, write_text_atomic

__all__ = ["RESULTS_FILE", "LOCK_FILE", "INPUT_FILES", "ResultStore", "SweepLock", "load_results", "load_space_of",
           "results_path"]

RESULTS_FILE = "results.sqlite"
LOCK_FILE = ".sweep.lock"
INPUT_FILES = ("space.toml", "base.toml")
"""The copies of a sweep's inputs written beside its results."""
SCHEMA_VERSION = "3"  # 2: serving, carbon and NRE metric columns; 3: neutral energy names (result schema 2)
_METRIC_COLUMNS = tuple(METRICS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY, started REAL, strategy TEXT, executor TEXT);
CREATE TABLE IF NOT EXISTS points (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, run INTEGER NOT NULL, workload TEXT NOT NULL,
    status TEXT NOT NULL, error TEXT NOT NULL, params TEXT NOT NULL, chip_toml TEXT NOT NULL,
    feasible INTEGER NOT NULL, violations TEXT NOT NULL,
    {", ".join(f"{m} REAL" for m in _METRIC_COLUMNS)},
    node_nm INTEGER, dram_type TEXT, extra TEXT NOT NULL, eval_s REAL, cpu_s REAL, worker TEXT
);
"""


def results_path(out_dir: str | Path) -> Path:
    """``OUT/results.sqlite``; raises :class:`TritiumError` when the folder holds no sweep."""
    path = Path(out_dir) / RESULTS_FILE
    if not path.is_file():
        raise TritiumError(f"{out_dir}: no sweep results here (no {RESULTS_FILE}); run a sweep into it first")
    return path


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a committed point survives a killed process
    return con


class SweepLock:
    """The exclusive lock a sweep's driver holds on ``OUT/.sweep.lock`` while it writes ``OUT``.

    An ``fcntl.flock`` lock, so the kernel drops it when the driver dies, however it dies.
    The file holds the driver's pid, for the message another writer gets.
    """

    def __init__(self, fd: int, path: Path):
        self._fd, self.path = fd, path

    @classmethod
    def acquire(cls, out_dir: str | Path) -> "SweepLock":
        """Lock the existing folder ``out_dir``, or raise at once.

        Raises:
            TritiumError: another process holds the lock (``OUT is being written by another
                sweep (pid N)``).
        """
        path = Path(out_dir) / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise TritiumError(f"{shown_path(out_dir)} is being written by another sweep (pid {holder})") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Let go of the lock (the file stays: removing it would race with the next writer)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "SweepLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(fd: int) -> str:
    """The pid in a lock file held by another process (which may not have written it yet)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
        time.sleep(0.05)
    return "unknown"


class ResultStore:
    """The results database of one sweep folder, opened by the sweep's driver (the only writer)."""

    def __init__(self, con: sqlite3.Connection, path: Path, run: int, seq: int, lock: SweepLock):
        self._con, self.path, self.run, self._seq, self._lock = con, path, run, seq, lock

    @classmethod
    def open(cls, out_dir: str | Path, space: Space, *, resume: bool, strategy: str, executor: str,
             force: bool = False) -> "ResultStore":
        """Lock ``out_dir`` and create its database for ``space``, or reopen it to resume.

        The lock (:class:`SweepLock`) is held until :meth:`close`. ``force`` lets a new
        sweep overwrite a ``space.toml`` or ``base.toml`` in ``out_dir`` that Tritium did
        not write.

        Raises:
            TritiumError: another sweep is writing the folder; the folder already holds
                results and ``resume`` is false; or it holds the results of a different space
                (or base chip) than ``space``; it holds a ``space.toml`` or ``base.toml``
                Tritium did not write (without ``force``).
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise TritiumError(f"{out}: not a folder (the sweep writes {RESULTS_FILE} and plots into a folder)")
        path = out / RESULTS_FILE
        if not path.is_file():  # a new sweep writes the inputs' copies: refuse before changing anything
            check_overwrite([out / name for name in INPUT_FILES], force=force)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TritiumError(f"{out}: cannot create the results folder ({err.strerror})") from None
        lock = SweepLock.acquire(out)
        try:
            return cls._open_locked(out, path, space, lock, resume=resume, strategy=strategy, executor=executor,
                                    force=force)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open_locked(cls, out: Path, path: Path, space: Space, lock: SweepLock, *, resume: bool, strategy: str,
                     executor: str, force: bool) -> "ResultStore":
        existed = path.is_file()
        if not existed:  # readers never see a database without its tables and meta
            check_overwrite([out / name for name in INPUT_FILES], force=force)
            with atomic_path(path) as tmp:
                fresh = sqlite3.connect(tmp, isolation_level=None)
                try:
                    fresh.executescript(_SCHEMA)
                    with _transaction(fresh):
                        _write_meta(fresh, space)
                finally:
                    fresh.close()
            _write_inputs(out, space)
        try:
            con = _connect(path)
        except sqlite3.DatabaseError as err:
            raise TritiumError(f"{path}: not a Tritium results database ({err})") from None
        try:
            try:
                con.executescript(_SCHEMA)
            except sqlite3.DatabaseError as err:
                raise TritiumError(f"{path}: not a Tritium results database ({err})") from None
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            count = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            _check_schema(out, meta)
            if existed and meta and not resume:
                raise TritiumError(f"{out}: already holds a sweep of space '{meta.get('name')}' ({count} points); "
                                   f"resume it or choose an empty folder")
            if meta and meta.get("digest") != space.digest:
                raise TritiumError(f"{out}: holds a sweep of a different space ('{meta.get('name')}': its name, "
                                   f"parameters, workloads, constraints or base chip differ); cannot resume it")
            if not meta:  # an empty SQLite file someone made: adopt it
                check_overwrite([out / name for name in INPUT_FILES], force=force)
                with _transaction(con):
                    _write_meta(con, space)
                _write_inputs(out, space)
            run = (con.execute("SELECT MAX(run) FROM runs").fetchone()[0] or 0) + 1
            with _transaction(con):
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?)", (run, time.time(), strategy, executor))
            seq = con.execute("SELECT COALESCE(MAX(seq), 0) FROM points").fetchone()[0]
        except BaseException:
            con.close()
            raise
        return cls(con, path, run, seq, lock)

    def done_ids(self) -> set[str]:
        """Ids of the points already in the file."""
        return {row[0] for row in self._con.execute("SELECT id FROM points")}

    def records(self) -> Iterator[dict]:
        """Every stored point as ``{id, workload, params, status, feasible, metrics}`` (metrics of METRICS)."""
        cols = ", ".join(_METRIC_COLUMNS)
        for row in self._con.execute(f"SELECT id, workload, params, status, feasible, {cols} FROM points"):
            yield {"id": row[0], "workload": row[1], "params": json.loads(row[2]), "status": row[3],
                   "feasible": bool(row[4]), "metrics": dict(zip(_METRIC_COLUMNS, (_nan(v) for v in row[5:])))}

    def write(self, records: Iterable[dict]) -> int:
        """Append finished points in one transaction; return how many were new (a repeat id is ignored)."""
        rows = []
        for r in records:
            self._seq += 1
            m = r["metrics"]
            extra = {k: v for k, v in m.items() if k not in METRICS and k not in ("node_nm", "dram_type")}
            rows.append((r["id"], self._seq, self.run, r["workload"], r["status"], r["error"],
                         json.dumps(r["params"], sort_keys=True), r["chip_toml"], int(r["feasible"]), r["violations"],
                         *(_sql_float(m.get(k)) for k in _METRIC_COLUMNS), m.get("node_nm"), m.get("dram_type"),
                         json.dumps(extra), r.get("eval_s"), r.get("cpu_s"), r.get("worker")))
        marks = ", ".join("?" * len(rows[0])) if rows else ""
        with _transaction(self._con):
            before = self._con.total_changes
            self._con.executemany(f"INSERT OR IGNORE INTO points VALUES ({marks})", rows)
            return self._con.total_changes - before

    def counts(self) -> dict[str, int]:
        """Points by status, plus ``feasible`` and ``total``."""
        out = {s: 0 for s in ("ok", "invalid", "error")}
        out.update(dict(self._con.execute("SELECT status, COUNT(*) FROM points GROUP BY status").fetchall()))
        out["feasible"] = self._con.execute("SELECT COUNT(*) FROM points WHERE feasible = 1").fetchone()[0]
        out["total"] = sum(out[s] for s in ("ok", "invalid", "error"))
        return out

    def top_errors(self, limit: int = 5) -> list[tuple[str, int]]:
        """The most frequent error texts of invalid and failed points, with their counts."""
        return self._con.execute("SELECT error, COUNT(*) AS n FROM points WHERE status != 'ok' GROUP BY error "
                                 "ORDER BY n DESC LIMIT ?", (limit,)).fetchall()

    def close(self) -> None:
        """Checkpoint the log into the database, close it and release the folder's lock."""
        try:
            try:
                self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self._con.close()
        finally:
            self._lock.release()


class _transaction:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb):
        self.con.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _sql_float(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _nan(value) -> float:
    return math.nan if value is None else float(value)


def _write_meta(con: sqlite3.Connection, space: Space) -> None:
    from tritium.sim import chip_to_toml

    rows = {"schema": SCHEMA_VERSION, "name": space.name, "digest": space.digest, "space_toml": space.text,
            "space_source": space.source, "base_toml": chip_to_toml(space.base),
            "params": json.dumps([p.path for p in space.params]), "created": repr(time.time())}
    con.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())


def _write_inputs(out: Path, space: Space) -> None:
    """Copies of the inputs, for people: ``space.toml`` and the resolved ``base.toml``."""
    from tritium.sim import chip_to_toml

    record_written([write_text_atomic(out / "space.toml", space.text),
                    write_text_atomic(out / "base.toml", chip_to_toml(space.base))])


def _check_schema(out: Path, meta: dict) -> None:
    if meta and meta.get("schema") != SCHEMA_VERSION:
        raise TritiumError(f"{out}: results written by another version of Tritium (schema {meta.get('schema')}, "
                           f"this one reads {SCHEMA_VERSION}); sweep again into a new folder")


_READ_META = ("schema", "name", "space_toml", "base_toml", "params")
"""The meta keys the readers need (a sweep writes them with the tables, in one transaction)."""


def _read_only(out_dir: str | Path) -> sqlite3.Connection:
    path = results_path(out_dir)
    con = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=30.0)
    try:
        try:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            raise TritiumError(f"{path}: not a Tritium results database ({err})") from None
        _check_schema(Path(out_dir), meta)
        missing = [key for key in _READ_META if not isinstance(meta.get(key), str)]
        if missing:
            raise TritiumError(f"{path}: not a whole Tritium results database (its meta table lacks "
                               f"{', '.join(missing)})")
    except BaseException:
        con.close()
        raise
    return con


def load_results(out_dir: str | Path, *, status: str | None = None, chips: bool = False) -> pd.DataFrame:
    """The points of the sweep in ``out_dir`` as a DataFrame, in evaluation order.

    Columns: id, run, seq, workload, status, error, feasible (bool), violations, the metrics
    of METRICS (NaN where not evaluated), node_nm, dram_type, eval_s and cpu_s (wall and CPU
    seconds the worker spent on the point), worker, one column per
    varied parameter (its dotted key), and ``chip_toml`` when ``chips``. ``status`` keeps
    only points of that status (``"ok"``, ``"invalid"``, ``"error"``).

    Raises:
        TritiumError: ``out_dir`` holds no sweep.
    """
    con = _read_only(out_dir)
    try:
        paths = json.loads(dict(con.execute("SELECT key, value FROM meta").fetchall())["params"])
        cols = ["id", "run", "seq", "workload", "status", "error", "feasible", "violations", *_METRIC_COLUMNS,
                "node_nm", "dram_type", "eval_s", "cpu_s", "worker", "params"] + (["chip_toml"] if chips else [])
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        df = pd.read_sql_query(f"SELECT {', '.join(cols)} FROM points {where} ORDER BY seq", con, params=args)
    finally:
        con.close()
    df["feasible"] = df["feasible"].astype(bool)
    for m in _METRIC_COLUMNS:
        df[m] = df[m].astype(float)
    params = [json.loads(p) for p in df.pop("params")]
    for path in paths:
        df[path] = [p.get(path) for p in params]
    return df


def load_space_of(out_dir: str | Path) -> Space:
    """The space a sweep folder was made from (its stored text; relative paths resolve against the folder)."""
    con = _read_only(out_dir)
    try:
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()
    import tomllib

    from tritium.sim import Chip
    from tritium.base.specio import from_mapping

    source = meta.get("space_source", "")
    folder = Path(source).parent if source and source != "<text>" else Path(out_dir)
    base = from_mapping(Chip, tomllib.loads(meta["base_toml"]))
    return space_from_toml(meta["space_toml"], base_dir=folder, source=f"{out_dir}/space.toml", base=base)
