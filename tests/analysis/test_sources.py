"""Every figure cites a source inside the repository: no citation points at a file outside it,
and every ``docs/sources.md §N`` a data file or docstring cites exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("analysis", "sim", "hdl", "workloads", "tritium", "docs", "reports", "tests")
SUFFIXES = {".py", ".toml", ".md", ".html", ".json"}
OUTSIDE = "shared/" + "reference"  # spelled in two parts so this file does not match itself


def _files():
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                yield path


def test_no_citation_points_outside_the_repository():
    offenders = [str(p.relative_to(ROOT)) for p in _files() if OUTSIDE in p.read_text(errors="replace")]
    assert offenders == []


def test_every_cited_section_of_sources_md_exists():
    text = (ROOT / "docs" / "sources.md").read_text()
    sections = set(re.findall(r"§(\d+[a-e]?)\.", text))
    cited = {}
    for path in _files():
        for section in re.findall(r"sources\.md`?`? §(\d+[a-e]?)", path.read_text(errors="replace")):
            cited.setdefault(section, str(path.relative_to(ROOT)))
    assert cited and not {s: f for s, f in cited.items() if s not in sections and s.rstrip("abcde") not in sections}
