"""Model descriptions: :class:`ModelSpec`, the architecture of one model, and its vocabularies.

A :class:`ModelSpec` is the architecture of a decoder-only transformer in the
Llama family (Llama-2/3, Falcon3, TriLM, 1bitLLM BitNet) or BitNet b1.58 2B4T
(which adds two sub-norms per layer and a ReLU^2 GLU). It says which linear
projections are ternary and which stay high precision: embeddings and LM heads
are never ternary in any supported model. Specs come from the built-in zoo
(:mod:`tritium.workloads.zoo`, which also resolves any model name or path) or from a
Hugging Face ``config.json`` (:mod:`tritium.workloads.model_config`).

>>> from tritium.workloads.zoo import zoo_model
>>> spec = zoo_model("bitnet-b1.58-2b-4t")
>>> spec.num_layers, spec.is_ternary, round(spec.params / 1e9, 2)
(30, True, 2.41)
"""

from __future__ import annotations

import dataclasses
import math
import re
import reprlib
from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.base.specio import check_choice

__all__ = [
    "PROJECTIONS",
    "ModelSpec",
    "MODEL_LIMITS",
    "FLOAT_LIMITS",
    "MAX_PARAMS",
]

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The seven linear projections of every decoder layer, in execution order."""

ACTIVATIONS = ("silu", "relu2")
FLOAT_DTYPES = ("bf16", "fp16", "fp32")
ACT_DTYPES = ("int8", "bf16", "fp16", "fp32")
LM_HEAD_DTYPES = ("bf16", "fp16", "fp32", "int8")
"""Precisions of the LM head: the model's own, or INT8 weights and activations (W8A8)."""
KV_DTYPES = ("bf16", "fp16", "fp32", "fp8", "int8")
"""Precisions of the KV cache (and of the attention products that read it)."""
CHECKPOINT_FORMATS = (
    "packed_u8_autobitlinear",  # U8 2-bit codes + weight_scale = mean|W| (BitNet 2B4T)
    "packed_u8_bitlinear",  # U8 2-bit codes + weight_scale = 1/mean|W| (Falcon3, HF1BitLLM)
    "fp16_latent",  # FP16 latent weights, ternarized online with absmean (1bitLLM)
    "bf16_latent",  # BF16 latent weights, ternarized online (2B4T -bf16 repo)
    "fp16_ternary",  # FP16 values already equal to +-scale or 0 (TriLM)
    "fp16",
    "bf16",
)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

MODEL_LIMITS: dict[str, tuple[int, int, str]] = {
    "hidden_size": (1, 1 << 17, "the widest published decoders are 16,384 to 25,600 wide"),
    "intermediate_size": (1, 1 << 20, "the widest published FFNs are under 110,000"),
    "num_layers": (1, 1024, "the deepest published decoders have 126 to 160 layers"),
    "num_heads": (1, 4096, "published decoders have at most 128 query heads"),
    "num_kv_heads": (1, 4096, "published decoders have at most 128 key/value heads"),
    "head_dim": (1, 4096, "published heads are 64 to 256 wide"),
    "vocab_size": (1, 1 << 22, "the largest published vocabularies hold about 262,000 tokens"),
    "max_position": (1, 1 << 27, "the longest published contexts are about 10 million tokens"),
}
"""``{field: (lo, hi, why)}``: the physical range of each size of a :class:`ModelSpec`."""

FLOAT_LIMITS: dict[str, tuple[float, float, str]] = {
    "rope_theta": (0.0, 1e12, "published RoPE bases are 1e4 to 1e8"),
    "norm_eps": (0.0, 1.0, "published epsilons are 1e-6 to 1e-5"),
}
"""``{field: (lo, hi, why)}``: the physical range ``lo < value <= hi`` of each real number of a
:class:`ModelSpec`."""

