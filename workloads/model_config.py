"""Hugging Face ``config.json`` files: read with bounds, checked key by key, made a ModelSpec.

:func:`read_config_json` reads the file (size, encoding, JSON and nesting bounded);
:func:`spec_from_hf_config` turns it into a :class:`~tritium.workloads.models.ModelSpec`,
recognising which projections are ternary and how the checkpoint stores them. Every error is
one line naming the file, the key, the bad value (abbreviated) and what is allowed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tritium.base.errors import SpecError, TritiumError
from tritium.base.specio import from_mapping
from tritium.workloads.models import FLOAT_LIMITS, MODEL_LIMITS, PROJECTIONS, Abbreviated, ModelSpec

__all__ = ["spec_from_hf_config", "read_config_json", "MAX_CONFIG_BYTES"]

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
# config.json key -> ModelSpec field, for the real numbers FLOAT_LIMITS bounds.
_FLOAT_KEYS = {"rope_theta": "rope_theta", "rms_norm_eps": "norm_eps"}


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
        return TritiumError(f"config {path}: {key} = {Abbreviated(value)!r}: {allowed}")

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
        raise TritiumError(f"config {path}: model_type {Abbreviated(model_type)!r} is not supported; "
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
    for key, field in _FLOAT_KEYS.items():
        lo, hi, why = FLOAT_LIMITS[field]
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
