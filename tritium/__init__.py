"""Tritium: simulator and co-design explorer for ternary-weight LLM accelerators.

The public API is re-exported here (imported on first use, so ``tritium --help``
stays fast)::

    import tritium
    chip = tritium.load_chip("edge-lpddr5")
    t = tritium.trace("bitnet-b1.58-2b-4t", tritium.Scenario(batch=1, prefill=512, decode=128))
    print(tritium.summarize(t))
"""

from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

# A source checkout's own tritium/ folder shadows an installed Tritium whenever the checkout is
# the current directory and Python puts '' first on sys.path (``python -m tritium``; the
# forkserver of Python 3.11's multiprocessing, which ignores the parent's sys.path). The other
# subpackages live beside that folder (sim/, workloads/, hdl/, analysis/: pyproject's
# package-dir), so a tritium imported from a checkout looks for them there too.
_checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_checkout, "pyproject.toml")) and os.path.isfile(
        os.path.join(_checkout, "sim", "simulate.py")):
    __path__.append(_checkout)

_EXPORTS = {
    "tritium.workloads": (
        "ModelSpec", "Scenario", "Trace", "WeightModel", "WeightStats", "TraceSummary", "load_model", "zoo_names",
        "trace", "build_trace", "trace_from_scalesim", "summarize", "save_trace", "load_trace",
    ),
    "tritium.sim": ("Chip", "load_chip", "save_chip", "chip_to_toml", "list_presets", "simulate", "SimResult", "Totals"),
    "tritium.base.errors": ("TritiumError", "SpecError", "CheckpointError", "TraceError"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = ["__version__", *_WHERE]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'tritium' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
