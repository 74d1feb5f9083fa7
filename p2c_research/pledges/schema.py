"""Our pledge schema: one row per P2C pledge, its allowed values and its validation.

No pledge-level P2C dataset or schema is public, so this schema is ours. It
keeps the fields ITU reports mention (pledging entity, stakeholder group,
targets, focus area and pillar, pledge type, USD value, SDGs, beneficiaries,
self-reported status) in one flat, typed table that both the synthetic
generator and the importer of a real export produce. ``docs/pledges.md``
documents every column.

Validation has two layers, both lazy (every problem is collected, none stops
the others):

* a pandera :class:`~pandera.api.pandas.container.DataFrameSchema` for types,
  allowed values, ranges and patterns (:func:`pledge_schema`);
* row-level checks that need the country reference or several columns:
  unknown ISO3 codes, bad region/SDG/beneficiary tokens, no target at all,
  end before start, a pillar outside its focus area, duplicate ids.

:func:`find_problems` returns both as one tidy table ``index, column, reason,
value``, so an importer can keep the good rows and report the bad ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pycountry

from p2c_research.errors import DataError, UnknownCountryError

# --------------------------------------------------------------------------- allowed values
STAKEHOLDER_GROUPS: tuple[str, ...] = (
    "government",
    "private_sector",
    "civil_society",
    "academia",
    "international_regional_organization",
    "un_entity",
)
FOCUS_AREAS: tuple[str, ...] = ("ACCESS", "ADOPTION", "VALUE_CREATION", "ACCELERATE")
#: Pillars of each focus area: the catalog's sub-pillars for the three scored
#: areas (tests check they agree with ``catalog.yaml``), and two of our own for
#: ACCELERATE "Incentivizing investments", which the catalog does not score.
PILLARS_BY_FOCUS: dict[str, tuple[str, ...]] = {
    "ACCESS": ("infrastructure", "affordability", "trust"),
    "ADOPTION": ("usage", "skills", "inclusion"),
    "VALUE_CREATION": ("innovation", "ict_sector_and_trade", "digital_business"),
    "ACCELERATE": ("investment", "policy_regulation"),
}
PILLARS: tuple[str, ...] = tuple(p for ps in PILLARS_BY_FOCUS.values() for p in ps)
FOCUS_OF_PILLAR: dict[str, str] = {p: f for f, ps in PILLARS_BY_FOCUS.items() for p in ps}
PLEDGE_TYPES: tuple[str, ...] = ("programmatic", "advocacy", "policy", "financial", "other")
STATUSES: tuple[str, ...] = ("completed", "in_progress", "not_started", "not_reported")
BENEFICIARIES: tuple[str, ...] = (
    "women",
    "youth",
    "persons_with_disabilities",
    "rural",
    "indigenous",
    "older_persons",
)
REGION_TOKENS: tuple[str, ...] = (
    "global",
    "africa",
    "americas",
    "arab_states",
    "asia_pacific",
    "cis",
    "europe",
    "ldc",
    "lldc",
    "sids",
)
REGION_LABELS: dict[str, str] = {
    "global": "worldwide",
    "africa": "Africa",
    "americas": "the Americas",
    "arab_states": "the Arab States",
    "asia_pacific": "Asia and the Pacific",
    "cis": "the CIS region",
    "europe": "Europe",
    "ldc": "the least developed countries",
    "lldc": "the landlocked developing countries",
    "sids": "the small island developing States",
}

# --------------------------------------------------------------------------- columns
#: Every column, in canonical order.
PLEDGE_COLUMNS: list[str] = [
    "pledge_id",
    "entity",
    "stakeholder_group",
    "pledger_iso3",
    "target_countries",
    "target_regions",
    "focus_area",
    "pillar",
    "pledge_type",
    "usd_value",
    "currency",
    "start_date",
    "end_date",
    "sdgs",
    "status",
    "beneficiaries",
    "description",
]
#: Columns a file must have (after any column mapping); at least one of
#: ``target_countries`` / ``target_regions`` must be present as well.
REQUIRED_COLUMNS: list[str] = [
    "pledge_id",
    "entity",
    "stakeholder_group",
    "focus_area",
    "pillar",
    "pledge_type",
]
TARGET_COLUMNS: tuple[str, str] = ("target_countries", "target_regions")
#: Value a column takes when a file does not have it at all.
OPTIONAL_DEFAULTS: dict[str, object] = {
    "pledger_iso3": "",
    "target_countries": "",
    "target_regions": "",
    "usd_value": np.nan,
    "currency": "",
    "start_date": pd.NaT,
    "end_date": pd.NaT,
    "sdgs": "",
    "status": "not_reported",
    "beneficiaries": "",
    "description": "",
}
TEXT_COLUMNS: list[str] = [
    c for c in PLEDGE_COLUMNS if c not in ("usd_value", "start_date", "end_date")
]
DATE_COLUMNS: tuple[str, str] = ("start_date", "end_date")
LIST_SEPARATOR = ";"
#: A single pledge above this is almost surely a unit error (thousands or millions).
MAX_USD_VALUE = 1e12

_SPLIT = re.compile(r"[;,|]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SDG_PREFIX = re.compile(r"^sdg\s*", re.IGNORECASE)


def split_tokens(value: object) -> list[str]:
    """Split a ``;``-joined cell into its tokens (empty cell -> empty list)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return []
    return [t for t in (part.strip() for part in str(value).split(LIST_SEPARATOR)) if t]


