"""TOML and messages at their limits: deep nesting, huge integers, long and non-UTF-8 names."""

from __future__ import annotations

import os

import pytest

from tritium.base.errors import SpecError, TritiumError, printable, shown, shown_path
from tritium.base.specio import MAX_TOML_BYTES, MAX_TOML_DEPTH, load_toml, parse_toml


@pytest.mark.parametrize("text, message", [
    ("a = " + "[" * 5000 + "]" * 5000, "nested too deeply for the parser"),
    ("a = " + "{x=" * 5000 + "1" + "}" * 5000, "nested too deeply for the parser"),
    ("a." * 5000 + "b = 1", f"is nested more than {MAX_TOML_DEPTH} levels deep"),
    ("[" + "a." * 100 + "b]\nx = 1", f"is nested more than {MAX_TOML_DEPTH} levels deep"),
    ("a = " + "9" * 4400, "an integer outside the 64-bit range TOML allows"),
    ("a = 0x" + "f" * 5000, "a is an integer outside the 64-bit range"),
    ("[t]\nb = [1, -9223372036854775809]", r"t.b\[1\] is an integer outside"),
    ("a = [", "malformed TOML"),
])
def test_parse_toml_refuses_in_one_line(text, message):
    with pytest.raises(TritiumError, match=message) as info:
        parse_toml(text, "chip file x.toml")
    assert str(info.value).startswith("chip file x.toml: malformed TOML (") and "\n" not in str(info.value)
    assert len(str(info.value)) < 400


def test_parse_toml_keeps_what_toml_allows():
    data = parse_toml("a = 9223372036854775807\nb = -9223372036854775808\nc = 1e400\n[d.e]\nf = [[1]]")
    assert data["a"] == 2**63 - 1 and data["b"] == -(2**63) and data["c"] == float("inf")
    depth = "x = " + "[" * (MAX_TOML_DEPTH - 1) + "]" * (MAX_TOML_DEPTH - 1)
    parse_toml(depth)


def test_load_toml_file_errors(tmp_path):
    with pytest.raises(TritiumError, match="is a directory"):
        load_toml(tmp_path, "chip file")
    with pytest.raises(TritiumError, match="no such file"):
        load_toml(tmp_path / "nope.toml", "chip file")
    long = tmp_path / ("L" * 5000)
    with pytest.raises(TritiumError, match=r"cannot read \(File name too long\)") as info:
        load_toml(long, "chip file")
    assert len(str(info.value)) < 300
    big = tmp_path / "big.toml"
    with open(big, "wb") as fh:
        fh.truncate(MAX_TOML_BYTES + 1)
    with pytest.raises(TritiumError, match="larger than"):
        load_toml(big, "chip file")
    odd = tmp_path / os.fsdecode(b"bad\xff.toml")
    odd.write_bytes(b"a = \xff\n")
    with pytest.raises(TritiumError, match=r"bad\\xff.toml: not UTF-8") as info:
        load_toml(odd, "chip file")
    str(info.value).encode("utf-8")  # printable


def test_spec_error_shows_huge_values_briefly():
    err = SpecError("tlu.rows", 10**5000, "must be an integer from 1 to 4096")
    assert str(err) == "tlu.rows = <an integer of 5001 digits>: must be an integer from 1 to 4096"
    assert "digits" in str(SpecError("k", 2**100000, "x"))
    assert len(str(SpecError("name", "n" * 10000, "too long"))) < 200
    assert shown(3) == "3" and shown("a") == "'a'"


def test_shown_path_and_printable():
    assert shown_path(os.fsdecode(b"/tmp/a\xfe")) == "/tmp/a\\xfe"
    assert printable("x\ud800y") == "x\\ud800y"
    cut = shown_path("p" * 5000)
    assert len(cut) < 160 and "(5000 characters)" in cut
