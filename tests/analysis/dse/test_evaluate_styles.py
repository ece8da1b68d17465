"""build_chip with tlu.style: the base chip's keys of other styles are dropped, a point's own are kept."""

import pytest

from tritium.analysis.dse.evaluate import build_chip
from tritium.base.errors import SpecError
from tritium.sim import load_chip
from tritium.base.specio import to_mapping


def test_a_style_point_drops_the_base_chips_other_style_keys():
    base = to_mapping(load_chip("edge-lut"))
    mac = build_chip(base, {"tlu.style": "mac"}, "p")
    assert (mac.tlu.style, mac.tlu.lut_group, mac.tlu.mac_bits) == ("mac", None, 8)
    tree = build_chip(to_mapping(load_chip("edge-mac")), {"tlu.style": "adder_tree"}, "p")
    assert tree.tlu.style == "adder_tree" and tree.tlu.mac_bits is None
    lut = build_chip(base, {"tlu.style": "lut", "tlu.lut_group": 4}, "p")
    assert lut.tlu.lut_group == 4
    assert base["tlu"]["lut_group"] == 2  # the base is not modified


def test_a_point_asking_for_another_styles_key_is_invalid():
    with pytest.raises(SpecError, match=r"^tlu.lut_group = 3: is a key of style = 'lut'"):
        build_chip(to_mapping(load_chip("edge-lpddr5")), {"tlu.style": "mac", "tlu.lut_group": 3}, "p")


@pytest.mark.slow
def test_the_built_in_style_space_puts_all_three_styles_on_one_front(tmp_path, capsys):
    from tritium.analysis.dse.pareto import pareto
    from tritium.cli import main

    assert main(["sweep", "edge-datapaths", "--out", str(tmp_path / "sw"), "--workers", "0"]) == 0
    capsys.readouterr()
    front = pareto(tmp_path / "sw")
    assert set(front["tlu.style"]) == {"adder_tree", "lut", "mac"}
