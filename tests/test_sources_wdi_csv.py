"""WDI file adapter (``wdi-csv --path``) on small hand-made files in both layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2c_research.errors import DataError, SourceError
from p2c_research.sources.fetch import fetch_source
from p2c_research.store import read_provenance, validate_panel

PREAMBLE = ('"Data Source","World Development Indicators",\r\n\r\n'
            '"Last Updated Date","2024-06-28",\r\n\r\n')
WIDE_HEADER = '"Country Name","Country Code","Indicator Name","Indicator Code","2021","2022","2023",\r\n'


def write_inputs(folder: Path) -> None:
    """A long file saved as <code>/data.csv, a bulk file with preamble, BOM and CRLF,
    and a per-capita count without population beside it."""
    long_dir = folder / "it.cel.sets.p2"
    long_dir.mkdir(parents=True)
    (long_dir / "data.csv").write_text(
        "Country Name,Country Code,Year,Value\r\n"
        "Cambodia,KHM,2021,120.5\r\nCambodia,KHM,2022,121.25\r\n"
        "World,WLD,2022,108.0\r\nMadagascar,MDG,2022,60.75\r\n", encoding="utf-8")
    (long_dir / "datapackage.json").write_text('{"title": "mobile"}', encoding="utf-8")
    wide = (PREAMBLE + WIDE_HEADER
            + '"Cambodia","KHM","Individuals using the Internet (% of population)",'
              '"IT.NET.USER.ZS","55.6004","56.7328","",\r\n'
            + '"East Asia & Pacific","EAS","Individuals using the Internet (% of population)",'
              '"IT.NET.USER.ZS","70.1","72.3","74.0",\r\n')
    (folder / "API_IT.NET.USER.ZS_DS2_en_csv_v2_1.csv").write_bytes(
        b"\xef\xbb\xbf" + wide.encode("utf-8"))
    (folder / "Metadata_Country_API_IT.NET.USER.ZS_DS2_en_csv_v2_1.csv").write_text(
        "Country Code,Region,IncomeGroup\nKHM,East Asia & Pacific,Lower middle income\n",
        encoding="utf-8")
    (folder / "IP.JRN.ARTC.SC.csv").write_text(
        "Country Name,Country Code,Year,Value\nCambodia,KHM,2021,412.37\n", encoding="utf-8")


def test_import_reads_both_layouts_and_copies_with_sidecars(tmp_path):
    src = tmp_path / "download"
    write_inputs(src)
    report = fetch_source("wdi-csv", path=str(src), raw_root=tmp_path / "raw")
    panel = validate_panel(report.panel)
    got = {(r.iso3, r.indicator, r.year): (r.value, r.source) for r in panel.itertuples()}
    assert got == {
        ("KHM", "mobile_subscriptions", 2021): (120.5, "wdi_file:IT.CEL.SETS.P2"),
        ("KHM", "mobile_subscriptions", 2022): (121.25, "wdi_file:IT.CEL.SETS.P2"),
        ("MDG", "mobile_subscriptions", 2022): (60.75, "wdi_file:IT.CEL.SETS.P2"),
        ("KHM", "internet_users", 2021): (55.6004, "wdi_file:IT.NET.USER.ZS"),
        ("KHM", "internet_users", 2022): (56.7328, "wdi_file:IT.NET.USER.ZS"),
    }
    raw = tmp_path / "raw" / "wdi-csv"
    # the long file keeps its code in the copy's name; bytes are unchanged
    assert (raw / "IT.CEL.SETS.P2.csv").read_bytes() == \
        (src / "it.cel.sets.p2" / "data.csv").read_bytes()
    assert (raw / "IT.CEL.SETS.P2.datapackage.json").read_text() == '{"title": "mobile"}'
    bulk = raw / "API_IT.NET.USER.ZS_DS2_en_csv_v2_1.csv"
    prov = read_provenance(bulk)
    assert prov["parameters"]["layout"] == "wide" and prov["licence"].startswith("CC BY 4.0")
    assert prov["url_or_file"].endswith("API_IT.NET.USER.ZS_DS2_en_csv_v2_1.csv")
    text = "\n".join(report.messages)
    assert "EAS" in text and "WLD" in text
    assert "IP.JRN.ARTC.SC (journal_articles) not converted: the context data lacks population" \
        in text
    assert fetch_source("wdi-csv", path=str(src), raw_root=tmp_path / "raw").from_cache


def test_year_window_and_countries(tmp_path):
    src = tmp_path / "download"
    write_inputs(src)
    report = fetch_source("wdi-csv", path=str(src), raw_root=tmp_path / "raw", start=2022,
                          countries=["MDG"])
    assert report.panel[["iso3", "year", "value"]].values.tolist() == [["MDG", 2022, 60.75]]


def test_path_is_required_and_must_exist(tmp_path):
    with pytest.raises(SourceError, match="needs --path"):
        fetch_source("wdi-csv", raw_root=tmp_path)
    with pytest.raises(DataError, match="no such file"):
        fetch_source("wdi-csv", path=str(tmp_path / "nope"), raw_root=tmp_path)
    (tmp_path / "x.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no WDI file"):
        fetch_source("wdi-csv", path=str(tmp_path / "x.csv"), raw_root=tmp_path / "raw")
