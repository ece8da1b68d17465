"""What a comparison or a report is asked for: :class:`CompareRequest` and :class:`ReportRequest`.

One frozen record per request, with every default in one place: the CLI builds it once from
its options (``tritium compare``, ``tritium report``), the library takes it whole
(:func:`tritium.analysis.compare.run_comparison`, :func:`tritium.analysis.report.build_report`),
and a report's sweep points are the same request with a field replaced. This module imports
nothing heavy, so ``tritium --help`` stays fast.

>>> r = CompareRequest(prefill=64, decode=8)
>>> r.model, r.chip, r.gpu, r.batch, r.prefill, r.decode
('bitnet-b1.58-2b-4t', 'edge-lpddr5', 'h100-sxm', 1, 64, 8)
>>> changed(r)
{'prefill': 64, 'decode': 8}
>>> changed(ReportRequest(r, serving=True))
{'compare': {'prefill': 64, 'decode': 8}, 'serving': True}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from tritium.base.errors import TritiumError

if TYPE_CHECKING:  # types only: importing them costs the simulator's import time
    import os

    from tritium.analysis.usage import Usage
    from tritium.analysis.gpu.db import Gpu
    from tritium.analysis.gpu.params import Calibration
    from tritium.sim import Chip
    from tritium.workloads import ModelSpec

__all__ = ["DEFAULT_MODEL", "DEFAULT_CHIP", "DEFAULT_GPU", "CompareRequest", "ReportRequest", "changed", "split_options",
           "SWEEP_BATCHES", "SWEEP_PREFILLS"]

DEFAULT_MODEL = "bitnet-b1.58-2b-4t"
"""The model every comparison and report uses unless told otherwise."""
DEFAULT_CHIP = "edge-lpddr5"
"""The chip preset (the one ``tritium simulate`` defaults to)."""
DEFAULT_GPU = "h100-sxm"
"""The GPU baseline."""
SWEEP_BATCHES = (1, 2, 4, 8, 16, 32, 64)
"""Batch sizes of a report's batch sweep."""
SWEEP_PREFILLS = (128, 256, 512, 1024, 2048, 4096)
"""Prompt lengths of a report's context sweep (those that fit the model's context with the decode)."""


