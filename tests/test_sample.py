"""The embedded sample: built by project code from real WDI files, and faithful to them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from p2c_research.catalog import load_catalog
from p2c_research.countries import load_countries
from p2c_research.datasets import select_data
from p2c_research.sample import SampleBuilder
from p2c_research.store import read_panel, read_provenance


@pytest.fixture(scope="module")
def sample_panel(project_root):
    return read_panel(project_root / "data" / "sample" / "panel.parquet")


def _long_values(path, iso3):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return {int(r["Year"]): float(r["Value"]) for r in csv.DictReader(fh)
                if r["Country Code"] == iso3 and r["Value"] != ""}


@pytest.mark.real
@pytest.mark.parametrize("code,indicator", [
    ("IT.CEL.SETS.P2", "mobile_subscriptions"),
    ("IT.NET.BBND.P2", "fixed_broadband_subscriptions"),
    ("EG.ELC.ACCS.ZS", "electricity_access"),
    ("SE.TER.ENRR", "tertiary_enrolment"),
])
def test_khm_sample_values_equal_the_wdi_long_files(real_dir, sample_panel, code, indicator):
    source = {y: v for y, v in _long_values(real_dir / "wdi_long" / f"{code}.csv", "KHM").items()
              if y >= 2000}
    got = sample_panel[(sample_panel.iso3 == "KHM") & (sample_panel.indicator == indicator)]
    assert dict(zip(got["year"], got["value"], strict=True)) == pytest.approx(source)
    assert len(source) > 5


@pytest.mark.real
def test_khm_internet_users_equal_the_bulk_wide_file(real_dir, sample_panel):
    path = real_dir / "wdi_bulk" / "API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
    with open(path, encoding="utf-8-sig", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Country Code"] == "KHM")
    source = {int(y): float(v) for y, v in row.items() if y and y.isdigit() and v and int(y) >= 2000}
    got = sample_panel[(sample_panel.iso3 == "KHM") & (sample_panel.indicator == "internet_users")]
    assert dict(zip(got["year"], got["value"], strict=True)) == pytest.approx(source)
    latest = got.sort_values("year").iloc[-1]
    assert (int(latest.year), round(latest.value, 4)) == (2022, 56.7328)


@pytest.mark.real
def test_per_capita_indicators_divide_by_population_of_the_same_year(real_dir, sample_panel):
    articles = _long_values(real_dir / "wdi_long" / "IP.JRN.ARTC.SC.csv", "KHM")
    pop = _long_values(real_dir / "wdi_long" / "SP.POP.TOTL.csv", "KHM")
    got = sample_panel[(sample_panel.iso3 == "KHM") & (sample_panel.indicator == "journal_articles")]
    for year, value in zip(got["year"], got["value"], strict=True):
        assert value == pytest.approx(articles[year] / pop[year] * 1e6)


def test_sample_covers_every_economy_from_2000_without_aggregates(sample_panel):
    economies = set(load_countries()["iso3"])
    present = set(sample_panel["iso3"])
    assert present <= economies
    assert len(present) >= 210
    assert sample_panel["year"].min() == 2000
    assert sample_panel["year"].max() >= 2024
    assert "WLD" not in present and "SSF" not in present
    wdi_ids = {i.id for i in load_catalog().indicators if i.sources.wdi}
    # every catalog indicator that the snapshot's WDI files carry is in the sample
    assert {"internet_users", "mobile_subscriptions", "gdp_pc_ppp", "secure_servers"} <= set(
        sample_panel["indicator"])
    assert set(sample_panel["indicator"]) <= wdi_ids


def test_sample_carries_provenance_and_attribution(project_root):
    prov = read_provenance(project_root / "data" / "sample" / "panel.parquet")
    assert "CC BY 4.0" in prov["licence"]
    assert "World Bank" in prov["notes"] and prov["inputs"]
    geo = read_provenance(project_root / "data" / "sample" / "naturalearth_110m_admin0.geojson")
    assert "Public domain" in geo["licence"] and "Natural Earth" in geo["source"]


def test_natural_earth_codes_resolve_france_and_norway(project_root):
    geo = json.loads((project_root / "data" / "sample" / "naturalearth_110m_admin0.geojson").read_text())
    codes = {f["properties"]["iso3"] for f in geo["features"]}
    assert {"FRA", "NOR", "KHM", "MDG", "DOM", "MRT", "XKX"} <= codes
    assert len(geo["features"]) == 177


def test_sample_is_the_default_data_choice_and_says_so():
    sel = select_data("sample")
    text = sel.describe()
    assert "embedded sample" in text and "SYNTHETIC" in text


@pytest.mark.real
def test_builder_reproduces_the_committed_sample(real_dir, tmp_path, sample_panel):
    """Rebuilt from the real snapshot, the panel, the ITU pack and the map equal the committed ones."""
    built = SampleBuilder(real_dir, tmp_path, pledges=False).run()
    rebuilt = read_panel(built.paths["panel"])
    pd.testing.assert_frame_equal(rebuilt.reset_index(drop=True), sample_panel.reset_index(drop=True))
    committed = Path(__file__).resolve().parents[1] / "data" / "sample"
    pd.testing.assert_frame_equal(read_panel(built.paths["itu_panel"]),
                                  read_panel(committed / "itu" / "panel.parquet"))
    assert built.paths["geometries"].read_bytes() == \
        (committed / "naturalearth_110m_admin0.geojson").read_bytes()
    assert not list(tmp_path.rglob("*.tmp"))
