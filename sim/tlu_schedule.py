"""The TLU's on-core schedule: the loop nest the RTL controller runs, its cycles and its reads.

Ternary linears run on the TLUs in a weight-stationary loop nest, which the RTL controller
(:class:`tritium.hdl.core.TritiumCore`) executes and is checked against::

    for tile in this core's tiles of `rows` outputs:       # weight tile
        for block in blocks of B tokens (B <= acc_per_tree): # token block
            for slice in ceil(K / width) slices:              # one weight word per slice
                read the weight word (rows x width weights) once
                for token in block:                           # one cycle each
                    read the token's activation slice; the unit adds it into acc[token]
            drain the block's accumulators (dequantized on the way out)

so a weight word read once serves ``B`` tokens. One (tile, block, slice) group takes
``max(b * slice_cycles, word_cycles)`` cycles for a block of ``b`` tokens, where
``word_cycles`` and ``slice_cycles`` are the cycles the weight and activation buffers'
ports need to deliver one weight word and one activation slice (1 when the ports are as
wide as the unit consumes); the busiest core's groups follow each other with no bubble
and the pipeline fills once per op.

:func:`loop_nest` works this out for any datapath style given its pipeline depth, into the
one schedule record every style returns (:class:`TluSchedule`; the ``lut`` and ``mac``
styles of :mod:`tritium.sim.datapath` add their own counts in subclasses);
:func:`tlu_schedule` is the adder tree's. How the mapper tiles the op above the core (the
DRAM loop nest) is :mod:`tritium.sim.mapper`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tritium.base.errors import SpecError

if TYPE_CHECKING:  # chip_parts imports this module (through datapath)
    from tritium.sim.chip_parts import TluSpec

__all__ = ["TluSchedule", "loop_nest", "tlu_schedule", "tlu_word_bits", "weight_word_bits"]

# as tritium.sim.weight_encoding.TRITS_PER_BYTE, which cannot be imported here: it imports
# chip_parts, which imports this module (through datapath) while it is being imported
_TRITS_PER_BYTE = {"2bit": 4, "5trit": 5}


@dataclass(frozen=True, slots=True)
class TluSchedule:
    """One dense ternary GEMM on the TLUs under a token block (what the RTL does), any style.

    Attributes:
        cycles: cycles of the busiest core, port stalls and the pipeline fill included.
        unit_cycles: the same if the ports never stalled: passes x slices + pipeline depth.
        weight_word_reads: weight-buffer words (``rows`` lanes of ``width`` weights) read, all cores.
        act_slice_reads: activation slices (``width`` activations) read, all cores.
        result_writes: words of ``rows`` accumulators drained (one per tile per token), all cores.
        word_cycles: cycles the weight port needs for one word (>= 1).
        slice_cycles: cycles the activation port needs for one slice (>= 1).
        word_bits, slice_bits: bits of one weight word and one activation slice.
        pipeline_depth: registers from the unit's input to its accumulator (the adder tree's
            ``tlu.pipeline_depth_cycles``; :func:`~tritium.sim.datapath.lut_pipeline_depth`,
            :func:`~tritium.sim.datapath.mac_pipeline_depth`).
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
    pipeline_depth: int


