"""The tables of a space file beside ``[params]``: ``[[workload]]``, ``[constraints]``,
``objectives``, ``[search]`` and ``[deployment]``, each checked and turned into its record
(:mod:`~tritium.analysis.dse.space_record`).

Every error is a :class:`~tritium.base.errors.SpecError` naming the dotted key
(``workload[1].decode``, ``search.samples``), the value and what is allowed; the loader
(:func:`~tritium.analysis.dse.space.load_space`) adds the file.

>>> parse_constraints({"max_area_mm2": 25, "min_tokens_per_s": 20.0})
(Constraint(metric='area_mm2', kind='max', bound=25.0), Constraint(metric='tokens_per_s', kind='min', bound=20.0))
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from tritium.analysis.dse.space_record import METRICS, Constraint, Deployment, SearchSpec, Workload
from tritium.base.errors import MISSING, SpecError, TritiumError
from tritium.base.specio import check_choice, check_float, check_int, check_keys, check_type

__all__ = ["parse_workloads", "parse_constraints", "parse_objectives", "parse_search", "parse_deployment"]

_WORKLOAD_KEYS = ("name", "model", "ternarize", "batch", "prefill", "decode", "lm_head_dtype", "kv_dtype",
                  "mapping_objective", "act_zero")
_SCENARIO_KEYS = ("batch", "prefill", "decode")  # each may be a list: one workload per combination
_SEARCH_KEYS = ("strategy", "samples", "seed", "max_evaluations", "band")
_DEPLOYMENT_KEYS = ("region", "pue", "lifetime_years", "utilization", "volume", "nre_usd")


def parse_workloads(items: object, folder: Path) -> tuple[Workload, ...]:
    """The workloads of the ``[[workload]]`` tables, list-valued ``batch``, ``prefill`` and
    ``decode`` expanded into one workload per combination; a model path resolves against
    ``folder``.

    Raises:
        SpecError: no tables; an unknown key or bad value (keyed ``workload[i].key``);
            two workloads of one name.
        TritiumError: a model that is neither in the zoo nor a readable config.json.
    """
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
        check_keys(where, item, _WORKLOAD_KEYS)
        model = item.get("model", MISSING)
        if not isinstance(model, str) or not model:
            raise SpecError(f"{where}model", model, "required: a zoo model name or a config.json path")
        if model.lower() not in zoo_names():
            path = Path(model) if Path(model).is_absolute() else folder / model
            model = str(path.resolve())
        ternarize = item.get("ternarize", False)
        check_type(f"{where}ternarize", ternarize, bool)
        try:
            scenario = Scenario(item.get("batch", 1), item.get("prefill", 512), item.get("decode", 128))
        except SpecError as err:
            raise err.prefixed(where) from None
        spec = load_model(model)
        shape = f"b{scenario.batch}-p{scenario.prefill}-d{scenario.decode}"
        label = f"{spec.ternarized().name if ternarize else spec.name}/{shape}"
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
        act_zero = _act_zero(f"{where}act_zero", item["act_zero"], spec) if "act_zero" in item else ()
        if act_zero:
            label += "-az" + ",".join(f"{k.removesuffix('_proj')}{v:g}" for k, v in act_zero)
        name = item.get("name", label)
        if not isinstance(name, str) or not name:
            raise SpecError(f"{where}name", name, "must be a non-empty string")
        if expanded and "name" in item:
            name = f"{name}/{shape}"
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
        lists = {k: item[k] for k in _SCENARIO_KEYS if isinstance(item.get(k), list)}
        for key, values in lists.items():
            if not values:
                raise SpecError(f"workload[{i}].{key}", values, "a list of scenarios must hold at least one value")
        combos = [{}]
        for key, values in lists.items():
            combos = [c | {key: v} for c in combos for v in values]
        for combo in combos:
            out.append(dict(item) | combo | {"_index": i, "_expanded": bool(lists)})
    return out


def _act_zero(key: str, given: object, spec) -> tuple[tuple[str, float], ...]:
    """``act_zero = { projection = fraction }`` as sorted pairs, checked against the model ``spec``."""
    from tritium.workloads.sparsity import act_zero_fractions

    if not isinstance(given, Mapping) or not given:
        raise SpecError(key, given, "must be a table of projection = zero fraction, e.g. { down_proj = 0.6 }")
    try:
        act_zero_fractions(spec, dict(given))
    except SpecError as err:
        raise SpecError(key, given, f"{err.key} = {err.value!r}: {err.allowed}") from None
    return tuple(sorted((str(k), float(v)) for k, v in given.items()))


def parse_constraints(table: object) -> tuple[Constraint, ...]:
    """The ``[constraints]`` table: ``max_<metric>`` / ``min_<metric>`` = a finite number, for
    metrics of :data:`~tritium.analysis.dse.space_record.METRICS`."""
    if not isinstance(table, Mapping):
        raise SpecError("constraints", table, "must be a table of max_<metric> / min_<metric> = number")
    allowed = [f"{k}_{m}" for m in METRICS for k in ("max", "min")]
    out = []
    for key, bound in table.items():
        kind, _, metric = key.partition("_")
        if kind not in ("max", "min") or metric not in METRICS:
            raise SpecError(f"constraints.{key}", bound, "unknown constraint; allowed: " + ", ".join(allowed))
        check_type(f"constraints.{key}", bound, float)
        out.append(Constraint(metric, kind, float(bound)))
    return tuple(out)


def parse_objectives(value: object) -> tuple[str, ...]:
    """The top-level ``objectives``: 2 or 3 distinct metric names."""
    if not isinstance(value, list) or not 2 <= len(value) <= 3:
        raise SpecError("objectives", value, "required: a list of 2 or 3 of " + ", ".join(METRICS))
    for i, m in enumerate(value):
        check_choice(f"objectives[{i}]", m, METRICS)
    if len(set(value)) != len(value):
        raise SpecError("objectives", value, "must be distinct")
    return tuple(value)


def parse_search(table: object) -> SearchSpec:
    """The ``[search]`` table (its values are checked by :class:`SearchSpec` itself)."""
    if not isinstance(table, Mapping):
        raise SpecError("search", table, f"must be a table ({', '.join(_SEARCH_KEYS)})")
    check_keys("search.", table, _SEARCH_KEYS)
    return SearchSpec(**table)


def parse_deployment(table: object) -> Deployment:
    """The ``[deployment]`` table, each key checked by the function that uses it
    (:func:`tritium.analysis.grid.grid_intensity`, :func:`~tritium.analysis.usage.default_usage`)."""
    from tritium.analysis.grid import grid_intensity
    from tritium.analysis.usage import default_usage

    if not isinstance(table, Mapping):
        raise SpecError("deployment", table, f"must be a table ({', '.join(_DEPLOYMENT_KEYS)})")
    check_keys("deployment.", table, _DEPLOYMENT_KEYS)
    region = table.get("region", "world")
    if not isinstance(region, str):
        raise SpecError("deployment.region", region, "must be a grid region name (tritium.analysis.grid.list_regions)")
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
        check_type("deployment.nre_usd", nre, float)
        check_float("deployment.nre_usd", nre, lo=0, hi=1e12)
    return Deployment(region, *(None if table.get(k) is None else float(table[k])
                                for k in ("pue", "lifetime_years", "utilization")),
                      volume, None if nre is None else float(nre))
