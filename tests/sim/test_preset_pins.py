"""Every preset's outputs, pinned before the records refactor (issue 17) and checked after it.

The refactor moves code (one result type, a Trace record, request records, smaller modules) and
must not move a number. ``preset_pins.json`` holds, for every chip preset and a pipelined
variant, the totals, area and per-op column sums of one short request, the GPU baseline's
totals and the default comparison's table, all computed on ``main`` before the refactor.

Keys renamed by the refactor are mapped through ``RENAMED`` (old name -> new name); a value that
moves beyond a relative 1e-9 fails. To write the file again after an intended change of the
numbers: ``python tests/sim/test_preset_pins.py --write`` (never run by the suite).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

PINS = Path(__file__).with_name("preset_pins.json")
MODEL = "bitnet-b1.58-2b-4t"
PREFILL, DECODE = 64, 8
RENAMED: dict[str, str] = {"energy_sram_j": "energy_memory_path_j"}
"""Totals and ops-column names the refactor changed: old -> new."""
REGROUPED = (("energy_tlu_j", "energy_attention_j", "energy_vector_j"),
             ("energy_linear_j", "energy_attention_j", "energy_vector_j"))
"""Compute energy, once by the chip's unit (the MAC array's under attention, even for the LM head),
now by the work done (sim.result.component_of, the GPU's rule): the same sum, split anew."""
NOT_COUNTED = {"sram_bytes"}
"""Totals the GPU model does not count: 0 before, None now."""


def _cases():
    from tritium.sim import list_presets, load_chip

    out = [(name, load_chip(name)) for name in list_presets()]
    multi = load_chip("multichip-hbm3")
    if multi.chips % 2 == 0:
        out.append(("multichip-hbm3-pp2", dataclasses.replace(multi, pipeline_stages=2)))
    return out


def _number(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    v = float(v)
    return None if math.isnan(v) else v


def _ops_sums(ops: pd.DataFrame) -> dict:
    num = ops.select_dtypes("number")
    out = {c: _number(num[c].sum()) for c in num.columns}
    if "bound" in ops:
        out |= {f"bound={k}": int(v) for k, v in ops["bound"].value_counts().items()}
    return out


def _result(r) -> dict:
    totals = r.totals.as_dict() if hasattr(r.totals, "as_dict") else dict(r.totals)
    return {"totals": {k: _number(v) if not isinstance(v, (list, dict)) else v for k, v in totals.items()},
            "area_mm2": {k: _number(v) for k, v in r.area_mm2.items()},
            "scenario": dict(r.scenario), "ops": _ops_sums(r.ops), "warnings": list(r.warnings)}


def compute() -> dict:
    from tritium.analysis.compare import compare
    from tritium.analysis.gpu.model import gpu_baseline
    from tritium.sim import simulate
    from tritium.workloads import Scenario, build_trace

    table = build_trace(MODEL, Scenario(batch=2, prefill=PREFILL, decode=DECODE))
    out = {"chips": {name: _result(simulate(chip, table)) for name, chip in _cases()}}
    out["gpu"] = {mode: _result(gpu_baseline("h100-sxm", table, weights=mode)) for mode in ("w2a8", "bf16")}
    c = compare(MODEL, "edge-lpddr5", "h100-sxm", prefill=PREFILL, decode=DECODE)
    out["compare"] = {metric: [_number(a), _number(b)] for metric, (a, b) in c.values().items()}
    return out


def _close(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
    return a == b


def _diff(pinned, now, path="") -> list[str]:
    if isinstance(pinned, dict):
        if not isinstance(now, dict):
            return [f"{path}: was a mapping, now {now!r}"]
        out = []
        if REGROUPED[0][0] in pinned:
            before = sum(pinned[k] for k in REGROUPED[0])
            after = sum(now.get(k, math.nan) for k in REGROUPED[1])
            if not _close(before, after):
                out.append(f"{path}: compute energy pinned {before!r}, now {after!r}")
        for key, value in pinned.items():
            new = RENAMED.get(key, key)
            if key in REGROUPED[0]:
                continue
            if value is None and new not in now and path.startswith("gpu"):
                continue  # a ternary chip's figure, NaN on a GPU before, absent now (Totals.arithmetic is None)
            if key in NOT_COUNTED and value == 0 and now.get(new, 0) is None and path.startswith("gpu"):
                continue
            if new not in now:
                out.append(f"{path}/{key}: missing (as {new!r})")
            else:
                out += _diff(value, now[new], f"{path}/{key}")
        return out
    if isinstance(pinned, list) and isinstance(now, list) and len(pinned) == len(now):
        return [d for i, (a, b) in enumerate(zip(pinned, now)) for d in _diff(a, b, f"{path}[{i}]")]
    return [] if _close(pinned, now) else [f"{path}: pinned {pinned!r}, now {now!r}"]


@pytest.fixture(scope="module")
def now():
    return compute()


@pytest.mark.parametrize("section", ["chips", "gpu", "compare"])
def test_outputs_match_the_pins(now, section):
    pinned = json.loads(PINS.read_text())
    diffs = _diff(pinned[section], now[section], section)
    assert not diffs, "\n".join(diffs[:40])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/sim/test_preset_pins.py --write")
    PINS.write_text(json.dumps(compute(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PINS}")
