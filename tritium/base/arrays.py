"""Checks of numpy array arguments: an error names the first bad element.

Each check raises :class:`~tritium.base.errors.SpecError` keyed by the argument (``acts.dtype``,
``weights.shape``, ``trits[1, 2]``), with the value and what is allowed.

>>> check_range("trits", int_array("trits", [[0, 1], [2, -1]], "(N, K)"), -1, 1, "a trit")
Traceback (most recent call last):
...
tritium.base.errors.SpecError: trits[1, 0] = 2: must be a trit, an integer from -1 to 1
"""

from __future__ import annotations

import numpy as np

from tritium.base.errors import SpecError

__all__ = ["int_array", "real_array", "check_range", "raise_at"]


def int_array(key: str, value: object, shape: str, ndim: int | None = 2) -> np.ndarray:
    """``value`` as an integer ndarray (2-D with both sides >= 1, or >= 1-D when ``ndim`` is None)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise SpecError(f"{key}.dtype", str(array.dtype), f"must be an integer dtype (an integer array {shape})")
    if ndim is None:
        if array.ndim < 1:
            raise SpecError(f"{key}.shape", array.shape, f"must have at least one axis: {shape}")
    elif array.ndim != ndim or min(array.shape) < 1:
        raise SpecError(f"{key}.shape", array.shape, f"must be {shape} with every side >= 1")
    return array


def real_array(key: str, value: object) -> np.ndarray:
    """``value`` as a float32 ndarray with at least one axis and only finite values."""
    array = np.asarray(value)
    if array.dtype.kind not in "iuf" or array.ndim < 1:
        raise SpecError(
            key, f"{array.dtype} array of shape {array.shape}",
            "must be a real (integer or float) array with at least one axis",
        )
    with np.errstate(over="ignore"):  # too large for float32: inf, reported below
        array = array.astype(np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        raise_at(key, array, ~finite, "must be finite (in float32)")
    return array


def check_range(key: str, array: np.ndarray, lo: int, hi: int, what: str) -> None:
    """Raise :class:`SpecError` at the first element of ``array`` outside [lo, hi]."""
    if array.size and (int(array.min()) < lo or int(array.max()) > hi):
        raise_at(key, array, (array < lo) | (array > hi), f"must be {what}, an integer from {lo} to {hi}")


def raise_at(key: str, array: np.ndarray, bad: np.ndarray, allowed: str) -> None:
    """Raise :class:`SpecError` for the first element where ``bad`` is true, keyed ``key[i, j]``."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    value = array[index]
    raise SpecError(f"{key}[{', '.join(map(str, index))}]", value.item(), allowed)
