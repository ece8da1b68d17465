"""Frozen descriptions on disk: dataclass <-> mapping <-> TOML, with clear errors.

Descriptions (chips, model specs, scenarios) are ``@dataclass(frozen=True, slots=True)``
classes that check themselves in ``__post_init__`` with the ``check_*`` helpers below.
:func:`from_mapping` builds one from a parsed TOML table: unknown keys, missing keys
and wrong types are rejected with a :class:`~tritium.base.errors.SpecError` naming the
dotted key, the value and what is allowed. :func:`to_mapping` is its inverse, so
``from_mapping(cls, to_mapping(x)) == x`` for every valid ``x``.

Supported field types: ``int``, ``float``, ``str``, ``bool``, ``tuple[str, ...]``,
``tuple[int, ...]``, ``X | None`` of those, and nested description dataclasses.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

import tomli_w

from tritium.base.errors import MISSING, SpecError, TritiumError, shown_path

__all__ = [
    "from_mapping",
    "to_mapping",
    "load_toml",
    "parse_toml",
    "dumps_toml",
    "check_int",
    "check_float",
    "check_choice",
    "check_power_of_two",
    "check_type",
    "check_keys",
]

T = TypeVar("T")

_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def check_int(key: str, value: object, *, lo: int | None = None, hi: int | None = None) -> None:
    """Raise :class:`SpecError` unless ``value`` is an int within ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(key, value, _range_phrase("an integer", lo, hi))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise SpecError(key, value, _range_phrase("an integer", lo, hi))


def check_float(
    key: str,
    value: object,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
) -> None:
    """Raise :class:`SpecError` unless ``value`` is a finite number in range.

    ``lo_open=True`` excludes ``lo`` itself (for quantities that must be > 0).
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        word = "a number"
        if lo is not None and lo_open:
            upper = "" if hi is None else f" and <= {hi}"
            raise SpecError(key, value, f"must be {word} > {lo}{upper}")
        raise SpecError(key, value, _range_phrase(word, lo, hi))


def check_choice(key: str, value: object, choices: Iterable[object]) -> None:
    """Raise :class:`SpecError` unless ``value`` is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise SpecError(key, value, f"must be one of {listed}")


def check_power_of_two(key: str, value: object, *, lo: int = 1, hi: int | None = None) -> None:
    """Raise :class:`SpecError` unless ``value`` is a power of two in ``[lo, hi]``."""
    check_int(key, value, lo=lo, hi=hi)
    if value & (value - 1):
        raise SpecError(key, value, _range_phrase("a power of two", lo, hi))


def check_type(key: str, value: object, tp: type) -> None:
    """Raise :class:`SpecError` unless ``value`` is a TOML value of type ``tp`` (``int``,
    ``float``, ``str`` or ``bool``): an int for ``float`` too, never a bool for a number, and a
    ``float`` finite (TOML's ``nan`` and ``inf`` are refused).

    >>> check_type("tlu.rows", 32, int)
    >>> check_type("tlu.rows", True, int)
    Traceback (most recent call last):
    tritium.base.errors.SpecError: tlu.rows = True: must be an integer
    >>> check_type("clock_mhz", float("nan"), float)
    Traceback (most recent call last):
    tritium.base.errors.SpecError: clock_mhz = nan: must be a finite number (not nan or inf)
    """
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, tp) and not isinstance(value, bool)
    if not ok:
        raise SpecError(key, value, f"must be {_TYPE_WORDS[tp]}")
    if tp is float and not math.isfinite(value):
        raise SpecError(key, value, "must be a finite number (not nan or inf)")


def check_keys(where: str, table: Mapping, allowed: Iterable[str]) -> None:
    """Raise :class:`SpecError` for the first key of ``table`` not in ``allowed``; ``where`` is
    the dotted prefix of the table's keys in the message (``"search."``).

    >>> check_keys("search.", {"seed": 0, "sead": 1}, ("strategy", "seed"))
    Traceback (most recent call last):
    tritium.base.errors.SpecError: search.sead = 1: unknown key; allowed keys here: strategy, seed
    """
    allowed = tuple(allowed)
    for key in table:
        if key not in allowed:
            raise SpecError(f"{where}{key}", table[key], f"unknown key; allowed keys here: {', '.join(allowed)}")


def _range_phrase(word: str, lo: object, hi: object) -> str:
    if lo is not None and hi is not None:
        return f"must be {word} from {lo} to {hi}"
    if lo is not None:
        return f"must be {word} >= {lo}"
    if hi is not None:
        return f"must be {word} <= {hi}"
    return f"must be {word}"