def join_tokens(tokens: Iterable[str]) -> str:
    """Join tokens with ``;``, dropping blanks and repeats but keeping order."""
    return LIST_SEPARATOR.join(dict.fromkeys(t for t in tokens if t))


# --------------------------------------------------------------------------- regions
# Arab League member states (22), as ISO3. The Comoros, Djibouti, Mauritania,
# Somalia and Sudan are also in Sub-Saharan Africa or MENA for the World Bank.
ARAB_LEAGUE: tuple[str, ...] = (
    "ARE", "BHR", "COM", "DJI", "DZA", "EGY", "IRQ", "JOR", "KWT", "LBN", "LBY",
    "MAR", "MRT", "OMN", "PSE", "QAT", "SAU", "SDN", "SOM", "SYR", "TUN", "YEM",
)  # fmt: skip
# African members of the World Bank's Middle East & North Africa region.
NORTH_AFRICA: tuple[str, ...] = ("DZA", "EGY", "LBY", "MAR", "TUN", "DJI")
# The nine states that submitted ITU Council document C17/98 "Strengthening
# ITU's regional presence in the CIS region" (2017); ITU's CIS membership list
# is not in our sources, so this split is *unverified*. Moldova, Ukraine and
# Georgia, which have taken part in CIS meetings at times, go to ``europe``.
CIS_MEMBERS: tuple[str, ...] = ("ARM", "AZE", "BLR", "KAZ", "KGZ", "RUS", "TJK", "TKM", "UZB")


@lru_cache(maxsize=len(REGION_TOKENS))
def _region_members(region: str) -> tuple[str, ...]:
    from p2c_research import countries

    economies = set(countries.load_countries()["iso3"])
    if region == "global":
        members = economies
    elif region == "africa":
        members = set(countries.group_members("Sub-Saharan Africa")) | set(NORTH_AFRICA)
    elif region == "arab_states":
        members = set(ARAB_LEAGUE)
    elif region == "americas":
        members = set(countries.group_members("Latin America & Caribbean")) | set(
            countries.group_members("North America")
        )
    elif region == "asia_pacific":
        members = set(countries.group_members("East Asia & Pacific")) | set(
            countries.group_members("South Asia")
        )
    elif region in ("cis", "europe"):
        eca = set(countries.group_members("Europe & Central Asia"))
        members = eca & set(CIS_MEMBERS) if region == "cis" else eca - set(CIS_MEMBERS)
    else:  # ldc, lldc, sids
        members = set(countries.group_members(region.upper()))
    return tuple(sorted(members & economies))


