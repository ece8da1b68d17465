"""Trace files: :func:`save_trace` writes a :class:`~tritium.workloads.Trace` to Parquet or CSV,
:func:`load_trace` reads it back (an exact round trip).

The record's metadata (model, scenario, statistics sources...) go in the file as the table's
``attrs`` of :meth:`Trace.to_table <tritium.workloads.Trace.to_table>`: Parquet keeps them as JSON under the schema
metadata key ``tritium``, CSV in a first line ``# tritium-trace {json}``. Files written before
traces were records read the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tritium.base.errors import TraceError, TritiumError
from tritium.base.fileio import atomic_path
from tritium.workloads.schema import TRACE_COLUMNS
from tritium.workloads.trace_record import Trace

__all__ = ["save_trace", "load_trace"]

# pandas 3 parses floats exactly by default and deprecates the option; pandas 2 needs it.
_EXACT_FLOATS = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def save_trace(trace: Trace | pd.DataFrame, path: str | Path) -> Path:
    """Write ``trace`` (a record, or a table with its metadata in ``attrs``) to ``path``
    (``.parquet`` or ``.csv``), atomically, with its metadata.

    CSV files start with one ``# tritium-trace {json attrs}`` line.

    Raises:
        TritiumError: an unknown suffix (nothing is written).
        TraceError: a malformed table (nothing is written).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise TritiumError(f"trace output {path}: unknown format {suffix or '(none)'!r}; use .parquet or .csv")
    df = Trace.of(trace).to_table()
    meta = json.dumps(df.attrs, sort_keys=True)
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            table = pa.Table.from_pandas(df, preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"tritium": meta.encode()})
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(f"# tritium-trace {meta}\n")
                df.to_csv(fh, index=False, na_rep="NaN")
    return path


def load_trace(path: str | Path) -> Trace:
    """Read a trace written by :func:`save_trace` (Parquet or CSV); exact round trip.

    Raises:
        TritiumError: no such file, or an unknown suffix.
        TraceError: the file is unreadable, not a trace, or its metadata are not a scenario.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise TritiumError(f"trace {path}: no such file")
    try:
        if suffix == ".parquet":
            table = pq.read_table(path)
            meta = (table.schema.metadata or {}).get(b"tritium")
            df = table.to_pandas()
            attrs = json.loads(meta) if meta else {}
        elif suffix == ".csv":
            with open(path, encoding="utf-8") as fh:
                first = fh.readline()
                if not first.startswith("# tritium-trace "):
                    raise TraceError(f"trace {path}: missing the '# tritium-trace' header line")
                attrs = json.loads(first[len("# tritium-trace "):])
                df = pd.read_csv(
                    fh,
                    keep_default_na=False,
                    na_values={c: ["NaN"] for c, t in TRACE_COLUMNS.items() if t == "float64"},
                    dtype={c: str for c, t in TRACE_COLUMNS.items() if t == "str"},
                    **_EXACT_FLOATS,
                )
        else:
            raise TritiumError(f"trace {path}: unknown format {suffix!r}; use .parquet or .csv")
    except (OSError, ValueError, pa.ArrowException) as err:
        raise TraceError(f"trace {path}: unreadable ({str(err).splitlines()[0]})") from None
    df.attrs = attrs
    return Trace.from_table(df, where=f"trace {path}")

