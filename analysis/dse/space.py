"""A design space: which chip parameters vary over a base chip, on which workloads, under which limits.

A space is a TOML file (unknown keys are errors, units are in the key names)::

    name = "edge-bitnet-2b"            # names the chips of the sweep: a-z, 0-9, '.', '_', '-'
    description = "free text"
    base = "edge-lpddr5"               # a chip preset name, or a chip TOML path (relative to this file)

    [[workload]]                       # one or more: every chip is evaluated on each
    model = "bitnet-b1.58-2b-4t"       # a zoo name, or a config.json path (relative to this file)
    ternarize = false                  # true: ModelSpec.ternarized() (e.g. a ternary Llama-3-70B)
    batch = 1
    prefill = 512
    decode = 128                       # batch, prefill, decode may each be a list: one workload per
                                       # combination (e.g. decode = [128, 1024]); pick --workload all
                                       # then keeps chips that meet the limits on every one
    # name = "..."                     # optional label; default "<model>/b1-p512-d128"
    # lm_head_dtype = "int8"           # optional: the LM head's precision (bf16, fp16, fp32, int8)
    # kv_dtype = "fp8"                 # optional: the KV cache's precision (bf16, fp16, fp32, fp8, int8)
    # mapping_objective = "energy"     # optional: what each op's mapping minimizes (latency, energy, edp)
    # act_zero = { down_proj = 0.6 }   # optional: fraction of a projection's INT8 inputs that are zero
                                       # (default: the activation function's, docs/datapaths.md)

    [params]                           # dotted chip keys; a list of values or a range table
    tlu.rows = [32, 64, 128]
    tlu.width = { start = 32, stop = 128, factor = 2 }          # 32, 64, 128
    clock_mhz = { start = 500, stop = 1500, step = 250 }        # 500, 750, ..., 1500 (stop included)
    "sram.weight.capacity_kib" = [1024, 2048, 4096]
    dram.type = ["LPDDR5", "LPDDR5X"]
    attention.size = [0, 8, 16]        # derived: see below

    [constraints]                      # max_<metric> / min_<metric> for any metric of METRICS
    max_area_mm2 = 30.0
    max_power_w = 3.0
    min_tokens_per_s = 20.0

    [search]
    strategy = "grid"                  # "grid", "random" or "guided"
    samples = 500                      # random: points drawn; guided: initial sample
    seed = 0
    max_evaluations = 0                # guided: a budget (0: none)
    band = 0.001                       # guided: also explore chips within 0.1% of the front

    objectives = ["tokens_per_s", "joules_per_token", "area_mm2"]   # top level: 2 or 3 of METRICS

Any scalar field of the chip may be varied by its dotted key (``node_nm``, ``cores``,
``tlu.zero_handling``, ``sram.kv.banks``, ``dram.channels``, ...), except ``name`` and
``description``. Two keys do more than set one field:

- ``dram.type``: also sets ``dram.channel_bandwidth_gb_s`` to the type's fastest published
  per-channel figure (:data:`~tritium.sim.DRAM_TYPES`) and ``dram.energy_pj_per_bit`` to 0, the
  DRAM model's figures for that type (:mod:`tritium.sim.dram`), unless those are varied too.
- ``attention.size``: a square MAC array of that side (``mac_rows = mac_cols = size``);
  0 puts attention on the vector unit.
- ``dram.gib_per_channel``: ``dram.capacity_gib`` = channels x this (16 for an HBM3 stack,
  24 for an 8-high HBM3e stack), so capacity, and with it DRAM cost, follows the
  channel count as it varies.

Values are only type-checked here; a combination the chip rejects (an SRAM capacity that is
not a whole number of bank rows, an accumulator too narrow for the model) is an *invalid
point*: recorded with its error by the sweep, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from tritium.base.errors import MISSING, SpecError, TritiumError
from tritium.base.specio import check_choice, check_float, check_int, load_toml, parse_toml

__all__ = [
    "METRICS",
    "SEARCH_STRATEGIES",
    "MAX_SAMPLES",
    "MAX_EVALUATIONS",
    "DERIVED_PARAMS",
    "Metric",
    "Param",
    "Workload",
    "Constraint",
    "SearchSpec",
    "Space",
    "SPACES_DIR",
    "list_spaces",
    "space_path",
    "load_space",
    "space_from_toml",
    "param_paths",
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
DERIVED_PARAMS = {"attention.size": int, "dram.gib_per_channel": float}
"""Parameters that set more than one chip field (see the module docstring)."""

_NAME = re.compile(r"[a-z0-9._-]+")
_TOP_KEYS = ("name", "description", "base", "workload", "params", "constraints", "objectives", "search",
             "deployment")
_DEPLOYMENT_KEYS = ("region", "pue", "lifetime_years", "utilization", "volume", "nre_usd")
_WORKLOAD_KEYS = ("name", "model", "ternarize", "batch", "prefill", "decode", "lm_head_dtype", "kv_dtype",
                  "mapping_objective", "act_zero")
_SEARCH_KEYS = ("strategy", "samples", "seed", "max_evaluations", "band")
_RANGE_KEYS = ("start", "stop", "step", "factor")
_MAX_VALUES = 4096  # per parameter
MAX_SAMPLES = 100_000
"""Most points a random or guided search may draw (the shipped edge grid is 10,368 points; 100,000
simulated points are hours of CPU, and the draw's bookkeeping stays in tens of MB)."""
MAX_EVALUATIONS = 10_000_000
"""Largest guided-search budget (``max_evaluations``)."""
_FROZEN_FIELDS = ("name", "description")
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

    ``region`` (a grid region of :func:`tritium.analysis.carbon.grid_intensity`, default
    ``world``), ``pue``, ``lifetime_years`` and ``utilization`` (default: the chip's device
    class, :func:`tritium.analysis.carbon.default_usage`) set ``carbon_g_per_mtok``;
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
    """A loaded, validated design space (see the module docstring for the TOML form).

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


SPACES_DIR = Path(__file__).with_name("spaces")
"""The built-in example spaces, one TOML file each (:func:`list_spaces`)."""


def list_spaces() -> list[str]:
    """Names of the built-in example spaces (``analysis/dse/spaces/NAME.toml``)."""
    return sorted(p.stem for p in SPACES_DIR.glob("*.toml"))


def space_path(spec: str | os.PathLike) -> Path:
    """The file of ``spec``: a space TOML path, or the name of a built-in space.

    Raises:
        TritiumError: neither a file nor a built-in name (the message lists the built-in ones).
    """
    path = Path(spec)
    if path.is_file():
        return path
    if str(spec) in list_spaces():
        return SPACES_DIR / f"{spec}.toml"
    raise TritiumError(f"unknown space {str(spec)!r}: no such file and not a built-in space "
                       f"({', '.join(list_spaces())})")


def load_space(path: str | os.PathLike) -> Space:
    """Read and validate the space TOML file at ``path`` (or the built-in space of that name).

    Relative ``base`` chip paths and model config paths are resolved against the file's folder.

    Raises:
        TritiumError: the file is missing or not TOML; the base chip or a model is unknown.
        SpecError: an unknown key, a bad value or range, a parameter no chip has (the message
            names the dotted key, the value, what is allowed and the file).
    """
    path = space_path(path)
    data = load_toml(path, what="space file")
    return _space(data, path.read_text(encoding="utf-8"), str(path), path.parent)


def space_from_toml(text: str, *, base_dir: str | os.PathLike = ".", source: str = "<text>", base=None) -> Space:
    """Like :func:`load_space`, from TOML text; relative paths resolve against ``base_dir``.

    ``base`` (a :class:`~tritium.sim.Chip`) replaces the chip the text names (used to reopen
    a sweep folder with the base chip it stored)."""
    data = parse_toml(text, f"space {source}")
    return _space(data, text, source, Path(base_dir), base)


def _space(data: dict, text: str, source: str, folder: Path, base=None) -> Space:
    try:
        return _build(data, text, source, folder, base)
    except SpecError as err:
        raise SpecError(err.key, err.value, f"{err.allowed} (in {source})") from None


def _build(data: dict, text: str, source: str, folder: Path, base_chip=None) -> Space:
    _check_keys("", data, _TOP_KEYS)
    name = data.get("name", MISSING)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError("name", name, "required: a non-empty string of a-z, 0-9, '.', '_' and '-'")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise SpecError("description", description, "must be a string")
    base_source = data.get("base", MISSING)
    if not isinstance(base_source, str) or not base_source:
        raise SpecError("base", base_source, "required: a chip preset name or a chip TOML path")
    base = base_chip if base_chip is not None else _load_base(base_source, folder)
    params = _params(data.get("params", MISSING))
    workloads = _workloads(data.get("workload", MISSING), folder)
    constraints = _constraints(data.get("constraints", {}))
    objectives = _objectives(data.get("objectives", MISSING))
    search = _search(data.get("search", {}))
    deployment = _deployment(data.get("deployment", {}))
    return Space(name, description, base, base_source, params, workloads, constraints, objectives, search,
                 source, text, deployment)


def _deployment(table: object) -> Deployment:
    """The ``[deployment]`` table: each key checked by the function that uses it."""
    from tritium.analysis.carbon import default_usage, grid_intensity

    if not isinstance(table, Mapping):
        raise SpecError("deployment", table, "must be a table (region, pue, lifetime_years, utilization, volume, "
                        "nre_usd)")
    _check_keys("deployment.", table, _DEPLOYMENT_KEYS)
    region = table.get("region", "world")
    if not isinstance(region, str):
        raise SpecError("deployment.region", region, "must be a grid region name (tritium.analysis.carbon)")
    try:
        grid_intensity(region)
        default_usage("edge", pue=table.get("pue"), lifetime_years=table.get("lifetime_years"),
                      utilization=table.get("utilization"))
    except SpecError as err:
        raise err.prefixed("deployment.") from None
    except TritiumError as err:
        raise SpecError("deployment.region", region, str(err)) from None
    volume = table.get("volume")
    if volume is not None:
        check_int("deployment.volume", volume, lo=1, hi=10**12)
    nre = table.get("nre_usd")
    if nre is not None:
        _check_type("deployment.nre_usd", nre, float)
        check_float("deployment.nre_usd", nre, lo=0, hi=1e12)
    return Deployment(region, *(None if table.get(k) is None else float(table[k])
                                for k in ("pue", "lifetime_years", "utilization")),
                      volume, None if nre is None else float(nre))


def _check_keys(where: str, table: Mapping, allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise SpecError(f"{where}{key}", table[key], f"unknown key; allowed keys here: {', '.join(allowed)}")


def _load_base(spec: str, folder: Path):
    from tritium.sim import list_presets, load_chip

    if spec.lower() in list_presets():
        return load_chip(spec)
    path = Path(spec) if Path(spec).is_absolute() else folder / spec
    if not path.is_file():
        raise TritiumError(f"base chip '{spec}': not a preset ({', '.join(list_presets())}) and no file {path}")
    return load_chip(path)


def param_paths() -> dict[str, type]:
    """Every dotted chip key a space may vary, with its value type (int, float, str or bool)."""
    from tritium.sim import Chip

    out: dict[str, type] = {}

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            tp = hints[f.name]
            if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType")):
                tp = next(a for a in typing.get_args(tp) if a is not type(None))
            if dataclasses.is_dataclass(tp):
                walk(tp, f"{prefix}{f.name}.")
            elif not prefix and f.name in _FROZEN_FIELDS:
                continue
            else:
                out[f"{prefix}{f.name}"] = tp

    walk(Chip, "")
    out.update(DERIVED_PARAMS)
    return out


def _flatten(table: Mapping, prefix: str = "") -> dict[str, object]:
    """``{"tlu": {"rows": [..]}}`` -> ``{"tlu.rows": [..]}``; range tables are leaves."""
    out: dict[str, object] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping) and not any(k in value for k in _RANGE_KEYS):
            out.update(_flatten(value, f"{full}."))
        else:
            out[full] = value
    return out


def _params(table: object) -> tuple[Param, ...]:
    if not isinstance(table, Mapping) or not table:
        raise SpecError("params", table if table is not MISSING else MISSING,
                        "required: a table of dotted chip keys, each a list of values or a range")
    allowed = param_paths()
    out = []
    for path, spec in _flatten(table).items():
        key = f"params.{path}"
        if path not in allowed:
            raise SpecError(key, spec, "not a chip parameter; allowed: " + ", ".join(sorted(allowed)))
        values = _values(key, spec, allowed[path])
        if path == "attention.size":
            for v in values:
                check_int(key, v, lo=0)
        elif path == "dram.gib_per_channel":
            for v in values:
                if not (math.isfinite(v) and v > 0):
                    raise SpecError(key, v, "must be a number of GiB > 0")
        out.append(Param(path, values))
    paths = {p.path for p in out}
    if "attention.size" in paths and paths & {"attention.unit", "attention.mac_rows", "attention.mac_cols"}:
        raise SpecError("params.attention.size", "", "cannot be varied together with attention.unit/mac_rows/mac_cols")
    if "dram.gib_per_channel" in paths and "dram.capacity_gib" in paths:
        raise SpecError("params.dram.gib_per_channel", "", "cannot be varied together with dram.capacity_gib")
    return tuple(out)


def _values(key: str, spec: object, tp: type) -> tuple:
    if isinstance(spec, Mapping):
        values = _range(key, spec, tp)
    elif isinstance(spec, list):
        values = tuple(spec)
    else:
        raise SpecError(key, spec, "must be a list of values or a range table {start, stop, step|factor}")
    if not values:
        raise SpecError(key, list(values), "must list at least one value")
    if len(values) > _MAX_VALUES:
        raise SpecError(key, f"{len(values)} values", f"at most {_MAX_VALUES} values per parameter")
    for i, v in enumerate(values):
        _check_type(f"{key}[{i}]", v, tp)
    if len(set(values)) != len(values):
        raise SpecError(key, list(values), "values must be distinct")
    return tuple(float(v) if tp is float else v for v in values)


def _check_type(key: str, value: object, tp: type) -> None:
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
        bool: isinstance(value, bool),
    }[tp]
    if not ok:
        raise SpecError(key, value, {int: "must be an integer", float: "must be a number",
                                     str: "must be a string", bool: "must be true or false"}[tp])
    if tp is float and not math.isfinite(value):
        raise SpecError(key, value, "must be a finite number (not nan or inf)")


def _range(key: str, spec: Mapping, tp: type) -> tuple:
    _check_keys(f"{key}.", spec, _RANGE_KEYS)
    if tp not in (int, float):
        raise SpecError(key, dict(spec), "a range needs a numeric parameter; list the values instead")
    for k in ("start", "stop"):
        if k not in spec:
            raise SpecError(f"{key}.{k}", MISSING, "required in a range table")
        _check_type(f"{key}.{k}", spec[k], tp)
    if ("step" in spec) == ("factor" in spec):
        raise SpecError(key, dict(spec), "a range needs exactly one of step (arithmetic) or factor (geometric)")
    start, stop = spec["start"], spec["stop"]
    if start > stop:
        raise SpecError(f"{key}.stop", stop, f"must be >= start = {start}")
    if "step" in spec:
        step = spec["step"]
        _check_type(f"{key}.step", step, tp)
        if not step > 0:
            raise SpecError(f"{key}.step", step, "must be > 0")
        count = math.floor((stop - start) / step + 1e-9) + 1
        if count > _MAX_VALUES:
            raise SpecError(key, dict(spec), f"gives {count} values; at most {_MAX_VALUES} per parameter")
        return tuple(start + i * step if tp is int else round(start + i * step, 9) for i in range(count))
    factor = spec["factor"]
    _check_type(f"{key}.factor", factor, tp)
    if not factor > 1 or start <= 0:
        raise SpecError(f"{key}.factor", factor, "must be > 1, with start > 0")
    values, v = [], start
    while v <= stop * (1 + 1e-9):
        values.append(v if tp is int else round(v, 9))
        v = v * factor
        if len(values) > _MAX_VALUES:
            raise SpecError(key, dict(spec), f"gives more than {_MAX_VALUES} values")
    return tuple(values)


def _workloads(items: object, folder: Path) -> tuple[Workload, ...]:
    from tritium.sim.mapping import OBJECTIVES
    from tritium.workloads import Scenario, load_model, zoo_names
    from tritium.workloads.models import KV_DTYPES, LM_HEAD_DTYPES

    if items is MISSING or not isinstance(items, list) or not items:
        raise SpecError("workload", items, "required: one or more [[workload]] tables (model, batch, prefill, decode)")
    out = []
    for i, item in enumerate(_expand_scenarios(items)):
        if not isinstance(item, Mapping):
            raise SpecError(f"workload[{i}]", item, "must be a table")
        where, expanded = f"workload[{item.pop('_index')}].", item.pop("_expanded")
        _check_keys(where, item, _WORKLOAD_KEYS)
        model = item.get("model", MISSING)
        if not isinstance(model, str) or not model:
            raise SpecError(f"{where}model", model, "required: a zoo model name or a config.json path")
        if model.lower() not in zoo_names():
            path = Path(model) if Path(model).is_absolute() else folder / model
            model = str(path.resolve())
        ternarize = item.get("ternarize", False)
        _check_type(f"{where}ternarize", ternarize, bool)
        try:
            scenario = Scenario(item.get("batch", 1), item.get("prefill", 512), item.get("decode", 128))
        except SpecError as err:
            raise err.prefixed(where) from None
        spec = load_model(model)
        label = f"{spec.ternarized().name if ternarize else spec.name}/b{scenario.batch}-p{scenario.prefill}-d{scenario.decode}"
        precisions = {}
        for key, choices in (("lm_head_dtype", LM_HEAD_DTYPES), ("kv_dtype", KV_DTYPES)):
            if key in item:
                check_choice(f"{where}{key}", item[key], choices)
                precisions[key] = item[key]
                label += f"-{key.split('_')[0]}{item[key]}"
        objective = item.get("mapping_objective", "latency")
        check_choice(f"{where}mapping_objective", objective, OBJECTIVES)
        if objective != "latency":
            label += f"-{objective}"
        act_zero = ()
        if "act_zero" in item:
            from tritium.workloads.sparsity import act_zero_fractions

            given = item["act_zero"]
            if not isinstance(given, Mapping) or not given:
                raise SpecError(f"{where}act_zero", given, "must be a table of projection = zero fraction, e.g. "
                                "{ down_proj = 0.6 }")
            try:
                act_zero_fractions(spec, dict(given))
            except SpecError as err:
                raise SpecError(f"{where}act_zero", given, f"{err.key} = {err.value!r}: {err.allowed}") from None
            act_zero = tuple(sorted((str(k), float(v)) for k, v in given.items()))
            label += "-az" + ",".join(f"{k.removesuffix('_proj')}{v:g}" for k, v in act_zero)
        name = item.get("name", label)
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}name", name, "must be a non-empty string")
        if expanded and "name" in item:
            name = f"{name}/b{scenario.batch}-p{scenario.prefill}-d{scenario.decode}"
        out.append(Workload(name, model, ternarize, scenario.batch, scenario.prefill, scenario.decode,
                            mapping_objective=objective, act_zero=act_zero, **precisions))
    names = [w.name for w in out]
    if len(set(names)) != len(names):
        raise SpecError("workload", names, "workload names must be distinct (give each a name)")
    return tuple(out)


def _expand_scenarios(items: list) -> list:
    """The [[workload]] tables with list-valued ``batch``, ``prefill`` or ``decode`` expanded into
    one table per combination (in the order given), each remembering its source index."""
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            out.append(item)
            continue
        lists = {k: item[k] for k in ("batch", "prefill", "decode") if isinstance(item.get(k), list)}
        for key, values in lists.items():
            if not values:
                raise SpecError(f"workload[{i}].{key}", values, "a list of scenarios must hold at least one value")
        combos = [{}]
        for key, values in lists.items():
            combos = [c | {key: v} for c in combos for v in values]
        for combo in combos:
            out.append(dict(item) | combo | {"_index": i, "_expanded": bool(lists)})
    return out


def _constraints(table: object) -> tuple[Constraint, ...]:
    if not isinstance(table, Mapping):
        raise SpecError("constraints", table, "must be a table of max_<metric> / min_<metric> = number")
    allowed = [f"{k}_{m}" for m in METRICS for k in ("max", "min")]
    out = []
    for key, bound in table.items():
        kind, _, metric = key.partition("_")
        if kind not in ("max", "min") or metric not in METRICS:
            raise SpecError(f"constraints.{key}", bound, "unknown constraint; allowed: " + ", ".join(allowed))
        _check_type(f"constraints.{key}", bound, float)
        if not math.isfinite(bound):
            raise SpecError(f"constraints.{key}", bound, "must be a finite number")
        out.append(Constraint(metric, kind, float(bound)))
    return tuple(out)


def _objectives(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not 2 <= len(value) <= 3:
        raise SpecError("objectives", value, "required: a list of 2 or 3 of " + ", ".join(METRICS))
    for i, m in enumerate(value):
        check_choice(f"objectives[{i}]", m, METRICS)
    if len(set(value)) != len(value):
        raise SpecError("objectives", value, "must be distinct")
    return tuple(value)


def _search(table: object) -> SearchSpec:
    if not isinstance(table, Mapping):
        raise SpecError("search", table, "must be a table (strategy, samples, seed, max_evaluations, band)")
    _check_keys("search.", table, _SEARCH_KEYS)
    return SearchSpec(**table)

