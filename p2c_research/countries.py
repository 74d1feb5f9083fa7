"""The country reference: World Bank economies, their codes, names and UN groups.

Inside the package a country is an ISO 3166 alpha-3 code from the World Bank
economy list (217 economies, including the non-ISO ``XKX`` Kosovo and ``CHI``
Channel Islands). This module is the one place where names, ISO2 codes and UN
M49 numbers are turned into those codes, so every adapter harmonises the same
way and every value it cannot place is reported, never silently dropped.

It reads only the generated files committed in ``p2c_research/resources``
(``countries.csv``, ``aggregates.csv``, ``country_aliases.csv``); rebuild them
with ``invoke data.countries`` (:mod:`p2c_research.countries_build`). The ITU-D
region of each ITU member (``itu_regions.csv``, the standard peer set) is
built by :mod:`p2c_research.regions_build` (``invoke data.regions``).
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
from rapidfuzz import fuzz, process

from p2c_research.config import RESOURCES_DIR
from p2c_research.errors import DataError, UnknownCountryError

logger = logging.getLogger("p2c_research.countries")

COUNTRIES_FILE = "countries.csv"
AGGREGATES_FILE = "aggregates.csv"
ALIASES_FILE = "country_aliases.csv"

COUNTRY_COLUMNS = [
    "iso3",
    "iso2",
    "m49",
    "name",
    "wb_region",
    "income_group",
    "ldc",
    "lldc",
    "sids",
]
FLAG_COLUMNS = ["ldc", "lldc", "sids"]
AGGREGATE_COLUMNS = ["code", "name", "m49", "publisher"]
ALIAS_COLUMNS = ["alias", "iso3", "source"]

UN_GROUPS = {"LDC": "ldc", "LLDC": "lldc", "SIDS": "sids"}

ITU_REGIONS_FILE = "itu_regions.csv"
ITU_REGION_COLUMNS = ["iso3", "name", "itu_region"]
#: The six ITU-D regions, as ITU names them. ITU benchmarks by these, and
#: P2C picks one partner in each; they are not the World Bank regions
#: (Mauritania is Arab States for ITU, Sub-Saharan Africa for the World Bank).
ITU_REGIONS = ("Africa", "Americas", "Arab States", "Asia & Pacific", "CIS", "Europe")
#: The ITU-D regions of the four P2C partner countries: certain (ITU's own
#: P2C material names them), so every build of the region list must agree.
PARTNER_ITU_REGIONS = {
    "KHM": "Asia & Pacific",
    "MDG": "Africa",
    "DOM": "Americas",
    "MRT": "Arab States",
}
HARMONISE_KINDS = ("auto", "iso3", "iso2", "m49", "name")

_REBUILD_HINT = (
    "rebuild the country reference with `invoke data.countries "
    "--metadata <World Bank Metadata_Country_*.csv> --wdi-long <dir>`"
)
_USE_ISO3_HINT = "Use an ISO 3166 alpha-3 code from the World Bank economy list."
_REBUILD_REGIONS_HINT = (
    "rebuild it with `invoke data.regions --source ../shared/real/itu_regions.csv` "
    "(or refresh it from ITU DataHub with `invoke data.regions --datahub`)"
)

# Words that carry no information when matching country names ("The Gambia"
# and "Gambia, The" are the same country); "st" is expanded so that the World
# Bank's "St. Lucia" and the UN's "Saint Lucia" normalise alike.
_DROP_WORDS = frozenset({"the"})
_EXPAND_WORDS = {"st": "saint"}
_APOSTROPHES = re.compile(r"['’‘`´ʼ.]")
_NON_WORD = re.compile(r"[\W_]+")
_M49_TEXT = re.compile(r"\d{1,3}(?:\.0*)?")


def normalise_name(name: str) -> str:
    """Reduce a country or region name to a key that ignores spelling noise.

    Casefolds, strips accents, turns ``&`` into ``and``, deletes apostrophes
    and full stops (so "U.S." and "US", "d'Ivoire" and "d’Ivoire" agree),
    replaces other punctuation by spaces, drops "the" and expands "St." to
    "saint". The alias table is stored as written; only matching uses this.
    """
    text = unicodedata.normalize("NFKD", str(name).casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("&", " and ")
    text = _APOSTROPHES.sub("", text)
    text = _NON_WORD.sub(" ", text)
    words = [_EXPAND_WORDS.get(word, word) for word in text.split() if word not in _DROP_WORDS]
    return " ".join(words)


def _m49_key(value: object) -> str | None:
    """Return a zero-padded 3-digit M49 code for 4, "4", "004" or "4.0", else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None
        number = int(value)
    else:
        text = str(value).strip()
        if not _M49_TEXT.fullmatch(text):
            return None
        number = int(float(text))
    return f"{number:03d}" if 0 < number < 1000 else None


