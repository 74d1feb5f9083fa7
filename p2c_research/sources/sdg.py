"""UN SDG API v1 adapter: network coverage, mobile-phone ownership and ICT skills.

Endpoint (``base`` defaults to https://unstats.un.org/sdgapi)::

    GET {base}/v1/sdg/Series/Data?seriesCode=IT_MOB_4GNTWK&page=P&pageSize=N

returns ``{size, totalElements, totalPages, pageNumber, attributes,
dimensions, data: [...]}``; each record has ``series``, ``geoAreaCode`` (UN
M49 as a string, "4" or "004"), ``geoAreaName``, ``timePeriodStart`` (a float
year), ``value`` (a string), ``attributes`` and ``dimensions``.

The database keeps every breakdown side by side (by sex, urban/rural, age,
reporting type), so rows must be reduced to one total per country-year.
The rule, per dimension, is:

* ``Sex``: BOTHSEX; ``Location``: ALLAREA; ``Age``: ALLAGE, else 15+ (the UMC
  population). A record without the dimension counts as the total. Records
  with any other value (FEMALE, URBAN, 15-24, ...) are breakdowns and dropped.
* ``Reporting Type``: G (the custodian's globally comparable figure)
  preferred over N (national figure) when both exist for a country-year.
* ``Type of skill`` for ``SE_ADT_ACTS`` (SDG 4.4.1) has no total: the value
  kept is the highest share among the four basic skills of ITU's definition
  (copy/move a file, copy and paste, e-mail with attachment, transfer files:
  codes CMFL, COPA, EMAIL, TRAF). It is a lower bound of the share of adults
  with at least one basic skill. The skill codes come from the SDG database's
  code list and are *unverified* against a live response.
* Any other dimension that still leaves two values for one country-year is
  ambiguous: those rows are skipped and named in the messages, never averaged.

Values are strings: "NaN" and empty are missing; a censored value such as
"<0.1" or ">95" is read as its bound (0.1, 95) and counted in the messages.
Aggregates (M49 "1" World, regions) are dropped and listed; M49 codes that
match no economy are reported.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from p2c_research import countries as country_ref
from p2c_research.catalog import Catalog, load_catalog
from p2c_research.errors import SourceError
from p2c_research.sources.base import AdapterResult, listing, newest_first, tidy
from p2c_research.sources.http import HttpClient, body_snippet
from p2c_research.sources.paging import cached_pages, cached_stems, fetch_query
from p2c_research.sources.rawcache import RawCache, retrieved_at

log = logging.getLogger(__name__)

NAME = "sdg"
DEFAULT_BASE_URL = "https://unstats.un.org/sdgapi"
SOURCE_LABEL = "unsd_sdg"
PUBLISHER = "UN Statistics Division, Global SDG Indicators Database (SDG API v1)"
LICENCE = ("UN data, free to use with attribution (United Nations, Global SDG Indicators "
           "Database, unstats.un.org/sdgs)")
DEFAULT_PAGE_SIZE = 1000

# The list: network coverage (9.c.1), ownership (5.b.1), ICT skills (4.4.1).
DEFAULT_SERIES = ["IT_MOB_2GNTWK", "IT_MOB_3GNTWK", "IT_MOB_4GNTWK", "IT_MOB_5GNTWK",
                  "IT_MOB_OWN", "SE_ADT_ACTS"]

# Dimension -> accepted "total" codes, best first. Absent counts as total.
TOTAL_CODES: dict[str, list[str]] = {
    "Sex": ["BOTHSEX"],
    "Location": ["ALLAREA"],
    "Age": ["ALLAGE", "15+"],
    "Reporting Type": ["G", "N"],
}
# Dimensions with no total code, reduced by a documented series-specific rule.
BASIC_SKILLS = ["CMFL", "COPA", "EMAIL", "TRAF"]
SERIES_REDUCTIONS: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("SE_ADT_ACTS", "Type of skill"): ("max", BASIC_SKILLS),
}

_NUMBER = re.compile(r"^\s*([<>]=?)?\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


def parse_value(text: Any) -> tuple[float, bool]:
    """A value string -> (float, censored). "NaN"/""/None -> (nan, False); "<0.1" -> (0.1, True)."""
    if text is None:
        return math.nan, False
    if isinstance(text, int | float):
        return float(text), False
    match = _NUMBER.match(str(text))
    if not match:
        return math.nan, False
    return float(match.group(2)), bool(match.group(1))


def parse_page(body: bytes | str, series: str = "") -> tuple[dict[str, int], list[dict[str, Any]]]:
    """One response -> (``{"page", "pages", "total"}``, records).

    Raises:
        SourceError: not JSON (e.g. an HTML error page) or not the documented shape.
    """
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    what = f"series {series!r}" if series else "request"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"UN SDG API answered {what} with something that is not JSON: "
                          f"{body_snippet(text.encode())}") from exc
    if not isinstance(data, dict) or "data" not in data:
        detail = data.get("message") or data.get("error") if isinstance(data, dict) else None
        raise SourceError(f"UN SDG API answered {what} without a 'data' list"
                          + (f": {detail}" if detail else f": {body_snippet(text.encode())}"))
    try:
        meta = {
            "page": int(float(data.get("pageNumber", 1) or 1)),
            "pages": int(float(data.get("totalPages", 1) or 0)),
            "total": int(float(data.get("totalElements", 0) or 0)),
        }
    except (TypeError, ValueError) as exc:
        raise SourceError(f"UN SDG API answered {what} with non-numeric paging fields") from exc
    return meta, list(data.get("data") or [])


def records_to_frame(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Records -> one row each: ``series, m49, area, year, value_text`` plus one
    ``dim:<name>`` column per dimension (NaN where a record lacks it)."""
    rows = []
    for rec in records:
        start = rec.get("timePeriodStart")
        try:
            year = int(float(start))
        except (TypeError, ValueError):
            continue
        row = {
            "series": str(rec.get("series", "")),
            "m49": str(rec.get("geoAreaCode", "")).strip(),
            "area": rec.get("geoAreaName", ""),
            "year": year,
            "value_text": rec.get("value"),
        }
        for key, val in (rec.get("dimensions") or {}).items():
            row[f"dim:{key}"] = val
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else
                        ["series", "m49", "area", "year", "value_text"])


