# amaranth: UnusedElaboratable=no
"""Synthesized area per datapath style beside the model: calibrate_styles and `tritium hdl calibrate --styles`.

One small width per style (8 inputs, 2 rows) keeps CI fast; ``tritium hdl calibrate --styles
adder_tree,lut,mac`` runs the full widths.
"""

from __future__ import annotations

import json

import pytest

from tritium.cli import main
from tritium.base.errors import SpecError
from tritium.hdl.calibrate_styles import StyleCalibration, calibrate_styles, style_table
from tritium.sim.chip_parts import TluSpec
from tritium.sim.energy import tlu_area_um2
from tritium.sim.tech import tech


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    return calibrate_styles(widths=(8,), rows=2, lut_groups=(3,), work_dir=tmp_path_factory.mktemp("styles"))


@pytest.mark.slow
def test_each_style_synthesizes_for_ecp5_and_generic(rows):
    assert [r.label for r in rows] == ["adder_tree", "lut g=3", "mac 8b"]
    for r in rows:
        assert r.cells > 0 and r.flip_flops > 0 and r.ecp5_luts > 0 and r.ecp5_ffs > 0
        assert r.ecp5_fmax_mhz > 10
        assert r.ecp5_dsps == (2 * 8 if r.style == "mac" else 0)  # one multiplier block per input per row
        assert r.ratio == pytest.approx(r.model_um2 / r.synth_um2)
    tree, lut, mac = rows
    assert lut.ecp5_ffs > tree.ecp5_ffs  # the tables' registers
    assert mac.synth_um2 > tree.synth_um2  # gate-level multipliers
    text = style_table(rows)
    assert text.splitlines()[0].split()[:3] == ["style", "width", "rows"] and len(text.splitlines()) == 4


@pytest.mark.slow
def test_model_is_the_simulators(rows):
    t = tech(7)
    for r in rows:
        keys = {"lut": dict(style="lut", lut_group=r.lut_group), "mac": dict(style="mac", mac_bits=8)}.get(r.style, {})
        tlu = TluSpec(rows=2, width=8, acc_bits=24, **keys)
        assert r.model_um2 == pytest.approx(tlu_area_um2(tlu, t))
        assert r.model_source == "tritium.sim.energy.tlu_area_um2"
        assert 0.3 < r.ratio < 3  # same order of magnitude; the table reports the real figure


def test_bad_input_is_refused():
    for kwargs, key in ((dict(styles=("tree",)), "style"), (dict(widths=(12,)), "width"),
                        (dict(lut_groups=(5,)), "lut_group"), (dict(rows=0), "rows"), (dict(styles=()), "styles")):
        with pytest.raises(SpecError, match=key):
            calibrate_styles(**kwargs)
    with pytest.raises(SpecError, match="synth_um2"):
        StyleCalibration(style="lut", lut_group=2, mac_bits=0, width=8, rows=1, act_bits=8, acc_bits=24, node_nm=7,
                         scaling="bitnet", cells=1, logic_transistors=1, flip_flops=1, ff_transistors=1,
                         synth_um2=0.0, model_um2=None, model_source="n/a")


@pytest.mark.slow
def test_cli_prints_a_row_per_style_and_width(capsys):
    assert main(["hdl", "calibrate", "--styles", "lut,mac", "--widths", "4", "--rows", "1", "--lut-groups", "2",
                 "--no-ecp5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(d["style"], d["width"], d["lut_group"]) for d in data] == [("lut", 4, 2), ("mac", 4, 0)]
    assert all(d["ecp5_luts"] is None and d["synth_um2"] > 0 for d in data)
    assert main(["hdl", "calibrate", "--styles", "bogus"]) == 2
    assert "style = 'bogus'" in capsys.readouterr().err
