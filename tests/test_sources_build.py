"""``data.build`` (precedence across publishers) and ``data.diff`` on small hand-made raw caches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p2c_research.build import build_processed, diff_panels, format_diff
from p2c_research.errors import DataError
from p2c_research.precedence import PRECEDENCE_ICT, PRECEDENCE_OTHER, merge_sources, precedence
from p2c_research.sources.rawcache import RawCache
from p2c_research.store import Provenance, read_panel, read_provenance, write_panel

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def rows(*records: tuple) -> pd.DataFrame:
    return pd.DataFrame(records, columns=["iso3", "indicator", "year", "value", "source"])


def test_precedence_orders():
    assert precedence("internet_users") == PRECEDENCE_ICT  # has an ITU code
    assert precedence("electricity_access") == PRECEDENCE_OTHER
    assert PRECEDENCE_ICT[0] == "itu_datahub" and PRECEDENCE_OTHER[0] == "worldbank_api"


def test_merge_picks_by_precedence_fills_gaps_and_lists_conflicts():
    merged, conflicts = merge_sources(rows(
        ("KHM", "internet_users", 2023, 55.9, "wdi_file:IT.NET.USER.ZS"),
        ("KHM", "internet_users", 2023, 56.0, "worldbank_api:IT.NET.USER.ZS"),
        ("KHM", "internet_users", 2023, 60.6839, "itu_datahub:i99H"),
        ("KHM", "internet_users", 2020, 53.6508, "worldbank_api:IT.NET.USER.ZS"),
        ("KHM", "electricity_access", 2022, 90.0, "worldbank_api:EG.ELC.ACCS.ZS"),
        ("KHM", "electricity_access", 2022, 90.5, "wdi_file:EG.ELC.ACCS.ZS"),
        ("KHM", "electricity_access", 2019, 89.0, "wdi_file:EG.ELC.ACCS.ZS"),
        ("KHM", "coverage_4g", 2023, 93.1, "unsd_sdg:IT_MOB_4GNTWK"),
        ("KHM", "coverage_4g", 2023, 93.1, "itu_datahub_csv:i271GA"),
    ))
    kept = {(r.indicator, r.year): (r.value, r.source) for r in merged.itertuples()}
    assert kept == {
        ("internet_users", 2023): (60.6839, "itu_datahub:i99H"),
        ("internet_users", 2020): (53.6508, "worldbank_api:IT.NET.USER.ZS"),
        ("electricity_access", 2022): (90.0, "worldbank_api:EG.ELC.ACCS.ZS"),
        ("electricity_access", 2019): (89.0, "wdi_file:EG.ELC.ACCS.ZS"),
        ("coverage_4g", 2023): (93.1, "itu_datahub_csv:i271GA"),
    }
    # losers more than 1% away from the kept value: WB 56.0 and WDI 55.9 against ITU 60.68;
    # WDI 90.5 vs WB 90.0 is 0.56%, and the SDG 4G value is equal: not conflicts.
    assert sorted(zip(conflicts["other_source"], conflicts["rel_diff"].round(6),
                      strict=True)) == sorted([
        ("worldbank_api:IT.NET.USER.ZS", round(abs(56.0 - 60.6839) / 60.6839, 6)),
        ("wdi_file:IT.NET.USER.ZS", round(abs(55.9 - 60.6839) / 60.6839, 6)),
    ])
    assert set(conflicts["kept_source"]) == {"itu_datahub:i99H"}


# --------------------------------------------------------------------------- hand-made raw cache
def wb_page(code: str, records: list[tuple[str, str, int, float | None]]) -> bytes:
    meta = {"page": 1, "pages": 1, "per_page": 1000, "total": len(records)}
    recs = [{"indicator": {"id": code, "value": code}, "country": {"id": iso2, "value": ""},
             "countryiso3code": iso3, "date": str(year), "value": value, "unit": "",
             "obs_status": "", "decimal": 1} for iso3, iso2, year, value in records]
    return json.dumps([meta, recs]).encode()


def make_raw_cache(root: Path) -> None:
    prov = Provenance(source="test", url_or_file="hand-made", licence="test",
                      parameters={"format": "json"})
    wb = RawCache("worldbank", root)
    wb.write(wb.path("_country.p001.json"), (FIXTURES / "worldbank/country_p1.json").read_bytes()
             .replace(b'"pages":2', b'"pages":1'), prov)
    wb.write(wb.path("IT.NET.USER.ZS.p001.json"), wb_page("IT.NET.USER.ZS", [
        ("KHM", "KH", 2023, 56.0), ("KHM", "KH", 2020, 53.6508), ("ARB", "1A", 2023, 70.0),
        ("KHM", "KH", 1999, 1.0)]), prov)
    wb.write(wb.path("EG.ELC.ACCS.ZS.p001.json"), wb_page("EG.ELC.ACCS.ZS", [
        ("KHM", "KH", 2022, 90.0)]), prov)
    itu = RawCache("itu", root)
    itu.write(itu.path("api", "i99H", "KHM.json"),
              (FIXTURES / "itu/11624_KHM.json").read_bytes(), prov)
    wdi = RawCache("wdi-csv", root)
    wdi.write(wdi.path("EG.ELC.ACCS.ZS.csv"),
              b"Country Name,Country Code,Year,Value\r\nCambodia,KHM,2019,89.0\r\n"
              b"Cambodia,KHM,2022,95.0\r\n", prov)
    sdg = RawCache("sdg", root)
    sdg.write(sdg.path("IT_MOB_OWN.p001.json"), (FIXTURES / "sdg/IT_MOB_OWN_p1.json").read_bytes(),
              prov)


def test_build_processed_applies_precedence_and_records_sources(tmp_path):
    make_raw_cache(tmp_path / "raw")
    out = tmp_path / "processed" / "panel.parquet"
    report = build_processed(raw_root=tmp_path / "raw", out=out)
    panel = read_panel(out)
    kept = {(r.iso3, r.indicator, r.year): (r.value, r.source) for r in panel.itertuples()}
    assert kept[("KHM", "internet_users", 2023)] == (60.6839, "itu_datahub:i99H")
    assert kept[("KHM", "internet_users", 2022)] == (56.7328, "itu_datahub:i99H")
    assert kept[("KHM", "internet_users", 2020)] == (53.6508, "worldbank_api:IT.NET.USER.ZS")
    assert kept[("KHM", "electricity_access", 2022)] == (90.0, "worldbank_api:EG.ELC.ACCS.ZS")
    assert kept[("KHM", "electricity_access", 2019)] == (89.0, "wdi_file:EG.ELC.ACCS.ZS")
    assert kept[("KHM", "mobile_ownership", 2022)] == (85.2, "unsd_sdg:IT_MOB_OWN")
    assert ("KHM", "internet_users", 1999) not in kept  # before first_year
    assert not (panel["iso3"] == "ARB").any()
    assert report.rows == len(panel)

    prov = read_provenance(out)
    assert any(i["file"] == "itu/api/i99H/KHM.json" and len(i["sha256"]) == 64
               for i in prov["inputs"])
    assert prov["parameters"]["precedence_ict"][0] == "itu_datahub"
    assert "CC BY 4.0" in prov["licence"] and "CC BY-NC-SA" in prov["licence"]
    conflicts = pd.read_csv(out.parent / "source_conflicts.csv")
    pairs = set(zip(conflicts["kept_source"], conflicts["other_source"], strict=True))
    assert pairs == {("itu_datahub:i99H", "worldbank_api:IT.NET.USER.ZS"),
                     ("worldbank_api:EG.ELC.ACCS.ZS", "wdi_file:EG.ELC.ACCS.ZS")}
    counts = dict(zip(report.by_source["publisher"], report.by_source["rows"], strict=True))
    assert counts == {"itu_datahub": 2, "worldbank_api": 2, "wdi_file": 1, "unsd_sdg": 4}
    assert "geometries: none fetched" in report.summary()


def test_build_on_an_empty_cache_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"invoke data\.fetch"):
        build_processed(raw_root=tmp_path / "raw", out=tmp_path / "p.parquet")


# --------------------------------------------------------------------------- diff
def test_diff_panels_reports_changed_appeared_vanished_but_not_float_noise(tmp_path):
    prov = Provenance(source="test", url_or_file="-", licence="-")
    old = rows(("KHM", "internet_users", 2021, 55.6004, "a:x"),
               ("KHM", "internet_users", 2022, 56.7328, "a:x"),
               ("MDG", "internet_users", 2022, 20.0, "a:x"),
               ("KHM", "population", 2022, 16_767_842.0, "a:x"))
    new = rows(("KHM", "internet_users", 2021, 55.6004 * (1 + 1e-13), "b:y"),  # noise
               ("KHM", "internet_users", 2022, 57.0, "b:y"),
               ("KHM", "internet_users", 2023, 60.0, "b:y"),
               ("KHM", "population", 2022, 16_767_843.0, "a:x"))
    write_panel(old, tmp_path / "old.parquet", prov)
    write_panel(new, tmp_path / "new.parquet", prov)
    diff = diff_panels(tmp_path / "old.parquet", tmp_path / "new.parquet")
    assert list(diff.columns) == ["iso3", "indicator", "year", "old_value", "new_value", "change"]
    got = [(r.iso3, r.indicator, r.year, r.change) for r in diff.itertuples()]
    assert got == [("KHM", "internet_users", 2022, "changed"),
                   ("KHM", "population", 2022, "changed"),
                   ("KHM", "internet_users", 2023, "appeared"),
                   ("MDG", "internet_users", 2022, "vanished")]
    assert np.isnan(diff["old_value"].iloc[2]) and np.isnan(diff["new_value"].iloc[3])
    text = format_diff(diff)
    assert text.startswith("4 difference(s): 2 changed, 1 appeared, 1 vanished")
    assert format_diff(diff.iloc[0:0]).startswith("no differences")
    with pytest.raises(DataError, match="not found"):
        diff_panels(tmp_path / "missing.parquet", tmp_path / "new.parquet")
