"""The parts of a chip description: one frozen, validated dataclass per block.

:class:`~tritium.sim.chip.Chip` composes these. Each part checks itself in
``__post_init__``; an impossible value raises :class:`~tritium.base.errors.SpecError`
naming the key (relative to the part: ``rows``; loading a TOML file prefixes the
table, ``tlu.rows``), the value and what is allowed. Number fields declared
``float`` are stored as ``float`` even when given an ``int``, so a description
compares equal to itself after a trip through TOML.

Units are in the field names: ``_kib`` (1024 bytes), ``_gib`` (2**30 bytes),
``_gb_s`` (10**9 bytes per second), ``_ns``, ``_pj_per_bit``, ``_bits``.
"""

from __future__ import annotations

import dataclasses
import math
import types
from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.sim.datapath import LUT_GROUPS, LUT_TABLES, STYLES, check_lut, check_mac, lut_pipeline_depth, \
    mac_pipeline_depth
from tritium.base.specio import check_choice, check_float, check_int, check_power_of_two

__all__ = [
    "STYLES",
    "ZERO_HANDLING",
    "ZERO_ACT",
    "STYLE_KEYS",
    "WEIGHT_ENCODINGS",
    "ATTENTION_UNITS",
    "VECTOR_PRECISIONS",
    "DramType",
    "DRAM_TYPES",
    "TluSpec",
    "AttentionSpec",
    "VectorSpec",
    "BufferSpec",
    "SramSpec",
    "DmaSpec",
    "DramSpec",
    "LinkSpec",
]

ZERO_HANDLING = ("none", "gate", "skip")
"""Values of :attr:`TluSpec.zero_handling`."""
ZERO_ACT = ("none", "gate", "skip")
"""Values of :attr:`TluSpec.zero_act` (zero activations; ``docs/datapaths.md``)."""
STYLE_KEYS = {"adder_tree": (), "lut": ("lut_group", "lut_table_bits", "lut_tables", "lut_share_rows"),
              "mac": ("mac_bits",)}
"""The ``[tlu]`` keys that belong to one datapath style (:data:`STYLES`); another style given them is an error."""
_LUT_DEFAULTS = {"lut_group": 2, "lut_tables": "registers"}
_MAC_DEFAULTS = {"mac_bits": 8}
WEIGHT_ENCODINGS = ("2bit", "5trit")
"""Values of :attr:`TluSpec.weight_encoding`."""
ATTENTION_UNITS = ("mac_array", "vector")
"""Values of :attr:`AttentionSpec.unit`."""
VECTOR_PRECISIONS = ("fp16", "bf16", "fp32")
"""Values of :attr:`VectorSpec.precision`."""

_BITS_PER_WEIGHT = {"2bit": 2.0, "5trit": 8 / 5}
_MAX_BUFFER_KIB = 1 << 20  # 1 GiB of SRAM in one buffer of one core: beyond any die


def _number(spec: object, name: str, *, hi: float | None = None, lo: float = 0.0) -> None:
    """Check that the field ``name`` of ``spec`` is a number > ``lo`` (and <= ``hi``); store it as a float."""
    value = getattr(spec, name)
    check_float(name, value, lo=lo, lo_open=True, hi=hi)
    object.__setattr__(spec, name, float(value))


def _flag(key: str, value: object) -> None:
    if not isinstance(value, bool):
        raise SpecError(key, value, "must be true or false")


