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
import math
import re
import reprlib
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from tritium.base.errors import SpecError, TritiumError, did_you_mean
from tritium.base.specio import check_choice, from_mapping

__all__ = [
    "PROJECTIONS",
    "ModelSpec",
    "zoo_names",
    "zoo_model",
    "load_model",
    "spec_from_hf_config",
    "read_config_json",
    "MODEL_LIMITS",
    "MAX_PARAMS",
    "MAX_CONFIG_BYTES",
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
                raise SpecError(key, _Shown(value), f"must be an integer from {lo} to {hi} ({why})")
        if self.num_heads % self.num_kv_heads:
            raise SpecError("num_kv_heads", self.num_kv_heads,
                            f"must divide num_heads = {self.num_heads} (grouped-query attention)")
        check_choice("activation", self.activation, ACTIVATIONS)
        for key, config_key in (("rope_theta", "rope_theta"), ("norm_eps", "rms_norm_eps")):
            lo, hi, why = _FLOAT_KEYS[config_key]
            value = getattr(self, key)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo < value <= hi
            if not ok:
                raise SpecError(key, _Shown(value), f"must be a number > {lo:g} and <= {hi:g} ({why})")
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
_ACTS = {"relu2": "relu2", "silu": "silu", "swish": "silu"}
_LINEAR_CLASSES = ("autobitlinear", "bitlinear")
MAX_CONFIG_BYTES = 4 << 20
"""Largest config.json read, in bytes (published ones are a few KB)."""

# config.json key -> ModelSpec field, for the sizes MODEL_LIMITS bounds.
_SIZE_KEYS = {
    "hidden_size": "hidden_size",
    "intermediate_size": "intermediate_size",
    "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads",
    "num_key_value_heads": "num_kv_heads",
    "head_dim": "head_dim",
    "vocab_size": "vocab_size",
    "max_position_embeddings": "max_position",
}
_FLOAT_KEYS = {  # key: (lo, hi, why); both bounds exclusive of 0
    "rope_theta": (0.0, 1e12, "published RoPE bases are 1e4 to 1e8"),
    "rms_norm_eps": (0.0, 1.0, "published epsilons are 1e-6 to 1e-5"),
}


def read_config_json(path: str | Path) -> dict:
    """The JSON object in the ``config.json`` at ``path``, read with bounds.

    Raises :class:`TritiumError` (one line naming the file) for a missing file,
    something other than a regular file, more than :data:`MAX_CONFIG_BYTES`,
    non-UTF-8 bytes (the offset is named, the bytes are not), invalid JSON,
    nesting deeper than the parser allows, an integer of more than 4,300 digits,
    or a value that is not an object.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if not path.is_file():
                raise TritiumError(f"config {path}: not a regular file")
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise TritiumError(f"config {path}: no such file") from None
    except OSError as err:
        raise TritiumError(f"config {path}: cannot read ({err.strerror or type(err).__name__})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise TritiumError(f"config {path}: larger than {MAX_CONFIG_BYTES} bytes; a config.json is a few KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise TritiumError(f"config {path}: not UTF-8 text (invalid byte at offset {err.start}); "
                           "config.json must be UTF-8 JSON") from None
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as err:
        raise TritiumError(f"config {path}: not valid JSON ({err.msg} at line {err.lineno})") from None
    except RecursionError:
        raise TritiumError(f"config {path}: JSON nested too deeply (the parser allows about "
                           f"{sys.getrecursionlimit()} levels; a config.json nests a few)") from None
    except ValueError as err:  # an integer of more than sys.get_int_max_str_digits() digits
        raise TritiumError(f"config {path}: not usable JSON ({str(err).split(':')[0]}); "
                           "numbers must be at most 4300 digits") from None
    if not isinstance(cfg, dict):
        raise TritiumError(f"config {path}: must be a JSON object, got {_json_type(cfg)}")
    return cfg


def spec_from_hf_config(path: str | Path) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face ``config.json``.

    Ternary projections are recognised from ``quantization_config.quant_method ==
    "bitnet"`` (its ``modules_to_not_convert`` stay high precision; its
    ``linear_class`` tells the scale convention), from ``model_type == "bitnet"``,
    and from 1bitLLM's ``weight_bits == 1``. TriLM checkpoints look like plain Llama
    configs: use :meth:`ModelSpec.ternarized` or the zoo entry for them.
    Missing optional keys take the transformers ``LlamaConfig`` defaults; a
    ``torch_dtype`` other than the float names in ``_DTYPES`` reads as bf16.

    Every key read is type- and range-checked: sizes against
    :data:`MODEL_LIMITS` (under their config.json names), ``rope_theta`` and
    ``rms_norm_eps`` against physical ranges, the rest against their JSON types.
    Raises :class:`TritiumError` with one line naming the file, the key, the bad
    value (abbreviated) and what is allowed.
    """
    path = Path(path)
    cfg = read_config_json(path)

    def bad(key: str, value: object, allowed: str) -> TritiumError:
        return TritiumError(f"config {path}: {key} = {_Shown(value)!r}: {allowed}")

    def get(key: str, kinds: tuple[type, ...], default: object, what: str, table: dict | None = None) -> object:
        table = cfg if table is None else table
        value = table.get(key)
        if value is None:
            return default
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise bad(key if table is cfg else f"quantization_config.{key}", value, f"must be {what}")
        return value

    model_type = get("model_type", (str,), "llama", "a string")
    if model_type not in _SUPPORTED_TYPES:
        raise TritiumError(f"config {path}: model_type {_Shown(model_type)!r} is not supported; "
                           f"supported: {', '.join(_SUPPORTED_TYPES)} (Llama-shaped decoders)")
    required = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
    missing = [k for k in required if cfg.get(k) is None]
    if missing:
        raise TritiumError(f"config {path}: missing {', '.join(repr(k) for k in missing)} "
                           f"(required: {', '.join(required)})")
    sizes: dict[str, int] = {}
    for key, field in _SIZE_KEYS.items():
        value = cfg.get(key)
        if value is None:
            continue
        lo, hi, why = MODEL_LIMITS[field]
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise bad(key, value, f"must be an integer from {lo} to {hi} ({why})")
        sizes[field] = value
    floats: dict[str, float] = {}
    rope = get("rope_parameters", (dict,), {}, "a JSON object")
    for key, (lo, hi, why) in _FLOAT_KEYS.items():
        table, label = (rope, "rope_parameters.rope_theta") if key == "rope_theta" and key not in cfg else (cfg, key)
        value = table.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo < value <= hi:
            raise bad(label, value, f"must be a number > {lo:g} and <= {hi:g} ({why})")
        floats[key] = float(value)
    heads, hidden = sizes["num_heads"], sizes["hidden_size"]
    act_name = get("hidden_act", (str,), "silu", f"a string, one of {', '.join(map(repr, _ACTS))}")
    if act_name not in _ACTS:
        raise bad("hidden_act", act_name, f"must be one of {', '.join(map(repr, _ACTS))}")
    tie = get("tie_word_embeddings", (bool,), False, "true or false")
    torch_dtype = get("torch_dtype", (str,), None, "a string such as 'bfloat16'")
    if torch_dtype is None:
        torch_dtype = get("dtype", (str,), "bfloat16", "a string such as 'bfloat16'")
    dtype = _DTYPES.get(torch_dtype, "bf16")
    quant = get("quantization_config", (dict,), {}, "a JSON object (or null)")
    method = get("quant_method", (str,), None, "a string", quant)
    weight_bits = get("weight_bits", (int, float), None, "a number")
    name = get("_name_or_path", (str,), "", "a string")
    is_bitnet = model_type == "bitnet"
    if method == "bitnet":
        skip = get("modules_to_not_convert", (list,), [], "a list of module names (strings)", quant)
        if not all(isinstance(m, str) for m in skip):
            raise bad("quantization_config.modules_to_not_convert", skip, "must be a list of module names (strings)")
        linear_class = get("linear_class", (str,), None, "a string", quant)
        if linear_class is not None and linear_class not in _LINEAR_CLASSES:
            raise bad("quantization_config.linear_class", linear_class, "must be 'autobitlinear' or 'bitlinear'")
        ternary = tuple(p for p in PROJECTIONS if p not in set(skip))
        fmt = "packed_u8_autobitlinear" if linear_class == "autobitlinear" else "packed_u8_bitlinear"
        act = "int8"
    elif is_bitnet or weight_bits == 1:
        ternary, act = PROJECTIONS, "int8"
        fmt = f"{dtype}_latent" if dtype in ("bf16", "fp16") else "fp16_latent"
    else:
        ternary, act, fmt = (), dtype, dtype if dtype in ("bf16", "fp16") else "fp16"
    short = re.sub(r"[^a-z0-9._-]+", "-", (name or path.parent.name or "model").lower().split("/")[-1])
    fields = {
        "name": short.strip("-")[:100] or "model",
        "hf_id": name,
        "arch": "bitnet" if is_bitnet else "llama",
        "hidden_size": hidden,
        "intermediate_size": sizes["intermediate_size"],
        "num_layers": sizes["num_layers"],
        "num_heads": heads,
        "num_kv_heads": sizes.get("num_kv_heads", heads),
        "head_dim": sizes.get("head_dim", hidden // heads),
        "vocab_size": sizes["vocab_size"],
        "max_position": sizes.get("max_position", 2048),
        "activation": _ACTS[act_name],
        "rope_theta": floats.get("rope_theta", 10000.0),
        "tie_embeddings": tie,
        "norm_eps": floats.get("rms_norm_eps", 1e-6),
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


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxdict = 4
_REPR.maxlevel = 2


class _Shown:
    """A value for an error message, abbreviated: ``repr`` of a huge integer says its
    digit count, long strings and deep or long containers are cut short."""

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
