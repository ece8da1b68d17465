"""Workloads: the model zoo, checkpoint statistics and traces (``tritium.workloads``).

>>> from tritium.workloads import Scenario, trace, summarize
>>> s = summarize(trace("trilm-99m", Scenario(batch=1, prefill=8, decode=2)))
>>> s.model, s.decode
('trilm-99m', 2)
"""

from tritium.workloads.api import build_trace
from tritium.workloads.model_config import spec_from_hf_config
from tritium.workloads.models import PROJECTIONS, ModelSpec
from tritium.workloads.zoo import load_model, zoo_model, zoo_names
from tritium.workloads.scalesim import trace_from_scalesim
from tritium.workloads.schema import KINDS, TRACE_COLUMNS, validate_trace
from tritium.workloads.stats import WeightModel, WeightStats, modelled_stats
from tritium.workloads.summary import TraceSummary, summarize
from tritium.workloads.scenario import Scenario
from tritium.workloads.trace import trace
from tritium.workloads.trace_io import load_trace, save_trace
from tritium.workloads.trace_record import Trace

__all__ = [
    "PROJECTIONS", "ModelSpec", "load_model", "spec_from_hf_config", "zoo_model", "zoo_names",
    "Scenario", "Trace", "trace", "build_trace", "trace_from_scalesim",
    "KINDS", "TRACE_COLUMNS", "save_trace", "load_trace", "validate_trace",
    "WeightModel", "WeightStats", "modelled_stats", "TraceSummary", "summarize",
]
