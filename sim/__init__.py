"""The chip description and the cycle-approximate simulator (``tritium.sim``).

>>> from tritium.sim import load_chip, simulate
>>> from tritium.workloads import Scenario, trace
>>> r = simulate(load_chip("edge-lpddr5"), trace("trilm-99m", Scenario(1, 16, 4)))
>>> r.totals["tokens_per_s"] > 0
True
"""

from tritium.sim.chip import NODES_NM, Chip, chip_to_toml, list_presets, load_chip, preset, save_chip
from tritium.sim.chip_memory import DRAM_TYPES, BufferSpec, DmaSpec, DramSpec, DramType, LinkSpec, SramSpec
from tritium.sim.chip_parts import (
    ATTENTION_UNITS,
    VECTOR_PRECISIONS,
    WEIGHT_ENCODINGS,
    ZERO_HANDLING,
    AttentionSpec,
    TluSpec,
    VectorSpec,
)
from tritium.sim.result import SimResult, Totals
from tritium.sim.simulate import OP_COLUMNS, simulate, write_result

__all__ = [
    "simulate",
    "SimResult",
    "Totals",
    "OP_COLUMNS",
    "write_result",
    "Chip",
    "TluSpec",
    "AttentionSpec",
    "VectorSpec",
    "BufferSpec",
    "SramSpec",
    "DmaSpec",
    "DramSpec",
    "DramType",
    "LinkSpec",
    "DRAM_TYPES",
    "NODES_NM",
    "ZERO_HANDLING",
    "WEIGHT_ENCODINGS",
    "ATTENTION_UNITS",
    "VECTOR_PRECISIONS",
    "load_chip",
    "chip_to_toml",
    "save_chip",
    "list_presets",
    "preset",
]
