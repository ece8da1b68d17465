"""Iteration costs from the device's own model, cached per grid point, and their exactness check.

:meth:`IterationCosts.exact` costs one iteration by running the device's model (the chip
simulator's SimPy timeline, or the GPU model) on its full trace
(:func:`~tritium.analysis.serving.iteration.iteration_trace`). A serving run has tens of
thousands of distinct iterations, so :meth:`IterationCosts.cost` composes each from three parts,
each from the same model and cached:

* the pass without attention and LM head, by tokens ``M`` (and phase): one full-model block of
  ``M`` decode tokens (in a decode pass at a reference context, the stream's typical one; in a
  prefill pass at context 1), less its attention and
  head ops' own seconds (how the timeline overlaps them with the rest stays in this part);
* in a decode pass, how the timeline overlaps attention at the pass's mean context unlike at the
  reference one: the difference of the first part between the two, from passes at the powers of
  two of ``M`` and of the context around the pass's, interpolated in their logarithms;
* the LM head (and its quantize op), by sequences sampled: exact, per-op (the head's own cost);
* attention, per kernel: the decode group as ``a(c) + n b(c)`` at mean context ``c`` over ``n``
  sequences (``a`` and ``b`` from one and two sequences: the GPU pays a launch per kernel, the
  chip's cost is per sequence), each prefill chunk by its tokens and cached prefix.

The decode group's mean context is rounded to a whole token (attention steps with the chip's KV
tiles, so it is not interpolated; its parts are costed :data:`DECODE_BLOCK` contexts at a time,
without the timeline). A chunk's cached prefix is bucketed on a grid (every integer up to 64, then
points 1/64 apart, geometric) and interpolated linearly; on the chip the tokens ``M`` are exact up
to 16, then on a grid 1/16 apart. A chunk's tokens
are exact. The pass's tokens ``M`` are exact on the GPU (its kernels' time steps with tiles and
waves) and on the grid on the chip (its time is piecewise linear in ``M``).
:meth:`IterationCosts.check` compares the composed cost with :meth:`exact` at given iterations:
the serving run reports that error (see :func:`tritium.analysis.serving.serve`).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from tritium.analysis.serving.device import BlockCost, Device
from tritium.analysis.serving.iteration import (AttentionGroup, IterationShape, attention_trace, head_trace,
                                                iteration_trace)

__all__ = ["IterationCosts", "grid_points", "GRID_EXACT", "GRID_STEP"]

GRID_EXACT = 64
"""Every integer up to here is a grid point (decode batch sizes, short contexts)."""

GRID_STEP = 1 / 16
"""Above :data:`GRID_EXACT`, grid points are this much apart, relatively (6.25%)."""

_ATTENTION = ("attn_qk", "softmax", "attn_pv")
_HEAD = ("head_quant", "lm_head")


def _make_grid(limit: int = 1 << 27, step: float = GRID_STEP, exact: int = GRID_EXACT) -> list[int]:
    points = list(range(1, exact + 1))
    k = 1
    while points[-1] < limit:
        v = int(round(exact * (1 + step) ** k))
        if v > points[-1]:
            points.append(v)
        k += 1
    return points


DENSE_EXACT = 16
"""On the chip, the pass's tokens ``M`` are exact up to here, then on a 1/16 grid."""

GPU_BLOCK = 32
"""On the GPU, dense parts are costed for this many consecutive token counts at a time."""

HEAD_BLOCK = 64
"""LM-head parts are costed for this many consecutive sequence counts at a time."""

OVERLAP_STEPS = 4
"""Contexts of the overlap table per octave (see :meth:`IterationCosts._overlap`); the table also
holds ``2^k + 1``, as attention's KV tiles (powers of two) make the overlap step just past ``2^k``."""

DECODE_BLOCK = 512
"""Decode-attention parts are costed for this many consecutive contexts at a time."""

CONTEXT_STEP = 1 / 64
"""Grid spacing of context lengths above :data:`GRID_EXACT` (1.6%): attention is cheap to cost."""

_GRID = _make_grid()
_DENSE_GRID = _make_grid(exact=DENSE_EXACT)
_CONTEXT_GRID = _make_grid(step=CONTEXT_STEP)


def grid_points(x: float, grid: list[int] = _GRID) -> tuple[int, int, float]:
    """The grid points around ``x >= 1`` and the weight of the upper one: ``x = (1 - w) g0 + w g1``."""
    i = bisect.bisect_left(grid, x)
    if i < len(grid) and grid[i] == x:
        return grid[i], grid[i], 0.0
    lo, hi = grid[i - 1], grid[i]
    return lo, hi, (x - lo) / (hi - lo)


@dataclass(frozen=True, slots=True)
class _Part:
    seconds: float
    joules: float  # dynamic

    def lerp(self, other: "_Part", w: float) -> "_Part":
        return _Part(self.seconds + w * (other.seconds - self.seconds), self.joules + w * (other.joules - self.joules))


