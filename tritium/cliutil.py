"""Helpers shared by the CLI's command modules: scenario options, JSON output, progress bars."""

from __future__ import annotations

import argparse
import sys

from tritium.fileio import json_text

__all__ = ["scenario_args", "print_json", "ProgressBar"]


def scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prefill", type=int, default=512, help="prompt tokens (default: %(default)s)")
    p.add_argument("--decode", type=int, default=128, help="generated tokens (default: %(default)s)")
    p.add_argument("--batch", type=int, default=1, help="sequences in the batch (default: %(default)s)")


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
