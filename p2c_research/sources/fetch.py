"""One entry point for every source: ``fetch_source(name, ...)`` behind ``invoke data.fetch``.

It routes to the adapter, validates the tidy rows it produced against the
panel schema, and returns a :class:`FetchReport` the command line prints.
Raw files land in ``data/raw/<source>/`` (or ``raw_root``); building the
processed panel from them is a separate step (:func:`p2c_research.build.build_processed`),
so several fetches can be combined and rebuilt offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from p2c_research.config import processed_dir
from p2c_research.errors import SourceError
from p2c_research.sources import itu, naturalearth, sdg, wdi_csv, worldbank
from p2c_research.sources.base import AdapterResult
from p2c_research.sources.http import HttpClient, HttpSettings
from p2c_research.sources.rawcache import RawCache
from p2c_research.store import empty_panel, validate_panel

SOURCE_NAMES: tuple[str, ...] = ("worldbank", "sdg", "itu", "wdi-csv", "naturalearth", "pledges")


@dataclass
class FetchReport:
    """What a fetch did, for the command line and for tests.

    Attributes:
        source: the source name as given to :func:`fetch_source`.
        files: raw files written or served from the cache (or the pledge outputs).
        rows: tidy panel rows produced (validated); 0 for geometries.
        from_cache: True when nothing had to be downloaded.
        messages: what the user should know (aggregates dropped, no data, fallbacks).
        errors: requests that failed while the rest carried on.
        n_downloaded / n_cached: raw files downloaded now (or imported, for a
            local file) / served from the cache.
        local: the input was a local file (``--path``), so its files were
            imported, not downloaded.
        panel: the tidy rows themselves (not printed).
    """

    source: str
    files: list[Path] = field(default_factory=list)
    rows: int = 0
    from_cache: bool = False
    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    n_downloaded: int = 0
    n_cached: int = 0
    local: bool = False
    panel: pd.DataFrame = field(default_factory=empty_panel, repr=False)

    def summary(self) -> str:
        """A few plain lines: counts first, then messages and errors."""
        verb = "imported" if self.local else "downloaded"
        where = "all from the cache" if self.from_cache else (
            f"{self.n_downloaded} {verb}, {self.n_cached} from the cache")
        lines = [f"{self.source}: {len(self.files)} file(s) ({where}); {self.rows} tidy row(s)"]
        if self.rows and not self.panel.empty:
            lines.append(f"  {self.panel['iso3'].nunique()} economies, "
                         f"{self.panel['indicator'].nunique()} indicators, years "
                         f"{int(self.panel['year'].min())}-{int(self.panel['year'].max())}")
        lines += [f"  note: {m}" for m in self.messages]
        if self.errors:
            lines.append(f"  {len(self.errors)} request(s) failed:")
            lines += [f"    {e}" for e in self.errors[:20]]
            if len(self.errors) > 20:
                lines.append(f"    ... and {len(self.errors) - 20} more")
        return "\n".join(lines)


def _report(name: str, result: AdapterResult, *, local: bool = False) -> FetchReport:
    panel = validate_panel(result.panel, origin=f"{name} fetch") if not result.panel.empty \
        else empty_panel()
    return FetchReport(
        source=name, files=list(result.files), rows=len(panel),
        from_cache=result.n_downloaded == 0 and result.n_cached > 0,
        messages=list(result.messages), errors=list(result.errors),
        n_downloaded=result.n_downloaded, n_cached=result.n_cached, local=local, panel=panel,
    )


def fetch_source(
    name: str,
    *,
    base_url: str | None = None,
    refresh: bool = False,
    path: str | None = None,
    mapping: str | None = None,
    strict: bool = False,
    start: int | None = None,
    end: int | None = None,
    countries: list[str] | None = None,
    ttl_hours: float = 24.0,
    raw_root: Path | None = None,
    codes: list[str] | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    backoff: float = 1.0,
) -> FetchReport:
    """Fetch one source into the raw cache and return what it produced.

    Args:
        name: worldbank | sdg | itu | wdi-csv | naturalearth | pledges.
        base_url: API root (tests, mirrors); each adapter has the public default.
        refresh: ignore the cache's time-to-live and download again.
        path: input file or folder (wdi-csv, pledges, and itu for DataHub CSV exports).
        mapping: column mapping of a pledge export (pledges only).
        strict: pledges: fail on any bad row; naturalearth: refuse unpinned files
            and do not fall back when offline.
        start, end: year window (default 2000 to the current year).
        countries: ISO3 codes to keep (itu: the countries to ask for).
        ttl_hours: a raw file younger than this is served from the cache.
        raw_root: raw cache root (default ``data/raw``).
        codes: publisher codes to fetch instead of the catalog's.
        timeout, retries, backoff: HTTP patience (seconds, extra attempts,
            first wait in seconds, doubled each retry).

    Raises:
        SourceError: unknown source, or a failure the adapter could not work around.
    """
    if name not in SOURCE_NAMES:
        raise SourceError(f"unknown source {name!r}; use one of {', '.join(SOURCE_NAMES)}")
    client = HttpClient(HttpSettings(timeout=timeout, retries=retries, backoff=backoff))
    window: dict[str, Any] = {"start": start, "end": end, "countries": countries}

    if name == "worldbank":
        result = worldbank.fetch(codes, base_url=base_url, client=client, refresh=refresh,
                                 ttl_hours=ttl_hours, cache=RawCache(name, raw_root), **window)
    elif name == "sdg":
        result = sdg.fetch(codes, base_url=base_url, client=client, refresh=refresh,
                           ttl_hours=ttl_hours, cache=RawCache(name, raw_root), **window)
    elif name == "itu":
        cache = RawCache(name, raw_root)
        if path:
            result = itu.import_exports(path, cache=cache, **window)
        else:
            result = itu.fetch(codes, base_url=base_url, client=client, refresh=refresh,
                               ttl_hours=ttl_hours, cache=cache, **window)
    elif name == "wdi-csv":
        if not path:
            raise SourceError("wdi-csv needs --path FILE_OR_DIR (a WDI bulk API_*.csv, a long "
                              "Country Name,Country Code,Year,Value file, or a folder of them)")
        result = wdi_csv.import_files(path, cache=RawCache(name, raw_root), codes=codes,
                                      **window)
    elif name == "naturalearth":
        result = naturalearth.fetch(base_url=base_url, cache=RawCache(name, raw_root),
                                    refresh=refresh, strict=strict, timeout=timeout)
    else:
        return _fetch_pledges(path, mapping=mapping, strict=strict)
    return _report(name, result, local=bool(path) and name in ("itu", "wdi-csv"))


def _fetch_pledges(path: str | None, *, mapping: str | None, strict: bool) -> FetchReport:
    """Route to :func:`p2c_research.sources.pledges.import_pledges` and wrap its outcome."""
    if not path:
        raise SourceError("pledges needs --path FILE (a P2C pledge export: CSV or Excel)")
    from p2c_research.sources.pledges import import_pledges

    outcome = import_pledges(path, mapping=Path(mapping) if mapping else None, strict=strict,
                             out_dir=processed_dir())
    files = [Path(f) for f in (outcome.output, outcome.rejects_path) if f is not None]
    return FetchReport(
        source="pledges", files=files, rows=len(outcome.valid),
        messages=[outcome.report()], n_downloaded=len(files), local=True,
    )
