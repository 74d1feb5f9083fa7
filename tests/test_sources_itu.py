"""ITU DataHub adapter: the per-country API (empty answer = no data) and CSV exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from p2c_research.errors import DataError, SourceError
from p2c_research.sources import itu
from p2c_research.sources.fetch import fetch_source
from p2c_research.store import read_provenance, validate_panel

pytest_plugins = ["http_fixtures"]

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAST = {"retries": 1, "backoff": 0.01, "timeout": 5.0}


def lookup(panel: pd.DataFrame) -> dict[tuple[str, str, int], float]:
    return {(r.iso3, r.indicator, r.year): r.value for r in panel.itertuples()}


def test_parse_api_reads_string_values_and_empty_list():
    rows = itu.parse_api((FIXTURES / "itu/19306_KHM.json").read_bytes(), "i271GA", "KHM")
    assert rows["year"].tolist() == [2022, 2023, 2024]
    assert rows["value"].tolist() == ["92.1", "93.1", "93.2"]
    assert itu.parse_api(b"[]", "i271GA", "MDG").empty


def test_gateway_message_is_a_source_error():
    with pytest.raises(SourceError, match="Missing Authentication Token"):
        itu.parse_api((FIXTURES / "itu/gateway_403.json").read_bytes(), "i271GA", "KHM")


def test_fetch_per_country_with_empty_answers_and_kosovo(recorded_server, tmp_path):
    recorded_server.serve_itu()
    report = fetch_source("itu", base_url=recorded_server.url, codes=["i271GA", "i99H"],
                          countries=["KHM", "MDG", "XKX"], raw_root=tmp_path, **FAST)
    assert not report.errors
    panel = validate_panel(report.panel)
    assert lookup(panel) == {
        ("KHM", "coverage_4g", 2022): 92.1, ("KHM", "coverage_4g", 2023): 93.1,
        ("KHM", "coverage_4g", 2024): 93.2, ("XKX", "coverage_4g", 2023): 99.5,
        ("KHM", "internet_users", 2023): 60.6839, ("KHM", "internet_users", 2022): 56.7328,
    }
    assert set(panel["source"]) == {"itu_datahub:i271GA", "itu_datahub:i99H"}
    assert "i271GA: no data for 1 of 3 countries" in report.messages
    assert recorded_server.count("/v2/data/bycode/19306/byiso/MDG") == 1
    # the empty answer is cached too, as "no data"
    cached = tmp_path / "itu" / "api" / "i271GA" / "MDG.json"
    assert cached.read_bytes() == b"[]"
    assert read_provenance(cached)["notes"] == "[]: no data"
    again = fetch_source("itu", base_url=recorded_server.url, codes=["i271GA", "i99H"],
                         countries=["KHM", "MDG", "XKX"], raw_root=tmp_path, **FAST)
    assert again.from_cache and again.rows == report.rows


def test_code_without_a_known_datahub_id_is_reported(recorded_server, tmp_path):
    recorded_server.serve_itu()
    report = fetch_source("itu", base_url=recorded_server.url, codes=["i271GA", "i911"],
                          countries=["KHM"], raw_root=tmp_path, **FAST)
    assert any("no DataHub id known for i911" in m for m in report.messages)
    assert report.rows == 3


def test_unreachable_server_stops_early(recorded_server, tmp_path):
    # every request answers the gateway error: the fetch stops after a few, not 217 x codes
    recorded_server.fallback = lambda path, query: recorded_server.reply(
        recorded_server.fixture("itu/gateway_403.json"), status=200)
    with pytest.raises(SourceError, match="first 5 requests all failed"):
        fetch_source("itu", base_url=recorded_server.url, codes=["i271GA"], raw_root=tmp_path,
                     **FAST)
    assert len(recorded_server.requests) == 5


def test_read_export_filters_series_and_handles_bom_and_line_breaks():
    rows = itu.read_export(FIXTURES / "itu/export_coverage.csv", ["i271GA"])
    assert set(rows["code"]) == {"i271GA"}
    assert rows["iso3"].tolist() == ["KHM", "KHM", "MDG", "KSO", "TWN", "GHA"]


def test_import_exports_copies_with_sidecar_and_maps_codes(tmp_path):
    src = FIXTURES / "itu/export_coverage.csv"
    report = fetch_source("itu", path=str(src), raw_root=tmp_path)
    copy = tmp_path / "itu" / "exports" / "export_coverage.csv"
    assert copy.read_bytes() == src.read_bytes()
    prov = read_provenance(copy)
    assert prov["url_or_file"] == str(src.resolve()) and "CC BY-NC-SA" in prov["licence"]
    four_g = report.panel[report.panel["indicator"] == "coverage_4g"]
    assert lookup(four_g) == {("KHM", "coverage_4g", 2022): 92.1,
                              ("KHM", "coverage_4g", 2023): 93.1,
                              ("MDG", "coverage_4g", 2023): 41.0,
                              ("XKX", "coverage_4g", 2023): 99.0}
    assert set(four_g["source"]) == {"itu_datahub_csv:i271GA"}
    text = "\n".join(report.messages)
    assert "TWN" in text and "1 ITU value(s) that are not numbers" in text
    assert fetch_source("itu", path=str(src), raw_root=tmp_path).from_cache


def test_a_csv_that_is_not_an_export_is_refused(tmp_path):
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no ITU DataHub CSV export"):
        fetch_source("itu", path=str(other), raw_root=tmp_path / "raw")
