"""Design-space exploration: sweeps of chip designs, Pareto fronts, picking the best chips.

A *space* (a TOML file, :mod:`~tritium.analysis.dse.space`) names the chip parameters to
vary over a base chip, the workloads, the constraints and 2 or 3 objectives. :func:`sweep`
evaluates it (grid, seeded random, or guided Pareto local search;
:mod:`~tritium.analysis.dse.search`) on local worker processes or a Dask cluster
(:mod:`~tritium.analysis.dse.execute`), writing every point to ``OUT/results.sqlite`` as it
finishes (:mod:`~tritium.analysis.dse.store`); a killed sweep resumes. :func:`pareto` and
:func:`pick` read the results (:mod:`~tritium.analysis.dse.pareto`);
:mod:`~tritium.analysis.dse.plots` draws them; :mod:`~tritium.analysis.dse.sweep_bench` measures
speed and the guided search's savings.

>>> from tritium.analysis.dse import space_from_toml
>>> space = space_from_toml('''
... name = "tiny"
... base = "edge-lpddr5"
... objectives = ["tokens_per_s", "joules_per_token"]
... [[workload]]
... model = "trilm-99m"
... prefill = 16
... decode = 4
... [params]
... tlu.rows = [32, 64]
... clock_mhz = { start = 500, stop = 1000, step = 250 }
... ''')
>>> space.grid_size, [p.values for p in space.params]
(6, [(32, 64), (500.0, 750.0, 1000.0)])
"""

from tritium.analysis.dse.execute import SweepProgress, SweepSummary, default_workers, sweep
from tritium.analysis.dse.pareto import PICK_LIMITS, non_dominated, pareto, pick
from tritium.analysis.dse.search import GuidedSearch, GridSearch, RandomSearch, make_strategy
from tritium.analysis.dse.space import list_spaces, load_space, space_from_toml
from tritium.analysis.dse.space_axes import param_paths
from tritium.analysis.dse.space_record import METRICS, Space
from tritium.analysis.dse.store import load_results, load_space_of

__all__ = [
    "METRICS",
    "PICK_LIMITS",
    "Space",
    "SweepProgress",
    "SweepSummary",
    "GridSearch",
    "RandomSearch",
    "GuidedSearch",
    "list_spaces",
    "load_space",
    "space_from_toml",
    "param_paths",
    "make_strategy",
    "sweep",
    "default_workers",
    "load_results",
    "load_space_of",
    "non_dominated",
    "pareto",
    "pick",
]
