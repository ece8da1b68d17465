"""Helpers shared by the CLI's command modules: scenario options, JSON output, progress bars,
and the mapping of the built-in errors a user can cause to one ``error:`` line."""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
import time
import tomllib

from tritium.base.errors import printable, shown_path
from tritium.base.fileio import json_text

__all__ = ["scenario_args", "precision_args", "mapping_args", "print_json", "ProgressBar", "duration", "USER_ERRORS",
           "user_error", "one_line"]

USER_ERRORS = (OSError, OverflowError, RecursionError, ValueError, sqlite3.DatabaseError)
"""Built-in error classes some of whose instances come from what the user gave; :func:`user_error`
says which (a ValueError only from parsing, not every one)."""

_MAX_MESSAGE = 1000


_PLACES = {
    "tritium.analysis.dse.store": "reading the sweep's results.sqlite",
    "tritium.workloads.model_config": "reading a model's config.json",
    "tritium.workloads.checkpoints": "reading a checkpoint",
}
"""Where an error arose (the innermost Tritium module of its traceback), in the user's words."""


def _place(err: BaseException) -> str:
    """`` while reading ...`` for the innermost Tritium frame of ``err``'s traceback, or ``""``."""
    module, tb = "", err.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if name.startswith("tritium.") and not name.startswith(("tritium.cli", "tritium.base.errors")):
            module = name
        tb = tb.tb_next
    for prefix, words in _PLACES.items():
        if module == prefix or module.startswith(prefix + "."):
            return f" while {words}"
    return ""


def user_error(err: BaseException) -> str | None:
    """The one-line message for an error the user's input caused, or None for a bug.

    - :class:`OSError`: a file or folder that cannot be read or written (names it).
    - :class:`OverflowError`: a number too large for the arithmetic it feeds.
    - :class:`RecursionError`: input nested too deeply (JSON or TOML).
    - :class:`ValueError`: only parsing errors: malformed JSON or TOML, text or a file name
      that is not valid UTF-8, an integer of more digits than Python converts (4,300).
    - :class:`sqlite3.DatabaseError`: a sweep's ``results.sqlite`` that is damaged, not a
      database, or not one a sweep wrote (``sqlite3.ProgrammingError`` and ``InterfaceError``
      are misuse of the API: bugs).
    """
    message = _message(err)
    if message is None or (isinstance(err, OSError) and err.filename is not None):
        return message  # a message naming its file says where already
    return message + _place(err)


def _message(err: BaseException) -> str | None:
    if isinstance(err, OSError):
        if err.filename is None:
            return f"{err.strerror or err}"
        names = shown_path(err.filename) + (f" -> {shown_path(err.filename2)}" if err.filename2 else "")
        return f"{names}: {err.strerror or type(err).__name__}"
    if isinstance(err, OverflowError):
        return f"a number is too large ({err})"
    if isinstance(err, RecursionError):
        return "input nested too deeply to read (JSON or TOML nests a few levels in any real file)"
    if isinstance(err, sqlite3.DatabaseError) and not isinstance(err, sqlite3.ProgrammingError):
        return f"database damaged or not written by tritium sweep ({err})"
    if isinstance(err, json.JSONDecodeError):
        return f"malformed JSON ({err.msg} at line {err.lineno})"
    if isinstance(err, tomllib.TOMLDecodeError):
        return f"malformed TOML ({err})"
    if isinstance(err, UnicodeDecodeError):
        return f"text that is not valid UTF-8 ({err.reason} at byte {err.start})"
    if isinstance(err, UnicodeError):
        return f"a file name or text that cannot be written as UTF-8 ({err.reason})"
    if isinstance(err, ValueError) and "integer string conversion" in str(err):
        return "a number of more than 4300 digits (JSON and TOML numbers are at most 64-bit)"
    return None


def one_line(message: str) -> str:
    """``message`` as one printable line: newlines folded, bytes of non-UTF-8 file names shown as
    escapes, at most 1000 characters."""
    text = printable(" ".join(message.splitlines()))
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 40] + f"... ({len(text)} characters)"
    return text

# The choices of workloads.models.LM_HEAD_DTYPES / KV_DTYPES and sim.mapping.OBJECTIVES, spelled
# here so --help does not import the simulator (tests/cli/test_cli.py checks they agree).
LM_HEAD_DTYPES = ("bf16", "fp16", "fp32", "int8")
KV_DTYPES = ("bf16", "fp16", "fp32", "fp8", "int8")
OBJECTIVES = ("latency", "energy", "edp")


def scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefill", type=int, default=512, help="prompt tokens (default: %(default)s)")
    p.add_argument("--decode", type=int, default=128, help="generated tokens (default: %(default)s)")
    p.add_argument("--batch", type=int, default=1, help="sequences in the batch (default: %(default)s)")


def precision_args(p: argparse.ArgumentParser) -> None:
    """``--lm-head-dtype`` and ``--kv-dtype``: the model's LM head and KV-cache precisions."""
    p.add_argument("--lm-head-dtype", choices=LM_HEAD_DTYPES,
                   help="precision of the LM head (int8: W8A8, its input quantized per token; default: the model's)")
    p.add_argument("--kv-dtype", choices=KV_DTYPES,
                   help="precision of the KV cache and the attention products that read it (default: the model's)")


def mapping_args(p: argparse.ArgumentParser) -> None:
    """``--mapping-objective``: what the chip's mapper minimizes for each op."""
    p.add_argument("--mapping-objective", choices=OBJECTIVES, default="latency",
                   help="what each op's mapping (loop nest and tiles) minimizes on the chip: latency (then energy), "
                        "energy (then latency) or their product (default: %(default)s)")


def print_json(obj: object) -> None:
    print(json_text(obj))


class ProgressBar:
    """Progress on stderr; ``with ProgressBar(...) as update: update(done, total)``.

    On a terminal: a tqdm bar. Otherwise (piped, logged, CI), once the work has run ``delay_s``
    seconds (short work stays silent): one line, then at most one every ``interval_s`` seconds
    and a last one at the end, each with the count, the rate of this run and the ETA, e.g.
    ``sweep tiny: 120/400 pt (30%), 61.2 pt/s, ETA 5s``.
    ``update(done, total, rate=..., eta_s=..., extra=...)`` passes a rate and ETA the caller
    knows better (a resumed sweep counts only this run's points) and text to append.
    """

    def __init__(self, desc: str, unit: str = "B", *, interval_s: float = 5.0, delay_s: float = 2.0, stream=None):
        self.desc, self.unit, self.bar = desc, unit, None
        self.interval_s, self.delay_s, self.stream = interval_s, delay_s, stream
        self._lines = None  # line mode: [start time, time of the last line, first done, last shown]

    def __enter__(self):
        return self.update

    def _terminal(self) -> bool:
        stream = self.stream if self.stream is not None else sys.stderr
        return bool(getattr(stream, "isatty", lambda: False)())

    def update(self, done: int, total: int | None, *, rate: float | None = None, eta_s: float | None = None,
               extra: str = "") -> None:
        if self._lines is None and self.bar is None and self._terminal():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, unit_scale=self.unit == "B",
                            file=self.stream if self.stream is not None else sys.stderr)
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
            return
        now = time.monotonic()
        if self._lines is None:
            self._lines = [now, -math.inf, done, None]
        start, last, first, shown = self._lines
        self._state = (done, total, rate, eta_s, extra)
        if now - start < self.delay_s:
            return
        if now - last >= self.interval_s or (shown is not None and total is not None and done >= total):
            self._line(done, total, rate, eta_s, extra, now)

    def _line(self, done, total, rate, eta_s, extra, now) -> None:
        start, _, first, shown = self._lines
        if shown == done and total is not None and done >= total:
            return
        elapsed = now - start
        if rate is None:
            rate = (done - first) / elapsed if elapsed > 0 else None
        if eta_s is None and rate and total is not None:
            eta_s = max(0.0, (total - done) / rate)
        parts = [f"{done:,}/{total:,} {self.unit}" + (f" ({100 * done / total:.0f}%)" if total else "")
                 if total is not None else f"{done:,} {self.unit}"]
        if rate:
            parts.append(f"{rate:,.1f} {self.unit}/s")
        if eta_s is not None and total is not None and done < total:
            parts.append(f"ETA {duration(eta_s)}")
        if extra:
            parts.append(extra)
        print(f"{self.desc}: {', '.join(parts)}", file=self.stream if self.stream is not None else sys.stderr,
              flush=True)
        self._lines[1], self._lines[3] = now, done

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self._lines is not None and exc[0] is None and self._lines[3] is not None:
            done, total, rate, eta_s, extra = self._state
            if self._lines[3] != done:
                self._line(done, total, rate, eta_s, extra, time.monotonic())


def duration(seconds: float) -> str:
    """``seconds`` as ``42s``, ``3m05s`` or ``1h07m``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
