"""The ITU pack of the embedded sample, checked against the raw DataHub export rows.

Every expected value is computed here from the CSV rows of ``../shared/real``
with the standard library's csv module (exports, WDI long files and the WDI
bulk file), independently of the adapter and of :mod:`p2c_research.units`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from p2c_research.datasets import SAMPLE_ITU_PANEL, load_panel, select_data
from p2c_research.store import read_panel, read_provenance


@pytest.fixture(scope="module")
def pack(project_root):
    return read_panel(project_root / "data" / "sample" / SAMPLE_ITU_PANEL)


def export_rows(real: Path, file: str, code: str, iso3: str) -> dict[int, tuple[float, str]]:
    """year -> (value, data note) of one series and economy in a DataHub export."""
    with open(real / "itu_datahub" / file, encoding="utf-8-sig", newline="") as fh:
        return {int(r["dataYear"]): (float(r["dataValue"]), r["dataNote"])
                for r in csv.DictReader(fh)
                if r["seriesCode"] == code and r["entityIso"] == iso3 and r["dataValue"] != ""}


def wdi_long(real: Path, code: str, iso3: str) -> dict[int, float]:
    with open(real / "wdi_long" / f"{code}.csv", encoding="utf-8-sig", newline="") as fh:
        return {int(r["Year"]): float(r["Value"]) for r in csv.DictReader(fh)
                if r["Country Code"] == iso3}


def internet_users(real: Path, iso3: str) -> dict[int, float]:
    path = next((real / "wdi_bulk").glob("API_IT.NET.USER.ZS_*.csv"))
    with open(path, encoding="utf-8-sig", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Country Code"] == iso3)
    return {int(y): float(v) for y, v in row.items() if y.isdigit() and v != ""}


def got(pack, iso3: str, indicator: str, year: int) -> tuple[float, str]:
    row = pack[(pack.iso3 == iso3) & (pack.indicator == indicator) & (pack.year == year)]
    assert len(row) == 1, (iso3, indicator, year)
    return float(row["value"].iloc[0]), str(row["source"].iloc[0])


def bandwidth_per_user(real: Path, iso3: str, year: int) -> float:
    mbps = export_rows(real, "lit_equipped_international_bandwidth_capacity.csv", "i4214l",
                       iso3)[year][0]
    users = wdi_long(real, "SP.POP.TOTL", iso3)[year] * internet_users(real, iso3)[year] / 100
    return mbps * 1000 / users  # kbit/s per Internet user


@pytest.mark.real
@pytest.mark.parametrize("iso3,year", [("KHM", 2022), ("MDG", 2022), ("DOM", 2022)])
def test_bandwidth_per_internet_user(real_dir, pack, iso3, year):
    value, source = got(pack, iso3, "international_bandwidth_per_user", year)
    assert value == pytest.approx(bandwidth_per_user(real_dir, iso3, year), rel=1e-9)
    assert source == ("itu_datahub_csv:i4214l per wdi_file:SP.POP.TOTL and "
                      "wdi_file:IT.NET.USER.ZS")


@pytest.mark.real
@pytest.mark.parametrize("iso3", ["KHM", "MDG", "DOM"])
def test_per_100_series_and_itu_own_price_shares_are_taken_as_published(real_dir, pack, iso3):
    mbb = export_rows(real_dir, "active_mobile_broadband_subscriptions.csv", "i911mw", iso3)
    fbb = export_rows(real_dir, "fixed_broadband_internet_5GB.csv", "i154_FBB5_GNI", iso3)
    mob = export_rows(real_dir, "data_only_mobile_broadband_5GB.csv", "i271mb_5GB_GNI", iso3)
    for indicator, rows, code in (("mobile_broadband_subscriptions", mbb, "i911mw"),
                                  ("fixed_broadband_price", fbb, "i154_FBB5_GNI"),
                                  ("mobile_data_price", mob, "i271mb_5GB_GNI")):
        year = max(rows)
        assert got(pack, iso3, indicator, year) == (pytest.approx(rows[year][0]),
                                                    f"itu_datahub_csv:{code}")


@pytest.mark.real
def test_us_dollar_price_is_converted_with_wdi_gni_where_itu_gives_no_share(real_dir, pack):
    # Burundi 2022: the export's % of GNI is 0 (not available), the US$ price is there
    share = export_rows(real_dir, "fixed_broadband_internet_5GB.csv", "i154_FBB5_GNI", "BDI")
    usd = export_rows(real_dir, "fixed_broadband_internet_5GB.csv", "i154_FBB5$", "BDI")
    assert share[2022][0] == 0.0
    gni = wdi_long(real_dir, "NY.GNP.PCAP.CD", "BDI")[2022]
    value, source = got(pack, "BDI", "fixed_broadband_price", 2022)
    assert value == pytest.approx(usd[2022][0] / (gni / 12) * 100)
    assert source == "itu_datahub_csv:i154_FBB5$ per monthly wdi_file:NY.GNP.PCAP.CD"


@pytest.mark.real
def test_throughput_units_are_read_from_the_note_or_the_magnitude(real_dir, pack):
    khm = export_rows(real_dir, "average_download_throughput_fixed_broadband.csv", "i147dl", "KHM")
    syr = export_rows(real_dir, "average_download_throughput_fixed_broadband.csv", "i147dl", "SYR")
    assert khm[2024][0] == pytest.approx(5.528e7)          # labelled "bits": bit/s
    assert got(pack, "KHM", "fixed_broadband_download_speed", 2024)[0] == pytest.approx(55.28)
    assert syr[2018] == (512.0, "512kbit/s")                 # the note says kbit/s
    assert got(pack, "SYR", "fixed_broadband_download_speed", 2018)[0] == pytest.approx(0.512)
    speeds = pack[pack.indicator == "fixed_broadband_download_speed"]["value"]
    assert speeds.between(0.1, 2000).all()                  # no 2.2e13 "bits" left


@pytest.mark.real
def test_zero_latency_means_not_available(real_dir, pack):
    che = export_rows(real_dir, "packet_latency_fixed_broadband.csv", "i147l", "CHE")
    assert che[2020][0] == 0.0
    lat = pack[(pack.iso3 == "CHE") & (pack.indicator == "fixed_broadband_latency")]
    assert 2020 not in set(lat["year"])


def test_pack_is_kept_apart_with_its_licence(project_root, pack):
    folder = project_root / "data" / "sample" / "itu"
    notice = (folder / "LICENCE.md").read_text(encoding="utf-8")
    assert "CC BY-NC-SA 3.0 IGO" in notice and "--no-itu" in notice
    prov = read_provenance(folder / "panel.parquet")
    assert "CC BY-NC-SA 3.0 IGO" in prov["licence"]
    assert set(pack["source"].str.split(":").str[0]) == {"itu_datahub_csv"}
    wdi = read_panel(project_root / "data" / "sample" / "panel.parquet")
    assert not wdi["source"].str.startswith("itu").any()
    manifest = json.loads((project_root / "data" / "sample" / "MANIFEST.json").read_text())
    assert manifest["itu_panel"]["file"] == SAMPLE_ITU_PANEL


def test_itu_values_win_for_ict_series_and_the_switch_leaves_them_out():
    with_itu = load_panel(select_data("sample"))
    without = load_panel(select_data("sample", itu=False))
    assert select_data("sample:no-itu") == select_data("sample", itu=False)
    khm = with_itu[(with_itu.iso3 == "KHM") & (with_itu.indicator == "fixed_broadband_subscriptions")
                   & (with_itu.year == 2024)]
    assert khm["source"].tolist() == ["itu_datahub_csv:i992b"]
    khm = without[(without.iso3 == "KHM") & (without.indicator == "fixed_broadband_subscriptions")
                  & (without.year == 2024)]
    assert khm["source"].tolist() == ["wdi_file:IT.NET.BBND.P2"]
    assert not without["source"].str.startswith("itu").any()
    assert "coverage_4g" in set(with_itu["indicator"]) - set(without["indicator"])
    assert select_data("sample").fingerprint() != select_data("sample", itu=False).fingerprint()
    assert "CC BY-only build" in select_data("sample", itu=False).describe()
    assert "CC BY-NC-SA 3.0 IGO (non-commercial)" in select_data("sample").describe()
