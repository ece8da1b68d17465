"""The trace of one serving iteration: decode tokens and prefill chunks at mixed context lengths.

A continuous-batching engine runs, in one forward pass, one decode token for each running
sequence and a chunk of prompt tokens for each sequence being prefilled. The linears, norms and
element-wise ops see all ``M`` tokens of the iteration as one matrix; attention is per sequence,
each at its own context length; the LM head runs on the sequences that sample a token.
:func:`iteration_trace` writes such a pass as one block of a Tritium trace (the schema of
:mod:`tritium.workloads.schema`), with the same rows and counts the trace generator writes for a
request, so the chip simulator and the GPU model cost it unchanged.

Attention rows:

* the decode sequences form one group (one kernel, as vLLM's paged attention runs them): ``groups
  = decodes x heads``, ``kv_len`` their mean context, and counts (MACs, KV bytes read) from the
  exact sum of their contexts;
* a prefill chunk of ``c`` tokens after ``p`` cached ones is causal over itself and reads the
  ``p`` cached tokens in full: ``c p + c (c + 1) / 2`` (query, key) pairs per head. With ``p = 0``
  this is the trace generator's prefill attention row for row.
"""

from __future__ import annotations

from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.workloads.models import ModelSpec
from tritium.workloads.schema import new_trace_frame
from tritium.workloads.scenario import Scenario
from tritium.workloads.stats import WeightModel
from tritium.workloads.trace import DTYPE_BYTES, _Generator
from tritium.workloads.trace_record import Trace

__all__ = ["IterationShape", "AttentionGroup", "iteration_trace", "attention_trace", "head_trace"]


@dataclass(frozen=True, slots=True)
class IterationShape:
    """The work of one iteration.

    Attributes:
        decodes: running sequences that generate one token each.
        decode_context: the sum of those sequences' context lengths, in tokens, the new token
            included (each reads that many cached keys and values).
        chunks: ``(tokens, prefix)`` per prefill chunk: prompt tokens run now after ``prefix``
            tokens already cached.
        logits: sequences that sample a token (the decodes and the chunks that end a prompt).
    """

    decodes: int
    decode_context: int
    chunks: tuple[tuple[int, int], ...]
    logits: int

    def __post_init__(self) -> None:
        if self.decodes < 0 or self.decode_context < self.decodes or (self.decodes == 0 and self.decode_context):
            raise SpecError("decode_context", self.decode_context,
                            f"must be at least decodes ({self.decodes}) and 0 without decodes")
        for tokens, prefix in self.chunks:
            if tokens < 1 or prefix < 0:
                raise SpecError("chunks", (tokens, prefix), "each chunk needs tokens >= 1 and prefix >= 0")
        if not 0 <= self.logits <= self.decodes + len(self.chunks):
            raise SpecError("logits", self.logits,
                            f"must be from 0 to decodes + chunks ({self.decodes + len(self.chunks)})")
        if self.tokens < 1:
            raise SpecError("tokens", self.tokens, "an iteration needs at least one token")

    @property
    def tokens(self) -> int:
        """Tokens through the linears: one per decode plus every chunk's."""
        return self.decodes + sum(t for t, _ in self.chunks)

    @property
    def phase(self) -> str:
        """``decode`` for a pass of decode tokens only (CUDA graphs on a GPU), else ``prefill``."""
        return "prefill" if self.chunks else "decode"


@dataclass(frozen=True, slots=True)
class AttentionGroup:
    """One attention kernel: ``seqs`` sequences of ``tokens`` queries each, over ``kv_len`` keys on
    average, ``pairs`` (query, key) pairs per head and ``kv_tokens`` cached tokens read, both summed
    over the sequences."""

    tokens: int
    seqs: int
    kv_len: int
    pairs: int
    kv_tokens: int
    causal: bool

    @staticmethod
    def decode(decodes: int, context: int) -> "AttentionGroup":
        return AttentionGroup(1, decodes, max(1, round(context / decodes)), context, context, False)

    @staticmethod
    def chunk(tokens: int, prefix: int) -> "AttentionGroup":
        pairs = tokens * prefix + tokens * (tokens + 1) // 2
        return AttentionGroup(tokens, 1, prefix + tokens, pairs, prefix + tokens, prefix == 0)


