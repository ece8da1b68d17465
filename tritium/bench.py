"""Speed benchmarks behind ``tritium bench``: figures, not pass/fail tests.

Each benchmark returns a :class:`BenchFigure` with the measured value, its unit and
the target the issue tracker set, so the numbers can be pasted into a closing note.
Timings are the best of several runs after one warm-up run, on one core.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

__all__ = ["BenchFigure", "run_benchmarks", "bench_trace_70b", "bench_header_shapes", "bench_packed_stats"]


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
        return f"{self.name:<44} {self.value:>10.3f} {self.unit:<6} (target {self.target}; {self.detail})"


def _best_of(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: imports, JIT compilation, caches
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_trace_70b(runs: int = 5) -> BenchFigure:
    """Trace of Llama-2-70B, prefill 4096 + decode 4096, batch 8."""
    from tritium.workloads import Scenario, trace

    scenario = Scenario(batch=8, prefill=4096, decode=4096)
    rows = len(trace("llama-2-70b", scenario))
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


def run_benchmarks(progress: Callable[[str], None] | None = print) -> list[BenchFigure]:
    """Run every benchmark; ``progress`` receives each figure's line as it is measured."""
    figures = []
    for bench in (bench_trace_70b, bench_header_shapes, bench_packed_stats):
        figure = bench()
        figures.append(figure)
        if progress is not None:
            progress(figure.line())
    return figures
