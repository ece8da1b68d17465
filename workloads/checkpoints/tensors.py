"""What a checkpoint holds, from its headers: :class:`TensorInfo` and projection names.

The seven ternary projections of a Llama-style block are named differently by
Hugging Face (``model.layers.{i}.self_attn.q_proj.weight``) and by GGUF
(``blk.{i}.attn_q.weight``); :func:`canonical_op` maps both to ``(layer, op)`` with
``op`` one of :data:`PROJECTIONS`, and :func:`tensor_name` goes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tritium.base.errors import SpecError
from tritium.base.specio import check_choice, check_int

__all__ = ["PROJECTIONS", "TensorInfo", "canonical_op", "tensor_name"]

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The ternary projections of one transformer block, in execution order."""

_HF_PARENT = {
    "q_proj": "self_attn",
    "k_proj": "self_attn",
    "v_proj": "self_attn",
    "o_proj": "self_attn",
    "gate_proj": "mlp",
    "up_proj": "mlp",
    "down_proj": "mlp",
}
_GGUF_OP = {
    "attn_q": "q_proj",
    "attn_k": "k_proj",
    "attn_v": "v_proj",
    "attn_output": "o_proj",
    "ffn_gate": "gate_proj",
    "ffn_up": "up_proj",
    "ffn_down": "down_proj",
}
_GGUF_NAME = {op: gguf for gguf, op in _GGUF_OP.items()}

# Any prefix before "layers." (model., model.language_model., ...) is accepted.
_HF_RE = re.compile(r"(?:^|\.)layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.weight$")
_GGUF_RE = re.compile(r"^blk\.(\d+)\.(\w+)\.weight$")


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor of a checkpoint, as described by its file's header (no data read).

    ``dtype`` is the safetensors dtype (``'U8'``, ``'F16'``, ``'BF16'``, ``'F32'``,
    ``'I8'``, ...) or the GGML type name (``'TQ1_0'``, ``'TQ2_0'``, ``'I2_S'``,
    ``'TL1'``, ``'F16'``, ``'Q6_K'``, ...). ``shape`` is in PyTorch order
    (``(out_features, in_features)`` for a matrix; GGUF's column-first dims are
    reversed). For a packed-U8 ternary safetensors weight ``shape`` is the *stored*
    shape ``(out/4, in)`` and ``logical_shape`` the unpacked ``(out, in)``; for every
    other tensor the two are equal. ``file`` is the file holding the tensor, relative
    to the checkpoint folder. ``data_offset`` is the absolute byte offset of the data
    in that file and ``nbytes`` its length (for GGUF TL1/TL2, whose size depends on
    bitnet.cpp's kernel tiling, the distance to the next tensor or the end of file).
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: str
    logical_shape: tuple[int, ...]
    data_offset: int
    nbytes: int

    def __post_init__(self) -> None:
        for key in ("name", "dtype", "file"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise SpecError(key, getattr(self, key), "must be a non-empty string")
        for key in ("shape", "logical_shape"):
            dims = getattr(self, key)
            if not isinstance(dims, tuple):
                raise SpecError(key, dims, "must be a tuple of integers >= 0")
            for i, d in enumerate(dims):
                check_int(f"{key}[{i}]", d, lo=0)
        check_int("data_offset", self.data_offset, lo=0)
        check_int("nbytes", self.nbytes, lo=0)

    @property
    def numel(self) -> int:
        """Number of logical elements (weights)."""
        n = 1
        for d in self.logical_shape:
            n *= d
        return n


def canonical_op(tensor_name: str) -> tuple[int, str] | None:
    """``(layer, op)`` for a ternary projection weight, else ``None``.

    Recognises Hugging Face names (``model.layers.3.self_attn.q_proj.weight``,
    ``model.layers.3.mlp.down_proj.weight``) and GGUF names (``blk.3.attn_q.weight``,
    ``attn_k``, ``attn_v``, ``attn_output``, ``ffn_gate``, ``ffn_up``, ``ffn_down``).
    Embeddings, norms, ``lm_head``, ``weight_scale`` tensors and fused projections
    give ``None``.

    >>> canonical_op("model.layers.3.mlp.down_proj.weight")
    (3, 'down_proj')
    >>> canonical_op("blk.0.attn_output.weight")
    (0, 'o_proj')
    >>> canonical_op("model.layers.0.self_attn.q_proj.weight_scale") is None
    True
    """
    m = _HF_RE.search(tensor_name)
    if m is not None:
        layer, parent, op = m.groups()
        if _HF_PARENT.get(op) == parent:
            return int(layer), op
        return None
    m = _GGUF_RE.match(tensor_name)
    if m is not None and m.group(2) in _GGUF_OP:
        return int(m.group(1)), _GGUF_OP[m.group(2)]
    return None


def tensor_name(layer: int, op: str, *, style: str = "hf") -> str:
    """The weight name of projection ``op`` of block ``layer`` (inverse of :func:`canonical_op`).

    ``style`` is ``"hf"`` (``model.layers.{i}.self_attn.q_proj.weight``) or ``"gguf"``
    (``blk.{i}.attn_q.weight``).

    >>> tensor_name(2, "up_proj", style="gguf")
    'blk.2.ffn_up.weight'
    """
    check_int("layer", layer, lo=0)
    check_choice("op", op, PROJECTIONS)
    check_choice("style", style, ("hf", "gguf"))
    if style == "hf":
        return f"model.layers.{layer}.{_HF_PARENT[op]}.{op}.weight"
    return f"blk.{layer}.{_GGUF_NAME[op]}.weight"