def keep_totals(frame: pd.DataFrame, messages: list[str] | None = None) -> pd.DataFrame:
    """Reduce breakdowns to one value per ``series, m49, year`` (see the module docstring).

    Returns ``series, m49, area, year, value, censored``.
    """
    messages = messages if messages is not None else []
    out_cols = ["series", "m49", "area", "year", "value", "censored"]
    if frame.empty:
        return pd.DataFrame(columns=out_cols)
    parsed = frame["value_text"].map(parse_value)
    frame = frame.assign(value=parsed.map(lambda t: t[0]), censored=parsed.map(lambda t: t[1]))
    frame = frame[frame["value"].notna()]
    keys = ["series", "m49", "year"]
    dims = [c for c in frame.columns if c.startswith("dim:")]
    for col in dims:
        name = col[4:]
        if name not in TOTAL_CODES:
            continue
        accepted = TOTAL_CODES[name]
        rank = frame[col].map(lambda v, acc=accepted: -1.0 if pd.isna(v) else
                              (float(acc.index(str(v))) if str(v) in acc else math.nan))
        frame = frame.assign(_rank=rank.astype("float64"))
        frame = frame[frame["_rank"].notna()]
        best = frame.groupby(keys)["_rank"].transform("min")
        frame = frame[frame["_rank"] == best].drop(columns="_rank")
    pieces = []
    for series, part in frame.groupby("series", sort=True):
        other = [c for c in dims if c[4:] not in TOTAL_CODES and part[c].nunique(dropna=True) > 1]
        for col in other:
            rule = SERIES_REDUCTIONS.get((str(series), col[4:]))
            if rule is None:
                continue
            _, codes = rule
            basic = part[part[col].isin(codes)]
            if basic.empty:
                messages.append(f"{series}: no rows with {col[4:]} in {codes}; series skipped")
                part = basic
                continue
            idx = basic.groupby(keys)["value"].idxmax()
            part = basic.loc[idx]
            messages.append(f"{series}: '{col[4:]}' has no total; kept the highest of the basic "
                            f"skills {'/'.join(codes)} per country-year (a lower bound)")
        counts = part.groupby(keys)["value"].transform("size")
        ambiguous = part[counts > 1]
        if not ambiguous.empty:
            left = [c[4:] for c in dims if ambiguous[c].nunique(dropna=True) > 1]
            messages.append(f"{series}: {ambiguous[keys].drop_duplicates().shape[0]} country-year(s) "
                            f"have several values differing in {left} with no total; skipped")
            part = part[counts == 1]
        pieces.append(part)
    if not pieces:
        return pd.DataFrame(columns=out_cols)
    out = pd.concat(pieces, ignore_index=True)
    n_censored = int(out["censored"].sum())
    if n_censored:
        messages.append(f"{n_censored} censored value(s) such as '<0.1' read as their bound")
    return out[out_cols].reset_index(drop=True)


