"""The figures behind ``tritium bench``: measured, named, with their targets (no pass/fail on speed)."""

import math

from tritium.speed_bench import BenchFigure, bench_simulate_memory, bench_simulate_presets, bench_trace_70b
from tritium.sim import list_presets


def _measured(figure: BenchFigure) -> bool:
    return math.isfinite(figure.value) and figure.value > 0 and figure.target and figure.unit


def test_simulate_figures_cover_every_preset_from_cold_caches():
    figures = bench_simulate_presets(runs=1)
    assert [f.name.rsplit(" ", 1)[-1] for f in figures] == list_presets()
    assert all(_measured(f) and f.unit == "s" and "cold caches" in f.detail for f in figures)


def test_trace_and_memory_figures():
    trace = bench_trace_70b(runs=1)
    assert _measured(trace) and trace.detail.endswith("rows")
    memory = bench_simulate_memory()
    assert _measured(memory) and memory.unit == "ratio" and "MiB" in memory.detail
    assert set(memory.to_dict()) == {"name", "value", "unit", "target", "detail"}
    assert memory.name in memory.line()
