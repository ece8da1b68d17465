"""Helpers shared by the CLI's command modules: scenario options, JSON output, progress bars."""

from __future__ import annotations

import argparse
import sys

from tritium.fileio import json_text

__all__ = ["scenario_args", "precision_args", "mapping_args", "print_json", "ProgressBar"]

# The choices of workloads.models.LM_HEAD_DTYPES / KV_DTYPES and sim.mapping.OBJECTIVES, spelled
# here so --help does not import the simulator (tests/cli/test_cli.py checks they agree).
LM_HEAD_DTYPES = ("bf16", "fp16", "fp32", "int8")
KV_DTYPES = ("bf16", "fp16", "fp32", "fp8", "int8")
OBJECTIVES = ("latency", "energy", "edp")


def scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefill", type=int, default=512, help="prompt tokens (default: %(default)s)")
    p.add_argument("--decode", type=int, default=128, help="generated tokens (default: %(default)s)")
    p.add_argument("--batch", type=int, default=1, help="sequences in the batch (default: %(default)s)")


def precision_args(p: argparse.ArgumentParser) -> None:
    """``--lm-head-dtype`` and ``--kv-dtype``: the model's LM head and KV-cache precisions."""
    p.add_argument("--lm-head-dtype", choices=LM_HEAD_DTYPES,
                   help="precision of the LM head (int8: W8A8, its input quantized per token; default: the model's)")
    p.add_argument("--kv-dtype", choices=KV_DTYPES,
                   help="precision of the KV cache and the attention products that read it (default: the model's)")


def mapping_args(p: argparse.ArgumentParser) -> None:
    """``--mapping-objective``: what the chip's mapper minimizes for each op."""
    p.add_argument("--mapping-objective", choices=OBJECTIVES, default="latency",
                   help="what each op's mapping (loop nest and tiles) minimizes on the chip: latency (then energy), "
                        "energy (then latency) or their product (default: %(default)s)")


def print_json(obj: object) -> None:
    print(json_text(obj))


class ProgressBar:
    """A tqdm bar on stderr (silent when stderr is not a terminal); yields a callback."""

    def __init__(self, desc: str, unit: str = "B"):
        self.desc, self.unit, self.bar = desc, unit, None

    def __enter__(self):
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, unit_scale=self.unit == "B",
                            disable=None, file=sys.stderr)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
