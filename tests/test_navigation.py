"""Navigation and portability of the outputs: page titles, headers, contents, links, paths, ids.

Unit tests on hand-made pages first; then one country run twice in process
(the batch's engine), whose outputs are checked file by file: the same HTML
apart from the "Generated" line, every relative link resolving inside the
folder, and no path of this machine anywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from p2c_research.runner import page_chrome
from p2c_research.runner.page_chrome import PageInfo

REPORTS = ("01_landscape.html", "02_benchmarking.html", "03_pledge_gap_map.html")


# --------------------------------------------------------------------------- unit
def test_titles_name_country_and_report():
    info = PageInfo(notebook="02_benchmarking", country="KHM")
    assert info.title == "Cambodia — Benchmarking — p2c-research"
    assert PageInfo(notebook="01_landscape", country="KHM").title == (
        "Cambodia — Landscape (360 diagnostic) — p2c-research")
    assert PageInfo(notebook="04_portfolio").title == "Portfolio — p2c-research"
    assert page_chrome.report_title("05_risk_view") == "Risk view"
    assert page_chrome.page_file("04_portfolio") == "portfolio.html"


def test_duplicate_headings_get_unique_anchors_and_the_contents_nest_h3_under_h2():
    page = ('<body><h1 id="T">Title</h1><h2 id="Files">Files<a class="anchor-link" '
            'href="#Files">&#182;</a></h2><h3>Maps &amp; charts</h3>'
            '<h2 id="Files">Files<a class="anchor-link" href="#Files">&#182;</a></h2></body>')
    out, headings = page_chrome.anchor_headings(page)
    assert [(h.level, h.anchor, h.text) for h in headings] == [
        (2, "Files", "Files"), (3, "Maps-charts", "Maps & charts"), (2, "Files-2", "Files")]
    assert out.count('id="Files"') == 1 and 'id="Files-2"' in out and 'href="#Files-2"' in out
    assert page_chrome.anchor_headings(page) == (out, headings)  # same page, same ids
    toc = page_chrome.contents_html(headings)
    assert re.search(r'<li><a href="#Files">Files</a><ol><li><a href="#Maps-charts">'
                     r"Maps &amp; charts</a></li></ol></li>", toc)


def test_decorate_sets_title_header_links_and_contents():
    page = ("<html><head><title>Notebook</title></head><body class='jp-Notebook'>"
            "<h2 id='A'>Alpha</h2><p>x</p></body></html>")
    info = PageInfo(notebook="02_benchmarking", country="KHM", data_vintage="sample, fp 12",
                    params_fingerprint="abc123", generated_at="2026-01-01 00:00 UTC",
                    siblings=("01_landscape", "02_benchmarking", "03_pledge_gap_map"))
    out = page_chrome.decorate(page, info)
    assert "<title>Cambodia — Benchmarking — p2c-research</title>" in out
    hrefs = re.findall(r'href="([^"]+)"', out.split("</header>")[0])
    assert hrefs == ["../index.html", "01_landscape.html", "03_pledge_gap_map.html",
                     "../manifest.json", "#A"]
    assert "abc123" in out and "sample, fp 12" in out
    assert out.index("<header") > out.index("<body")


def test_styler_ids_become_stable_and_keep_css_and_cells_matched():
    import pandas as pd

    frame = pd.DataFrame({"a": [1.5, 2.0]})
    html = "".join(frame.style.set_properties(**{"color": "red"}).to_html() for _ in range(2))
    first, second = re.findall(r'<table id="T_([0-9a-f]+)"', html)
    assert first != second
    stable = page_chrome.stable_ids(html)
    assert re.findall(r'<table id="(T_[^"]+)"', stable) == ["T_p2c1", "T_p2c2"]
    assert first not in stable and second not in stable
    assert "#T_p2c1_row0_col0" in stable and 'id="T_p2c2_row1_col0"' in stable


def test_injected_parameters_cell_gets_a_fixed_id():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("country = 'KHM'")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), cell]
    page_chrome.stable_cell_ids(nb)
    assert nb.cells[1].id == "injected-parameters" and nb.cells[0].id != "injected-parameters"


def test_manifest_names_data_files_relative_to_the_repository(project_root):
    from p2c_research.runner.manifest import repository_path

    assert repository_path(project_root / "data" / "sample" / "panel.parquet") == (
        "data/sample/panel.parquet")
    assert repository_path("/elsewhere/raw/panel.parquet") == "raw/panel.parquet"


def test_index_links_the_portfolio_only_when_it_exists(tmp_path):
    from p2c_research.runner.index import write_index

    (tmp_path / "manifest.json").write_text('{"outputs": []}')
    assert "portfolio.html" not in write_index(tmp_path).read_text()
    (tmp_path / "portfolio.html").write_text("<html></html>")
    assert 'href="portfolio.html"' in write_index(tmp_path).read_text()


# --------------------------------------------------------------------------- one country, twice
@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    """KHM's three reports on the sample, run twice into two folders (in-process engine)."""
    from p2c_research.runner.batch import run_batch

    outs = []
    for k in (1, 2):
        out = tmp_path_factory.mktemp(f"run{k}")
        assert run_batch(["KHM"], out_dir=out, data="sample", local=True, progress=False,
                         workers=1, engine="inprocess") == 0
        outs.append(out)
    return outs[0], outs[1]