def region_members(region: str) -> list[str]:
    """ISO3 economies that a pledge's region token stands for (our approximation).

    ITU-D regions (Africa, Americas, Arab States, Asia & Pacific, CIS, Europe)
    differ from World Bank regions. The tokens are built from World Bank
    regions and UN groups, not from the shipped ITU-D list
    (:func:`p2c_research.countries.itu_region_members`, used for peer sets),
    so a regional pledge also reaches territories that are not ITU members:

    * ``africa``: the African continent, i.e. World Bank Sub-Saharan Africa plus
      DZA, EGY, LBY, MAR, TUN and DJI (how P2C reports count "Africa"; ITU-D's
      own Africa region leaves out the Arab League members);
    * ``arab_states``: the 22 Arab League members that are World Bank economies;
    * ``americas``: Latin America & Caribbean plus North America;
    * ``asia_pacific``: East Asia & Pacific plus South Asia (ITU-D also counts
      Iran, a World Bank MENA economy; we do not);
    * ``cis``: ARM, AZE, BLR, KAZ, KGZ, RUS, TJK, TKM, UZB (*unverified*);
      ``europe``: the rest of World Bank Europe & Central Asia;
    * ``ldc``, ``lldc``, ``sids``: the UN groups from the country reference;
    * ``global``: every economy.

    A country can be in several tokens (MRT is in ``africa`` and ``arab_states``).

    Raises:
        DataError: ``region`` is not one of :data:`REGION_TOKENS`.
    """
    token = str(region).strip().lower()
    if token not in REGION_TOKENS:
        raise DataError(f"unknown region token {region!r}; use one of {', '.join(REGION_TOKENS)}")
    return list(_region_members(token))


def targets_region(pledges: pd.DataFrame, region: str) -> pd.Series:
    """Whether each pledge targets ``region``: a target country in it, or the token itself.

    This is the rule behind the headline figures ("Africa receives 274
    pledges", "261 target an LDC"): a pledge to ``global`` or ``lldc`` does
    not count as targeting Africa unless it names an African country.
    """
    members = set(region_members(region))
    token = str(region).strip().lower()
    by_country = pledges["target_countries"].map(lambda v: any(c in members for c in split_tokens(v)))
    by_token = pledges["target_regions"].map(lambda v: token in split_tokens(v))
    return (by_country | by_token).astype(bool)


def explode_target_countries(pledges: pd.DataFrame) -> pd.DataFrame:
    """One row per (pledge, named target country): ``pledge_id, iso3``. Regions are not expanded."""
    rows = [
        (pid, iso3)
        for pid, cell in zip(pledges["pledge_id"], pledges["target_countries"], strict=True)
        for iso3 in split_tokens(cell)
    ]
    return pd.DataFrame(rows, columns=["pledge_id", "iso3"])


# --------------------------------------------------------------------------- pandera schema
def _isin(values: Iterable[str], allow_empty: bool = False) -> pa.Check:
    values = list(values)
    allowed = [*values, ""] if allow_empty else values
    return pa.Check.isin(allowed, error=f"must be one of {', '.join(values)}")


def _nonempty() -> pa.Check:
    return pa.Check(lambda s: s.str.len() > 0, element_wise=False, error="must not be empty")


@lru_cache(maxsize=1)
def pledge_schema() -> pa.DataFrameSchema:
    """The pandera schema of a pledge table (types, allowed values, ranges, patterns).

    Text columns are strings where "" means empty (never NaN); ``usd_value``
    is a float (NaN = not reported); dates are ``datetime64[ns]`` (NaT = unknown).
    Checks that need the country list or several columns are in
    :func:`row_problems`.
    """
    text = dict(nullable=False)
    return pa.DataFrameSchema(
        {
            "pledge_id": pa.Column(str, _nonempty(), **text),
            "entity": pa.Column(str, _nonempty(), **text),
            "stakeholder_group": pa.Column(str, _isin(STAKEHOLDER_GROUPS), **text),
            "pledger_iso3": pa.Column(
                str, pa.Check.str_matches(r"^([A-Z]{3})?$", error="must be an ISO3 code or empty"),
                **text,
            ),
            "target_countries": pa.Column(
                str,
                pa.Check.str_matches(
                    r"^([A-Z]{3}(;[A-Z]{3})*)?$", error="must be ISO3 codes joined by ';'"
                ),
                **text,
            ),
            "target_regions": pa.Column(str, **text),
            "focus_area": pa.Column(str, _isin(FOCUS_AREAS), **text),
            "pillar": pa.Column(str, _isin(PILLARS), **text),
            "pledge_type": pa.Column(str, _isin(PLEDGE_TYPES), **text),
            "usd_value": pa.Column(
                float,
                [
                    pa.Check.ge(0, error="must be >= 0 (USD)"),
                    pa.Check.le(MAX_USD_VALUE, error="is above USD 1 trillion: check the units"),
                ],
                nullable=True,
            ),
            "currency": pa.Column(
                str,
                pa.Check.str_matches(r"^([A-Z]{3})?$", error="must be an ISO 4217 code or empty"),
                **text,
            ),
            "start_date": pa.Column("datetime64[ns]", nullable=True),
            "end_date": pa.Column("datetime64[ns]", nullable=True),
            "sdgs": pa.Column(str, **text),
            "status": pa.Column(str, _isin(STATUSES), **text),
            "beneficiaries": pa.Column(str, **text),
            "description": pa.Column(str, **text),
        },
        strict=True,
        coerce=True,
        ordered=False,
    )