def from_mapping(cls: type[T], data: object, *, where: str = "") -> T:
    """Build the description dataclass ``cls`` from a mapping (a parsed TOML table).

    ``where`` is the dotted prefix used in error messages (``"tlu."``). Raises
    :class:`SpecError` for unknown keys, missing keys, wrong types, and whatever
    ``cls.__post_init__`` rejects.
    """
    if not isinstance(data, Mapping):
        raise SpecError(where.rstrip(".") or cls.__name__, data, "must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        allowed = ", ".join(fields)
        raise SpecError(f"{where}{unknown[0]}", data[unknown[0]], f"unknown key; allowed keys here: {allowed}")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise SpecError(f"{where}{name}", MISSING, f"required ({_describe(hints[name])})")
            continue
        kwargs[name] = _convert(hints[name], data[name], f"{where}{name}")
    try:
        return cls(**kwargs)
    except SpecError as err:
        raise err.prefixed(where) from None


def _describe(tp: object) -> str:
    if tp in _TYPE_WORDS:
        return _TYPE_WORDS[tp]
    if dataclasses.is_dataclass(tp):
        return "a table"
    return "see the documentation"


def _convert(tp: object, value: object, key: str) -> object:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, key)
    if dataclasses.is_dataclass(tp):
        return from_mapping(tp, value, where=f"{key}.")
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            raise SpecError(key, value, f"must be a list of {_TYPE_WORDS[item].split(' ', 1)[1]}s")
        return tuple(_convert(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(key, value, "must be a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(key, value, "must be an integer")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(key, value, "must be true or false")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(key, value, "must be a string")
        return value
    raise TypeError(f"specio cannot convert field type {tp!r} ({key})")


def to_mapping(obj: object) -> dict[str, Any]:
    """The inverse of :func:`from_mapping`: nested dicts, lists for tuples, ``None`` left out."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if value is None:
            continue
        if dataclasses.is_dataclass(value):
            value = to_mapping(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[field.name] = value
    return out


MAX_TOML_BYTES = 16 * 2**20
"""Largest description file :func:`load_toml` reads (16 MiB; a chip or space is a few KB)."""

MAX_TOML_DEPTH = 32
"""Deepest nesting of tables and arrays a description may have (chips nest three)."""

_INT64 = (-(2**63), 2**63 - 1)


def load_toml(path: str | Path, what: str = "file") -> dict[str, Any]:
    """Parse a TOML file, turning I/O and syntax problems into one-line errors.

    Raises :class:`TritiumError` (naming ``what`` and the file) when the file cannot be
    read, is larger than :data:`MAX_TOML_BYTES`, is not UTF-8, or :func:`parse_toml`
    refuses its text.
    """
    path = Path(path)
    name = shown_path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise TritiumError(f"{what} {name}: no such file") from None
    except IsADirectoryError:
        raise TritiumError(f"{what} {name}: is a directory, not a TOML file") from None
    except OSError as err:
        raise TritiumError(f"{what} {name}: cannot read ({err.strerror or type(err).__name__})") from None
    if len(raw) > MAX_TOML_BYTES:
        raise TritiumError(f"{what} {name}: larger than {MAX_TOML_BYTES} bytes; a description is a few KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TritiumError(f"{what} {name}: not UTF-8 text, so not TOML") from None
    return parse_toml(text, f"{what} {name}")


def parse_toml(text: str, where: str = "TOML") -> dict[str, Any]:
    """Parse TOML text into a dict, refusing what TOML itself forbids or no description needs.

    Raises :class:`TritiumError` (starting with ``where``) for malformed TOML, an integer
    outside the 64-bit range TOML allows (the TOML spec requires refusing those; Python
    would also refuse to read one of more than 4,300 digits), or nesting deeper than
    :data:`MAX_TOML_DEPTH`.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise TritiumError(f"{where}: malformed TOML ({err})") from None
    except RecursionError:
        raise TritiumError(f"{where}: malformed TOML (nested too deeply for the parser; a description may "
                           f"nest at most {MAX_TOML_DEPTH} levels)") from None
    except ValueError as err:  # tomllib's int() of more than sys.get_int_max_str_digits() digits
        raise TritiumError(f"{where}: malformed TOML (an integer outside the 64-bit range TOML allows: "
                           f"{str(err).split(':')[0]})") from None
    _check_tree(data, where)
    return data


def _check_tree(data: dict, where: str) -> None:
    """Depth and integer range over the parsed tree, iteratively (no recursion to exhaust)."""
    stack: list[tuple[object, str, int]] = [(data, "", 0)]
    while stack:
        node, key, depth = stack.pop()
        if isinstance(node, dict):
            items = [(f"{key}.{k}" if key else str(k), v) for k, v in node.items()]
        elif isinstance(node, list):
            items = [(f"{key}[{i}]", v) for i, v in enumerate(node)]
        else:
            if isinstance(node, int) and not isinstance(node, bool) and not _INT64[0] <= node <= _INT64[1]:
                raise TritiumError(f"{where}: malformed TOML ({shown_path(key)} is an integer outside the 64-bit "
                                   "range TOML allows)")
            continue
        if depth >= MAX_TOML_DEPTH:
            raise TritiumError(f"{where}: malformed TOML ({shown_path(key)} is nested more than "
                               f"{MAX_TOML_DEPTH} levels deep)")
        stack.extend((v, k, depth + 1) for k, v in items)


def dumps_toml(obj: object, header: str = "") -> str:
    """Serialise a description dataclass to TOML text, with an optional ``#`` header."""
    body = tomli_w.dumps(to_mapping(obj))
    if header:
        lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
        return lines + "\n" + body
    return body
