"""The mapping of each op onto the chip: the one place its cycles, memory traffic and events come from.

Every trace row is *mapped* before it is costed: a loop nest over its M (tokens),
N (outputs) and K (inputs) with tile sizes bounded by the buffers, a loop order,
and what each buffer holds. :func:`map_op` picks the mapping (by an objective:
``latency``, ``energy`` or ``edp``) and derives from it, in one function, the op's
cycles (with the stalls of buffer ports narrower than the units they feed), its
reads and writes per SRAM buffer, its DRAM traffic with every re-read the tiling
implies, and the event counts the energy model prices. Cycles and energy cannot
disagree about the dataflow because both are read off the same record
(:class:`OpCost`). ``docs/dataflow.md`` works the numbers through for one BitNet
b1.58 2B4T FFN layer.

Ternary linears (the TLU). The on-core loop nest, which the RTL controller
(:class:`tritium.hdl.core.TritiumCore`) executes and is checked against, is::

    for tile in this core's tiles of `rows` outputs:       # weight tile
        for block in blocks of B tokens (B <= acc_per_tree): # token block
            for slice in ceil(K / width) slices:              # one weight word per slice
                read the weight word (rows x width weights) once
                for token in block:                           # one cycle each
                    read the token's activation slice; tree adds into acc[token]
            drain the block's accumulators (dequantized on the way out)

so a weight word read once serves ``B`` tokens (:func:`tlu_schedule`). One
(tile, block, slice) group takes ``max(b * slice_cycles, word_cycles)`` cycles
for a block of ``b`` tokens, where ``word_cycles`` and ``slice_cycles`` are the
cycles the weight and activation buffers' ports need to deliver one weight word
and one activation slice (1 when the ports are as wide as the trees consume).
Above the core, the DRAM loop nest decides re-reads: ``weights_outer`` holds a
chunk of ``n_tile`` outputs' weights and streams every token past it (the inputs
are re-read from DRAM once per chunk when they do not fit the activation buffer);
``tokens_outer`` holds ``m_tile`` tokens' inputs and streams the weights past them
(streamed weights are re-read once per token chunk). Outputs leave the
accumulators once, dequantized to BF16 (the dequantization is fused into the
drain: INT32 sums never reach SRAM or DRAM).

Attention. With ``attention.fused`` (the default) QK^T, softmax and PV run
FlashAttention-style: a block of ``Br`` queries stays in the activation buffer while
key/value blocks of ``Bc`` stream past; scores live only in SRAM tiles, the online
softmax's rescaling is counted as vector work, and the KV cache is read once per
query block. Unfused, a score matrix that does not fit goes to DRAM and back.

Precisions. Multiplies run on the MAC array (or the vector unit) at their real
width: :func:`precision_passes`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from tritium.base.errors import SpecError
from tritium.base.specio import check_float
from tritium.sim.chip import Chip
from tritium.sim.chip_parts import TluSpec
from tritium.sim.collectives import collective
from tritium.sim.cycles import expected_skip_slices, mac_array_cycles, vector_cycles
from tritium.sim.datapath import style_schedule
from tritium.sim.dram import effective_pj_per_bit, sustained_bandwidth_fraction
from tritium.sim.energy import energy_model
from tritium.sim.work import Placement, dram_cycles
from tritium.workloads.dataflow import ROW_PARALLEL

__all__ = [
    "OBJECTIVES",
    "DEFAULT_OBJECTIVE",
    "ORDERS",
    "DTYPE_BITS",
    "TluSchedule",
    "tlu_schedule",
    "precision_passes",
    "skip_storage_bits_per_weight",
    "gather_window",
    "window_cycles",
    "OpCost",
    "map_op",
    "check_objective",
    "clear_caches",
]

OBJECTIVES = ("latency", "energy", "edp")
"""What the mapper minimizes: cycles (ties broken by energy), energy (ties by cycles),
or their product."""
DEFAULT_OBJECTIVE = "latency"
ORDERS = ("weights_outer", "tokens_outer")
"""DRAM-level loop orders of a ternary linear (see the module docstring)."""

DTYPE_BITS = {"int8": 8, "fp8": 8, "bf16": 16, "fp16": 16, "int32": 32, "fp32": 32}
"""Operand bits of each precision; integer multipliers take FP operands as block-floating-point
integers of the significand's width rounded up to a whole number of 8-bit limbs (FP8: one limb)."""
_LIMBS = {"int8": 1, "fp8": 1, "bf16": 2, "fp16": 2, "int32": 4, "fp32": 4}
_TRITS_PER_BYTE = {"2bit": 4, "5trit": 5}
_VECTOR_KINDS = ("rmsnorm", "quantize", "dequantize", "rope", "softmax", "activation", "residual")
_OUT_BYTES_AFTER_DRAIN = 2  # BF16: the dequantized output a ternary linear drains to


def clear_caches() -> None:
    """Forget every mapping worked out so far (for cold-cache benchmarks)."""
    _ternary.cache_clear()


def check_objective(objective: object) -> str:
    """Return ``objective`` if it is one of :data:`OBJECTIVES`, else raise :class:`SpecError`."""
    if objective not in OBJECTIVES:
        raise SpecError("mapping_objective", objective, f"must be one of {', '.join(OBJECTIVES)}")
    return objective


# -- the TLU's on-core schedule (the RTL contract) ----------------------------------------------

@dataclass(frozen=True, slots=True)
class TluSchedule:
    """One dense ternary GEMM step on the TLUs under a token block (what the RTL does).

    Attributes:
        cycles: cycles of the busiest core, port stalls and the pipeline fill included.
        unit_cycles: the same if the ports never stalled: passes x slices + pipeline depth.
        weight_word_reads: weight-buffer words (``rows`` lanes of ``width`` weights) read, all cores.
        act_slice_reads: activation slices (``width`` activations) read, all cores.
        result_writes: words of ``rows`` accumulators drained (one per tile per token), all cores.
        word_cycles: cycles the weight port needs for one word (>= 1).
        slice_cycles: cycles the activation port needs for one slice (>= 1).
        word_bits, slice_bits: bits of one weight word and one activation slice.
    """

    cycles: int
    unit_cycles: int
    weight_word_reads: int
    act_slice_reads: int
    result_writes: int
    word_cycles: int
    slice_cycles: int
    word_bits: int
    slice_bits: int


