"""The ``[params]`` table of a space: which chip keys may vary, and the values each one takes.

:func:`param_paths` lists every dotted chip key a space may vary (every scalar field of
:class:`~tritium.sim.Chip`, plus :data:`DERIVED_PARAMS`); :func:`parse_params` checks the table
and expands each entry, a list of values or a range table ``{start, stop, step|factor}``, into
a :class:`~tritium.analysis.dse.space_record.Param` (its values in order, floats for a float
field). Which chip a combination of values makes is :func:`tritium.analysis.dse.evaluate.build_chip`.

>>> [p.values for p in parse_params({"tlu": {"rows": [32, 64]},
...                                  "clock_mhz": {"start": 500, "stop": 1000, "step": 250}})]
[(32, 64), (500.0, 750.0, 1000.0)]
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Mapping

from tritium.analysis.dse.space_record import Param
from tritium.base.errors import MISSING, SpecError, did_you_mean
from tritium.base.specio import check_int, check_keys, check_type

__all__ = ["DERIVED_PARAMS", "MAX_VALUES", "param_paths", "parse_params"]

DERIVED_PARAMS = {"attention.size": int, "dram.gib_per_channel": float}
"""Parameters that set more than one chip field (see :mod:`~tritium.analysis.dse.space`)."""

MAX_VALUES = 4096
"""Most values one parameter may take."""

_RANGE_KEYS = ("start", "stop", "step", "factor")
_FROZEN_FIELDS = ("name", "description")  # top-level chip fields a space may not vary
_EXCLUSIVE = {  # a derived parameter, and the chip fields it sets
    "attention.size": ("attention.unit", "attention.mac_rows", "attention.mac_cols"),
    "dram.gib_per_channel": ("dram.capacity_gib",),
}


def param_paths() -> dict[str, type]:
    """Every dotted chip key a space may vary, with its value type (int, float, str or bool)."""
    from tritium.sim import Chip

    out: dict[str, type] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if typing.get_origin(tp) in (typing.Union, types.UnionType):
                tp = next(a for a in typing.get_args(tp) if a is not type(None))
            if dataclasses.is_dataclass(tp):
                walk(tp, f"{prefix}{f.name}.")
            elif not prefix and f.name in _FROZEN_FIELDS:
                continue
            else:
                out[f"{prefix}{f.name}"] = tp

    walk(Chip, "")
    out.update(DERIVED_PARAMS)
    return out


def parse_params(table: object) -> tuple[Param, ...]:
    """The varied parameters of a ``[params]`` table, in file order.

    Raises:
        SpecError: the table is missing or empty; a key is no chip parameter; a value list is
            empty, too long, repeats a value or holds a value of the wrong type; a range table
            is malformed; a derived parameter is varied beside a field it sets.
    """
    if not isinstance(table, Mapping) or not table:
        raise SpecError("params", table, "required: a table of dotted chip keys, each a list of values or a range")
    allowed = param_paths()
    out = []
    for path, spec in _flatten(table).items():
        key = f"params.{path}"
        if path not in allowed:
            raise SpecError(key, spec, f"not a chip parameter{did_you_mean(path, sorted(allowed))} "
                            f"(allowed: {', '.join(sorted(allowed))})")
        values = _values(key, spec, allowed[path])
        if path == "attention.size":
            for v in values:
                check_int(key, v, lo=0)
        elif path == "dram.gib_per_channel":
            for v in values:
                if not v > 0:
                    raise SpecError(key, v, "must be a number of GiB > 0")
        out.append(Param(path, values))
    varied = {p.path: p.values for p in out}
    for derived, fields in _EXCLUSIVE.items():
        clash = [f for f in fields if f in varied]
        if derived in varied and clash:
            raise SpecError(f"params.{derived}", list(varied[derived]),
                            f"cannot be varied together with {', '.join(clash)}, which it sets; vary one of them")
    return tuple(out)


def _flatten(table: Mapping, prefix: str = "") -> dict[str, object]:
    """``{"tlu": {"rows": [..]}}`` -> ``{"tlu.rows": [..]}``; range tables are leaves."""
    out: dict[str, object] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping) and not any(k in value for k in _RANGE_KEYS):
            out.update(_flatten(value, f"{full}."))
        else:
            out[full] = value
    return out


def _values(key: str, spec: object, tp: type) -> tuple:
    """The values of one parameter: a list as given, or a range table expanded."""
    if isinstance(spec, Mapping):
        values = _range(key, spec, tp)
    elif isinstance(spec, list):
        values = tuple(spec)
    else:
        raise SpecError(key, spec, "must be a list of values or a range table {start, stop, step|factor}")
    if not values:
        raise SpecError(key, list(values), "must list at least one value")
    if len(values) > MAX_VALUES:
        raise SpecError(key, f"{len(values)} values", f"at most {MAX_VALUES} values per parameter")
    for i, v in enumerate(values):
        check_type(f"{key}[{i}]", v, tp)
    if len(set(values)) != len(values):
        raise SpecError(key, list(values), "values must be distinct")
    return tuple(float(v) if tp is float else v for v in values)


def _range(key: str, spec: Mapping, tp: type) -> tuple:
    """``{start, stop, step}`` (arithmetic) or ``{start, stop, factor}`` (geometric), stop included."""
    check_keys(f"{key}.", spec, _RANGE_KEYS)
    if tp not in (int, float):
        raise SpecError(key, dict(spec), "a range needs a numeric parameter; list the values instead")
    for k in ("start", "stop"):
        if k not in spec:
            raise SpecError(f"{key}.{k}", MISSING, "required in a range table")
        check_type(f"{key}.{k}", spec[k], tp)
    if ("step" in spec) == ("factor" in spec):
        raise SpecError(key, dict(spec), "a range needs exactly one of step (arithmetic) or factor (geometric)")
    start, stop = spec["start"], spec["stop"]
    if start > stop:
        raise SpecError(f"{key}.stop", stop, f"must be >= start = {start}")
    if "step" in spec:
        step = spec["step"]
        check_type(f"{key}.step", step, tp)
        if not step > 0:
            raise SpecError(f"{key}.step", step, "must be > 0")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise SpecError(key, dict(spec), f"gives {count} values; at most {MAX_VALUES} per parameter")
        return tuple(start + i * step if tp is int else round(start + i * step, 9) for i in range(count))
    factor = spec["factor"]
    check_type(f"{key}.factor", factor, tp)
    if not factor > 1 or start <= 0:
        raise SpecError(f"{key}.factor", factor, "must be > 1, with start > 0")
    values, v = [], start
    while v <= stop * (1 + 1e-9):
        values.append(v if tp is int else round(v, 9))
        v = v * factor
        if len(values) > MAX_VALUES:
            raise SpecError(key, dict(spec), f"gives more than {MAX_VALUES} values")
    return tuple(values)
