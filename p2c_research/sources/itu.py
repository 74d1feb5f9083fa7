"""ITU DataHub adapter: the catalog's ITU series, from the API (per country) or from CSV exports.

API (undocumented; ``base`` defaults to https://api.datahub.itu.int)::

    GET {base}/v2/data/bycode/{codeID}/byiso/{ISO3}

returns ``[{codeID, shortName, answer: [{value, id}], code, isoCode, dataYear,
dataSource, dataNote}]``; values are strings; an unknown code or a country
without data returns ``[]``, which is "no data", not an error. ``codeID`` is
the DataHub's numeric series id, not the series code: :data:`ITU_CODE_IDS`
maps the catalog's codes to it.

CSV exports (the DataHub's "download" button) have the columns
``seriesID, seriesCode, seriesName, seriesParent, seriesUnits, entityID,
entityIso, entityName, dataValue, dataYear, dataNote, dataSource,
seriesDescription`` (UTF-8 with BOM; quoted fields may hold line breaks; one
file may hold several series). ``fetch_source("itu", path=FILE_OR_DIR)`` copies
them into ``data/raw/itu/exports/`` and reads the catalog's series from them.

ITU writes Kosovo as ``KSO``; the package uses the World Bank's ``XKX``. Other
entities that are not World Bank economies (Taiwan, Ascension, ...) are
reported and left out.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from p2c_research import countries as country_ref
from p2c_research.catalog import Catalog, load_catalog
from p2c_research.errors import DataError, SourceError
from p2c_research.sources.base import AdapterResult, listing, newest_first, tidy
from p2c_research.sources.http import HttpClient, body_snippet
from p2c_research.sources.rawcache import RawCache, retrieved_at, same_copy
from p2c_research.store import Provenance
from p2c_research.units import to_catalog_values

log = logging.getLogger(__name__)

NAME = "itu"
DEFAULT_BASE_URL = "https://api.datahub.itu.int"
API_LABEL = "itu_datahub"
EXPORT_LABEL = "itu_datahub_csv"
PUBLISHER = "International Telecommunication Union, ITU DataHub"
LICENCE = "CC BY-NC-SA 3.0 IGO (ITU DataHub; non-commercial, share-alike, cite ITU)"

# DataHub numeric ids of the catalog's series codes. From the ``seriesID``
# column of real DataHub exports (shared/real/itu_datahub, Dec 2025), except
# i99H, taken from a public note on the API (unverified). Codes missing here
# (i911, i271G5, i4213hh, i271mb_ts_GNI, i154_FBB_ts_GNI) are skipped by the
# API fetch with a message; read them from an export or add their id.
ITU_CODE_IDS: dict[str, int] = {
    "i99H": 11624,
    "i911mw": 12066,
    "i992b": 19303,
    "i271G": 430,
    "i271GA": 19306,
    "i271G5_pop": 34236,
    "xHH6_IDI": 12047,
    "i271mb_5GB_GNI": 36056,
    "i154_FBB5_GNI": 33331,
}
# ITU entity codes that differ from the World Bank's code for the same economy.
ITU_ISO_FIXES = {"KSO": "XKX"}
EXPORT_COLUMNS = ["seriesCode", "entityIso", "dataValue", "dataYear"]
RAW_COLUMNS = ["iso3", "code", "year", "value", "note"]
# Stop a fetch whose first requests all fail: the server is down, not the data missing.
MAX_FAILURES_BEFORE_ANY_SUCCESS = 5


# --------------------------------------------------------------------------- parsing
def parse_api(body: bytes | str, code: str = "", iso3: str = "") -> pd.DataFrame:
    """One API answer -> raw rows ``iso3, code, year, value`` (value still a string).

    ``[]`` gives an empty frame (no data). Raises :class:`SourceError` on a
    body that is not a JSON list (an HTML page, a gateway message).
    """
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    what = f"series {code!r} for {iso3}" if code else "request"
    try:
        data = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        raise SourceError(f"ITU DataHub answered {what} with something that is not JSON: "
                          f"{body_snippet(text.encode())}") from exc
    if isinstance(data, dict):
        detail = data.get("message") or data.get("error") or body_snippet(text.encode())
        raise SourceError(f"ITU DataHub answered {what} with an error: {detail}")
    if not isinstance(data, list):
        raise SourceError(f"ITU DataHub answered {what} with an unexpected JSON shape")
    rows = []
    for rec in data:
        if not isinstance(rec, dict):
            continue
        answers = rec.get("answer") or []
        value = answers[0].get("value") if answers and isinstance(answers[0], dict) else None
        if value is None or str(value).strip() == "":
            continue
        rows.append({
            "iso3": str(rec.get("isoCode") or iso3).strip().upper(),
            "code": str(rec.get("code") or code),
            "year": rec.get("dataYear"),
            "value": str(value),
            "note": str(rec.get("dataNote") or ""),
        })
    return pd.DataFrame(rows, columns=RAW_COLUMNS)


def read_export(path: Path | str, codes: list[str] | None = None) -> pd.DataFrame:
    """A DataHub CSV export -> raw rows ``iso3, code, year, value`` (strings),
    filtered on ``seriesCode`` when ``codes`` is given."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable ITU DataHub CSV export ({exc})") from exc
    missing = [c for c in EXPORT_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: not an ITU DataHub export; missing column(s) {missing} "
                        f"(expected {', '.join(EXPORT_COLUMNS)}, ...)")
    if codes is not None:
        frame = frame[frame["seriesCode"].isin(codes)]
    if "dataNote" not in frame.columns:
        frame = frame.assign(dataNote="")
    out = frame.rename(columns={"entityIso": "iso3", "seriesCode": "code", "dataYear": "year",
                                "dataValue": "value", "dataNote": "note"})[RAW_COLUMNS]
    return out[out["value"].str.strip() != ""].reset_index(drop=True)


