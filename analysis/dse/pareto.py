"""Pareto fronts of a sweep and picking the best chips out of it.

Directions come from :data:`~tritium.analysis.dse.space_record.METRICS`: tokens/s is maximised,
everything else (J/token, area, cost, power, latencies) minimised. A point is on the front
when no other point of the same workload is at least as good in every objective and
strictly better in one; points with equal objectives are all kept, and marked: the column
``equal_to`` names the first point (in front order) with the same objectives ("" for that
first one). :func:`pick` writes only the first of such a group and names the others.

CLI semantics (``tritium pareto`` and ``tritium pick`` are thin wrappers):

- ``tritium pareto DIR [--objectives tokens_per_s,joules_per_token[,area_mm2]] [--workload W]
  [--all]``: prints :func:`pareto` (``--all``: infeasible points too); objectives default to
  the space's.
- ``tritium pick DIR [--max-area-mm2 X] [--max-power-w X] [--min-tokens-per-s X]
  [--max-joules-per-token X] [--max-cost-usd X] [--max-time-per-output-token-s X]
  [--max-time-to-first-token-s X] [--top N] [--workload W] [--hdl] [--out DEST]``: writes
  :func:`pick`'s chip TOML files and prints their paths.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import numpy as np
import pandas as pd

from tritium.analysis.dse.space_record import METRICS
from tritium.analysis.dse.store import load_results, load_space_of
from tritium.base.errors import SpecError, TritiumError
from tritium.base.fileio import check_overwrite, record_written, write_text_atomic
from tritium.sim.chip import chip_to_toml

__all__ = ["non_dominated", "minimization_matrix", "pareto", "pick", "picked_metrics", "picked_params",
           "chip_file_name", "chip_description", "across_workloads", "ALL_WORKLOADS", "PICK_LIMITS"]

PICK_LIMITS = ("max_area_mm2", "max_power_w", "min_tokens_per_s", "max_joules_per_token", "max_cost_usd",
               "max_time_per_output_token_s", "max_time_to_first_token_s")
"""The limits :func:`pick` takes (``max_<metric>`` / ``min_<metric>``)."""


def _check_objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    objectives = tuple(objectives)
    if not 2 <= len(objectives) <= 3 or len(set(objectives)) != len(objectives):
        raise SpecError("objectives", list(objectives), "must be 2 or 3 distinct metrics of " + ", ".join(METRICS))
    for i, m in enumerate(objectives):
        if m not in METRICS:
            raise SpecError(f"objectives[{i}]", m, "must be one of " + ", ".join(METRICS))
    return objectives


def minimization_matrix(df: pd.DataFrame, objectives: Sequence[str]) -> np.ndarray:
    """The objective columns of ``df`` as a float matrix where smaller is better (maximised ones negated)."""
    cols = [df[m].to_numpy(dtype=float) * (-1.0 if METRICS[m].direction == "max" else 1.0) for m in objectives]
    return np.column_stack(cols) if cols else np.empty((len(df), 0))


def non_dominated(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``values`` (n x k, smaller is better) that no other row dominates.

    Rows with a NaN are never on the front. Sorting lexicographically first means a row can
    only be dominated by an earlier one, so each row is compared with the front so far.

    >>> non_dominated(np.array([[1.0, 4.0], [2.0, 2.0], [3.0, 3.0], [1.0, 4.0]])).tolist()
    [True, True, False, True]
    """
    values = np.asarray(values, dtype=float)
    mask = np.zeros(len(values), dtype=bool)
    finite = np.flatnonzero(np.isfinite(values).all(axis=1))
    if not finite.size:
        return mask
    order = finite[np.lexsort(values[finite].T[::-1])]
    front = np.empty((len(order), values.shape[1]))
    size = 0
    for i in order:
        v = values[i]
        kept = front[:size]
        if size and np.any(np.all(kept <= v, axis=1) & np.any(kept < v, axis=1)):
            continue
        front[size] = v
        size += 1
        mask[i] = True
    return mask


def _front(df: pd.DataFrame, objectives: Sequence[str]) -> pd.DataFrame:
    keep = np.zeros(len(df), dtype=bool)
    for _, idx in df.groupby("workload", sort=False).indices.items():
        keep[idx] = non_dominated(minimization_matrix(df.iloc[idx], objectives))
    return df[keep]