@dataclass(frozen=True, slots=True)
class CompareRequest:
    """One request run on a chip and on GPUs (:func:`~tritium.analysis.compare.run_comparison`).

    Attributes:
        model: zoo name, HF id, config.json or :class:`~tritium.workloads.ModelSpec`.
        chip: a :class:`~tritium.sim.Chip`, preset name or chip TOML file.
        gpu: a :class:`~tritium.analysis.gpu.Gpu`, database name or GPU TOML file.
        batch, prefill, decode: the scenario (sequences, prompt tokens, generated tokens).
        region, pue, lifetime_years, utilization: deployment of both sides (None: each side's
            device-class default, :func:`tritium.analysis.usage.default_usage`: a data-centre
            device at PUE 1.1, 4 years, 50% busy; an edge device at PUE 1.0, 5 years, 10% busy;
            region "world").
        chip_usage, gpu_usage: one side's own values (keys ``device_class``, ``region``, ``pue``,
            ``lifetime_years``, ``utilization``), over the ones for both; or a whole
            :class:`~tritium.analysis.usage.Usage`.
        gpu_batch: the GPU's batch (None: ``batch``); per-token figures stay comparable.
        volume: chips produced, to spread the NRE over (see :func:`tritium.analysis.cost.chip_cost`).
        nre_usd: design, verification and IP NRE on top of the mask set (needs ``volume``).
        weights: GPU weight mode (None: w2a8 for a ternary model, else bf16).
        gpus: GPUs in tensor parallelism.
        calibration: the GPU model's calibration, or a calibration TOML file (None: the default).
        scaling: the chip's technology scaling (see :func:`tritium.sim.simulate`).
        mapping_objective: what the chip's mapper minimizes per op (``latency``, ``energy``, ``edp``).
        lm_head_dtype, kv_dtype: precisions of the LM head and the KV cache, for both sides
            (None: the model's own).
    """

    model: str | os.PathLike | ModelSpec = DEFAULT_MODEL
    chip: Chip | str | os.PathLike = DEFAULT_CHIP
    gpu: Gpu | str | os.PathLike = DEFAULT_GPU
    batch: int = 1
    prefill: int = 512
    decode: int = 128
    region: str | None = None
    pue: float | None = None
    lifetime_years: float | None = None
    utilization: float | None = None
    chip_usage: Mapping[str, Any] | Usage | None = None
    gpu_usage: Mapping[str, Any] | Usage | None = None
    gpu_batch: int | None = None
    volume: int | None = None
    nre_usd: float | None = None
    weights: str | None = None
    gpus: int = 1
    calibration: Calibration | str | os.PathLike | None = None
    scaling: str = "bitnet"
    mapping_objective: str = "latency"
    lm_head_dtype: str | None = None
    kv_dtype: str | None = None

    def replace(self, **changes: Any) -> CompareRequest:
        """This request with ``changes``."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A report (:func:`~tritium.analysis.report.build_report`): its main comparison and what surrounds it.

    Attributes:
        compare: the main :class:`CompareRequest`; the sweeps vary its batch and prefill.
        command: the command (or call) that made the report, shown in its header (None: the call).
        batches, prefills: the sweep points (prefills longer than the model's context minus the
            decode are dropped; the GPU runs each sweep point at the chip's batch).
        regions: the carbon plot's grid regions, after the regions of the two sides (None:
            :data:`tritium.analysis.carbon.DEFAULT_REGIONS`).
        datapaths: add the "which datapath" section (the chip in every datapath style).
        style_calibration: the JSON of ``tritium hdl calibrate --styles ... --json``, whose
            synthesized figures are set beside the model's there.
        serving: add "serving at an SLO": each side's highest Poisson request rate whose p90 time
            to first token is at most ``slo_ttft_s`` and p99 time per output token at most
            ``slo_tpot_s``.
    """

    compare: CompareRequest = field(default_factory=CompareRequest)
    command: str | None = None
    batches: tuple[int, ...] = SWEEP_BATCHES
    prefills: tuple[int, ...] = SWEEP_PREFILLS
    regions: tuple[str, ...] | None = None
    datapaths: bool = True
    style_calibration: str | os.PathLike | None = None
    serving: bool = False
    slo_ttft_s: float = 2.0
    slo_tpot_s: float = 0.2


_GIVEN_APART = ("model", "chip", "gpu", "compare")  # what compare() and build_report() take as arguments of their own


def split_options(where: str, options: Mapping[str, Any], *records: type) -> list[dict[str, Any]]:
    """``options`` (keyword arguments of ``where``) split by the record, of ``records``, whose field
    each one is; model, chip, gpu and a report's main request are given apart.

    >>> split_options("build_report", {"prefill": 64, "serving": True}, CompareRequest, ReportRequest)
    [{'prefill': 64}, {'serving': True}]

    Raises:
        TritiumError: an option no record has, naming the options allowed.
    """
    names = [[f.name for f in dataclasses.fields(r) if f.name not in _GIVEN_APART] for r in records]
    allowed = [name for fields_ in names for name in fields_]
    unknown = [key for key in options if key not in allowed]
    if unknown:
        raise TritiumError(f"{where}: unknown option {unknown[0]!r}; the options are the fields of "
                           f"{' and '.join(r.__name__ for r in records)}: {', '.join(allowed)}")
    return [{k: v for k, v in options.items() if k in fields_} for fields_ in names]


def changed(request: CompareRequest | ReportRequest) -> dict[str, Any]:
    """The fields of ``request`` that differ from their defaults (a nested request as its own changes)."""
    out = {}
    for f in dataclasses.fields(request):
        value = getattr(request, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(value) and dataclasses.is_dataclass(default):
            inner = changed(value)
            if inner:
                out[f.name] = inner
        elif value != default:
            out[f.name] = value
    return out