def weight_word_bits(rows: int, trits: int, weight_encoding: str) -> int:
    """Bits of one weight word: ``rows`` lanes of ``ceil(trits / trits per byte)`` bytes."""
    return rows * 8 * -(-trits // _TRITS_PER_BYTE[weight_encoding])


def tlu_word_bits(tlu: TluSpec) -> int:
    """Bits of one weight word of ``tlu``: ``rows`` lanes of ``ceil(width / trits per byte)`` bytes."""
    return weight_word_bits(tlu.rows, tlu.width, tlu.weight_encoding)


def _check_int(key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SpecError(key, value, "must be an integer >= 1")


def loop_nest(rows: int, width: int, m: int, k: int, n: int, *, act_bits: int, acc_per_tree: int,
              weight_encoding: str, pipeline_depth: int, cores: int = 1, token_block: int = 1,
              weight_port_bits: int | None = None, act_port_bits: int | None = None) -> TluSchedule:
    """The loop nest (module docstring) of a dense M x K x N ternary GEMM on units of ``rows``
    outputs and ``width`` inputs whose pipeline is ``pipeline_depth`` registers deep.

    ``token_block`` (B, at most ``acc_per_tree``) tokens share each weight word;
    ``weight_port_bits``/``act_port_bits`` are the bits per cycle each buffer delivers to
    one core's unit (None: as wide as the unit consumes, no stalls). Tiles of ``rows``
    outputs are split between cores in contiguous blocks; the op takes as long as the
    busiest core.

    Raises:
        SpecError: a value out of range (the message names the key).
    """
    for key, value in (("M", m), ("K", k), ("N", n), ("cores", cores), ("rows", rows), ("width", width),
                       ("act_bits", act_bits), ("acc_per_tree", acc_per_tree)):
        _check_int(key, value)
    if isinstance(token_block, bool) or not isinstance(token_block, (int, np.integer)) \
            or not 1 <= token_block <= acc_per_tree:
        raise SpecError("token_block", token_block, f"must be an integer from 1 to tlu.acc_per_tree = "
                        f"{acc_per_tree}")
    for key, bits in (("weight_port_bits", weight_port_bits), ("act_port_bits", act_port_bits)):
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or bits < 1):
            raise SpecError(key, bits, "must be an integer >= 1 (bits per cycle), or None for a port that keeps up")
    if weight_encoding not in _TRITS_PER_BYTE:
        raise SpecError("tlu.weight_encoding", weight_encoding, f"must be one of {', '.join(_TRITS_PER_BYTE)}")
    word_bits = weight_word_bits(rows, width, weight_encoding)
    slice_bits = width * act_bits
    word_cycles = 1 if weight_port_bits is None else max(1, -(-word_bits // weight_port_bits))
    slice_cycles = 1 if act_port_bits is None else max(1, -(-slice_bits // act_port_bits))
    slices = -(-k // width)
    tiles = -(-n // rows)
    per_core = -(-tiles // cores)
    full, rem = divmod(m, token_block)
    group = full * max(token_block * slice_cycles, word_cycles) + (max(rem * slice_cycles, word_cycles) if rem else 0)
    blocks = full + (1 if rem else 0)
    return TluSchedule(
        cycles=int(per_core * slices * group + pipeline_depth),
        unit_cycles=int(per_core * slices * m + pipeline_depth),
        weight_word_reads=int(tiles * slices * blocks),
        act_slice_reads=int(tiles * slices * m),
        result_writes=int(tiles * m),
        word_cycles=int(word_cycles),
        slice_cycles=int(slice_cycles),
        word_bits=int(word_bits),
        slice_bits=int(slice_bits),
        pipeline_depth=int(pipeline_depth),
    )


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
    """The adder tree's schedule of a dense M x K x N ternary GEMM (:func:`loop_nest` with
    ``tlu``'s keys and ``tlu.pipeline_depth_cycles``).

    With B = 1 and unstalled ports the cycles are :func:`tritium.sim.cycles.tlu_cycles`.

    >>> from tritium.sim.chip_parts import TluSpec
    >>> tlu = TluSpec(rows=8, width=64, acc_per_tree=4)
    >>> s = tlu_schedule(tlu, 8, 256, 16, token_block=4)
    >>> (s.cycles, s.weight_word_reads, s.act_slice_reads)   # 2 tiles x 8 tokens x 4 slices + depth 8
    (72, 16, 64)
    >>> tlu_schedule(tlu, 8, 256, 16, token_block=1, weight_port_bits=256).cycles  # a word takes 4 cycles
    264
    """
    return loop_nest(tlu.rows, tlu.width, m, k, n, act_bits=tlu.act_bits, acc_per_tree=tlu.acc_per_tree,
                     weight_encoding=tlu.weight_encoding, pipeline_depth=tlu.pipeline_depth_cycles, cores=cores,
                     token_block=token_block, weight_port_bits=weight_port_bits, act_port_bits=act_port_bits)
