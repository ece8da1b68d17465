"""SCALE-Sim GEMM topologies as traces."""

import pytest

from tritium.base.errors import TraceError, TritiumError
from tritium.workloads import build_trace, summarize, trace_from_scalesim

# the format of SCALE-Sim v2's topologies/GEMM_mnk/*.csv (header Layer,M,N,K)
GEMM_CSV = """Layer, M, N, K,
QKT, 512, 512, 128,
FF1, 512, 6912, 2560,
FF2, 512, 2560, 6912,
"""


def test_gemm_topology_becomes_ternary_linears(tmp_path):
    path = tmp_path / "topo.csv"
    path.write_text(GEMM_CSV)
    record = build_trace(path)
    t = record.table
    assert t.op.tolist() == ["QKT", "FF1", "FF2"]
    ff1 = t.iloc[1]
    assert (ff1.m, ff1.k, ff1.n, ff1.kind) == (512, 2560, 6912, "ternary_linear")
    assert ff1.macs == 512 * 2560 * 6912 and ff1.weight_bytes == 2560 * 6912 // 4
    assert record.scenario is None and summarize(record).gmacs_total == pytest.approx((512 * 512 * 128 + 2 * 512 * 2560 * 6912) / 1e9)


def test_fp16_precision(tmp_path):
    path = tmp_path / "topo.csv"
    path.write_text(GEMM_CSV)
    t = trace_from_scalesim(path, weights="fp16").table
    assert set(t.kind) == {"linear"} and t.iloc[1].weight_bytes == 2560 * 6912 * 2


@pytest.mark.parametrize("text,message", [
    ("", "empty file"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height\nconv1, 224, 224, 3\n", "not the GEMM form"),
    ("Layer,M,N,K\nfc,512,0,64\n", "N = '0' must be a positive integer"),
    ("Layer,M,N,K\nfc,512,x,64\n", "N = 'x' must be a positive integer"),
    ("Layer,M,N,K\nfc,512\n", "line 2: expected 4 fields"),
    ("Layer,M,N,K\n", "no layers"),
])
def test_bad_topologies(tmp_path, text, message):
    path = tmp_path / "topo.csv"
    path.write_text(text)
    with pytest.raises(TraceError, match=message):
        trace_from_scalesim(path)


def test_missing_topology_file(tmp_path):
    with pytest.raises(TritiumError, match="no such file"):
        trace_from_scalesim(tmp_path / "nope.csv")
