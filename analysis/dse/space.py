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

The file is read here (:func:`load_space`, :func:`space_from_toml`); ``[params]`` is checked and
expanded by :mod:`~tritium.analysis.dse.space_axes`, the other tables by
:mod:`~tritium.analysis.dse.space_tables`, into the records of
:mod:`~tritium.analysis.dse.space_record`.

Values are only type-checked here; a combination the chip rejects (an SRAM capacity that is
not a whole number of bank rows, an accumulator too narrow for the model) is an *invalid
point*: recorded with its error by the sweep, never dropped silently.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tritium.analysis.dse.space_axes import parse_params
from tritium.analysis.dse.space_record import Space
from tritium.analysis.dse.space_tables import (parse_constraints, parse_deployment, parse_objectives,
                                               parse_search, parse_workloads)
from tritium.base.errors import MISSING, SpecError, TritiumError
from tritium.base.specio import check_keys, check_type, load_toml, parse_toml

__all__ = ["SPACES_DIR", "list_spaces", "space_path", "load_space", "space_from_toml"]

_NAME = re.compile(r"[a-z0-9._-]+")
_TOP_KEYS = ("name", "description", "base", "workload", "params", "constraints", "objectives", "search",
             "deployment")


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
    """:func:`_build`, with the source named in any :class:`SpecError`."""
    try:
        return _build(data, text, source, folder, base)
    except SpecError as err:
        raise SpecError(err.key, err.value, f"{err.allowed} (in {source})") from None


def _build(data: dict, text: str, source: str, folder: Path, base_chip=None) -> Space:
    check_keys("", data, _TOP_KEYS)
    name = data.get("name", MISSING)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError("name", name, "required: a non-empty string of a-z, 0-9, '.', '_' and '-'")
    description = data.get("description", "")
    check_type("description", description, str)
    base_source = data.get("base", MISSING)
    if not isinstance(base_source, str) or not base_source:
        raise SpecError("base", base_source, "required: a chip preset name or a chip TOML path")
    base = base_chip if base_chip is not None else _load_base(base_source, folder)
    params = parse_params(data.get("params", MISSING))
    workloads = parse_workloads(data.get("workload", MISSING), folder)
    constraints = parse_constraints(data.get("constraints", {}))
    objectives = parse_objectives(data.get("objectives", MISSING))
    search = parse_search(data.get("search", {}))
    deployment = parse_deployment(data.get("deployment", {}))
    return Space(name, description, base, base_source, params, workloads, constraints, objectives, search,
                 source, text, deployment)


def _load_base(spec: str, folder: Path):
    """The chip of a preset name, or of a chip TOML path relative to ``folder``."""
    from tritium.sim import list_presets, load_chip

    if spec.lower() in list_presets():
        return load_chip(spec)
    path = Path(spec) if Path(spec).is_absolute() else folder / spec
    if not path.is_file():
        raise TritiumError(f"base chip '{spec}': not a preset ({', '.join(list_presets())}) and no file {path}")
    return load_chip(path)

