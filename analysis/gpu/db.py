"""The GPU database: one frozen, validated :class:`Gpu` per card, their TOML form.

The built-in cards live in ``gpus.toml`` beside this file, one table per GPU, every
figure with its source (``sources``); ``[E]`` marks an estimate, with its reasoning.
A user adds a GPU as a TOML file holding one GPU at the top level (``name = ...`` and
the fields of :class:`Gpu`); :func:`gpu_to_toml` writes that form. Unknown keys and
impossible values are errors naming the key, the value and what is allowed.

>>> from tritium.analysis.gpu import load_gpu, list_gpus
>>> "h100-sxm" in list_gpus()
True
>>> h100 = load_gpu("H100")          # an alias of h100-sxm
>>> (h100.bf16_tflops, h100.memory_bandwidth_gb_s, h100.tdp_w)
(989.4, 3352.0, 700.0)
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tritium.base.errors import SpecError, TritiumError, did_you_mean, shown, shown_path
from tritium.base.fileio import write_text_atomic
from tritium.sim.chip_memory import DRAM_TYPES
from tritium.base.specio import check_choice, check_float, check_int, dumps_toml, from_mapping, load_toml

__all__ = ["INTERCONNECTS", "GPU_ALIASES", "GPU_RANGES", "Gpu", "load_gpu", "list_gpus", "gpu_to_toml", "save_gpu"]

INTERCONNECTS = ("nvlink", "pcie", "none")
"""Values of :attr:`Gpu.interconnect`: what carries tensor-parallel all-reduces."""

GPU_ALIASES = {
    "h100": "h100-sxm",
    "a100": "a100-80gb",
    "4090": "rtx-4090",
    "3090": "rtx-3090",
    "orin": "jetson-agx-orin-64gb",
}
"""Short names :func:`load_gpu` also accepts (after lower-casing and turning spaces
and underscores into ``-``)."""

_NAME = re.compile(r"[a-z0-9._-]{1,64}")

GPU_RANGES: dict[str, tuple[float, float]] = {
    "bf16_tflops": (0.01, 1e5),
    "int8_tops": (0.01, 2e5),
    "fp32_tflops": (0.01, 1e5),
    "memory_bandwidth_gb_s": (1.0, 1e5),
    "mem_gb": (0.1, 1e4),
    "tdp_w": (1.0, 1e4),
    "boost_clock_mhz": (100.0, 1e4),
    "die_mm2": (1.0, 2000.0),
    "transistors_billion": (0.01, 1e4),
    "price_usd": (1.0, 1e7),
    "interconnect_gb_s": (0.1, 1e5),
}
"""Physical range of each numeric :class:`Gpu` key, (low, high) inclusive, in the key's unit:
from below an embedded GPU (a Jetson Nano: 0.5 TFLOPS, 25 GB/s, 5 W) to far above any
card made (a B200: 2,250 dense BF16 TFLOPS, 8 TB/s, 1,000 W). ``sms`` is 1 to 1024 and
``node_nm`` 1 to 250; ``idle_w`` is 0 up to ``tdp_w``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Gpu:
    """One GPU card, with the figures the GPU baseline model needs (dense, no sparsity).

    Attributes:
        name: identifier: lowercase letters, digits, ``.``, ``_`` and ``-``.
        description: free text.
        bf16_tflops: dense BF16/FP16 tensor-core throughput with FP32 accumulation,
            10**12 FLOP/s (the rate cuBLAS uses for BF16; GeForce cards run FP16 with
            FP16 accumulation at twice this, which inference does not use).
        int8_tops: dense INT8 tensor-core throughput, 10**12 op/s.
        fp32_tflops: non-tensor FP32 throughput of the CUDA cores (FMA = 2 FLOP);
            element-wise work, softmax and weight unpacking run here.
        memory_bandwidth_gb_s: peak DRAM bandwidth, 10**9 B/s.
        mem_gb: DRAM capacity, 10**9 B.
        memory_type: the card's DRAM, a key of :data:`tritium.sim.DRAM_TYPES` (required, no
            default): the GPU model takes each kernel's sustained share of peak bandwidth and
            the DRAM's pJ/bit for it from :mod:`tritium.sim.dram`, as the chip simulator does.
        tdp_w: board power limit, W. idle_w: power with no work, W (< tdp_w).
        sms: streaming multiprocessors (the unit of wave quantization).
        boost_clock_mhz: published boost clock, MHz (turns seconds into the cycle columns).
        die_mm2: GPU die area, mm^2 (None where not published).
        node_nm: process node as a number, nm (TSMC 4N is an N5-family node: 5).
        node: the process as its maker names it ("TSMC 4N").
        transistors_billion: transistors, 10**9 (None where not published).
        price_usd: price of one card, USD (None where not published);
            price_is_estimate: True when that is a street estimate, not a list price.
        interconnect: what carries tensor-parallel all-reduces, one of :data:`INTERCONNECTS`.
        interconnect_gb_s: its bandwidth per GPU per direction, 10**9 B/s (0 for "none").
        sources: where each figure comes from; at least one entry.
    """

    name: str
    description: str = ""
    bf16_tflops: float
    int8_tops: float
    fp32_tflops: float
    memory_bandwidth_gb_s: float
    mem_gb: float
    memory_type: str
    tdp_w: float
    idle_w: float
    sms: int
    boost_clock_mhz: float
    die_mm2: float | None = None
    node_nm: int
    node: str
    transistors_billion: float | None = None
    price_usd: float | None = None
    price_is_estimate: bool = False
    interconnect: str
    interconnect_gb_s: float
    sources: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise SpecError("name", self.name, "must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'")
        for key in ("description", "node"):
            if not isinstance(getattr(self, key), str):
                raise SpecError(key, getattr(self, key), "must be a string")
        for key in ("bf16_tflops", "int8_tops", "fp32_tflops", "memory_bandwidth_gb_s", "mem_gb", "tdp_w",
                    "boost_clock_mhz"):
            self._in_range(key)
        check_float("idle_w", self.idle_w, lo=0, hi=self.tdp_w)
        if self.idle_w >= self.tdp_w:
            raise SpecError("idle_w", self.idle_w, f"must be below tdp_w ({self.tdp_w:g} W)")
        object.__setattr__(self, "idle_w", float(self.idle_w))
        check_choice("memory_type", self.memory_type, DRAM_TYPES)
        check_int("sms", self.sms, lo=1, hi=1024)
        check_int("node_nm", self.node_nm, lo=1, hi=250)
        for key in ("die_mm2", "transistors_billion", "price_usd"):
            if getattr(self, key) is not None:
                self._in_range(key)
        if not isinstance(self.price_is_estimate, bool):
            raise SpecError("price_is_estimate", self.price_is_estimate, "must be true or false")
        if self.price_is_estimate and self.price_usd is None:
            raise SpecError("price_is_estimate", True, "needs a price_usd to qualify")
        check_choice("interconnect", self.interconnect, INTERCONNECTS)
        if self.interconnect == "none":
            if self.interconnect_gb_s != 0:
                raise SpecError("interconnect_gb_s", self.interconnect_gb_s, "must be 0 when interconnect = 'none'")
            object.__setattr__(self, "interconnect_gb_s", 0.0)
        else:
            self._in_range("interconnect_gb_s")
        if (not isinstance(self.sources, tuple) or not self.sources
                or not all(isinstance(s, str) and s.strip() for s in self.sources)):
            raise SpecError("sources", self.sources, "must be a non-empty list of strings saying where the figures come from")

    def _in_range(self, key: str) -> None:
        value = getattr(self, key)
        lo, hi = GPU_RANGES[key]
        check_float(key, value, lo=lo, hi=hi)
        object.__setattr__(self, key, float(value))

    @property
    def peak_bf16_flops(self) -> float:
        """Dense BF16 tensor FLOP/s."""
        return self.bf16_tflops * 1e12

    @property
    def peak_bandwidth_bytes_s(self) -> float:
        """Peak DRAM bytes per second."""
        return self.memory_bandwidth_gb_s * 1e9

    @property
    def clock_hz(self) -> float:
        """Boost clock, Hz."""
        return self.boost_clock_mhz * 1e6


