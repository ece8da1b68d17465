"""Capture real layer shapes from transformers with forward hooks (optional extra).

This is the honest cross-check of :func:`tritium.workloads.trace`: the model is
built by transformers from the same architecture (on torch's ``meta`` device for
big models, so nothing is allocated), run for a prefill and decode steps, and
every ``nn.Linear``, RMSNorm and attention call is recorded as it happens. The
result uses the trace's own names, so the two tables can be compared row by row.

Needs the ``capture`` extra (``pip install 'tritium[capture]'``): torch and
transformers. No weights are downloaded; models are built from their config.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

import pandas as pd

from tritium.base.errors import TritiumError
from tritium.workloads.models import ModelSpec
from tritium.workloads.zoo import load_model
from tritium.workloads.scenario import Scenario

__all__ = ["hf_config", "capture_shapes", "CAPTURE_COLUMNS", "measure_act_sparsity"]

CAPTURE_COLUMNS = ("block", "layer", "op", "kind", "m", "k", "n", "kv_len")
"""Columns of :func:`capture_shapes`: block (0 prefill, 1 + t decode step t), layer,
op (trace name), kind ("linear", "rmsnorm" or "attention"), m (tokens), k (input
features; 0 for norms), n (output features or norm width), kv_len (attention only)."""

_LINEAR = re.compile(r"^model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+_proj)$")
_NORM = re.compile(r"^model\.layers\.(\d+)\.(input_layernorm|post_attention_layernorm|self_attn\.attn_sub_norm|"
                   r"mlp\.ffn_sub_norm)$")
_ATTN = re.compile(r"^model\.layers\.(\d+)\.self_attn$")
_NORM_OPS = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
             "self_attn.attn_sub_norm": "attn_sub_norm", "mlp.ffn_sub_norm": "ffn_sub_norm"}


def _import_torch():
    try:
        import torch
        import transformers
    except ImportError:
        raise TritiumError("trace capture needs torch and transformers: pip install 'tritium[capture]'") from None
    return torch, transformers


def hf_config(spec: ModelSpec | str):
    """A transformers config (``LlamaConfig`` or ``BitNetConfig``) for ``spec``."""
    spec = load_model(spec)
    _, transformers = _import_torch()
    common = dict(
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        head_dim=spec.head_dim,
        vocab_size=spec.vocab_size,
        max_position_embeddings=spec.max_position,
        rms_norm_eps=spec.norm_eps,
        tie_word_embeddings=spec.tie_embeddings,
        hidden_act=spec.activation,
    )
    if spec.arch == "bitnet":
        return transformers.BitNetConfig(rope_theta=spec.rope_theta, **common)
    return transformers.LlamaConfig(rope_theta=spec.rope_theta, **common)


@dataclass
class _Recorder:
    block: int = 0
    rows: list | None = None

    def __post_init__(self) -> None:
        self.rows = []

    def linear(self, name: str):
        m = _LINEAR.match(name)
        layer, op = (int(m.group(1)), m.group(2)) if m else (None, name)

        def hook(module, args, output):
            x = args[0]
            tokens = x.numel() // x.shape[-1]
            self.rows.append((self.block, layer, op, "linear", tokens, module.in_features, module.out_features, 0))

        return hook

    def norm(self, layer: int | None, op: str):
        def hook(module, args, output):
            x = args[0]
            self.rows.append((self.block, layer, op, "rmsnorm", x.numel() // x.shape[-1], 0, x.shape[-1], 0))

        return hook

    def attention(self, layer: int):
        def hook(module, args, kwargs, output):
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            states = kwargs.get("hidden_states", args[0] if args else None)
            kv = cache.get_seq_length(layer)
            self.rows.append((self.block, layer, "attention", "attention", states.shape[1], 0, 0, kv))

        return hook


def capture_shapes(model: ModelSpec | str, scenario: Scenario, *, device: str = "meta") -> pd.DataFrame:
    """Run ``model`` in transformers for ``scenario`` and record every linear, norm
    and attention call (see :data:`CAPTURE_COLUMNS`).

    ``device="meta"`` builds the model without memory (shapes only; works for
    70B models); ``"cpu"`` runs real random weights (tiny models only).
    The LM head is asked for the last position only (``logits_to_keep=1``), as
    generation does.
    """
    spec = load_model(model)
    torch, transformers = _import_torch()
    config = hf_config(spec)
    with torch.device(device):
        net = transformers.AutoModelForCausalLM.from_config(config)
    net.eval()
    rec = _Recorder()
    handles = []
    for name, module in net.named_modules():
        if isinstance(module, torch.nn.Linear):
            handles.append(module.register_forward_hook(rec.linear(name)))
        elif (m := _NORM.match(name)) is not None:
            handles.append(module.register_forward_hook(rec.norm(int(m.group(1)), _NORM_OPS[m.group(2)])))
        elif name == "model.norm":
            handles.append(module.register_forward_hook(rec.norm(spec.num_layers, "final_norm")))
        elif (m := _ATTN.match(name)) is not None:
            handles.append(module.register_forward_hook(rec.attention(int(m.group(1))), with_kwargs=True))
    cache_kw = "cache" if "cache" in inspect.signature(net.forward).parameters else "past_key_values"
    cache = transformers.DynamicCache(config=config)
    b = scenario.batch
    try:
        with torch.no_grad():
            ids = torch.zeros((b, scenario.prefill), dtype=torch.long, device=device)
            net(input_ids=ids, use_cache=True, logits_to_keep=1, **{cache_kw: cache})
            for step in range(scenario.decode):
                rec.block = 1 + step
                ids = torch.zeros((b, 1), dtype=torch.long, device=device)
                net(input_ids=ids, use_cache=True, logits_to_keep=1, **{cache_kw: cache})
    finally:
        for h in handles:
            h.remove()
    df = pd.DataFrame(rec.rows, columns=list(CAPTURE_COLUMNS))
    df["layer"] = df["layer"].fillna(spec.num_layers).astype("int64")
    return df


def measure_act_sparsity(model: ModelSpec | str, scenario: Scenario, *, checkpoint: str | None = None,
                         seed: int = 0) -> dict[tuple[int, str], float]:
    """Fraction of exactly-zero INT8 inputs of every decoder projection, measured in a forward pass.

    ``model`` is built by transformers from its config, with random weights (seeded with
    ``seed``; tiny configs only: the weights are allocated on the CPU), or loaded from the
    local ``checkpoint`` folder (``from_pretrained``, no download). ``scenario``'s prefill and
    decode steps run on random token ids (seeded). Each projection's input is quantized as
    BitNet quantizes it (per token, ``s = 127 / max|x|``, ``round(x * s)`` clamped to
    [-128, 127]) and its zeros counted over every call. The result maps ``(layer,
    projection)`` to the fraction, ready for ``trace(..., act_sparsity=...)``
    (:mod:`tritium.workloads.sparsity`); a fraction that would round to 1 is kept just below it.

    Raises:
        TritiumError: torch or transformers is missing, or ``checkpoint`` cannot be loaded.
    """
    spec = load_model(model)
    torch, transformers = _import_torch()
    torch.manual_seed(seed)
    if checkpoint is None:
        net = transformers.AutoModelForCausalLM.from_config(hf_config(spec))
    else:
        try:
            net = transformers.AutoModelForCausalLM.from_pretrained(checkpoint, local_files_only=True,
                                                                    dtype=torch.float32)
        except (OSError, ValueError) as err:
            raise TritiumError(f"checkpoint {checkpoint}: cannot load it ({str(err).splitlines()[0]})") from None
    net.eval()
    zeros: dict[tuple[int, str], list[int]] = {}

    def hook_for(key):
        def hook(module, args):
            x = args[0].detach().float().reshape(-1, args[0].shape[-1])
            scale = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
            q = (x * scale).round().clamp(-128, 127)
            tally = zeros.setdefault(key, [0, 0])
            tally[0] += int((q == 0).sum())
            tally[1] += q.numel()
        return hook

    handles = []
    for name, module in net.named_modules():
        m = _LINEAR.match(name)
        if m is not None and isinstance(module, torch.nn.Linear):
            handles.append(module.register_forward_pre_hook(hook_for((int(m.group(1)), m.group(2)))))
    config = net.config
    cache_kw = "cache" if "cache" in inspect.signature(net.forward).parameters else "past_key_values"
    cache = transformers.DynamicCache(config=config)
    gen = torch.Generator().manual_seed(seed)
    b, vocab = scenario.batch, spec.vocab_size
    try:
        with torch.no_grad():
            ids = torch.randint(0, vocab, (b, scenario.prefill), generator=gen)
            net(input_ids=ids, use_cache=True, logits_to_keep=1, **{cache_kw: cache})
            for _ in range(scenario.decode):
                ids = torch.randint(0, vocab, (b, 1), generator=gen)
                net(input_ids=ids, use_cache=True, logits_to_keep=1, **{cache_kw: cache})
    finally:
        for h in handles:
            h.remove()
    below_one = 1.0 - 2.0**-40
    return {key: min(z / total, below_one) for key, (z, total) in sorted(zeros.items()) if total}
