"""Request streams: arrival processes, length distributions, Azure and BurstGPT trace files."""

import numpy as np
import pytest

from tritium.analysis.serving.requests import LengthDist, generate, parse_length, read_trace
from tritium.base.errors import SpecError, TritiumError


def test_length_distributions_parse_and_sample():
    rng = np.random.default_rng(0)
    assert parse_length("64") == LengthDist("fixed", 64)
    assert parse_length("uniform:10:20").sample(rng, 1000).min() >= 10
    logn = parse_length("lognormal:512:0.5").sample(rng, 20000)
    assert logn.mean() == pytest.approx(512, rel=0.03)
    assert logn.std() / logn.mean() == pytest.approx(0.5, rel=0.08)
    for bad in ("lognormal:-1", "uniform:5:2", "poisson:3", "fixed:1.5", "abc"):
        with pytest.raises(SpecError):
            parse_length(bad)


def test_poisson_and_gamma_arrivals_have_the_asked_rate_and_burstiness():
    p = parse_length("fixed:8")
    pois = generate(arrivals="poisson", rate=4.0, requests=20000, prompt=p, output=p, seed=1, max_position=4096)
    gaps = np.diff(pois.arrival_s)
    assert 1 / gaps.mean() == pytest.approx(4.0, rel=0.03) and gaps.std() / gaps.mean() == pytest.approx(1, rel=0.05)
    burst = generate(arrivals="gamma", rate=4.0, cv=3.0, requests=20000, prompt=p, output=p, seed=1, max_position=4096)
    gaps = np.diff(burst.arrival_s)
    assert 1 / gaps.mean() == pytest.approx(4.0, rel=0.1) and gaps.std() / gaps.mean() == pytest.approx(3, rel=0.15)
    timed = generate(arrivals="poisson", rate=10.0, duration_s=50, prompt=p, output=p, seed=2, max_position=4096)
    assert timed.arrival_s.max() < 50 and len(timed) == pytest.approx(500, rel=0.2)


def test_lengths_are_clipped_to_the_models_context():
    r = generate(arrivals="poisson", rate=1, requests=50, prompt=parse_length("fixed:5000"),
                 output=parse_length("fixed:900"), seed=0, max_position=4096)
    assert (r.prompt == 4095).all() and (r.output == 1).all()


def test_azure_trace_is_detected_replayed_and_scaled(tmp_path):
    f = tmp_path / "azure.csv"
    f.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                 "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n"
                 "2023-11-16 18:15:51.5003530,879,0\n")
    r = read_trace(f)
    assert r.arrival_s.tolist() == pytest.approx([0.0, 4.314579, 4.819763], abs=1e-6)
    assert r.prompt.tolist() == [374, 396, 879] and r.output.tolist() == [44, 109, 0]
    fast = read_trace(f, rate=2.0)
    assert (len(fast) - 1) / fast.arrival_s[-1] == pytest.approx(2.0)
    assert "azure" in r.source


def test_burstgpt_trace_with_its_columns(tmp_path):
    f = tmp_path / "burst.csv"
    f.write_text("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                 "5,ChatGPT,472,18,490,Conversation log\n45,GPT-4,1087,230,1317,Conversation log\n"
                 "118,ChatGPT,417,276,693,API log\n")
    r = read_trace(f, requests=2)
    assert r.arrival_s.tolist() == [0.0, 40.0] and r.prompt.tolist() == [472, 1087]
    assert read_trace(f, duration_s=100).prompt.tolist() == [472, 1087]
    mixed = read_trace(f, output=parse_length("fixed:7"))
    assert mixed.output.tolist() == [7, 7, 7] and mixed.prompt.tolist() == [472, 1087, 417]


@pytest.mark.parametrize("text,match", [
    ("time,prompt\n1,2\n", "match no known format"),
    ("Timestamp,Model,Request tokens,Response tokens\n5,a,10,1\n3,a,10,1\n", "must not decrease"),
    ("Timestamp,Model,Request tokens,Response tokens\n-5,a,10,1\n3,a,10,1\n", "finite and >= 0"),
    ("Timestamp,Model,Request tokens,Response tokens\n1,a,ten,1\n", "whole numbers"),
    ("Timestamp,Model,Request tokens,Response tokens\n1,a,10,-1\n", "whole numbers"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,1\n", "seconds or date-times"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n", "no requests"),
])
def test_bad_trace_files_are_one_error_each(tmp_path, text, match):
    f = tmp_path / "t.csv"
    f.write_text(text)
    with pytest.raises(TritiumError, match=match) as err:
        read_trace(f)
    assert "\n" not in str(err.value)


def test_missing_trace_file_and_bad_rate(tmp_path):
    with pytest.raises(TritiumError, match="no such file"):
        read_trace(tmp_path / "none.csv")
    f = tmp_path / "t.csv"
    f.write_text("Timestamp,Model,Request tokens,Response tokens\n1,a,10,1\n2,a,10,1\n")
    with pytest.raises(SpecError, match="rate"):
        read_trace(f, rate=0)
