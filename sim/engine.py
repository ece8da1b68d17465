"""Event-level composition of op costs with SimPy: the timeline of one step.

Units (TLU, attention array, vector unit, DRAM, link) are SimPy resources; each op
of a block is a process that waits for the op producing its input, moves its
DRAM bytes in chunks (double-buffered: the next chunk loads while this one
computes, and an op may start loading as soon as the op before it has started),
computes on its unit, and all-reduces over the link if it is row-parallel. Time
is integer cycles. A decode block is simulated once with each op's mean
per-step cycles and counted ``steps`` times; when all decoder layers of a block
are identical (the same signatures), one and two layers are simulated and the
rest extrapolated, so simulated work grows with distinct ops, not with layers or
tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

__all__ = ["OpTiming", "StepSchedule", "schedule_block", "dependencies"]

_MAX_CHUNKS = 16  # chunks per op in the event loop (more adds events, not accuracy)


@dataclass(frozen=True, slots=True)
class OpTiming:
    """Per-step cycle components of one op (means over the op's steps).

    ``unit`` is "tlu", "attention", "vector" or "dma"; ``compute`` runs on it
    (already the max of the unit's cycles and its SRAM port cycles); ``dram`` is
    the transfer time of its DRAM bytes; ``link`` the all-reduce time; ``chunks``
    how many pieces its DRAM transfer is cut into.
    """

    unit: str
    compute: int
    dram: int
    link: int
    chunks: int


@dataclass(frozen=True, slots=True)
class StepSchedule:
    """The composed timeline of one step of a block: ``start``/``end`` cycle of each op."""

    start: np.ndarray
    end: np.ndarray

    @property
    def cycles(self) -> int:
        return int(self.end.max()) if self.end.size else 0


def dependencies(kinds: list[str]) -> list[int]:
    """Index of the op whose output each op consumes (-1: none), from the op order.

    A linear reads the input of its group (the nearest earlier op that is not a
    linear or a dequantization: the norm or quantize op feeding q/k/v or gate/up);
    a dequantization reads its linear; every other op reads the op just before it.
    """
    deps = []
    last_linear = -1
    last_input = -1
    for i, kind in enumerate(kinds):
        if kind in ("ternary_linear", "linear"):
            deps.append(last_input)
            last_linear = i
        elif kind == "dequantize":
            deps.append(last_linear)
        else:
            deps.append(i - 1)
        if kind not in ("ternary_linear", "linear", "dequantize"):
            last_input = i
    return deps


def schedule_block(ops: list[OpTiming], deps: list[int], *, double_buffered: bool) -> StepSchedule:
    """Run the SimPy model of one step over ``ops`` (in trace order) and return its timeline."""
    env = simpy.Environment()
    units = {name: simpy.Resource(env, capacity=1) for name in ("tlu", "attention", "vector", "dram", "link")}
    n = len(ops)
    done = [env.event() for _ in range(n)]
    issued = [env.event() for _ in range(n)]
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)

    def loader(op: OpTiming, loaded: list):
        dram = units["dram"]
        for c, event in enumerate(loaded):
            req = dram.request()
            yield req
            yield env.timeout(_share(op.dram, len(loaded), c))
            dram.release(req)
            event.succeed()

    def run(i: int, op: OpTiming):
        # in-order issue: with double buffering an op may start loading once the op
        # before it has started; without, once it has finished
        if i:
            yield issued[i - 1] if double_buffered else done[i - 1]
        start[i] = env.now
        chunks = max(op.chunks, 1) if op.dram else 0
        loaded = [env.event() for _ in range(chunks)]
        if chunks:
            env.process(loader(op, loaded))
        issued[i].succeed()
        if deps[i] >= 0:
            yield done[deps[i]]
        if op.unit == "dma":
            if chunks:
                yield loaded[-1]
        else:
            unit = units[op.unit]
            req = unit.request()
            yield req
            if chunks:
                for c in range(chunks):
                    yield loaded[c]
                    yield env.timeout(_share(op.compute, chunks, c))
            elif op.compute:
                yield env.timeout(op.compute)
            unit.release(req)
        if op.link:
            req = units["link"].request()
            yield req
            yield env.timeout(op.link)
            units["link"].release(req)
        end[i] = env.now
        done[i].succeed()

    for i, op in enumerate(ops):
        env.process(run(i, op))
    env.run()
    return StepSchedule(start, end)


def _share(total: int, parts: int, index: int) -> int:
    """Integer share ``index`` of ``total`` split into ``parts`` (shares add up to ``total``)."""
    base, extra = divmod(total, parts)
    return base + (1 if index < extra else 0)


def chunk_count(dram_bytes_per_step: float, buffer_bytes: int, double_buffered: bool) -> int:
    """Pieces a transfer is cut into: the buffer (half of it when double-buffered) per piece."""
    if dram_bytes_per_step <= 0:
        return 1
    piece = buffer_bytes // 2 if double_buffered else buffer_bytes
    return max(1, min(_MAX_CHUNKS, math.ceil(dram_bytes_per_step / max(piece, 1))))
