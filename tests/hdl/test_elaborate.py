# amaranth: UnusedElaboratable=no
"""elaborate(chip): sized from the chip description; chips the HDL cannot build are refused clearly."""

from __future__ import annotations

import dataclasses
import doctest
import importlib

import pytest
from amaranth.hdl import Shape, signed
from amaranth.lib import data

from tritium.base.errors import SpecError, TritiumError
from tritium.hdl import MAX_BUFFER_KIB, TritiumCore, core_schedule, elaborate, gemm_limits, port_cycles
from tritium.sim import BufferSpec, load_chip
from tritium.sim.tlu_schedule import tlu_schedule


def test_fpga_proto_is_sized_from_its_description():
    chip = load_chip("fpga-proto")
    core = elaborate("fpga-proto")
    assert core.chip == chip and core.tlu == chip.tlu
    # weight words: 128 KiB / (8 rows x 64 weights x 2 bits); act slices: 16 KiB / (64 x 8 bits);
    # result words: 16 KiB / (8 rows x 24 bits)
    assert (core.limits.weight_words, core.limits.act_slices, core.limits.result_words) == (1024, 256, 682)
    assert core.limits == gemm_limits(chip)
    members = core.signature.members
    assert Shape.cast(members["weights"].signature.members["payload"].shape).width == 128
    assert members["acts"].signature.members["payload"].shape == data.ArrayLayout(signed(8), 64)
    assert members["results"].signature.members["payload"].shape == signed(24)
    assert members["results"].flow.name == "Out" and members["weights"].flow.name == "In"
    assert Shape.cast(members["compute_cycles"].shape).width == 32


def test_five_trit_weights_pack_denser():
    chip = load_chip("fpga-proto")
    packed = dataclasses.replace(chip, tlu=dataclasses.replace(chip.tlu, weight_encoding="5trit"))
    # 13 bytes per 64 weights instead of 16
    assert gemm_limits(packed).weight_words == 128 * 1024 * 8 // (8 * 13 * 8)


def test_multi_core_chip_builds_one_core():
    chip = load_chip("fpga-proto")
    quad = dataclasses.replace(chip, cores=4)
    core = elaborate(quad)
    assert core.chip.cores == 4 and core.limits == gemm_limits(chip)


def test_largest_preset_the_hdl_builds():
    limits = gemm_limits("edge-lpddr5")  # 64 x 64 TLU, 2 MiB weight buffer: at the bounds
    assert (limits.rows, limits.width, limits.weight_words) == (64, 64, 2048)


def test_skip_zero_handling_is_refused():
    chip = load_chip("fpga-proto")
    skip = dataclasses.replace(chip, tlu=dataclasses.replace(chip.tlu, zero_handling="skip"))
    with pytest.raises(SpecError, match=r"^tlu.zero_handling = 'skip': the HDL builds only 'none' or 'gate'"):
        elaborate(skip)


def test_too_large_tlu_is_refused():
    with pytest.raises(SpecError, match=r"^tlu.rows = 128: .* at most rows \* width = 4096 .* 128 x 256"):
        elaborate("datacenter-hbm3")


def test_too_large_or_too_small_buffers_are_refused():
    chip = load_chip("fpga-proto")
    big = BufferSpec(capacity_kib=2 * MAX_BUFFER_KIB, banks=1, port_bits=512)
    with pytest.raises(SpecError, match=rf"^sram.weight.capacity_kib = {2 * MAX_BUFFER_KIB}: .* at most 2048 KiB"):
        elaborate(dataclasses.replace(chip, sram=dataclasses.replace(chip.sram, weight=big)))
    wide = dataclasses.replace(chip.tlu, rows=64, width=64)  # a 64 x 64 x 2-bit word is 1 KiB
    tiny = dataclasses.replace(chip.sram, weight=BufferSpec(capacity_kib=1, banks=1, port_bits=64))
    assert gemm_limits(dataclasses.replace(chip, tlu=wide, sram=tiny)).weight_words == 1
    act_tiny = dataclasses.replace(chip.sram, act=BufferSpec(capacity_kib=1, banks=1, port_bits=64))
    too_wide = dataclasses.replace(chip.tlu, rows=1, width=1024, act_bits=16, acc_bits=32)
    with pytest.raises(SpecError, match=r"^sram.act.capacity_kib = 1: must hold one slice of activations"):
        elaborate(dataclasses.replace(chip, tlu=too_wide, sram=act_tiny))


def test_unknown_chip_is_refused():
    with pytest.raises(TritiumError, match="unknown chip 'no-such-chip'"):
        elaborate("no-such-chip")


def test_accumulators_and_port_throttling_come_from_the_chip():
    chip = load_chip("fpga-proto")
    assert port_cycles(chip) == {"word_cycles": 1, "slice_cycles": 1}  # 1024-bit words, 512-bit slices
    narrow = dataclasses.replace(
        chip, tlu=dataclasses.replace(chip.tlu, acc_per_tree=4),
        sram=dataclasses.replace(chip.sram, weight=BufferSpec(capacity_kib=128, banks=1, port_bits=256),
                                 act=BufferSpec(capacity_kib=16, banks=2, port_bits=64)),
    )
    assert port_cycles(narrow) == {"word_cycles": 4, "slice_cycles": 4}
    core = elaborate(narrow)
    assert (core.word_cycles, core.slice_cycles, core.limits.acc_per_tree) == (4, 4, 4)
    assert Shape.cast(core.signature.members["token_block"].shape).width == 3  # 0 to 4
    assert core_schedule(narrow, 5, 130, 11, token_block=4) == tlu_schedule(
        narrow.tlu, 5, 130, 11, token_block=4, weight_port_bits=256, act_port_bits=128)
    with pytest.raises(TritiumError, match=r"token_block = 5: must be an integer from 1 to .* acc_per_tree = 4"):
        core.limits.check(5, 130, 11, 5)


def test_bad_port_cycles_are_refused():
    tlu = load_chip("fpga-proto").tlu
    for value in (0, 1.5, True):
        with pytest.raises(TritiumError, match=rf"^word_cycles = {value!r}: must be an integer >= 1"):
            TritiumCore(tlu, weight_depth=4, act_depth=4, result_depth=4, word_cycles=value)
    with pytest.raises(TritiumError, match="more than the 32-bit compute cycle counter holds"):
        TritiumCore(tlu, weight_depth=2**16, act_depth=2**15, result_depth=4, slice_cycles=2)


def test_doctests():
    module = importlib.import_module("tritium.hdl.elaborate")  # the package's `elaborate` is the function
    result = doctest.testmod(module)
    assert result.attempted >= 1 and result.failed == 0
