"""The chip's memory and link parts: SRAM buffers, DMA, DRAM and chip-to-chip links.

Frozen, validated records a :class:`~tritium.sim.chip.Chip` holds (``[sram.*]``, ``[dma]``,
``[dram]``, ``[link]`` in its TOML): :class:`BufferSpec` and :class:`SramSpec` (on-core
buffers and their banks), :class:`DmaSpec`, :class:`DramSpec` with the DRAM types it may name
(:data:`DRAM_TYPES`), and :class:`LinkSpec` (topology, bandwidth, PHY). The compute parts are
in :mod:`tritium.sim.chip_parts`.

>>> DRAM_TYPES["HBM3"].channel
'stack'
"""

from __future__ import annotations

import types
from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.base.specio import check_choice, check_float, check_int, check_power_of_two
from tritium.sim.chip_parts import check_flag, check_number_field, check_part

__all__ = ["BufferSpec", "SramSpec", "DmaSpec", "DramType", "DRAM_TYPES", "DramSpec", "LinkSpec", "LINK_PHYS"]

_MAX_BUFFER_KIB = 1 << 20  # 1 GiB of SRAM in one buffer of one core: beyond any die


@dataclass(frozen=True, slots=True, kw_only=True)
class BufferSpec:
    """One on-core SRAM buffer, split into equal banks with one port each.

    Attributes:
        capacity_kib: capacity in KiB (1024 bytes), >= 1; must be a whole number of
            ``banks * port_bits / 8``-byte rows so every bank has a whole number of words.
        banks: independently addressed banks, a power of two >= 1.
        port_bits: bits one bank reads or writes per cycle, a power of two from 8 to 4096.
    """

    capacity_kib: int
    banks: int = 1
    port_bits: int = 64

    def __post_init__(self) -> None:
        check_int("capacity_kib", self.capacity_kib, lo=1, hi=_MAX_BUFFER_KIB)
        check_power_of_two("banks", self.banks, lo=1)
        check_power_of_two("port_bits", self.port_bits, lo=8, hi=4096)
        row_bytes = self.banks * self.port_bits // 8
        if self.capacity_bytes % row_bytes:
            raise SpecError(
                "capacity_kib",
                self.capacity_kib,
                f"must be a multiple of banks * port_bits / 8 = {self.banks} * {self.port_bits} / 8 "
                f"= {row_bytes} bytes, so every bank has a whole number of words",
            )

    @property
    def capacity_bytes(self) -> int:
        """Capacity in bytes."""
        return self.capacity_kib * 1024

    @property
    def words_per_bank(self) -> int:
        """Depth of one bank in ``port_bits``-wide words."""
        return self.capacity_bytes * 8 // (self.banks * self.port_bits)

    @property
    def bits_per_cycle(self) -> int:
        """Peak bits per cycle over all banks: banks * port_bits."""
        return self.banks * self.port_bits


@dataclass(frozen=True, slots=True, kw_only=True)
class SramSpec:
    """The three SRAM buffers of one core.

    Attributes:
        weight: the weight buffer (packed ternary weights).
        act: the activation buffer.
        kv: the KV-cache buffer.
    """

    weight: BufferSpec
    act: BufferSpec
    kv: BufferSpec

    def __post_init__(self) -> None:
        for key in ("weight", "act", "kv"):
            check_part(key, getattr(self, key), BufferSpec)

    @property
    def total_kib(self) -> int:
        """Capacity of the three buffers together, KiB."""
        return self.weight.capacity_kib + self.act.capacity_kib + self.kv.capacity_kib


@dataclass(frozen=True, slots=True, kw_only=True)
class DmaSpec:
    """The DMA engines that move tiles between DRAM and the SRAM buffers of one chip.

    Attributes:
        engines: concurrent DMA engines, >= 1.
        burst_bytes: bytes per DRAM transaction, a power of two from 16 to 4096.
        setup_cycles: clock cycles to start one transfer (descriptor fetch), >= 0.
        double_buffered: whether a tile's transfer overlaps the previous tile's compute.
    """

    engines: int
    burst_bytes: int = 64
    setup_cycles: int = 0
    double_buffered: bool = True

    def __post_init__(self) -> None:
        check_int("engines", self.engines, lo=1, hi=1024)
        check_power_of_two("burst_bytes", self.burst_bytes, lo=16, hi=4096)
        check_int("setup_cycles", self.setup_cycles, lo=0, hi=1_000_000)
        check_flag("double_buffered", self.double_buffered)


