"""Speed benchmarks behind ``tritium bench``: figures, not pass/fail tests.

Each benchmark returns a :class:`BenchFigure` with the measured value, its unit and
the target the issue tracker set, so the numbers can be pasted into a closing note.
Timings are the best of several runs after one warm-up run, on one core.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

__all__ = [
    "BenchFigure", "run_benchmarks", "bench_trace_70b", "bench_header_shapes", "bench_packed_stats",
    "bench_simulate_presets", "bench_simulate_70b", "bench_simulate_memory",
]


@dataclass(frozen=True, slots=True)
class BenchFigure:
    """One measured figure: ``value`` in ``unit`` against ``target`` (a phrase)."""

    name: str
    value: float
    unit: str
    target: str
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return f"{self.name:<48} {self.value:>10.3f} {self.unit:<6} (target {self.target}; {self.detail})"


def _best_of(fn: Callable[..., object], runs: int, setup: Callable[[], tuple] | None = None) -> float:
    """Best wall time of ``fn(*setup())`` over ``runs`` runs after one warm-up run.

    ``setup`` (untimed) makes each run's arguments, so a run can start from cold caches.
    """
    fn(*(setup() if setup else ()))  # warm-up: imports, JIT compilation
    best = float("inf")
    for _ in range(runs):
        args = setup() if setup else ()
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def _cold(chip, trace=None) -> Callable[[], tuple]:
    """Setup of a ``simulate`` run that reuses nothing: the step-timeline and mapping caches cleared
    and (with ``trace``) a new record of the trace, whose facts are not yet worked out (a sweep
    reuses all of these across chips)."""
    import dataclasses

    from tritium.sim.mapping import clear_caches
    from tritium.sim.simulate import _step_cycles

    def setup() -> tuple:
        _step_cycles.cache_clear()
        clear_caches()
        return (chip,) if trace is None else (chip, dataclasses.replace(trace))

    return setup


def bench_trace_70b(runs: int = 5) -> BenchFigure:
    """Trace of Llama-2-70B, prefill 4096 + decode 4096, batch 8."""
    from tritium.workloads import Scenario, trace

    scenario = Scenario(batch=8, prefill=4096, decode=4096)
    rows = len(trace("llama-2-70b", scenario).table)
    seconds = _best_of(lambda: trace("llama-2-70b", scenario), runs)
    return BenchFigure("trace llama-2-70b 4096+4096 batch 8", seconds, "s", "< 1 s", f"{rows} rows")


def bench_header_shapes(runs: int = 5) -> BenchFigure:
    """Tensor shapes of a sparse Llama-2-70B sharded safetensors checkpoint, headers only."""
    from tritium.workloads.checkpoints import bench_header_shapes as measure

    with tempfile.TemporaryDirectory(prefix="tritium-bench-") as tmp:
        seconds = measure(tmp, repeats=runs)
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.safetensors"))
    return BenchFigure("shapes of a 70B sharded checkpoint (headers)", seconds, "s", "< 1 s",
                       f"723 tensors in 15 sparse shards, {size / 1e9:.0f} GB apparent size")


def bench_packed_stats(runs: int = 3) -> BenchFigure:
    """Weight statistics of packed U8 ternary weights (2B4T layout), one core, end to end."""
    from tritium.workloads.checkpoints import bench_packed_stats as measure

    out_features, in_features = 13824, 5120
    with tempfile.TemporaryDirectory(prefix="tritium-bench-") as tmp:
        mb_per_s = measure(tmp, out_features=out_features, in_features=in_features, repeats=runs)
    return BenchFigure("packed ternary weight statistics", mb_per_s, "MB/s", ">= 300 MB/s",
                       f"{out_features}x{in_features} projection, {out_features * in_features / 4e6:.1f} MB packed, "
                       "read from a file")


def bench_simulate_presets(runs: int = 5) -> list[BenchFigure]:
    """simulate() of BitNet b1.58 2B4T, prefill 512 + decode 128, batch 1, on each preset."""
    from tritium.sim import list_presets, load_chip, simulate
    from tritium.workloads import Scenario, trace

    record = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=512, decode=128))
    table = record.table
    figures = []
    for name in list_presets():
        chip = load_chip(name)
        seconds = _best_of(simulate, runs, _cold(chip, record))
        tps = simulate(chip, record).totals["tokens_per_s"]
        figures.append(BenchFigure(f"simulate 2B4T 512+128 b1 on {name}", seconds, "s", "<= 0.1 s",
                                   f"cold caches; {len(table)} ops, {table.signature.nunique()} distinct; "
                                   f"{tps:,.1f} tokens/s"))
    return figures


def bench_simulate_70b(runs: int = 2) -> BenchFigure:
    """simulate() of a Llama-3-70B-shaped ternary model, prefill 4096 + decode 4096, batch 8."""
    from tritium.sim import load_chip, simulate
    from tritium.workloads import Scenario, load_model, trace

    spec = load_model("llama-3-70b").ternarized()
    scenario = Scenario(batch=8, prefill=4096, decode=4096)
    chip = load_chip("datacenter-hbm3")
    seconds = _best_of(lambda c: simulate(c, trace(spec, scenario)), runs, _cold(chip))
    return BenchFigure("trace+simulate ternary Llama-3-70B 4096+4096 b8", seconds, "s", "<= 5 s",
                       "on datacenter-hbm3, cold caches")


def bench_simulate_memory() -> BenchFigure:
    """Peak Python memory of trace + simulate at decode 128 and 8192: it must not grow with tokens."""
    from tritium.sim import load_chip, simulate
    from tritium.workloads import Scenario, trace

    chip = load_chip("edge-lpddr5")
    peaks = []
    for decode in (128, 3584):
        simulate(chip, trace("bitnet-b1.58-2b-4t", Scenario(1, 512, decode)))  # warm caches
        tracemalloc.start()
        simulate(chip, trace("bitnet-b1.58-2b-4t", Scenario(1, 512, decode)))
        peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return BenchFigure("peak memory of trace+simulate, decode 3584 vs 128", peaks[1] / peaks[0], "ratio",
                       "~1 (no growth with tokens)", f"{peaks[0]:.1f} MiB at 128 tokens, {peaks[1]:.1f} MiB at 3584")


def run_benchmarks(progress: Callable[[str], None] | None = print) -> list[BenchFigure]:
    """Run every benchmark; ``progress`` receives each figure's line as it is measured."""
    figures = []
    for bench in (bench_trace_70b, bench_header_shapes, bench_packed_stats, bench_simulate_presets,
                  bench_simulate_70b, bench_simulate_memory):
        result = bench()
        for figure in result if isinstance(result, list) else [result]:
            figures.append(figure)
            if progress is not None:
                progress(figure.line())
    return figures
