"""Navigation of the Quick start's outputs (the four partners) in a real browser.

Page titles, the header's links and the table of contents as chromium shows
them, every link followed offline, and the portfolio link on the index when
the batch writes ``portfolio.html``. Skipped when chromium or playwright is missing.
"""

from __future__ import annotations

import pytest
from test_browser import _watch_console, browser  # noqa: F401  (the shared chromium fixture)

from p2c_research.runner.page_chrome import PAGE_TITLES

pytestmark = pytest.mark.browser

PARTNERS = {"KHM": "Cambodia", "MDG": "Madagascar", "DOM": "Dominican Republic",
            "MRT": "Mauritania"}
REPORTS = ("01_landscape", "02_benchmarking", "03_pledge_gap_map")


@pytest.mark.parametrize("report", REPORTS)
def test_titles_contents_and_links_of_every_partner_report(browser, partner_outputs, report):  # noqa: F811
    for code, name in PARTNERS.items():
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors = _watch_console(page)
        page.goto((partner_outputs / code / f"{report}.html").as_uri())
        assert page.title() == f"{name} — {PAGE_TITLES[report]} — p2c-research"
        assert errors == []
        toc = page.locator("nav.p2c-toc a")
        assert toc.count() >= 3
        first = toc.nth(0).get_attribute("href")
        toc.nth(0).click()
        assert page.url.endswith(first)
        assert page.locator(f"[id='{first[1:]}']").is_visible()
        hrefs = page.eval_on_selector_all("header.p2c-chrome a[href]",
                                          "els => els.map(e => e.getAttribute('href'))")
        for href in (h for h in hrefs if not h.startswith("#")):
            assert (partner_outputs / code / href).resolve().is_file(), (code, href)
        page.click("header.p2c-chrome >> text=All countries")
        assert page.url.endswith("/index.html")
        page.close()


def test_index_links_every_partner_report_and_the_portfolio(browser, partner_outputs):  # noqa: F811
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto((partner_outputs / "index.html").as_uri())
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    for code in PARTNERS:
        for report in REPORTS:
            assert f"{code}/{report}.html" in hrefs
    files = [h for h in hrefs if not h.startswith("#")]
    assert all((partner_outputs / h).resolve().is_file() for h in files), files
    assert (partner_outputs / "portfolio.html").is_file()
    assert "portfolio.html" in hrefs
    # A wheel opens full size on click and closes again, without a script.
    page.locator("img.wheel").first.click()
    overlay = page.locator(".lightbox:target img")
    assert overlay.count() == 1 and overlay.evaluate("el => el.naturalWidth") > 500
    overlay.click()
    assert page.locator(".lightbox:target").count() == 0
    page.close()


def test_portfolio_page_has_its_title(browser, partner_outputs):  # noqa: F811
    portfolio = partner_outputs / "portfolio.html"
    page = browser.new_page()
    page.goto(portfolio.as_uri())
    assert page.title() == "Portfolio — p2c-research"
    assert page.locator("header.p2c-chrome a[href='index.html']").count() == 1
    page.close()


def test_no_raw_id_as_a_column_header_in_the_partners_reports(browser, partner_outputs):  # noqa: F811
    """Every <th> chromium shows in the twelve reports and the portfolio page is a label:
    never a catalog id, sub-pillar id, priority id or a field name of the written CSVs."""
    import pandas as pd

    from p2c_research.catalog import load_catalog
    from p2c_research.labels import is_raw_id
    from p2c_research.params import load_params

    catalog = load_catalog()
    ids = set(catalog.ids) | {sp.id for sp in catalog.sub_pillars}
    pages = [partner_outputs / "portfolio.html"]
    for code in PARTNERS:
        pages += [partner_outputs / code / f"{report}.html" for report in REPORTS]
        ids |= {p.id for p in load_params(code).strategic_priorities.items}
    fields = {str(c) for csv in partner_outputs.glob("*/tables/*.csv")
              for c in pd.read_csv(csv, nrows=0).columns}
    fields -= {"Reports"}  # a field that is its own label
    page = browser.new_page()
    seen = 0
    for path in pages:
        page.goto(path.as_uri())
        headers = page.eval_on_selector_all("th", "els => els.map(e => e.textContent.trim())")
        seen += len(headers)
        raw = sorted({h for h in headers if h and (is_raw_id(h) or h in ids or h in fields)})
        assert raw == [], f"{path.relative_to(partner_outputs)}: raw ids as headers: {raw}"
    page.close()
    assert seen > 300
