"""Request streams: arrival processes, length distributions and public trace files.

A stream is a :class:`Requests` table: arrival time, prompt tokens and output tokens per request,
sorted by arrival. It comes from

* an arrival process (``poisson``: exponential gaps; ``gamma``: gamma gaps with coefficient of
  variation ``cv``, burstier above 1) at ``rate`` requests/s, with prompt and output lengths
  drawn from :class:`LengthDist` s; or
* a CSV trace in the columns of the public traces, detected by header:

  - Azure LLM inference traces (2023/2024): ``TIMESTAMP, ContextTokens, GeneratedTokens``;
    ``TIMESTAMP`` a date-time ("2023-11-16 18:15:46.6805900") or seconds;
  - BurstGPT: ``Timestamp, Model, Request tokens, Response tokens, ...``; ``Timestamp`` in
    seconds.

  Timestamps are replayed from the first one (at 0 s), optionally scaled to a target mean rate.
  Negative or decreasing timestamps, missing columns and lengths that are not whole numbers
  are errors. A request with zero output tokens is served as a prefill alone (its first token
  time is when the prefill ends; it has no time per output token).

Lengths are clipped to what the model can hold: prompt from 1 to the trained context less one,
output to at most the rest of the trained context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tritium.base.errors import SpecError, TritiumError

__all__ = ["LengthDist", "Requests", "ARRIVALS", "parse_length", "generate", "read_trace", "TRACE_FORMATS"]

ARRIVALS = ("poisson", "gamma")

TRACE_FORMATS = {
    "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    "burstgpt": ("Timestamp", "Request tokens", "Response tokens"),
}
"""Columns each trace format needs: timestamp, prompt tokens, output tokens."""

MAX_REQUESTS = 10_000_000
"""Most requests one run simulates (its per-request table is ~100 bytes a request)."""


@dataclass(frozen=True, slots=True)
class LengthDist:
    """A token-length distribution: ``fixed`` (``a``), ``uniform`` (``a`` to ``b`` inclusive),
    ``lognormal`` (mean ``a``, coefficient of variation ``b``: sigma^2 = ln(1 + b^2)) or
    ``trace`` (the trace file's own lengths)."""

    kind: str
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "uniform", "lognormal", "trace"):
            raise SpecError("length distribution", self.kind, "fixed:N, uniform:A:B, lognormal:MEAN:CV or trace")
        if self.kind == "fixed" and not (self.a >= 0 and float(self.a).is_integer()):
            raise SpecError("fixed length", self.a, "a whole number of tokens >= 0")
        if self.kind == "uniform" and not (0 <= self.a <= self.b and float(self.a).is_integer()
                                           and float(self.b).is_integer()):
            raise SpecError("uniform lengths", f"{self.a:g}:{self.b:g}", "whole numbers 0 <= A <= B")
        if self.kind == "lognormal" and not (math.isfinite(self.a) and self.a > 0 and math.isfinite(self.b)
                                             and self.b > 0):
            raise SpecError("lognormal lengths", f"{self.a:g}:{self.b:g}", "a mean > 0 and a CV > 0")

    def describe(self) -> str:
        return {"fixed": f"fixed:{self.a:g}", "uniform": f"uniform:{self.a:g}:{self.b:g}",
                "lognormal": f"lognormal:{self.a:g}:{self.b:g}", "trace": "trace"}[self.kind]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "fixed":
            return np.full(n, int(self.a), dtype=np.int64)
        if self.kind == "uniform":
            return rng.integers(int(self.a), int(self.b) + 1, size=n, dtype=np.int64)
        if self.kind == "lognormal":
            sigma2 = math.log1p(self.b ** 2)
            mu = math.log(self.a) - sigma2 / 2
            return np.rint(rng.lognormal(mu, math.sqrt(sigma2), size=n)).astype(np.int64)
        raise SpecError("length distribution", "trace", "needs a --trace file")


