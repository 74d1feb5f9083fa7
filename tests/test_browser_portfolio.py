"""The portfolio page of the four partners in a real browser: it loads cleanly and sorts.

Debian's chromium driven by playwright, on the Quick start's batch
(``partner_outputs``); the screenshot goes to ``outputs/screenshots/portfolio.png``.
Skipped when chromium or playwright is missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1300, "height": 1400})
        browser.close()


def _countries_in_order(page) -> list[str]:
    rows = page.locator("#p2c-portfolio-table tbody tr:not(.region)")
    return [rows.nth(k).locator("td").first.inner_text().split("(")[1][:3]
            for k in range(rows.count())]


def test_portfolio_page_lists_the_partners_and_sorts_on_a_header_click(page, partner_outputs,
                                                                       project_root):
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto((partner_outputs / "portfolio.html").as_uri())
    assert errors == []
    assert page.locator("#p2c-portfolio-table tbody tr.region").count() == 4
    # by ITU-D region: Africa, Americas, Arab States, Asia & Pacific
    assert _countries_in_order(page) == ["MDG", "DOM", "MRT", "KHM"]
    assert page.locator("img[alt*='one panel per ITU-D region']").count() == 1

    portfolio = pd.read_csv(partner_outputs / "portfolio.csv")
    by_access = portfolio.sort_values("access_score")["iso3"].tolist()
    access_score = page.locator("#p2c-portfolio-table thead tr.sortable th").nth(2)
    assert access_score.inner_text().startswith("Score")
    access_score.click()
    assert _countries_in_order(page) == by_access
    assert access_score.get_attribute("aria-sort") == "ascending"
    access_score.click()
    assert _countries_in_order(page) == by_access[::-1]

    folder = project_root / "outputs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.goto((partner_outputs / "portfolio.html").as_uri())
    page.screenshot(path=str(folder / "portfolio.png"), full_page=True)
    assert (folder / "portfolio.png").stat().st_size > 20_000
