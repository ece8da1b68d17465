# amaranth: UnusedElaboratable=no
"""Prototype bitstreams: a small core with its self-test on an ULX3S 85F, with the open flow."""

from __future__ import annotations

import dataclasses
import doctest
import json

import pytest

import tritium.hdl.board
import tritium.hdl.harness
from tritium.base.errors import SpecError
from tritium.hdl.board import BOARDS, BuildReport, board_platform, build_board
from tritium.sim import BufferSpec, load_chip


def tiny_chip():
    """fpga-proto with a 2 x 16 TLU and 1 KiB buffers."""
    chip = load_chip("fpga-proto")
    buffer = BufferSpec(capacity_kib=1, banks=1, port_bits=64)
    return dataclasses.replace(chip, name="tiny", tlu=dataclasses.replace(chip.tlu, rows=2, width=16),
                               sram=dataclasses.replace(chip.sram, weight=buffer, act=buffer))


@pytest.mark.slow
def test_ulx3s_bitstream(tmp_path):
    said = []
    r = build_board(tiny_chip(), "ulx3s-85f", tmp_path, progress=said.append)
    bit = tmp_path / "tritium_tiny.bit"
    assert r.bitstream == str(bit) and bit.stat().st_size > 100_000
    assert bit.read_bytes().startswith(b"\xff\x00Part: LFE5U-85F-6CABGA381")  # ecppack's header
    assert r.device == "LFE5U-85F-6BG381" and r.clock_mhz == 25.0
    assert r.timing_met and r.fmax_mhz > 25
    assert r.dsps == 0 and r.block_rams >= 2  # MAC-free, memories in block RAM
    assert r.utilization["TRELLIS_IO"][0] == 9  # clock and 8 LEDs
    assert r.vectors["gemms"] == 8 and r.vectors["checks"] > 8  # results and cycle counts of 8 GEMMs
    assert json.loads((tmp_path / "build_report.json").read_text()) == json.loads(json.dumps(r.to_dict()))
    assert any("building the bitstream" in s for s in said)


def test_boards_are_ecp5_platforms_with_leds():
    for name in BOARDS:
        platform = board_platform(name)
        assert platform.family == "ecp5" and platform.default_clk_frequency > 0, name
        leds = [r for r in platform.resources if r[0] == "led"]
        assert len(leds) >= 3, name


def test_unknown_board_lists_the_allowed_ones(tmp_path):
    with pytest.raises(SpecError, match="ulx3s-85f"):
        build_board(tiny_chip(), "arty-a7", tmp_path)
    with pytest.raises(SpecError, match="board"):
        BuildReport(board="nope", device="d", chip="c", top="t", bitstream="b", clock_mhz=25.0, fmax_mhz=None,
                    timing_met=None, utilization={}, dsps=0, block_rams=0, vectors={}, build_s=0.0)


def test_doctests():
    for module in (tritium.hdl.board, tritium.hdl.harness):
        result = doctest.testmod(module)
        assert result.attempted >= 1 and result.failed == 0
