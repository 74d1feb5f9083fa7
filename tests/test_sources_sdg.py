"""UN SDG API adapter: paging, M49 to ISO3, totals across dimensions, value strings."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from p2c_research.errors import SourceError
from p2c_research.sources import sdg
from p2c_research.sources.fetch import fetch_source
from p2c_research.store import validate_panel

pytest_plugins = ["http_fixtures"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAST = {"retries": 1, "backoff": 0.01, "timeout": 5.0}
DATA = "/v1/sdg/Series/Data"


def _fx(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def lookup(panel: pd.DataFrame) -> dict[tuple[str, str, int], float]:
    return {(r.iso3, r.indicator, r.year): r.value for r in panel.itertuples()}


@pytest.mark.parametrize(("text", "expected"), [
    ("92.1", (92.1, False)), ("NaN", (math.nan, False)), ("", (math.nan, False)),
    (None, (math.nan, False)), ("<0.1", (0.1, True)), (">95", (95.0, True)),
    (" 1e-3 ", (0.001, False)), ("n/a", (math.nan, False)),
])
def test_parse_value(text, expected):
    got = sdg.parse_value(text)
    assert got[1] == expected[1]
    assert (math.isnan(got[0]) and math.isnan(expected[0])) or got[0] == expected[0]


def test_keep_totals_picks_bothsex_allarea_15plus_and_prefers_global_reporting():
    _, records = sdg.parse_page(_fx("sdg/IT_MOB_OWN_p1.json"))
    messages: list[str] = []
    totals = sdg.keep_totals(sdg.records_to_frame(records), messages)
    got = {(r.m49, r.year): r.value for r in totals.itertuples()}
    # KHM 2022: BOTHSEX/ALLAREA/15+ = 85.2 (not FEMALE, URBAN or 15-24);
    # KHM 2023: G (86.0) over N (90.0); MDG 2021 "NaN" dropped; MDG 2022 "<5" -> 5;
    # AFG 2022: ALLAGE (60.2) preferred over 15+ (61.0).
    assert got == {("116", 2022): 85.2, ("116", 2023): 86.0, ("450", 2022): 5.0,
                   ("4", 2022): 60.2}
    assert any("censored" in m for m in messages)


def test_skills_without_total_keep_the_highest_basic_skill():
    _, records = sdg.parse_page(_fx("sdg/SE_ADT_ACTS_p1.json"))
    messages: list[str] = []
    totals = sdg.keep_totals(sdg.records_to_frame(records), messages)
    got = {(r.m49, r.year): r.value for r in totals.itertuples()}
    # KHM 2022 BOTHSEX: CMFL 10.5, COPA 12.3, EMAIL 8.0, TRAF 9.1 -> 12.3 (PCPR and MALE ignored);
    # MDG 2021 has only PCPR (not a basic skill) -> nothing kept.
    assert got == {("116", 2022): 12.3}
    assert any("lower bound" in m for m in messages)


def test_an_unknown_dimension_without_total_is_skipped_not_averaged():
    frame = pd.DataFrame({
        "series": ["IT_MOB_OWN"] * 3, "m49": ["116", "116", "450"], "area": ["", "", ""],
        "year": [2022, 2022, 2022], "value_text": ["10", "20", "30"],
        "dim:Quantile": ["Q1", "Q2", "Q1"],
    })
    messages: list[str] = []
    totals = sdg.keep_totals(frame, messages)
    assert totals[["m49", "value"]].values.tolist() == [["450", 30.0]]
    assert any("Quantile" in m and "skipped" in m for m in messages)


def test_fetch_follows_pages_maps_m49_and_lists_aggregates(recorded_server, tmp_path):
    recorded_server.serve_sdg()
    report = fetch_source("sdg", base_url=recorded_server.url, codes=["IT_MOB_4GNTWK"],
                          raw_root=tmp_path, **FAST)
    assert [recorded_server.count(DATA, seriesCode="IT_MOB_4GNTWK", page=p)
            for p in (1, 2, 3)] == [1, 1, 1]
    panel = validate_panel(report.panel)
    assert lookup(panel) == {("KHM", "coverage_4g", 2022): 92.1,
                             ("KHM", "coverage_4g", 2023): 93.1,
                             ("AFG", "coverage_4g", 2023): 31.5}
    assert set(panel["source"]) == {"unsd_sdg:IT_MOB_4GNTWK"}
    text = "\n".join(report.messages)
    assert "1 World" in text and "419" in text  # aggregates listed with their names
    assert "158" in text  # an area that is no World Bank economy is reported
    assert len(list((tmp_path / "sdg").glob("IT_MOB_4GNTWK.p00?.json"))) == 3


def test_fetch_of_ownership_and_skills_with_year_and_country_filters(recorded_server, tmp_path):
    recorded_server.serve_sdg()
    report = fetch_source("sdg", base_url=recorded_server.url,
                          codes=["IT_MOB_OWN", "SE_ADT_ACTS"], raw_root=tmp_path,
                          countries=["KHM"], start=2022, end=2022, **FAST)
    assert lookup(report.panel) == {("KHM", "mobile_ownership", 2022): 85.2,
                                    ("KHM", "ict_skills", 2022): 12.3}
    again = fetch_source("sdg", base_url=recorded_server.url,
                         codes=["IT_MOB_OWN", "SE_ADT_ACTS"], raw_root=tmp_path, **FAST)
    assert again.from_cache and len(recorded_server.requests) == 2


def test_unknown_series_is_no_data(recorded_server, tmp_path):
    recorded_server.serve_sdg()
    report = fetch_source("sdg", base_url=recorded_server.url, codes=["XX_UNKNOWN"],
                          raw_root=tmp_path, **FAST)
    assert report.rows == 0 and not report.errors
    assert any("XX_UNKNOWN: no data" in m for m in report.messages)


def test_html_error_page_is_a_source_error(recorded_server, tmp_path):
    recorded_server.add(DATA, "<html><head><title>Service Unavailable</title></head></html>",
                        query={"seriesCode": "IT_MOB_3GNTWK"}, content_type="text/html")
    with pytest.raises(SourceError, match=r"not JSON.*Service Unavailable"):
        fetch_source("sdg", base_url=recorded_server.url, codes=["IT_MOB_3GNTWK"],
                     raw_root=tmp_path, **FAST)
    assert not (tmp_path / "sdg").exists() or not list((tmp_path / "sdg").iterdir())


def test_500_then_success_is_retried(recorded_server, tmp_path):
    recorded_server.add(DATA, recorded_server.reply("busy", status=502, content_type="text/plain"),
                        recorded_server.reply(_fx("sdg/IT_MOB_OWN_p1.json")),
                        query={"seriesCode": "IT_MOB_OWN"})
    report = fetch_source("sdg", base_url=recorded_server.url, codes=["IT_MOB_OWN"],
                          raw_root=tmp_path, **FAST)
    assert recorded_server.count(DATA) == 2
    assert ("KHM", "mobile_ownership", 2023) in lookup(report.panel)
