"""Tests for the country reference: committed resources, harmonising, validation, builder."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd
import pytest

from p2c_research import countries
from p2c_research.config import RESOURCES_DIR
from p2c_research.countries_build import (
    PROVENANCE_FILE,
    UN_GROUPS_FILE,
    CountryReferenceBuilder,
    build_country_reference,
    read_un_groups,
    read_wb_metadata,
)
from p2c_research.errors import DataError, UnknownCountryError

REAL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "real"
REAL_METADATA = REAL_DIR / "wdi_bulk" / "Metadata_Country_API_IT.NET.USER.ZS_DS2_en_csv_v2_2160.csv"
REAL_WDI_LONG = REAL_DIR / "wdi_long"

# The 48 aggregates of the World Bank metadata file (rows with an empty Region).
WB_AGGREGATE_CODES = frozenset(
    {"AFE", "AFW", "ARB", "CEB", "CSS", "EAP", "EAR", "EAS", "ECA", "ECS", "EMU", "EUU"}
    | {"FCS", "HIC", "HPC", "IBD", "IBT", "IDA", "IDB", "IDX", "LAC", "LCN", "LDC", "LIC"}
    | {"LMC", "LMY", "LTE", "MEA", "MIC", "MNA", "NAC", "OED", "OSS", "PRE", "PSS", "PST"}
    | {"SAS", "SSA", "SSF", "SST", "TEA", "TEC", "TLA", "TMN", "TSA", "TSS", "UMC", "WLD"}
)


# --------------------------------------------------------------------------
# The committed resources
# --------------------------------------------------------------------------


def test_counts() -> None:
    frame = countries.load_countries()
    assert len(frame) >= 200
    assert len(frame) == 217
    assert frame["iso3"].is_unique
    assert int(frame["ldc"].sum()) == 44
    assert int(frame["lldc"].sum()) == 32
    assert int(frame["sids"].sum()) == len(read_un_groups().sids) == 52
    assert len(WB_AGGREGATE_CODES) == 48
    assert all(countries.is_aggregate(code) for code in WB_AGGREGATE_CODES)
    assert countries.is_aggregate("INX")
    assert not any(countries.is_economy(code) for code in WB_AGGREGATE_CODES)


def test_columns_and_types() -> None:
    frame = countries.load_countries()
    assert list(frame.columns) == countries.COUNTRY_COLUMNS
    for column in ("ldc", "lldc", "sids"):
        assert frame[column].dtype == bool
    m49 = frame["m49"].dropna()
    assert m49.str.fullmatch(r"\d{3}").all()
    # Namibia's ISO2 is the string "NA", not a missing value.
    assert frame.set_index("iso3").loc["NAM", "iso2"] == "NA"


def test_khm_row() -> None:
    row = countries.load_countries().set_index("iso3").loc["KHM"]
    assert row["iso2"] == "KH"
    assert row["m49"] == "116"
    assert row["name"] == "Cambodia"
    assert row["wb_region"] == "East Asia & Pacific"
    assert row["income_group"] == "Lower middle income"
    assert bool(row["ldc"])
    assert not row["lldc"]
    assert not row["sids"]


def test_special_economies() -> None:
    frame = countries.load_countries().set_index("iso3")
    assert frame.loc["MRT", "wb_region"] == "Sub-Saharan Africa"
    assert frame.loc["DOM", "name"] == "Dominican Republic"
    assert frame.loc["XKX", "iso2"] == "XK"
    assert pd.isna(frame.loc["XKX", "m49"])
    assert pd.isna(frame.loc["CHI", "iso2"])
    assert frame.loc["CHI", "m49"] == "830"
    assert pd.isna(frame.loc["VEN", "income_group"])
    assert set(frame["income_group"].dropna()) == {
        "Low income",
        "Lower middle income",
        "Upper middle income",
        "High income",
    }


def test_load_returns_a_copy() -> None:
    first = countries.load_countries()
    first.loc[:, "name"] = "changed"
    assert countries.load_countries()["name"].ne("changed").all()


def test_group_members() -> None:
    groups = read_un_groups()
    assert countries.group_members("LDC") == sorted(groups.ldc)
    assert countries.group_members("lldc") == sorted(groups.lldc)
    sids = countries.group_members("SIDS")
    assert {"FJI", "SGP", "BHR", "PRI", "CUW"} <= set(sids)
    assert "BTN" not in countries.group_members("LDC")  # graduated December 2023
    assert "STP" not in countries.group_members("LDC")  # graduated December 2024
    africa = countries.group_members("Sub-Saharan Africa")
    assert len(africa) == 48 and "MRT" in africa
    assert countries.group_members("Europe and Central Asia") == countries.group_members(
        "Europe & Central Asia"
    )
    assert "KHM" in countries.group_members("Lower middle income")
    assert "VEN" not in countries.group_members("Upper middle income")
    with pytest.raises(DataError, match="unknown country group 'Atlantis'"):
        countries.group_members("Atlantis")


def test_m49_and_names() -> None:
    mapping = countries.m49_to_iso3()
    assert mapping["116"] == "KHM"
    assert mapping["004"] == "AFG"
    assert mapping["830"] == "CHI"
    assert "XKX" not in mapping.values()
    assert countries.iso3_to_name("khm") == "Cambodia"
    with pytest.raises(UnknownCountryError):
        countries.iso3_to_name("KHN")


def test_aggregates_frame() -> None:
    aggregates = countries.load_aggregates()
    assert list(aggregates.columns) == countries.AGGREGATE_COLUMNS
    wb_codes = set(aggregates.loc[aggregates["publisher"] == "World Bank", "code"])
    assert wb_codes == set(WB_AGGREGATE_CODES) | {"INX"}
    by_m49 = aggregates.dropna(subset=["m49"]).set_index("m49")["name"]
    assert by_m49.loc["001"].tolist()[0] == "World"
    assert "Sub-Saharan Africa" in by_m49.loc[["202"]].tolist()
    for name in (
        "World",
        "Africa",
        "Sub-Saharan Africa",
        "Least Developed Countries (LDC)",
        "Landlocked developing countries (LLDCs)",
        "Small island developing States (SIDS)",
        "Developing regions",
        "Europe",
        "Asia",
        "Americas",
        "Arab States",
        "Asia & Pacific",
        "CIS",
    ):
        assert countries.is_aggregate(name), name
    assert countries.is_aggregate(1)
    assert countries.is_aggregate("722")
    assert not countries.is_aggregate("Cambodia")
    assert not countries.is_aggregate("116")


# --------------------------------------------------------------------------
# Normalising and harmonising
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("Côte d'Ivoire", "cote d’ivoire"),
        ("Gambia, The", "The Gambia"),
        ("St. Lucia", "Saint Lucia"),
        ("Turks & Caicos", "Turks and Caicos"),
        ("Virgin Islands (U.S.)", "virgin islands (us)"),
        ("Guinea-Bissau", "guinea bissau"),
        ("TÜRKIYE", "turkiye"),
    ],
)
def test_normalise_name(left: str, right: str) -> None:
    assert countries.normalise_name(left) == countries.normalise_name(right)


def test_harmonise_mixed_list() -> None:
    values = [
        "Cote d’Ivoire",
        "  viet nam ",
        "Korea, Rep.",
        "Lao P.D.R.",
        "TÜRKIYE",
        "Gambia, The",
        "Iran (Islamic Republic of)",
        "Netherlands (Kingdom of the)",
        "DR Congo",
        "Kosovo",
        "sao tome and principe",
        "khm",
        "KH",
        "NA",
        116,
        4,
        "004",
        "4.0",
        "World",
        "Sub-Saharan Africa",
        "WLD",
        "SSF",
        "001",
        "Arab States",
        "Atlantis",
        "XYZ",
        "999",
        "",
        None,
        math.nan,
    ]
    result = countries.harmonise(values)
    assert result.mapping == {
        "Cote d’Ivoire": "CIV",
        "  viet nam ": "VNM",
        "Korea, Rep.": "KOR",
        "Lao P.D.R.": "LAO",
        "TÜRKIYE": "TUR",
        "Gambia, The": "GMB",
        "Iran (Islamic Republic of)": "IRN",
        "Netherlands (Kingdom of the)": "NLD",
        "DR Congo": "COD",
        "Kosovo": "XKX",
        "sao tome and principe": "STP",
        "khm": "KHM",
        "KH": "KHM",
        "NA": "NAM",
        "116": "KHM",
        "4": "AFG",
        "004": "AFG",
        "4.0": "AFG",
    }
    assert result.aggregates == ["World", "Sub-Saharan Africa", "WLD", "SSF", "001", "Arab States"]
    assert result.unmatched == ["Atlantis", "XYZ", "999"]
    assert result.n_missing == 3
    report = result.report()
    assert "3 unmatched" in report and "'Atlantis'" in report


def test_harmonise_kind_restricts_interpretation() -> None:
    assert countries.harmonise(["KH"], kind="iso3").unmatched == ["KH"]
    assert countries.harmonise(["116"], kind="name").unmatched == ["116"]
    assert countries.harmonise(["Cambodia"], kind="name").mapping == {"Cambodia": "KHM"}
    assert countries.harmonise([116], kind="m49").mapping == {"116": "KHM"}
    with pytest.raises(ValueError, match="kind must be one of"):
        countries.harmonise(["KHM"], kind="iso4")


def test_report_suggests_close_names() -> None:
    report = countries.harmonise(["Cambodja"]).report()
    assert "KHM (Cambodia)" in report


def test_to_iso3_series_warns_on_unmatched(caplog: pytest.LogCaptureFixture) -> None:
    column = pd.Series(
        ["Cambodia", "World", "Atlantis", None, "Viet Nam"], index=[10, 11, 12, 13, 14], name="c"
    )
    with caplog.at_level(logging.INFO, logger="p2c_research.countries"):
        iso3, outcome = countries.to_iso3_series(column)
    assert iso3.index.tolist() == [10, 11, 12, 13, 14]
    assert iso3.tolist()[0] == "KHM" and iso3.tolist()[4] == "VNM"
    assert iso3.iloc[1:4].isna().all()
    assert outcome.unmatched == ["Atlantis"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].name == "p2c_research.countries"
    assert "'Atlantis'" in warnings[0].getMessage()


# --------------------------------------------------------------------------
# Validating a user's code
# --------------------------------------------------------------------------


def test_validate_iso3_accepts_economies() -> None:
    assert countries.validate_iso3("KHM") == "KHM"
    assert countries.validate_iso3(" khm ") == "KHM"
    assert countries.validate_iso3("XKX") == "XKX"
    assert countries.is_economy("chi")
    assert not countries.is_economy("WLD")


def test_validate_iso3_message_and_close_matches() -> None:
    with pytest.raises(UnknownCountryError) as caught:
        countries.validate_iso3("khn")
    message = str(caught.value)
    assert message.startswith("unknown country code 'KHN'; did you mean KHM (Cambodia), ")
    assert "CHN (China)" in message and "KEN (Kenya)" in message
    assert message.endswith("Use an ISO 3166 alpha-3 code from the World Bank economy list.")


@pytest.mark.parametrize(
    ("given", "suggested"),
    [("KH", "KHM (Cambodia)"), ("Kosovo", "XKX (Kosovo)"), ("KSO", "XKX (Kosovo)")],
)
def test_validate_iso3_suggests_the_code_of_other_identifiers(given: str, suggested: str) -> None:
    with pytest.raises(UnknownCountryError) as caught:
        countries.validate_iso3(given)
    assert f"did you mean {suggested}" in str(caught.value)


def test_validate_iso3_names_aggregates() -> None:
    with pytest.raises(UnknownCountryError, match=r"^unknown country code 'WLD'; WLD is a World"):
        countries.validate_iso3("WLD")


@pytest.mark.parametrize("given", ["../x", "..\\KHM", "KHM/../../etc", "", "K H M"])
def test_validate_iso3_rejects_path_like_input(given: str) -> None:
    with pytest.raises(UnknownCountryError) as caught:
        countries.validate_iso3(given)
    assert str(caught.value).startswith(f"unknown country code '{given.strip().upper()}'")


# --------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------


def _write_metadata(path: Path, rows: list[str]) -> None:
    header = "Country Code,Region,IncomeGroup,SpecialNotes,TableName"
    path.write_bytes(("\ufeff" + "\r\n".join([header, *rows]) + "\r\n").encode("utf-8"))


def test_read_wb_metadata_handles_bom_crlf_and_multiline_notes(tmp_path: Path) -> None:
    path = tmp_path / "Metadata_Country_test.csv"
    _write_metadata(
        path,
        [
            'KHM,East Asia & Pacific,Lower middle income,"Fiscal year.\r\n\r\nSecond line",'
            "Cambodia",
            "WLD,,,,World",
        ],
    )
    frame = read_wb_metadata(path)
    assert frame["Country Code"].tolist() == ["KHM", "WLD"]
    assert frame.loc[0, "SpecialNotes"].startswith("Fiscal year.")


def test_builder_refuses_a_truncated_economy_list(tmp_path: Path) -> None:
    path = tmp_path / "Metadata_Country_test.csv"
    _write_metadata(path, ["KHM,East Asia & Pacific,Lower middle income,,Cambodia", "WLD,,,,World"])
    out = tmp_path / "out"
    with pytest.raises(DataError, match="only 1 economies"):
        build_country_reference(path, None, out)
    assert not out.exists()  # nothing written when a check fails


def test_builder_reports_missing_metadata(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        build_country_reference(tmp_path / "missing.csv", None, tmp_path)


def test_un_groups_come_from_the_resource_file() -> None:
    """The flags in countries.csv are exactly the memberships listed in un_groups.csv."""
    listed = pd.read_csv(RESOURCES_DIR / UN_GROUPS_FILE, dtype=str, keep_default_na=False)
    frame = countries.load_countries().set_index("iso3")
    for group in ("ldc", "lldc", "sids"):
        assert set(frame.index[frame[group]]) == set(listed.loc[listed["group"] == group, "iso3"])
    un_sids = listed[(listed["group"] == "sids") & (listed["un_member"] == "true")]
    assert len(un_sids) == 38 and "PRI" not in set(un_sids["iso3"])
    provenance = json.loads((RESOURCES_DIR / "un_groups.provenance.json").read_text("utf-8"))
    assert provenance["groups"]["ldc"]["as_of"] == "2024-12"


def test_un_groups_bad_row_names_file_and_row(tmp_path: Path) -> None:
    (tmp_path / UN_GROUPS_FILE).write_text("iso3,group,un_member\nKHM,ldc,true\nMDG,ldx,true\n")
    with pytest.raises(DataError, match=r"un_groups.csv, row 3: MDG,ldx,true .*fix the row"):
        read_un_groups(tmp_path)
    (tmp_path / UN_GROUPS_FILE).write_text("iso3,group\nKHM,ldc\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['un_member'\]"):
        read_un_groups(tmp_path)


def test_builder_refuses_a_changed_un_list(tmp_path: Path) -> None:
    """A UN list of the wrong size stops the build before anything is written."""
    if not REAL_METADATA.is_file():
        pytest.skip(f"real-data snapshot not found under {REAL_DIR}")
    groups = tmp_path / "groups"
    groups.mkdir()
    listed = (RESOURCES_DIR / UN_GROUPS_FILE).read_text().splitlines()
    (groups / UN_GROUPS_FILE).write_text("\n".join(r for r in listed if r != "KHM,ldc,true") + "\n")
    out = tmp_path / "out"
    builder = CountryReferenceBuilder(REAL_METADATA, None, out, groups_dir=groups)
    with pytest.raises(DataError, match="LDC list has 43 codes, expected 44"):
        builder.run()
    assert not out.exists()


def test_committed_provenance() -> None:
    provenance = json.loads((RESOURCES_DIR / PROVENANCE_FILE).read_text(encoding="utf-8"))
    assert provenance["wb_classification"]["fiscal_year"] == "FY2025"
    assert provenance["un_lists"]["ldc"]["count"] == 44
    assert "associate members" in provenance["un_lists"]["sids"]["note"]
    assert all(len(source["sha256"]) == 64 for source in provenance["sources"])
    assert "CC BY 4.0" in provenance["licence"]


@pytest.mark.real
def test_rebuild_from_real_snapshot_matches_committed(tmp_path: Path) -> None:
    if not REAL_METADATA.is_file() or not REAL_WDI_LONG.is_dir():
        pytest.skip(f"real-data snapshot not found under {REAL_DIR}")
    rebuilt = build_country_reference(REAL_METADATA, REAL_WDI_LONG, tmp_path)
    assert len(rebuilt) == 217
    for name in (
        countries.COUNTRIES_FILE,
        countries.AGGREGATES_FILE,
        countries.ALIASES_FILE,
    ):
        assert (tmp_path / name).read_bytes() == (RESOURCES_DIR / name).read_bytes(), name
    fresh = json.loads((tmp_path / PROVENANCE_FILE).read_text(encoding="utf-8"))
    committed = json.loads((RESOURCES_DIR / PROVENANCE_FILE).read_text(encoding="utf-8"))
    fresh.pop("built_at")
    committed.pop("built_at")
    assert fresh == committed
    assert not list(tmp_path.glob("*.tmp"))