def tlu_word_bits(tlu: TluSpec) -> int:
    """Bits of one weight word: ``rows`` lanes of ``ceil(width / trits per byte)`` bytes."""
    return tlu.rows * 8 * -(-tlu.width // _TRITS_PER_BYTE[tlu.weight_encoding])


def tlu_schedule(
    tlu: TluSpec,
    m: int,
    k: int,
    n: int,
    *,
    cores: int = 1,
    token_block: int = 1,
    weight_port_bits: int | None = None,
    act_port_bits: int | None = None,
) -> TluSchedule:
    """The schedule of a dense M x K x N ternary GEMM (see the module docstring's loop nest).

    ``token_block`` (B, at most ``tlu.acc_per_tree``) tokens share each weight word;
    ``weight_port_bits``/``act_port_bits`` are the bits per cycle each buffer delivers
    to one core's TLU (None: as wide as the TLU consumes, no stalls). Tiles of ``rows``
    outputs are split between cores in contiguous blocks; the op takes as long as the
    busiest core. With B = 1 and unstalled ports the cycles are
    :func:`tritium.sim.cycles.tlu_cycles`.

    >>> from tritium.sim.chip_parts import TluSpec
    >>> tlu = TluSpec(rows=8, width=64, acc_per_tree=4)
    >>> s = tlu_schedule(tlu, 8, 256, 16, token_block=4)
    >>> (s.cycles, s.weight_word_reads, s.act_slice_reads)   # 2 tiles x 8 tokens x 4 slices + depth 8
    (72, 16, 64)
    >>> tlu_schedule(tlu, 8, 256, 16, token_block=1, weight_port_bits=256).cycles  # a word takes 4 cycles
    264
    """
    for key, value in (("M", m), ("K", k), ("N", n), ("cores", cores)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise SpecError(key, value, "must be an integer >= 1")
    if isinstance(token_block, bool) or not isinstance(token_block, (int, np.integer)) \
            or not 1 <= token_block <= tlu.acc_per_tree:
        raise SpecError("token_block", token_block, f"must be an integer from 1 to tlu.acc_per_tree = "
                        f"{tlu.acc_per_tree}")
    for key, bits in (("weight_port_bits", weight_port_bits), ("act_port_bits", act_port_bits)):
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1):
            raise SpecError(key, bits, "must be an integer >= 1 (bits per cycle), or None for a port that keeps up")
    word_bits = tlu_word_bits(tlu)
    slice_bits = tlu.width * tlu.act_bits
    word_cycles = 1 if weight_port_bits is None else max(1, -(-word_bits // weight_port_bits))
    slice_cycles = 1 if act_port_bits is None else max(1, -(-slice_bits // act_port_bits))
    slices = -(-k // tlu.width)
    tiles = -(-n // tlu.rows)
    per_core = -(-tiles // cores)
    full, rem = divmod(m, token_block)
    group = full * max(token_block * slice_cycles, word_cycles) + (max(rem * slice_cycles, word_cycles) if rem else 0)
    blocks = full + (1 if rem else 0)
    depth = tlu.pipeline_depth_cycles
    return TluSchedule(
        cycles=per_core * slices * group + depth,
        unit_cycles=per_core * slices * m + depth,
        weight_word_reads=tiles * slices * blocks,
        act_slice_reads=tiles * slices * m,
        result_writes=tiles * m,
        word_cycles=word_cycles,
        slice_cycles=slice_cycles,
        word_bits=word_bits,
        slice_bits=slice_bits,
    )


def skip_storage_bits_per_weight(density: float) -> float:
    """Storage of ``skip`` weights, bits per weight: a 1-bit non-zero bitmap plus a sign bit
    per non-zero (``1 + density``); the bitmap is the index metadata the gather network reads."""
    return 1.0 + density


def gather_window(tlu: TluSpec) -> int:
    """Activations the ``skip`` gather network of one tree selects from each cycle: ``2 * width``
    (so a slice of ``width`` non-zeros is found at densities down to one half; sparser rows
    are limited to ``2 * width`` activations per cycle). Each tree input is a ``2 * width``:1
    multiplexer of ``act_bits`` bits."""
    return 2 * tlu.width


@functools.lru_cache(maxsize=1024)
def window_cycles(width: int, act_density: float) -> float:
    """Expected cycles one token spends on a window of ``2 * width`` activations under
    ``zero_act = "skip"``: ``ceil(nnz / width)`` for ``nnz`` non-zero activations in the window,
    Binomial(2 * width, ``act_density``) (zeros independent): ``P(nnz >= 1) + P(nnz > width)``.
    A dense window takes 2 cycles (no faster than no skip), one at most half full takes 1.

    >>> window_cycles(64, 1.0), window_cycles(64, 0.0), round(window_cycles(64, 0.2), 6)
    (2.0, 0.0, 1.0)
    """
    check_float("act_density", act_density, lo=0.0, hi=1.0)
    window = 2 * width
    if act_density <= 0.0:
        return 0.0
    if act_density >= 1.0:
        return 2.0
    j = np.arange(window + 1, dtype=np.float64)
    log_pmf = (math.lgamma(window + 1) - np.array([math.lgamma(x + 1) for x in j])
               - np.array([math.lgamma(window - x + 1) for x in j])
               + j * math.log(act_density) + (window - j) * math.log1p(-act_density))
    pmf = np.exp(log_pmf)
    return float(min(2.0, max(0.0, 1.0 - pmf[0] + pmf[width + 1:].sum())))  # no rounding past the ends


# -- precisions ----------------------------------------------------------------------------------

def precision_passes(mac_bits: int, a_dtype: str, b_dtype: str) -> int:
    """Passes of a ``mac_bits``-bit integer multiplier for one product of ``a_dtype`` x ``b_dtype``.

    A wide operand is split into ``mac_bits``-wide limbs and the partial products are
    added (the textbook decomposition of a wide multiply into narrow ones): INT8 and FP8
    are one 8-bit limb, BF16/FP16 two (block-floating-point significands), so a BF16 x
    BF16 product is 4 passes of an 8-bit array and 1 of a 16-bit one.

    >>> precision_passes(8, "bf16", "bf16"), precision_passes(8, "int8", "int8"), precision_passes(16, "bf16", "bf16")
    (4, 1, 1)
    """
    per = mac_bits // 8
    return -(-_LIMBS.get(a_dtype, 2) // per) * -(-_LIMBS.get(b_dtype, 2) // per)


# -- the cost record ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OpCost:
    """One trace row mapped onto the chip: totals over its steps.

    Attributes:
        unit: "tlu", "attention", "vector" or "dma".
        unit_cycles: cycles on the unit if every buffer port kept up.
        compute_cycles: cycles with port stalls (>= ``unit_cycles``).
        dram_read_bytes, dram_write_bytes: bytes from and to DRAM (all chips).
        sram_read_bytes, sram_write_bytes: per buffer ("weight", "act", "kv"), bytes, all cores.
        link_bytes: bytes each chip sends over the chip-to-chip links.
        link_cycles: cycles of the collective that ends the op (:mod:`tritium.sim.collectives`).
        dram_read_fraction, dram_write_fraction: the share of the DRAM's peak bandwidth the op's
            reads and writes sustain for their access patterns (:mod:`tritium.sim.dram`).
        dram_pj: dynamic DRAM energy of the op's traffic, pJ.
        tlu_active_inputs: sign-select inputs that toggle (non-gated weights x tokens).
        tlu_inputs: all sign-select inputs fed (including zero-padding of the last slice).
        tlu_acc_updates: accumulator additions.
        gather_inputs: inputs routed through the ``skip`` gather network.
        gather_levels: 2:1 mux levels of that network (log2 of its window), or of the
            ``zero_act = "skip"`` compaction network and weight selects.
        lut_builds: ``lut`` tables built (one group's entries, one copy); lut_build_adds: the
            builders' additions that toggle (``entries - g`` per table, fewer with ``zero_act``).
            For ``lut`` the ``tlu_active_inputs`` are the table reads that toggle.
        zero_checks: activations through zero detectors (``zero_act`` gate or skip).
        compact_inputs: activations through the ``zero_act = "skip"`` compaction network;
            weight_selects: row inputs whose weight code the rows' selects route.
        macs: multiply-accumulates of the op (as in the trace).
        mac_passes: MAC-unit operations, ``macs`` times the precision passes.
        vector_ops: elementary vector-unit operations.
        mapping: the chosen mapping in words (the ops table's ``mapping`` column).
        token_block, m_tile, n_tile, order: the TLU mapping's parameters (0 / "" for other units).
    """

    unit: str
    unit_cycles: int
    compute_cycles: int
    dram_read_bytes: int
    dram_write_bytes: int
    sram_read_bytes: dict
    sram_write_bytes: dict
    link_bytes: int
    tlu_active_inputs: float
    tlu_inputs: int
    tlu_acc_updates: int
    gather_inputs: float
    gather_levels: int
    macs: int
    mac_passes: int
    vector_ops: int
    mapping: str
    token_block: int = 0
    m_tile: int = 0
    n_tile: int = 0
    order: str = ""
    link_cycles: int = 0
    dram_read_fraction: float = 1.0
    dram_write_fraction: float = 1.0
    dram_pj: float = 0.0
    lut_builds: int = 0
    lut_build_adds: float = 0.0
    zero_checks: int = 0
    compact_inputs: int = 0
    weight_selects: float = 0.0

    @property
    def port_stall_cycles(self) -> int:
        """Cycles the op waits on buffer ports: ``compute_cycles - unit_cycles``."""
        return self.compute_cycles - self.unit_cycles


def _buffers() -> tuple[dict, dict]:
    return {"weight": 0.0, "act": 0.0, "kv": 0.0}, {"weight": 0.0, "act": 0.0, "kv": 0.0}


def _port_cycles(chip: Chip, reads: dict, writes: dict) -> float:
    """Cycles the busiest SRAM buffer's ports need for these reads and writes (all cores)."""
    cores = chip.total_cores
    return max((reads[b] + writes[b]) * 8 / (getattr(chip.sram, b).bits_per_cycle * cores)
               for b in ("weight", "act", "kv"))


class _Dram:
    """DRAM traffic of one op by access pattern (:mod:`tritium.sim.dram`): ``stream`` for weights
    streamed in order, ``kv`` for KV-cache pages and embedding rows, ``mixed`` for activation
    tiles spilled and read back (reads and writes interleaved)."""

    __slots__ = ("reads", "writes")

    def __init__(self) -> None:
        self.reads = {"stream": 0.0, "kv": 0.0, "mixed": 0.0}
        self.writes = {"stream": 0.0, "kv": 0.0, "mixed": 0.0}

    def scaled(self, k: float) -> "_Dram":
        out = _Dram()
        out.reads = {p: v * k for p, v in self.reads.items()}
        out.writes = {p: v * k for p, v in self.writes.items()}
        return out

    @property
    def read_bytes(self) -> float:
        return sum(self.reads.values())

    @property
    def write_bytes(self) -> float:
        return sum(self.writes.values())


def _fraction(chip: Chip, by_pattern: dict) -> float:
    """The sustained share of peak bandwidth for this mix of patterns (time-weighted), 1 if empty."""
    total = sum(by_pattern.values())
    if total <= 0:
        return 1.0
    dram_type = chip.dram.type
    return total / sum(v / sustained_bandwidth_fraction(dram_type, p) for p, v in by_pattern.items() if v)


def _dram_pj(chip: Chip, dram: _Dram) -> float:
    """Dynamic DRAM energy of the traffic, pJ: the chip's override per bit, else the DRAM model's
    figure for each pattern (activation, core access and I/O)."""
    override = chip.dram.energy_pj_per_bit
    pj = 0.0
    for p in ("stream", "kv", "mixed"):
        moved = dram.reads[p] + dram.writes[p]
        if moved:
            pj += moved * 8 * (override or effective_pj_per_bit(chip.dram.type, p))
    return pj


def _dram_time(chip: Chip, dram: _Dram) -> int:
    return (dram_cycles(chip, math.ceil(dram.read_bytes), _fraction(chip, dram.reads))
            + dram_cycles(chip, math.ceil(dram.write_bytes), _fraction(chip, dram.writes)))


def _traffic_pj(chip: Chip, scaling: str, reads: dict, writes: dict, dram: _Dram) -> float:
    e = energy_model(chip, scaling)
    pj = _dram_pj(chip, dram)
    for i, b in enumerate(("weight", "act", "kv")):
        pj += reads[b] * e.sram_read_per_byte[i] + writes[b] * e.sram_write_per_byte[i]
    return pj


def _pick(candidates: list, objective: str):
    """The candidate (cycles, pj, payload) the objective prefers; the first wins ties."""
    if objective == "latency":
        key = lambda c: (c[0], c[1])  # noqa: E731
    elif objective == "energy":
        key = lambda c: (c[1], c[0])  # noqa: E731
    else:
        key = lambda c: (c[0] * c[1], c[0])  # noqa: E731
    return min(candidates, key=key)


def map_op(chip: Chip, placement: Placement, row, *, objective: str = DEFAULT_OBJECTIVE,
           scaling: str = "bitnet") -> OpCost:
    """Map trace row ``row`` (a namedtuple with the trace columns) onto ``chip`` and cost it.

    ``objective`` (one of :data:`OBJECTIVES`) chooses among the legal mappings;
    ``scaling`` prices traffic for the ``energy`` and ``edp`` objectives.
    """
    kind = row.kind
    if kind == "ternary_linear":
        cost = _ternary(chip, placement, _ternary_key(row), objective, scaling)
    elif kind in ("attn_qk", "attn_pv", "linear"):
        cost = _mac_op(chip, placement, row, objective, scaling)
    elif kind in _VECTOR_KINDS:
        cost = _vector_op(chip, row)
    elif kind == "embedding":
        r, w = _buffers()
        w["act"] = row.act_out_bytes
        dram = _Dram()
        dram.reads["kv"] = row.weight_bytes  # whole rows of the table, scattered like KV pages
        cost = _finish(chip, "dma", 0, 0, dram, r, w, mapping="gather rows from DRAM")
    elif kind == "kv_write":
        r, w = _buffers()
        if placement.kv_resident:
            w["kv"] = row.kv_write_bytes
            cost = _finish(chip, "dma", 0, 0, _Dram(), r, w, mapping="append to the KV buffer")
        else:
            dram = _Dram()
            dram.writes["kv"] = row.kv_write_bytes
            cost = _finish(chip, "dma", 0, 0, dram, r, w, mapping="append to the KV cache in DRAM")
    else:  # validate_trace admits only known kinds
        raise AssertionError(f"unhandled op kind {kind!r}")
    if chip.chips > 1 and row.op in ROW_PARALLEL:
        cost = _with_collective(chip, row, cost)
    return cost


def _with_collective(chip: Chip, row, cost: OpCost) -> OpCost:
    """``cost`` with the collective that ends a tensor-parallel op: an all-reduce of a
    row-parallel projection's BF16 outputs, an all-gather of the vocabulary-parallel LM head's."""
    link = chip.link
    kind = "all_gather" if row.op == "lm_head" else "all_reduce"
    one = collective(kind, row.m * row.n * 2, chip.chips, bandwidth_gb_s=link.bandwidth_gb_s,
                     latency_s=link.latency_ns * 1e-9, efficiency=link.efficiency, algorithm=link.algorithm,
                     topology=link.topology, dims_x=link.dims_x)
    return dataclasses.replace(
        cost, link_bytes=math.ceil(one.bytes_sent * row.steps),
        link_cycles=math.ceil(one.seconds * chip.clock_hz) * row.steps,
        mapping=f"{cost.mapping}; {one.algorithm} {kind.replace('_', '-')} over {chip.chips} chips")


def _finish(chip: Chip, unit, unit_cycles, cycles, dram: _Dram, reads, writes, **events) -> OpCost:
    """An :class:`OpCost` with whole-byte counts (buffers keep float sums until here) and the
    DRAM traffic's sustained bandwidth shares and dynamic energy from its access patterns."""
    return OpCost(
        unit=unit, unit_cycles=int(unit_cycles), compute_cycles=int(max(cycles, unit_cycles)),
        dram_read_bytes=int(math.ceil(dram.read_bytes)), dram_write_bytes=int(math.ceil(dram.write_bytes)),
        dram_read_fraction=_fraction(chip, dram.reads), dram_write_fraction=_fraction(chip, dram.writes),
        dram_pj=_dram_pj(chip, dram),
        sram_read_bytes={b: int(math.ceil(v)) for b, v in reads.items()},
        sram_write_bytes={b: int(math.ceil(v)) for b, v in writes.items()},
        link_bytes=0,
        tlu_active_inputs=float(events.get("tlu_active_inputs", 0.0)),
        tlu_inputs=int(events.get("tlu_inputs", 0)),
        tlu_acc_updates=int(events.get("tlu_acc_updates", 0)),
        gather_inputs=float(events.get("gather_inputs", 0.0)),
        gather_levels=int(events.get("gather_levels", 0)),
        lut_builds=int(events.get("lut_builds", 0)),
        lut_build_adds=float(events.get("lut_build_adds", 0.0)),
        zero_checks=int(events.get("zero_checks", 0)),
        compact_inputs=int(events.get("compact_inputs", 0)),
        weight_selects=float(events.get("weight_selects", 0.0)),
        macs=int(events.get("macs", 0)),
        mac_passes=int(events.get("mac_passes", 0)),
        vector_ops=int(events.get("vector_ops", 0)),
        mapping=events.get("mapping", ""),
        token_block=int(events.get("token_block", 0)),
        m_tile=int(events.get("m_tile", 0)),
        n_tile=int(events.get("n_tile", 0)),
        order=events.get("order", ""),
    )


# -- ternary linears -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _TernaryKey:
    """The fields of a ternary-linear row its mapping depends on (hashable, for the cache)."""

    m: int
    k: int
    n: int
    steps: int
    act_in_step: int
    out_elem_bytes: int
    density: float
    nnz_lo: int
    nnz_hi: int
    nnz_hist: str
    act_zero: float = 0.0


def _ternary_key(row) -> _TernaryKey:
    steps = int(row.steps)
    zero = float(row.zero_frac)
    density = 1.0 if math.isnan(zero) else 1.0 - zero
    out_elem = _OUT_BYTES_AFTER_DRAIN if row.out_dtype == "int32" else max(1, row.act_out_bytes // max(
        1, row.m * row.n * steps))
    act_zero = float(getattr(row, "act_zero_frac", math.nan))
    return _TernaryKey(int(row.m), int(row.k), int(row.n), steps, int(row.act_in_bytes) // steps, int(out_elem),
                       density, int(row.nnz_lo), int(row.nnz_hi), str(row.nnz_hist),
                       0.0 if math.isnan(act_zero) else act_zero)


def _token_blocks(tlu: TluSpec, m: int) -> list[int]:
    """Token blocks worth trying: powers of two up to the accumulators, and the largest legal one."""
    top = min(tlu.acc_per_tree, m)
    out = {top}
    b = 1
    while b < top:
        out.add(b)
        b *= 2
    return sorted(out)


@functools.lru_cache(maxsize=8192)
def _ternary(chip: Chip, placement: Placement, key: _TernaryKey, objective: str, scaling: str) -> OpCost:
    tlu, cores = chip.tlu, chip.total_cores
    m, k, n, steps = key.m, key.k, key.n, key.steps
    skip = tlu.zero_handling == "skip" and bool(key.nnz_hist)
    act_skip = tlu.zero_act == "skip"
    styled = tlu.style != "adder_tree" and not act_skip  # cycles and counts from sim/datapath.py
    density = key.density
    w_port = chip.sram.weight.bits_per_cycle
    a_port = chip.sram.act.bits_per_cycle
    if skip:
        hist = np.array(key.nnz_hist.split(), dtype=np.int64)
        window = gather_window(tlu)
        # slices of `width` non-zeros, each drawn from at most `window` activations
        slices = max(expected_skip_slices(tlu, key.nnz_lo, key.nnz_hi, hist), float(-(-k // window)))
        bits_per_weight = skip_storage_bits_per_weight(density)
        word_bits = tlu.rows * tlu.width * bits_per_weight / max(density, 1e-9)  # width non-zeros and their bitmap
        slice_bits = window * tlu.act_bits
    elif act_skip:
        window = 2 * tlu.width  # a window of activations and its weights per issue (docs/datapaths.md)
        slices = float(-(-k // window))
        bits_per_weight = tlu.weight_bits_per_weight
        word_bits = tlu.rows * 8 * -(-window // _TRITS_PER_BYTE[tlu.weight_encoding])
        slice_bits = window * tlu.act_bits
    else:
        slices = float(-(-k // tlu.width))
        bits_per_weight = tlu.weight_bits_per_weight
        window = tlu.width
        word_bits = tlu_word_bits(tlu)
        slice_bits = tlu.width * tlu.act_bits
    word_cycles = max(1, math.ceil(word_bits / w_port))
    slice_cycles = max(1, math.ceil(slice_bits / a_port))
    per_window = window_cycles(tlu.width, 1.0 - key.act_zero) if act_skip else 1.0
    tok_cycles = max(per_window, slice_cycles) if act_skip else slice_cycles
    tiles = -(-n // tlu.rows)
    per_core = -(-tiles // cores)
    depth = tlu.pipeline_depth_cycles
    in_b = key.act_in_step
    out_b = m * n * key.out_elem_bytes
    w_bytes = math.ceil(k * n * bits_per_weight / 8)
    act_cap = chip.sram.act.capacity_bytes
    w_cap = chip.sram.weight.capacity_bytes
    db = 2 if chip.dma.double_buffered else 1
    in_row = in_b / m  # input bytes of one token
    fits = in_b + math.ceil(out_b / cores) <= act_cap
    streamed = not placement.weights_resident
    tile_w_bytes = tlu.rows * k * bits_per_weight / 8  # one tile's weights, all of K

    step = tlu.rows * cores  # outputs of one tile on every core

    def n_tile_fitting() -> int:
        # the most outputs whose weights (each core its share) fit the weight buffer (half, double-buffered)
        per_core_tiles = max(1, int((w_cap / db) // tile_w_bytes))
        return min(n, per_core_tiles * step)

    def m_tile_fitting(n_tile: int) -> int:
        per_token = in_row + math.ceil(n_tile / cores) * key.out_elem_bytes
        return max(1, min(m, int((act_cap / db) // per_token)))

    def n_tiles() -> list[int]:
        # the tilings worth trying: the smallest chunk (most tokens fit beside it), the largest whose
        # weights fit, and the largest that still lets every token's inputs stay (inputs read once)
        if not streamed:
            return [n]
        top = n_tile_fitting()
        all_m = int(((act_cap / db) / m - in_row) / key.out_elem_bytes * cores) // step * step
        return sorted({min(step, n), top} | ({min(all_m, top)} if all_m >= step else set()))

    def dram_nest(order: str, n_tile: int) -> tuple[int, int, float, float, float]:
        """(m_tile, n_tile, weight bytes, input bytes read, output bytes written) of the DRAM loop nest."""
        if fits:  # inputs and outputs stay on chip; streamed weights pass once
            return m, n_tile, (w_bytes if streamed else 0.0), 0.0, 0.0
        if order == "weights_outer":  # inputs re-read per weight chunk unless every token's stay
            m_tile = m_tile_fitting(n_tile)
            rereads = 1 if m_tile >= m else -(-n // n_tile)
            return m_tile, n_tile, (w_bytes if streamed else 0.0), in_b * rereads, out_b
        whole = per_core * tile_w_bytes <= w_cap / db  # this op's weights fit: loaded once
        n_tile = n if whole else n_tile
        m_tile = m_tile_fitting(n_tile)
        loads = 1 if whole else -(-m // m_tile)  # streamed weights re-read per token chunk
        return m_tile, n_tile, (w_bytes * loads if streamed else 0.0), in_b, out_b

    candidates = []
    schedules = {}
    for block in _token_blocks(tlu, m):
        if styled:
            sched = schedules[block] = style_schedule(tlu, m, k, n, cores=cores, token_block=block,
                                                      weight_port_bits=w_port, act_port_bits=a_port)
            sched_cycles, word_reads, slice_reads = sched.cycles, sched.weight_word_reads, sched.act_slice_reads
        else:
            full, rem = divmod(m, block)
            group = full * max(block * tok_cycles, word_cycles) + (max(rem * tok_cycles, word_cycles) if rem else 0)
            blocks = full + (1 if rem else 0)
            sched_cycles = math.ceil(per_core * slices * group) + depth
            word_reads = tiles * slices * blocks
            slice_reads = tiles * slices * m
        for order in ORDERS:
            if fits and order == "tokens_outer":
                continue  # every token's inputs stay: one token chunk, the two orders are the same nest
            for n_tile in (n_tiles() if not fits else [n_tile_fitting() if streamed else n]):
                m_tile, n_tile, w_dram, in_dram, dram_w = dram_nest(order, n_tile)
                reads, writes = _buffers()
                reads["weight"] = word_reads * word_bits / 8
                reads["act"] = slice_reads * slice_bits / 8 + dram_w  # + outputs read out by the DMA
                writes["act"] = out_b + in_dram  # drained (dequantized) outputs + staged inputs
                writes["weight"] = w_dram  # streamed weights staged in the weight buffer
                dram = _Dram()
                dram.reads["stream"], dram.reads["mixed"], dram.writes["mixed"] = w_dram, in_dram, dram_w
                cycles = max(sched_cycles, math.ceil(_port_cycles(chip, reads, writes)))
                pj = _traffic_pj(chip, scaling, reads, writes, dram)
                payload = (block, order, m_tile, n_tile, cycles, reads, writes, dram)
                candidates.append((max(cycles, _dram_time(chip, dram)), pj, payload))
    _, _, best = _pick(candidates, objective)
    block, order, m_tile, n_tile, cycles, reads, writes, dram = best
    unit_cycles = math.ceil(per_core * slices * m * per_window) + depth
    dense_slices = -(-k // tlu.width)
    toggling = k if tlu.zero_handling == "none" else density * k
    act_on = 1.0 - key.act_zero if tlu.zero_act != "none" else 1.0  # zero activations held still
    streamed_per_row = density * k if skip else float(k)
    events = dict(
        tlu_inputs=steps * m * tiles * tlu.rows * dense_slices * tlu.width,
        tlu_active_inputs=float(steps * m * n * toggling * act_on),
        tlu_acc_updates=steps * m * n * math.ceil(streamed_per_row / tlu.width),
        gather_inputs=float(steps * m * n * density * k) if skip else 0.0,
        gather_levels=int(math.log2(window)) if skip or act_skip else 0,
        macs=steps * m * k * n,
        token_block=block, m_tile=m_tile, n_tile=n_tile, order=order,
        mapping=(f"TLU token block {block}, {order.replace('_', ' ')}, "
                 f"m_tile {m_tile}, n_tile {n_tile}" + (", skip" if skip else "")
                 + (", zero activations skipped" if act_skip else "")
                 + (f", {tlu.style}" if tlu.style != "adder_tree" else "")),
    )
    if tlu.zero_act != "none":
        events["zero_checks"] = steps * m * tiles * math.ceil(slices) * (window if act_skip else tlu.width)
    if act_skip:
        fed = steps * m * tiles * tlu.rows * slices * per_window * tlu.width  # row inputs fed, compacted
        events.update(tlu_inputs=math.ceil(fed), weight_selects=fed, compact_inputs=events["zero_checks"],
                      tlu_acc_updates=math.ceil(steps * m * n * slices * per_window))
    if styled:
        sched = schedules[block]
        if tlu.style == "lut":
            g = tlu.lut_group
            weight_on = 1.0 - (1.0 - density) ** g if tlu.zero_handling == "gate" else 1.0  # all-zero groups
            events.update(tlu_active_inputs=float(steps * sched.table_reads * weight_on),
                          tlu_acc_updates=steps * m * n * dense_slices,
                          lut_builds=steps * sched.table_builds,
                          lut_build_adds=float(steps * sched.table_builds * max(sched.table_entries - g, 0) * act_on))
        else:  # mac: every product that toggles is a multiply
            events.update(tlu_acc_updates=steps * m * n * dense_slices)
    scale = lambda d: {b: v * steps for b, v in d.items()}  # noqa: E731
    return _finish(chip, "tlu", unit_cycles * steps, cycles * steps, dram.scaled(steps), scale(reads),
                   scale(writes), **events)


# -- MAC-array ops: attention and high-precision linears -----------------------------------------

def _kv_series(row) -> np.ndarray:
    """KV lengths seen at each step of a decode attention row."""
    return row.kv_len + np.arange(row.steps, dtype=np.int64)


def _mac_unit_cycles(chip: Chip, row, k, n, causal: str | None, passes: int) -> int:
    """Cycles of a multiply-accumulate op: on the MAC array (``passes`` per product), or one MAC
    per vector lane per cycle. ``k``/``n`` may be per-step arrays (decode attention)."""
    if chip.attention.unit == "mac_array":
        return passes * mac_array_cycles(chip.attention, int(row.m), k, n, int(row.groups), causal=causal,
                                         cores=chip.total_cores)
    per_call = row.macs if row.kind != "linear" else row.macs // row.steps
    return math.ceil(per_call / (chip.vector.lanes * chip.total_cores))


def _passes(chip: Chip, a: str, b: str) -> int:
    if chip.attention.unit != "mac_array":
        return 1  # the vector unit multiplies in its own floating-point format
    return precision_passes(chip.attention.mac_bits, a, b)


KEY_BLOCK = 128
"""Keys per block of fused attention (FlashAttention-2's block sizes are 64 to 128 keys; Dao 2023,
arXiv:2307.08691), rounded up to whole MAC-array column tiles."""


def _key_block(chip: Chip) -> int:
    """Keys per block of fused attention: :data:`KEY_BLOCK`, a whole number of MAC-array column tiles."""
    if chip.attention.unit != "mac_array":
        return KEY_BLOCK
    cols = chip.attention.mac_cols
    return -(-KEY_BLOCK // cols) * cols


def _query_block(chip: Chip, row, head_dim: int, kv_bytes: int) -> int:
    """Queries held per block of fused attention: as many as fit half the activation buffer
    with their FP32 output accumulators, a score tile and a key and value block."""
    bc = _key_block(chip)
    per_query = head_dim * 2 + head_dim * 4 + bc * 4
    room = chip.sram.act.capacity_bytes / 2 - 2 * bc * head_dim * kv_bytes
    return max(1, min(int(row.m), int(room // per_query)))


def _causal_reread(m: int, br: int) -> float:
    """Keys a causal prefill's query blocks read, over the keys read once: sum of each block's
    last query position over M (a block of queries reads the keys up to its last query)."""
    blocks = -(-m // br)
    ends = np.minimum((np.arange(blocks) + 1) * br, m)
    return float(ends.sum()) / m


def _rescale_rows(m: int, keys: int, bc: int) -> int:
    """Key blocks after the first over ``m`` causal queries (query i sees i + 1 keys): each one
    rescales the query's output accumulator in the online softmax."""
    q, r = divmod(m, bc)
    return bc * q * (q - 1) // 2 + r * q if keys == m else m * (-(-keys // bc) - 1)


def _mac_op(chip: Chip, placement: Placement, row, objective: str, scaling: str) -> OpCost:
    kind = row.kind
    cores = chip.total_cores
    unit = "attention" if chip.attention.unit == "mac_array" else "vector"
    reads, writes = _buffers()
    dram = _Dram()
    vector_extra = 0
    act_cap = chip.sram.act.capacity_bytes
    if kind == "linear":
        passes = _passes(chip, row.weight_dtype, row.act_dtype)
        unit_cycles = _mac_unit_cycles(chip, row, row.k, row.n, None, passes) * row.steps
        dram.reads["stream"] += row.weight_bytes  # high-precision weights stream from DRAM, each read once
        writes["weight"] += row.weight_bytes
        reads["weight"] += row.weight_bytes
        fits = (row.act_in_bytes + row.act_out_bytes / cores) <= act_cap * row.steps
        _through_act_buffer(row, fits, reads, writes, dram)
        mapping = f"output-stationary, weights streamed once, {passes} pass{'es' if passes > 1 else ''}"
    else:
        passes = _passes(chip, row.act_dtype, row.act_dtype)
        if row.steps > 1:
            kv = _kv_series(row)
            k_dim, n_dim = (row.k, kv) if kind == "attn_qk" else (kv, row.n)
        else:
            k_dim, n_dim = row.k, row.n
        causal = ("n" if kind == "attn_qk" else "k") if row.causal else None
        unit_cycles = _mac_unit_cycles(chip, row, k_dim, n_dim, causal, passes)
        head_dim = int(row.k if kind == "attn_qk" else row.n)
        kv_bytes = max(1, _LIMBS.get(row.act_dtype, 2))
        # the activation side: queries in (QK^T) or outputs out (PV); scores in or out
        own = row.act_in_bytes if kind == "attn_qk" else row.act_out_bytes
        scores_in = kind == "attn_pv"
        score_bytes = row.act_out_bytes if kind == "attn_qk" else row.act_in_bytes
        if chip.attention.fused:
            br = _query_block(chip, row, head_dim, kv_bytes)
            factor = _causal_reread(int(row.m), br) if row.causal else float(-(-int(row.m) // br))
            kv_read = row.kv_read_bytes * factor
            # scores live in SRAM tiles; only the queries/outputs may spill
            if scores_in:
                reads["act"] += score_bytes
            else:
                writes["act"] += score_bytes
            fits = own / cores <= act_cap * row.steps
            if kind == "attn_qk":
                reads["act"] += own
            else:
                writes["act"] += own
            if not fits:
                if kind == "attn_qk":
                    dram.reads["mixed"] += own
                    writes["act"] += own
                else:
                    dram.writes["mixed"] += own
                    reads["act"] += own
            if kind == "attn_pv":
                bc = _key_block(chip)
                if row.causal:
                    rows = _rescale_rows(int(row.m), int(row.m), bc)
                else:
                    rows = int(sum(-(-int(x) // bc) - 1 for x in np.atleast_1d(k_dim)))
                vector_extra = int(row.groups) * rows * (head_dim + 2)
            mapping = (f"fused attention, query block {br}, key block {_key_block(chip)}, "
                       f"{passes} pass{'es' if passes > 1 else ''}")
        else:
            kv_read = row.kv_read_bytes
            fits = (row.act_in_bytes + row.act_out_bytes) / cores <= act_cap * row.steps
            _through_act_buffer(row, fits, reads, writes, dram)
            mapping = f"unfused attention{'' if fits else ', scores through DRAM'}, {passes} pass" + (
                "es" if passes > 1 else "")
        if placement.kv_resident:
            reads["kv"] += kv_read
        else:
            dram.reads["kv"] += kv_read
            writes["kv"] += kv_read  # staged through the KV buffer
            reads["kv"] += kv_read
    rescale_cycles = math.ceil(vector_extra / (chip.vector.lanes * cores)) if vector_extra else 0
    events = dict(macs=row.macs, mac_passes=row.macs * passes, vector_ops=vector_extra, mapping=mapping)
    if chip.tlu.style == "mac":
        on_tlu = _on_mac_tlu(chip, row, k_dim if kind != "linear" else row.k, n_dim if kind != "linear" else row.n)
        if on_tlu is not None and on_tlu[0] < unit_cycles:
            unit, unit_cycles, tlu_events = "tlu", on_tlu[0], on_tlu[1]
            events = dict(tlu_events, macs=row.macs, vector_ops=vector_extra,
                          mapping=f"{mapping.rsplit(', ', 1)[0]}, on the TLU's multipliers, "
                                  f"{tlu_events['passes']} pass{'es' if tlu_events['passes'] > 1 else ''}")
    cycles = max(unit_cycles + rescale_cycles, math.ceil(_port_cycles(chip, reads, writes)))
    return _finish(chip, unit, unit_cycles + rescale_cycles, cycles, dram, reads, writes, **events)


def _on_mac_tlu(chip: Chip, row, k, n) -> tuple[int, dict] | None:
    """Cycles and events of a multiply-accumulate op (attention product or high-precision linear) on a
    ``mac``-style TLU, whose ``rows x width`` multipliers take any operands (the adder tree and the
    LUT only ternary weights): each cycle one token's slice of ``width`` inputs meets ``rows`` outputs,
    ``passes`` times for operands wider than ``mac_bits``. ``k``, ``n`` may be per-step arrays (decode
    attention); the tiling waste of their mean sizes is counted. None when the multipliers are
    narrower than 8 bits."""
    tlu, cores = chip.tlu, chip.total_cores
    a, b = (row.weight_dtype, row.act_dtype) if row.kind == "linear" else (row.act_dtype, row.act_dtype)
    if tlu.mac_bits < 8:
        return None  # narrower than one 8-bit limb
    passes = precision_passes(tlu.mac_bits, a, b)
    k_mean = float(np.mean(k))
    n_mean = float(np.mean(n))
    if k_mean <= 0 or n_mean <= 0 or row.macs <= 0:
        return None
    util = (k_mean / (tlu.width * math.ceil(k_mean / tlu.width))) * (n_mean / (tlu.rows * math.ceil(n_mean / tlu.rows)))
    work = row.macs * passes
    cycles = math.ceil(work / (tlu.rows * tlu.width * cores * util)) + tlu.pipeline_depth_cycles * row.steps
    fed = math.ceil(work / util)
    return cycles, dict(tlu_active_inputs=float(work), tlu_inputs=fed, tlu_acc_updates=math.ceil(fed / tlu.width),
                        mac_passes=0, passes=passes)


# -- vector ops ----------------------------------------------------------------------------------

def _through_act_buffer(row, fits: bool, reads: dict, writes: dict, dram: "_Dram") -> None:
    """An op's inputs read from and outputs written to the activation buffer; when they do not
    ``fit`` they also come from and go to DRAM (staged through the buffer, pattern ``mixed``)."""
    reads["act"] += row.act_in_bytes
    writes["act"] += row.act_out_bytes
    if not fits:
        dram.reads["mixed"] += row.act_in_bytes
        dram.writes["mixed"] += row.act_out_bytes
        writes["act"] += row.act_in_bytes
        reads["act"] += row.act_out_bytes


TP_REPLICATED = ("attn_norm", "ffn_norm", "final_norm", "attn_residual", "ffn_residual", "attn_quant",
                 "ffn_quant", "head_quant")
"""Ops on the full hidden state that tensor parallelism replicates on every chip (Megatron-style):
they split over the cores of one chip, and every chip does them."""


def _vector_op(chip: Chip, row) -> OpCost:
    copies = chip.chips if chip.chips > 1 and row.op in TP_REPLICATED else 1
    cores = chip.total_cores // copies  # the cores that share one copy of the work
    reads, writes = _buffers()
    dram = _Dram()
    unit_cycles = vector_cycles(chip.vector, row.kind, row.elements, cores=cores)
    vops = math.ceil(unit_cycles * chip.vector.lanes * cores) * copies
    if copies > 1:
        row = row._replace(**{f: getattr(row, f) * copies for f in ("weight_bytes", "act_in_bytes", "act_out_bytes")})
    if row.kind == "softmax" and chip.attention.fused:
        # fused attention: the scores are tiles in the activation buffer, never in DRAM
        reads["act"] += row.act_in_bytes
        writes["act"] += row.act_out_bytes
        cycles = max(unit_cycles, math.ceil(_port_cycles(chip, reads, writes)))
        return _finish(chip, "vector", unit_cycles, cycles, dram, reads, writes, vector_ops=vops,
                       mapping="fused attention: score tiles in SRAM")
    if row.kind == "dequantize" and row.act_dtype == "int32":
        # fused into the TLU's accumulator drain: the scaling happens on the way out, no SRAM round trip
        return _finish(chip, "vector", unit_cycles, unit_cycles, dram, reads, writes, vector_ops=vops,
                       mapping="fused into the accumulator drain")
    reads["weight"] += row.weight_bytes  # norm gains
    fits = (row.act_in_bytes + row.act_out_bytes) / chip.total_cores <= chip.sram.act.capacity_bytes * row.steps
    _through_act_buffer(row, fits, reads, writes, dram)
    cycles = max(unit_cycles, math.ceil(_port_cycles(chip, reads, writes)))
    return _finish(chip, "vector", unit_cycles, cycles, dram, reads, writes, vector_ops=vops,
                   mapping="streamed through the activation buffer" if fits else "streamed from and to DRAM")
