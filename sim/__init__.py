"""The chip description and (later) the cycle-approximate simulator."""

from tritium.sim.chip import NODES_NM, Chip, chip_to_toml, list_presets, load_chip, preset, save_chip
from tritium.sim.chip_parts import (
    ATTENTION_UNITS,
    DRAM_TYPES,
    VECTOR_PRECISIONS,
    WEIGHT_ENCODINGS,
    ZERO_HANDLING,
    AttentionSpec,
    BufferSpec,
    DmaSpec,
    DramSpec,
    DramType,
    LinkSpec,
    SramSpec,
    TluSpec,
    VectorSpec,
)

__all__ = [
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