def _normalise(name: str) -> str:
    key = name.strip().lower().replace(" ", "-").replace("_", "-")
    return GPU_ALIASES.get(key, key)


def _gpu_from_mapping(data: object, source: str) -> Gpu:
    try:
        if isinstance(data, dict) and "memory_type" not in data:
            raise SpecError("memory_type", "(missing)", "is required: the card's DRAM type, one of "
                            f"{', '.join(DRAM_TYPES)} (its sustained bandwidth and pJ/bit come from tritium.sim.dram)")
        return from_mapping(Gpu, data)
    except SpecError as err:
        raise SpecError(err.key, err.value, f"{err.allowed} (in {source})") from None


@functools.cache
def _database() -> dict[str, Gpu]:
    text = resources.files("tritium.analysis.gpu").joinpath("gpus.toml").read_text(encoding="utf-8")
    try:
        tables = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:  # a packaging bug, said plainly
        raise TritiumError(f"GPU database gpus.toml: malformed TOML ({err})") from None
    out = {}
    for key, body in tables.items():
        if not isinstance(body, dict):
            raise SpecError(key, body, "must be a table (in GPU database gpus.toml)")
        out[key] = _gpu_from_mapping({"name": key, **body}, source=f"GPU database entry {key}")
    return out


def list_gpus() -> list[str]:
    """Names of the GPUs in the built-in database, sorted."""
    return sorted(_database())


def load_gpu(spec: str | os.PathLike | Gpu) -> Gpu:
    """Resolve ``spec`` to a :class:`Gpu`: a Gpu, a database name or alias, or a TOML file.

    Names match in any case, with spaces or underscores for ``-``
    (``"H100 SXM"`` is ``h100-sxm``); :data:`GPU_ALIASES` adds short names.

    Raises:
        TritiumError: neither a database GPU nor an existing file (the message lists
            the database), or the file is not readable TOML.
        SpecError: the file describes an impossible GPU (names key, value, what is
            allowed and the file).
    """
    if isinstance(spec, Gpu):
        return spec
    if isinstance(spec, str) and _normalise(spec) in _database():
        return _database()[_normalise(spec)]
    if isinstance(spec, (str, os.PathLike)) and _is_file(Path(spec)):
        path = Path(spec)
        return _gpu_from_mapping(load_toml(path, what="GPU file"), source=f"GPU file {shown_path(path)}")
    raise TritiumError(f"unknown GPU {shown(str(spec))}: not in the database ({', '.join(list_gpus())}; "
                       f"aliases {', '.join(sorted(GPU_ALIASES))}) and no such TOML file"
                       + did_you_mean(spec, list_gpus()))


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the OS, or with a NUL byte: no such file
        return False


def gpu_to_toml(gpu: Gpu) -> str:
    """The TOML text of ``gpu`` (one GPU at the top level); :func:`load_gpu` of it returns an equal Gpu."""
    return dumps_toml(gpu, header=f"Tritium GPU '{gpu.name}'. Units are in the key names.")


def save_gpu(gpu: Gpu, path: str | os.PathLike) -> Path:
    """Write ``gpu`` as TOML to ``path`` atomically; return the path."""
    return write_text_atomic(path, gpu_to_toml(gpu))

