"""Export one core of a chip as Verilog with a self-checking testbench: :func:`export`.

The output folder gets (``T`` is the top module, ``tritium_<chip name>`` with every
character that is not a letter, digit or ``_`` replaced by ``_``):

- ``T.v``: the core (``amaranth.back.verilog``, ``emit_src=False``: no source paths).
- ``tb_T.sv``: a SystemVerilog testbench (Icarus: ``iverilog -g2012``). It runs every
  golden case through the core's streams with the core's token block, compares each
  result with the golden model, and ``compute_cycles`` and the cycles the core's
  ``weight_read``, ``act_read`` and ``result_write`` strobes were high with the
  schedule's ``cycles``, ``weight_word_reads``, ``act_slice_reads`` and ``result_writes``
  (:func:`tritium.hdl.elaborate.core_schedule`, i.e. the schedule of ``tlu.style``:
  :func:`tritium.sim.tlu_schedule.tlu_schedule`, or :func:`tritium.sim.datapath.lut_schedule` /
  :func:`~tritium.sim.datapath.mac_schedule`, with the chip's ports), prints one line per mismatch
  and a final ``PASS <n> vectors``
  or ``FAIL <e> of <n> vectors`` (a vector is one result, or one case's schedule: its
  cycles and memory accesses together), and on any mismatch (or a hang) stops with
  ``$fatal`` (non-zero exit status).
- ``T_cases.hex``, ``T_weights.hex``, ``T_acts.hex``, ``T_expected.hex``: the vectors
  for ``$readmemh``, read from the current folder (or ``+vectors=DIR``).
- ``files.f``: the Verilog files, relative to the folder (``iverilog -g2012 -c files.f``).
- ``T.core``: a FuseSoC CAPI2 core (targets ``default``: the RTL; ``sim``: Icarus).
- ``chip.toml``: the chip the design was built from.

Each file is written atomically (complete or absent), after everything has been
generated, so a failure leaves the folder as it was.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from amaranth.back import verilog

from tritium.base.fileio import write_text_atomic
from tritium.hdl.core import TritiumCore
from tritium.hdl.elaborate import core_schedule, elaborate, gemm_limits
from tritium.hdl.rtl_sim import act_beats, weight_beats
from tritium.sim.chip import Chip, chip_to_toml, load_chip
from tritium.sim.golden import golden_vectors

__all__ = ["export", "top_name", "testbench_vectors", "CASE_FIELDS"]

CASE_FIELDS = ("m", "k", "n", "cycles", "token_block", "weight_reads", "act_reads", "result_writes")
"""The fields of one case in :func:`testbench_vectors`'s ``cases``, in order: the shape, the
expected compute cycles, the token block it runs with, and the expected weight-word reads,
activation-slice reads and result-word writes."""


def top_name(chip: Chip) -> str:
    """The Verilog top module name for ``chip``: ``tritium_`` + its name with ``-``/``.`` as ``_``."""
    return "tritium_" + re.sub(r"[^A-Za-z0-9_]", "_", chip.name)


def _hexfile(values: list[int], bits: int) -> str:
    digits = max(1, -(-bits // 4))
    mask = (1 << bits) - 1
    return "".join(f"{v & mask:0{digits}x}\n" for v in values)


def testbench_vectors(
    chip: Chip | str | os.PathLike, *, m: int, k: int, n: int, seed: int = 0, token_block: int | None = None
) -> dict[str, list[int]]:
    """The golden cases of an M x K x N GEMM on one core of ``chip`` as testbench streams.

    Returns ``{"cases": [m, k, n, cycles, token_block, weight_reads, act_reads,
    result_writes, ...] (:data:`CASE_FIELDS` per case), "weights": beats, "acts": beats,
    "expected": results}``, the cases of :func:`tritium.sim.golden.golden_vectors` one
    after the other (the ``ragged`` case has its own K), each with the schedule one
    core runs it in (:func:`tritium.hdl.elaborate.core_schedule`).

    Args:
        token_block: tokens per weight-word read (default: the TLU's ``acc_per_tree``).

    Raises:
        SpecError: the HDL cannot build the chip.
        TritiumError: a case does not fit the core's buffers, or a bad token block.
    """
    chip = load_chip(chip)
    tlu, limits = chip.tlu, gemm_limits(chip)
    block = tlu.acc_per_tree if token_block is None else token_block
    out: dict[str, list[int]] = {"cases": [], "weights": [], "acts": [], "expected": []}
    for case in golden_vectors(tlu, m=m, k=k, n=n, seed=seed):
        (cm, ck), cn = case.acts.shape, case.weights.shape[0]
        limits.check(cm, ck, cn, block)
        schedule = core_schedule(chip, cm, ck, cn, token_block=block)
        out["cases"] += [cm, ck, cn, schedule.cycles, block, schedule.weight_word_reads, schedule.act_slice_reads,
                         schedule.result_writes]
        out["weights"] += weight_beats(tlu, case.weights)
        out["acts"] += act_beats(tlu, case.acts)
        out["expected"] += [int(v) for v in case.result.outputs.ravel()]
    return out


def _testbench(core: TritiumCore, top: str, counts: dict[str, int]) -> str:
    tlu = core.tlu
    widths = {
        "m": len(core.m), "k": len(core.k), "n": len(core.n), "tb": len(core.token_block),
        "wp": len(core.weights.payload), "ap": len(core.acts.payload.as_value()), "acc": tlu.acc_bits,
    }
    return f"""// Self-checking testbench for {top} (generated by Tritium; run with iverilog -g2012).
// Reads its vectors from the current folder, or from +vectors=DIR.
module tb_{top};
  localparam integer FIELDS = {len(CASE_FIELDS)};  // {", ".join(CASE_FIELDS)}
  localparam integer NCASES = {counts["cases"] // len(CASE_FIELDS)};
  localparam integer WIDTH = {tlu.width};
  localparam integer ROWS = {tlu.rows};
  localparam integer TIMEOUT = {max(100000, 20 * sum(counts.values()))};

  reg clk = 0;
  reg rst = 1;
  always #5 clk = ~clk;

  reg start = 0;
  reg [{widths["m"] - 1}:0] m = 0;
  reg [{widths["k"] - 1}:0] k = 0;
  reg [{widths["n"] - 1}:0] n = 0;
  reg [{widths["tb"] - 1}:0] token_block = 0;
  reg [{widths["wp"] - 1}:0] weights__payload = 0;
  reg weights__valid = 0;
  wire weights__ready;
  reg [{widths["ap"] - 1}:0] acts__payload = 0;
  reg acts__valid = 0;
  wire acts__ready;
  wire [{widths["acc"] - 1}:0] results__payload;
  wire results__valid;
  reg results__ready = 0;
  wire busy, done, weight_read, act_read, result_write;
  wire [31:0] compute_cycles;

  {top} dut (
    .clk(clk), .rst(rst), .start(start), .m(m), .k(k), .n(n), .token_block(token_block),
    .weights__payload(weights__payload), .weights__valid(weights__valid), .weights__ready(weights__ready),
    .acts__payload(acts__payload), .acts__valid(acts__valid), .acts__ready(acts__ready),
    .results__payload(results__payload), .results__valid(results__valid), .results__ready(results__ready),
    .busy(busy), .done(done), .compute_cycles(compute_cycles),
    .weight_read(weight_read), .act_read(act_read), .result_write(result_write)
  );

  // cycles in which each memory strobe is high, from start to start
  integer weight_reads = 0, act_reads = 0, result_writes = 0;
  always @(posedge clk) begin
    if (start) begin
      weight_reads <= 0; act_reads <= 0; result_writes <= 0;
    end else begin
      weight_reads <= weight_reads + weight_read;
      act_reads <= act_reads + act_read;
      result_writes <= result_writes + result_write;
    end
  end

  reg [31:0] cases [0:{counts["cases"] - 1}];
  reg [{widths["wp"] - 1}:0] wvec [0:{counts["weights"] - 1}];
  reg [{widths["ap"] - 1}:0] avec [0:{counts["acts"] - 1}];
  reg [{widths["acc"] - 1}:0] evec [0:{counts["expected"] - 1}];
  string vdir;
  integer c, i, wi, ai, ei, errors, checked, cm, ck, cn, slices, cycles_seen, schedule_ok;

  initial begin
    cycles_seen = 0;
    forever begin
      @(posedge clk);
      cycles_seen = cycles_seen + 1;
      if (cycles_seen > TIMEOUT) begin
        $display("FAIL timeout after %0d cycles (case %0d)", cycles_seen, c);
        $fatal(1, "FAIL timeout");
      end
    end
  end

  initial begin
    if (!$value$plusargs("vectors=%s", vdir)) vdir = ".";
    $readmemh({{vdir, "/{top}_cases.hex"}}, cases);
    $readmemh({{vdir, "/{top}_weights.hex"}}, wvec);
    $readmemh({{vdir, "/{top}_acts.hex"}}, avec);
    $readmemh({{vdir, "/{top}_expected.hex"}}, evec);
    errors = 0; checked = 0; wi = 0; ai = 0; ei = 0;
    // inputs change on falling edges; the core samples them on rising edges
    repeat (2) @(negedge clk);
    rst = 0;
    for (c = 0; c < NCASES; c = c + 1) begin
      cm = cases[FIELDS * c]; ck = cases[FIELDS * c + 1]; cn = cases[FIELDS * c + 2];
      slices = (ck + WIDTH - 1) / WIDTH;
      @(negedge clk);
      m = cm; k = ck; n = cn; token_block = cases[FIELDS * c + 4]; start = 1;
      @(negedge clk);
      start = 0;
      for (i = 0; i < slices * cn; i = i + 1) begin
        weights__payload = wvec[wi]; weights__valid = 1; wi = wi + 1;
        #1 while (!weights__ready) begin @(negedge clk); #1; end
        @(negedge clk);
      end
      weights__valid = 0;
      for (i = 0; i < slices * cm; i = i + 1) begin
        acts__payload = avec[ai]; acts__valid = 1; ai = ai + 1;
        #1 while (!acts__ready) begin @(negedge clk); #1; end
        @(negedge clk);
      end
      acts__valid = 0;
      results__ready = 1;
      for (i = 0; i < cm * cn; i = i + 1) begin
        #1 while (!results__valid) begin @(negedge clk); #1; end
        if (results__payload !== evec[ei]) begin
          errors = errors + 1;
          $display("FAIL case %0d result %0d (token %0d, output %0d): got %h, expected %h",
                   c, i, i / cn, i % cn, results__payload, evec[ei]);
        end
        checked = checked + 1; ei = ei + 1;
        @(negedge clk);
      end
      results__ready = 0;
      schedule_ok = 1;
      if (compute_cycles !== cases[FIELDS * c + 3]) begin
        schedule_ok = 0;
        $display("FAIL case %0d (M=%0d K=%0d N=%0d): compute_cycles %0d, expected %0d",
                 c, cm, ck, cn, compute_cycles, cases[FIELDS * c + 3]);
      end
      if (weight_reads !== cases[FIELDS * c + 5] || act_reads !== cases[FIELDS * c + 6]
          || result_writes !== cases[FIELDS * c + 7]) begin
        schedule_ok = 0;
        $display("FAIL case %0d (M=%0d K=%0d N=%0d): weight/act reads, result writes %0d/%0d/%0d, expected %0d/%0d/%0d",
                 c, cm, ck, cn, weight_reads, act_reads, result_writes,
                 cases[FIELDS * c + 5], cases[FIELDS * c + 6], cases[FIELDS * c + 7]);
      end
      if (!schedule_ok) errors = errors + 1;
      checked = checked + 1;
    end
    if (errors != 0) begin
      $display("FAIL %0d of %0d vectors", errors, checked);
      $fatal(1, "FAIL");
    end
    $display("PASS %0d vectors (%0d GEMMs: results, compute cycles and memory accesses)", checked, NCASES);
    $finish;
  end
endmodule
"""


def _fusesoc_core(chip: Chip, top: str, vector_files: list[str]) -> str:
    vectors = "".join(f"      - {name}: {{file_type: user, copyto: {name}}}\n" for name in vector_files)
    vlnv_name = re.sub(r"[^A-Za-z0-9_-]", "_", chip.name)
    return f"""CAPI=2:
# FuseSoC core of one core of chip '{chip.name}' (generated by Tritium).
name: tritium:chips:{vlnv_name}:0.1.0
description: "Tritium ternary-LLM core ({chip.tlu.rows} x {chip.tlu.width} {chip.tlu.style} TLU) of chip {chip.name}"

filesets:
  rtl:
    files:
      - {top}.v
    file_type: verilogSource
  tb:
    files:
      - tb_{top}.sv
    file_type: systemVerilogSource
  vectors:
    files:
{vectors}
targets:
  default:
    filesets: [rtl]
    toplevel: {top}
  sim:
    default_tool: icarus
    filesets: [rtl, tb, vectors]
    toplevel: tb_{top}
    tools:
      icarus:
        iverilog_options: [-g2012]
"""


def export(
    chip: Chip | str | os.PathLike, out_dir: str | os.PathLike, *, m: int = 2, k: int | None = None,
    n: int | None = None, seed: int = 0, token_block: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Write one core of ``chip`` as Verilog with its testbench, vectors, file list and FuseSoC core.

    Args:
        chip: a :class:`Chip`, preset name or chip TOML path.
        out_dir: the folder to write (created if needed; files of the same names are replaced).
        m, k, n: the shape of the golden cases (defaults: K = 2 * width, N = rows + 1, so
            the last tile is partial; the ``ragged`` case adds a K that is not a multiple
            of the width).
        seed: the vectors' random seed.
        token_block: the token block the testbench runs the core with (default: the
            TLU's ``acc_per_tree``, its largest).
        progress: called with a one-line message before each long step.

    Returns:
        The paths written, in the order listed in the module docstring.

    Raises:
        SpecError: the HDL cannot build the chip (see :func:`~tritium.hdl.elaborate.elaborate`).
        TritiumError: the cases do not fit the core's buffers, or a bad token block.
    """
    chip = load_chip(chip)
    tlu = chip.tlu
    k = 2 * tlu.width if k is None else k
    n = tlu.rows + 1 if n is None else n
    top = top_name(chip)
    say = progress or (lambda message: None)
    vectors = testbench_vectors(chip, m=m, k=k, n=n, seed=seed, token_block=token_block)
    core = elaborate(chip)
    say(f"converting {top} to Verilog with yosys ({tlu.rows * tlu.width} tree inputs; a core of thousands "
        "takes minutes)")
    bits = {"cases": 32, "weights": len(core.weights.payload), "acts": tlu.width * tlu.act_bits,
            "expected": tlu.acc_bits}
    vector_files = {f"{top}_{key}.hex": _hexfile(values, bits[key]) for key, values in vectors.items()}
    files = {f"{top}.v": verilog.convert(core, name=top, emit_src=False)}
    files[f"tb_{top}.sv"] = _testbench(core, top, {key: len(v) for key, v in vectors.items()})
    files.update(vector_files)
    files["files.f"] = f"{top}.v\ntb_{top}.sv\n"
    files[f"{top}.core"] = _fusesoc_core(chip, top, list(vector_files))
    files["chip.toml"] = chip_to_toml(chip)
    out = Path(out_dir)
    say(f"writing {len(files)} files to {out}")
    return [write_text_atomic(out / name, text) for name, text in files.items()]

