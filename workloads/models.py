"""Model descriptions: the built-in zoo and Hugging Face ``config.json`` files.

A :class:`ModelSpec` is the architecture of a decoder-only transformer in the
Llama family (Llama-2/3, Falcon3, TriLM, 1bitLLM BitNet) or BitNet b1.58 2B4T
(which adds two sub-norms per layer and a ReLU^2 GLU). It says which linear
projections are ternary and which stay high precision: embeddings and LM heads
are never ternary in any supported model.

>>> spec = load_model("bitnet-b1.58-2b-4t")
>>> spec.num_layers, spec.is_ternary, round(spec.params / 1e9, 2)
(30, True, 2.41)
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from tritium.errors import SpecError, TritiumError, did_you_mean
from tritium.specio import check_choice, check_float, check_int, from_mapping

__all__ = [
    "PROJECTIONS",
    "ModelSpec",
    "zoo_names",
    "zoo_model",
    "load_model",
    "spec_from_hf_config",
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
        for key in ("hidden_size", "intermediate_size", "num_layers", "num_heads", "num_kv_heads",
                    "head_dim", "vocab_size", "max_position"):
            check_int(key, getattr(self, key), lo=1)
        if self.num_heads % self.num_kv_heads:
            raise SpecError("num_kv_heads", self.num_kv_heads,
                            f"must divide num_heads = {self.num_heads} (grouped-query attention)")
        check_choice("activation", self.activation, ACTIVATIONS)
        check_float("rope_theta", self.rope_theta, lo=0.0, lo_open=True)
        check_float("norm_eps", self.norm_eps, lo=0.0, lo_open=True)
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


@lru_cache(maxsize=1)
def _zoo() -> dict[str, ModelSpec]:
    text = resources.files("tritium.workloads").joinpath("zoo.toml").read_text(encoding="utf-8")
    import tomllib

    table = tomllib.loads(text)
    return {name: from_mapping(ModelSpec, {"name": name, **entry}, where=f"zoo.{name}.") for name, entry in table.items()}


def zoo_names() -> list[str]:
    """Names of the built-in models, in zoo order."""
    return list(_zoo())


def zoo_model(name: str) -> ModelSpec:
    """A built-in model by zoo name or Hugging Face id (case-insensitive)."""
    key = name.strip().lower()
    zoo = _zoo()
    if key in zoo:
        return zoo[key]
    for spec in zoo.values():
        if spec.hf_id.lower() == key:
            return spec
    # Spelling variants ("bitnet-b1.58-2b4t", "BitNet-b1.58-2B-4T", "llama_3_70b"):
    # the same letters and digits as a zoo name or the repository part of an HF id.
    loose = _loose(key.rsplit("/", 1)[-1])
    for spec in zoo.values():
        if loose in (_loose(spec.name), _loose(spec.hf_id.rsplit("/", 1)[-1])):
            return spec
    raise TritiumError(f"unknown model {name!r}: not in the zoo ({', '.join(zoo)}) and not a config.json path"
                       + did_you_mean(name, list(zoo)))


def _loose(name: str) -> str:
    """A name reduced to its letters and digits, for spelling-tolerant lookup."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def load_model(model: str | Path | ModelSpec) -> ModelSpec:
    """Resolve a model: a :class:`ModelSpec`, a zoo name or HF id, a ``config.json``
    path, or a folder holding one. Raises :class:`TritiumError` naming what is wrong."""
    if isinstance(model, ModelSpec):
        return model
    text = str(model)
    path = Path(text)
    if path.is_dir():
        path = path / "config.json"
        if not path.is_file():
            raise TritiumError(f"model folder {model}: has no config.json")
        return spec_from_hf_config(path)
    if path.suffix == ".json" or path.is_file():
        return spec_from_hf_config(path)
    return zoo_model(text)


_SUPPORTED_TYPES = ("llama", "bitnet", "mistral")
_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32", "half": "fp16", "float": "fp32"}


