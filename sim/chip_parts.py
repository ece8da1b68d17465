"""The compute parts of a chip description (TLU, attention, vector unit): one frozen, validated
dataclass per block; the memory and link parts are in :mod:`tritium.sim.chip_memory`.

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

import math
from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.sim.datapath import LUT_GROUPS, STYLES, check_lut, check_mac, lut_pipeline_depth, \
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
    "TluSpec",
    "AttentionSpec",
    "VectorSpec",
    "check_number_field",
    "check_flag",
    "check_part",
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


def check_number_field(spec: object, name: str, *, hi: float | None = None, lo: float = 0.0) -> None:
    """Check that the field ``name`` of ``spec`` is a number > ``lo`` (and <= ``hi``); store it as a float."""
    value = getattr(spec, name)
    check_float(name, value, lo=lo, lo_open=True, hi=hi)
    object.__setattr__(spec, name, float(value))


def check_flag(key: str, value: object) -> None:
    """Refuse a ``key`` that is not true or false."""
    if not isinstance(value, bool):
        raise SpecError(key, value, "must be true or false")


def check_part(key: str, value: object, cls: type) -> None:
    """Refuse a ``key`` that is not a ``cls`` (a part given as something else)."""
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
        check_flag("fused", self.fused)

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
