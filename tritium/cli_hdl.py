"""``tritium hdl``: export, synthesize and build the generated datapath (issue: HDL).

Thin layers over public functions; :func:`register` adds the subcommands to the
``tritium`` parser (:func:`tritium.cli.build_parser`).
"""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to ``sub``."""