def is_export(path: Path) -> bool:
    """True if the CSV's header names the DataHub export columns."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            header = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return all(f'"{c}"' in header or f"{c}," in header for c in EXPORT_COLUMNS)


def to_panel(
    raw: pd.DataFrame,
    source_label: str = API_LABEL,
    catalog: Catalog | None = None,
    messages: list[str] | None = None,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Raw rows -> tidy catalog rows (``source`` = ``<label>:<series code>``).

    Series codes map to catalog ids and the catalog's unit conversions apply
    (:mod:`p2c_research.units`; ``context`` holds the World Bank population,
    Internet users and GNI per capita they divide by); where two codes carry
    an indicator, the first listed with a value wins. Values that are not
    numbers are dropped and counted; entities that are not World Bank
    economies are reported.
    """
    messages = messages if messages is not None else []
    if raw.empty:
        return tidy(None)
    catalog = catalog or load_catalog()
    raw = raw[raw["code"].isin(catalog.code_map("itu"))].copy()
    if raw.empty:
        return tidy(None)
    raw["value"] = pd.to_numeric(raw["value"], errors="coerce")
    raw["year"] = pd.to_numeric(raw["year"], errors="coerce")
    bad = raw["value"].isna() | raw["year"].isna()
    if bad.any():
        messages.append(f"{int(bad.sum())} ITU value(s) that are not numbers dropped")
    raw = raw[~bad]
    iso = raw["iso3"].str.strip().str.upper().replace(ITU_ISO_FIXES)
    is_econ = iso.map(country_ref.is_economy).astype(bool)
    unmatched = set(iso[~is_econ])
    if unmatched:
        text = (f"{len(unmatched)} ITU entity code(s) are not World Bank economies, "
                f"dropped: {listing(unmatched, limit=60)}")
        log.info(text)
        messages.append(text)
    raw = raw.assign(iso3=iso, year=raw["year"].astype("int64"),
                     source=source_label + ":" + raw["code"])[is_econ]
    if "note" not in raw.columns:
        raw = raw.assign(note="")
    return tidy(to_catalog_values(raw, "itu", catalog, context, messages))


