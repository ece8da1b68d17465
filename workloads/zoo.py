"""The built-in model zoo (``zoo.toml``) and :func:`load_model`, which resolves any model.

A model is named by a zoo name or Hugging Face id (spelling-tolerant: case, ``-``, ``_`` and
``.`` aside), by a ``config.json`` path or a folder holding one (read by
:mod:`tritium.workloads.model_config`), or given as a :class:`~tritium.workloads.models.ModelSpec`.

>>> load_model("BitNet-b1.58-2B-4T").name
'bitnet-b1.58-2b-4t'
>>> zoo_names()[:2]
['bitnet-b1.58-2b-4t', 'bitnet-b1.58-large']
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from tritium.base.errors import TritiumError, did_you_mean
from tritium.base.specio import from_mapping
from tritium.workloads.model_config import spec_from_hf_config
from tritium.workloads.models import ModelSpec

__all__ = ["zoo_names", "zoo_model", "load_model"]


@lru_cache(maxsize=1)
def _zoo() -> dict[str, ModelSpec]:
    text = resources.files("tritium.workloads").joinpath("zoo.toml").read_text(encoding="utf-8")
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
