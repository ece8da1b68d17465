"""Ternary weight statistics: measured from a checkpoint or modelled.

A :class:`WeightStats` record describes one ternary weight matrix of ``rows`` output
features by ``cols`` input features: the fractions of -1, 0 and +1 weights, the
absmean scale, and the per-output-row count of non-zero weights summarised as a
:data:`HIST_BINS`-bin histogram over ``[nnz_lo, nnz_hi]`` (integers, inclusive).
The simulator's ``skip`` zero handling reads those per-row counts.

Without a checkpoint, :func:`modelled_stats` gives the statistics of absmean
ternarization applied to i.i.d. weights (``round(W / mean|W|)`` clamped to [-1, 1]):
zero where ``|w| < mean|w| / 2``. For Gaussian weights that is
``erf(1 / (2 sqrt(pi))) = 31.0 %`` zeros (see docs/sources.md §8);
per-row non-zero counts are then Binomial(cols, 1 - zero_frac), whose histogram is
computed exactly rather than sampled, so traces are deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tritium.base.errors import SpecError
from tritium.base.specio import check_choice, check_float, check_int

__all__ = [
    "HIST_BINS",
    "MAX_NNZ_TABLE",
    "NnzTally",
    "WeightStats",
    "WeightModel",
    "ZERO_FRACTION",
    "nnz_histogram",
    "modelled_stats",
    "stats_from_row_counts",
]

HIST_BINS = 32
"""Number of bins of every per-row non-zero histogram."""

ZERO_FRACTION = {
    # erf(1/(2*sqrt(pi))): |w| < sigma/sqrt(2*pi) for w ~ N(0, sigma^2)
    "gaussian": math.erf(1.0 / (2.0 * math.sqrt(math.pi))),
    # 1 - exp(-1/2): |w| < b/2 for w ~ Laplace(0, b), mean|w| = b
    "laplace": 1.0 - math.exp(-0.5),
    # |w| < a/4 for w ~ U(-a, a), mean|w| = a/2
    "uniform": 0.25,
}
"""Zero fraction of absmean ternarization for i.i.d. weights of each distribution
(theory; docs/sources.md §8 lists the same values and simulated checks)."""


@dataclass(frozen=True, slots=True)
class WeightStats:
    """Statistics of one ternary weight matrix (``rows`` outputs x ``cols`` inputs).

    ``nnz_hist[i]`` counts the output rows whose number of non-zero weights falls in
    bin ``i`` of :data:`HIST_BINS` equal bins spanning the integers
    ``nnz_lo .. nnz_hi`` inclusive (see :meth:`bin_edges`). ``scale`` is mean|W| of
    the latent weights (the absmean scale; NaN when unknown). ``source`` says where
    the numbers came from (a checkpoint path and encoding, or the model used).
    """

    rows: int
    cols: int
    zero_frac: float
    pos_frac: float
    neg_frac: float
    nnz_lo: int
    nnz_hi: int
    nnz_hist: tuple[int, ...]
    scale: float
    source: str

    def __post_init__(self) -> None:
        check_int("rows", self.rows, lo=1)
        check_int("cols", self.cols, lo=1)
        for name in ("zero_frac", "pos_frac", "neg_frac"):
            check_float(name, getattr(self, name), lo=0.0, hi=1.0)
        total = self.zero_frac + self.pos_frac + self.neg_frac
        if abs(total - 1.0) > 1e-6:
            raise SpecError("zero_frac + pos_frac + neg_frac", total, "must equal 1")
        check_int("nnz_lo", self.nnz_lo, lo=0, hi=self.cols)
        check_int("nnz_hi", self.nnz_hi, lo=self.nnz_lo, hi=self.cols)
        if len(self.nnz_hist) != HIST_BINS or sum(self.nnz_hist) != self.rows:
            raise SpecError("nnz_hist", self.nnz_hist, f"must be {HIST_BINS} counts summing to rows={self.rows}")

    @property
    def nnz_mean(self) -> float:
        """Mean number of non-zero weights per output row."""
        return (1.0 - self.zero_frac) * self.cols

    def bin_edges(self) -> np.ndarray:
        """The ``HIST_BINS + 1`` bin edges; bin ``i`` holds counts in ``[e[i], e[i+1])``."""
        return np.linspace(self.nnz_lo, self.nnz_hi + 1, HIST_BINS + 1)

    def hist_string(self) -> str:
        """The histogram as space-separated counts (the trace table's ``nnz_hist`` column)."""
        return " ".join(str(c) for c in self.nnz_hist)


def nnz_histogram(nnz_per_row: np.ndarray) -> tuple[int, int, tuple[int, ...]]:
    """Summarise per-row non-zero counts as ``(lo, hi, counts)`` with :data:`HIST_BINS` bins."""
    nnz = np.asarray(nnz_per_row)
    lo, hi = int(nnz.min()), int(nnz.max())
    counts, _ = np.histogram(nnz, bins=HIST_BINS, range=(lo, hi + 1))
    return lo, hi, tuple(int(c) for c in counts)


def stats_from_row_counts(
    pos_per_row: np.ndarray, neg_per_row: np.ndarray, cols: int, scale: float, source: str
) -> WeightStats:
    """Build :class:`WeightStats` from per-row counts of +1 and -1 weights."""
    tally = NnzTally(cols)
    tally.add(pos_per_row, neg_per_row)
    return tally.stats(scale, source)


MAX_NNZ_TABLE = 1 << 20
"""Most distinct per-row non-zero counts :class:`NnzTally` keeps (8 MiB of int64 counts)."""


class NnzTally:
    """Per-row +1/-1 counts folded, batch by batch, into what :class:`WeightStats` needs.

    A histogram over ``[lo, hi]`` needs neither the rows nor their order, only how
    many rows have each non-zero count; there are at most ``min(rows, cols + 1)``
    distinct counts. The tally keeps that table (dense when ``cols < table_limit``,
    by default :data:`MAX_NNZ_TABLE`, else sorted distinct values), so its memory
    does not grow with the row count. When a tensor has more than ``table_limit``
    distinct counts (only possible with
    more than that many rows, each longer than that), the table is dropped and
    :attr:`needs_binning_pass` is set: the caller feeds the rows again to
    :meth:`bin`, now that ``lo`` and ``hi`` are known. The result equals
    :func:`stats_from_row_counts` on all rows at once.

    >>> t = NnzTally(4)
    >>> t.add(np.array([1, 2]), np.array([0, 1])); t.add(np.array([4]), np.array([0]))
    >>> s = t.stats(0.5, "example"); (s.rows, s.nnz_lo, s.nnz_hi, round(s.zero_frac, 3))
    (3, 1, 4, 0.333)
    """

    def __init__(self, cols: int, *, table_limit: int | None = None):
        table_limit = MAX_NNZ_TABLE if table_limit is None else table_limit
        check_int("cols", cols, lo=1)
        check_int("table_limit", table_limit, lo=1)
        self.cols, self.limit = cols, table_limit
        self.rows = self.n_pos = self.n_neg = 0
        self.lo, self.hi = cols, 0
        self._dense = np.zeros(cols + 1, dtype=np.int64) if cols < table_limit else None
        self._values = np.empty(0, dtype=np.int64)  # sparse table: distinct counts, sorted
        self._counts = np.empty(0, dtype=np.int64)
        self._hist: np.ndarray | None = None  # the binning pass's histogram
        self.needs_binning_pass = False

    def add(self, pos: np.ndarray, neg: np.ndarray) -> None:
        """Count a batch of complete rows given their +1 and -1 counts."""
        pos = np.asarray(pos, dtype=np.int64)
        neg = np.asarray(neg, dtype=np.int64)
        if pos.size == 0:
            return
        nnz = pos + neg
        self.rows += int(nnz.size)
        self.n_pos += int(pos.sum())
        self.n_neg += int(neg.sum())
        lo, hi = int(nnz.min()), int(nnz.max())
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        if self._dense is not None:
            self._dense[lo : hi + 1] += np.bincount(nnz - lo)
        elif not self.needs_binning_pass:
            values, counts = np.unique(nnz, return_counts=True)
            merged = np.concatenate((self._values, values))
            self._values, where = np.unique(merged, return_inverse=True)
            self._counts = np.bincount(where, weights=np.concatenate((self._counts, counts))).astype(np.int64)
            if self._values.size > self.limit:
                self.needs_binning_pass = True
                self._values = self._counts = np.empty(0, dtype=np.int64)

    def bin(self, pos: np.ndarray, neg: np.ndarray) -> None:
        """The binning pass: histogram a batch of rows already seen by :meth:`add`."""
        nnz = np.asarray(pos, dtype=np.int64) + np.asarray(neg, dtype=np.int64)
        if self._hist is None:
            self._hist = np.zeros(HIST_BINS, dtype=np.int64)
        self._hist += np.histogram(nnz, bins=HIST_BINS, range=(self.lo, self.hi + 1))[0]

    def histogram(self) -> tuple[int, int, tuple[int, ...]]:
        """``(lo, hi, counts)`` as :func:`nnz_histogram` gives for all rows seen."""
        if self.needs_binning_pass:
            if self._hist is None or int(self._hist.sum()) != self.rows:
                raise RuntimeError("NnzTally: the binning pass has not seen every row")
            counts = self._hist
        else:
            if self._dense is not None:
                values = np.arange(self.lo, self.hi + 1)
                weights = self._dense[self.lo : self.hi + 1]
            else:
                values, weights = self._values, self._counts
            counts = np.histogram(values, bins=HIST_BINS, range=(self.lo, self.hi + 1), weights=weights)[0]
        return self.lo, self.hi, tuple(int(c) for c in counts)

    def stats(self, scale: float, source: str) -> WeightStats:
        """The :class:`WeightStats` of every row seen (``rows`` of ``cols`` weights)."""
        total = self.rows * self.cols
        lo, hi, hist = self.histogram()
        return WeightStats(
            rows=self.rows,
            cols=self.cols,
            zero_frac=(total - self.n_pos - self.n_neg) / total,
            pos_frac=self.n_pos / total,
            neg_frac=self.n_neg / total,
            nnz_lo=lo,
            nnz_hi=hi,
            nnz_hist=hist,
            scale=float(scale),
            source=source,
        )


@dataclass(frozen=True, slots=True)
class WeightModel:
    """How to model ternary weight statistics when no checkpoint is given.

    ``distribution`` names the latent-weight distribution ("gaussian", "laplace",
    "uniform"); ``zero_fraction`` overrides its theoretical zero fraction (for
    example 0.42, the figure reported for trained BitNet b1.58 by Sparse-BitNet).
    """

    distribution: str = "gaussian"
    zero_fraction: float | None = None

    def __post_init__(self) -> None:
        check_choice("distribution", self.distribution, ZERO_FRACTION)
        if self.zero_fraction is not None:
            check_float("zero_fraction", self.zero_fraction, lo=0.0, hi=1.0)
            if self.zero_fraction >= 1.0:
                raise SpecError("zero_fraction", self.zero_fraction, "must be below 1 (all-zero weights)")

    @property
    def zero_frac(self) -> float:
        """The zero fraction this model gives."""
        if self.zero_fraction is not None:
            return self.zero_fraction
        return ZERO_FRACTION[self.distribution]

    def describe(self) -> str:
        """A short label for the trace's ``stats_source`` column."""
        if self.zero_fraction is not None:
            return f"model:zero_fraction={self.zero_fraction:g}"
        return f"model:{self.distribution}-absmean"


def modelled_stats(rows: int, cols: int, model: WeightModel = WeightModel()) -> WeightStats:
    """Statistics of a ``rows`` x ``cols`` matrix under ``model``: exact binomial row histogram.

    >>> s = modelled_stats(6912, 2560)
    >>> round(s.zero_frac, 3), sum(s.nnz_hist)
    (0.31, 6912)
    """
    z = model.zero_frac
    p = 1.0 - z
    lo, hi, hist = _binomial_histogram(rows, cols, p)
    return WeightStats(
        rows=rows,
        cols=cols,
        zero_frac=z,
        pos_frac=p / 2.0,
        neg_frac=p / 2.0,
        nnz_lo=lo,
        nnz_hi=hi,
        nnz_hist=hist,
        scale=float("nan"),
        source=model.describe(),
    )


def _binomial_histogram(rows: int, n: int, p: float) -> tuple[int, int, tuple[int, ...]]:
    """Histogram of ``rows`` draws of Binomial(n, p), as expected counts rounded to integers.

    The range [lo, hi] covers all but an expected half row in each tail; the
    rounding keeps the total equal to ``rows`` (largest remainder).
    """
    if p <= 0.0:
        return 0, 0, (rows,) + (0,) * (HIST_BINS - 1)
    if p >= 1.0:
        return n, n, (rows,) + (0,) * (HIST_BINS - 1)
    k = np.arange(n + 1)
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1)))))
    logpmf = log_fact[n] - log_fact - log_fact[::-1] + k * math.log(p) + (n - k) * math.log1p(-p)
    pmf = np.exp(logpmf - logpmf.max())
    pmf /= pmf.sum()
    cdf = np.cumsum(pmf)
    tail = 0.5 / rows
    lo = int(np.searchsorted(cdf, tail))
    hi = int(np.searchsorted(cdf, 1.0 - tail))
    hi = min(max(hi, lo), n)
    edges = np.linspace(lo, hi + 1, HIST_BINS + 1)
    # mass in each bin [edges[i], edges[i+1]) over integer k, tails folded into the ends
    idx = np.clip(np.searchsorted(edges, k, side="right") - 1, 0, HIST_BINS - 1)
    mass = np.bincount(idx, weights=pmf, minlength=HIST_BINS)
    expected = mass * rows
    counts = np.floor(expected).astype(np.int64)
    short = rows - int(counts.sum())
    if short:
        order = np.argsort(-(expected - counts), kind="stable")
        counts[order[:short]] += 1
    return lo, hi, tuple(int(c) for c in counts)
