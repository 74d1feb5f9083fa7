"""Paged JSON queries kept in the raw cache as one file per page.

The World Bank and UN SDG APIs both split a query into pages and say how many
there are in the first one. A query is cached as ``<stem>.p001.json``,
``<stem>.p002.json``, ... each with its sidecar; it counts as cached only when
every page of the set is there, so a fetch interrupted after page 2 of 5 is
simply fetched again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from p2c_research.errors import SourceError
from p2c_research.sources.http import HttpClient
from p2c_research.sources.rawcache import RawCache
from p2c_research.store import Provenance, provenance_path

# parse(body) -> (page number, total pages, note for the sidecar); raises SourceError
PageParser = Callable[[bytes], tuple[int, int, str]]

#: Most pages one query may announce. The largest real query (an SDG series by
#: sex, age and area at 1,000 records a page) has tens; a server announcing
#: more would cost as many requests and cache files.
MAX_PAGES = 300


def page_path(cache: RawCache, stem: str, page: int) -> Path:
    return cache.path(f"{stem}.p{page:03d}.json")


def cached_pages(cache: RawCache, stem: str, parse: PageParser) -> list[Path] | None:
    """The complete cached page set of one query, or None if any page (or sidecar) is missing."""
    first = page_path(cache, stem, 1)
    if not (first.exists() and provenance_path(first).exists()):
        return None
    try:
        _, pages, _ = parse(first.read_bytes())
    except SourceError:
        return None
    if pages > MAX_PAGES:
        return None
    paths = [page_path(cache, stem, p) for p in range(1, max(pages, 1) + 1)]
    complete = all(p.exists() and provenance_path(p).exists() for p in paths)
    return paths if complete else None


def query_is_fresh(
    cache: RawCache, stem: str, parse: PageParser, ttl_hours: float, params: dict[str, Any]
) -> bool:
    paths = cached_pages(cache, stem, parse)
    return paths is not None and all(cache.is_fresh(p, ttl_hours, params) for p in paths)


def download_pages(
    client: HttpClient,
    cache: RawCache,
    url: str,
    params: dict[str, Any],
    stem: str,
    parse: PageParser,
    *,
    publisher: str,
    licence: str,
    page_param: str = "page",
) -> list[Path]:
    """Fetch page 1, then as many pages as it announces, each written with its sidecar.

    Each body is parsed and checked (``parse`` raises :class:`SourceError`)
    before it is written, so an error envelope or a page that cannot be read
    later never enters the cache. The endpoint ``url`` is stored with the
    parameters: it is part of the cache key.

    Raises:
        SourceError: a page fails to parse, or the query announces more than
            :data:`MAX_PAGES` pages.
    """
    paths: list[Path] = []
    page, pages = 1, 1
    while page <= pages:
        result = client.get(url, {**params, page_param: page})
        _, pages, note = parse(result.content)
        pages = max(pages, 1)
        if pages > MAX_PAGES:
            raise SourceError(
                f"GET {result.url} announces {pages} pages; the limit is {MAX_PAGES} per query "
                "(MAX_PAGES in p2c_research/sources/paging.py). Check --base-url, or raise the "
                "page size")
        prov = Provenance(
            source=publisher,
            url_or_file=result.url,
            licence=licence,
            parameters={**params, page_param: page, "query": stem, "endpoint": url},
            notes=f"page {page} of {pages}; {note}".rstrip("; "),
        )
        paths.append(cache.write(page_path(cache, stem, page), result.content, prov))
        page += 1
    return paths


def fetch_query(
    client: HttpClient,
    cache: RawCache,
    url: str,
    params: dict[str, Any],
    stem: str,
    parse: PageParser,
    *,
    refresh: bool,
    ttl_hours: float,
    publisher: str,
    licence: str,
    page_param: str = "page",
) -> tuple[list[Path], bool]:
    """The page files of one query, from the cache if fresh; returns (paths, from_cache).

    The cache key is the stem plus the parameters and the endpoint ``url``
    (so a mirror's answer is never served for the publisher's, or back).
    """
    if not refresh and query_is_fresh(cache, stem, parse, ttl_hours,
                                      {**params, "endpoint": url}):
        return cached_pages(cache, stem, parse) or [], True
    return download_pages(client, cache, url, params, stem, parse, publisher=publisher,
                          licence=licence, page_param=page_param), False


def cached_stems(cache: RawCache) -> list[str]:
    """Stems of every query with a first page in the cache."""
    return sorted({p.name.rsplit(".p", 1)[0] for p in cache.files("*.p001.json")})
