"""How much memory a device needs to serve a request: one pure function of plain numbers.

Both sides of a comparison use it: the GPU model (:func:`tritium.analysis.gpu.gpu_baseline`)
and the chip simulator. The caller supplies each part in bytes, already at its own
precision (weights in the kernel's storage format, the KV cache at the trace's
``--kv-dtype``), and a runtime reserve it states and sources itself.

>>> need = memory_needed(weight_bytes=1.0e9, embedding_bytes=0.3e9, kv_cache_bytes=0.2e9,
...                      activation_bytes=0.05e9, reserve_bytes=0.45e9)
>>> need.total_bytes
2000000000.0
>>> need.fits(2.0e9), need.fits(1.9e9)
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from tritium.base.specio import check_float

__all__ = ["MemoryNeed", "memory_needed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryNeed:
    """Bytes a device must hold, by part (all >= 0).

    Attributes:
        weight_bytes: the linear layers' weights as stored (scales included), embedding excluded.
        embedding_bytes: the token-embedding table (and an untied LM head is in ``weight_bytes``).
        kv_cache_bytes: the KV cache at the end of the request, at its dtype.
        activation_bytes: the largest working set of activations one forward pass holds.
        reserve_bytes: what the runtime keeps for itself (context, allocator, fragmentation).
    """

    weight_bytes: float
    embedding_bytes: float
    kv_cache_bytes: float
    activation_bytes: float
    reserve_bytes: float

    def __post_init__(self) -> None:
        for key in ("weight_bytes", "embedding_bytes", "kv_cache_bytes", "activation_bytes", "reserve_bytes"):
            check_float(key, getattr(self, key), lo=0, hi=1e18)
            object.__setattr__(self, key, float(getattr(self, key)))

    @property
    def total_bytes(self) -> float:
        """Everything that must fit."""
        return self.weight_bytes + self.embedding_bytes + self.kv_cache_bytes + self.activation_bytes + self.reserve_bytes

    def fits(self, capacity_bytes: float) -> bool:
        """Whether ``capacity_bytes`` of memory holds it all."""
        return self.total_bytes <= capacity_bytes


def memory_needed(*, weight_bytes: float, embedding_bytes: float, kv_cache_bytes: float, activation_bytes: float,
                  reserve_bytes: float = 0.0) -> MemoryNeed:
    """The memory a request needs: weights + embedding + KV cache + activations + a runtime reserve.

    Args:
        weight_bytes: linear-layer weights in their stored format, bytes.
        embedding_bytes: the embedding table, bytes (count a tied LM head once, here).
        kv_cache_bytes: the final KV cache at its dtype, bytes.
        activation_bytes: peak live activations of one forward pass, bytes.
        reserve_bytes: the runtime's own reserve, bytes (the caller states where it comes from).

    Raises:
        SpecError: a part is negative or not a number (names it).
    """
    return MemoryNeed(weight_bytes=weight_bytes, embedding_bytes=embedding_bytes, kv_cache_bytes=kv_cache_bytes,
                      activation_bytes=activation_bytes, reserve_bytes=reserve_bytes)
