"""The records of a loaded design space: the metrics it may name, its varied parameters,
workloads, constraints, search strategy and deployment, and the :class:`Space` that holds them.

They are plain frozen values; the TOML file is read and checked by
:func:`~tritium.analysis.dse.space.load_space` (top level),
:mod:`~tritium.analysis.dse.space_axes` (``[params]``) and
:mod:`~tritium.analysis.dse.space_tables` (``[[workload]]``, ``[constraints]``, ``objectives``,
``[search]``, ``[deployment]``). :data:`METRICS` names every figure a sweep records; the
figures themselves are computed in :mod:`~tritium.analysis.dse.evaluate`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

from tritium.base.errors import SpecError, TritiumError
from tritium.base.specio import check_choice, check_float, check_int

__all__ = [
    "METRICS",
    "SEARCH_STRATEGIES",
    "MAX_SAMPLES",
    "MAX_EVALUATIONS",
    "Metric",
    "Param",
    "Workload",
    "Constraint",
    "SearchSpec",
    "Deployment",
    "Space",
]


@dataclass(frozen=True, slots=True)
class Metric:
    """One figure of merit of an evaluated point: its better direction, unit and meaning."""

    direction: str  # "max" or "min"
    unit: str
    description: str


METRICS: Mapping[str, Metric] = {
    "tokens_per_s": Metric("max", "tokens/s", "generated tokens per second over the decode phase"),
    "joules_per_token": Metric("min", "J/token", "all energy of the request over generated tokens"),
    "area_mm2": Metric("min", "mm^2", "area of one die"),
    "cost_usd": Metric("min", "USD", "cost to make the whole system (all chips, with DRAM), no NRE"),
    "power_w": Metric("min", "W", "average power over the request"),
    "time_per_output_token_s": Metric("min", "s", "decode time per generated token"),
    "time_to_first_token_s": Metric("min", "s", "prefill time"),
    "carbon_g_per_mtok": Metric("min", "gCO2e/1M tokens", "operational (energy x PUE x grid) plus embodied carbon "
                                "per million generated tokens, at the space's [deployment] or the chip's defaults"),
    "cost_with_nre_usd": Metric("min", "USD", "cost_usd with the mask set and design NRE spread over the "
                                "[deployment] volume (cost_usd when no volume is given)"),
    # serving figures (tritium.analysis.serving.capacity.sweep_metrics): computed only for a space whose
    # objectives or constraints name one (a capacity search per point: seconds, not milliseconds)
    "capacity_rps": Metric("max", "requests/s", "highest Poisson rate with p90 TTFT <= 2 s and p99 TPOT <= 0.2 s"),
    "goodput_per_w": Metric("max", "requests/s/W", "capacity_rps over the average power at that rate"),
    "goodput_per_dollar": Metric("max", "requests/s/USD", "capacity_rps over cost_usd"),
}
"""Metrics a space may constrain or optimise, by column name in the results table."""

SEARCH_STRATEGIES = ("grid", "random", "guided")
MAX_SAMPLES = 100_000
"""Most points a random or guided search may draw (the shipped edge grid is 10,368 points; 100,000
simulated points are hours of CPU, and the draw's bookkeeping stays in tens of MB)."""
MAX_EVALUATIONS = 10_000_000
"""Largest guided-search budget (``max_evaluations``)."""
_UNSTORED_KEYS = ("description", "objectives", "search")  # no stored record depends on them


@dataclass(frozen=True, slots=True)
class Param:
    """One varied chip parameter: its dotted key and the values it takes, in order."""

    path: str
    values: tuple

    @property
    def ordered(self) -> bool:
        """Whether neighbouring values are "close" (numbers) rather than unordered choices."""
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values)


@dataclass(frozen=True, slots=True)
class Workload:
    """One model on one scenario; ``model`` is a zoo name or config.json path. ``lm_head_dtype`` and
    ``kv_dtype`` replace the model's precisions (None: its own); ``mapping_objective`` is what the
    chip's mapper minimizes (:data:`tritium.sim.mapping.OBJECTIVES`); ``act_zero`` the
    (projection, zero fraction of its INT8 inputs) pairs that replace the activation function's
    default (:func:`tritium.workloads.trace`'s ``act_sparsity``)."""

    name: str
    model: str
    ternarize: bool
    batch: int
    prefill: int
    decode: int
    lm_head_dtype: str | None = None
    kv_dtype: str | None = None
    mapping_objective: str = "latency"
    act_zero: tuple[tuple[str, float], ...] = ()

    def trace(self):
        """The trace of this workload (:func:`tritium.workloads.build_trace`)."""
        from tritium.workloads import Scenario, build_trace, load_model

        spec = load_model(self.model)
        if self.ternarize:
            spec = spec.ternarized()
        return build_trace(spec, Scenario(self.batch, self.prefill, self.decode), lm_head_dtype=self.lm_head_dtype,
                           kv_dtype=self.kv_dtype, act_sparsity=dict(self.act_zero) or None)


