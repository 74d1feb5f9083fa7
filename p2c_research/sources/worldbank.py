"""World Bank API v2 adapter: every catalog WDI code, all economies, over a year window.

Why a thin client of our own rather than ``wbgapi``: wbgapi is a good
interactive library, but it reaches data through routes such as
``sources/2/series/{code}/country/...`` and its own metadata calls. A mirror
or a recorded test server behind ``--base-url`` serves only the two documented
endpoints, ``country/all/indicator/{code}`` and ``country``, so wbgapi would
not run against one. Forty lines of ``requests`` give us what we need and
nothing we cannot test offline: paging by ``pages``, the HTTP-200 error
envelope, retries with backoff (:mod:`p2c_research.sources.http`), the raw
cache with provenance, and aggregates dropped with the country-list endpoint
instead of a hard-coded list.

Endpoints (``base`` defaults to https://api.worldbank.org/v2):

* ``GET {base}/country/all/indicator/{code}?format=json&per_page=N&page=P&date=Y1:Y2``
  returns ``[meta, records]``; ``meta`` numbers may be ints or strings; a
  record's ``value`` may be null (dropped).
* ``GET {base}/country?format=json&per_page=400`` lists economies and
  aggregates; an aggregate has ``region.id == "NA"``.
* Errors may come as HTTP 200 with ``[{"message": [{"id", "key", "value"}]}]``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from p2c_research import countries as country_ref
from p2c_research.catalog import Catalog, load_catalog, wdi_codes_needed, wdi_to_panel
from p2c_research.errors import SourceError
from p2c_research.sources.base import (
    FIRST_YEAR,
    AdapterResult,
    default_end_year,
    listing,
    newest_first,
    tidy,
)
from p2c_research.sources.http import HttpClient, body_snippet
from p2c_research.sources.paging import cached_pages, cached_stems, fetch_query
from p2c_research.sources.rawcache import RawCache, retrieved_at

log = logging.getLogger(__name__)

NAME = "worldbank"
DEFAULT_BASE_URL = "https://api.worldbank.org/v2"
SOURCE_LABEL = "worldbank_api"
PUBLISHER = "World Bank API v2 (World Development Indicators)"
LICENCE = "CC BY 4.0 (World Bank open data terms)"
DEFAULT_PER_PAGE = 10000
COUNTRY_STEM = "_country"


@dataclass(frozen=True)
class PageMeta:
    """The first element of a World Bank response, with numbers made ints."""

    page: int
    pages: int
    per_page: int
    total: int
    lastupdated: str = ""


def _as_int(value: Any, field_name: str, code: str) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise SourceError(
            f"World Bank API ({code or 'request'}): meta field {field_name!r} is {value!r}, "
            "not a number; the response is not in the API v2 format"
        ) from exc


def parse_page(
    body: bytes | str, code: str = "", *, what: str | None = None
) -> tuple[PageMeta, list[dict[str, Any]]]:
    """Parse one response body into its paging meta and records.

    Raises:
        SourceError: the body is HTML or not JSON, is the error envelope (the
            message names ``code`` and the API's id, key and text), or does
            not have the ``[meta, records]`` shape.
    """
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    is_indicator = what is None and bool(code)
    what = what or (f"indicator {code!r}" if code else "request")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"World Bank API answered {what} with something that is not JSON: "
            f"{body_snippet(text.encode())}"
        ) from exc
    if isinstance(data, list) and data and isinstance(data[0], dict) and "message" in data[0]:
        msgs = data[0]["message"] or []
        detail = "; ".join(
            f"{m.get('key', '?')} (id {m.get('id', '?')}): {m.get('value', '')}".strip()
            for m in msgs if isinstance(m, dict)
        ) or "no detail"
        hint = (" - the code is probably not a World Bank indicator (check catalog.yaml)"
                if is_indicator and any(str(m.get("id")) == "120" for m in msgs
                                        if isinstance(m, dict)) else "")
        raise SourceError(f"World Bank API rejected {what}: {detail}{hint}")
    if not (isinstance(data, list) and len(data) >= 1 and isinstance(data[0], dict)):
        raise SourceError(f"World Bank API answered {what} with an unexpected JSON shape: "
                          f"{body_snippet(text.encode())}")
    meta_raw = data[0]
    meta = PageMeta(
        page=_as_int(meta_raw.get("page", 1), "page", code),
        pages=_as_int(meta_raw.get("pages", 1), "pages", code),
        per_page=_as_int(meta_raw.get("per_page", 0), "per_page", code),
        total=_as_int(meta_raw.get("total", 0), "total", code),
        lastupdated=str(meta_raw.get("lastupdated", "") or ""),
    )
    records = data[1] if len(data) > 1 and isinstance(data[1], list) else []
    return meta, records


def records_to_raw(records: Iterable[dict[str, Any]], code: str = "") -> pd.DataFrame:
    """Indicator records -> raw rows ``iso3, iso2, code, year, value`` (nulls and
    non-annual dates dropped). ``iso3`` may be empty for some aggregates.

    Raises:
        SourceError: a record is not a JSON object, or its value is not a
            finite number (the message names the code, country and year).
    """
    rows = []
    for number, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            raise SourceError(f"World Bank API: record {number} of indicator {code!r} is not "
                              f"a JSON object ({_short(rec)}); the response is not in the API "
                              "v2 format")
        value = rec.get("value")
        if value is None:
            continue
        date = str(rec.get("date", "")).strip()
        if not (len(date) == 4 and date.isdigit()):
            continue
        country, indicator = rec.get("country"), rec.get("indicator")
        iso3 = str(rec.get("countryiso3code") or "").strip().upper()
        try:
            number_value = float(value)
        except (TypeError, ValueError):
            number_value = math.nan
        if isinstance(value, bool) or not math.isfinite(number_value):
            raise SourceError(f"World Bank API: indicator {code!r} has a value that is not a "
                              f"number for {iso3 or 'an unnamed economy'} in {date} "
                              f"({_short(value)}); nothing of this answer was kept. Check "
                              "--base-url, or report it to the publisher")
        rows.append({
            "iso3": iso3,
            "iso2": str((country.get("id") if isinstance(country, dict) else "") or ""
                        ).strip().upper(),
            "code": str((indicator.get("id") if isinstance(indicator, dict) else "") or code),
            "year": int(date),
            "value": number_value,
        })
    return pd.DataFrame(rows, columns=["iso3", "iso2", "code", "year", "value"])


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_country_records(records: list[Any]) -> None:
    bad = next((r for r in records if not isinstance(r, dict)
                or not isinstance(r.get("region") or {}, dict)), None)
    if bad is not None:
        raise SourceError(f"World Bank API: the country list holds a record that is not in the "
                          f"API v2 format ({_short(bad)})")


def parse_countries(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The country list -> ``iso3, iso2, name, region_id, aggregate``."""
    rows = []
    for rec in records:
        region = rec.get("region") or {}
        rows.append({
            "iso3": str(rec.get("id", "")).strip().upper(),
            "iso2": str(rec.get("iso2Code", "")).strip().upper(),
            "name": rec.get("name", ""),
            "region_id": str(region.get("id", "")).strip(),
            "aggregate": str(region.get("id", "")).strip().upper() == "NA",
        })
    return pd.DataFrame(rows, columns=["iso3", "iso2", "name", "region_id", "aggregate"])


def drop_aggregates(
    raw: pd.DataFrame, country_list: pd.DataFrame | None, messages: list[str] | None = None
) -> pd.DataFrame:
    """Keep economies only: aggregates by the API's country list, and codes the
    package's country reference does not know are reported, never silently kept."""
    messages = messages if messages is not None else []
    if raw.empty:
        return raw
    raw = raw.copy()
    if country_list is not None and not country_list.empty:
        by_iso2 = dict(zip(country_list["iso2"], country_list["iso3"], strict=False))
        missing = raw["iso3"].eq("")
        raw.loc[missing, "iso3"] = raw.loc[missing, "iso2"].map(by_iso2).fillna("")
        aggregate_codes = set(country_list.loc[country_list["aggregate"], "iso3"])
        is_agg = raw["iso3"].isin(aggregate_codes) | raw["iso3"].eq("")
    else:
        messages.append("World Bank country list not available: aggregates recognised with the "
                        "package's country reference instead")
        is_agg = raw["iso3"].map(country_ref.is_aggregate).astype(bool) | raw["iso3"].eq("")
    is_econ = raw["iso3"].map(country_ref.is_economy).astype(bool) & ~is_agg
    aggregates = set(raw.loc[is_agg, "iso3"]) - {""}
    unmatched = set(raw.loc[~is_agg & ~is_econ, "iso3"])
    if aggregates:
        messages.append(f"{len(aggregates)} aggregate(s) dropped: {listing(aggregates)}")
    if unmatched:
        text = (f"{len(unmatched)} code(s) are economies for the API but not in the package's "
                f"country reference, dropped: {listing(unmatched, limit=60)}")
        log.warning(text)
        messages.append(text)
    return raw.loc[is_econ].reset_index(drop=True)


def to_panel(
    raw: pd.DataFrame,
    country_list: pd.DataFrame | None = None,
    catalog: Catalog | None = None,
    messages: list[str] | None = None,
) -> pd.DataFrame:
    """Raw API rows (``iso3, iso2, code, year, value``) -> tidy catalog rows.

    Aggregates are dropped with ``country_list`` (the ``country`` endpoint);
    WDI codes become catalog ids and counts become per-capita values in
    :func:`p2c_research.catalog.wdi_to_panel`, the one place that conversion lives.
    The ``source`` column reads ``worldbank_api:<WDI code>``.
    """
    economies = drop_aggregates(raw, country_list, messages)
    if economies.empty:
        return tidy(economies)
    return tidy(wdi_to_panel(economies[["iso3", "code", "year", "value"]],
                             source=SOURCE_LABEL, catalog=catalog or load_catalog()))


# --------------------------------------------------------------------------- cache + network
def _code_parser(code: str, what: str | None = None,
                 check: Callable[[list[Any]], None] | None = None
                 ) -> Callable[[bytes], tuple[int, int, str]]:
    """A page parser for the paging helper; its errors name the indicator code (or ``what``).

    An indicator page's records are read as :func:`panel_from_files` will read
    them (``check`` does it for other queries), so a page that could not be
    used never enters the cache.
    """
    def parse(body: bytes) -> tuple[int, int, str]:
        meta, records = parse_page(body, code, what=what)
        if code:
            records_to_raw(records, code)
        if check is not None:
            check(records)
        note = f"{meta.total} records in total; lastupdated {meta.lastupdated or 'not given'}"
        return meta.page, meta.pages, note
    return parse


_pages_of = _code_parser("")


def _country_list_from(paths: list[Path]) -> pd.DataFrame:
    frames = [parse_countries(parse_page(p.read_bytes(), what="the country list")[1]) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else parse_countries([])


def fetch(
    codes: list[str] | None = None,
    *,
    base_url: str | None = None,
    start: int | None = None,
    end: int | None = None,
    countries: list[str] | None = None,
    per_page: int = DEFAULT_PER_PAGE,
    client: HttpClient | None = None,
    cache: RawCache | None = None,
    refresh: bool = False,
    ttl_hours: float = 24.0,
    catalog: Catalog | None = None,
) -> AdapterResult:
    """Download (or read from the cache) the catalog's WDI codes and return tidy rows.

    One failing code (error envelope, persistent 5xx) is reported in
    ``errors`` and the others carry on; if every code fails, or the country
    list cannot be had, :class:`SourceError` is raised.
    """
    catalog = catalog or load_catalog()
    codes = list(codes) if codes else wdi_codes_needed(catalog)
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    start = start or FIRST_YEAR
    end = end or default_end_year()
    client = client or HttpClient()
    cache = cache or RawCache(NAME)
    result = AdapterResult()

    common = {"refresh": refresh, "ttl_hours": ttl_hours, "publisher": PUBLISHER,
              "licence": LICENCE}
    country_files, hit = fetch_query(
        client, cache, f"{base}/country", {"format": "json", "per_page": 400}, COUNTRY_STEM,
        _code_parser("", "the country list (GET /country)", _check_country_records), **common)
    _count(result, country_files, hit)
    result.files += country_files

    data_files: list[Path] = []
    for code in codes:
        params = {"format": "json", "per_page": per_page, "date": f"{start}:{end}"}
        try:
            paths, hit = fetch_query(client, cache, f"{base}/country/all/indicator/{code}",
                                     params, code, _code_parser(code), **common)
        except SourceError as exc:
            result.errors.append(str(exc))
            log.info("%s", exc)  # reported in the summary (or the one error), not twice
            continue
        _count(result, paths, hit)
        data_files += paths
    if codes and len(result.errors) == len(codes):
        if len(codes) == 1:
            raise SourceError(result.errors[0])
        raise SourceError("World Bank API: every requested code failed:\n  "
                          + "\n  ".join(result.errors))
    result.files += data_files
    panel = panel_from_files(data_files, country_files, catalog, result.messages)
    if countries:
        panel = panel[panel["iso3"].isin({c.upper() for c in countries})]
    result.panel = tidy(panel)
    return result


def panel_from_files(
    data_files: list[Path],
    country_files: list[Path],
    catalog: Catalog | None = None,
    messages: list[str] | None = None,
) -> pd.DataFrame:
    """Tidy rows from cached pages: where two files hold the same code-country-year,
    the more recently retrieved wins."""
    messages = messages if messages is not None else []
    frames = []
    for path in data_files:
        meta, records = parse_page(path.read_bytes(), path.name)
        raw = records_to_raw(records)
        if meta.total == 0 or (meta.page == 1 and not records):
            messages.append(f"{path.name.split('.p0')[0]}: no data in the requested years")
        raw["retrieved_at"] = retrieved_at(path)
        frames.append(raw)
    if not frames:
        return tidy(None)
    raw = pd.concat(frames, ignore_index=True)
    raw = newest_first(raw, ["iso3", "iso2", "code", "year"]).drop(columns="retrieved_at")
    country_list = _country_list_from(country_files) if country_files else None
    return to_panel(raw, country_list, catalog, messages)


def _count(result: AdapterResult, paths: list[Path], from_cache: bool) -> None:
    if from_cache:
        result.n_cached += len(paths)
    else:
        result.n_downloaded += len(paths)


def load_cached(raw_root: Path | None = None, catalog: Catalog | None = None) -> AdapterResult:
    """Every complete query in the raw cache -> tidy rows (used by ``data.build``)."""
    cache = RawCache(NAME, raw_root)
    result = AdapterResult()
    stems = cached_stems(cache)
    country_files = cached_pages(cache, COUNTRY_STEM, _pages_of) or []
    data_files: list[Path] = []
    for stem in stems:
        if stem == COUNTRY_STEM:
            continue
        paths = cached_pages(cache, stem, _pages_of)
        if paths is None:
            result.messages.append(f"{stem}: incomplete page set in the cache, skipped; "
                                   "fetch it again with --refresh")
            continue
        data_files += paths
    result.files = country_files + data_files
    result.panel = panel_from_files(data_files, country_files, catalog, result.messages)
    return result