def parse_length(text: str, key: str = "length") -> LengthDist:
    """``fixed:N`` (or just ``N``), ``uniform:A:B``, ``lognormal:MEAN[:CV]`` (CV 0.5 by default) or ``trace``."""
    parts = str(text).strip().split(":")
    try:
        if len(parts) == 1 and parts[0] != "trace":
            return LengthDist("fixed", float(parts[0]))
        kind, nums = parts[0], [float(p) for p in parts[1:]]
    except ValueError:
        raise SpecError(key, text, "fixed:N, uniform:A:B, lognormal:MEAN[:CV] or trace") from None
    if kind == "fixed" and len(nums) == 1:
        return LengthDist("fixed", nums[0])
    if kind == "uniform" and len(nums) == 2:
        return LengthDist("uniform", nums[0], nums[1])
    if kind == "lognormal" and len(nums) in (1, 2):
        return LengthDist("lognormal", nums[0], nums[1] if len(nums) == 2 else 0.5)
    if kind == "trace" and not nums:
        return LengthDist("trace")
    raise SpecError(key, text, "fixed:N, uniform:A:B, lognormal:MEAN[:CV] or trace")


@dataclass(frozen=True)
class Requests:
    """A request stream: ``arrival_s`` (sorted, from 0), ``prompt`` and ``output`` tokens (int64
    arrays of one length) and where it came from (``source``)."""

    arrival_s: np.ndarray
    prompt: np.ndarray
    output: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.arrival_s)


def _clip(prompt: np.ndarray, output: np.ndarray, max_position: int) -> tuple[np.ndarray, np.ndarray]:
    prompt = np.clip(prompt, 1, max(1, max_position - 1))
    output = np.clip(output, 0, np.maximum(max_position - prompt, 0))
    return prompt.astype(np.int64), output.astype(np.int64)


