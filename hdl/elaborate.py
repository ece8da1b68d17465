"""Build one core's datapath from a chip description: :func:`elaborate`.

The same :class:`~tritium.sim.chip.Chip` that drives the simulator sizes the RTL:

- the TLU from ``chip.tlu`` (rows, width, act_bits, acc_bits, levels_per_stage,
  zero_handling, zero_act, weight_encoding), as the unit of its ``style``
  (:func:`tritium.hdl.style.make_unit`: adder trees, LUT rows or MAC rows);
- the weight memory from ``chip.sram.weight.capacity_kib``: as many words of one tile
  slice (``rows`` lanes of ``ceil(width / trits per byte)`` bytes) as fit;
- the activation buffer from ``chip.sram.act.capacity_kib``: as many slices of
  ``width`` activations as fit;
- the result memory, which stands for the results' way back into the activation buffer,
  with the activation buffer's capacity in words of ``rows`` accumulators;
- the TLU's accumulators per tree from ``chip.tlu.acc_per_tree`` (the largest token block);
- the controller's port throttling from the SRAM ports (:func:`port_cycles`): each
  memory is one array that can deliver a word per cycle, and the controller issues no
  faster than ``chip.sram.weight.bits_per_cycle`` and ``chip.sram.act.bits_per_cycle``
  (banks x port bits) deliver a weight word and an activation slice, exactly as
  :func:`tritium.sim.tlu_schedule.tlu_schedule` (and :mod:`tritium.sim.datapath` for ``lut`` and
  ``mac``) charges them.

A chip of several cores (or chips) builds **one** core's datapath; each core is
identical and the cycle contract is per core (``tlu_schedule(..., cores=1)``).
"""

from __future__ import annotations

import os

from tritium.base.errors import SpecError
from tritium.hdl.core import COUNTER_BITS, GemmLimits, TritiumCore, max_compute_cycles
from tritium.hdl.memory import lane_bytes
from tritium.hdl.style import check_style
from tritium.hdl.tree import check_zero_handling
from tritium.sim.chip import Chip, load_chip
from tritium.sim.datapath import LutSchedule, MacSchedule, style_schedule
from tritium.sim.tlu_schedule import TluSchedule

__all__ = ["elaborate", "core_depths", "core_schedule", "port_cycles", "gemm_limits", "check_buildable",
           "MAX_TLU_INPUTS", "MAX_BUFFER_KIB"]

MAX_TLU_INPUTS = 4096
"""Largest ``rows * width`` the HDL builds (edge-lpddr5's 64 x 64). Larger TLUs (the
datacenter presets' 128 x 256) take minutes to elaborate and convert to Verilog and fit
no FPGA; their trees are the same as a smaller TLU's, so synthesize a smaller one."""

MAX_BUFFER_KIB = 2048
"""Largest SRAM buffer (weight or activation) per core the HDL builds, KiB (16 Mibit,
edge-lpddr5's weight buffer). Bigger arrays make simulation and Verilog conversion slow
and exceed every FPGA's block RAM (an ECP5-85 has about 468 KiB)."""


def core_depths(chip: Chip) -> dict[str, int]:
    """Words of the core's weight memory, activation buffer and result memory for ``chip``.

    Raises:
        SpecError: a buffer is too small for one word or larger than :data:`MAX_BUFFER_KIB`.
    """
    tlu = chip.tlu
    words = {}
    for key, buffer, word_bits, what in (
        ("weight_depth", chip.sram.weight, tlu.rows * 8 * lane_bytes(tlu), "one tile slice of weights"),
        ("act_depth", chip.sram.act, tlu.width * tlu.act_bits, "one slice of activations"),
        ("result_depth", chip.sram.act, tlu.rows * tlu.acc_bits, "one word of rows accumulators"),
    ):
        field = "sram.weight.capacity_kib" if key == "weight_depth" else "sram.act.capacity_kib"
        if buffer.capacity_kib > MAX_BUFFER_KIB:
            raise SpecError(
                field, buffer.capacity_kib,
                f"the HDL builds buffers of at most {MAX_BUFFER_KIB} KiB per core (larger arrays make "
                "simulation and Verilog export impractically slow and fit no FPGA)",
            )
        depth = buffer.capacity_bytes * 8 // word_bits
        if depth < 1:
            raise SpecError(field, buffer.capacity_kib, f"must hold {what} ({word_bits} bits) for the HDL")
        words[key] = depth
    return words


