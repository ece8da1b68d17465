"""Activation sparsity: the fraction of a ternary linear's INT8 inputs that are exactly zero.

A trace carries it per op in the ``act_zero_frac`` column (NaN for ops that are not
ternary linears); the simulator's ``tlu.zero_act`` options (``gate``, ``skip``) read it
(``docs/datapaths.md``). It comes from one of two places:

- **A sourced default per activation function** (:data:`ACT_ZERO_DEFAULTS`), applied by
  :func:`tritium.workloads.trace` unless told otherwise. Only ``down_proj`` reads the GLU's
  output; the other projections read RMSNorm outputs, which are dense, so they default to 0.
- **A measurement**: :func:`tritium.workloads.capture.measure_act_sparsity` runs a model's
  forward pass (a local checkpoint's weights, or random ones) in the optional ``capture``
  extra and counts the zeros of every BitLinear input after BitNet's per-token absmax INT8
  quantization. Its result passes to ``trace(..., act_sparsity=...)``.

``act_sparsity`` maps a projection name (``"down_proj"``: every layer) or a ``(layer,
projection)`` pair to a fraction in [0, 1); pairs override names, names override the
default. A fraction of 1 would mean a projection whose every input is zero, which no
model has; it is refused, as is anything outside [0, 1).

>>> from tritium.workloads.zoo import zoo_model
>>> act_zero_fractions(zoo_model("bitnet-b1.58-2b-4t"))[0]["down_proj"]
0.8
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Mapping

from tritium.base.errors import SpecError
from tritium.workloads.models import PROJECTIONS, ModelSpec

__all__ = ["ActZeroDefault", "ACT_ZERO_DEFAULTS", "act_zero_fractions", "check_act_sparsity"]


@dataclass(frozen=True, slots=True)
class ActZeroDefault:
    """The default zero fraction of ``down_proj`` inputs for one activation function, with its source."""

    down_proj: float
    source: str


ACT_ZERO_DEFAULTS: types.MappingProxyType[str, ActZeroDefault] = types.MappingProxyType({
    "relu2": ActZeroDefault(
        0.80,
        "[R] Wang, Ma, Wei, 'BitNet a4.8: 4-bit Activations for 1-bit LLMs', arXiv 2411.04965 (2024): the "
        "ReLU^2 GLU of BitNet b1.58 leaves about 80% of the down projection's inputs zero (as summarised, "
        "primary not opened); BitNet b1.58 2B4T (arXiv 2504.12285) chose ReLU^2 for this sparsity"),
    "silu": ActZeroDefault(
        0.0,
        "[E] SiLU(x) = 0 only at x = 0, so a SwiGLU output has no structural zeros; values the INT8 "
        "absmax quantization rounds to zero are not counted (measure them with the capture extra)"),
})
"""Sourced default zero fraction of ``down_proj`` inputs, by :attr:`ModelSpec.activation`."""


def check_act_sparsity(act_sparsity: object) -> dict:
    """``act_sparsity`` as a plain dict after checking its keys and values.

    Raises:
        SpecError: a key that is neither a projection of :data:`~tritium.workloads.models.PROJECTIONS`
            nor a ``(layer, projection)`` pair with ``layer >= 0``, or a fraction that is not a
            number in [0, 1) (key ``act_sparsity.<projection>`` or ``act_sparsity.layers.<n>.<projection>``).
    """
    if not isinstance(act_sparsity, Mapping):
        raise SpecError("act_sparsity", act_sparsity, "must be a mapping of projection (or (layer, "
                        "projection)) to a fraction of zero inputs in [0, 1)")
    out = {}
    for key, value in act_sparsity.items():
        if isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], int) and not isinstance(key[0], bool) \
                and key[0] >= 0 and key[1] in PROJECTIONS:
            name = f"act_sparsity.layers.{key[0]}.{key[1]}"
        elif isinstance(key, str) and key in PROJECTIONS:
            name = f"act_sparsity.{key}"
        else:
            raise SpecError(f"act_sparsity[{key!r}]", value, f"unknown key: a projection ({', '.join(PROJECTIONS)}) "
                            "or a (layer, projection) pair")
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
            and 0.0 <= value < 1.0
        if not ok:
            raise SpecError(name, value, "must be a number from 0 to below 1 (the fraction of the op's INT8 "
                            "inputs that are exactly zero)")
        out[key] = float(value)
    return out


def act_zero_fractions(spec: ModelSpec, act_sparsity: Mapping | None = None) -> tuple[dict, dict, str]:
    """(by projection, by (layer, projection), source) of the zero fractions a trace of ``spec`` uses.

    The default of ``spec.activation`` (:data:`ACT_ZERO_DEFAULTS`) for ``down_proj`` and 0 for the
    other projections, overridden by ``act_sparsity`` (see the module docstring).

    Raises:
        SpecError: ``act_sparsity`` is malformed (:func:`check_act_sparsity`).
    """
    given = check_act_sparsity(act_sparsity) if act_sparsity is not None else {}
    default = ACT_ZERO_DEFAULTS[spec.activation]
    by_proj = {p: 0.0 for p in PROJECTIONS} | {"down_proj": default.down_proj}
    by_proj |= {k: v for k, v in given.items() if isinstance(k, str)}
    by_layer = {k: v for k, v in given.items() if isinstance(k, tuple)}
    parts = []
    if by_layer:
        parts.append(f"measured per layer for {len(by_layer)} projections")
    if any(isinstance(k, str) for k in given):
        parts.append("given: " + ", ".join(f"{k} {v:.3f}" for k, v in given.items() if isinstance(k, str)))
    parts.append(f"default for {spec.activation}: down_proj {default.down_proj:g}, other projections 0 "
                 f"({default.source})")
    return by_proj, by_layer, "; ".join(parts)