def _is_missing(value: object) -> bool:
    """True for None, NaN and pandas NA: absent values are not names to match."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


# --------------------------------------------------------------------------
# Loading the committed resources
# --------------------------------------------------------------------------


def _read_resource(file_name: str, columns: list[str]) -> pd.DataFrame:
    """Read one generated CSV as strings, checking that its columns are the documented ones.

    ``keep_default_na=False`` matters: Namibia's ISO2 code is "NA".
    """
    path = Path(RESOURCES_DIR) / file_name
    if not path.is_file():
        raise DataError(f"country reference file {path} is missing; {_REBUILD_HINT}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if list(frame.columns) != columns:
        raise DataError(
            f"{path} has columns {list(frame.columns)}, expected {columns}; {_REBUILD_HINT}"
        )
    return frame


@lru_cache(maxsize=1)
def _countries_frame() -> pd.DataFrame:
    """countries.csv with the true/false flags turned into bool (read once)."""
    frame = _read_resource(COUNTRIES_FILE, COUNTRY_COLUMNS)
    for column in FLAG_COLUMNS:
        values = frame[column].str.lower()
        valid = values.isin(["true", "false"])
        if not valid.all():
            bad = sorted(set(frame.loc[~valid, column].fillna("<empty>")))
            raise DataError(
                f"{RESOURCES_DIR / COUNTRIES_FILE}: column {column!r} must be true/false, "
                f"found {bad}; {_REBUILD_HINT}"
            )
        frame[column] = values.eq("true").astype(bool)
    if frame["iso3"].duplicated().any():
        dupes = sorted(frame.loc[frame["iso3"].duplicated(), "iso3"])
        raise DataError(
            f"{RESOURCES_DIR / COUNTRIES_FILE}: duplicate iso3 {dupes}; {_REBUILD_HINT}"
        )
    return frame


@lru_cache(maxsize=1)
def _aggregates_frame() -> pd.DataFrame:
    return _read_resource(AGGREGATES_FILE, AGGREGATE_COLUMNS)


@lru_cache(maxsize=1)
def _aliases_frame() -> pd.DataFrame:
    return _read_resource(ALIASES_FILE, ALIAS_COLUMNS)


def load_countries() -> pd.DataFrame:
    """Return the World Bank economies with codes, region, income group and UN group flags.

    One row per economy, columns ``iso3, iso2, m49, name, wb_region,
    income_group, ldc, lldc, sids``. Codes and names are strings (``m49`` is
    zero-padded, e.g. "004"); a missing ``iso2``/``m49``/``income_group`` is
    NaN (Kosovo has no M49 code, Channel Islands no ISO2, Venezuela no income
    group); the flags are bool. The frame is a copy, so callers may modify it.
    """
    return _countries_frame().copy()


def load_aggregates() -> pd.DataFrame:
    """Return the known aggregates: World Bank codes plus UN M49/SDG and ITU region names.

    Columns ``code`` (World Bank code, NaN for other publishers), ``name``,
    ``m49`` (UN M49 area code where there is one) and ``publisher``. A code
    can appear on several rows when a publisher has used several names for it.
    """
    return _aggregates_frame().copy()


@dataclass(frozen=True)
class _Reference:
    """Lookup tables built once from the resources."""

    economies: frozenset[str]
    names: dict[str, str]
    iso2: dict[str, str]
    m49: dict[str, str]
    aliases: dict[str, str]
    aggregate_codes: dict[str, str]
    aggregate_m49: dict[str, str]
    aggregate_names: dict[str, str]


def _code_to_iso3(countries: pd.DataFrame, column: str) -> dict[str, str]:
    """Map the non-missing codes of ``column`` (iso2 or m49) to ISO3."""
    present = countries.dropna(subset=[column])
    return dict(zip(present[column], present["iso3"], strict=True))


@lru_cache(maxsize=1)
def _reference() -> _Reference:
    countries = _countries_frame()
    aggregates = _aggregates_frame()
    alias_rows = _aliases_frame()

    aliases: dict[str, str] = {}
    for alias, iso3 in zip(alias_rows["alias"], alias_rows["iso3"], strict=True):
        key = normalise_name(alias)
        if aliases.setdefault(key, iso3) != iso3:
            raise DataError(
                f"{RESOURCES_DIR / ALIASES_FILE}: alias {alias!r} names both "
                f"{aliases[key]} and {iso3}; {_REBUILD_HINT}"
            )
    for iso3, name in zip(countries["iso3"], countries["name"], strict=True):
        aliases.setdefault(normalise_name(name), iso3)

    # The first row of a code or M49 number carries its main name.
    aggregate_codes: dict[str, str] = {}
    aggregate_m49: dict[str, str] = {}
    for code, m49, name in zip(
        aggregates["code"], aggregates["m49"], aggregates["name"], strict=True
    ):
        if not _is_missing(code):
            aggregate_codes.setdefault(code, name)
        if not _is_missing(m49):
            aggregate_m49.setdefault(m49, name)
    return _Reference(
        economies=frozenset(countries["iso3"]),
        names=dict(zip(countries["iso3"], countries["name"], strict=True)),
        iso2=_code_to_iso3(countries, "iso2"),
        m49=_code_to_iso3(countries, "m49"),
        aliases=aliases,
        aggregate_codes=aggregate_codes,
        aggregate_m49=aggregate_m49,
        aggregate_names={normalise_name(name): name for name in aggregates["name"]},
    )


# --------------------------------------------------------------------------
# Questions about one code
# --------------------------------------------------------------------------


def is_economy(code: str) -> bool:
    """True if ``code`` (any case, spaces ignored) is the ISO3 code of a World Bank economy."""
    if _is_missing(code):
        return False
    return str(code).strip().upper() in _reference().economies


def is_aggregate(code_or_name: str) -> bool:
    """True if the value is an aggregate: a World Bank code, an M49 area code or a region name.

    Recognises e.g. "WLD", "SSF", "001", 202, "World", "Sub-Saharan Africa",
    "Arab States" or "Least Developed Countries (LDC)".
    """
    if _is_missing(code_or_name):
        return False
    ref = _reference()
    text = str(code_or_name).strip()
    if text.upper() in ref.aggregate_codes:
        return True
    m49 = _m49_key(code_or_name)
    if m49 is not None:
        return m49 in ref.aggregate_m49
    return normalise_name(text) in ref.aggregate_names


def _close_codes(code: str, limit: int = 5) -> list[str]:
    """Economy codes that differ from a 3-letter ``code`` in one letter, best first.

    Positional agreement is what a typo keeps ("KHN" -> KHM, CHN, KEN), and a
    shared prefix ranks first; plain edit distance ties too often on 3 letters.
    """
    if len(code) != 3 or not code.isalpha():
        return []
    scored = []
    for candidate in _reference().economies:
        same = sum(a == b for a, b in zip(code, candidate, strict=True))
        if same >= 2:
            prefix = 2 if candidate[:2] == code[:2] else int(candidate[0] == code[0])
            scored.append((-same, -prefix, candidate))
    return [candidate for *_, candidate in sorted(scored)[:limit]]


def _close_names(text: str, limit: int = 3, cutoff: float = 75.0) -> list[str]:
    """ISO3 codes whose aliases are close to ``text`` (typos in names, e.g. "Cambodja")."""
    key = normalise_name(text)
    if len(key) < 4:
        return []
    ref = _reference()
    matches = process.extract(
        key, list(ref.aliases), scorer=fuzz.ratio, limit=limit * 4, score_cutoff=cutoff
    )
    found: list[str] = []
    for alias, _score, _index in matches:
        iso3 = ref.aliases[alias]
        if iso3 not in found:
            found.append(iso3)
    return found[:limit]


def _suggestions(value: str) -> list[str]:
    """Economies the user probably meant, most likely first."""
    suggestions: list[str] = []
    exact = _classify(value, "auto")
    if exact[0] == "economy" and exact[1] is not None:
        suggestions.append(exact[1])
    for iso3 in _close_codes(value.strip().upper()) + _close_names(value):
        if iso3 not in suggestions:
            suggestions.append(iso3)
    return suggestions[:5]


def validate_iso3(code: str) -> str:
    """Return ``code`` upper-cased and stripped if it is a World Bank economy, else raise.

    This is the gate for every country code that comes from a user (CLI
    argument, params file, notebook parameter): nothing builds a path or a
    query from a code that has not passed it, so "../x" is simply an unknown
    code.

    Raises:
        UnknownCountryError: the message starts ``unknown country code 'XXX'``
            and lists close matches (codes one letter off, or the code of a
            name, ISO2 or M49 value that was given instead).
    """
    shown = str(code).strip().upper()
    ref = _reference()
    if isinstance(code, str) and shown in ref.economies:
        return shown
    message = f"unknown country code '{shown}'"
    suggestions = []
    if shown in ref.aggregate_codes:
        message += (
            f"; {shown} is a World Bank aggregate ({ref.aggregate_codes[shown]}), not an economy"
        )
    else:
        suggestions = _suggestions(str(code))
    if suggestions:
        listed = ", ".join(f"{iso3} ({ref.names[iso3]})" for iso3 in suggestions)
        message += f"; did you mean {listed}? {_USE_ISO3_HINT}"
    else:
        message += f". {_USE_ISO3_HINT}"
    raise UnknownCountryError(message)


def iso3_to_name(code: str) -> str:
    """The World Bank short name of an economy (e.g. "KHM" -> "Cambodia"), for reports."""
    return _reference().names[validate_iso3(code)]


def m49_to_iso3() -> dict[str, str]:
    """Map zero-padded UN M49 codes of economies to ISO3 ("116" -> "KHM"); XKX has none."""
    return dict(_reference().m49)


def group_members(group: str) -> list[str]:
    """ISO3 codes (sorted) of a UN group, a World Bank region or an income group.

    ``group`` is "LDC", "LLDC" or "SIDS" (any case), a World Bank region such
    as "Sub-Saharan Africa", or an income group such as "Lower middle income";
    names are matched after normalisation ("Europe and Central Asia" works).

    Raises:
        DataError: the group is none of these; the message lists the valid ones.
    """
    return list(_group_members(str(group).strip()))


@lru_cache(maxsize=64)
def _group_members(text: str) -> tuple[str, ...]:
    """:func:`group_members`, once per group and process (every report asks for its sets)."""
    countries = _countries_frame()
    if text.upper() in UN_GROUPS:
        members = countries.loc[countries[UN_GROUPS[text.upper()]], "iso3"]
        return tuple(sorted(members))
    key = normalise_name(text)
    for column in ("wb_region", "income_group"):
        values = countries[column].dropna()
        matching = values[values.map(normalise_name) == key]
        if not matching.empty:
            return tuple(sorted(countries.loc[matching.index, "iso3"]))
    regions = sorted(countries["wb_region"].dropna().unique())
    incomes = sorted(countries["income_group"].dropna().unique())
    raise DataError(
        f"unknown country group {text!r}; use one of {', '.join(UN_GROUPS)}, a World Bank "
        f"region ({', '.join(regions)}) or an income group ({', '.join(incomes)})"
    )


# --------------------------------------------------------------------------
# ITU-D regions
# --------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _itu_regions_frame() -> pd.DataFrame:
    """itu_regions.csv, checked once: unique codes, only the six ITU-D region names."""
    path = Path(RESOURCES_DIR) / ITU_REGIONS_FILE
    if not path.is_file():
        raise DataError(f"ITU-D region list {path} is missing; {_REBUILD_REGIONS_HINT}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(frame.columns) != ITU_REGION_COLUMNS:
        raise DataError(f"{path} has columns {list(frame.columns)}, expected "
                        f"{ITU_REGION_COLUMNS}; {_REBUILD_REGIONS_HINT}")
    unknown = sorted(set(frame["itu_region"]) - set(ITU_REGIONS))
    if unknown:
        raise DataError(f"{path}: unknown ITU-D region(s) {unknown}, expected one of "
                        f"{', '.join(ITU_REGIONS)}; {_REBUILD_REGIONS_HINT}")
    if frame["iso3"].duplicated().any():
        dupes = sorted(set(frame.loc[frame["iso3"].duplicated(), "iso3"]))
        raise DataError(f"{path}: duplicate iso3 {dupes}; {_REBUILD_REGIONS_HINT}")
    return frame


def load_itu_regions() -> pd.DataFrame:
    """Every ITU member with its ITU-D region: ``iso3, name, itu_region`` (a copy).

    Members that are not World Bank economies (Vatican City State, ``VAT``)
    are kept, since the list is ITU's; the peer-set functions below leave
    them out, because the analyses only know World Bank economies. Where the
    list comes from, and how far to trust it, is in
    ``resources/itu_regions.provenance.json``.
    """
    return _itu_regions_frame().copy()


@lru_cache(maxsize=1)
def _itu_region_of() -> dict[str, str]:
    frame = _itu_regions_frame()
    return dict(zip(frame["iso3"], frame["itu_region"], strict=True))


def itu_region(code: str) -> str | None:
    """The ITU-D region of an economy ("KHM" -> "Asia & Pacific"), None if not an ITU member.

    None is an answer, not an error: Hong Kong SAR, Macao SAR, Puerto Rico,
    Aruba, Kosovo and other World Bank economies are not ITU members, so they
    have no ITU-D region and reports compare them with their World Bank
    region instead.
    """
    return _itu_region_of().get(validate_iso3(code))


def is_itu_member(code: str) -> bool:
    """True if the economy is an ITU member (it has an ITU-D region)."""
    return itu_region(code) is not None


def itu_region_members(region: str) -> list[str]:
    """World Bank economies (ISO3, sorted) of one ITU-D region, e.g. "Arab States".

    The name is matched after :func:`normalise_name` ("Asia and Pacific"
    works). Members that are not World Bank economies (``VAT``) are left out.

    Raises:
        DataError: ``region`` is not one of :data:`ITU_REGIONS`.
    """
    names = {normalise_name(name): name for name in ITU_REGIONS}
    key = normalise_name(str(region))
    if key not in names:
        raise DataError(f"unknown ITU-D region {region!r}; use one of {', '.join(ITU_REGIONS)}")
    return list(_itu_region_members(names[key]))


@lru_cache(maxsize=len(ITU_REGIONS))
def _itu_region_members(name: str) -> tuple[str, ...]:
    economies = _reference().economies
    return tuple(sorted(iso3 for iso3, region in _itu_region_of().items()
                        if region == name and iso3 in economies))


# --------------------------------------------------------------------------
# Harmonising many values
# --------------------------------------------------------------------------


@dataclass
class HarmonisedCodes:
    """The outcome of harmonising a list of country codes or names onto ISO3.

    Attributes:
        mapping: input value (as ``str(value)``) -> ISO3, for values that matched an economy.
        aggregates: input values recognised as aggregates (regions, income groups, World).
        unmatched: every other non-missing input value; report these, never drop them.
        n_missing: how many inputs were empty or NaN (not matched, not unmatched).
    """

    mapping: dict[str, str] = field(default_factory=dict)
    aggregates: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    n_missing: int = 0

    def report(self) -> str:
        """A short human-readable account, with close matches for each unmatched value."""
        total = len(self.mapping) + len(self.aggregates) + len(self.unmatched)
        lines = [
            f"{total} distinct values: {len(self.mapping)} matched to an economy, "
            f"{len(self.aggregates)} aggregates, {len(self.unmatched)} unmatched"
            + (f" ({self.n_missing} empty values skipped)" if self.n_missing else "")
        ]
        if self.aggregates:
            lines.append("aggregates (left out): " + ", ".join(self.aggregates))
        if self.unmatched:
            lines.append("unmatched (add an alias or fix the source):")
            names = _reference().names
            for value in self.unmatched:
                close = _suggestions(value)
                hint = (
                    " -- closest: " + ", ".join(f"{iso3} ({names[iso3]})" for iso3 in close)
                    if close
                    else ""
                )
                lines.append(f"  {value!r}{hint}")
        return "\n".join(lines)


def _classify(value: object, kind: str) -> tuple[str, str | None]:
    """Return ("economy", iso3), ("aggregate", None) or ("unmatched", None) for one value."""
    ref = _reference()
    text = str(value).strip()
    if kind in ("auto", "m49"):
        m49 = _m49_key(value)
        if m49 is not None:
            if m49 in ref.m49:
                return "economy", ref.m49[m49]
            if m49 in ref.aggregate_m49:
                return "aggregate", None
            return "unmatched", None
    upper = text.upper()
    if kind in ("auto", "iso3") and len(upper) == 3 and upper.isalpha():
        if upper in ref.economies:
            return "economy", upper
        if upper in ref.aggregate_codes:
            return "aggregate", None
    if kind in ("auto", "iso2") and len(upper) == 2 and upper.isalpha() and upper in ref.iso2:
        return "economy", ref.iso2[upper]
    if kind in ("auto", "name"):
        key = normalise_name(text)
        if key in ref.aliases:
            return "economy", ref.aliases[key]
        if key in ref.aggregate_names:
            return "aggregate", None
    return "unmatched", None


def harmonise(values: Iterable[object], *, kind: str = "auto") -> HarmonisedCodes:
    """Match country codes or names onto World Bank ISO3 economies.

    Values may be ISO3 or ISO2 codes (any case), M49 numbers (4, "4", "004",
    "4.0") or names in any spelling of the alias table; names are compared
    after :func:`normalise_name`. ``kind`` restricts the interpretation to
    one of "iso3", "iso2", "m49" or "name" ("auto" tries them in that order).
    Empty values and NaN are counted in ``n_missing``, not reported as unmatched.
    """
    if kind not in HARMONISE_KINDS:
        raise ValueError(f"kind must be one of {HARMONISE_KINDS}, got {kind!r}")
    result = HarmonisedCodes()
    seen: set[str] = set()
    for value in values:
        if _is_missing(value) or not str(value).strip():
            result.n_missing += 1
            continue
        key = str(value)
        if key in seen:
            continue
        seen.add(key)
        outcome, iso3 = _classify(value, kind)
        if outcome == "economy" and iso3 is not None:
            result.mapping[key] = iso3
        elif outcome == "aggregate":
            result.aggregates.append(key)
        else:
            result.unmatched.append(key)
    return result


def to_iso3_series(s: pd.Series, *, kind: str = "auto") -> tuple[pd.Series, HarmonisedCodes]:
    """Map a column of codes or names to ISO3, NaN where a value is an aggregate or unmatched.

    Every unmatched value is logged as a warning on the "p2c_research.countries"
    logger (aggregates at info level), so a dropped country is never silent.
    Returns the ISO3 series (same index, named "iso3") and the full outcome.
    """
    outcome = harmonise(s.tolist(), kind=kind)
    iso3 = pd.Series(
        [None if _is_missing(value) else outcome.mapping.get(str(value)) for value in s],
        index=s.index,
        name="iso3",
        dtype="str",
    )
    column = s.name if s.name is not None else "<unnamed>"
    if outcome.unmatched:
        logger.warning(
            "%d value(s) of column %r matched no economy and became NaN: %s",
            len(outcome.unmatched),
            column,
            ", ".join(repr(value) for value in outcome.unmatched),
        )
    if outcome.aggregates:
        logger.info(
            "%d aggregate(s) of column %r left out: %s",
            len(outcome.aggregates),
            column,
            ", ".join(outcome.aggregates),
        )
    return iso3, outcome
