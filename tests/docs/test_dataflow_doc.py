"""docs/dataflow.md's examples are doctests: the page's numbers are the simulator's."""

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "dataflow.md"


def test_the_worked_example_is_what_the_simulator_computes():
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 20
    assert result.failed == 0
