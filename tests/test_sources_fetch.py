"""``fetch_source`` routing and the command line: `invoke data.fetch` against a recorded server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from p2c_research.catalog import wdi_codes_needed
from p2c_research.errors import SourceError
from p2c_research.sources.fetch import SOURCE_NAMES, fetch_source
from p2c_research.store import read_panel

pytest_plugins = ["http_fixtures"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WB_INDICATOR = "/v2/country/all/indicator/"


def test_unknown_source_lists_the_known_ones():
    with pytest.raises(SourceError, match=r"unknown source 'imf'.*worldbank, sdg, itu"):
        fetch_source("imf")
    assert SOURCE_NAMES == ("worldbank", "sdg", "itu", "wdi-csv", "naturalearth", "pledges")


def test_pledges_route_to_the_importer_with_processed_dir(monkeypatch, tmp_path):
    calls = {}

    def import_pledges(path, *, mapping=None, strict=False, out_dir=None):
        calls.update(path=path, mapping=mapping, strict=strict, out_dir=out_dir)
        out = Path(out_dir) / "pledges.parquet"
        return types.SimpleNamespace(output=out, rejects_path=Path(out_dir) / "rejects.csv",
                                     valid=pd.DataFrame({"a": range(45)}),
                                     report=lambda: "45 valid, 5 rejected")

    monkeypatch.setenv("P2C_ROOT", str(tmp_path))
    monkeypatch.setitem(sys.modules, "p2c_research.sources.pledges",
                        types.SimpleNamespace(import_pledges=import_pledges))
    report = fetch_source("pledges", path="export.csv", mapping="map.yaml", strict=True)
    assert calls == {"path": "export.csv", "mapping": Path("map.yaml"), "strict": True,
                     "out_dir": tmp_path.resolve() / "data" / "processed"}
    assert report.rows == 45 and report.messages == ["45 valid, 5 rejected"]
    assert report.files[0].name == "pledges.parquet"
    with pytest.raises(SourceError, match="needs --path"):
        fetch_source("pledges")


def any_indicator(server):
    """Answer every catalog code with one Cambodian value and one aggregate, in the API's format."""
    def reply(path: str, query: dict[str, str]):
        if not path.startswith(WB_INDICATOR):
            return None
        code = path[len(WB_INDICATOR):]
        records = [{"indicator": {"id": code, "value": code}, "country": {"id": iso2, "value": ""},
                    "countryiso3code": iso3, "date": "2022", "value": value, "unit": "",
                    "obs_status": "", "decimal": 1}
                   for iso3, iso2, value in (("KHM", "KH", 12.5), ("WLD", "1W", 99.0))]
        meta = {"page": 1, "pages": 1, "per_page": int(query.get("per_page", 50)), "total": 2}
        return server.reply(json.dumps([meta, records]))
    return reply


@pytest.mark.skipif(not (PROJECT_ROOT / "tasks.py").exists(), reason="tasks.py not written yet")
@pytest.mark.slow  # subprocesses
def test_invoke_data_fetch_and_build_against_a_recorded_server(recorded_server, tmp_path):
    for page in (1, 2):
        recorded_server.add("/v2/country", recorded_server.fixture(
            f"worldbank/country_p{page}.json"), query={"page": page})
    recorded_server.fallback = any_indicator(recorded_server)
    env = {**os.environ, "P2C_ROOT": str(tmp_path), "P2C_CACHE": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "invoke", "data.fetch", "--source", "worldbank",
           "--base-url", recorded_server.url + "/v2"]
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    codes = wdi_codes_needed()
    assert f"worldbank: {len(codes) + 2} file(s)" in done.stdout  # + 2 country-list pages
    raw = tmp_path / "data" / "raw" / "worldbank"
    assert sorted(p.name for p in raw.glob("*.p001.json")) == sorted(
        [f"{c}.p001.json" for c in codes] + ["_country.p001.json"])
    assert all((raw / f"{c}.p001.json.provenance.json").exists() for c in codes)

    done = subprocess.run([sys.executable, "-m", "invoke", "data.build"], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    panel = read_panel(tmp_path / "data" / "processed" / "panel.parquet")
    assert set(panel["iso3"]) == {"KHM"}
    assert panel.loc[panel["indicator"] == "internet_users", "value"].tolist() == [12.5]
    assert panel["source"].str.startswith("worldbank_api:").all()


@pytest.mark.skipif(not (PROJECT_ROOT / "tasks.py").exists(), reason="tasks.py not written yet")
def test_invoke_reports_a_source_error_without_traceback(recorded_server, tmp_path):
    env = {**os.environ, "P2C_ROOT": str(tmp_path)}
    recorded_server.add("/v2/country", recorded_server.fixture("worldbank/error_envelope.json"))
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "data.fetch", "--source", "worldbank",
         "--base-url", recorded_server.url + "/v2"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error: World Bank API rejected the country list" in done.stderr
    assert "Traceback" not in done.stderr
