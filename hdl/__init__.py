"""Amaranth HDL of the MAC-free datapath, Verilog export and FPGA flows (issue: HDL)."""