def _extrapolate(three: _Part, four: _Part, layers: int) -> _Part:
    return _Part(three.seconds + (layers - 3) * (four.seconds - three.seconds),
                 three.joules + (layers - 3) * (four.joules - three.joules))


def _octaves(x: float, steps: int = 1) -> list[tuple[int, float]]:
    """The points ``round(2^(k / steps))`` around ``x >= 1`` with their weights, linear in log2
    (one point when ``x`` is one)."""
    x = max(float(x), 1.0)
    k = math.floor(math.log2(x) * steps + 1e-9)
    lo, hi = round(2 ** (k / steps)), round(2 ** ((k + 1) / steps))
    if lo == x or lo == hi:
        return [(lo, 1.0)]
    w = (math.log2(x) - math.log2(lo)) / (math.log2(hi) - math.log2(lo))
    return [(lo, 1.0 - w), (hi, w)]


_OVERLAP_GRID = sorted({round(2 ** (k / OVERLAP_STEPS)) for k in range(27 * OVERLAP_STEPS + 1)}
                       | {2 ** j + 1 for j in range(27)})


def _around(x: float, grid: list[int]) -> list[tuple[int, float]]:
    """The points of ``grid`` around ``x >= 1`` with their weights, linear in log2."""
    x = max(float(x), 1.0)
    i = bisect.bisect_left(grid, x)
    if grid[i] == x:
        return [(grid[i], 1.0)]
    lo, hi = grid[i - 1], grid[i]
    w = (math.log2(x) - math.log2(lo)) / (math.log2(hi) - math.log2(lo))
    return [(lo, 1.0 - w), (hi, w)]


def _sums(ops, mask) -> _Part:
    return _Part(float(ops.seconds.to_numpy()[mask].sum()), float(ops.energy_j.to_numpy()[mask].sum()))


