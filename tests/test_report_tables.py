"""The reports' tables: labelled headers, numbers by significant figures, long tables collapsed.

The partner test builds the three reports of the four P2C partners through the
report functions (no kernel) and reads every header of every table they show.
"""

from __future__ import annotations

import pandas as pd
import pytest
from bs4 import BeautifulSoup

from p2c_research.catalog import load_catalog
from p2c_research.config import project_root
from p2c_research.labels import is_raw_id
from p2c_research.reports.tables import COLLAPSE_ROWS, format_cell, render_table

PARTNERS = ("KHM", "MDG", "DOM", "MRT")
SAMPLE_PANEL = project_root() / "data" / "sample" / "panel.parquet"
needs_sample = pytest.mark.skipif(not SAMPLE_PANEL.exists(),
                                  reason="embedded sample not built yet")


def _soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_values_read_by_significant_figures_not_fixed_decimals() -> None:
    frame = pd.DataFrame({"indicator": ["Fixed telephone subscriptions"], "value": [0.165],
                          "year": pd.array([2023], dtype="Int64"), "pledges": [1234]})
    page = _soup(render_table(frame).html)
    cells = [td.get_text() for td in page.find_all("td")]
    assert cells == ["Fixed telephone subscriptions", "0.165", "2023", "1,234"]
    assert format_cell(float("nan")) == "–" and format_cell(True) == "yes"
    from p2c_research.reports.landscape_report import _val

    assert _val(0.165) == "0.165"


def test_headers_are_labelled_and_text_left_numbers_right() -> None:
    frame = pd.DataFrame({"priority_id": ["<b>x</b>"], "usd_per_capita": [2.5],
                          "coverage": ["62% (5/8)"]})
    page = _soup(render_table(frame).html)
    heads = [(th.get_text(), th["class"]) for th in page.find_all("th")]
    assert heads == [("Priority", ["txt"]), ("Support (USD per person)", ["num"]),
                     ("Coverage", ["num"])]
    assert page.find("td").get_text() == "<b>x</b>"  # escaped, shown as text
    assert page.find("b") is None


def test_a_long_table_is_collapsed_with_its_summary_line() -> None:
    short = render_table(pd.DataFrame({"value": range(COLLAPSE_ROWS)}))
    assert not short.collapsed and "<details" not in short.html
    long = render_table(pd.DataFrame({"value": range(COLLAPSE_ROWS + 5)}),
                        summary="20 pledges, USD 1 bn in all — show")
    page = _soup(long.html)
    details = page.find("details")
    assert long.collapsed and details is not None
    assert details.find("summary").get_text() == "20 pledges, USD 1 bn in all — show"
    assert len(details.find("table").find("tbody").find_all("tr")) == COLLAPSE_ROWS + 5


def test_rendering_is_deterministic() -> None:
    frame = pd.DataFrame({"indicator": ["a", "b"], "value": [1.23456, None]})
    assert render_table(frame).html == render_table(frame.copy()).html
    assert "id=" not in render_table(frame).html  # no random Styler ids


def _headers(html: str) -> list[str]:
    return [th.get_text(strip=True) for th in _soup(html).find_all("th")]


def _partner_pages(iso3: str, out) -> tuple[list[str], set[str], set[str], dict]:
    """Every table header of the three reports of ``iso3``, the CSV field names,
    the priority ids and what the pledge report shows of its pledge table."""
    from p2c_research.context import open_context
    from p2c_research.reports import benchmark_report as br
    from p2c_research.reports import landscape_report as lr
    from p2c_research.reports import pledge_report as pr
    from p2c_research.reports.contract import members

    ctx = open_context(iso3, "", "sample", str(out))
    html: list[str] = []
    land = lr.build(ctx)
    assert land.ok, land.error
    fields = {c for _, frame in members(land.tables) for c in frame.columns}
    for _, section in members(land.sections):
        for part in section.parts:
            if isinstance(part, pd.DataFrame):
                html.append(render_table(part).html)
            elif hasattr(part, "html"):
                html.append(part.html)
    bench = br.build(ctx)
    html += [t.html for t in (bench.summary_table(), bench.no_data_html(), bench.peers_table(),
                              bench.trend_table(), bench.models_table())]
    for _, frame in members(bench.tables):
        fields |= set(frame.columns)
    pledge = pr.build(ctx)
    html += [pledge.table_html(name).html for name, _ in members(pledge.tables)
             if name != "action_plan"]
    html += [pledge.league_html().html, pledge.no_data_html().html]
    for _, frame in members(pledge.tables):
        fields |= {str(c) for c in frame.columns}
    headers = [h for page in html for h in _headers(page)]
    priorities = {p.id for p in ctx.params.strategic_priorities.items}
    reaching = pledge.sections.pledges_reaching.parts[0]
    scores = land.landscape.scores
    no_data = set(scores.loc[scores["value"].isna(), "name"])
    with_numbers = [bench.summary_table().html, bench.trend_table().html,
                    pledge.sections.plan_indicators.parts[0].html,
                    *[render_table(p).html for p in land.sections.scores.parts
                      if isinstance(p, pd.DataFrame)]]
    return headers, fields, priorities, {"html": reaching.html, "table":
                                         pledge.tables.pledges_reaching,
                                         "no_data": no_data, "with_numbers": with_numbers}


@needs_sample
@pytest.mark.slow  # builds twelve reports
def test_partner_reports_show_no_raw_id_as_a_header(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("P2C_CACHE", str(tmp_path / "cache"))
    catalog = load_catalog()
    ids = set(catalog.ids) | {sp.id for sp in catalog.sub_pillars}
    for iso3 in PARTNERS:
        headers, fields, priorities, pledges = _partner_pages(iso3, tmp_path / "out")
        assert len(headers) > 100
        raw = sorted({h for h in headers if is_raw_id(h) or h in ids or h in priorities
                      or h in fields or (": " in h and h.split(": ", 1)[1] in ids | priorities)})
        assert raw == [], f"{iso3}: raw ids as headers: {raw}"
        # The long pledge table is collapsed, its summary counts every pledge.
        page = _soup(pledges["html"])
        summary = page.find("details").find("summary").get_text()
        n = len(pledges["table"])
        assert summary.startswith(f"{n} pledges, USD "), summary
        assert len(page.find("details").find("tbody").find_all("tr")) == n
        # Indicators without data are listed once per report, not in the other tables.
        assert sum(h == "Reason" for h in headers) == (3 if pledges["no_data"] else 0)
        for page in pledges["with_numbers"]:
            cells = {td.get_text() for td in _soup(page).find_all("td")}
            assert not cells & pledges["no_data"], (iso3, cells & pledges["no_data"])
