"""Atomic writes: complete or absent, with the mode a plain open() gives."""

import json
import os
import stat

import pytest

from tritium.base.fileio import atomic_path, json_text, write_text_atomic


def test_written_file_has_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "sub" / "a.txt", "hello")
    finally:
        os.umask(old)
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_failure_leaves_the_target_untouched_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise ValueError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_json_text_is_strict_json():
    import numpy as np

    obj = {"nan": float("nan"), "inf": [float("inf"), -np.inf], "n": np.int64(7), "x": np.float64(0.5),
           "t": (1, 2.5), "s": "nan"}
    text = json_text(obj, indent=None)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"nan": None, "inf": [None, None], "n": 7, "x": 0.5, "t": [1, 2.5], "s": "nan"}
