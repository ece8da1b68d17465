"""tritium.analysis.request: one set of defaults, and options checked against the records' fields."""

import pytest

from tritium.analysis.compare import compare
from tritium.analysis.report import build_report
from tritium.analysis.request import CompareRequest, ReportRequest, changed, split_options
from tritium.base.errors import TritiumError


def test_options_split_by_record_and_an_unknown_one_is_named():
    assert split_options("x", {"batch": 2, "regions": ("world",)}, CompareRequest, ReportRequest) == [
        {"batch": 2}, {"regions": ("world",)}]
    with pytest.raises(TritiumError, match=r"x: unknown option 'compare'.*fields of CompareRequest and"):
        split_options("x", {"compare": CompareRequest()}, CompareRequest, ReportRequest)


@pytest.mark.parametrize("call", [lambda: compare(prefil=64), lambda: build_report(prefil=64)])
def test_a_misspelt_option_is_one_error_before_any_work(call):
    with pytest.raises(TritiumError, match=r"unknown option 'prefil'; the options are the fields of CompareRequest"):
        call()


def test_changed_lists_only_what_differs_from_the_defaults():
    assert changed(CompareRequest()) == {} and changed(ReportRequest()) == {}
    assert changed(ReportRequest(CompareRequest(gpus=2), slo_tpot_s=0.1)) == {"compare": {"gpus": 2}, "slo_tpot_s": 0.1}
