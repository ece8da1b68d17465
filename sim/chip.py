"""The chip description: one frozen, validated :class:`Chip`, its TOML form and the presets.

A chip has ``cores`` identical cores (TLU, attention unit, vector unit, SRAM), DMA
engines and a DRAM system, and a clock; ``chips`` of them joined by a link make a
multi-chip system. The same object drives the simulator and the HDL generator.

On disk a chip is TOML: the scalar :class:`Chip` fields at the top level and one table
per part (``[tlu]``, ``[attention]``, ``[vector]``, ``[sram.weight]``, ``[sram.act]``,
``[sram.kv]``, ``[dma]``, ``[dram]`` and, for ``chips > 1``, ``[link]``). Unknown keys
are errors. The built-in presets are such files in ``presets/``:

>>> from tritium.sim import load_chip, list_presets
>>> "edge-lpddr5" in list_presets()
True
>>> chip = load_chip("edge-lpddr5")
>>> (chip.tlu.rows, chip.tlu.width, chip.tlu.pipeline_depth_cycles)
(64, 64, 5)
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from tritium.base.errors import MISSING, SpecError, TritiumError, did_you_mean
from tritium.base.fileio import write_text_atomic
from tritium.sim.collectives import torus_dims
from tritium.sim.chip_memory import DmaSpec, DramSpec, LinkSpec, SramSpec
from tritium.sim.chip_parts import AttentionSpec, TluSpec, VectorSpec, check_part
from tritium.base.specio import check_choice, check_float, check_int, dumps_toml, from_mapping, load_toml

__all__ = [
    "NODES_NM",
    "Chip",
    "load_chip",
    "chip_to_toml",
    "save_chip",
    "list_presets",
    "preset",
]

NODES_NM = (45, 40, 28, 22, 16, 12, 7, 5, 3)
"""Process nodes a chip may name, nm (those the technology tables cover)."""

_NAME = re.compile(r"[a-z0-9._-]+")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True, kw_only=True)
class Chip:
    """A ternary-LLM accelerator: ``chips`` identical chips of ``cores`` identical cores.

    Attributes:
        name: identifier, non-empty, lowercase letters, digits, ``.``, ``_`` and ``-``.
        description: free text saying what the chip models.
        node_nm: process node, nm, one of :data:`NODES_NM`.
        clock_mhz: core clock, MHz, 1 to 5000.
        cores: identical cores per chip, 1 to 4096.
        chips: identical chips in the system, 1 to 4096.
        tlu: the ternary linear unit of each core.
        attention: where each core computes activation x activation products.
        vector: the vector unit of each core.
        sram: the SRAM buffers of each core.
        dma: the DMA engines of each chip.
        dram: the DRAM attached to each chip.
        link: the chip-to-chip link; required when ``chips > 1``, absent otherwise.
        pipeline_stages: pipeline-parallel stages the ``chips`` are split into, a divisor of
            ``chips`` (default 1: pure tensor parallelism); each stage is a tensor-parallel
            group of ``chips / pipeline_stages`` chips holding a contiguous run of layers.
        micro_batches: micro-batches a request's batch is cut into through the pipeline, 1 to
            4096 (0, the default: as many as there are stages, capped at the batch).
        dvfs: run a clock slower than nominal voltage reaches at the lowest voltage that closes
            it (dynamic energy ~ V^2, leakage falls); default false (nominal voltage).
        power_cap_w: most a chip (die, its DRAM and link PHYs, all busy) may draw, W; the clock
            is lowered along the voltage/frequency curve until peak power fits. 0 (default): no cap.
        power_density_limit_w_per_mm2: most peak die power per mm^2 the package can cool; a chip
            past it is refused. 0 (default): no limit.
    """

    name: str
    description: str = ""
    node_nm: int
    clock_mhz: float
    cores: int = 1
    chips: int = 1
    tlu: TluSpec
    attention: AttentionSpec
    vector: VectorSpec
    sram: SramSpec
    dma: DmaSpec
    dram: DramSpec
    link: LinkSpec | None = None
    pipeline_stages: int = 1
    micro_batches: int = 0
    dvfs: bool = False
    power_cap_w: float = 0.0
    power_density_limit_w_per_mm2: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise SpecError("name", self.name, "must be a non-empty string of a-z, 0-9, '.', '_' and '-'")
        if not isinstance(self.description, str):
            raise SpecError("description", self.description, "must be a string")
        check_int("node_nm", self.node_nm)
        check_choice("node_nm", self.node_nm, NODES_NM)
        check_float("clock_mhz", self.clock_mhz, lo=1, hi=5000)
        object.__setattr__(self, "clock_mhz", float(self.clock_mhz))
        check_int("cores", self.cores, lo=1, hi=4096)
        check_int("chips", self.chips, lo=1, hi=4096)
        for key, cls in (
            ("tlu", TluSpec),
            ("attention", AttentionSpec),
            ("vector", VectorSpec),
            ("sram", SramSpec),
            ("dma", DmaSpec),
            ("dram", DramSpec),
        ):
            check_part(key, getattr(self, key), cls)
        if self.chips > 1 and self.link is None:
            raise SpecError("link", MISSING, f"required when chips = {self.chips} (> 1): add a [link] table")
        if self.chips == 1 and self.link is not None:
            raise SpecError("link", self.link, "must be absent when chips = 1 (a link joins 2 or more chips)")
        if self.link is not None:
            check_part("link", self.link, LinkSpec)
            if self.link.topology == "torus2d":
                torus_dims(self.chips // self.pipeline_stages if _is_int(self.pipeline_stages) and
                           self.pipeline_stages >= 1 and self.chips % self.pipeline_stages == 0 else self.chips,
                           self.link.dims_x)
        check_int("pipeline_stages", self.pipeline_stages, lo=1, hi=self.chips)
        if self.chips % self.pipeline_stages:
            divisors = [d for d in range(1, self.chips + 1) if self.chips % d == 0]
            raise SpecError("pipeline_stages", self.pipeline_stages,
                            f"must divide chips = {self.chips} (stages of equal tensor-parallel groups): one of "
                            f"{', '.join(map(str, divisors[:16]))}{' ...' if len(divisors) > 16 else ''}")
        check_int("micro_batches", self.micro_batches, lo=0, hi=4096)
        if not isinstance(self.dvfs, bool):
            raise SpecError("dvfs", self.dvfs, "must be true or false")
        for key in ("power_cap_w", "power_density_limit_w_per_mm2"):
            value = getattr(self, key)
            hi = 100_000 if key == "power_cap_w" else 10.0
            check_float(key, value, lo=0, hi=hi)
            object.__setattr__(self, key, float(value))

    @property
    def tp_chips(self) -> int:
        """Chips in one tensor-parallel group (one pipeline stage): chips / pipeline_stages."""
        return self.chips // self.pipeline_stages

    @property
    def total_cores(self) -> int:
        """Cores in the whole system: cores * chips."""
        return self.cores * self.chips

    @property
    def clock_hz(self) -> float:
        """Core clock, Hz."""
        return self.clock_mhz * 1e6

    @property
    def peak_tlu_macs_per_s(self) -> float:
        """Ternary multiply-accumulates (weight x activation terms) per second, all chips.

        cores * chips * tlu.rows * tlu.width * clock_hz, with every TLU busy every cycle.
        """
        return self.total_cores * self.tlu.rows * self.tlu.width * self.clock_hz

    @property
    def weight_sram_bytes(self) -> int:
        """Weight-buffer bytes over all cores of all chips (weights resident at once)."""
        return self.total_cores * self.sram.weight.capacity_bytes

    @property
    def dram_capacity_bytes(self) -> int:
        """DRAM bytes over all chips."""
        return self.chips * self.dram.capacity_bytes


def _chip_from_mapping(data: object, source: str) -> Chip:
    """Build a :class:`Chip` from a parsed TOML document; errors end with ``(in SOURCE)``."""
    try:
        return from_mapping(Chip, data)
    except SpecError as err:
        raise SpecError(err.key, err.value, f"{err.allowed} (in {source})") from None


def chip_to_toml(chip: Chip) -> str:
    """The TOML text of ``chip``; :func:`load_chip` of it returns an equal chip."""
    return dumps_toml(chip, header=f"Tritium chip '{chip.name}'. Units are in the key names.")


def save_chip(chip: Chip, path: str | os.PathLike) -> Path:
    """Write ``chip`` as TOML to ``path`` atomically (complete or absent); return the path."""
    return write_text_atomic(path, chip_to_toml(chip))


def load_chip(spec: str | os.PathLike | Chip) -> Chip:
    """Resolve ``spec`` to a chip: a :class:`Chip`, a preset name or a TOML file path.

    A :class:`Chip` is returned as is. A string matching a preset name (any case) is
    that preset, even if a file of that name exists. Anything else is read as a TOML
    file path.

    Raises:
        TritiumError: ``spec`` is neither a preset nor an existing file, or the file
            is not readable TOML (the message names the path).
        SpecError: the file describes an invalid chip (the message names the dotted
            key, the value, what is allowed and the path).
    """
    if isinstance(spec, Chip):
        return spec
    if isinstance(spec, str) and spec.lower() in _preset_files():
        return preset(spec)
    if isinstance(spec, (str, os.PathLike)) and Path(spec).is_file():
        path = Path(spec)
        return _chip_from_mapping(load_toml(path, what="chip file"), source=str(path))
    presets = ", ".join(list_presets())
    raise TritiumError(f"unknown chip '{spec}': not a preset ({presets}) and no such TOML file"
                       + did_you_mean(spec, list_presets()))


def list_presets() -> list[str]:
    """Names of the built-in chip presets, sorted."""
    return sorted(_preset_files())


def preset(name: str) -> Chip:
    """The built-in preset ``name`` (any case).

    Raises:
        TritiumError: no preset has that name (the message lists them).
    """
    if not isinstance(name, str) or name.lower() not in _preset_files():
        raise TritiumError(f"unknown chip preset '{name}'; presets: {', '.join(list_presets())}")
    return _load_preset(name.lower())


@functools.cache
def _preset_files() -> dict[str, Traversable]:
    folder = resources.files("tritium.sim").joinpath("presets")
    return {f.name.removesuffix(".toml"): f for f in folder.iterdir() if f.name.endswith(".toml")}


@functools.cache
def _load_preset(key: str) -> Chip:
    source = f"preset {key}"
    try:
        data = tomllib.loads(_preset_files()[key].read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise TritiumError(f"{source}: malformed TOML ({err})") from None
    return _chip_from_mapping(data, source=source)

