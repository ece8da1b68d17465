"""Amaranth HDL of the MAC-free datapath, Verilog export and FPGA flows (issue: HDL).

>>> from tritium.hdl import gemm_limits
>>> gemm_limits("fpga-proto")
GemmLimits(weight_words=1024, act_slices=256, result_words=682, rows=8, width=64, acc_per_tree=1)
"""

from tritium.hdl.core import COUNTER_BITS, GemmLimits, TritiumCore
from tritium.hdl.elaborate import (MAX_BUFFER_KIB, MAX_TLU_INPUTS, check_buildable, core_depths, core_schedule,
                                    elaborate, gemm_limits, port_cycles)
from tritium.hdl.export import CASE_FIELDS, export, testbench_vectors, top_name
from tritium.hdl.memory import ActivationBuffer, WeightDecoder, WeightMemory, lane_bytes, pack_lane
from tritium.hdl.rtl_sim import SimStats, act_beats, run_gemm, sim_speed, tree_sim_speed, weight_beats
from tritium.hdl.tlu import Tlu
from tritium.hdl.lut import LutUnit, table_combinations
from tritium.hdl.mac import MacUnit
from tritium.hdl.style import DatapathStyle, chip_with_style, check_style, datapath_style, make_unit, with_style
from tritium.hdl.tree import HDL_ZERO_HANDLING, WEIGHT_CODE, AdderTree, check_zero_handling, tree_latency
from tritium.hdl.harness import SerialHarness
from tritium.hdl.selftest import SelfTest
from tritium.hdl.synth import DEVICES, TARGETS, SynthReport, synthesize, to_verilog
from tritium.hdl.tools import yowasp_cold
from tritium.hdl.board import BOARDS, BoardTop, BuildReport, build_board
from tritium.hdl.calibrate import AreaCalibration, calibrate_area, calibration_table
from tritium.hdl.calibrate_styles import StyleCalibration, calibrate_styles, style_table
from tritium.hdl.fpga_bench import HAND_WRITTEN_TREE64, BenchRow, HdlBench, bench_table, hdl_bench

__all__ = [
    "AdderTree",
    "WEIGHT_CODE",
    "HDL_ZERO_HANDLING",
    "tree_latency",
    "check_zero_handling",
    "Tlu",
    "LutUnit",
    "table_combinations",
    "MacUnit",
    "DatapathStyle",
    "datapath_style",
    "with_style",
    "chip_with_style",
    "check_style",
    "make_unit",
    "WeightDecoder",
    "WeightMemory",
    "ActivationBuffer",
    "lane_bytes",
    "pack_lane",
    "TritiumCore",
    "GemmLimits",
    "COUNTER_BITS",
    "elaborate",
    "core_depths",
    "port_cycles",
    "core_schedule",
    "gemm_limits",
    "check_buildable",
    "MAX_TLU_INPUTS",
    "MAX_BUFFER_KIB",
    "run_gemm",
    "sim_speed",
    "SimStats",
    "weight_beats",
    "act_beats",
    "export",
    "top_name",
    "testbench_vectors",
    "CASE_FIELDS",
    "tree_sim_speed",
    "SerialHarness",
    "SelfTest",
    "TARGETS",
    "DEVICES",
    "SynthReport",
    "synthesize",
    "to_verilog",
    "yowasp_cold",
    "BOARDS",
    "BoardTop",
    "BuildReport",
    "build_board",
    "AreaCalibration",
    "calibrate_area",
    "calibration_table",
    "StyleCalibration",
    "calibrate_styles",
    "style_table",
    "HAND_WRITTEN_TREE64",
    "BenchRow",
    "HdlBench",
    "hdl_bench",
    "bench_table",
]
