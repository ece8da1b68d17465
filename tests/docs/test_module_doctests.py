"""Every module's docstring examples run (issue 17: seven modules had doctests no test ran).

Modules are found in the packages pyproject.toml installs, so a new module's examples are
run without anyone adding it here. Modules whose import needs an optional extra
(``capture``: torch, transformers) are skipped when it is absent.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tritium

_OPTIONAL = ("torch", "transformers", "selenium")


def _modules() -> list[str]:
    """Every module of the packages pyproject.toml installs (an editable install puts the
    repository root on ``tritium.__path__``, so the packages are listed, not walked from the top)."""
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    names = []
    for package in pyproject["tool"]["setuptools"]["packages"]:
        names.append(package)
        for info in pkgutil.iter_modules(importlib.import_module(package).__path__, package + "."):
            if not info.ispkg and not info.name.endswith("__main__"):  # importing __main__ runs the CLI
                names.append(info.name)
    return sorted(set(names))


MODULES = _modules()


def test_the_walk_finds_every_subpackage():
    for package in ("tritium.sim.mapping", "tritium.hdl.tree", "tritium.workloads.trace",
                    "tritium.analysis.dse.space", "tritium.analysis.compare"):
        assert package in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_pass(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and err.name.split(".")[0] in _OPTIONAL:
            pytest.skip(f"{name} needs {err.name}")
        raise
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, report=False,
                             verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (run doctest on it)"