def pareto(out_dir: str | Path, objectives: Sequence[str] | None = None, *, workload: str | None = None,
           feasible_only: bool = True) -> pd.DataFrame:
    """The non-dominated points of the sweep in ``out_dir`` for 2 or 3 ``objectives``.

    ``objectives`` default to the space's. Each workload has its own front (``workload``
    keeps one; ``"all"`` judges each chip by its worst figures over every workload, feasible only
    where it met the constraints on all of them: :func:`across_workloads`). Only points that met
    the space's constraints count unless ``feasible_only=False``. Returns rows of :func:`~tritium.analysis.dse.store.load_results`
    (with ``chip_toml``), sorted by the first objective, best first.

    Raises:
        TritiumError: no sweep in ``out_dir``; an unknown workload.
        SpecError: not 2 or 3 known, distinct objectives.
    """
    space = load_space_of(out_dir)
    objectives = _check_objectives(objectives if objectives is not None else space.objectives)
    df = _selected(out_dir, workload, feasible_only)
    front = _front(df, objectives)
    return _mark_equal(_sorted(front, objectives[0]).reset_index(drop=True), objectives)


def _mark_equal(front: pd.DataFrame, objectives: Sequence[str]) -> pd.DataFrame:
    """``front`` with ``equal_to``: the id of the first row of its workload whose objectives are
    the same to 9 significant digits, or "" for a first (or unique) row."""
    first: dict[tuple, str] = {}
    marks = []
    for row in front.to_dict("records"):
        key = (row["workload"], *(float(f"{row[m]:.9g}") for m in objectives))
        marks.append(first.get(key, ""))
        first.setdefault(key, row["id"])
    out = front.copy()
    out["equal_to"] = marks
    return out


ALL_WORKLOADS = "all"
"""The ``workload`` that asks for chips judged on every workload of the space at once."""


def across_workloads(df: pd.DataFrame, space) -> pd.DataFrame:
    """One row per chip (same swept parameters) that was simulated on every workload of ``space``:
    its worst figure over the workloads for each metric (the lowest tokens/s, the highest J/token,
    latency, power, ...), ``feasible`` only where every workload met the space's constraints,
    ``workload`` = ``"all"``, and the id, chip and parameters of its first workload's point."""
    names = [w.name for w in space.workloads]
    keys = [p.path for p in space.params if p.path in df.columns]
    if df.empty or not keys:
        return df.iloc[0:0].assign(workload=ALL_WORKLOADS)
    grouped = df.groupby(keys, sort=False, dropna=False)
    complete = grouped.workload.transform("nunique") == len(names)
    df = df[complete]
    if df.empty:
        return df.assign(workload=ALL_WORKLOADS)
    grouped = df.groupby(keys, sort=False, dropna=False)
    agg = {m: ("max" if METRICS[m].direction == "min" else "min") for m in METRICS if m in df.columns}
    agg["feasible"] = "all"
    worst = grouped.agg(agg)
    first = grouped.head(1).set_index(keys)
    out = first.drop(columns=list(agg)).join(worst).reset_index()
    out["workload"] = ALL_WORKLOADS
    return out[[c for c in df.columns if c in out.columns]]


def _selected(out_dir, workload: str | None, feasible_only: bool) -> pd.DataFrame:
    df = load_results(out_dir, status="ok", chips=True)
    if workload == ALL_WORKLOADS:
        df = across_workloads(df, load_space_of(out_dir))
        return df[df.feasible] if feasible_only else df
    if workload is not None:
        names = sorted(set(load_results(out_dir).workload))
        if workload not in names:
            raise TritiumError(f"{out_dir}: no workload '{workload}'; workloads: {', '.join(names)}")
        df = df[df.workload == workload]
    return df[df.feasible] if feasible_only else df