# --------------------------------------------------------------------------- API fetch
def _economies() -> list[str]:
    return sorted(country_ref.load_countries()["iso3"])


def fetch(
    codes: list[str] | None = None,
    *,
    base_url: str | None = None,
    start: int | None = None,
    end: int | None = None,
    countries: list[str] | None = None,
    client: HttpClient | None = None,
    cache: RawCache | None = None,
    refresh: bool = False,
    ttl_hours: float = 24.0,
    catalog: Catalog | None = None,
) -> AdapterResult:
    """Download (or read from the cache) each code x country and return tidy rows.

    ``codes`` are catalog series codes (default: every ITU code of the
    catalog with a known DataHub id) or numeric DataHub ids. ``countries``
    defaults to every World Bank economy.
    """
    catalog = catalog or load_catalog()
    requested = list(codes) if codes else list(catalog.code_map("itu"))
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    client = client or HttpClient()
    cache = cache or RawCache(NAME)
    iso_list = [c.strip().upper() for c in countries] if countries else _economies()
    result = AdapterResult()
    targets: list[tuple[str, int]] = []
    no_id = []
    for code in requested:
        if str(code).isdigit():
            targets.append((str(code), int(code)))
        elif code in ITU_CODE_IDS:
            targets.append((code, ITU_CODE_IDS[code]))
        else:
            no_id.append(code)
    if no_id:
        result.messages.append(
            f"no DataHub id known for {', '.join(no_id)}: not fetched from the API; add the id "
            "to ITU_CODE_IDS or import a DataHub CSV export with `--source itu --path FILE`")
    successes = 0
    empty: dict[str, int] = {}
    files: list[Path] = []
    for code, code_id in targets:
        for iso3 in iso_list:
            path = cache.path("api", code, f"{iso3}.json")
            params = {"code": code, "codeID": code_id, "iso3": iso3, "endpoint": base}
            if not refresh and cache.is_fresh(path, ttl_hours, params):
                result.n_cached += 1
                files.append(path)
                successes += 1
                continue
            url = f"{base}/v2/data/bycode/{code_id}/byiso/{iso3}"
            try:
                res = client.get(url)
                rows = parse_api(res.content, code, iso3)
            except SourceError as exc:
                result.errors.append(str(exc))
                if successes == 0 and len(result.errors) >= MAX_FAILURES_BEFORE_ANY_SUCCESS:
                    raise SourceError(
                        f"ITU DataHub: the first {len(result.errors)} requests all failed; "
                        "stopping. Last error: " + str(exc)) from exc
                continue
            successes += 1
            if rows.empty:
                empty[code] = empty.get(code, 0) + 1
            prov = Provenance(source=PUBLISHER, url_or_file=res.url, licence=LICENCE,
                              parameters=params,
                              notes=f"{len(rows)} value(s)" if len(rows) else "[]: no data")
            files.append(cache.write(path, res.content, prov))
            result.n_downloaded += 1
    for code, n in sorted(empty.items()):
        result.messages.append(f"{code}: no data for {n} of {len(iso_list)} countries")
    if targets and successes == 0 and result.errors:
        raise SourceError("ITU DataHub: every request failed:\n  "
                          + "\n  ".join(result.errors[:10]))
    result.files = files
    result.panel = _filter_years(panel_from_api_files(files, catalog, result.messages),
                                 start, end)
    return result


def _filter_years(panel: pd.DataFrame, start: int | None, end: int | None) -> pd.DataFrame:
    if start:
        panel = panel[panel["year"] >= start]
    if end:
        panel = panel[panel["year"] <= end]
    return tidy(panel)


