"""The request a trace describes: :class:`Scenario` (batch, prompt and generated tokens) and its bounds.

>>> Scenario(batch=2, prefill=16, decode=4)
Scenario(batch=2, prefill=16, decode=4)
"""

from __future__ import annotations

from dataclasses import dataclass

from tritium.base.errors import SpecError

__all__ = ["Scenario", "MAX_BATCH", "MAX_PREFILL", "MAX_DECODE"]

MAX_BATCH = 2**20
"""Most sequences in one batch (1,048,576): serving engines batch a few hundred to a few
thousand sequences; this is far beyond any memory that could hold their KV caches."""

MAX_PREFILL = 2**24
"""Most prompt tokens per sequence (16,777,216): beyond the longest trained context of any
published model (10M tokens, Llama 4 Scout)."""

MAX_DECODE = 2**20
"""Most generated tokens per sequence (1,048,576). Besides being beyond any real request,
this bounds the simulator's memory: it evaluates a decode block's steps as arrays."""

_SCENARIO_BOUNDS = {
    "batch": (MAX_BATCH, "2^20 sequences, beyond any memory that could hold their KV caches"),
    "prefill": (MAX_PREFILL, "2^24 prompt tokens, beyond any model's trained context"),
    "decode": (MAX_DECODE, "2^20 generated tokens, beyond any real request"),
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One request: ``batch`` sequences, each a prompt of ``prefill`` tokens
    followed by ``decode`` generated tokens (one decode step each).

    Each is an integer from 1 to its physical bound: :data:`MAX_BATCH`,
    :data:`MAX_PREFILL`, :data:`MAX_DECODE`. Raises :class:`SpecError` naming the
    field and the bound. (A trace of a scenario within these bounds can still be
    refused when its counts pass :data:`~tritium.workloads.schema.COUNT_LIMIT`.)
    """

    batch: int = 1
    prefill: int = 512
    decode: int = 128

    def __post_init__(self) -> None:
        for key, (hi, what) in _SCENARIO_BOUNDS.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= hi:
                raise SpecError(key, value, f"must be an integer from 1 to {hi} ({what})")