def _sorted(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return df.sort_values(metric, ascending=METRICS[metric].direction == "min", kind="stable")


def _buildable(chip_toml: str) -> bool:
    import tomllib

    from tritium.hdl import check_buildable
    from tritium.sim import Chip
    from tritium.base.specio import from_mapping

    try:
        check_buildable(from_mapping(Chip, tomllib.loads(chip_toml)))
    except SpecError:
        return False
    return True


def pick(out_dir: str | Path, dest: str | Path | None = None, *, max_area_mm2: float | None = None,
         max_power_w: float | None = None, min_tokens_per_s: float | None = None,
         max_joules_per_token: float | None = None, max_cost_usd: float | None = None,
         max_time_per_output_token_s: float | None = None, max_time_to_first_token_s: float | None = None,
         objectives: Sequence[str] | None = None, rank_by: str | None = None, top: int = 5,
         workload: str | None = None, feasible_only: bool = True, hdl: bool = False,
         force: bool = False) -> list[Path]:
    """Write the best chips of a sweep that meet the given limits as chip TOML files; return their paths.

    Candidates are the simulated points of one workload (``workload``; default the space's
    first; ``"all"``: each chip by its worst figures over every workload, so the limits and
    constraints hold on all of them, e.g. a range of decode lengths) that meet every limit given
    here and, with ``feasible_only``, the space's own constraints. Of those, the Pareto front over ``objectives`` (default the space's) is
    ranked by ``rank_by`` (default the first objective), best first, and the first ``top``
    are written to ``dest`` (default ``OUT/picked``), each atomically as ``<chip name>.toml``
    (the name made a plain file name: :func:`chip_file_name`; nothing is written outside
    ``dest``) with a comment header giving its metrics: ready for ``tritium simulate --chip`` and
    ``tritium report --chip``. ``hdl`` keeps only chips the HDL generator builds
    (:func:`tritium.hdl.check_buildable`: zero handling ``none`` or ``gate``, TLU and buffer
    sizes within its limits), ready for ``tritium hdl export --chip`` as well. No candidate:
    an empty list.

    A file of the same name in ``dest`` that Tritium did not write is not overwritten
    unless ``force``.

    Raises:
        TritiumError: no sweep in ``out_dir``; an unknown workload; a picked chip stored as
            anything but a valid chip; a file in the way (without ``force``).
        SpecError: a limit that is not a finite number; bad objectives; ``top`` < 1.
    """
    space = load_space_of(out_dir)
    objectives = _check_objectives(objectives if objectives is not None else space.objectives)
    rank_by = rank_by or objectives[0]
    if rank_by not in METRICS:
        raise SpecError("rank_by", rank_by, "must be one of " + ", ".join(METRICS))
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise SpecError("top", top, "must be an integer >= 1")
    limits = {"max_area_mm2": max_area_mm2, "max_power_w": max_power_w, "min_tokens_per_s": min_tokens_per_s,
              "max_joules_per_token": max_joules_per_token, "max_cost_usd": max_cost_usd,
              "max_time_per_output_token_s": max_time_per_output_token_s,
              "max_time_to_first_token_s": max_time_to_first_token_s}
    df = _selected(out_dir, workload if workload is not None else space.workloads[0].name, feasible_only)
    for key, bound in limits.items():
        if bound is None:
            continue
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not math.isfinite(bound):
            raise SpecError(key, bound, "must be a finite number")
        kind, _, metric = key.partition("_")
        df = df[df[metric] <= bound] if kind == "max" else df[df[metric] >= bound]
    if hdl:
        df = df[np.array([_buildable(text) for text in df.chip_toml], dtype=bool)]
    front = _mark_equal(_sorted(_front(df, objectives), rank_by).reset_index(drop=True), objectives)
    best = front[front.equal_to == ""].head(top)
    paths_of = [p.path for p in space.params]
    varied = [p for p in paths_of if p in best.columns and best[p].astype(str).nunique() > 1]
    folder = Path(dest) if dest is not None else Path(out_dir) / "picked"
    files: dict[Path, str] = {}
    for record in best.to_dict("records"):
        row = SimpleNamespace(**{k: v for k, v in record.items() if k.isidentifier()})
        chip = _stored_chip(out_dir, row.id, row.chip_toml)
        name = chip_file_name(chip.name)
        if folder / f"{name}.toml" in files:  # two chips of one name: both kept
            tag = chip_file_name(row.id)[:40]
            name = f"{name[:_MAX_NAME - 1 - len(tag)]}-{tag}"
        header = "".join(f"# {m} = {getattr(row, m):.6g} {METRICS[m].unit}\n" for m in METRICS
                         if not math.isnan(getattr(row, m, math.nan)))
        header += "".join(f"# param {p} = {_one_line(record[p])}\n" for p in varied)
        equal = front[front.equal_to == row.id]
        if len(equal):
            header += (f"# equal results: {len(equal)} more point(s) of the front give the same objectives: "
                       + "; ".join(f"{_one_line(e['id'])} ({_differs(record, e, paths_of)})"
                                   for e in equal.head(5).to_dict("records")) + "\n")
        described = dataclasses.replace(chip, description=_one_line(
            f"Picked from sweep '{space.name}', point {row.id}, workload {row.workload}: {chip_description(chip)}"))
        files[folder / f"{name}.toml"] = (f"# Picked from sweep {_one_line(out_dir)} (space '{_one_line(space.name)}', "
                                          f"point {_one_line(row.id)}, workload {_one_line(row.workload)})\n"
                                          f"{header}\n{chip_to_toml(described)}")
    check_overwrite(files, force=force)
    paths = [write_text_atomic(path, text) for path, text in files.items()]
    record_written(paths)
    return paths


_MAX_NAME = 100


def chip_file_name(name: str) -> str:
    """``name`` (a chip's, from a results file anyone may have written) as a plain file name
    stem: letters, digits, ``.``, ``-`` and ``_`` kept, anything else (``/``, ``\\``, spaces,
    control characters) made ``_``, no leading dot, at most 100 characters.

    >>> chip_file_name("edge-7nm_a1"), chip_file_name("../../x"), chip_file_name("/etc/passwd")
    ('edge-7nm_a1', '_._.._x', '_etc_passwd')
    """
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", str(name))[:_MAX_NAME]
    stem = re.sub(r"^\.", "_", stem)
    return stem if stem.strip("._") else "chip"


def _differs(a: dict, b: dict, paths: Sequence[str]) -> str:
    diff = [f"{p} = {_one_line(b[p])}" for p in paths if p in a and p in b and str(a[p]) != str(b[p])]
    return ", ".join(diff) or "same parameters"


def chip_description(chip) -> str:
    """What a chip file holds, in one line: node, chips and cores, the TLU, clock, SRAM and DRAM.

    >>> from tritium.sim import load_chip
    >>> chip_description(load_chip("edge-lpddr5"))
    '7 nm, 1 core, TLU 64x64 (2bit, zeros gate) at 1 GHz, 3.5 MiB SRAM, 2 x LPDDR5 (102.4 GB/s, 8 GiB)'
    """
    cores = f"{chip.cores} core{'s' if chip.cores != 1 else ''}"
    chips = f"{chip.chips} chips x {cores}" if chip.chips > 1 else cores
    sram = (chip.sram.weight.capacity_kib + chip.sram.act.capacity_kib + chip.sram.kv.capacity_kib) / 1024
    t, d = chip.tlu, chip.dram
    style = getattr(t, "style", "adder_tree")
    kind = "" if style == "adder_tree" else f" {style}"
    clock = f"{chip.clock_mhz / 1000:g} GHz" if chip.clock_mhz >= 1000 else f"{chip.clock_mhz:g} MHz"
    return (f"{chip.node_nm:g} nm, {chips}, TLU{kind} {t.rows}x{t.width} ({t.weight_encoding}, zeros "
            f"{t.zero_handling}) at {clock}, {sram:g} MiB SRAM, {d.channels} x {d.type} "
            f"({d.bandwidth_gb_s:g} GB/s, {d.capacity_gib:g} GiB)")


def _stored_chip(out_dir, point: str, chip_toml: str):
    """A stored chip, which must still be a valid chip (the file may have been tampered with)."""
    import tomllib

    from tritium.sim import Chip
    from tritium.base.specio import from_mapping

    try:
        return from_mapping(Chip, tomllib.loads(chip_toml))
    except (tomllib.TOMLDecodeError, RecursionError, ValueError) as err:  # SpecError is a ValueError
        raise TritiumError(f"{out_dir}: point {_one_line(point)} holds a chip that is not valid chip TOML "
                           f"({_one_line(err)})") from None


def _one_line(text: object) -> str:
    """Stored text fit for a one-line comment (a tampered name could end the comment)."""
    return " ".join(str(text).splitlines())


def picked_params(path: str | Path) -> dict[str, str]:
    """The varied parameters in the comment header :func:`pick` writes (those that differ between
    the chips picked together), by dotted key."""
    values = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        if line.startswith("# param "):
            key, _, rest = line[len("# param "):].partition(" = ")
            values[key] = rest
    return values


def picked_metrics(path: str | Path) -> dict[str, float]:
    """The metrics in the comment header :func:`pick` writes atop a chip file, by metric name."""
    values = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, eq, rest = line[2:].partition(" = ")
        if eq and key in METRICS:
            values[key] = float(rest.split()[0])
    return values