def panel_from_api_files(
    files: list[Path], catalog: Catalog | None = None, messages: list[str] | None = None,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tidy rows from cached API answers (``api/<code>/<ISO3>.json``; newest retrieval wins)."""
    frames = []
    for path in files:
        frame = parse_api(path.read_bytes(), path.parent.name, path.stem)
        frames.append(frame.assign(retrieved_at=retrieved_at(path)))
    if not frames:
        return tidy(None)
    raw = newest_first(pd.concat(frames, ignore_index=True), ["iso3", "code", "year"])
    return to_panel(raw.drop(columns="retrieved_at"), API_LABEL, catalog, messages, context)


# --------------------------------------------------------------------------- CSV exports
def import_exports(
    path: Path | str,
    *,
    cache: RawCache | None = None,
    start: int | None = None,
    end: int | None = None,
    countries: list[str] | None = None,
    catalog: Catalog | None = None,
) -> AdapterResult:
    """Copy DataHub CSV exports (a file or a folder) into the raw cache and read them.

    Every copy gets a sidecar naming the original file. Files that are not
    DataHub exports are skipped and named in the messages.
    """
    src = Path(path)
    if not src.exists():
        raise DataError(f"{src}: no such file or folder; pass --path to an ITU DataHub CSV "
                        "export or a folder of them")
    cache = cache or RawCache(NAME)
    candidates = [src] if src.is_file() else sorted(src.rglob("*.csv"))
    result = AdapterResult()
    skipped = []
    for f in candidates:
        if not is_export(f):
            skipped.append(f.name)
            continue
        dest = cache.path("exports", f.name)
        if same_copy(dest, f):
            result.n_cached += 1
        else:
            prov = Provenance(source=PUBLISHER + " (CSV export)", url_or_file=str(f.resolve()),
                              licence=LICENCE, parameters={"file": f.name},
                              notes="Copied unchanged from a DataHub export.")
            cache.write(dest, f.read_bytes(), prov)
            shutil.copystat(f, dest)
            result.n_downloaded += 1
        result.files.append(dest)
    if skipped:
        result.messages.append(f"not DataHub exports, skipped: {listing(skipped)}")
    if not result.files:
        raise DataError(f"{src}: no ITU DataHub CSV export found (expected columns "
                        f"{', '.join(EXPORT_COLUMNS)}, ...)")
    panel = panel_from_export_files(result.files, catalog, result.messages)
    if countries:
        panel = panel[panel["iso3"].isin({c.upper() for c in countries})]
    result.panel = _filter_years(panel, start, end)
    return result


def read_export_files(files: list[Path], catalog: Catalog | None = None) -> pd.DataFrame:
    """Raw rows of the catalog's series from several exports, newest retrieval first where
    two exports overlap; an empty frame when none holds a catalog series."""
    codes = list((catalog or load_catalog()).code_map("itu"))
    frames = [read_export(f, codes).assign(retrieved_at=retrieved_at(f)) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=RAW_COLUMNS)
    raw = newest_first(pd.concat(frames, ignore_index=True), ["iso3", "code", "year"])
    return raw.drop(columns="retrieved_at")


def panel_from_exports(
    raw: pd.DataFrame, catalog: Catalog | None = None, messages: list[str] | None = None,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Raw export rows (:func:`read_export_files`) -> tidy panel rows in catalog units."""
    if raw.empty:
        if messages is not None:
            codes = list((catalog or load_catalog()).code_map("itu"))
            messages.append("the exports hold none of the catalog's ITU series "
                            f"({', '.join(codes)})")
        return tidy(None)
    return to_panel(raw, EXPORT_LABEL, catalog, messages, context)


def panel_from_export_files(
    files: list[Path], catalog: Catalog | None = None, messages: list[str] | None = None,
    context: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tidy rows from cached exports; where two exports overlap the newest retrieval wins."""
    return panel_from_exports(read_export_files(files, catalog), catalog, messages, context)


def load_cached(raw_root: Path | None = None, catalog: Catalog | None = None,
                context: pd.DataFrame | None = None) -> AdapterResult:
    """API answers and exports in the raw cache -> tidy rows for ``data.build``.

    The panel may hold the same country-indicator-year twice, once per label
    (``itu_datahub`` and ``itu_datahub_csv``); the build's precedence decides.
    ``context`` (World Bank population, Internet users, GNI per capita) feeds
    the unit conversions; without it the converted series are left out.
    """
    cache = RawCache(NAME, raw_root)
    result = AdapterResult()
    api_files = [p for p in cache.files("*.json") if p.parent.parent.name == "api"]
    export_files = [p for p in cache.files("*.csv") if p.parent.name == "exports"]
    result.files = api_files + export_files
    parts = [panel_from_api_files(api_files, catalog, result.messages, context),
             panel_from_export_files(export_files, catalog, result.messages, context)
             if export_files else tidy(None)]
    result.panel = tidy(pd.concat([p for p in parts if not p.empty], ignore_index=True)
                        if any(not p.empty for p in parts) else None)
    return result


# --------------------------------------------------------------------------- ITU-D regions
# ``GET {base}/v2/country/all`` (undocumented; format as observed by API
# Evangelist's OpenAPI of the DataHub) lists every economy the DataHub knows:
# ``[{"CountryID": 4, "IsoCode": "ABW", "ShortName": "Aruba", "LongName": ...,
# "Regions": [{"id", "regionCode", "class", "classID", "region"}, ...]}]``.
# An ITU member has one Regions entry of class "ITU/BDT Classification" whose
# id names its ITU-D region; non-members (ABW, HKG, MAC, PRI, ...) have none.
# The other classes (UN M49 developed/developing, "ITU/BDT & Other
# Classification", World Bank income, ...) are ignored.
COUNTRY_ALL_PATH = "/v2/country/all"
ITU_D_CLASS = "ITU/BDT Classification"
#: DataHub region ids of the six ITU-D regions (CIS is not numbered in sequence).
ITU_D_REGION_IDS: dict[int, str] = {
    1: "Africa",
    2: "Americas",
    3: "Arab States",
    4: "Asia & Pacific",
    5: "Europe",
    716: "CIS",
}
REGION_COLUMNS = ["iso3", "name", "itu_region"]


@dataclass
class DataHubRegions:
    """The ITU-D regions read from one ``v2/country/all`` answer.

    Attributes:
        url: the URL actually requested.
        content: the body as received (for its hash in the provenance).
        regions: one row per ITU member, ``iso3, name, itu_region`` (ISO fixes applied).
        non_members: economies in the answer without an ITU-D region entry.
        retrieved_at: when the answer arrived (UTC, ISO 8601).
    """

    url: str
    content: bytes
    regions: pd.DataFrame
    non_members: list[str] = field(default_factory=list)
    retrieved_at: str = ""


def _region_id(entry: dict, iso3: str) -> int:
    """The numeric id of an ITU-D Regions entry, or a SourceError naming the economy."""
    raw = entry.get("id")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().isdigit():
        raise SourceError(f"ITU DataHub v2/country/all: {iso3} has an {ITU_D_CLASS!r} entry "
                          f"without a numeric region id ({entry!r}); the format has changed, "
                          "so the ITU-D region list is not refreshed")
    return int(raw)


def parse_country_regions(body: bytes | str) -> tuple[pd.DataFrame, list[str]]:
    """One ``v2/country/all`` answer -> (ITU members ``iso3, name, itu_region``, non-members).

    Every entry is checked before anything is returned, so a caller never
    writes part of a list: a body that is not a JSON array of economies, an
    economy without ``IsoCode`` or ``Regions``, an ITU-D region id that
    :data:`ITU_D_REGION_IDS` does not know (or whose name disagrees with it),
    two different ITU-D regions for one economy, or an answer with no ITU-D
    entry at all raises :class:`SourceError` with the economy and the fix.
    """
    text = body.decode("utf-8-sig", errors="replace") if isinstance(body, bytes) else body
    where = "ITU DataHub v2/country/all"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{where} answered with something that is not JSON: "
                          f"{body_snippet(text.encode())}") from exc
    if isinstance(data, dict):
        detail = data.get("message") or data.get("error") or body_snippet(text.encode())
        raise SourceError(f"{where} answered with an error: {detail}")
    if not isinstance(data, list) or not data:
        raise SourceError(f"{where}: expected a non-empty JSON array of economies "
                          f"({{IsoCode, ShortName, Regions: [...]}}), got "
                          f"{body_snippet(text.encode())}")
    members: dict[str, tuple[str, str]] = {}
    non_members: list[str] = []
    for k, rec in enumerate(data):
        if not isinstance(rec, dict) or not isinstance(rec.get("IsoCode"), str) \
                or not rec["IsoCode"].strip() or not isinstance(rec.get("Regions"), list):
            raise SourceError(f"{where}: entry {k} is not an economy of the expected shape "
                              f"{{IsoCode: str, ShortName, Regions: [...]}}: "
                              f"{body_snippet(json.dumps(rec).encode())}")
        iso3 = rec["IsoCode"].strip().upper()
        iso3 = ITU_ISO_FIXES.get(iso3, iso3)
        name = str(rec.get("ShortName") or rec.get("LongName") or iso3).strip()
        if any(not isinstance(e, dict) for e in rec["Regions"]):
            raise SourceError(f"{where}: {iso3} has a Regions item that is not an object: "
                              f"{body_snippet(json.dumps(rec['Regions']).encode())}")
        itu_entries = [e for e in rec["Regions"] if e.get("class") == ITU_D_CLASS]
        found: set[str] = set()
        for entry in itu_entries:
            region_id = _region_id(entry, iso3)
            if region_id not in ITU_D_REGION_IDS:
                known = ", ".join(f"{i} {n}" for i, n in ITU_D_REGION_IDS.items())
                raise SourceError(
                    f"{where}: {iso3} has ITU-D region id {region_id} "
                    f"({entry.get('region')!r}), which is not a known ITU-D region ({known}). "
                    "Add it to ITU_D_REGION_IDS in p2c_research/sources/itu.py if ITU has "
                    "added a region; the list is not refreshed until then")
            expected = ITU_D_REGION_IDS[region_id]
            given = entry.get("region")
            if given is not None and country_ref.normalise_name(str(given)) != \
                    country_ref.normalise_name(expected):
                raise SourceError(
                    f"{where}: {iso3}'s ITU-D region id {region_id} is named {given!r}, but "
                    f"ITU_D_REGION_IDS says {expected!r}; check ITU's region ids before "
                    "refreshing")
            found.add(expected)
        if len(found) > 1:
            raise SourceError(f"{where}: {iso3} is in several ITU-D regions "
                              f"({', '.join(sorted(found))}); expected one")
        if found:
            region = found.pop()
            if iso3 in members and members[iso3][1] != region:
                raise SourceError(f"{where}: {iso3} appears twice, in {members[iso3][1]} "
                                  f"and {region}")
            members[iso3] = (name, region)
        elif iso3 not in members:
            non_members.append(iso3)
    if not members:
        raise SourceError(f"{where}: no economy has a Regions entry of class {ITU_D_CLASS!r}; "
                          "the format may have changed, so the ITU-D region list is not "
                          "refreshed")
    frame = pd.DataFrame([(iso3, name, region) for iso3, (name, region) in members.items()],
                         columns=REGION_COLUMNS)
    frame = frame.sort_values("iso3").reset_index(drop=True)
    return frame, sorted(set(non_members) - set(members))


def fetch_country_regions(base_url: str | None = None, *,
                          client: HttpClient | None = None) -> DataHubRegions:
    """Download ``{base}/v2/country/all`` and read every ITU member's ITU-D region.

    This is the authoritative source of the packaged region list
    (``resources/itu_regions.csv``); :func:`p2c_research.regions_build.build_from_datahub`
    writes it. Nothing is cached or written here.

    Raises:
        SourceError: the request failed or the answer has an unexpected shape
            (see :func:`parse_country_regions`).
    """
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    client = client or HttpClient()
    res = client.get(base + COUNTRY_ALL_PATH)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    regions, non_members = parse_country_regions(res.content)
    return DataHubRegions(url=res.url, content=res.content, regions=regions,
                          non_members=non_members, retrieved_at=when)