class IterationCosts:
    """Seconds and joules of serving iterations on ``device`` (see the module docstring).

    Joules are the whole device's: the ops' dynamic energy plus ``device.busy_w`` over the pass.
    Caches grow with the grid points a run touches (a few hundred), not with its iterations.
    """

    def __init__(self, device: Device, reference_context: int = 512):
        self.device = device
        self.reference_context = reference_context
        self.layers = device.spec.num_layers
        self._dense: dict[tuple[str, int], tuple[_Part, _Part]] = {}  # (phase, M) -> (rest, its head)
        self._head: dict[tuple[str, int], _Part] = {}  # (phase, logits) -> LM head
        self._overlaps: dict[tuple[str, int, int], tuple[_Part, _Part]] = {}  # (phase, M, ctx) -> (rest, head)
        self._decode: dict[tuple[str, int], tuple[_Part, _Part]] = {}  # (phase, ctx) -> (a, b)
        self._chunk: dict[tuple[int, int], _Part] = {}  # (tokens, prefix) -> attention
        self.probes = 0  # model evaluations so far (blocks)

    # -- the full model ---------------------------------------------------------------
    def exact(self, shape: IterationShape) -> tuple[float, float]:
        """Seconds and joules of ``shape`` from the device's model on its full iteration trace."""
        (block,) = self.device.blocks(iteration_trace(self.device.spec, [shape]))
        return block.seconds, block.dynamic_j + self.device.busy_w * block.seconds

    # -- composed from cached parts ---------------------------------------------------
    def cost(self, shape: IterationShape) -> tuple[float, float]:
        """Seconds and joules of ``shape``, composed from cached parts (see the module docstring)."""
        phase = shape.phase
        rest = self._dense_at(phase, shape.tokens)[0]
        seconds, joules = rest.seconds, rest.joules
        if shape.logits:
            head = self._head_at(phase, shape.logits)
            seconds, joules = seconds + head.seconds, joules + head.joules
        if shape.decodes:
            n = shape.decodes
            a, b = self._decode_at(phase, shape.decode_context / n)
            seconds += a.seconds + n * b.seconds
            joules += a.joules + n * b.joules
            if not shape.chunks:
                over = self._overlap(n, shape.decode_context / n)
                seconds, joules = seconds + over.seconds, joules + over.joules
        for tokens, prefix in shape.chunks:
            part = self._chunk_at(tokens, prefix)
            seconds, joules = seconds + part.seconds, joules + part.joules
        return seconds, joules + self.device.busy_w * seconds

    def check(self, shapes: list[IterationShape]) -> dict:
        """The composed cost against :meth:`exact` at ``shapes``: relative errors of seconds and
        joules (max and mean of their absolute values) and the shapes checked."""
        rows = []
        for shape in shapes:
            s_fast, j_fast = self.cost(shape)
            s_exact, j_exact = self.exact(shape)
            rows.append((s_fast / s_exact - 1, j_fast / j_exact - 1))
        err = np.abs(np.array(rows, dtype=np.float64).reshape(-1, 2))
        return {"checked": len(rows),
                "max_time_error": float(err[:, 0].max()) if len(rows) else 0.0,
                "mean_time_error": float(err[:, 0].mean()) if len(rows) else 0.0,
                "max_energy_error": float(err[:, 1].max()) if len(rows) else 0.0,
                "mean_energy_error": float(err[:, 1].mean()) if len(rows) else 0.0}

    def set_reference_context(self, context: int) -> None:
        """Run the dense parts' passes with decodes at ``context`` (a stream's typical context) from
        now on: their attention is taken out again, but how the timeline overlaps it with the
        other ops stays, and is closest to the truth near that context. Clears the dense cache
        when it changes."""
        context = max(1, int(context))
        if context != self.reference_context:
            self.reference_context = context
            self._dense.clear()
            self._overlaps.clear()

    def warm(self, phase: str, tokens: list[int], context: int | None = None) -> None:
        """Compute the dense parts at ``tokens`` in one evaluation of the device's model, with
        decodes at ``context`` (default: the reference context in a decode pass, 1 in a prefill
        pass; other contexts go to the overlap table, see :meth:`_overlap`).

        The passes are run with 3 and 4 decoder layers and extrapolated to the model's: the layers
        are identical, and the simulator extrapolates them the same way (one layer's timeline plus
        a second's increment, its SimPy runs shared through its memo), the GPU model sums them:
        the same figures for a fraction of the trace.
        """
        default = self.reference_context if phase == "decode" else 1  # a prefill pass's attention is its chunks'
        ctx = default if context is None else context
        table = self._dense if ctx == default else self._overlaps
        key = (lambda m: (phase, m)) if ctx == default else (lambda m: (phase, m, ctx))
        missing = sorted({t for t in tokens if key(t) not in table})
        if not missing:
            return
        shapes = [IterationShape(m, m * ctx, (), m) for m in missing]
        spec = self.device.spec
        if spec.num_layers > 4:  # identical layers: both models extrapolate them exactly so
            k = len(shapes)
            both = self._run_dense(spec, shapes * 2, phase, layers=[3] * k + [4] * k)
            parts = [(_extrapolate(r3, r4, spec.num_layers), h3) for (r3, h3), (r4, _) in zip(both[:k], both[k:])]
        else:
            parts = self._run_dense(spec, shapes, phase)
        for m, part in zip(missing, parts):
            table[key(m)] = part

    def _overlap(self, tokens: int, context: float) -> _Part:
        """How a decode pass's timeline overlaps attention at ``context`` unlike at the reference
        context: ``rest(M, c) - rest(M, ref)``, from passes at powers of two of ``M`` and at
        quarter-octave contexts around the asked ones, interpolated in their logarithms (0 on an
        additive device, whose time is a sum)."""
        if self.device.additive:
            return _Part(0.0, 0.0)
        ms = _octaves(tokens)
        cs = _around(context, _OVERLAP_GRID)
        for c, _ in cs:
            self.warm("decode", [m for m, _ in ms], context=c)
        self.warm("decode", [m for m, _ in ms])
        seconds = joules = 0.0
        for m, wm in ms:
            base = self._dense[("decode", m)][0]
            for c, wc in cs:
                there = self._rest("decode", m, c)
                seconds += wm * wc * (there.seconds - base.seconds)
                joules += wm * wc * (there.joules - base.joules)
        return _Part(seconds, joules)

    def _rest(self, phase: str, tokens: int, context: int) -> _Part:
        default = self.reference_context if phase == "decode" else 1
        if context == default:
            return self._dense[(phase, tokens)][0]
        return self._overlaps[(phase, tokens, context)][0]

    def _run_dense(self, spec, shapes: list[IterationShape], phase: str,
                   layers: list[int] | None = None) -> list[tuple[_Part, _Part]]:
        blocks = self.device.blocks(iteration_trace(spec, shapes, phases=[phase] * len(shapes), layers=layers))
        self.probes += len(blocks)
        return [self._split(block) for block in blocks]

    # -- parts --------------------------------------------------------------------------
    @staticmethod
    def _split(block: BlockCost) -> tuple[_Part, _Part]:
        ops = block.ops
        kind = ops.kind.to_numpy()
        att = _sums(ops, np.isin(kind, _ATTENTION))
        head = _sums(ops, np.isin(ops.op.to_numpy(), _HEAD))
        rest = _Part(block.seconds - att.seconds - head.seconds, block.dynamic_j - att.joules - head.joules)
        return rest, head

    def _head_at(self, phase: str, logits: int) -> _Part:
        if (phase, logits) not in self._head:
            start = logits - logits % HEAD_BLOCK
            counts = list(range(max(start, 1), start + HEAD_BLOCK))
            ops = self.device.op_cost(head_trace(self.device.spec, counts, phase)).ops
            self.probes += 1
            which = np.cumsum(ops.op.to_numpy() == "final_norm") - 1
            mask = np.isin(ops.op.to_numpy(), _HEAD)
            sec = np.bincount(which[mask], ops.seconds.to_numpy()[mask], minlength=len(counts))
            jou = np.bincount(which[mask], ops.energy_j.to_numpy()[mask], minlength=len(counts))
            for n, s_, j_ in zip(counts, sec, jou):
                self._head[(phase, n)] = _Part(float(s_), float(j_))
        return self._head[(phase, logits)]

    def _dense_at(self, phase: str, tokens: int) -> tuple[_Part, _Part]:
        if self.device.additive:  # the GPU's kernels step with tiles and waves: no interpolation
            if (phase, tokens) not in self._dense:
                start = tokens - tokens % GPU_BLOCK
                self.warm(phase, list(range(max(start, 1), start + GPU_BLOCK)))
            return self._dense[(phase, tokens)]
        g0, g1, w = grid_points(tokens, _DENSE_GRID)
        if (phase, g0) not in self._dense or (phase, g1) not in self._dense:
            i = _DENSE_GRID.index(g0)  # and the next grid points: one evaluation for a few
            self.warm(phase, _DENSE_GRID[max(i - 1, 0):i + 4])
        lo, hi = self._dense[(phase, g0)], self._dense[(phase, g1)]
        if w == 0.0:
            return lo
        return lo[0].lerp(hi[0], w), lo[1].lerp(hi[1], w)

    def _attention(self, phase: str, groups: list[AttentionGroup]) -> list[_Part]:
        """Each group's attention over all layers (one evaluation for all of them)."""
        block = self.device.op_cost(attention_trace(self.device.spec, groups, phase))
        self.probes += 1
        ops = block.ops
        sec = ops.seconds.to_numpy().reshape(len(groups), len(_ATTENTION)).sum(axis=1)
        jou = ops.energy_j.to_numpy().reshape(len(groups), len(_ATTENTION)).sum(axis=1)
        return [_Part(float(s) * self.layers, float(j) * self.layers) for s, j in zip(sec, jou)]

    def _decode_at(self, phase: str, context: float) -> tuple[_Part, _Part]:
        c = max(1, int(round(context)))
        if (phase, c) not in self._decode:  # a block of contexts at once: one evaluation
            start = c - c % DECODE_BLOCK
            self._decode_points(phase, list(range(max(start, 1), start + DECODE_BLOCK)))
        return self._decode[(phase, c)]

    def _decode_points(self, phase: str, points: list[int]) -> None:
        missing = [g for g in dict.fromkeys(points) if (phase, g) not in self._decode]
        if missing:
            groups = [grp for g in missing for grp in (AttentionGroup.decode(1, g), AttentionGroup.decode(2, 2 * g))]
            parts = self._attention(phase, groups)
            for i, g in enumerate(missing):
                one, two = parts[2 * i], parts[2 * i + 1]
                b = _Part(two.seconds - one.seconds, two.joules - one.joules)
                a = _Part(one.seconds - b.seconds, one.joules - b.joules)
                self._decode[(phase, g)] = (a, b)

    def _chunk_at(self, tokens: int, prefix: int) -> _Part:
        if prefix == 0:
            corners, wp = [(tokens, 0)], 0.0
        else:
            p0, p1, wp = grid_points(prefix, _CONTEXT_GRID)
            corners = [(tokens, p0), (tokens, p1)]
        self.warm_chunks(corners)
        if len(corners) == 1:
            return self._chunk[corners[0]]
        return self._chunk[corners[0]].lerp(self._chunk[corners[1]], wp)

    def warm_chunks(self, chunks: list[tuple[int, int]]) -> None:
        """Compute the attention of prefill chunks ``(tokens, prefix)`` (prefix a grid point or 0)
        in one evaluation."""
        missing = [c for c in dict.fromkeys(chunks) if c not in self._chunk]
        if missing:
            for c, part in zip(missing, self._attention("prefill", [AttentionGroup.chunk(*c) for c in missing])):
                self._chunk[c] = part

    def peak_tokens_per_s(self, max_batch: int) -> float:
        """The batch-limited peak: the most tokens per second any pass of at most ``max_batch``
        sampled sequences reaches, taken over decode passes of ``n`` sequences at context 1 for
        ``n`` = 1, 2, 4, ... and ``max_batch`` (the fewest tokens and shortest contexts a pass
        sampling ``n`` sequences can have)."""
        sizes = sorted({1 << k for k in range(int(math.log2(max_batch)) + 1)} | {max_batch})
        return max(n / self.cost(IterationShape(n, n, (), n))[0] for n in sizes)
