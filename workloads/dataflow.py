"""Which op of a trace feeds which, and how a block's step is composed: facts of the workload.

:func:`dependencies` reads the producer of each op's input from the op order;
:data:`ROW_PARALLEL` names the ops whose outputs are partial sums when the model is split
over chips (tensor parallelism); :func:`block_plan` says how one step of a block is
simulated (all its ops, or one and two of its identical decoder layers, the rest
extrapolated). None of it depends on a chip: the simulator (:mod:`tritium.sim`) reads
them from :attr:`tritium.workloads.Trace.facts`.

>>> dependencies(["rmsnorm", "quantize", "ternary_linear", "ternary_linear", "dequantize", "residual"])
[-1, 0, 1, 1, 3, 4]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ROW_PARALLEL", "dependencies", "StepRun", "BlockPlan", "block_plan"]

ROW_PARALLEL = ("o_proj", "down_proj", "lm_head")
"""Ops whose outputs are all-reduced across chips under tensor parallelism (their reduction
dimension is the one split over the chips)."""


def dependencies(kinds: list[str]) -> list[int]:
    """Index of the op whose output each op consumes (-1: none), from the op order.

    A linear reads the input of its group (the nearest earlier op that is not a
    linear or a dequantization: the norm or quantize op feeding q/k/v or gate/up);
    a dequantization reads its linear; every other op reads the op just before it.
    """
    deps = []
    last_linear = -1
    last_input = -1
    for i, kind in enumerate(kinds):
        if kind in ("ternary_linear", "linear"):
            deps.append(last_input)
            last_linear = i
        elif kind == "dequantize":
            deps.append(last_linear)
        else:
            deps.append(i - 1)
        if kind not in ("ternary_linear", "linear", "dequantize"):
            last_input = i
    return deps


@dataclass(frozen=True, slots=True)
class StepRun:
    """One SimPy run of a block's step: the distinct-op code of each op (in trace order)
    and the op each one waits for (:func:`dependencies`)."""

    codes: tuple[int, ...]
    deps: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BlockPlan:
    """How a block's step is composed: one run of all its ops (``two`` is None), or, when
    its decoder layers are identical, runs with one and with two of them, the rest
    extrapolated: ``one + more_layers * (two - one)`` cycles. ``steps``: the block's steps."""

    block: int
    steps: int
    one: StepRun
    two: StepRun | None
    more_layers: int


def block_plan(block: int, steps: int, idx: np.ndarray, layers: np.ndarray, kinds: list[str], sigs: list[str],
               codes: np.ndarray) -> BlockPlan:
    """The :class:`BlockPlan` of the block made of rows ``idx`` (``layers``, ``kinds``,
    ``sigs`` and ``codes``: every row's layer, op kind, signature and distinct-op code).

    Decoder layers are the block's layers >= 0 but its last (the final norm and LM head);
    they are identical when there are more than two and all have the same op signatures.
    """
    blk_layers = layers[idx]
    decoder = sorted({int(x) for x in blk_layers if x >= 0} - {int(blk_layers.max())}) if len(idx) else []
    per_layer = {lay: tuple(sigs[i] for i in idx[blk_layers == lay]) for lay in decoder}
    identical = len(decoder) > 2 and len(set(per_layer.values())) == 1

    def run(selected: np.ndarray) -> StepRun:
        return StepRun(tuple(int(codes[i]) for i in selected), tuple(dependencies([kinds[i] for i in selected])))

    if not identical:
        return BlockPlan(block, steps, run(idx), None, 0)
    first, second = decoder[0], decoder[1]
    keep_one = idx[~np.isin(blk_layers, decoder) | (blk_layers == first)]
    keep_two = idx[~np.isin(blk_layers, decoder) | (blk_layers == first) | (blk_layers == second)]
    return BlockPlan(block, steps, run(keep_one), run(keep_two), len(decoder) - 1)