class _IterationGenerator(_Generator):
    """The trace generator with an iteration's attention groups and LM head."""

    def __init__(self, spec: ModelSpec, groups: list[AttentionGroup], weight_model: WeightModel):
        super().__init__(spec, Scenario(1, 1, 1), {}, weight_model)
        self.groups = groups

    def iteration(self, block: int, phase: str, tokens: int, logits: int) -> None:
        spec = self.spec
        self.base = {"block": block, "phase": phase, "steps": 1}
        h, hp_bytes = spec.hidden_size, DTYPE_BYTES[self.hp]
        emb = DTYPE_BYTES[spec.embedding_dtype]
        self.add(-1, "embed", "embedding", m=tokens, n=h, elements=tokens * h, weight_bytes=tokens * h * emb,
                 act_out_bytes=tokens * h * hp_bytes, weight_dtype=spec.embedding_dtype, act_dtype="int32",
                 out_dtype=self.hp, weight_name="embed_tokens")
        for layer in range(spec.num_layers):
            self.decoder_layer(layer, m=tokens, tokens=tokens, kv_len=0, steps=1, causal=phase == "prefill")
        self.vector(spec.num_layers, "final_norm", "rmsnorm", tokens, h, 1, weight_name="norm")
        if logits:
            self.head(logits)

    def head(self, logits: int) -> None:
        """The LM head on ``logits`` sequences (its input quantized first for a W8A8 head)."""
        spec, last, h = self.spec, self.spec.num_layers, self.spec.hidden_size
        hp_bytes = DTYPE_BYTES[self.hp]
        head_name = "embed_tokens" if spec.tie_embeddings else "lm_head"
        if spec.lm_head_dtype == "int8":
            self.add(last, "head_quant", "quantize", m=logits, n=h, elements=logits * h,
                     act_in_bytes=logits * h * hp_bytes, act_out_bytes=logits * h, act_dtype=self.hp,
                     out_dtype="int8")
        self.dense(last, "lm_head", logits, h, spec.vocab_size, 1, spec.lm_head_dtype, head_name)

    def attention(self, layer: int, *, m: int, tokens: int, kv_len: int, steps: int, causal: bool) -> None:
        spec = self.spec
        kvb = DTYPE_BYTES[spec.kv_dtype]
        self.vector(layer, "rope", "rope", m, spec.q_dim + spec.kv_dim, 1)
        self.add(layer, "kv_write", "kv_write", m=m, n=2 * spec.kv_dim, elements=m * 2 * spec.kv_dim,
                 act_in_bytes=m * 2 * spec.kv_dim * kvb, kv_write_bytes=m * 2 * spec.kv_dim * kvb,
                 act_dtype=spec.kv_dtype, out_dtype=spec.kv_dtype)
        for g in self.groups:
            self.attention_group(layer, g)

    def attention_group(self, layer: int, g: AttentionGroup) -> None:
        spec = self.spec
        kvb = DTYPE_BYTES[spec.kv_dtype]
        hd, heads = spec.head_dim, spec.num_heads
        m = g.seqs * g.tokens
        common = dict(groups=g.seqs * heads, causal=g.causal, kv_len=g.kv_len, act_dtype=spec.kv_dtype,
                      out_dtype=spec.kv_dtype, macs=heads * hd * g.pairs, kv_read_bytes=spec.kv_dim * g.kv_tokens * kvb)
        self.add(layer, "attn_qk", "attn_qk", m=g.tokens, k=hd, n=g.kv_len, act_in_bytes=m * spec.q_dim * kvb,
                 act_out_bytes=heads * g.pairs * kvb, **common)
        self.add(layer, "softmax", "softmax", m=g.tokens, n=g.kv_len, groups=g.seqs * heads, causal=g.causal,
                 kv_len=g.kv_len, elements=heads * g.pairs, act_in_bytes=heads * g.pairs * kvb,
                 act_out_bytes=heads * g.pairs * kvb, act_dtype=spec.kv_dtype, out_dtype=spec.kv_dtype)
        self.add(layer, "attn_pv", "attn_pv", m=g.tokens, k=g.kv_len, n=hd, act_in_bytes=heads * g.pairs * kvb,
                 act_out_bytes=m * spec.q_dim * DTYPE_BYTES[self.hp], **common)


def _groups(shape: IterationShape) -> list[AttentionGroup]:
    out = [AttentionGroup.decode(shape.decodes, shape.decode_context)] if shape.decodes else []
    return out + [AttentionGroup.chunk(t, p) for t, p in shape.chunks]


def _pass(spec: ModelSpec, rows: list[dict], where: str) -> Trace:
    """The record of a serving pass's rows: not one request (no scenario)."""
    return Trace(new_trace_frame(rows, where=f"{where} of {spec.name}"), model=spec.name,
                 max_position=spec.max_position, spec=spec)


def iteration_trace(spec: ModelSpec, shapes: list[IterationShape], *, phases: list[str] | None = None,
                    layers: list[int] | None = None, weight_model: WeightModel = WeightModel()) -> Trace:
    """A trace of one block per shape (block ``i`` for ``shapes[i]``, one step each).

    ``phases`` overrides each block's phase (default: :attr:`IterationShape.phase`); ``layers``
    each block's count of decoder layers (default: the model's)."""
    import dataclasses

    phases = phases or [s.phase for s in shapes]
    layers = layers or [spec.num_layers] * len(shapes)
    specs = {n: spec if n == spec.num_layers else dataclasses.replace(spec, num_layers=n) for n in set(layers)}
    rows: list[dict] = []
    for i, (shape, phase, n) in enumerate(zip(shapes, phases, layers)):
        gen = _IterationGenerator(specs[n], _groups(shape), weight_model)
        gen.rows = rows
        gen.iteration(i, phase, shape.tokens, shape.logits)
    return _pass(spec, rows, "iteration trace")


def attention_trace(spec: ModelSpec, groups: list[AttentionGroup], phase: str,
                    weight_model: WeightModel = WeightModel()) -> Trace:
    """One layer's attention rows of each group in ``groups``, one block: per-op costs only
    (the ops of different groups do not interact in either cost model)."""
    gen = _IterationGenerator(spec, [], weight_model)
    gen.base = {"block": 0, "phase": phase, "steps": 1}
    for g in groups:
        gen.attention_group(0, g)
    return _pass(spec, gen.rows, "attention probe")


def head_trace(spec: ModelSpec, logits: list[int], phase: str,
               weight_model: WeightModel = WeightModel()) -> Trace:
    """The final norm (on one token) and the LM head of each count in ``logits``, one block: per-op
    costs of the head only (the norm keeps a quantize op after it fused, as in a pass)."""
    gen = _IterationGenerator(spec, [], weight_model)
    gen.base = {"block": 0, "phase": phase, "steps": 1}
    for n in logits:
        gen.vector(spec.num_layers, "final_norm", "rmsnorm", 1, spec.hidden_size, 1, weight_name="norm")
        gen.head(n)
    return _pass(spec, gen.rows, "LM head probe")