@dataclass(frozen=True, slots=True)
class Constraint:
    """``metric`` must be at most (``kind = "max"``) or at least (``"min"``) ``bound``."""

    metric: str
    kind: str
    bound: float

    @property
    def key(self) -> str:
        return f"{self.kind}_{self.metric}"

    def satisfied(self, value: float) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return value <= self.bound if self.kind == "max" else value >= self.bound


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """How points are chosen (see :mod:`~tritium.analysis.dse.search`).

    Attributes:
        strategy: ``"grid"``, ``"random"`` or ``"guided"``.
        samples: random: points drawn; guided: the initial random sample. 1 to
            :data:`MAX_SAMPLES`.
        seed: seed of the random draws, 0 to 2^63 - 1.
        max_evaluations: guided: stop after this many points (0: when the search converges),
            at most :data:`MAX_EVALUATIONS`.
        band: guided: relative width of the band around the front whose neighbours the
            second phase explores, 0 to 0.5 (0: front only).
    """

    strategy: str = "grid"
    samples: int = 256
    seed: int = 0
    max_evaluations: int = 0
    band: float = 0.001

    def __post_init__(self) -> None:
        check_choice("search.strategy", self.strategy, SEARCH_STRATEGIES)
        if isinstance(self.samples, int) and not isinstance(self.samples, bool) and self.samples > MAX_SAMPLES:
            raise SpecError("search.samples", self.samples,
                            f"must be an integer from 1 to {MAX_SAMPLES} (points a random or guided search draws; "
                            "a larger sample would hold gigabytes before the first point is stored)")
        check_int("search.samples", self.samples, lo=1, hi=MAX_SAMPLES)
        check_int("search.seed", self.seed, lo=0, hi=2**63 - 1)
        check_int("search.max_evaluations", self.max_evaluations, lo=0, hi=MAX_EVALUATIONS)
        check_float("search.band", self.band, lo=0.0, hi=0.5)
        object.__setattr__(self, "band", float(self.band))


@dataclass(frozen=True, slots=True)
class Deployment:
    """How every chip of a space is deployed and paid for (``[deployment]``; all optional).

    ``region`` (a grid region of :func:`tritium.analysis.grid.grid_intensity`, default
    ``world``), ``pue``, ``lifetime_years`` and ``utilization`` (default: the chip's device
    class, :func:`tritium.analysis.usage.default_usage`) set ``carbon_g_per_mtok``;
    ``volume`` (chips made) and ``nre_usd`` (design NRE on top of the mask set) set
    ``cost_with_nre_usd``.
    """

    region: str = "world"
    pue: float | None = None
    lifetime_years: float | None = None
    utilization: float | None = None
    volume: int | None = None
    nre_usd: float | None = None


@dataclass(frozen=True, slots=True)
class Space:
    """A loaded, validated design space (its TOML form: :mod:`~tritium.analysis.dse.space`).

    Attributes:
        name, description: from the file. base: the resolved base chip (a
            :class:`~tritium.sim.Chip`); base_source: what the file named.
        params: the varied parameters, in file order. workloads: at least one.
        constraints: limits on metrics. objectives: 2 or 3 metric names.
        search: the strategy. source: the file (or ``"<text>"``). text: its TOML text.
        deployment: region, usage, volume and NRE for the carbon and cost metrics.
    """

    name: str
    description: str
    base: Any
    base_source: str
    params: tuple[Param, ...]
    workloads: tuple[Workload, ...]
    constraints: tuple[Constraint, ...]
    objectives: tuple[str, ...]
    search: SearchSpec
    source: str
    text: str
    deployment: Deployment = Deployment()

    @property
    def grid_size(self) -> int:
        """Points of the full grid: the product of the value counts, times the workloads."""
        return math.prod(len(p.values) for p in self.params) * len(self.workloads)

    @property
    def digest(self) -> str:
        """Hash of what the stored results depend on: the parsed file (comments, ``description``,
        ``objectives`` and ``[search]`` left out, so editing those keeps a sweep resumable) and
        the resolved base chip."""
        import tomllib

        from tritium.sim import chip_to_toml

        data = {k: v for k, v in tomllib.loads(self.text).items() if k not in _UNSTORED_KEYS}
        blob = json.dumps({"space": data, "base": chip_to_toml(self.base)}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def workload(self, name: str) -> Workload:
        for w in self.workloads:
            if w.name == name:
                return w
        raise TritiumError(f"space {self.name}: no workload '{name}' (has {', '.join(w.name for w in self.workloads)})")

    def with_search(self, **changes) -> "Space":
        """The same space with :class:`SearchSpec` fields replaced (strategy, samples, ...)."""
        return dataclasses.replace(self, search=dataclasses.replace(self.search, **changes))