@dataclass(frozen=True, slots=True)
class DramType:
    """What a DRAM type's "channel" is and the fastest published figure for one.

    Attributes:
        channel: the unit a :class:`DramSpec` channel stands for with this type.
        peak_channel_gb_s: fastest per-channel bandwidth we know, GB/s.
        source: where ``peak_channel_gb_s`` comes from.
    """

    channel: str
    peak_channel_gb_s: float
    source: str


_REF = "docs/sources.md §1e"
_JEDEC = "estimate: top JEDEC speed grade x 64 bits (no datasheet table in docs/sources.md)"

DRAM_TYPES: types.MappingProxyType[str, DramType] = types.MappingProxyType(
    {
        "LPDDR4X": DramType("64-bit channel", 34.1, f"LPDDR4X-4266, {_JEDEC}"),
        "LPDDR5": DramType("64-bit channel", 51.2, f"LPDDR5-6400, {_REF}"),
        "LPDDR5X": DramType("64-bit channel", 68.0, f"LPDDR5X-8533, {_REF}"),
        "DDR3": DramType("64-bit channel", 17.1, f"DDR3-2133, {_JEDEC}"),
        "DDR4": DramType("64-bit channel", 25.6, f"DDR4-3200, {_JEDEC}"),
        "DDR5": DramType("64-bit channel", 51.2, f"DDR5-6400, {_REF}"),
        "GDDR6": DramType("x32 device", 80.0, f"GDDR6 at 20 Gb/s, {_REF}"),
        "GDDR6X": DramType("x32 device", 84.0, f"GDDR6X at 21 Gb/s, {_REF}"),
        "HBM2": DramType("stack", 307.0, f"HBM2, {_REF}"),
        "HBM2e": DramType("stack", 460.0, f"HBM2e, {_REF}"),
        "HBM3": DramType("stack", 819.0, f"HBM3, {_REF}"),
        "HBM3e": DramType("stack", 1200.0, f"HBM3e, {_REF}"),
    }
)
"""The DRAM types a chip may name, keyed by the spelling used in TOML."""