def _without_generated_line(text: str) -> str:
    return "\n".join(line for line in text.splitlines()
                     if page_chrome.GENERATED_CLASS not in line)


@pytest.mark.slow
@pytest.mark.parametrize("report", REPORTS)
def test_two_runs_give_the_same_html_apart_from_the_generated_line(two_runs, report):
    first, second = ((out / "KHM" / report).read_text() for out in two_runs)
    assert first.count(page_chrome.GENERATED_CLASS) == 1
    assert _without_generated_line(first) == _without_generated_line(second)
    assert not re.search(r'id="cell-id=[0-9a-f]{8}"', first)  # papermill's random id is gone


@pytest.mark.slow
@pytest.mark.parametrize("report", REPORTS)
def test_reports_have_title_header_and_contents(two_runs, report):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup((two_runs[0] / "KHM" / report).read_text(), "html.parser")
    expected = page_chrome.PAGE_TITLES[report.removesuffix(".html")]
    assert soup.title.string == f"Cambodia — {expected} — p2c-research"
    header = soup.find("header", class_="p2c-chrome")
    assert "Cambodia (KHM)" in header.get_text()
    manifest = __import__("json").loads((two_runs[0] / "manifest.json").read_text())
    entry = next(e for e in manifest["outputs"] if e["html"] == f"KHM/{report}")
    assert entry["params_fingerprint"] in header.get_text()
    assert manifest["data"]["fingerprint"] in header.get_text()
    toc = [a["href"][1:] for a in header.select("nav.p2c-toc a")]
    assert len(toc) >= 3 and len(set(toc)) == len(toc)
    for anchor in toc:  # every entry jumps to a section heading of the page
        target = soup.find(id=anchor)
        assert target is not None and target.name in ("h2", "h3"), anchor
    others = {a["href"] for a in header.select("nav.p2c-crumbs a")}
    assert others == {"../index.html", *(r for r in REPORTS if r != report)}


_ABSOLUTE = ("/work/", "/tmp/", "/home/", "/root/", "/Users/")


@pytest.mark.slow
def test_no_absolute_path_in_any_output_file(two_runs):
    import zipfile

    out = two_runs[0]
    needles = {str(out), str(out.resolve()), str(Path.home()), str(Path(__file__).parents[1]),
               *_ABSOLUTE}
    checked = 0
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != ".p2c-outputs.lock"):
        blobs = [path.read_bytes()]
        if path.suffix == ".xlsx":  # zipped XML: look inside
            with zipfile.ZipFile(path) as z:
                blobs = [z.read(name) for name in z.namelist()]
        for blob in blobs:
            text = blob.decode("utf-8", errors="ignore")
            found = [n for n in needles if n in text]
            assert not found, f"{path.relative_to(out)} contains {found}"
        checked += 1
    assert checked > 30


@pytest.mark.slow
def test_relative_links_of_index_and_reports_resolve_inside_the_folder(two_runs):
    from urllib.parse import unquote, urlparse

    from bs4 import BeautifulSoup

    out = two_runs[0]
    pages = [out / "index.html", *(out / "KHM" / r for r in REPORTS)]
    n_links = 0
    for page in pages:
        soup = BeautifulSoup(page.read_text(), "html.parser")
        ids = {tag["id"] for tag in soup.find_all(id=True)}
        for tag in soup.find_all(["a", "img", "link", "script"]):
            ref = tag.get("href") or tag.get("src")
            if not ref or ref.startswith("data:"):
                continue
            parsed = urlparse(ref)
            assert not parsed.scheme and not ref.startswith("/"), f"{page.name}: {ref}"
            if not parsed.path:
                assert parsed.fragment in ids, f"{page.name}: {ref} names no element"
                continue
            target = (page.parent / unquote(parsed.path)).resolve()
            assert target.is_file() and target.is_relative_to(out.resolve()), f"{page.name}: {ref}"
            n_links += 1
    assert n_links >= 3 + 4 * 3  # index -> reports, reports -> index and siblings
