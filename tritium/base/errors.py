"""Errors Tritium raises for bad input.

Every problem with what a user gave us (a file, a name, a number) is a
:class:`TritiumError`. The CLI prints it as one line, ``error: <message>``, and
exits with status 2; no traceback. Anything else escaping is a bug in Tritium.
"""

from __future__ import annotations

import difflib

__all__ = ["TritiumError", "SpecError", "CheckpointError", "TraceError", "did_you_mean", "shown", "shown_path", "printable"]


class TritiumError(Exception):
    """A problem with the user's input, explained in one line."""


class SpecError(TritiumError, ValueError):
    """A description (chip, model, scenario) has a missing, unknown or impossible value.

    ``key`` is the dotted key (``"tlu.rows"``), ``value`` what was given and
    ``allowed`` a short phrase saying what is allowed.
    """

    def __init__(self, key: str, value: object, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(self._text())

    def _text(self) -> str:
        if self.value is MISSING:
            return f"{self.key}: missing; {self.allowed}"
        return f"{self.key} = {shown(self.value)}: {self.allowed}"

    def prefixed(self, prefix: str) -> "SpecError":
        """The same error with ``prefix`` prepended to its key (``"tlu." + "rows"``)."""
        return SpecError(f"{prefix}{self.key}", self.value, self.allowed)


class CheckpointError(TritiumError):
    """A checkpoint file is truncated, corrupt or in a format Tritium cannot read."""


class TraceError(TritiumError):
    """A trace, scenario or workload file is malformed or impossible."""


_SHOWN_CHARS = 120


def shown(value: object) -> str:
    """``repr(value)`` fit for a one-line message: an integer too long to print usefully
    (or at all: Python refuses to print one of more than 4,300 digits) becomes its digit
    count, and anything longer than 120 characters is cut in the middle.

    >>> shown(10**5000), shown("x" * 3)
    ('<an integer of 5001 digits>', "'xxx'")
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        digits = len(str(abs(value))) if value.bit_length() < 14000 else int(value.bit_length() * 0.30103) + 1
        return f"<an integer of {digits} digits>"
    return _cut(repr(value))


def shown_path(path: object) -> str:
    """A file name fit for a one-line message: :func:`printable`, and cut in the middle
    when longer than 120 characters."""
    return _cut(printable(str(path)))


def printable(text: str) -> str:
    """``text`` with the bytes of a non-UTF-8 file name (Python's lone surrogates) shown as
    ``\\xNN`` escapes, so it can be printed and encoded as UTF-8."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _cut(text: str) -> str:
    if len(text) <= _SHOWN_CHARS:
        return text
    half = _SHOWN_CHARS // 2 - 3
    return f"{text[:half]}...({len(text)} characters)...{text[-half:]}"


def did_you_mean(name: object, choices: list[str]) -> str:
    """``"; did you mean a, b?"`` for the choices close to ``name``, or ``""``.

    Close means: starting with what was typed (``edge`` for ``edge-lpddr5``) or
    similar by :func:`difflib.get_close_matches`; at most three, best first. A
    ``name`` that is not a string (a path object, a number) is close to nothing.
    """
    if not isinstance(name, str):
        return ""
    key = name.strip().lower()
    if not key:
        return ""
    close = [c for c in choices if c.lower().startswith(key)]
    close += [c for c in difflib.get_close_matches(key, choices, n=3, cutoff=0.6) if c not in close]
    return f"; did you mean {', '.join(close[:3])}?" if close else ""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()
