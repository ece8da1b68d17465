"""Generate the ordered ops of one request: prefill of S tokens, then D decode steps.

The trace knows nothing of chips. Its rows and columns are documented in
:mod:`tritium.workloads.schema`; :func:`trace` is the one entry point.

>>> t = trace("bitnet-b1.58-2b-4t", Scenario(batch=1, prefill=16, decode=4))
>>> sorted(set(t.table.phase)), int(t.table.steps.max())
(['decode', 'prefill'], 4)
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from tritium.base.errors import SpecError, TraceError, TritiumError
from tritium.workloads.models import PROJECTIONS, ModelSpec
from tritium.workloads.zoo import load_model
from tritium.workloads.scenario import Scenario
from tritium.workloads.schema import MAX_TRACE_ROWS, new_trace_frame
from tritium.workloads.sparsity import act_zero_fractions
from tritium.workloads.stats import WeightModel, WeightStats, modelled_stats
from tritium.workloads.trace_record import Trace

__all__ = ["trace", "DTYPE_BYTES"]

DTYPE_BYTES = {"int8": 1, "fp8": 1, "int32": 4, "bf16": 2, "fp16": 2, "fp32": 4}
"""Bytes per element of each precision a trace uses."""

TERNARY_BITS = 2
"""Bits per ternary weight in the trace's byte counts (the 2-bit code of HF packed
checkpoints; a chip with 5-trits-per-byte storage rescales this itself)."""


def trace(
    model: str | Path | ModelSpec,
    scenario: Scenario = Scenario(),
    *,
    stats: Mapping[tuple[int, str], WeightStats] | None = None,
    weight_model: WeightModel = WeightModel(),
    expand_decode: bool = False,
    act_sparsity: Mapping | None = None,
) -> Trace:
    """The trace of ``scenario`` on ``model`` (a zoo name, config.json path or spec): a
    :class:`~tritium.workloads.Trace` record of the table and the request it describes.

    ``stats`` maps ``(layer, projection)`` to measured :class:`WeightStats` (from
    :func:`tritium.workloads.checkpoints.read_weight_stats`); ternary weights
    without an entry take ``weight_model``'s statistics. ``expand_decode=True``
    gives each decode step its own block instead of one block of D steps.
    ``act_sparsity`` sets the ``act_zero_frac`` column of the ternary linears: a mapping of
    projection (or ``(layer, projection)``) to the fraction of zero INT8 inputs, over the
    sourced default of the model's activation function (:mod:`tritium.workloads.sparsity`;
    measured fractions come from :func:`tritium.workloads.capture.measure_act_sparsity`).

    Every count is computed with Python integers and checked before the table is built.

    Raises:
        SpecError: ``act_sparsity`` names an unknown projection or a fraction outside [0, 1).
        TritiumError: a measured matrix does not have the shape the model says it should.
        TraceError: the table would pass :data:`~tritium.workloads.schema.MAX_TRACE_ROWS`
            rows (a huge model, or ``expand_decode`` over many steps), or a count column's
            total over the request would pass :data:`~tritium.workloads.schema.COUNT_LIMIT`
            (the message names the column and the scenario).
    """
    spec = load_model(model)
    stats = dict(stats or {})
    _check_stats(spec, stats)
    s, d = scenario.prefill, scenario.decode
    where = f"trace of {spec.name} (batch {scenario.batch}, prefill {s}, decode {d})"
    blocks = 1 + (d if expand_decode else 1)
    if blocks * (spec.num_layers * _MIN_ROWS_PER_LAYER + 3) > MAX_TRACE_ROWS:
        raise TraceError(f"{where}: {blocks} blocks of {spec.num_layers} layers would pass the "
                         f"{MAX_TRACE_ROWS} rows a trace may hold"
                         + ("; trace without expand_decode (one block for all decode steps)" if expand_decode else ""))
    by_proj, by_layer, act_source = act_zero_fractions(spec, act_sparsity)
    gen = _Generator(spec, scenario, stats, weight_model)
    gen.act_zero = (by_proj, by_layer)
    gen.block(0, "prefill", tokens=s, kv_len=s, steps=1)
    if expand_decode:
        for step in range(d):
            gen.block(1 + step, "decode", tokens=1, kv_len=s + 1 + step, steps=1)
    else:
        gen.block(1, "decode", tokens=1, kv_len=s + 1, steps=d)
    sources = sorted({st.source for st in stats.values()}) or [weight_model.describe()]
    record = Trace(new_trace_frame(gen.rows, where=where), model=spec.name, scenario=scenario,
                   max_position=spec.max_position, context_exceeded=s + d > spec.max_position,
                   weight_stats="; ".join(sources) if spec.is_ternary else "",
                   act_sparsity=act_source if spec.is_ternary else "", spec=spec)
    return record


def _check_stats(spec: ModelSpec, stats: Mapping[tuple[int, str], WeightStats]) -> None:
    for (layer, proj), st in stats.items():
        if not 0 <= layer < spec.num_layers or proj not in PROJECTIONS:
            raise TritiumError(f"weight statistics for layers.{layer}.{proj}: {spec.name} has layers "
                               f"0..{spec.num_layers - 1} and projections {', '.join(PROJECTIONS)}")
        k, n = spec.projection_shape(proj)
        if (st.rows, st.cols) != (n, k):
            raise TritiumError(f"checkpoint tensor layers.{layer}.{proj} is {st.rows}x{st.cols} "
                               f"(out x in) but {spec.name} needs {n}x{k}: wrong model for this checkpoint?")


_MIN_ROWS_PER_LAYER = 17
"""Rows every decoder layer emits at least (a dense layer without quantize ops)."""


def _kv_total(kv_len: int, steps: int) -> int:
    """Sum of the KV lengths seen over ``steps`` steps starting at ``kv_len``, growing by one."""
    return steps * kv_len + steps * (steps - 1) // 2


class _Generator:
    """Appends the rows of one block after another; see :func:`trace`."""

    def __init__(self, spec: ModelSpec, scenario: Scenario, stats: dict, weight_model: WeightModel):
        self.spec, self.scenario, self.stats, self.weight_model = spec, scenario, stats, weight_model
        self.rows: list[dict] = []
        self._modelled: dict[tuple[int, int], WeightStats] = {}
        self.hp = spec.linear_dtype  # residual stream and non-ternary linears
        self.act_zero: tuple[dict, dict] = ({p: 0.0 for p in PROJECTIONS}, {})  # (by projection, by (layer, proj))

    # -- one block -----------------------------------------------------------------
    def block(self, block: int, phase: str, *, tokens: int, kv_len: int, steps: int) -> None:
        spec, b = self.spec, self.scenario.batch
        self.base = {"block": block, "phase": phase, "steps": steps}
        m = b * tokens
        h = spec.hidden_size
        hp_bytes = DTYPE_BYTES[self.hp]
        emb = DTYPE_BYTES[spec.embedding_dtype]
        self.add(-1, "embed", "embedding", m=m, n=h, elements=m * h * steps,
                 weight_bytes=m * h * emb * steps, act_out_bytes=m * h * hp_bytes * steps,
                 weight_dtype=spec.embedding_dtype, act_dtype="int32", out_dtype=self.hp,
                 weight_name="embed_tokens")
        for layer in range(spec.num_layers):
            self.decoder_layer(layer, m=m, tokens=tokens, kv_len=kv_len, steps=steps, causal=phase == "prefill")
        last = spec.num_layers
        self.vector(last, "final_norm", "rmsnorm", m, h, steps, weight_name="norm")
        # Generation needs logits of the last position of each sequence only.
        head_name = "embed_tokens" if spec.tie_embeddings else "lm_head"
        if spec.lm_head_dtype == "int8":  # W8A8 head: its input is quantized per token first
            self.add(last, "head_quant", "quantize", m=b, n=h, elements=b * h * steps,
                     act_in_bytes=b * h * hp_bytes * steps, act_out_bytes=b * h * steps,
                     act_dtype=self.hp, out_dtype="int8")
        self.dense(last, "lm_head", b, h, spec.vocab_size, steps, spec.lm_head_dtype, head_name)

    def decoder_layer(self, layer: int, *, m: int, tokens: int, kv_len: int, steps: int, causal: bool) -> None:
        spec = self.spec
        h, i = spec.hidden_size, spec.intermediate_size
        self.vector(layer, "attn_norm", "rmsnorm", m, h, steps, weight_name=f"layers.{layer}.attn_norm")
        self.projections(layer, ("q_proj", "k_proj", "v_proj"), "attn_quant", m, steps)
        self.attention(layer, m=m, tokens=tokens, kv_len=kv_len, steps=steps, causal=causal)
        if spec.sub_norms:
            self.vector(layer, "attn_sub_norm", "rmsnorm", m, spec.q_dim, steps,
                        weight_name=f"layers.{layer}.attn_sub_norm")
        self.projections(layer, ("o_proj",), "o_quant", m, steps)
        self.vector(layer, "attn_residual", "residual", m, h, steps)
        self.vector(layer, "ffn_norm", "rmsnorm", m, h, steps, weight_name=f"layers.{layer}.ffn_norm")
        self.projections(layer, ("gate_proj", "up_proj"), "ffn_quant", m, steps)
        self.vector(layer, "act", "activation", m, i, steps)
        if spec.sub_norms:
            self.vector(layer, "ffn_sub_norm", "rmsnorm", m, i, steps, weight_name=f"layers.{layer}.ffn_sub_norm")
        self.projections(layer, ("down_proj",), "down_quant", m, steps)
        self.vector(layer, "ffn_residual", "residual", m, h, steps)

    def attention(self, layer: int, *, m: int, tokens: int, kv_len: int, steps: int, causal: bool) -> None:
        spec, b = self.spec, self.scenario.batch
        kv_bytes = DTYPE_BYTES[spec.kv_dtype]
        hd, heads = spec.head_dim, spec.num_heads
        self.vector(layer, "rope", "rope", m, spec.q_dim + spec.kv_dim, steps)
        self.add(layer, "kv_write", "kv_write", m=m, n=2 * spec.kv_dim, elements=m * 2 * spec.kv_dim * steps,
                 act_in_bytes=m * 2 * spec.kv_dim * kv_bytes * steps,
                 kv_write_bytes=m * 2 * spec.kv_dim * kv_bytes * steps,
                 act_dtype=spec.kv_dtype, out_dtype=spec.kv_dtype)
        # (query, key) pairs per sequence and head, over all steps of the row
        pairs = tokens * (tokens + 1) // 2 if causal else tokens * _kv_total(kv_len, steps)
        kv_tokens = kv_len if causal else _kv_total(kv_len, steps)  # cache rows read per sequence
        common = dict(groups=b * heads, causal=causal, kv_len=kv_len, act_dtype=spec.kv_dtype,
                      out_dtype=spec.kv_dtype, macs=b * heads * hd * pairs,
                      kv_read_bytes=b * spec.kv_dim * kv_tokens * kv_bytes)
        self.add(layer, "attn_qk", "attn_qk", m=tokens, k=hd, n=kv_len,
                 act_in_bytes=m * spec.q_dim * kv_bytes * steps,
                 act_out_bytes=b * heads * pairs * kv_bytes, **common)
        self.add(layer, "softmax", "softmax", m=tokens, n=kv_len, groups=b * heads, causal=causal, kv_len=kv_len,
                 elements=b * heads * pairs, act_in_bytes=b * heads * pairs * kv_bytes,
                 act_out_bytes=b * heads * pairs * kv_bytes, act_dtype=spec.kv_dtype, out_dtype=spec.kv_dtype)
        self.add(layer, "attn_pv", "attn_pv", m=tokens, k=kv_len, n=hd,
                 act_in_bytes=b * heads * pairs * kv_bytes,
                 act_out_bytes=m * spec.q_dim * DTYPE_BYTES[self.hp] * steps, **common)

    # -- row builders --------------------------------------------------------------
    def projections(self, layer: int, projs: tuple[str, ...], quant_op: str, m: int, steps: int) -> None:
        """A group of linears sharing one input (q/k/v, gate/up), with its quantize op."""
        spec = self.spec
        ternary = [p for p in projs if p in spec.ternary_linears]
        k = spec.projection_shape(projs[0])[0]
        if ternary and spec.act_dtype == "int8":
            self.add(layer, quant_op, "quantize", m=m, n=k, elements=m * k * steps,
                     act_in_bytes=m * k * DTYPE_BYTES[self.hp] * steps, act_out_bytes=m * k * steps,
                     act_dtype=self.hp, out_dtype="int8")
        for proj in projs:
            if proj in ternary:
                self.ternary(layer, proj, m, steps)
            else:
                _, n = spec.projection_shape(proj)
                self.dense(layer, proj, m, k, n, steps, spec.linear_dtype, f"layers.{layer}.{proj}")

    def ternary(self, layer: int, proj: str, m: int, steps: int) -> None:
        spec = self.spec
        k, n = spec.projection_shape(proj)
        act = spec.act_dtype
        acc = "int32" if act == "int8" else self.hp
        st = self.stats.get((layer, proj)) or self._model_stats(n, k)
        self.add(layer, proj, "ternary_linear", m=m, k=k, n=n, macs=m * k * n * steps,
                 weight_bytes=k * n * TERNARY_BITS // 8 * steps,
                 act_in_bytes=m * k * DTYPE_BYTES[act] * steps, act_out_bytes=m * n * DTYPE_BYTES[acc] * steps,
                 weight_dtype="ternary", act_dtype=act, out_dtype=acc, weight_name=f"layers.{layer}.{proj}",
                 zero_frac=st.zero_frac, pos_frac=st.pos_frac, neg_frac=st.neg_frac, nnz_lo=st.nnz_lo,
                 nnz_hi=st.nnz_hi, nnz_hist=st.hist_string(), stats_source=st.source,
                 act_zero_frac=self.act_zero[1].get((layer, proj), self.act_zero[0][proj]))
        self.add(layer, f"{proj}_dequant", "dequantize", m=m, n=n, elements=m * n * steps,
                 act_in_bytes=m * n * DTYPE_BYTES[acc] * steps, act_out_bytes=m * n * DTYPE_BYTES[self.hp] * steps,
                 act_dtype=acc, out_dtype=self.hp)

    def dense(self, layer: int, op: str, m: int, k: int, n: int, steps: int, dtype: str, weight_name: str) -> None:
        size = DTYPE_BYTES[dtype]
        self.add(layer, op, "linear", m=m, k=k, n=n, macs=m * k * n * steps, weight_bytes=k * n * size * steps,
                 act_in_bytes=m * k * size * steps, act_out_bytes=m * n * size * steps,
                 weight_dtype=dtype, act_dtype=dtype, out_dtype=dtype, weight_name=weight_name)

    def vector(self, layer: int, op: str, kind: str, m: int, n: int, steps: int, weight_name: str = "") -> None:
        """An element-wise or row-wise op on an m x n activation (norm gains are its weights)."""
        size = DTYPE_BYTES[self.hp]
        reads = 2 if kind in ("residual", "activation") else 1  # two operands
        self.add(layer, op, kind, m=m, n=n, elements=m * n * steps,
                 weight_bytes=n * size * steps if weight_name else 0,
                 act_in_bytes=reads * m * n * size * steps, act_out_bytes=m * n * size * steps,
                 weight_dtype=self.hp if weight_name else "", act_dtype=self.hp, out_dtype=self.hp,
                 weight_name=weight_name)

    def add(self, layer: int, op: str, kind: str, **cols: object) -> None:
        if len(self.rows) >= MAX_TRACE_ROWS:  # a backstop; trace() refuses such models up front
            raise TraceError(f"trace of {self.spec.name}: more than {MAX_TRACE_ROWS} rows")
        row = dict(self.base)
        row.update(layer=layer, op=op, kind=kind, groups=1)
        row.update(cols)
        self.rows.append(row)

    def _model_stats(self, n: int, k: int) -> WeightStats:
        key = (n, k)
        if key not in self._modelled:
            self._modelled[key] = modelled_stats(n, k, self.weight_model)
        return self._modelled[key]
