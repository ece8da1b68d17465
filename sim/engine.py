"""Event-level composition of op costs with SimPy: the timeline of one step.

Units (TLU, attention array, vector unit, DRAM, link) are SimPy resources; each op
of a block is a process that waits for the op producing its input, moves its
work in tiles (DMA in, compute, DMA out; double-buffered: the DMA engines load tiles
in op order into two staging slots, so the next tile, of this op or the next,
loads while this one computes, and finished tiles are written back meanwhile), and all-reduces over the link if it is
row-parallel. Cores split every op, so their DMA requests share the DRAM channels
as one resource at the chips' aggregate bandwidth, served in order. Time
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
    (already the max of the unit's cycles and its SRAM port cycles); ``dram_in``
    and ``dram_out`` are the transfer times of the bytes it reads from and writes
    to DRAM; ``link`` the all-reduce time; ``chunks`` how many tiles its work is
    cut into (each tile: DMA in, compute, DMA out).
    """

    unit: str
    compute: int
    dram_in: int
    dram_out: int
    link: int
    chunks: int

    @property
    def dram(self) -> int:
        """All DRAM transfer cycles of one step."""
        return self.dram_in + self.dram_out


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
    """Run the SimPy model of one step over ``ops`` (in trace order) and return its timeline.

    The DMA engines load tiles in op order into a staging buffer of two tile slots
    (one without double buffering); a slot is freed when its tile has been
    computed, so loads run ahead of compute by at most one tile, across op
    boundaries. Each op computes on its unit once the op producing its input is
    done, tile by tile as tiles arrive, and writes tiles back as they finish.
    """
    env = simpy.Environment()
    units = {name: simpy.Resource(env, capacity=1) for name in ("tlu", "attention", "vector", "dram", "link")}
    slots = simpy.Container(env, capacity=2 if double_buffered else 1, init=2 if double_buffered else 1)
    n = len(ops)
    done = [env.event() for _ in range(n)]
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    loaded = [[env.event() for _ in range(max(op.chunks, 1))] for op in ops]

    def dram_transfer(cycles: int):
        req = units["dram"].request()
        yield req
        yield env.timeout(cycles)
        units["dram"].release(req)

    def dma_queue():
        for op, events in zip(ops, loaded):
            for c, event in enumerate(events):
                if op.dram_in:
                    yield slots.get(1)
                    yield from dram_transfer(_share(op.dram_in, len(events), c))
                event.succeed()

    def run(i: int, op: OpTiming):
        if i and not double_buffered:
            yield done[i - 1]
        if deps[i] >= 0:
            yield done[deps[i]]
        start[i] = env.now
        tiles = loaded[i]
        stored = []
        if op.unit == "dma":
            for tile in tiles:  # free each slot as its tile lands: the queue may need more than two
                yield tile
                if op.dram_in:
                    yield slots.put(1)
            if op.dram_out:
                yield env.process(dram_transfer(op.dram_out))
        else:
            req = units[op.unit].request()
            yield req
            for c, tile in enumerate(tiles):
                yield tile
                yield env.timeout(_share(op.compute, len(tiles), c))
                if op.dram_in:
                    yield slots.put(1)
                if op.dram_out:  # write this tile back while the next one computes
                    stored.append(env.process(dram_transfer(_share(op.dram_out, len(tiles), c))))
            units[op.unit].release(req)
        for event in stored:
            yield event
        if op.link:
            req = units["link"].request()
            yield req
            yield env.timeout(op.link)
            units["link"].release(req)
        end[i] = env.now
        done[i].succeed()

    env.process(dma_queue())
    for i, op in enumerate(ops):
        env.process(run(i, op))
    env.run()
    if not all(event.triggered for event in done):  # a deadlock would otherwise read as 0 cycles
        raise RuntimeError(f"engine deadlock: {sum(not e.triggered for e in done)} of {n} ops never finished")
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
