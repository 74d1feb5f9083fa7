"""Build the committed country reference from the World Bank bulk metadata file.

The package never reads downloads at run time: this builder turns the World
Bank's ``Metadata_Country_*.csv`` (and, optionally, the WDI long-format CSVs
for the World Bank's other spellings of names) into the small files in
``p2c_research/resources`` that :mod:`p2c_research.countries` reads:

- ``countries.csv``: one row per World Bank economy, with ISO2, M49, region,
  income group and the UN LDC / LLDC / SIDS flags;
- ``aggregates.csv``: World Bank aggregate codes plus the region and group
  names other publishers (UN M49, UN SDG, ITU) use, so they can be told apart
  from countries;
- ``country_aliases.csv``: every spelling of every economy we know of;
- ``countries.provenance.json``: where all of it came from and when.

The UN LDC, LLDC and SIDS memberships are read from ``resources/un_groups.csv``
(sources and dates in its provenance file). Run it with ``invoke
data.countries --metadata FILE [--wdi-long DIR]``; it follows the builders'
skeleton (:mod:`p2c_research.builders`): load -> process -> check -> save,
every file written atomically, so a failed build never leaves half a reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pycountry

from p2c_research.builders import Builder
from p2c_research.config import RESOURCES_DIR
from p2c_research.countries import (
    AGGREGATE_COLUMNS,
    AGGREGATES_FILE,
    ALIAS_COLUMNS,
    ALIASES_FILE,
    COUNTRIES_FILE,
    COUNTRY_COLUMNS,
    FLAG_COLUMNS,
    normalise_name,
)
from p2c_research.errors import DataError
from p2c_research.store import atomic_write_text, neutralise_formulas, sha256_file

PROVENANCE_FILE = "countries.provenance.json"


METADATA_COLUMNS = ["Country Code", "Region", "IncomeGroup", "SpecialNotes", "TableName"]
WDI_LONG_COLUMNS = ["Country Name", "Country Code"]
INCOME_GROUPS = ("Low income", "Lower middle income", "Upper middle income", "High income")
MIN_ECONOMIES = 200

# The metadata file in shared/real was downloaded in 2024 (committed upstream
# on 2024-11-29, data up to 2023), so its IncomeGroup column is the World Bank
# FY2025 classification, effective 1 July 2024 (based on 2023 GNI per capita).
WB_CLASSIFICATION_DATE = "2024-07-01"
WB_CLASSIFICATION = (
    "World Bank FY2025 country classification (income groups effective 1 July 2024, "
    "based on 2023 GNI per capita, Atlas method); regions as in the same file"
)

# --- UN groups --------------------------------------------------------------
# The UN LDC, LLDC and SIDS lists live in resources/un_groups.csv with their
# sources and dates in un_groups.provenance.json; edit them there.
UN_GROUPS_FILE = "un_groups.csv"
UN_GROUPS_PROVENANCE = "un_groups.provenance.json"
UN_GROUP_COLUMNS = ["iso3", "group", "un_member"]
UN_GROUP_NAMES = ("ldc", "lldc", "sids")
# Sizes of the lists as published (December 2024); a file that disagrees is refused.
UN_GROUP_SIZES = {"ldc": 44, "lldc": 32, "sids_un_members": 38}


@dataclass(frozen=True)
class UnGroups:
    """Members of each UN group, as read from the resource file."""

    ldc: frozenset[str]
    lldc: frozenset[str]
    sids: frozenset[str]
    sids_un_members: frozenset[str]
    provenance: dict[str, Any]

    def note(self) -> str:
        """What 'sids' means in countries.csv (associates included)."""
        associates = " ".join(sorted(self.sids - self.sids_un_members))
        return (f"sids includes the UN associate members that are WB economies ({associates}) "
                f"besides the {len(self.sids_un_members)} UN member states")


def read_un_groups(folder: Path | str = RESOURCES_DIR) -> UnGroups:
    """Read ``un_groups.csv`` and its provenance from ``folder``.

    Raises:
        DataError: naming the file, the row and the fix.
    """
    folder = Path(folder)
    path = folder / UN_GROUPS_FILE
    if not path.is_file():
        raise DataError(f"{path}: not found; it lists the UN LDC/LLDC/SIDS members "
                        f"({','.join(UN_GROUP_COLUMNS)}), restore it from git")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in UN_GROUP_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {','.join(UN_GROUP_COLUMNS)}")
    for number, row in enumerate(frame.itertuples(index=False), start=2):
        if row.group not in UN_GROUP_NAMES or row.un_member not in ("true", "false") \
                or len(row.iso3) != 3 or not row.iso3.isupper():
            raise DataError(f"{path}, row {number}: {row.iso3},{row.group},{row.un_member} is "
                            f"not ISO3,one of {'/'.join(UN_GROUP_NAMES)},true|false; fix the row")
    dupes = frame[frame.duplicated(["iso3", "group"])]
    if not dupes.empty:
        raise DataError(f"{path}: {dupes['iso3'].tolist()} listed twice in the same group; "
                        "delete the repeated rows")

    def members(group: str, un_only: bool = False) -> frozenset[str]:
        rows = frame[(frame["group"] == group) & ((frame["un_member"] == "true") | (not un_only))]
        return frozenset(rows["iso3"])

    prov_path = folder / UN_GROUPS_PROVENANCE
    provenance = json.loads(prov_path.read_text(encoding="utf-8")) if prov_path.is_file() else {}
    return UnGroups(members("ldc"), members("lldc"), members("sids"),
                    members("sids", un_only=True), provenance)


# --- World Bank economies that are not ISO 3166 countries ------------------
# Kosovo: XK is the user-assigned ISO2 code the EU and the World Bank use; UN
# M49 has no code for Kosovo (UN data report it under Serbia), so m49 is empty.
# Channel Islands: no ISO code (ISO lists Guernsey and Jersey separately);
# 830 is the UN M49 code for the Channel Islands.
NON_ISO_ECONOMIES: dict[str, dict[str, str]] = {
    "XKX": {"iso2": "XK", "m49": ""},
    "CHI": {"iso2": "", "m49": "830"},
}

# --- Hand-written aliases ----------------------------------------------------
# Spellings used by the UN (M49 / SDG), ITU DataHub, older World Bank
# vintages and common usage that neither the World Bank nor ISO gives.
HAND_ALIASES: dict[str, list[str]] = {
    "ARE": ["UAE", "Emirates"],
    "BHS": ["Bahamas, The", "The Bahamas", "Bahamas"],
    "BIH": ["Bosnia-Herzegovina", "Bosnia"],
    "BOL": ["Bolivia", "Bolivia (Plurinational State of)"],
    "BRN": ["Brunei"],
    "CAF": ["Central African Rep."],
    "CHI": ["Channel Islands"],
    "CHN": ["People's Republic of China", "China, People's Republic of"],
    "CIV": ["Cote d'Ivoire", "Côte d’Ivoire", "Ivory Coast"],
    "COD": [
        "Congo, Dem. Rep.",
        "DR Congo",
        "DRC",
        "Democratic Republic of the Congo",
        "Democratic Republic of Congo",
        "Dem. Rep. of the Congo",
        "Congo (Democratic Republic of the)",
        "Congo, Democratic Republic of",
        "Congo-Kinshasa",
        "Zaire",
    ],
    "COG": [
        "Congo, Rep.",
        "Republic of the Congo",
        "Republic of Congo",
        "Congo (Rep. of the)",
        "Congo-Brazzaville",
    ],
    "CPV": ["Cape Verde", "Cabo Verde"],
    "CUW": ["Curacao", "Curaçao"],
    "CZE": ["Czech Republic", "Czechia"],
    "DOM": ["Dominican Rep."],
    "EGY": ["Egypt, Arab Rep.", "Egypt"],
    "FSM": [
        "Micronesia, Fed. Sts.",
        "Micronesia (Federated States of)",
        "Federated States of Micronesia",
        # ITU's spelling. The M49 sub-region "Micronesia" (057) is therefore
        # left out of the aggregates on purpose.
        "Micronesia",
    ],
    "GBR": [
        "UK",
        "United Kingdom of Great Britain and Northern Ireland",
        "Great Britain",
        "Britain",
    ],
    "GMB": ["Gambia, The", "The Gambia", "Gambia"],
    "HKG": [
        "Hong Kong",
        "Hong Kong SAR, China",
        "Hong Kong, China",
        "Hong Kong SAR",
        "China, Hong Kong SAR",
        "China, Hong Kong Special Administrative Region",
    ],
    "IRN": ["Iran", "Iran, Islamic Rep.", "Iran (Islamic Republic of)"],
    "KGZ": ["Kyrgyzstan", "Kyrgyz Republic"],
    "KNA": ["St. Kitts and Nevis", "Saint Kitts and Nevis"],
    "KOR": ["Korea, Rep.", "South Korea", "Republic of Korea", "Korea (Rep. of)", "Korea, South"],
    "LAO": ["Lao PDR", "Laos", "Lao P.D.R.", "Lao People's Democratic Republic"],
    "LBY": ["Libyan Arab Jamahiriya"],
    "LCA": ["St. Lucia", "Saint Lucia"],
    "MAC": [
        "Macau",
        "Macao",
        "Macao SAR, China",
        "Macao, China",
        "Macau SAR",
        "China, Macao SAR",
        "China, Macao Special Administrative Region",
    ],
    "MAF": ["St. Martin (French part)", "Saint Martin (French part)"],
    "MDA": ["Moldova", "Republic of Moldova", "Moldova, Republic of"],
    "MKD": [
        "Macedonia",
        "North Macedonia",
        "Macedonia, FYR",
        "FYR Macedonia",
        "The former Yugoslav Republic of Macedonia",
        "Republic of North Macedonia",
    ],
    "MMR": ["Burma", "Myanmar"],
    "MNP": ["Northern Marianas", "Northern Mariana Islands"],
    "NLD": ["Netherlands (Kingdom of the)", "The Netherlands", "Holland"],
    "NPL": ["Nepal (Republic of)"],
    "PRK": [
        "North Korea",
        "Democratic People's Republic of Korea",
        "Dem. People's Rep. of Korea",
        "Korea, Dem. Rep.",
        "Korea, DPR",
        "Korea, North",
    ],
    "PSE": [
        "Palestine",
        "West Bank and Gaza",
        "State of Palestine",
        "Palestine, State of",
        "Palestinian Territories",
        "Occupied Palestinian Territory",
    ],
    "RUS": ["Russia", "Russian Federation"],
    "SOM": ["Somalia, Fed. Rep."],
    "STP": ["Sao Tome and Principe", "São Tomé and Príncipe", "São Tomé and Principe"],
    "SVK": ["Slovakia", "Slovak Republic"],
    "SWZ": ["Swaziland", "Eswatini", "Kingdom of Eswatini"],
    "SXM": ["Sint Maarten", "St. Maarten", "Sint Maarten (Dutch part)"],
    "SYR": ["Syria", "Syrian Arab Republic"],
    "TCA": ["Turks and Caicos", "Turks & Caicos Is."],
    "TLS": ["East Timor", "Timor-Leste", "Timor Leste"],
    "TUR": ["Turkey", "Turkiye", "Türkiye", "Republic of Türkiye"],
    "TZA": ["Tanzania", "United Republic of Tanzania"],
    "USA": ["United States of America", "USA", "U.S.A.", "United States", "U.S."],
    "VCT": ["St. Vincent and the Grenadines", "Saint Vincent and the Grenadines"],
    "VEN": ["Venezuela", "Venezuela, RB", "Venezuela (Bolivarian Republic of)"],
    "VGB": ["British Virgin Islands", "Virgin Islands, British"],
    "VIR": [
        "Virgin Islands (U.S.)",
        "US Virgin Islands",
        "United States Virgin Islands",
        "Virgin Islands, U.S.",
    ],
    "VNM": ["Vietnam", "Viet Nam"],
    "XKX": [
        "Kosovo",
        "Republic of Kosovo",
        "Kosovo (under UNSCR 1244)",
        "Kosovo (under UNSC res. 1244)",
    ],
    "YEM": ["Yemen, Rep.", "Yemen", "Republic of Yemen"],
}

# Codes other publishers or older World Bank vintages use for these economies
# (ITU DataHub: KSO; World Bank before the switch to ISO codes: the rest).
OTHER_CODES: dict[str, str] = {
    "KSO": "XKX",
    "KSV": "XKX",
    "ZAR": "COD",
    "ROM": "ROU",
    "TMP": "TLS",
    "ADO": "AND",
    "IMY": "IMN",
    "WBG": "PSE",
}

# --- Aggregates --------------------------------------------------------------
# In the World Bank API but not in the bulk metadata file.
EXTRA_WB_AGGREGATES = [("INX", "Not classified")]

# UN M49 areas (UNSD, Standard country or area codes for statistical use).
# Micronesia (057) is left out: the name means the Federated States in ITU data.
M49_AGGREGATES = [
    ("001", "World"),
    ("002", "Africa"),
    ("015", "Northern Africa"),
    ("202", "Sub-Saharan Africa"),
    ("014", "Eastern Africa"),
    ("017", "Middle Africa"),
    ("018", "Southern Africa"),
    ("011", "Western Africa"),
    ("019", "Americas"),
    ("419", "Latin America and the Caribbean"),
    ("029", "Caribbean"),
    ("013", "Central America"),
    ("005", "South America"),
    ("021", "Northern America"),
    ("142", "Asia"),
    ("143", "Central Asia"),
    ("030", "Eastern Asia"),
    ("035", "South-eastern Asia"),
    ("034", "Southern Asia"),
    ("145", "Western Asia"),
    ("150", "Europe"),
    ("151", "Eastern Europe"),
    ("154", "Northern Europe"),
    ("039", "Southern Europe"),
    ("155", "Western Europe"),
    ("009", "Oceania"),
    ("053", "Australia and New Zealand"),
    ("054", "Melanesia"),
    ("061", "Polynesia"),
    ("199", "Least Developed Countries (LDC)"),
    ("432", "Land Locked Developing Countries (LLDC)"),
    ("722", "Small Island Developing States (SIDS)"),
]

# UN SDG regional groupings and names as spelled in the SDG reports and
# database. The codes are those of the SDG Global Database; "Developed
# regions" / "Developing regions" are left without a code (not verified).
SDG_AGGREGATES = [
    ("001", "World"),
    ("202", "Sub-Saharan Africa"),
    ("747", "Northern Africa and Western Asia"),
    ("062", "Central and Southern Asia"),
    ("753", "Eastern and South-Eastern Asia"),
    ("419", "Latin America and the Caribbean"),
    ("009", "Oceania"),
    ("053", "Australia/New Zealand"),
    ("543", "Oceania (exc. Australia and New Zealand)"),
    ("543", "Oceania (excluding Australia and New Zealand)"),
    ("513", "Europe and Northern America"),
    ("199", "Least Developed Countries (LDC)"),
    ("199", "Least developed countries"),
    ("432", "Landlocked developing countries (LLDCs)"),
    ("432", "Landlocked developing countries"),
    ("722", "Small island developing States (SIDS)"),
    ("", "Developed regions"),
    ("", "Developing regions"),
]

# ITU regions (BDT) and the development and income groups of ITU statistics.
ITU_AGGREGATES = [
    "World",
    "Africa",
    "Americas",
    "Arab States",
    "Asia & Pacific",
    "Asia-Pacific",
    "CIS",
    "Commonwealth of Independent States",
    "Europe",
    "Developed",
    "Developing",
    "Developed countries",
    "Developing countries",
    "Developed economies",
    "Developing economies",
    "LDCs",
    "LLDCs",
    "SIDS",
    "Low-income",
    "Lower-middle-income",
    "Upper-middle-income",
    "High-income",
]

# Groupings in common use that appear as rows in other publishers' tables.
OTHER_AGGREGATES = ["Global", "EU", "EU27", "European Union (27)", "OECD", "G7", "G20"]

LICENCE_NOTE = (
    "World Bank data (economies, regions, income groups, names): CC BY 4.0, "
    "(c) World Bank. ISO 3166 codes and names via pycountry (LGPL-2.1, data from "
    "Debian iso-codes). UN group lists and M49 codes: UN (public information)."
)


# --------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------


def read_wb_metadata(path: Path) -> pd.DataFrame:
    """Read the World Bank ``Metadata_Country_*.csv`` (UTF-8 BOM, CRLF, multi-line notes)."""
    if not path.is_file():
        raise DataError(f"World Bank metadata file {path} not found; pass --metadata FILE")
    frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    missing = [column for column in METADATA_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: columns {missing} missing (found {list(frame.columns)}); expected the "
            "World Bank bulk-download country metadata file"
        )
    frame = frame[METADATA_COLUMNS].apply(lambda column: column.str.strip())
    codes = frame["Country Code"]
    if codes.duplicated().any() or (codes == "").any():
        dupes = sorted(set(codes[codes.duplicated()]))
        raise DataError(f"{path}: empty or duplicate Country Code {dupes}")
    return frame


def read_wdi_long_names(folder: Path) -> tuple[pd.DataFrame, list[Path]]:
    """Collect the distinct (code, name) pairs of every WDI long CSV in ``folder``.

    Returns the pairs and the files read (for provenance). The long files are
    a newer World Bank vintage and carry older and newer spellings
    ("Swaziland"/"Eswatini"), which is what makes them worth harvesting.
    """
    if not folder.is_dir():
        raise DataError(f"WDI long folder {folder} not found; pass --wdi-long DIR or omit it")
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise DataError(f"{folder}: no *.csv files (expected Country Name,Country Code,...)")
    pairs = []
    for file in files:
        frame = pd.read_csv(file, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        missing = [column for column in WDI_LONG_COLUMNS if column not in frame.columns]
        if missing:
            raise DataError(f"{file}: columns {missing} missing (found {list(frame.columns)})")
        pairs.append(frame[WDI_LONG_COLUMNS].drop_duplicates())
    names = (
        pd.concat(pairs, ignore_index=True)
        .apply(lambda column: column.str.strip())
        .drop_duplicates()
        .rename(columns={"Country Name": "name", "Country Code": "code"})
    )
    return names[names["name"] != ""].reset_index(drop=True), files


# --------------------------------------------------------------------------
# Process
# --------------------------------------------------------------------------


def build_countries(metadata: pd.DataFrame, groups: UnGroups) -> pd.DataFrame:
    """One row per economy (a metadata row with a Region), with ISO codes and UN flags."""
    economies = metadata[metadata["Region"] != ""]
    rows = []
    for iso3, region, income_group, name in zip(
        economies["Country Code"],
        economies["Region"],
        economies["IncomeGroup"],
        economies["TableName"],
        strict=True,
    ):
        if iso3 in NON_ISO_ECONOMIES:
            iso2 = NON_ISO_ECONOMIES[iso3]["iso2"]
            m49 = NON_ISO_ECONOMIES[iso3]["m49"]
        else:
            iso = pycountry.countries.get(alpha_3=iso3)
            if iso is None:
                raise DataError(
                    f"World Bank economy {iso3} ({name}) is not an ISO 3166 country in "
                    f"pycountry {_pycountry_version()}; add it to NON_ISO_ECONOMIES in "
                    "p2c_research/countries_build.py"
                )
            iso2, m49 = iso.alpha_2, iso.numeric
        rows.append(
            {
                "iso3": iso3,
                "iso2": iso2,
                "m49": m49,
                "name": name,
                "wb_region": region,
                "income_group": income_group,
                "ldc": iso3 in groups.ldc,
                "lldc": iso3 in groups.lldc,
                "sids": iso3 in groups.sids,
            }
        )
    countries = pd.DataFrame(rows, columns=COUNTRY_COLUMNS).sort_values("iso3")
    for column in ("iso2", "m49", "income_group"):
        countries[column] = countries[column].mask(countries[column] == "")
    return countries.astype(
        {column: "str" for column in COUNTRY_COLUMNS if column not in FLAG_COLUMNS}
        | dict.fromkeys(FLAG_COLUMNS, "bool")
    ).reset_index(drop=True)


def build_aggregates(metadata: pd.DataFrame, long_names: pd.DataFrame | None) -> pd.DataFrame:
    """World Bank aggregates (with other WB spellings), then UN M49, UN SDG, ITU and other names."""
    wb = metadata.loc[metadata["Region"] == "", ["Country Code", "TableName"]]
    rows = [(code, name, "", "World Bank") for code, name in wb.itertuples(index=False)]
    rows += [(code, name, "", "World Bank") for code, name in EXTRA_WB_AGGREGATES]
    if long_names is not None:
        wb_codes = set(wb["Country Code"])
        extra = long_names[long_names["code"].isin(wb_codes)]
        rows += [(code, name, "", "World Bank") for code, name in extra[["code", "name"]].values]
    rows += [("", name, m49, "UN M49") for m49, name in M49_AGGREGATES]
    rows += [("", name, m49, "UN SDG") for m49, name in SDG_AGGREGATES]
    rows += [("", name, "", "ITU") for name in ITU_AGGREGATES]
    rows += [("", name, "", "other") for name in OTHER_AGGREGATES]
    aggregates = pd.DataFrame(rows, columns=AGGREGATE_COLUMNS)
    aggregates = aggregates.drop_duplicates(subset=["code", "name", "publisher"])
    for column in ("code", "m49"):
        aggregates[column] = aggregates[column].mask(aggregates[column] == "")
    return aggregates.astype("str").reset_index(drop=True)


def build_aliases(
    countries: pd.DataFrame, metadata: pd.DataFrame, long_names: pd.DataFrame | None
) -> pd.DataFrame:
    """Every known spelling of every economy, as written, with where it came from."""
    economy_codes = set(countries["iso3"])
    rows: list[tuple[str, str, str]] = []
    economies = metadata[metadata["Country Code"].isin(economy_codes)]
    rows += [
        (name, code, "World Bank TableName")
        for code, name in economies[["Country Code", "TableName"]].values
    ]
    if long_names is not None:
        long_economies = long_names[long_names["code"].isin(economy_codes)]
        rows += [
            (name, code, "WDI long files") for code, name in long_economies[["code", "name"]].values
        ]
    for iso3 in sorted(economy_codes - set(NON_ISO_ECONOMIES)):
        iso = pycountry.countries.get(alpha_3=iso3)
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(iso, attribute, None)
            if value:
                rows.append((value, iso3, f"ISO 3166 {attribute} (pycountry)"))
    for iso3, names in HAND_ALIASES.items():
        rows += [(name, iso3, "hand-written") for name in names]
    rows += [(code, iso3, "other publisher or legacy code") for code, iso3 in OTHER_CODES.items()]
    aliases = pd.DataFrame(rows, columns=ALIAS_COLUMNS)
    aliases = aliases.drop_duplicates(subset=["alias", "iso3"], keep="first")
    return aliases.sort_values(["iso3", "alias"]).astype("str").reset_index(drop=True)


# --------------------------------------------------------------------------
# Sanity checks
# --------------------------------------------------------------------------


def sanity_check(countries: pd.DataFrame, aggregates: pd.DataFrame, aliases: pd.DataFrame,
                 groups: UnGroups) -> None:
    """Refuse to write a reference that would mislead the matcher or the group flags.

    Raises:
        DataError: naming the offending codes or aliases.
    """
    economies = set(countries["iso3"])
    problems: list[str] = []
    if len(economies) < MIN_ECONOMIES:
        problems.append(f"only {len(economies)} economies (expected >= {MIN_ECONOMIES})")
    for label, codes, expected in (
        ("LDC", groups.ldc, UN_GROUP_SIZES["ldc"]),
        ("LLDC", groups.lldc, UN_GROUP_SIZES["lldc"]),
        ("SIDS UN members", groups.sids_un_members, UN_GROUP_SIZES["sids_un_members"]),
    ):
        if len(codes) != expected:
            problems.append(f"{label} list has {len(codes)} codes, expected {expected} "
                            f"(if the UN list changed, update {UN_GROUPS_FILE} and UN_GROUP_SIZES)")
    for label, codes in (
        ("LDC", groups.ldc),
        ("LLDC", groups.lldc),
        ("SIDS", groups.sids),
        ("hand alias", set(HAND_ALIASES)),
        ("other code", set(OTHER_CODES.values())),
    ):
        unknown = sorted(codes - economies)
        if unknown:
            problems.append(f"{label} codes not in the economy list: {unknown}")
    bad_income = sorted(set(countries["income_group"].dropna()) - set(INCOME_GROUPS))
    if bad_income:
        problems.append(f"unexpected income groups {bad_income}")
    for column in ("iso2", "m49"):
        values = countries[column].dropna()
        if values.duplicated().any():
            problems.append(f"duplicate {column} {sorted(set(values[values.duplicated()]))}")
    if not countries["m49"].dropna().str.fullmatch(r"\d{3}").all():
        problems.append("m49 codes must be 3 digits")

    alias_keys = aliases.assign(key=aliases["alias"].map(normalise_name))
    clashes = alias_keys.groupby("key")["iso3"].nunique()
    for key in clashes[clashes > 1].index:
        named = alias_keys[alias_keys["key"] == key]
        problems.append(f"alias {key!r} names several economies: {named.values.tolist()}")
    aggregate_keys = set(aggregates["name"].map(normalise_name))
    overlap = alias_keys[alias_keys["key"].isin(aggregate_keys)]
    if not overlap.empty:
        problems.append(f"aliases that are also aggregate names: {overlap.values.tolist()}")
    aggregate_codes = set(aggregates["code"].dropna())
    code_overlap = sorted(aggregate_codes & (economies | set(aliases["alias"].str.upper())))
    if code_overlap:
        problems.append(f"aggregate codes that are also economy codes or aliases: {code_overlap}")
    m49_overlap = sorted(set(aggregates["m49"].dropna()) & set(countries["m49"].dropna()))
    if m49_overlap:
        problems.append(f"aggregate M49 codes that are also economy codes: {m49_overlap}")
    if problems:
        raise DataError("country reference failed its checks:\n- " + "\n- ".join(problems))


# --------------------------------------------------------------------------
# Save
# --------------------------------------------------------------------------


def _pycountry_version() -> str:
    from importlib.metadata import version

    return version("pycountry")


def _sha256(path: Path) -> str:
    return sha256_file(path)


def _csv_text(frame: pd.DataFrame) -> str:
    """CSV with LF line ends, empty cells for missing values and true/false for flags."""
    out = neutralise_formulas(frame).copy()  # spreadsheet formulas made inert (OWASP)
    for column in out.columns:
        if out[column].dtype == bool:
            out[column] = out[column].map({True: "true", False: "false"})
    return out.to_csv(index=False, lineterminator="\n", na_rep="")


def build_provenance(
    countries: pd.DataFrame,
    aggregates: pd.DataFrame,
    aliases: pd.DataFrame,
    metadata_file: Path,
    wdi_long_files: list[Path],
    groups: UnGroups,
    groups_file: Path,
) -> dict[str, object]:
    """Where every column came from, with checksums, so a rebuild can be compared."""
    sources: list[dict[str, str]] = [
        {
            "name": metadata_file.name,
            "sha256": _sha256(metadata_file),
            "producer": "World Bank",
            "used_for": "economies, wb_region, income_group, World Bank names and aggregates",
            "origin": "World Bank bulk download for IT.NET.USER.ZS "
            "(data.worldbank.org/indicator/IT.NET.USER.ZS), downloaded in 2024",
            "licence": "CC BY 4.0",
        }
    ]
    sources += [
        {
            "name": f"{file.parent.name}/{file.name}",
            "sha256": _sha256(file),
            "producer": "World Bank (WDI, long format)",
            "used_for": "World Bank spellings of names (aliases)",
            "licence": "CC BY 4.0",
        }
        for file in wdi_long_files
    ]
    return {
        "title": "p2c_research country reference",
        "files": [COUNTRIES_FILE, AGGREGATES_FILE, ALIASES_FILE],
        "sources": sources,
        "wb_classification": {
            "description": WB_CLASSIFICATION,
            "fiscal_year": "FY2025",
            "effective": WB_CLASSIFICATION_DATE,
            "metadata_file_downloaded": "2024 (committed upstream on 2024-11-29)",
        },
        "iso_codes": {
            "via": "pycountry",
            "pycountry_version": _pycountry_version(),
            "note": "iso2 and m49 (= ISO 3166 numeric for countries) from pycountry, "
            "except XKX Kosovo (iso2 XK, user-assigned; no M49 code, so m49 is empty) "
            "and CHI Channel Islands (no ISO code, so iso2 is empty; m49 830 from UN M49)",
        },
        "un_lists": {
            "file": f"{groups_file.name} (sha256 {_sha256(groups_file)})",
            "ldc": {**groups.provenance.get("groups", {}).get("ldc", {}),
                    "count": int(countries["ldc"].sum())},
            "lldc": {**groups.provenance.get("groups", {}).get("lldc", {}),
                     "count": int(countries["lldc"].sum())},
            "sids": {**groups.provenance.get("groups", {}).get("sids", {}),
                     "count": int(countries["sids"].sum()),
                     "count_un_members": len(groups.sids_un_members),
                     "note": groups.note()},
        },
        "notes": {
            "income_group": "empty for VEN (unclassified by the World Bank in this file)",
            "aggregates": "m49 is filled for UN M49 / SDG areas only; World Bank and ITU "
            "aggregates have none",
        },
        "counts": {
            "economies": len(countries),
            "aggregate_rows": len(aggregates),
            "world_bank_aggregate_codes": int(aggregates["code"].dropna().nunique()),
            "aliases": len(aliases),
        },
        "licence": LICENCE_NOTE,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@dataclass(frozen=True)
class ReferenceInputs:
    """What the country reference is built from."""

    metadata_file: Path
    metadata: pd.DataFrame
    long_names: pd.DataFrame | None
    long_files: list[Path]
    groups: UnGroups
    groups_file: Path


@dataclass(frozen=True)
class CountryReference:
    """The three tables and the provenance that describes them."""

    countries: pd.DataFrame
    aggregates: pd.DataFrame
    aliases: pd.DataFrame
    provenance: dict[str, Any]


@dataclass
class CountryReferenceBuilder(Builder[ReferenceInputs, CountryReference]):
    """Build the four country reference files.

    Args:
        metadata_file: World Bank ``Metadata_Country_*.csv`` from a bulk download.
        wdi_long_dir: optional folder of WDI long CSVs (``Country Name,Country Code,...``)
            whose names become aliases; None to skip.
        out_dir: target folder, normally ``p2c_research/resources``.
        groups_dir: where ``un_groups.csv`` is read (default: the packaged resources).
    """

    name: ClassVar[str] = "country reference"
    metadata_file: Path
    wdi_long_dir: Path | None = None
    out_dir: Path = RESOURCES_DIR
    groups_dir: Path = RESOURCES_DIR

    def load(self) -> ReferenceInputs:
        metadata_file = Path(self.metadata_file)
        long_names, long_files = (read_wdi_long_names(Path(self.wdi_long_dir))
                                  if self.wdi_long_dir is not None else (None, []))
        return ReferenceInputs(metadata_file, read_wb_metadata(metadata_file), long_names,
                               long_files, read_un_groups(self.groups_dir),
                               Path(self.groups_dir) / UN_GROUPS_FILE)

    def process(self, loaded: ReferenceInputs) -> CountryReference:
        countries = build_countries(loaded.metadata, loaded.groups)
        aggregates = build_aggregates(loaded.metadata, loaded.long_names)
        aliases = build_aliases(countries, loaded.metadata, loaded.long_names)
        provenance = build_provenance(countries, aggregates, aliases, loaded.metadata_file,
                                      loaded.long_files, loaded.groups, loaded.groups_file)
        return CountryReference(countries, aggregates, aliases, provenance)

    def check(self, result: CountryReference) -> list[str]:
        sanity_check(result.countries, result.aggregates, result.aliases,
                     read_un_groups(self.groups_dir))
        flags = result.countries
        return [f"{len(flags)} economies ({int(flags['ldc'].sum())} LDC, "
                f"{int(flags['lldc'].sum())} LLDC, {int(flags['sids'].sum())} SIDS)"]

    def save(self, result: CountryReference) -> dict[str, Path]:
        out_dir = Path(self.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        return {
            "countries": atomic_write_text(out_dir / COUNTRIES_FILE, _csv_text(result.countries)),
            "aggregates": atomic_write_text(out_dir / AGGREGATES_FILE,
                                            _csv_text(result.aggregates)),
            "aliases": atomic_write_text(out_dir / ALIASES_FILE, _csv_text(result.aliases)),
            "provenance": atomic_write_text(
                out_dir / PROVENANCE_FILE,
                json.dumps(result.provenance, indent=2, ensure_ascii=False) + "\n"),
        }


def build_country_reference(
    wb_metadata_csv: Path, wdi_long_dir: Path | None, out_dir: Path
) -> pd.DataFrame:
    """Build and write the country reference; returns the countries frame as written."""
    built = CountryReferenceBuilder(Path(wb_metadata_csv), wdi_long_dir, Path(out_dir)).run()
    return built.result.countries