def _check_count(key: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_REQUESTS:
        raise SpecError(key, n, f"an integer from 1 to {MAX_REQUESTS:,}")
    return int(n)


def generate(*, arrivals: str, rate: float, cv: float = 1.0, requests: int | None = None,
             duration_s: float | None = None, prompt: LengthDist, output: LengthDist, seed: int,
             max_position: int) -> Requests:
    """Requests from an arrival process at ``rate`` requests/s: ``requests`` of them, or those
    arriving within ``duration_s`` seconds (one of the two).

    Raises:
        SpecError: a rate, CV, count or duration out of range (names it), a ``trace`` length
            without a trace file.
    """
    if arrivals not in ARRIVALS:
        raise SpecError("arrivals", arrivals, ", ".join(ARRIVALS))
    if not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise SpecError("rate", rate, "requests per second > 0 (a finite number)")
    if not (math.isfinite(cv) and cv > 0):
        raise SpecError("cv", cv, "a coefficient of variation > 0")
    if (requests is None) == (duration_s is None):
        raise SpecError("requests", requests, "give either a request count or a duration, not both or neither")
    rng = np.random.default_rng(seed)
    if requests is not None:
        n = _check_count("requests", requests)
    else:
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise SpecError("duration", duration_s, "seconds > 0")
        n = min(MAX_REQUESTS, max(1, int(rate * duration_s * 1.2 + 10 * math.sqrt(rate * duration_s) + 10)))
    if arrivals == "poisson":
        gaps = rng.exponential(1.0 / rate, size=n)
    else:
        shape = 1.0 / cv ** 2
        gaps = rng.gamma(shape, 1.0 / (rate * shape), size=n)
    times = np.cumsum(gaps) - gaps[0]  # the first request at 0 s
    if duration_s is not None:
        times = times[times < duration_s]
        n = len(times)
    p, o = _clip(prompt.sample(rng, n), output.sample(rng, n), max_position)
    source = f"{arrivals} at {rate:g}/s" + (f" (cv {cv:g})" if arrivals == "gamma" else "") + \
        f", prompt {prompt.describe()}, output {output.describe()}, seed {seed}"
    return Requests(times, p, o, source)


def read_trace(path: str | Path, *, rate: float | None = None, requests: int | None = None,
               duration_s: float | None = None, prompt: LengthDist = LengthDist("trace"),
               output: LengthDist = LengthDist("trace"), seed: int = 0, max_position: int = 1 << 27) -> Requests:
    """Requests replayed from a CSV trace (Azure or BurstGPT columns, see the module docstring).

    ``rate`` scales the timestamps so the mean rate over the replayed requests is ``rate``
    requests/s; ``requests`` keeps the first N, ``duration_s`` those within that many seconds
    (after scaling). ``prompt``/``output`` other than ``trace`` replace the file's lengths.

    Raises:
        TritiumError: unreadable file, unknown header (names the columns each format needs),
            timestamps negative or decreasing (names the row), lengths not whole numbers >= 0.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except FileNotFoundError:
        raise TritiumError(f"trace {path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, IsADirectoryError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise TritiumError(f"trace {path}: not a readable CSV ({first})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    fmt = next((name for name, cols in TRACE_FORMATS.items() if all(c in frame.columns for c in cols)), None)
    if fmt is None:
        wanted = "; ".join(f"{name}: {', '.join(cols)}" for name, cols in TRACE_FORMATS.items())
        raise TritiumError(f"trace {path}: columns {', '.join(frame.columns) or '(none)'} match no known format "
                           f"(need {wanted})")
    t_col, p_col, o_col = TRACE_FORMATS[fmt]
    if requests is not None:
        frame = frame.iloc[:_check_count("requests", requests)]
    if not len(frame):
        raise TritiumError(f"trace {path}: no requests")
    times = _timestamps(frame[t_col], path)
    diffs = np.diff(times)
    if len(diffs) and (diffs < 0).any():
        row = int(np.flatnonzero(diffs < 0)[0]) + 2
        raise TritiumError(f"trace {path}: timestamps must not decrease ({t_col} of row {row} is earlier than row "
                           f"{row - 1})")
    times = times - times[0]
    if rate is not None:
        if not (math.isfinite(rate) and rate > 0):
            raise SpecError("rate", rate, "requests per second > 0 (a finite number)")
        span = times[-1]
        if len(times) > 1 and span > 0:
            times = times * ((len(times) - 1) / span) / rate
    if duration_s is not None:
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise SpecError("duration", duration_s, "seconds > 0")
        frame, times = frame[times < duration_s], times[times < duration_s]
    rng = np.random.default_rng(seed)
    lengths = []
    for dist, col in ((prompt, p_col), (output, o_col)):
        lengths.append(_lengths(frame[col], col, path) if dist.kind == "trace" else dist.sample(rng, len(frame)))
    p, o = _clip(lengths[0], lengths[1], max_position)
    scaled = f" scaled to {rate:g}/s" if rate is not None else ""
    return Requests(times.astype(np.float64), p, o, f"{fmt} trace {path.name}{scaled}")


def _timestamps(col: pd.Series, path: Path) -> np.ndarray:
    numeric = pd.to_numeric(col, errors="coerce")
    if numeric.notna().all():
        values = numeric.to_numpy(dtype=np.float64)
    else:
        try:
            stamps = pd.to_datetime(col, format="mixed")
        except (ValueError, TypeError):
            raise TritiumError(f"trace {path}: timestamps must be seconds or date-times "
                               f"(first bad: {col[numeric.isna()].iloc[0]!r})") from None
        values = (stamps - stamps.iloc[0]).dt.total_seconds().to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        bad = int(np.flatnonzero(~np.isfinite(values) | (values < 0))[0]) + 2
        raise TritiumError(f"trace {path}: timestamps must be finite and >= 0 (row {bad})")
    return values


def _lengths(col: pd.Series, name: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.floor(values))
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 2
        raise TritiumError(f"trace {path}: {name!r} must be whole numbers of tokens >= 0 (row {row}: "
                           f"{col.iloc[row - 2]!r})")
    return values.astype(np.int64)