def to_panel(
    totals: pd.DataFrame,
    catalog: Catalog | None = None,
    messages: list[str] | None = None,
) -> pd.DataFrame:
    """Totals (``series, m49, year, value``) -> tidy rows with ISO3 and catalog ids.

    M49 codes are matched with :func:`p2c_research.countries.harmonise`;
    aggregates are dropped and listed, unmatched codes reported. Series
    without a catalog id are left out (named in the messages). The ``source``
    column reads ``unsd_sdg:<series>``.
    """
    messages = messages if messages is not None else []
    if totals.empty:
        return tidy(None)
    codes = (catalog or load_catalog()).code_map("sdg")
    unmapped = sorted(set(totals["series"]) - set(codes))
    if unmapped:
        messages.append(f"series without a catalog indicator, not in the panel: {', '.join(unmapped)}")
    totals = totals[totals["series"].isin(codes)]
    outcome = country_ref.harmonise(totals["m49"].unique().tolist(), kind="m49")
    if outcome.aggregates:
        names = (totals.drop_duplicates("m49").set_index("m49")["area"]
                 .reindex(outcome.aggregates).fillna("").astype(str))
        messages.append(f"{len(outcome.aggregates)} aggregate area(s) dropped: "
                        + listing([f"{k} {v}".strip() for k, v in names.items()]))
    if outcome.unmatched:
        text = (f"{len(outcome.unmatched)} M49 code(s) match no economy, dropped: "
                f"{listing(outcome.unmatched, limit=60)}")
        log.warning(text)
        messages.append(text)
    out = totals.assign(iso3=totals["m49"].map(outcome.mapping))
    out = out[out["iso3"].notna()]
    out = out.assign(indicator=out["series"].map(codes),
                     source=SOURCE_LABEL + ":" + out["series"])
    # Two series for one indicator: the first listed in the catalog wins.
    rank = {code: k for k, code in enumerate(codes)}
    out = out.assign(_rank=out["series"].map(rank)).sort_values("_rank", kind="stable")
    out = out.drop_duplicates(["iso3", "indicator", "year"], keep="first")
    return tidy(out)


# --------------------------------------------------------------------------- cache + network
def _series_parser(series: str) -> Callable[[bytes], tuple[int, int, str]]:
    """A page parser for the paging helper: a page whose records cannot be read is not cached."""
    def parse(body: bytes) -> tuple[int, int, str]:
        meta, records = parse_page(body, series)
        try:
            records_to_frame(records)
        except (AttributeError, TypeError) as exc:
            raise SourceError(f"UN SDG API answered series {series!r} with records that are "
                              f"not in the documented shape ({exc})") from exc
        return meta["page"], meta["pages"], f"{meta['total']} records in total"
    return parse