def spec_from_hf_config(path: str | Path) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face ``config.json``.

    Ternary projections are recognised from ``quantization_config.quant_method ==
    "bitnet"`` (its ``modules_to_not_convert`` stay high precision; its
    ``linear_class`` tells the scale convention), from ``model_type == "bitnet"``,
    and from 1bitLLM's ``weight_bits == 1``. TriLM checkpoints look like plain Llama
    configs: use :meth:`ModelSpec.ternarized` or the zoo entry for them.
    Missing optional keys take the transformers ``LlamaConfig`` defaults.
    """
    path = Path(path)
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TritiumError(f"config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise TritiumError(f"config {path}: cannot read ({err})") from None
    except json.JSONDecodeError as err:
        raise TritiumError(f"config {path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(cfg, dict):
        raise TritiumError(f"config {path}: must be a JSON object")
    model_type = cfg.get("model_type", "llama")
    if model_type not in _SUPPORTED_TYPES:
        raise TritiumError(f"config {path}: model_type {model_type!r} is not supported; "
                           f"supported: {', '.join(_SUPPORTED_TYPES)} (Llama-shaped decoders)")
    required = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
    missing = [k for k in required if k not in cfg]
    if missing:
        raise TritiumError(f"config {path}: missing {', '.join(repr(k) for k in missing)} "
                           f"(required: {', '.join(required)})")
    heads = cfg["num_attention_heads"]
    hidden = cfg["hidden_size"]
    quant = cfg.get("quantization_config") or {}
    is_bitnet = model_type == "bitnet"
    dtype = _DTYPES.get(str(cfg.get("torch_dtype", cfg.get("dtype", "bfloat16"))), "bf16")
    if quant.get("quant_method") == "bitnet":
        skip = set(quant.get("modules_to_not_convert") or [])
        ternary = tuple(p for p in PROJECTIONS if p not in skip)
        fmt = "packed_u8_autobitlinear" if quant.get("linear_class") == "autobitlinear" else "packed_u8_bitlinear"
        act = "int8"
    elif is_bitnet or cfg.get("weight_bits") == 1:
        ternary, act = PROJECTIONS, "int8"
        fmt = f"{dtype}_latent" if dtype in ("bf16", "fp16") else "fp16_latent"
    else:
        ternary, act, fmt = (), dtype, dtype if dtype in ("bf16", "fp16") else "fp16"
    name = cfg.get("_name_or_path") or path.parent.name or "model"
    name = re.sub(r"[^a-z0-9._-]+", "-", str(name).lower().split("/")[-1]).strip("-") or "model"
    fields = {
        "name": name,
        "hf_id": str(cfg.get("_name_or_path", "")),
        "arch": "bitnet" if is_bitnet else "llama",
        "hidden_size": hidden,
        "intermediate_size": cfg["intermediate_size"],
        "num_layers": cfg["num_hidden_layers"],
        "num_heads": heads,
        "num_kv_heads": cfg.get("num_key_value_heads") or heads,
        "head_dim": cfg.get("head_dim") or (hidden // heads if isinstance(hidden, int) and isinstance(heads, int) and heads else 0),
        "vocab_size": cfg["vocab_size"],
        "max_position": cfg.get("max_position_embeddings", 2048),
        "activation": {"relu2": "relu2", "silu": "silu", "swish": "silu"}.get(cfg.get("hidden_act", "silu"), cfg.get("hidden_act")),
        "rope_theta": cfg.get("rope_theta") or (cfg.get("rope_parameters") or {}).get("rope_theta", 10000.0),
        "tie_embeddings": cfg.get("tie_word_embeddings", False),
        "norm_eps": cfg.get("rms_norm_eps", 1e-6),
        "sub_norms": is_bitnet,
        "ternary_linears": ternary,
        "act_dtype": act,
        "linear_dtype": dtype,
        "embedding_dtype": dtype,
        "lm_head_dtype": dtype,
        "kv_dtype": dtype if dtype != "fp32" else "fp16",
        "checkpoint_format": fmt,
        "source": str(path),
    }
    try:
        return from_mapping(ModelSpec, fields)
    except SpecError as err:
        raise TritiumError(f"config {path}: {err}") from None