MAX_PARAMS = 10**14
"""Most weights a model may hold (the largest published models hold about 2e12)."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Architecture of one model.

    Attributes:
        name: short lowercase name (zoo key or derived from a config path).
        hf_id: Hugging Face repository id ("" when unknown).
        arch: "llama" (Llama-shaped) or "bitnet" (BitNet b1.58 2B4T layout).
        hidden_size: model width H.
        intermediate_size: FFN width I (GLU: gate and up are H x I).
        num_layers: decoder layers L.
        num_heads: query heads; num_kv_heads: key/value heads (GQA when fewer).
        head_dim: width of one head (not always H / num_heads: bitnet 3B has 100).
        vocab_size: vocabulary size (embedding rows, LM head outputs).
        max_position: longest context the model was trained for, in tokens.
        activation: "silu" (SwiGLU) or "relu2" (ReLU^2 GLU).
        rope_theta: RoPE base; norm_eps: RMSNorm epsilon.
        tie_embeddings: the LM head shares the embedding table.
        sub_norms: BitNet 2B4T's extra RMSNorms before o_proj and down_proj.
        ternary_linears: which of :data:`PROJECTIONS` hold ternary weights.
        act_dtype: input precision of the ternary linears ("int8" = BitNet's
            per-token absmax quantization; TriLM keeps "fp16").
        linear_dtype: precision of the non-ternary linears.
        embedding_dtype, lm_head_dtype, kv_dtype: precisions of those tensors.
        checkpoint_format: how the published checkpoint stores the weights.
        source: where the figures come from.
        notes: anything else worth knowing.
    """

    name: str
    hf_id: str
    arch: str
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    max_position: int
    activation: str
    rope_theta: float
    tie_embeddings: bool
    norm_eps: float
    sub_norms: bool
    ternary_linears: tuple[str, ...]
    act_dtype: str
    linear_dtype: str
    embedding_dtype: str
    lm_head_dtype: str
    kv_dtype: str
    checkpoint_format: str
    source: str
    notes: str = ""

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise SpecError("name", self.name, "must be lowercase letters, digits, '.', '_' or '-'")
        check_choice("arch", self.arch, ("llama", "bitnet"))
        for key, (lo, hi, why) in MODEL_LIMITS.items():
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise SpecError(key, Abbreviated(value), f"must be an integer from {lo} to {hi} ({why})")
        if self.num_heads % self.num_kv_heads:
            raise SpecError("num_kv_heads", self.num_kv_heads,
                            f"must divide num_heads = {self.num_heads} (grouped-query attention)")
        check_choice("activation", self.activation, ACTIVATIONS)
        for key, (lo, hi, why) in FLOAT_LIMITS.items():
            value = getattr(self, key)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo < value <= hi
            if not ok:
                raise SpecError(key, Abbreviated(value), f"must be a number > {lo:g} and <= {hi:g} ({why})")
        for i, proj in enumerate(self.ternary_linears):
            check_choice(f"ternary_linears[{i}]", proj, PROJECTIONS)
        if len(set(self.ternary_linears)) != len(self.ternary_linears):
            raise SpecError("ternary_linears", self.ternary_linears, "must not repeat a projection")
        check_choice("act_dtype", self.act_dtype, ACT_DTYPES)
        for key in ("linear_dtype", "embedding_dtype"):
            check_choice(key, getattr(self, key), FLOAT_DTYPES)
        check_choice("lm_head_dtype", self.lm_head_dtype, LM_HEAD_DTYPES)
        check_choice("kv_dtype", self.kv_dtype, KV_DTYPES)
        check_choice("checkpoint_format", self.checkpoint_format, CHECKPOINT_FORMATS)
        if self.params > MAX_PARAMS:
            raise SpecError("params", self.params, f"must be at most {MAX_PARAMS:.0e} weights (the largest "
                            "published models hold about 2e12): check the sizes")

    @property
    def is_ternary(self) -> bool:
        """True when any projection is ternary."""
        return bool(self.ternary_linears)

    @property
    def q_dim(self) -> int:
        """Width of all query heads together (num_heads x head_dim)."""
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of all key (or value) heads together (num_kv_heads x head_dim)."""
        return self.num_kv_heads * self.head_dim

    def projection_shape(self, proj: str) -> tuple[int, int]:
        """(in_features K, out_features N) of one projection."""
        h, i = self.hidden_size, self.intermediate_size
        return {
            "q_proj": (h, self.q_dim),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (self.q_dim, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }[proj]

    @property
    def layer_params(self) -> int:
        """Weights of one decoder layer (projections and norms)."""
        linear = sum(k * n for k, n in map(self.projection_shape, PROJECTIONS))
        norms = 2 * self.hidden_size
        if self.sub_norms:
            norms += self.q_dim + self.intermediate_size
        return linear + norms

    @property
    def params(self) -> int:
        """All weights, counting a tied embedding/LM head once."""
        embed = self.vocab_size * self.hidden_size
        head = 0 if self.tie_embeddings else embed
        return self.num_layers * self.layer_params + embed + head + self.hidden_size

    @property
    def ternary_params(self) -> int:
        """Weights stored as ternary values."""
        return self.num_layers * sum(k * n for k, n in map(self.projection_shape, self.ternary_linears))

    def ternarized(self) -> "ModelSpec":
        """This architecture with every projection ternary and INT8 activations.

        For "what if this FP16 model were trained BitNet-style" questions (for
        example a Llama-3-70B-shaped ternary model); embeddings and the LM head
        stay high precision, as in every real ternary model.
        """
        if set(self.ternary_linears) == set(PROJECTIONS) and self.act_dtype == "int8":
            return self
        return dataclasses.replace(
            self,
            name=f"{self.name}-ternary",
            ternary_linears=PROJECTIONS,
            act_dtype="int8",
            checkpoint_format=f"{self.linear_dtype}_latent" if self.linear_dtype != "fp32" else "fp16_latent",
            notes=(self.notes + " " if self.notes else "") + f"ternarized variant of {self.name}",
        )


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = 4
_REPR.maxlevel = 2


class Abbreviated:
    """A value for an error message, abbreviated: ``repr`` of a huge integer says its
    digit count, long strings and deep or long containers are cut short (the errors of
    :class:`ModelSpec` and of :mod:`tritium.workloads.model_config` show values this way)."""

    __slots__ = ("value",)

    def __init__(self, value: object):
        self.value = value

    def __repr__(self) -> str:
        v = self.value
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**18:
            try:
                digits = str(len(str(abs(v))))
            except ValueError:  # past sys.get_int_max_str_digits()
                digits = f"about {int(v.bit_length() * math.log10(2)) + 1}"
            return f"<a {'negative ' if v < 0 else ''}{digits}-digit integer>"
        return _REPR.repr(v)