def default_series(catalog: Catalog | None = None) -> list[str]:
    """The issue's series plus any other SDG code the catalog reads."""
    codes = list((catalog or load_catalog()).code_map("sdg"))
    return list(dict.fromkeys(DEFAULT_SERIES + codes))


def fetch(
    codes: list[str] | None = None,
    *,
    base_url: str | None = None,
    start: int | None = None,
    end: int | None = None,
    countries: list[str] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    client: HttpClient | None = None,
    cache: RawCache | None = None,
    refresh: bool = False,
    ttl_hours: float = 24.0,
    catalog: Catalog | None = None,
) -> AdapterResult:
    """Download (or read from the cache) SDG series and return tidy rows.

    The API is asked for whole series (all areas, all years); ``start``,
    ``end`` and ``countries`` filter the tidy rows afterwards, so the raw
    cache stays a faithful copy of the publisher's answer.
    """
    catalog = catalog or load_catalog()
    series_list = list(codes) if codes else default_series(catalog)
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    client = client or HttpClient()
    cache = cache or RawCache(NAME)
    result = AdapterResult()
    files: list[Path] = []
    for series in series_list:
        params = {"seriesCode": series, "pageSize": page_size}
        try:
            paths, hit = fetch_query(
                client, cache, f"{base}/v1/sdg/Series/Data", params, series,
                _series_parser(series), refresh=refresh, ttl_hours=ttl_hours,
                publisher=PUBLISHER, licence=LICENCE)
        except SourceError as exc:
            result.errors.append(str(exc))
            log.info("%s", exc)  # reported in the summary (or the one error), not twice
            continue
        if hit:
            result.n_cached += len(paths)
        else:
            result.n_downloaded += len(paths)
        files += paths
    if series_list and len(result.errors) == len(series_list):
        raise SourceError("UN SDG API: every requested series failed:\n  "
                          + "\n  ".join(result.errors))
    result.files = files
    panel = panel_from_files(files, catalog, result.messages)
    if start:
        panel = panel[panel["year"] >= start]
    if end:
        panel = panel[panel["year"] <= end]
    if countries:
        panel = panel[panel["iso3"].isin({c.upper() for c in countries})]
    result.panel = tidy(panel)
    return result


def panel_from_files(
    files: list[Path], catalog: Catalog | None = None, messages: list[str] | None = None
) -> pd.DataFrame:
    """Tidy rows from cached pages (newest retrieval wins on duplicates)."""
    messages = messages if messages is not None else []
    frames = []
    for path in files:
        meta, records = parse_page(path.read_bytes(), path.name)
        if meta["total"] == 0:
            messages.append(f"{path.name.split('.p0')[0]}: no data (empty answer)")
        frame = records_to_frame(records)
        frame["retrieved_at"] = retrieved_at(path)
        frames.append(frame)
    if not frames:
        return tidy(None)
    frame = pd.concat(frames, ignore_index=True)
    dims = [c for c in frame.columns if c.startswith("dim:")]
    # one record per series, area, year and breakdown: the newest retrieval wins
    breakdown = (frame[dims].astype(object).where(frame[dims].notna(), "-").astype(str)
                 .agg("|".join, axis=1)) if dims else ""
    frame = newest_first(frame.assign(_dims=breakdown), ["series", "m49", "year", "_dims"])
    frame = frame.drop(columns=["_dims", "retrieved_at"])
    totals = keep_totals(frame, messages)
    return to_panel(totals, catalog, messages)


def load_cached(raw_root: Path | None = None, catalog: Catalog | None = None) -> AdapterResult:
    """Every complete series in the raw cache -> tidy rows (used by ``data.build``)."""
    cache = RawCache(NAME, raw_root)
    result = AdapterResult()
    for stem in cached_stems(cache):
        paths = cached_pages(cache, stem, _series_parser(stem))
        if paths is None:
            result.messages.append(f"{stem}: incomplete page set in the cache, skipped")
            continue
        result.files += paths
    result.panel = panel_from_files(result.files, catalog, result.messages)
    return result
