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

:func:`schedule_block_reference` states the model with SimPy's stock ``Resource``,
``Container`` and ``Process``; :func:`schedule_block`, which the simulator runs, has
the same processes on lighter resources and leaves out events that cannot change
anything, so it returns the same timeline (ties at equal cycles included) about
twice as fast. ``tests/sim/test_engine.py`` checks the two agree.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT, Event

__all__ = ["OpTiming", "StepSchedule", "schedule_block", "schedule_block_reference"]

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


def schedule_block(ops: list[OpTiming], deps: list[int], *, double_buffered: bool) -> StepSchedule:
    """Run the SimPy model of one step over ``ops`` (in trace order) and return its timeline.

    The DMA engines load tiles in op order into a staging buffer of two tile slots
    (one without double buffering); a slot is freed when its tile has been
    computed, so loads run ahead of compute by at most one tile, across op
    boundaries. Each op computes on its unit once the op producing its input is
    done, tile by tile as tiles arrive, and writes tiles back as they finish.

    The processes are those of :func:`schedule_block_reference` (the plain statement
    of the model); the units, the DRAM and the slots are :class:`_Fifo` and
    :class:`_Slots`, and each write-back is a :class:`_WriteBack` chain of callbacks
    instead of a process. They schedule the events SimPy's ``Resource``, ``Container``
    and ``Process`` would, in the same order, so ties at equal cycles break the same
    way and the timeline is the same; left out are only events whose processing
    would do nothing (every other event keeps its place in SimPy's order): callbacks
    that are no-ops, a release nobody waits behind, the end of an op nobody waits for,
    and a tile's arrival or write-back while the op's process is computing (only that
    process ever waits for them, and it cannot before they would be processed).
    """
    env = simpy.Environment()
    units = {name: _Fifo(env) for name in ("tlu", "attention", "vector", "dram", "link")}
    dram = units["dram"]
    slots = _Slots(env, 2 if double_buffered else 1)
    n = len(ops)
    done = [Event(env) for _ in range(n)]
    waited = set(deps) | (set(range(n - 1)) if not double_buffered else set())
    start = np.zeros(n, dtype=np.int64)
    end = np.zeros(n, dtype=np.int64)
    loaded = [[Event(env) for _ in range(max(op.chunks, 1))] for op in ops]
    # Until busy_until[i], op i's process waits for a compute timeout and nothing else can
    # resume it: an event only it may wait for (its tiles' arrivals and write-backs),
    # triggered before then while nobody waits for it, would be processed with no effect,
    # so it is marked processed instead of scheduled (the process goes on at once when it
    # gets to it, as it would have).
    busy_until = [-1] * n
    timeout = env.timeout

    def dma_queue():
        for i, (op, events) in enumerate(zip(ops, loaded)):
            parts = len(events)
            for c, event in enumerate(events):
                if op.dram_in:
                    yield slots.get()
                    req = dram.request()
                    yield req
                    yield timeout(_share(op.dram_in, parts, c))
                    dram.release(req)
                if event.callbacks or busy_until[i] <= env.now:
                    _trigger(env, event)
                else:
                    _processed(event)

    def run(i: int, op: OpTiming):
        if i and not double_buffered:
            yield done[i - 1]
        if deps[i] >= 0:
            yield done[deps[i]]
        start[i] = env.now
        tiles = loaded[i]
        parts = len(tiles)
        stored = []
        if op.unit == "dma":
            for tile in tiles:  # free each slot as its tile lands: the queue may need more than two
                yield tile
                if op.dram_in:
                    yield slots.put()
            if op.dram_out:
                yield _WriteBack(env, dram, op.dram_out, busy_until, i).done
        else:
            unit = units[op.unit]
            req = unit.request()
            yield req
            for c, tile in enumerate(tiles):
                yield tile
                cycles = _share(op.compute, parts, c)
                busy_until[i] = env.now + cycles
                yield timeout(cycles)
                if op.dram_in:
                    yield slots.put()
                if op.dram_out:  # write this tile back while the next one computes
                    stored.append(_WriteBack(env, dram, _share(op.dram_out, parts, c), busy_until, i).done)
            unit.release(req)
        for event in stored:
            yield event
        if op.link:
            link = units["link"]
            req = link.request()
            yield req
            yield timeout(op.link)
            link.release(req)
        end[i] = env.now
        if i in waited:
            _trigger(env, done[i])
        else:  # no process waits for this op
            _processed(done[i])

    env.process(dma_queue())
    for i, op in enumerate(ops):
        env.process(run(i, op))
    env.run()
    if not all(event.triggered for event in done):  # a deadlock would otherwise read as 0 cycles
        raise RuntimeError(f"engine deadlock: {sum(not e.triggered for e in done)} of {n} ops never finished")
    return StepSchedule(start, end)