def _part(key: str, value: object, cls: type) -> None:
    if not isinstance(value, cls):
        raise SpecError(key, value, f"must be a {cls.__name__}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TluSpec:
    """The ternary linear unit of one core: ``rows`` rows (outputs), ``width`` inputs each.

    Each cycle one slice of ``width`` activations is broadcast to all rows; each row
    combines it with its ``width`` ternary weights and adds the result into its own
    accumulator. How a row does that is its datapath ``style`` (``docs/datapaths.md``;
    the schedules the RTL matches are in :mod:`tritium.sim.datapath`):

    - ``"adder_tree"`` (the default): each row sign-selects its activations and sums them
      through ``levels`` adder levels.
    - ``"lut"``: a table builder forms, for every group of ``lut_group`` activations, the
      partial sums of all their ternary weight combinations; each row's weights index
      the tables (one read per group) and an adder tree sums the reads.
    - ``"mac"``: the baseline every reviewer asks for: each row multiplies its ``width``
      activations by its weights (decoded to integers) on ``mac_bits``-bit multipliers
      and sums the products through an adder tree.

    Keys of one style given with another style are an error (:data:`STYLE_KEYS`); a
    style's keys left out take their defaults (``lut_group`` 2, ``lut_tables``
    ``"registers"``, ``mac_bits`` 8; ``lut_table_bits`` and ``lut_share_rows`` stay None:
    exact entries, all rows sharing one table copy).

    Attributes:
        rows: adder trees (outputs produced together), >= 1.
        width: inputs per tree (activations per slice), a power of two from 2 to 4096.
        act_bits: signed activation width in bits, 2 to 16.
        acc_bits: signed accumulator width in bits, from ``tree_sum_bits`` (one tree sum
            must fit) to 64. :attr:`max_reduction_length` follows from it.
        levels_per_stage: adder levels between pipeline registers, 1 to ``levels``.
        zero_handling: ``"none"``; ``"gate"`` (zero weights do not toggle the adder
            input: energy saved, cycles unchanged); ``"skip"`` (compressed non-zero
            weights: cycles depend on the non-zero count per row).
        weight_encoding: how weights are stored in SRAM and DRAM: ``"2bit"`` (a 2-bit
            code per weight, 4 per byte) or ``"5trit"`` (5 trits per byte, base-3
            packed, decoded in the weight path before the sign-select register, so
            the decode adds no cycles to :attr:`pipeline_depth_cycles`).
        acc_per_tree: accumulators behind each tree, 1 to 64. With ``B`` of them a weight
            word read once serves a block of up to ``B`` tokens: the tree takes one token's
            activation slice per cycle and adds into that token's accumulator (the
            weight-stationary token block of :mod:`tritium.sim.mapping`); 1 is one token
            per weight read.
        style: the datapath, one of :data:`STYLES`.
        lut_group: ``lut`` only: activations per table (g), one of
            :data:`~tritium.sim.datapath.LUT_GROUPS` and at most ``width``.
        lut_table_bits: ``lut`` only: bits of a table entry, from the exact width
            (:func:`~tritium.sim.datapath.lut_entry_bits`) to 64; None: exact.
        lut_tables: ``lut`` only: where built tables live, ``"registers"`` (flip-flops
            read through multiplexers) or ``"sram"`` (a small register-file macro).
        lut_share_rows: ``lut`` only: rows sharing one copy of the tables (a copy is
            built per ``lut_share_rows`` rows), 1 to ``rows``; None: all rows share one.
        mac_bits: ``mac`` only: multiplier operand width, ``act_bits`` to 32.
        zero_act: zero activations: ``"none"``; ``"gate"`` (a zero detector per
            broadcast activation holds the datapath inputs it feeds still: energy saved,
            cycles unchanged); ``"skip"`` (each cycle a compaction network picks up to
            ``width`` non-zero activations out of a window of ``2 * width``, and each row
            selects the matching weights: cycles follow the op's activation sparsity;
            ``adder_tree`` and ``mac`` only, not with ``zero_handling = "skip"``).
    """

    rows: int
    width: int
    act_bits: int = 8
    acc_bits: int = 32
    levels_per_stage: int = 1
    zero_handling: str = "none"
    weight_encoding: str = "2bit"
    acc_per_tree: int = 1
    style: str = "adder_tree"
    lut_group: int | None = None
    lut_table_bits: int | None = None
    lut_tables: str | None = None
    lut_share_rows: int | None = None
    mac_bits: int | None = None
    zero_act: str = "none"

    def __post_init__(self) -> None:
        check_int("rows", self.rows, lo=1, hi=65536)
        check_power_of_two("width", self.width, lo=2, hi=4096)
        check_int("act_bits", self.act_bits, lo=2, hi=16)
        check_int("acc_bits", self.acc_bits, lo=2, hi=64)
        if self.acc_bits < self.tree_sum_bits:
            raise SpecError(
                "acc_bits",
                self.acc_bits,
                f"must be an integer from {self.tree_sum_bits} to 64: one tree sum needs "
                f"act_bits + log2(width) + 1 = {self.act_bits} + {self.levels} + 1 bits",
            )
        check_int("levels_per_stage", self.levels_per_stage, lo=1, hi=self.levels)
        check_choice("zero_handling", self.zero_handling, ZERO_HANDLING)
        check_choice("weight_encoding", self.weight_encoding, WEIGHT_ENCODINGS)
        check_int("acc_per_tree", self.acc_per_tree, lo=1, hi=64)
        self._check_style()
        check_choice("zero_act", self.zero_act, ZERO_ACT)
        if self.zero_act == "skip" and self.style == "lut":
            raise SpecError("zero_act", self.zero_act, "must be 'none' or 'gate' with style = 'lut' (a table "
                            "groups lut_group activations, so one zero cannot be skipped)")
        if self.zero_act == "skip" and self.zero_handling == "skip":
            raise SpecError("zero_act", self.zero_act, "must be 'none' or 'gate' with zero_handling = 'skip' "
                            "(one gather network per row: skip zero weights or zero activations, not both)")

    def _check_style(self) -> None:
        check_choice("style", self.style, STYLES)
        for style, keys in STYLE_KEYS.items():
            if style == self.style:
                continue
            for key in keys:
                if getattr(self, key) is not None:
                    raise SpecError(key, getattr(self, key), f"is a key of style = {style!r}: leave it out "
                                    f"with style = {self.style!r}")
        if self.style != "adder_tree" and self.zero_handling == "skip":
            raise SpecError("zero_handling", self.zero_handling, f"must be 'none' or 'gate' with style = "
                            f"{self.style!r} ('skip' compresses the weights of an adder tree)")
        defaults = _LUT_DEFAULTS if self.style == "lut" else _MAC_DEFAULTS if self.style == "mac" else {}
        for key, value in defaults.items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if self.style == "lut":
            if isinstance(self.lut_group, bool) or not isinstance(self.lut_group, int):
                raise SpecError("lut_group", self.lut_group, f"must be an integer from {LUT_GROUPS[0]} to "
                                f"{min(LUT_GROUPS[-1], self.width)}")
            try:
                check_lut(self.width, self.lut_group, self.act_bits, self.lut_table_bits, self.lut_share_rows,
                          self.rows, self.lut_tables)
            except SpecError as err:  # datapath names tlu.<key>; a part names its own keys
                raise SpecError(err.key.removeprefix("tlu."), err.value, err.allowed) from None
            if self.lut_share_rows is not None:
                check_int("lut_share_rows", self.lut_share_rows, lo=1, hi=self.rows)
        elif self.style == "mac":
            try:
                check_mac(self.act_bits, self.mac_bits)
            except SpecError as err:
                raise SpecError(err.key.removeprefix("tlu."), err.value, err.allowed) from None

    @property
    def levels(self) -> int:
        """Adder levels in one tree: log2(width)."""
        return self.width.bit_length() - 1

    @property
    def tree_sum_bits(self) -> int:
        """Signed bits of one tree sum: act_bits + log2(width) + 1.

        A sign-selected input lies in [-2**(act_bits-1), 2**(act_bits-1)] (negating the
        most negative activation needs one more bit), and ``width`` of them add up.
        """
        return self.act_bits + self.levels + 1

    @property
    def adder_stages(self) -> int:
        """Pipeline registers inside the tree: ceil(levels / levels_per_stage)."""
        return math.ceil(self.levels / self.levels_per_stage)

    @property
    def pipeline_depth_cycles(self) -> int:
        """Registers a slice passes from the TLU input to the accumulator output.

        ``1 + adder_stages + 1``: the sign-select register, one register after every
        ``levels_per_stage`` adder levels (the last one ends the tree), and the
        accumulator register. See :meth:`dot_product_cycles` for how it is counted.
        The ``lut`` and ``mac`` styles have their own depths
        (:func:`~tritium.sim.datapath.lut_pipeline_depth`, :func:`~tritium.sim.datapath.mac_pipeline_depth`).
        """
        if self.style == "lut":
            return lut_pipeline_depth(self.width, self.lut_group, self.levels_per_stage)
        if self.style == "mac":
            return mac_pipeline_depth(self.width, self.levels_per_stage)
        return 1 + self.adder_stages + 1

    @property
    def max_reduction_length(self) -> int:
        """Largest dot-product length K the accumulator holds without overflow.

        The worst case is every weight -1 times the most negative activation,
        +2**(act_bits-1) per term, so K = (2**(acc_bits-1) - 1) // 2**(act_bits-1),
        which is 2**(acc_bits - act_bits) - 1 (65535 for 24-bit sums of 8-bit inputs).
        """
        return (2 ** (self.acc_bits - 1) - 1) // 2 ** (self.act_bits - 1)

    @property
    def weight_bits_per_weight(self) -> float:
        """Storage bits per weight: 2.0 for ``"2bit"``, 1.6 for ``"5trit"``."""
        return _BITS_PER_WEIGHT[self.weight_encoding]

    def dot_product_cycles(self, k: int) -> int:
        """Cycles for ``rows`` dense dot products of length ``k``: ceil(k/width) + depth.

        Number the cycles from 0, the cycle in which the first slice is on the TLU
        inputs; slices follow one per cycle, so the last one is on the inputs in
        cycle n - 1 with n = ceil(k / width). Each register adds one cycle, so the
        finished sums are in the accumulators during cycle n - 1 + depth, the last of
        the n + depth cycles counted (depth = :attr:`pipeline_depth_cycles`). With
        ``zero_handling = "skip"`` the simulator passes the streamed (non-zero) count.

        Raises:
            SpecError: ``k`` is not an integer >= 1.
        """
        check_int("K", k, lo=1)
        return math.ceil(k / self.width) + self.pipeline_depth_cycles

    def check_reduction_length(self, k: int) -> None:
        """Raise :class:`SpecError` (key ``tlu.acc_bits``) if a length-``k`` dot product could overflow."""
        check_int("K", k, lo=1)
        if k > self.max_reduction_length:
            needed = (k * 2 ** (self.act_bits - 1)).bit_length() + 1
            raise SpecError(
                "tlu.acc_bits",
                self.acc_bits,
                f"too narrow for a dot product of length K = {k}: holds K <= "
                f"{self.max_reduction_length} with {self.act_bits}-bit activations; "
                f"K = {k} needs acc_bits >= {needed}",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class AttentionSpec:
    """Where activation x activation products (QK^T, PV) run in one core.

    The same multipliers run the high-precision linears (the LM head, which every
    ternary model keeps in BF16): a ternary chip has no others, so the array's size
    sets part of the decode time too.

    Attributes:
        unit: ``"mac_array"`` (an integer MAC array of its own) or ``"vector"``
            (the vector unit does them).
        mac_rows: MAC array rows; >= 1 for ``"mac_array"``, 0 for ``"vector"``.
        mac_cols: MAC array columns; >= 1 for ``"mac_array"``, 0 for ``"vector"``.
        mac_bits: multiplier operand width in bits, 8 or 16. Wider operands take
            several passes (a BF16 product on an 8-bit array: 4; see
            :func:`tritium.sim.mapping.precision_passes`).
        fused: FlashAttention-style fused attention: QK^T, softmax and PV run tile by
            tile through the activation buffer with an online softmax, so the score
            matrix never goes to DRAM (the default; ``false`` writes whole score
            matrices out when they do not fit, for comparison).
    """

    unit: str
    mac_rows: int = 0
    mac_cols: int = 0
    mac_bits: int = 8
    fused: bool = True

    def __post_init__(self) -> None:
        check_choice("unit", self.unit, ATTENTION_UNITS)
        for key in ("mac_rows", "mac_cols"):
            value = getattr(self, key)
            if self.unit == "mac_array":
                check_int(key, value, lo=1, hi=4096)
            elif type(value) is not int or value != 0:
                raise SpecError(key, value, "must be 0 when unit = 'vector' (no MAC array)")
        check_int("mac_bits", self.mac_bits)
        check_choice("mac_bits", self.mac_bits, (8, 16))
        _flag("fused", self.fused)

    @property
    def macs(self) -> int:
        """Multiply-accumulates per cycle of the MAC array (0 on the vector unit)."""
        return self.mac_rows * self.mac_cols


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorSpec:
    """The vector unit of one core (norms, softmax, activations, RoPE, (de)quantization).

    Attributes:
        lanes: elements processed per cycle, >= 1.
        precision: arithmetic format, ``"fp16"``, ``"bf16"`` or ``"fp32"``.
    """

    lanes: int
    precision: str = "fp16"

    def __post_init__(self) -> None:
        check_int("lanes", self.lanes, lo=1, hi=65536)
        check_choice("precision", self.precision, VECTOR_PRECISIONS)


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
            _part(key, getattr(self, key), BufferSpec)

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
        _flag("double_buffered", self.double_buffered)


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
        _number(self, "channel_bandwidth_gb_s")
        check_float("energy_pj_per_bit", self.energy_pj_per_bit, lo=0, hi=1000)
        object.__setattr__(self, "energy_pj_per_bit", float(self.energy_pj_per_bit))
        _number(self, "latency_ns", hi=100_000)
        _number(self, "capacity_gib", hi=65536)
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
        _number(self, "bandwidth_gb_s", hi=100_000)
        _number(self, "latency_ns", hi=1_000_000)
        _number(self, "energy_pj_per_bit", hi=1000)
        check_choice("topology", self.topology, ("ring", "torus2d", "switch"))
        check_choice("algorithm", self.algorithm, ("auto", "ring", "tree"))
        _number(self, "efficiency", hi=1.0)
        check_int("dims_x", self.dims_x, lo=0, hi=4096)
