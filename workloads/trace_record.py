"""The trace record: one trace table with the request it describes, and what follows from it.

:class:`Trace` is what :func:`tritium.workloads.trace` and :func:`~tritium.workloads.build_trace`
return and what the simulator, the GPU model and the analyses take. Its fields are typed
(model name, :class:`~tritium.workloads.Scenario`, the model's context, where the
statistics came from, the :class:`~tritium.workloads.ModelSpec` when known); its derived
facts (:attr:`Trace.facts`) are worked out on first use and kept on the record, so a
sweep that passes one record to thousands of simulations works them out once.

A table's metadata travels in ``DataFrame.attrs`` only in files: :meth:`Trace.from_table`
is the one place they are read (:func:`~tritium.workloads.load_trace`, and any table a
user passes to a simulation), :meth:`Trace.to_table` the one place they are written
(:func:`~tritium.workloads.save_trace`).

>>> from tritium.workloads import Scenario, trace
>>> t = trace("trilm-99m", Scenario(batch=2, prefill=8, decode=3))
>>> (t.model, t.scenario.batch, t.decode, len(t.table) == len(t.to_table()))
('trilm-99m', 2, 3, True)
>>> t.facts is t.facts  # worked out once
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from tritium.base.errors import SpecError, TraceError
from tritium.workloads.models import ModelSpec
from tritium.workloads.scenario import Scenario
from tritium.workloads.schema import SCHEMA_VERSION, validate_trace
from tritium.workloads.trace_facts import TraceFacts, trace_facts

__all__ = ["Trace"]

_REQUEST_KEYS = ("batch", "prefill", "decode")


@dataclass(frozen=True, eq=False)
class Trace:
    """A trace table and the request it describes (frozen; its facts are cached on it).

    Build one with :func:`tritium.workloads.trace`, :func:`~tritium.workloads.build_trace`,
    :func:`~tritium.workloads.load_trace` or :meth:`from_table`; the constructor takes a table
    already in canonical form (what :func:`~tritium.workloads.schema.new_trace_frame` makes).
    Records compare by identity (a table has no single truth value).

    Attributes:
        table: the validated trace table (:mod:`tritium.workloads.schema`), without ``attrs``.
            Read it, do not edit it: derive a new record (``dataclasses.replace``) from an
            edited copy, so :attr:`facts` always describe the table beside them.
        model: the traced model's name ("" when unknown).
        scenario: the request traced; None when the table is not one request of prompt and
            generated tokens (a SCALE-Sim topology, a serving pass).
        max_position: the model's trained context, tokens (None when unknown).
        context_exceeded: prefill + decode is longer than ``max_position``.
        weight_stats: where the ternary weights' statistics came from ("" without ternary weights).
        act_sparsity: where the fractions of zero INT8 activations came from ("" likewise).
        spec: the model traced, when known (None for a table read from a file or given by a user).

    Raises:
        TraceError: ``table`` is not a trace table in canonical form, or holds ``attrs``
            (:meth:`from_table` reads those).
    """

    table: pd.DataFrame
    model: str = ""
    scenario: Scenario | None = None
    max_position: int | None = None
    context_exceeded: bool = False
    weight_stats: str = ""
    act_sparsity: str = ""
    spec: ModelSpec | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.table, pd.DataFrame):
            raise TraceError(f"trace of {self.model or 'a model'}: the table is a {type(self.table).__name__}, "
                             "not a pandas DataFrame")
        if self.table.attrs:
            raise TraceError(f"trace of {self.model or 'a model'}: the table carries attrs "
                             f"({', '.join(map(str, self.table.attrs))}); read them with Trace.from_table")
        if validate_trace(self.table, where=f"trace of {self.model or 'a model'}") is not self.table:
            raise TraceError(f"trace of {self.model or 'a model'}: the table's dtypes are not canonical; "
                             "build the record with Trace.from_table")
        if self.scenario is not None and not isinstance(self.scenario, Scenario):
            raise TraceError(f"trace of {self.model or 'a model'}: scenario must be a Scenario or None, "
                             f"not {type(self.scenario).__name__}")

    @classmethod
    def from_table(cls, table: pd.DataFrame, *, spec: ModelSpec | None = None, where: str = "trace") -> Trace:
        """The record of ``table``, a trace table whose ``attrs`` hold its metadata (as
        :func:`tritium.workloads.trace` wrote them before traces were records, and as trace
        files keep them): the one place those ``attrs`` are read. The record holds its own
        (shallow, copy-on-write) copy, so later edits of ``table`` do not reach it.

        Missing metadata take neutral values (no model name, no scenario); a table whose
        ``prefill`` and ``decode`` are both 0 is one pass, not a request (scenario None).

        Raises:
            TraceError: the table is malformed (:func:`~tritium.workloads.validate_trace`; the
                message starts with ``where``), or its batch, prefill or decode is not a
                scenario (names the field and what is allowed).
        """
        attrs = dict(table.attrs)
        checked = validate_trace(table, where=where)
        own = checked.copy(deep=False)  # copy-on-write: the caller's later edits stay theirs
        own.attrs = {}
        limit = attrs.get("max_position")
        return cls(
            table=own,
            model=str(attrs.get("model") or ""),
            scenario=_scenario(attrs, where),
            max_position=int(limit) if limit not in (None, "") else None,
            context_exceeded=bool(attrs.get("context_exceeded", False)),
            weight_stats=str(attrs.get("weight_stats") or ""),
            act_sparsity=str(attrs.get("act_sparsity") or ""),
            spec=spec,
        )

    @classmethod
    def of(cls, trace: Trace | pd.DataFrame) -> Trace:
        """``trace`` itself, or the record of a table (:meth:`from_table`): what a public function
        that takes either calls once, at its boundary."""
        return trace if isinstance(trace, Trace) else cls.from_table(trace)

    def to_table(self) -> pd.DataFrame:
        """The table with its metadata in ``attrs`` (a shallow copy), as trace files keep them:
        ``model``, ``batch``, ``prefill``, ``decode`` (1, 0, 0 without a scenario),
        ``weight_stats``, ``act_sparsity``, ``context_exceeded``, ``max_position`` (when known)
        and ``schema``. :meth:`from_table` reads it back to an equal record."""
        out = self.table.copy(deep=False)
        out.attrs = {"model": self.model, "batch": self.batch, "prefill": self.prefill, "decode": self.decode,
                     "weight_stats": self.weight_stats, "act_sparsity": self.act_sparsity,
                     "context_exceeded": self.context_exceeded}
        if self.max_position is not None:
            out.attrs["max_position"] = self.max_position
        out.attrs["schema"] = SCHEMA_VERSION
        return out

    @property
    def batch(self) -> int:
        """Sequences of the request (1 without a scenario)."""
        return self.scenario.batch if self.scenario is not None else 1

    @property
    def prefill(self) -> int:
        """Prompt tokens per sequence (0 without a scenario)."""
        return self.scenario.prefill if self.scenario is not None else 0

    @property
    def decode(self) -> int:
        """Decode steps, one generated token per sequence each (0 without a scenario)."""
        return self.scenario.decode if self.scenario is not None else 0

    @property
    def generated_tokens(self) -> int:
        """Tokens the request generates: batch x decode."""
        return self.batch * self.decode

    def scenario_dict(self) -> dict:
        """``batch``, ``prefill`` and ``decode`` as a plain dict (what results record)."""
        return {"batch": self.batch, "prefill": self.prefill, "decode": self.decode}

    @cached_property
    def facts(self) -> TraceFacts:
        """What a simulation needs from the trace alone (:class:`~tritium.workloads.trace_facts.TraceFacts`),
        worked out on first use and kept."""
        return trace_facts(self.table)

    def __repr__(self) -> str:
        s = self.scenario
        what = f"batch {s.batch}, prefill {s.prefill}, decode {s.decode}" if s is not None else "one pass"
        return f"<Trace of {self.model or 'a model'} ({what}): {len(self.table)} rows>"


def _scenario(attrs: dict, where: str) -> Scenario | None:
    """The scenario in a table's ``attrs``: None when they hold none, or prefill and decode are 0."""
    values = {key: attrs.get(key) for key in _REQUEST_KEYS}
    if all(values[key] in (None, 0) for key in ("prefill", "decode")):
        return None
    if values["batch"] is None:
        values["batch"] = 1
    try:
        return Scenario(**{key: int(value) for key, value in values.items()})
    except (TypeError, ValueError):
        raise TraceError(f"{where}: metadata batch, prefill and decode must be integers, not "
                         f"{', '.join(repr(values[k]) for k in _REQUEST_KEYS)}") from None
    except SpecError as err:
        raise TraceError(f"{where}: metadata {err}") from None
