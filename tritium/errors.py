"""Errors Tritium raises for bad input.

Every problem with what a user gave us (a file, a name, a number) is a
:class:`TritiumError`. The CLI prints it as one line, ``error: <message>``, and
exits with status 2; no traceback. Anything else escaping is a bug in Tritium.
"""

from __future__ import annotations

import difflib

__all__ = ["TritiumError", "SpecError", "CheckpointError", "TraceError", "did_you_mean"]


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
        if self.value is _MISSING:
            return f"{self.key}: missing; {self.allowed}"
        return f"{self.key} = {self.value!r}: {self.allowed}"

    def prefixed(self, prefix: str) -> "SpecError":
        """The same error with ``prefix`` prepended to its key (``"tlu." + "rows"``)."""
        return SpecError(f"{prefix}{self.key}", self.value, self.allowed)


class CheckpointError(TritiumError):
    """A checkpoint file is truncated, corrupt or in a format Tritium cannot read."""


class TraceError(TritiumError):
    """A trace, scenario or workload file is malformed or impossible."""


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


_MISSING = _Missing()