def _processed(event: Event) -> None:
    """Mark ``event`` triggered and processed without scheduling it (its processing would do nothing)."""
    event._ok = True
    event._value = None
    event.callbacks = None


def _trigger(env: simpy.Environment, event: Event, priority=NORMAL) -> None:
    """``event.succeed()`` without its checks: schedule ``event`` now with value None."""
    event._ok = True
    event._value = None
    env.schedule(event, priority)


class _Fifo:
    """A capacity-1 resource that schedules the events ``simpy.Resource(env, 1)`` schedules.

    ``request()`` returns an event that is triggered at once when the resource is free
    (or when the oldest waiting request is granted first: requests are served in
    order); ``release()`` frees it, and SimPy grants the next waiting request when
    its release event is processed, so this one schedules such an event too. Left
    out, because processing them cannot change anything: the requests' own callback
    (``Resource._trigger_get``, a no-op: a release is granted as it is made), and a
    release's event when no request waits. (Such an event grants a waiting request
    only if the resource is free when it is processed; a request made after the
    release finds it free and is granted at once, and its holder releases only after
    its own grant event, which comes after the release's event.)
    """

    __slots__ = ("env", "user", "waiting")

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.user: Event | None = None
        self.waiting: deque[Event] = deque()

    def request(self) -> Event:
        req = Event(self.env)
        self.waiting.append(req)
        if self.user is None:
            self._grant()
        return req

    def release(self, req: Event) -> None:
        if self.user is req:
            self.user = None
        if self.waiting:
            event = Event(self.env)
            event.callbacks.append(self._on_release)
            _trigger(self.env, event)

    def _grant(self) -> None:
        self.user = self.waiting.popleft()
        _trigger(self.env, self.user)

    def _on_release(self, _event: Event) -> None:
        if self.user is None and self.waiting:
            self._grant()


class _Slots:
    """The tile slots: the events of ``simpy.Container(env, capacity, init=capacity)``, units of 1.

    ``get()`` takes a slot (its event is triggered at once when one is free, else when
    a ``put()`` event is processed); ``put()`` returns one. A put never waits: every
    put returns a slot an earlier get took. The callbacks SimPy would run on a get's
    event (``_trigger_put`` over an always empty put queue) are no-ops and left out.
    """

    __slots__ = ("env", "capacity", "level", "waiting")

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.capacity = capacity
        self.level = capacity
        self.waiting: deque[Event] = deque()

    def get(self) -> Event:
        event = Event(self.env)
        self.waiting.append(event)
        self._serve()
        return event

    def put(self) -> Event:
        if self.level >= self.capacity:
            raise RuntimeError("engine: a tile slot was returned twice")
        self.level += 1
        event = Event(self.env)
        event.callbacks.append(self._on_put)
        _trigger(self.env, event)
        return event

    def _serve(self) -> None:
        while self.waiting and self.level >= 1:
            self.level -= 1
            _trigger(self.env, self.waiting.popleft())

    def _on_put(self, _event: Event) -> None:
        self._serve()


class _WriteBack:
    """One DRAM transfer of ``cycles``, as the events of ``env.process(transfer)`` would run it.

    The process would start on an urgent initialization event, request the DRAM,
    wait for the grant, hold it ``cycles``, release it and end (its own event, which
    :attr:`done` stands for); this chain of callbacks schedules the same events. Only
    op ``owner``'s process waits for :attr:`done` (see ``busy_until`` in
    :func:`schedule_block`).
    """

    __slots__ = ("env", "dram", "cycles", "req", "done", "busy_until", "owner")

    def __init__(self, env: simpy.Environment, dram: _Fifo, cycles: int, busy_until: list[int], owner: int):
        self.env, self.dram, self.cycles = env, dram, cycles
        self.busy_until, self.owner = busy_until, owner
        self.done = Event(env)
        init = Event(env)
        init.callbacks.append(self._start)
        _trigger(env, init, URGENT)

    def _start(self, _event: Event) -> None:
        self.req = self.dram.request()
        self.req.callbacks.append(self._granted)

    def _granted(self, _event: Event) -> None:
        self.env.timeout(self.cycles).callbacks.append(self._finish)

    def _finish(self, _event: Event) -> None:
        self.dram.release(self.req)
        if self.done.callbacks or self.busy_until[self.owner] <= self.env.now:
            _trigger(self.env, self.done)
        else:  # only the owner waits for it, and it cannot before this event would be processed
            _processed(self.done)


def schedule_block_reference(ops: list[OpTiming], deps: list[int], *, double_buffered: bool) -> StepSchedule:
    """The model of :func:`schedule_block` written with SimPy's stock ``Resource``, ``Container`` and ``Process``.

    The readable statement of the model (and the oracle of the tests): :func:`schedule_block`
    schedules the same events in the same order with lighter constructs, so both return the
    same timeline; this one is about three times slower.

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