# Per-channel bandwidth above this multiple of the fastest published figure is
# taken for a unit mistake (a whole bus entered as one channel, Gb/s for GB/s).
_DRAM_HEADROOM = 2.0
LINK_PHYS = ("serdes", "ucie-standard", "ucie-advanced")
"""Physical layers a chip link may name (``link.phy``)."""
_MIN_BANDWIDTH_GB_S = 0.1
"""Slowest DRAM channel or chip link accepted, GB/s: a 16-bit SDR SDRAM at 50 MHz. Below it a
request's cycle counts would leave the exact integer range long before the physics means anything."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DramSpec:
    """The DRAM system attached to one chip, shared by its cores.

    Attributes:
        type: a key of :data:`DRAM_TYPES` (``"LPDDR5"``, ``"HBM3"``, ...).
        channels: independent channels; what one is depends on the type (a 64-bit
            channel for (LP)DDR, an x32 device for GDDR, a stack for HBM), >= 1.
        channel_bandwidth_gb_s: peak bandwidth of one channel, GB/s (10**9 bytes/s),
            at least 0.1 (a 16-bit SDR SDRAM at 50 MHz) and at most twice the type's fastest published figure.
        energy_pj_per_bit: dynamic access energy including I/O, pJ per bit moved: 0 (the
            default) takes it from the DRAM model (:mod:`tritium.sim.dram`: activations,
            core reads and writes and I/O for each op's access pattern, with background and
            refresh power over the whole run); a number > 0 (at most 1000) overrides the
            dynamic part for a part the user has figures for.
        latency_ns: unloaded read latency, ns, > 0.
        capacity_gib: capacity attached to the chip, GiB, > 0.
    """

    type: str
    channels: int
    channel_bandwidth_gb_s: float
    energy_pj_per_bit: float = 0.0
    latency_ns: float
    capacity_gib: float

    def __post_init__(self) -> None:
        check_choice("type", self.type, DRAM_TYPES)
        check_int("channels", self.channels, lo=1, hi=64)
        check_float("channel_bandwidth_gb_s", self.channel_bandwidth_gb_s, lo=_MIN_BANDWIDTH_GB_S)
        check_number_field(self, "channel_bandwidth_gb_s")
        check_float("energy_pj_per_bit", self.energy_pj_per_bit, lo=0, hi=1000)
        object.__setattr__(self, "energy_pj_per_bit", float(self.energy_pj_per_bit))
        check_number_field(self, "latency_ns", hi=100_000)
        check_number_field(self, "capacity_gib", hi=65536)
        info = DRAM_TYPES[self.type]
        limit = _DRAM_HEADROOM * info.peak_channel_gb_s
        if self.channel_bandwidth_gb_s > limit:
            raise SpecError(
                "channel_bandwidth_gb_s",
                self.channel_bandwidth_gb_s,
                f"must be a number > 0 and <= {limit:g} for {self.type} (twice the fastest "
                f"published {info.peak_channel_gb_s:g} GB/s per {info.channel}); "
                f"is a whole bus given as one channel?",
            )

    @property
    def bandwidth_gb_s(self) -> float:
        """Peak bandwidth of all channels, GB/s: channels * channel_bandwidth_gb_s."""
        return self.channels * self.channel_bandwidth_gb_s

    @property
    def capacity_bytes(self) -> int:
        """Capacity in bytes (rounded to a whole byte)."""
        return round(self.capacity_gib * 2**30)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    """The chip-to-chip links of a multi-chip system (tensor-parallel traffic).

    Attributes:
        bandwidth_gb_s: bandwidth one chip sends to the others, per direction, GB/s, 0.1 to 100,000.
        latency_ns: one-way latency of a transfer (one hop), ns, > 0.
        energy_pj_per_bit: energy per bit sent, pJ, > 0.
        topology: ``"ring"``, ``"torus2d"`` or ``"switch"`` (:data:`~tritium.sim.collectives.TOPOLOGIES`).
        algorithm: collective algorithm, ``"auto"`` (the faster per message), ``"ring"`` or
            ``"tree"`` (:mod:`tritium.sim.collectives`).
        efficiency: share of the bandwidth a collective reaches, in (0, 1]; default 0.8, what
            the GPU model's NCCL all-reduce gets.
        dims_x: chips along x of a ``torus2d`` (0: the most square factorization of ``chips``).
        phy: the link's physical layer, which sets its PHY area and die edge: ``"serdes"``
            (default: board-level NVLink-class SerDes) or a UCIe die-to-die interface for
            chiplets in one package, ``"ucie-standard"`` (organic substrate) or
            ``"ucie-advanced"`` (silicon bridge or interposer) (:mod:`tritium.sim.silicon`).
            Its energy stays ``energy_pj_per_bit`` (UCIe 1.0 targets about 0.5 pJ/bit).
    """

    bandwidth_gb_s: float
    latency_ns: float
    energy_pj_per_bit: float
    topology: str = "ring"
    algorithm: str = "auto"
    efficiency: float = 0.8
    dims_x: int = 0
    phy: str = "serdes"

    def __post_init__(self) -> None:
        check_float("bandwidth_gb_s", self.bandwidth_gb_s, lo=_MIN_BANDWIDTH_GB_S, hi=100_000)
        check_choice("phy", self.phy, LINK_PHYS)
        check_number_field(self, "bandwidth_gb_s", hi=100_000)
        check_number_field(self, "latency_ns", hi=1_000_000)
        check_number_field(self, "energy_pj_per_bit", hi=1000)
        check_choice("topology", self.topology, ("ring", "torus2d", "switch"))
        check_choice("algorithm", self.algorithm, ("auto", "ring", "tree"))
        check_number_field(self, "efficiency", hi=1.0)
        check_int("dims_x", self.dims_x, lo=0, hi=4096)
