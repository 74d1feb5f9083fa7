"""World Bank API adapter on recorded responses served from 127.0.0.1 (never the network)."""

from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from p2c_research.errors import SourceError
from p2c_research.sources import worldbank
from p2c_research.sources.fetch import FetchReport, fetch_source
from p2c_research.store import read_provenance, validate_panel

pytest_plugins = ["http_fixtures"]

FAST = {"retries": 1, "backoff": 0.01, "timeout": 5.0}
WB_INDICATOR = "/v2/country/all/indicator/"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
USERS = WB_INDICATOR + "IT.NET.USER.ZS"


@pytest.fixture
def wb(recorded_server):
    recorded_server.serve_worldbank()
    return recorded_server


def fetch_wb(server, tmp_path, codes, **kw) -> FetchReport:
    options = {**FAST, "start": 2021, "end": 2023, **kw}
    return fetch_source("worldbank", base_url=server.url + "/v2", codes=codes,
                        raw_root=tmp_path / "raw", **options)


def _fx(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def value(panel: pd.DataFrame, iso3: str, indicator: str, year: int) -> float:
    hit = panel[(panel["iso3"] == iso3) & (panel["indicator"] == indicator)
                & (panel["year"] == year)]
    assert len(hit) == 1, (iso3, indicator, year, hit)
    return float(hit["value"].iloc[0])


# --------------------------------------------------------------------------- parsing (pure)
def test_parse_page_reads_string_meta_numbers_and_records():
    meta, records = worldbank.parse_page(_fx("worldbank/country_p1.json"))
    assert (meta.page, meta.pages, meta.per_page, meta.total) == (1, 2, 4, 7)
    assert [r["id"] for r in records] == ["ARB", "KHM", "EAS", "MDG"]


def test_parse_page_of_an_empty_query_has_no_records():
    meta, records = worldbank.parse_page(_fx("worldbank/empty_p1.json"), "EMPTY.CODE")
    assert meta.total == 0 and records == []


def test_error_envelope_names_code_and_api_message():
    with pytest.raises(SourceError) as err:
        worldbank.parse_page(_fx("worldbank/error_envelope.json"), "NOT.A.CODE")
    text = str(err.value)
    assert "NOT.A.CODE" in text and "Invalid value" in text and "id 120" in text
    assert "The provided parameter value is not valid" in text


def test_html_body_is_a_source_error_with_its_title():
    with pytest.raises(SourceError, match=r"not JSON.*Request Error"):
        worldbank.parse_page(_fx("worldbank/error_400.html"), "BAD.SOURCE")


def test_country_list_marks_region_na_as_aggregate():
    _, p1 = worldbank.parse_page(_fx("worldbank/country_p1.json"))
    _, p2 = worldbank.parse_page(_fx("worldbank/country_p2.json"))
    frame = worldbank.parse_countries(p1 + p2)
    assert set(frame.loc[frame["aggregate"], "iso3"]) == {"ARB", "EAS", "WLD"}
    assert set(frame.loc[~frame["aggregate"], "iso3"]) == {"KHM", "MDG", "VNM", "XKX"}


def test_records_to_raw_drops_nulls_and_keeps_numbers():
    _, records = worldbank.parse_page(_fx("worldbank/IT.NET.USER.ZS_p1.json"))
    raw = worldbank.records_to_raw(records)
    # page 1: ARB 2023, ARB 2022, KHM 2023 (null), KHM 2022
    assert list(zip(raw["iso3"], raw["year"], strict=True)) == [
        ("ARB", 2023), ("ARB", 2022), ("KHM", 2022)]
    assert raw["value"].tolist() == [70.2115, 68.0432, 56.7328]


# --------------------------------------------------------------------------- fetch over HTTP
def test_fetch_follows_pages_drops_aggregates_and_nulls(wb, tmp_path):
    report = fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"])
    assert wb.count(USERS) == 3
    assert [wb.count(USERS, page=p) for p in (1, 2, 3)] == [1, 1, 1]
    assert wb.count("/v2/country") == 2
    _, query = next(r for r in wb.requests if r[0] == USERS)
    assert query["date"] == "2021:2023" and query["format"] == "json"

    panel = validate_panel(report.panel)
    expected = {("KHM", 2022): 56.7328, ("KHM", 2021): 55.6004, ("MDG", 2022): 20.3938,
                ("MDG", 2021): 19.8, ("VNM", 2022): 78.0589}  # VNM: iso3 recovered from ISO2
    got = {(r.iso3, r.year): r.value for r in panel.itertuples()}
    assert got == expected
    assert report.rows == 5
    assert set(panel["source"]) == {"worldbank_api:IT.NET.USER.ZS"}
    assert set(panel["indicator"]) == {"internet_users"}
    assert any("ARB" in m and "WLD" in m for m in report.messages)
    assert not report.from_cache and report.n_downloaded == 5  # 2 country pages + 3 data pages
    assert "5 tidy row(s)" in report.summary()


def test_sidecar_records_url_parameters_time_sha_and_licence(wb, tmp_path):
    report = fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"])
    page2 = tmp_path / "raw" / "worldbank" / "IT.NET.USER.ZS.p002.json"
    assert page2 in report.files
    prov = read_provenance(page2)
    assert prov["url_or_file"].startswith(wb.url + USERS) and "page=2" in prov["url_or_file"]
    assert prov["parameters"]["date"] == "2021:2023" and prov["parameters"]["page"] == 2
    assert prov["sha256"] == hashlib.sha256(page2.read_bytes()).hexdigest()
    assert prov["licence"].startswith("CC BY 4.0")
    assert prov["retrieved_at"][:4].isdigit()
    assert page2.read_bytes() == _fx("worldbank/IT.NET.USER.ZS_p2.json")


def test_second_fetch_within_ttl_is_served_from_cache_and_refresh_forces(wb, tmp_path):
    first = fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"])
    n_requests = len(wb.requests)
    second = fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"])
    assert second.from_cache and len(wb.requests) == n_requests
    pd.testing.assert_frame_equal(first.panel, second.panel)

    fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"], refresh=True)
    assert len(wb.requests) == n_requests + 5
    fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"], ttl_hours=0)
    assert len(wb.requests) == n_requests + 10
    # another year window is another query: not served from the cache
    fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"], start=2010)
    assert wb.count(USERS) == 3 * 4


def test_unknown_code_raises_with_the_api_message_and_caches_nothing(wb, tmp_path):
    with pytest.raises(SourceError) as err:
        fetch_wb(wb, tmp_path, ["NOT.A.CODE"])
    assert "NOT.A.CODE" in str(err.value) and "Invalid value" in str(err.value)
    assert not list((tmp_path / "raw" / "worldbank").glob("NOT.A.CODE*"))


def test_one_bad_code_does_not_stop_the_others(wb, tmp_path):
    report = fetch_wb(wb, tmp_path, ["NOT.A.CODE", "IT.NET.USER.ZS"])
    assert report.rows == 5
    assert len(report.errors) == 1 and "NOT.A.CODE" in report.errors[0]
    assert "1 request(s) failed" in report.summary()


def test_http_400_with_html_is_not_retried(wb, tmp_path):
    with pytest.raises(SourceError, match=r"HTTP 400.*Request Error"):
        fetch_wb(wb, tmp_path, ["BAD.SOURCE"], retries=3)
    assert wb.count(WB_INDICATOR + "BAD.SOURCE") == 1


def test_empty_code_is_no_data_not_an_error(wb, tmp_path):
    report = fetch_wb(wb, tmp_path, ["EMPTY.CODE"])
    assert report.rows == 0 and not report.errors
    assert any("EMPTY.CODE: no data" in m for m in report.messages)


def test_500_then_success_is_retried(recorded_server, tmp_path):
    recorded_server.serve_worldbank()
    path = WB_INDICATOR + "IT.MLT.MAIN.P2"
    body = _fx("worldbank/IT.CEL.SETS.P2_p1.json").replace(
        b"IT.CEL.SETS.P2", b"IT.MLT.MAIN.P2")
    recorded_server.add(path, recorded_server.reply(b"<html><title>Bad gateway</title></html>", status=500,
                                    content_type="text/html"), recorded_server.reply(body))
    report = fetch_wb(recorded_server, tmp_path, ["IT.MLT.MAIN.P2"], retries=2)
    assert recorded_server.count(path) == 2
    assert value(report.panel, "KHM", "fixed_telephone_subscriptions", 2022) == 121.3


def test_persistent_500_gives_up_after_the_retries(recorded_server, tmp_path):
    recorded_server.serve_worldbank()
    path = WB_INDICATOR + "IT.MLT.MAIN.P2"
    recorded_server.add(path, recorded_server.reply(b"oops", status=503, content_type="text/plain"))
    with pytest.raises(SourceError, match=r"after 3 attempt\(s\): HTTP 503"):
        fetch_wb(recorded_server, tmp_path, ["IT.MLT.MAIN.P2"], retries=2)
    assert recorded_server.count(path) == 3


def test_time_out_then_success(recorded_server, tmp_path):
    recorded_server.serve_worldbank()
    path = WB_INDICATOR + "IT.CEL.SETS.P2"
    recorded_server.drop_routes(path)
    body = _fx("worldbank/IT.CEL.SETS.P2_p1.json")
    recorded_server.add(path, recorded_server.reply(body, delay=1.0), recorded_server.reply(body))
    report = fetch_wb(recorded_server, tmp_path, ["IT.CEL.SETS.P2"], timeout=0.3, retries=1)
    assert recorded_server.count(path) == 2
    assert value(report.panel, "KHM", "mobile_subscriptions", 2022) == 121.3


def test_persistent_time_out_is_a_source_error(recorded_server, tmp_path):
    recorded_server.serve_worldbank()
    path = WB_INDICATOR + "IT.CEL.SETS.P2"
    recorded_server.drop_routes(path)
    recorded_server.add(path, recorded_server.reply(b"[]", delay=1.0))
    with pytest.raises(SourceError, match=r"no answer within 0.3 s"):
        fetch_wb(recorded_server, tmp_path, ["IT.CEL.SETS.P2"], timeout=0.3, retries=0)


def test_per_capita_counts_use_population_of_the_same_year(wb, tmp_path):
    report = fetch_wb(wb, tmp_path, ["IP.JRN.ARTC.SC", "SP.POP.TOTL"])
    expected = np.float64(412.37) / np.float64(16589023) * 1e6
    assert value(report.panel, "KHM", "journal_articles", 2021) == pytest.approx(expected,
                                                                                  rel=1e-12)
    assert value(report.panel, "KHM", "population", 2021) == 16589023
    assert set(report.panel["iso3"]) == {"KHM"}  # WLD dropped


def test_interrupted_download_leaves_no_file(recorded_server, tmp_path):
    recorded_server.serve_worldbank()
    path = WB_INDICATOR + "IT.CEL.SETS.P2"
    recorded_server.drop_routes(path)
    recorded_server.add(path, recorded_server.reply(_fx("worldbank/IT.CEL.SETS.P2_p1.json"),
                                    truncate=True))
    with pytest.raises(SourceError, match="connection failed"):
        fetch_wb(recorded_server, tmp_path, ["IT.CEL.SETS.P2"], retries=0)
    folder = tmp_path / "raw" / "worldbank"
    assert not list(folder.glob("IT.CEL.SETS.P2*"))
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_exception_while_writing_leaves_no_partial_file(wb, tmp_path, monkeypatch):
    real_write = pathlib.Path.write_bytes

    def write_half_then_fail(self, data):
        real_write(self, data[: len(data) // 2])
        raise KeyboardInterrupt("simulated Ctrl-C mid-write")

    fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"])  # a complete earlier version
    page1 = tmp_path / "raw" / "worldbank" / "IT.NET.USER.ZS.p001.json"
    before = page1.read_bytes()
    monkeypatch.setattr(pathlib.Path, "write_bytes", write_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        fetch_wb(wb, tmp_path, ["IT.NET.USER.ZS"], refresh=True)
    monkeypatch.undo()
    folder = page1.parent
    assert page1.read_bytes() == before  # the old version is intact
    json.loads(before)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