# --------------------------------------------------------------------------- normalising raw text
def _text(series: pd.Series) -> pd.Series:
    """Strip and stringify a column; missing values become ""."""
    out = series.astype(object).where(series.notna(), "")
    return out.map(lambda v: _CONTROL.sub("", str(v)).strip()).astype(str)


def _token_key(value: str) -> str:
    """Lower-case snake form of a vocabulary value ("Private sector" -> "private_sector")."""
    return re.sub(r"[\s\-/]+", "_", value.strip().lower())


def _list_cell(value: str, transform) -> str:
    return join_tokens(transform(t.strip()) for t in _SPLIT.split(value) if t.strip())


def _sdg_token(token: str) -> str:
    token = _SDG_PREFIX.sub("", token).strip()
    if re.fullmatch(r"\d+(\.0*)?", token):
        return str(int(float(token)))
    return token


def normalise_pledges(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn raw cells (e.g. every value a string) into typed schema columns.

    Forgiving about spelling only where intent is plain: whitespace, case
    ("Private sector" -> ``private_sector``, "Value creation" ->
    ``VALUE_CREATION``), list separators (``,`` and ``|`` as well as ``;``),
    "SDG 4" -> ``4``, thousands separators and a leading "$"/"USD" in values.
    Dates must be ISO 8601 (``YYYY-MM-DD``); other formats are ambiguous and
    are reported rather than guessed. Columns absent from ``raw`` take their
    :data:`OPTIONAL_DEFAULTS`.

    Returns:
        ``(pledges, problems)``: the frame in canonical column order (same
        index as ``raw``) and a problems table ``index, column, reason, value``
        for cells that could not be parsed (their typed value is NaN/NaT).
    """
    out = pd.DataFrame(index=raw.index)
    problems: list[dict[str, object]] = []
    for column in PLEDGE_COLUMNS:
        if column in raw.columns:
            out[column] = raw[column]
        else:
            out[column] = OPTIONAL_DEFAULTS.get(column, "")
    for column in TEXT_COLUMNS:
        out[column] = _text(out[column])
    for column in ("pledger_iso3", "currency"):
        out[column] = out[column].str.upper()
    for column in ("stakeholder_group", "pillar", "pledge_type", "status"):
        out[column] = out[column].map(_token_key)
    out["focus_area"] = out["focus_area"].map(lambda v: _token_key(v).upper())
    out.loc[out["status"] == "", "status"] = "not_reported"
    out["target_countries"] = out["target_countries"].map(lambda v: _list_cell(v, str.upper))
    for column in ("target_regions", "beneficiaries"):
        out[column] = out[column].map(lambda v: _list_cell(v, _token_key))
    out["sdgs"] = out["sdgs"].map(lambda v: _list_cell(v, _sdg_token))

    # Numbers: "1,500,000", "$ 2.5e6" and "USD 300" parse; anything else is reported.
    value_text = _text(raw["usd_value"]) if "usd_value" in raw.columns else None
    if value_text is not None:
        cleaned = value_text.str.replace(r"^(US\$|USD|\$)\s*", "", regex=True, case=False)
        cleaned = cleaned.str.replace(r"[,\s_]", "", regex=True)
        numbers = pd.to_numeric(cleaned.where(cleaned != ""), errors="coerce")
        for idx in numbers.index[(cleaned != "") & numbers.isna()]:
            problems.append({"index": idx, "column": "usd_value",
                             "reason": "not a number (give USD as digits, e.g. 1500000)",
                             "value": value_text[idx]})
        out["usd_value"] = numbers.astype("float64")
    else:
        out["usd_value"] = np.nan

    for column in DATE_COLUMNS:
        if column not in raw.columns:
            out[column] = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
            continue
        source = raw[column]
        if pd.api.types.is_datetime64_any_dtype(source):
            out[column] = source.astype("datetime64[ns]")
            continue
        texts = _text(source)
        # Spreadsheets give "2022-01-01 00:00:00"; keep the date part.
        texts = texts.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]00:00:00$", r"\1", regex=True)
        parsed = pd.to_datetime(texts.where(texts != ""), errors="coerce", format="ISO8601")
        for idx in parsed.index[(texts != "") & parsed.isna()]:
            problems.append({"index": idx, "column": column,
                             "reason": "not a date (use YYYY-MM-DD)", "value": texts[idx]})
        out[column] = parsed.astype("datetime64[ns]")
    return out[PLEDGE_COLUMNS], _problem_frame(problems)


# --------------------------------------------------------------------------- checking
def _problem_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["index", "column", "reason", "value"])
    frame["value"] = frame["value"].map(lambda v: "" if v is None or v is pd.NaT else str(v))
    return frame


def _schema_problems(pledges: pd.DataFrame) -> pd.DataFrame:
    """Run the pandera schema lazily and translate its failure cases."""
    try:
        pledge_schema().validate(pledges, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        rows = []
        for case in cases.to_dict("records"):
            if case["index"] is None or pd.isna(case["index"]):
                # A table-level failure (missing or extra column, wrong dtype).
                raise DataError(
                    f"pledge table does not match the schema: column {case['column']}: "
                    f"{case['check']} ({case['failure_case']})"
                ) from exc
            reason = str(case["check"])
            if reason == "not_nullable":
                reason = "must not be empty"
            rows.append({"index": case["index"], "column": case["column"], "reason": reason,
                         "value": case["failure_case"]})
        return _problem_frame(rows)
    return _problem_frame([])


@lru_cache(maxsize=1)
def _economies() -> frozenset[str]:
    from p2c_research import countries

    return frozenset(countries.load_countries()["iso3"])


def _unknown_code_reason(codes: list[str]) -> str:
    """Explain unknown codes with the country reference's own message (close matches)."""
    from p2c_research import countries

    try:
        countries.validate_iso3(codes[0])
        first = f"unknown country code '{codes[0]}'"
    except UnknownCountryError as exc:
        first = str(exc)
    more = f" (also unknown: {', '.join(codes[1:])})" if len(codes) > 1 else ""
    regions = [c for c in codes if _token_key(c) in REGION_TOKENS]
    hint = f"; {', '.join(regions)}: a region, put it in target_regions" if regions else ""
    return f"{first}{more}{hint}"


def row_problems(pledges: pd.DataFrame) -> pd.DataFrame:
    """Checks across columns or against the country list, one problem row per failure.

    Unknown ISO3 codes (targets and pledger), bad region, SDG and beneficiary
    tokens, a pledge with no target at all, end before start, a pillar outside
    its focus area, and a repeated ``pledge_id`` (the first one is kept).
    Expects the typed frame of :func:`normalise_pledges`.
    """
    economies = _economies()
    problems: list[dict[str, object]] = []

    def add(idx: object, column: str, reason: str, value: object) -> None:
        problems.append({"index": idx, "column": column, "reason": reason, "value": value})

    for idx, cell in pledges["target_countries"].items():
        unknown = [c for c in split_tokens(cell) if c not in economies]
        if unknown:
            add(idx, "target_countries", _unknown_code_reason(unknown), cell)
    for idx, code in pledges["pledger_iso3"].items():
        if code and code not in economies:
            add(idx, "pledger_iso3", _unknown_code_reason([code]), code)
    vocabularies = {
        "target_regions": REGION_TOKENS,
        "beneficiaries": BENEFICIARIES,
        "sdgs": tuple(str(i) for i in range(1, 18)),
    }
    for column, allowed in vocabularies.items():
        for idx, cell in pledges[column].items():
            bad = [t for t in split_tokens(cell) if t not in allowed]
            if bad:
                add(idx, column, f"unknown value(s) {', '.join(bad)}; allowed: "
                                 f"{', '.join(allowed)}", cell)
    no_target = (pledges["target_countries"] == "") & (pledges["target_regions"] == "")
    for idx in pledges.index[no_target]:
        add(idx, "target_countries",
            "no target: target_countries and target_regions are both empty", "")
    late = pledges["end_date"] < pledges["start_date"]
    for idx in pledges.index[late.fillna(False).astype(bool)]:
        add(idx, "end_date",
            f"end_date {pledges.at[idx, 'end_date']:%Y-%m-%d} is before start_date "
            f"{pledges.at[idx, 'start_date']:%Y-%m-%d}", pledges.at[idx, "end_date"].date())
    for idx, focus, pillar in zip(pledges.index, pledges["focus_area"], pledges["pillar"],
                                  strict=True):
        if focus in PILLARS_BY_FOCUS and pillar in FOCUS_OF_PILLAR and FOCUS_OF_PILLAR[pillar] != focus:
            add(idx, "pillar", f"pillar {pillar} belongs to {FOCUS_OF_PILLAR[pillar]}, not "
                               f"{focus}; {focus} pillars: {', '.join(PILLARS_BY_FOCUS[focus])}",
                pillar)
    for idx, code in pledges["currency"].items():
        if re.fullmatch(r"[A-Z]{3}", code) and pycountry.currencies.get(alpha_3=code) is None:
            add(idx, "currency", f"unknown ISO 4217 currency code {code}", code)
    ids = pledges["pledge_id"]
    first_seen = {}
    for idx, pid in ids.items():
        if pid == "":
            continue
        if pid in first_seen:
            add(idx, "pledge_id", f"duplicate pledge_id {pid} (first seen at {first_seen[pid]})", pid)
        else:
            first_seen[pid] = idx
    return _problem_frame(problems)


def find_problems(pledges: pd.DataFrame) -> pd.DataFrame:
    """Every problem of a typed pledge frame: ``index, column, reason, value``.

    Runs the pandera schema lazily and the row checks; keeps one problem per
    cell (row, column), the row check's when both fail as it is the more
    specific ("unknown country code 'XYZ'" beats "must be ISO3 codes"), sorted
    by row.
    """
    frames = [f for f in (row_problems(pledges), _schema_problems(pledges)) if not f.empty]
    problems = pd.concat(frames, ignore_index=True) if frames else _problem_frame([])
    problems = problems.drop_duplicates(["index", "column"], keep="first")
    order = {c: k for k, c in enumerate(PLEDGE_COLUMNS)}
    problems = problems.assign(_order=problems["column"].map(order).fillna(len(order)))
    return problems.sort_values(["index", "_order"], kind="stable").drop(columns="_order")\
        .reset_index(drop=True)


def coerce_pledges(pledges: pd.DataFrame) -> pd.DataFrame:
    """Canonical dtypes and column order for a frame that passed validation."""
    out = pledge_schema().validate(pledges[PLEDGE_COLUMNS], lazy=True)
    for column in TEXT_COLUMNS:
        out[column] = out[column].astype(str)
    return out[PLEDGE_COLUMNS]


def split_valid(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Normalise and check ``raw``; return ``(valid rows, problems)``.

    A row with any problem is left out of the valid frame; ``problems`` has
    one row per problem (``index`` is the label of the row in ``raw``).
    """
    pledges, parse_problems = normalise_pledges(raw)
    problems = find_problems(pledges)
    if not parse_problems.empty:
        # A cell that failed to parse is NaN/NaT now; its parse reason is the useful one.
        problems = pd.concat([parse_problems, problems], ignore_index=True)
        problems = problems.drop_duplicates(["index", "column"], keep="first")
        problems = problems.sort_values("index", kind="stable").reset_index(drop=True)
    bad = set(problems["index"])
    valid = pledges.loc[[i for i in pledges.index if i not in bad]]
    return coerce_pledges(valid), problems


def validate_pledges(pledges: pd.DataFrame, origin: str = "pledges") -> pd.DataFrame:
    """Check a whole pledge table and return it typed; raise listing every problem.

    For frames that must be clean as a whole (the synthetic set, a processed
    file). An importer that keeps good rows uses :func:`split_valid`.

    Raises:
        DataError: names ``origin``, then up to 20 problems as
            ``row <index>: <column>: <reason>``.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in pledges.columns]
    if missing:
        raise DataError(f"{origin}: missing pledge column(s) {missing}; see docs/pledges.md")
    valid, problems = split_valid(pledges)
    if not problems.empty:
        raise DataError(f"{origin}: {len(problems)} pledge problem(s):\n"
                        + format_problems(problems, limit=20))
    return valid


def format_problems(problems: pd.DataFrame, limit: int | None = None, row_column: str = "index",
                    row_label: str = "row") -> str:
    """One line per problem: ``row 7: usd_value: must be >= 0 (USD) (value '-5')``."""
    shown = problems if limit is None else problems.head(limit)
    lines = [
        f"  {row_label} {p[row_column]}: {p['column']}: {p['reason']}"
        + (f" (value {p['value']!r})" if p["value"] not in ("", None) else "")
        for p in shown.to_dict("records")
    ]
    if limit is not None and len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)
