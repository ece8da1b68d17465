"""Run a ternary GEMM on the RTL in Amaranth's simulator: :func:`run_gemm`, :func:`sim_speed`.

The host side of :class:`~tritium.hdl.core.TritiumCore`'s streams lives here too:
:func:`weight_beats` and :func:`act_beats` turn a GEMM's trits and activations into the
beats the core's ``weights`` and ``acts`` streams take (the export's testbench vectors
use them as well).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from tritium.base.errors import SpecError
from tritium.hdl.core import GemmLimits, TritiumCore
from tritium.hdl.elaborate import elaborate, gemm_limits
from tritium.hdl.memory import lane_bytes
from tritium.sim.chip import Chip, load_chip
from tritium.sim.chip_parts import TluSpec
from tritium.sim.golden import golden_vectors
from tritium.sim.weight_encoding import encode_weights

__all__ = ["SimStats", "weight_beats", "act_beats", "run_gemm", "sim_speed", "tree_sim_speed"]

_CLOCK_PERIOD_S = 1e-8  # nominal; simulation results do not depend on it


@dataclass(frozen=True, slots=True, kw_only=True)
class SimStats:
    """What one :func:`run_gemm` simulation cost.

    Attributes:
        m, k, n: the GEMM shape.
        token_block: the token block the core ran with.
        compute_cycles: the core's ``compute_cycles`` output after the run.
        weight_reads, act_reads, result_writes: cycles in which the weight memory's read
            port, the activation buffer's read port and the result memory's write port
            were enabled (the core's ``weight_read``, ``act_read`` and ``result_write``
            strobes, sampled every cycle of the run): weight words, activation slices
            and result words moved while computing.
        total_cycles: clock cycles simulated, from ``start`` to the last result.
        setup_s: seconds to elaborate and compile the design for simulation.
        run_s: seconds to simulate ``total_cycles``.
        cycles_per_s: total_cycles / run_s (all phases: loading, computing, streaming out).
        compute_cycles_per_s: simulation speed while computing: compute_cycles over the
            seconds from the last activation beat to the first result (every tree busy).
    """

    m: int
    k: int
    n: int
    token_block: int
    compute_cycles: int
    weight_reads: int
    act_reads: int
    result_writes: int
    total_cycles: int
    setup_s: float
    run_s: float
    cycles_per_s: float
    compute_cycles_per_s: float


def weight_beats(tlu: TluSpec, trits: np.ndarray) -> list[int]:
    """The ``weights`` stream beats of an (N, K) trit matrix, in the core's order.

    Order: tile t (rows ``t*rows`` up to ``min(N, (t+1)*rows)``), slice s, row of the
    tile; each beat is one row's ``width`` trits of the slice encoded with
    ``tlu.weight_encoding`` (byte 0 in the low bits, trits past K zero).
    """
    n, k = trits.shape
    slices, per_lane = math.ceil(k / tlu.width), lane_bytes(tlu)
    padded = np.zeros((n, slices, tlu.width), dtype=np.int8)
    padded.reshape(n, -1)[:, :k] = trits
    packed = encode_weights(padded, tlu.weight_encoding)  # (n, slices, per_lane)
    assert packed.shape == (n, slices, per_lane)
    beats = []
    for t0 in range(0, n, tlu.rows):
        for s in range(slices):
            for row in range(t0, min(n, t0 + tlu.rows)):
                beats.append(int.from_bytes(packed[row, s].tobytes(), "little"))
    return beats


def act_beats(tlu: TluSpec, acts: np.ndarray) -> list[int]:
    """The ``acts`` stream beats of an (M, K) activation matrix: one per token and slice.

    Each beat packs ``width`` activations as ``act_bits``-bit two's complement, element 0
    in the low bits, activations past K zero.
    """
    m, k = acts.shape
    slices = math.ceil(k / tlu.width)
    padded = np.zeros((m, slices * tlu.width), dtype=np.int64)
    padded[:, :k] = acts
    fields = (padded & ((1 << tlu.act_bits) - 1)).reshape(m * slices, tlu.width)
    shifts = [tlu.act_bits * i for i in range(tlu.width)]
    return [sum(int(v) << sh for v, sh in zip(row, shifts)) for row in fields]


def _resolve(chip_or_core: Chip | TritiumCore | str | os.PathLike) -> tuple[TluSpec, GemmLimits, Chip | None]:
    """(tlu, limits, chip) of a core or of a chip not yet elaborated (chip None for a core)."""
    if isinstance(chip_or_core, TritiumCore):
        return chip_or_core.tlu, chip_or_core.limits, None
    chip = load_chip(chip_or_core)
    return chip.tlu, gemm_limits(chip), chip


def run_gemm(
    chip_or_core: Chip | TritiumCore | str | os.PathLike, acts: np.ndarray, weights: np.ndarray, *,
    token_block: int | None = None,
) -> tuple[np.ndarray, int, SimStats]:
    """Compute ``acts @ weights.T`` on the core's RTL in :mod:`amaranth.sim`.

    The testbench pulses ``start`` with the shape and token block, streams the weights
    then the activations one beat per cycle, collects the results with ``ready`` held
    high, and counts the cycles in which the core's memory strobes are high.

    Args:
        chip_or_core: a chip (or preset name or TOML path), elaborated with
            :func:`~tritium.hdl.elaborate.elaborate`, or an elaborated core to reuse.
        acts: integer (M, K) signed ``act_bits``-bit activations.
        weights: integer (N, K) trits.
        token_block: tokens per weight-word read, 1 to ``tlu.acc_per_tree`` (default:
            ``tlu.acc_per_tree``).

    Returns:
        ``(outputs, compute_cycles, stats)``: int64 (M, N) accumulator values (wrapped at
        ``acc_bits``, as :func:`tritium.sim.golden.ternary_matmul` outputs them), the
        core's compute-phase cycle count and a :class:`SimStats`.

    Raises:
        SpecError: ``acts`` or ``weights`` has a bad shape or value.
        TritiumError: the shape does not fit the core's buffers (``core.limits``), or the
            token block is out of range.
    """
    t0 = time.perf_counter()
    tlu, limits, chip = _resolve(chip_or_core)
    acts, weights = np.asarray(acts), np.asarray(weights)
    if acts.ndim != 2 or weights.ndim != 2 or acts.shape[1] != weights.shape[1] or 0 in acts.shape + weights.shape:
        raise SpecError("shapes", (acts.shape, weights.shape), "must be acts (M, K) and weights (N, K), sides >= 1")
    half = 2 ** (tlu.act_bits - 1)
    if acts.min() < -half or acts.max() >= half:
        raise SpecError("acts", (int(acts.min()), int(acts.max())), f"must be signed {tlu.act_bits}-bit integers")
    if np.abs(weights).max() > 1:
        raise SpecError("weights", int(np.abs(weights).max()), "must be trits -1, 0, +1")
    m, k = acts.shape
    n = weights.shape[0]
    block = tlu.acc_per_tree if token_block is None else token_block
    limits.check(m, k, n, block)
    core = elaborate(chip) if chip is not None else chip_or_core
    wbeats, abeats = weight_beats(tlu, weights), act_beats(tlu, acts)
    results: list[int] = []
    cycles: list[int] = []
    marks: list[float] = []  # wall clock at the end of loading and at the first result
    ticks = [0]
    strobes = (core.weight_read, core.act_read, core.result_write)
    counts = [0, 0, 0]

    async def testbench(ctx):
        async def tick(*sampled):
            ticks[0] += 1
            values = await ctx.tick().sample(*strobes, *sampled)
            for i, value in enumerate(values[2:5]):
                counts[i] += value
            return values[:2] + values[5:]

        ctx.set(core.m, m)
        ctx.set(core.k, k)
        ctx.set(core.n, n)
        ctx.set(core.token_block, block)
        ctx.set(core.start, 1)
        await tick()
        ctx.set(core.start, 0)
        for stream, beats, payload in (
            (core.weights, wbeats, core.weights.payload),
            (core.acts, abeats, core.acts.payload.as_value()),
        ):
            ctx.set(stream.valid, 1)
            for beat in beats:
                ctx.set(payload, beat)
                while True:
                    _, _, ready = await tick(stream.ready)
                    if ready:
                        break
            ctx.set(stream.valid, 0)
        ctx.set(core.results.ready, 1)
        marks.append(time.perf_counter())
        while len(results) < m * n:
            _, _, valid, value = await tick(core.results.valid, core.results.payload)
            if valid:
                if not results:
                    marks.append(time.perf_counter())
                results.append(value)
        cycles.append(ctx.get(core.compute_cycles))

    sim = Simulator(core)
    sim.add_clock(_CLOCK_PERIOD_S)
    sim.add_testbench(testbench)
    t1 = time.perf_counter()
    sim.run()
    t2 = time.perf_counter()
    outputs = np.array(results, dtype=np.int64).reshape(m, n)
    run_s = t2 - t1
    stats = SimStats(
        m=m, k=k, n=n, token_block=block, compute_cycles=cycles[0], weight_reads=counts[0], act_reads=counts[1],
        result_writes=counts[2], total_cycles=ticks[0],
        setup_s=t1 - t0, run_s=run_s, cycles_per_s=_rate(ticks[0], run_s),
        compute_cycles_per_s=_rate(cycles[0], marks[1] - marks[0]),
    )
    return outputs, cycles[0], stats


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.inf


def sim_speed(chip: Chip | TritiumCore | str | os.PathLike = "fpga-proto", *, m: int = 4, k: int = 512,
              n: int = 32, seed: int = 0) -> SimStats:
    """Simulate one random M x K x N GEMM on ``chip``'s core and return its :class:`SimStats`.

    ``stats.cycles_per_s`` is the Amaranth simulation speed (all phases: loading,
    computing and streaming out). The shape must fit the core's buffers; the core runs
    with its largest token block.
    """
    tlu, limits, _ = _resolve(chip)
    limits.check(m, k, n, tlu.acc_per_tree)
    case = golden_vectors(tlu, m=m, k=k, n=n, seed=seed)[0]
    _, _, stats = run_gemm(chip, case.acts, case.weights)
    return stats


def tree_sim_speed(width: int = 64, act_bits: int = 8, *, slices: int = 2000, seed: int = 0) -> float:
    """Amaranth simulation speed of one :class:`~tritium.hdl.tree.AdderTree`, cycles/s.

    Drives ``slices`` random slices (one per cycle, inputs set as packed integers),
    checks every sum against numpy, and returns the cycles simulated per wall second.

    Raises:
        SpecError: a bad ``width``, ``act_bits`` or ``slices``.
        TritiumError: a sum differed from numpy's (the tree is broken).
    """
    from tritium.base.errors import TritiumError
    from tritium.hdl.tree import WEIGHT_CODE, AdderTree
    from tritium.base.specio import check_int

    check_int("slices", slices, lo=1)
    tree = AdderTree(width, act_bits)
    rng = np.random.default_rng(seed)
    half = 1 << (act_bits - 1)
    acts = rng.integers(-half, half, size=(slices, width))
    trits = rng.integers(-1, 2, size=(slices, width))
    codes = np.vectorize(WEIGHT_CODE.get)(trits)
    weights_bits = 1 << np.arange(0, 2 * width, 2, dtype=object)
    act_bits_shift = 1 << np.arange(0, act_bits * width, act_bits, dtype=object)
    packed_acts = [int(((row.astype(object) % (1 << act_bits)) * act_bits_shift).sum()) for row in acts]
    packed_codes = [int((row.astype(object) * weights_bits).sum()) for row in codes]
    expected = (acts * trits).sum(axis=1)
    sums: list[int] = []

    async def testbench(ctx):
        ctx.set(tree.valid_in, 1)
        for cycle in range(slices + tree.latency - 1):
            if cycle < slices:
                ctx.set(tree.act.as_value(), packed_acts[cycle])
                ctx.set(tree.w.as_value(), packed_codes[cycle])
            await ctx.tick()
            if cycle + 1 >= tree.latency:
                sums.append(ctx.get(tree.sum))

    sim = Simulator(tree)
    sim.add_clock(_CLOCK_PERIOD_S)
    sim.add_testbench(testbench)
    start = time.perf_counter()
    sim.run()
    wall = time.perf_counter() - start
    if sums != [int(v) for v in expected]:
        raise TritiumError(f"the {width}-input tree's sums differ from numpy's")
    return _rate(slices + tree.latency - 1, wall)