def core_schedule(chip: Chip, m: int, k: int, n: int, *,
                  token_block: int = 1) -> TluSchedule | LutSchedule | MacSchedule:
    """The schedule one core of ``chip`` runs an M x K x N GEMM in: the schedule of ``chip.tlu``'s
    style (:func:`tritium.sim.tlu_schedule.tlu_schedule` for the adder tree, :mod:`tritium.sim.datapath`
    for ``lut`` and ``mac``) with one core and the chip's weight and activation buffer ports
    (banks x port bits per cycle).

    Its ``cycles``, ``weight_word_reads``, ``act_slice_reads`` and ``result_writes`` are what the
    elaborated core's ``compute_cycles`` and memory strobes count.

    Raises:
        SpecError: a bad shape or token block (as tlu_schedule raises it).
    """
    return style_schedule(chip.tlu, m, k, n, cores=1, token_block=token_block,
                          weight_port_bits=chip.sram.weight.bits_per_cycle, act_port_bits=chip.sram.act.bits_per_cycle)


def port_cycles(chip: Chip) -> dict[str, int]:
    """``{"word_cycles": ..., "slice_cycles": ...}``: the cycles ``chip``'s weight and activation
    buffer ports take to deliver one weight word and one activation slice to one core's TLU,
    as :func:`core_schedule` counts them (1 when a port is as wide as the TLU consumes).

    >>> port_cycles(load_chip("fpga-proto"))
    {'word_cycles': 1, 'slice_cycles': 1}
    """
    schedule = core_schedule(chip, 1, 1, 1)
    return {"word_cycles": schedule.word_cycles, "slice_cycles": schedule.slice_cycles}


def check_buildable(chip: Chip) -> None:
    """Raise :class:`SpecError` if the HDL cannot build ``chip`` (see :func:`elaborate`)."""
    tlu = chip.tlu
    if check_style(tlu).style == "adder_tree":
        check_zero_handling(tlu.zero_handling)
    if tlu.rows * tlu.width > MAX_TLU_INPUTS:
        raise SpecError(
            "tlu.rows", tlu.rows,
            f"the HDL builds TLUs of at most rows * width = {MAX_TLU_INPUTS} inputs; this one has "
            f"{tlu.rows} x {tlu.width} = {tlu.rows * tlu.width} (use fewer rows or a narrower width)",
        )
    depths = core_depths(chip)
    if max_compute_cycles(tlu, depths["weight_depth"], depths["act_depth"], **port_cycles(chip)) >= 2**COUNTER_BITS:
        raise SpecError(
            "sram.act.capacity_kib", chip.sram.act.capacity_kib,
            f"with this weight buffer, allows GEMMs longer than the {COUNTER_BITS}-bit compute cycle counter holds",
        )


def gemm_limits(chip: Chip | str | os.PathLike) -> GemmLimits:
    """The GEMM shapes the core of ``chip`` holds, without building it.

    Raises:
        SpecError: the HDL cannot build the chip (see :func:`elaborate`).
    """
    chip = load_chip(chip)
    check_buildable(chip)
    depths = core_depths(chip)
    return GemmLimits(
        weight_words=depths["weight_depth"], act_slices=depths["act_depth"],
        result_words=depths["result_depth"], rows=chip.tlu.rows, width=chip.tlu.width,
        acc_per_tree=chip.tlu.acc_per_tree,
    )


def elaborate(chip: Chip | str | os.PathLike) -> TritiumCore:
    """One core of ``chip`` as an Amaranth component (a :class:`TritiumCore`).

    Args:
        chip: a :class:`Chip`, a preset name or a chip TOML path.

    Returns:
        The core, sized from the chip (see the module docstring); ``core.chip`` is the chip,
        ``core.word_cycles`` and ``core.slice_cycles`` its port throttling.

    Raises:
        SpecError: the HDL cannot build the chip: ``tlu.zero_handling = "skip"``, a TLU of
            more than :data:`MAX_TLU_INPUTS` inputs, an SRAM buffer too small for one
            word or larger than :data:`MAX_BUFFER_KIB` (or buffers whose largest GEMM
            overflows the 32-bit cycle counter). The message names the field, its
            value and what is allowed.
        TritiumError: ``chip`` names no preset or file.
    """
    chip = load_chip(chip)
    check_buildable(chip)
    core = TritiumCore(chip.tlu, **core_depths(chip), **port_cycles(chip), src_loc_at=1)
    core.chip = chip
    return core
