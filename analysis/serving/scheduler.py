"""The serving engine's event loop: iteration-level continuous batching on SimPy.

One SimPy process runs the engine; each event is one iteration (a forward pass) or an idle
wait for the next arrival, never a token. Each iteration, in this order (vLLM's scheduler):

1. arrivals up to now join the waiting queue (FCFS); a request whose prompt plus output
   cannot fit the whole KV cache, or (without chunked prefill) whose prompt exceeds the token
   budget, is rejected at once and counted;
2. every running request in decode needs room for one token's KV; when the paged cache has no
   free block, the most recently admitted running request is preempted (recompute: its blocks
   are freed, it returns to the head of the queue and later prefills its prompt and the tokens
   it had generated);
3. prefill work fills the token budget (``max_batched_tokens`` less the decode tokens): first
   the unfinished chunks of running requests, then waiting requests in order while fewer than
   ``max_batch`` run and their KV blocks are free (head-of-line: the first that does not fit
   stops admission). With ``chunk_tokens`` a prompt runs in chunks of at most that many tokens;
   without, a prompt runs whole;
4. the iteration's time and energy come from :class:`~tritium.analysis.serving.costs.IterationCosts`;
   at its end decode requests have one more token, a finished prefill has its first token,
   and requests with all their tokens leave.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np
import simpy

from tritium.analysis.serving.costs import IterationCosts
from tritium.analysis.serving.iteration import IterationShape
from tritium.analysis.serving.requests import Requests

__all__ = ["EngineConfig", "run_engine", "EngineRun", "KV_BLOCK_TOKENS"]

KV_BLOCK_TOKENS = 16
"""Tokens per KV page (vLLM's default block size)."""

_SERIES_POINTS = 4096  # time-series samples kept (halved by decimation when full)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The scheduler's limits: ``max_batch`` running sequences, ``max_batched_tokens`` tokens per
    iteration, ``chunk_tokens`` (None: no chunked prefill) and ``kv_blocks`` of
    :data:`KV_BLOCK_TOKENS` tokens."""

    max_batch: int
    max_batched_tokens: int
    chunk_tokens: int | None
    kv_blocks: int


@dataclass
class EngineRun:
    """What the loop recorded: per-request arrays (seconds; NaN where it never happened), the
    time series (sampled) and counters."""

    admitted: np.ndarray
    first_token: np.ndarray
    finish: np.ndarray
    energy_j: np.ndarray
    preemptions: np.ndarray
    rejected: np.ndarray
    series: dict
    iterations: int
    busy_s: float
    idle_s: float
    busy_j: float
    idle_j: float
    in_system_area: float  # integral of requests in the system over time, request-seconds
    end_s: float
    shapes: list  # sampled iteration shapes for the exactness check


class _Series:
    """Samples of (time, waiting, running, KV blocks used), decimated to stay under a bound."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, int, int, int]] = []
        self.stride, self.count = 1, 0

    def add(self, t: float, waiting: int, running: int, kv: int) -> None:
        if self.count % self.stride == 0:
            self.rows.append((t, waiting, running, kv))
            if len(self.rows) >= 2 * _SERIES_POINTS:
                self.rows = self.rows[::2]
                self.stride *= 2
        self.count += 1


def run_engine(requests: Requests, costs: IterationCosts, config: EngineConfig, *, check_samples: int = 8,
               seed: int = 0, progress=None) -> EngineRun:
    """Serve ``requests`` on the device of ``costs`` under ``config`` (see the module docstring).

    ``check_samples`` iteration shapes are kept by reservoir sampling (seeded) for the caller's
    exactness check; ``progress(done, total)`` is called as requests finish or are rejected.
    """
    n = len(requests)
    arrival = requests.arrival_s.tolist()
    prompt = requests.prompt.tolist()
    output = requests.output.tolist()
    admitted = [math.nan] * n
    first = [math.nan] * n
    finish = [math.nan] * n
    energy = [0.0] * n
    preempt = [0] * n
    rejected = [False] * n
    cached = [0] * n  # tokens whose KV is in the cache
    target = [0] * n  # tokens to prefill (prompt, plus generated tokens after a preemption)
    generated = [0] * n
    blocks = [0] * n
    B = KV_BLOCK_TOKENS
    cap = config.kv_blocks
    max_batch, budget_all, chunk = config.max_batch, config.max_batched_tokens, config.chunk_tokens
    free = cap
    waiting: collections.deque[int] = collections.deque()
    running: list[int] = []
    series = _Series()
    rng = np.random.default_rng(seed + 1)
    samples: list[IterationShape] = []
    stats = {"iterations": 0, "busy_s": 0.0, "idle_s": 0.0, "busy_j": 0.0, "idle_j": 0.0, "area": 0.0}
    idle_w = costs.device.idle_w
    done = 0
    for i in range(n):
        need = prompt[i] + max(output[i] - 1, 0)
        if -(-need // B) > cap or (chunk is None and prompt[i] > budget_all):
            rejected[i] = True
    env = simpy.Environment()

    def engine():
        nonlocal free, done
        nxt = 0  # next arrival to admit
        in_system = 0
        while True:
            now = env.now
            while nxt < n and arrival[nxt] <= now:
                if rejected[nxt]:
                    done += 1
                else:
                    waiting.append(nxt)
                    in_system += 1
                    stats["area"] += now - arrival[nxt]
                nxt += 1
            if not running and not waiting:
                if nxt >= n:
                    return
                gap = arrival[nxt] - now
                stats["idle_s"] += gap
                stats["idle_j"] += idle_w * gap
                yield env.timeout(gap)
                continue
            # decodes, preempting the newest running request when a block is missing
            decodes: list[int] = []
            prefilling: list[int] = []
            k = 0
            while k < len(running):
                r = running[k]
                if cached[r] < target[r]:
                    prefilling.append(r)
                    k += 1
                    continue
                if cached[r] % B == 0:  # its next token starts a new block
                    while free == 0:
                        victim = running.pop()
                        free += blocks[victim]
                        blocks[victim] = 0
                        target[victim] = prompt[victim] + generated[victim]
                        cached[victim] = 0
                        preempt[victim] += 1
                        waiting.appendleft(victim)
                        if victim in prefilling:
                            prefilling.remove(victim)
                        if victim == r:
                            break
                    if r not in running:
                        break
                    free -= 1
                    blocks[r] += 1
                decodes.append(r)
                k += 1
            budget = budget_all - len(decodes)
            chunks: list[tuple[int, int, int]] = []  # (request, tokens, prefix)
            for r in prefilling:
                if budget <= 0:
                    break
                c = _grant(r, budget, cached, target, blocks, free, chunk, budget_all)
                if c:
                    extra = -(-(cached[r] + c) // B) - blocks[r]
                    free -= extra
                    blocks[r] += extra
                    chunks.append((r, c, cached[r]))
                    budget -= c
            while waiting and budget > 0 and len(running) < max_batch:
                r = waiting[0]
                c = _grant(r if target[r] else _fresh(r, target, prompt), budget, cached, target, blocks, free, chunk,
                           budget_all)
                if not c:
                    break
                waiting.popleft()
                running.append(r)
                if math.isnan(admitted[r]):
                    admitted[r] = now
                extra = -(-(cached[r] + c) // B) - blocks[r]
                free -= extra
                blocks[r] += extra
                chunks.append((r, c, cached[r]))
                budget -= c
            if not decodes and not chunks:  # nothing fits: cannot happen with rejection above
                raise RuntimeError("serving engine stalled: no request fits the KV cache")
            ctx = sum(cached[r] for r in decodes) + len(decodes)
            ends = sum(1 for r, c, p in chunks if p + c == target[r])
            shape = IterationShape(len(decodes), ctx, tuple((c, p) for _, c, p in chunks), len(decodes) + ends)
            seconds, joules = costs.cost(shape)
            it = stats["iterations"]
            if len(samples) < check_samples:
                samples.append(shape)
            elif rng.random() < check_samples / (it + 1):
                samples[int(rng.integers(check_samples))] = shape
            stats["iterations"] = it + 1
            stats["busy_s"] += seconds
            stats["busy_j"] += joules
            per_token = joules / shape.tokens
            stats["area"] += in_system * seconds
            yield env.timeout(seconds)
            now = env.now
            finished = []
            for r in decodes:
                cached[r] += 1
                generated[r] += 1
                energy[r] += per_token
                if generated[r] >= output[r]:
                    finished.append(r)
            for r, c, p in chunks:
                cached[r] += c
                energy[r] += per_token * c
                if cached[r] == target[r]:
                    if output[r] == 0:
                        first[r] = now
                        finished.append(r)
                        continue
                    generated[r] += 1
                    if math.isnan(first[r]):
                        first[r] = now
                    if generated[r] >= output[r]:
                        finished.append(r)
            for r in finished:
                finish[r] = now
                running.remove(r)
                free += blocks[r]
                blocks[r] = 0
                in_system -= 1
                done += 1
            series.add(now, len(waiting), len(running), cap - free)
            if progress is not None and finished:
                progress(done, n)

    env.process(engine())
    env.run()
    rows = series.rows
    columns = {"t": [r[0] for r in rows], "waiting": [r[1] for r in rows], "running": [r[2] for r in rows],
               "kv_blocks": [r[3] for r in rows]}
    return EngineRun(np.array(admitted), np.array(first), np.array(finish), np.array(energy), np.array(preempt),
                     np.array(rejected), columns,
                     stats["iterations"], stats["busy_s"], stats["idle_s"], stats["busy_j"], stats["idle_j"],
                     stats["area"], float(env.now), samples)


def _fresh(r: int, target: list[int], prompt: list[int]) -> int:
    target[r] = prompt[r]
    return r


def _grant(r: int, budget: int, cached: list[int], target: list[int], blocks: list[int], free: int,
           chunk: int | None, budget_all: int) -> int:
    """Prefill tokens request ``r`` may run now (0: none fit). Without chunked prefill a prompt
    runs whole; a preempted request whose prompt and generated tokens pass the whole budget
    recomputes them in budget-sized chunks."""
    need = target[r] - cached[r]
    if chunk is None and target[r] > budget_all:
        chunk = budget_all
    if chunk is None:
        if need > budget:
            return 0
        c = need
    else:
        c = min(need, chunk, budget)
    if -(-(cached[r] + c) // KV_BLOCK_TOKENS) - blocks[r] > free:
        return 0
    return c
