"""Reports: the HTML is self-contained and renders every plot in Chromium; the Markdown twin has its plots."""

import base64
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from tritium.analysis.compare import compare
from tritium.analysis.gpu import WEIGHT_MODES
from tritium.analysis.report import RATIOS, build_report
from tritium.analysis.report_render import write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def report():
    return build_report(prefill=64, decode=8, batches=(1, 4), prefills=(32, 64, 8192), regions=("world", "FR"),
                        command="tritium report --prefill 64 --decode 8 --out DIR")


@pytest.fixture(scope="module")
def written(report, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return out, write_report(report, out)


@pytest.fixture(scope="module")
def files(written):
    out, paths = written
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in paths}


def test_report_contents(report):
    c = report.comparison
    assert (c.model, c.chip.name, c.gpu.name, c.weights) == ("bitnet-b1.58-2b-4t", "edge-lpddr5", "h100-sxm", "w2a8")
    assert list(report.batch_sweep.batch) == [1, 4]
    assert list(report.context_sweep.prefill) == [32, 64]  # 8192 + 8 does not fit the 4096-token context
    # the sweep's point at the main scenario is the main comparison
    point = report.context_sweep.set_index("prefill").loc[64]
    main = c.table().set_index("metric")
    assert point["J/token: GPU / chip"] == pytest.approx(main.loc["J/token", "gpu_over_chip"])
    assert point["tokens/s: chip / GPU"] == pytest.approx(1 / main.loc["tokens/s", "gpu_over_chip"])
    other = compare(prefill=64, decode=8, batch=4).table().set_index("metric")
    assert report.batch_sweep.set_index("batch").loc[4, "J/token: GPU / chip"] == pytest.approx(
        other.loc["J/token", "gpu_over_chip"])
    assert set(report.weight_modes.weights) == set(WEIGHT_MODES) - {"fp16"}
    assert report.weight_modes.used.sum() == 1
    assert list(report.carbon_regions.region) == ["world", "FR"]
    assert report.calibration_errors is not None and len(report.calibration_errors) > 10
    assert len(report.plots) == 9 and len({p.name for p in report.plots}) == 9  # with "which datapath"


def test_warnings_lead_the_report(report, files):
    assert report.comparison.warnings == [] and b"Warning:" not in files["report.md"]
    from tritium.analysis.report_render import render

    tight = build_report(chip="fpga-proto", prefill=16, decode=2, batches=(1,), prefills=(16,), regions=("world",))
    out = render(tight)
    md, page = out["report.md"].decode(), out["report.html"].decode()
    [warning] = tight.comparison.warnings
    assert f"> **Warning:** {warning}" in md and md.index("Warning:") < md.index("## Side by side")
    # the warning leads even the headline that rests on the figures it undermines
    assert md.index("Warning:") < md.index("> Read with the warnings above: ")
    assert page.index('class="warning"') < page.index('class="summary"')
    assert page.count('class="warning"') == 1 and page.index('class="warning"') < page.index("<h2>Side by side")


def test_html_is_self_contained(report, files):
    text = files["report.html"].decode()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", text), "an external resource"
    assert "<script" not in text and "<link" not in text and "@import" not in text
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == len(report.plots)
    for data, plot in zip(images, report.plots):
        assert base64.b64decode(data) == files[f"plots/{plot.name}.png"]
    assert "tritium report --prefill 64 --decode 8 --out DIR" in text
    assert "[tlu]" in text and "h100-sxm" in text  # the chip and GPU TOML are embedded
    for name in RATIOS:
        assert name in text


def test_markdown_twin_and_configs(report, files):
    md = files["report.md"].decode()
    for plot in report.plots:
        assert f"(plots/{plot.name}.png)" in md
        assert files[f"plots/{plot.name}.svg"].lstrip().startswith(b"<?xml")
        assert files[f"plots/{plot.name}.png"].startswith(b"\x89PNG")
    assert md.count("```toml") == 5
    assert "| J/token | mJ |" in md
    chip = tomllib.loads(files["chip.toml"].decode())
    assert chip["name"] == "edge-lpddr5"
    assert tomllib.loads(files["gpu.toml"].decode())["name"] == "h100-sxm"
    assert tomllib.loads(files["calibration.toml"].decode())["name"] == "default"


def test_write_report_writes_every_file(report, files):
    names = {"report.html", "report.md", "chip.toml", "gpu.toml", "calibration.toml", "comparison.json"}
    names |= {f"plots/{p.name}.{ext}" for p in report.plots for ext in ("png", "svg")}
    assert set(files) == names
    assert all(files.values())


def _chromium(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium and chromedriver are not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1200,900",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def test_html_renders_every_plot_in_chromium(report, written, tmp_path):
    html = written[0] / "report.html"
    driver = _chromium(tmp_path)
    try:
        driver.get(html.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight,"
            " i.getBoundingClientRect().width])")
        assert len(images) == len(report.plots)
        for alt, complete, width, height, shown in images:
            assert complete and width > 400 and height > 200 and shown > 0, alt
        title = driver.title
        headings = driver.execute_script("return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        text = driver.execute_script("return document.body.innerText")
        # nothing wider than the window: long tables wrap instead of pushing the page sideways
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        shot = tmp_path / "report.png"
        assert driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    assert title == report.title
    for section in ("Side by side", "Plots", "Memory, links and power", "Die area by component", "Cost to make",
                    "Carbon by grid region", "Notes", "Sources"):
        assert section in headings
    assert not re.search(r"\bnan\b", text, re.IGNORECASE) and "peak power" in text
    assert overflow <= 0
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
