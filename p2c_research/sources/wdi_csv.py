"""WDI file adapter (``wdi-csv --path FILE_OR_DIR``): World Bank bulk and long CSVs.

For analysts who downloaded WDI files by hand, or work where the API is
blocked. Both layouts are read by :mod:`p2c_research.sources.wdi_files` (the
long ``Country Name,Country Code,Year,Value`` files and the bulk
``API_<code>_DS2_*.csv`` files, with or without the 4-line preamble, BOM or
CRLF). The files read are copied unchanged into ``data/raw/wdi-csv/`` with a
provenance sidecar each, so ``data.build`` can rebuild the panel from the
cache alone. A long file saved as ``<code>/data.csv`` is stored as
``<CODE>.csv`` so the indicator code survives the copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from p2c_research.catalog import Catalog, load_catalog, wdi_codes_needed, wdi_to_panel
from p2c_research.errors import DataError
from p2c_research.sources.base import AdapterResult, listing, tidy
from p2c_research.sources.rawcache import RawCache, same_copy
from p2c_research.sources.wdi_files import read_wdi_path, sniff_layout
from p2c_research.store import Provenance

NAME = "wdi-csv"
SOURCE_LABEL = "wdi_file"  # the same label the embedded sample uses
PUBLISHER = "World Bank World Development Indicators (files)"
LICENCE = "CC BY 4.0 (World Bank World Development Indicators)"


def _cache_name(path: Path) -> str:
    """File name for the copy: ``<CODE>.csv`` for ``<code>/data.csv`` long files."""
    if path.stem.lower() == "data":
        return f"{path.parent.name.upper()}.csv"
    return path.name


def to_panel(
    raw: pd.DataFrame, catalog: Catalog | None = None, messages: list[str] | None = None
) -> pd.DataFrame:
    """Raw WDI rows (``iso3, code, year, value``, economies only) -> tidy catalog rows.

    Counts converted per person need ``SP.POP.TOTL`` among the rows; without
    it they are left out and the messages say so.
    """
    catalog = catalog or load_catalog()
    if raw.empty:
        return tidy(None)
    return tidy(wdi_to_panel(raw, source=SOURCE_LABEL, catalog=catalog, messages=messages))


def import_files(
    path: Path | str,
    *,
    cache: RawCache | None = None,
    start: int | None = None,
    end: int | None = None,
    countries: list[str] | None = None,
    codes: list[str] | None = None,
    catalog: Catalog | None = None,
) -> AdapterResult:
    """Read WDI files under ``path``, copy them to the raw cache, return tidy rows."""
    catalog = catalog or load_catalog()
    src = Path(path)
    if not src.exists():
        raise DataError(f"{src}: no such file or folder; pass --path to a WDI CSV "
                        "(API_*.csv or Country Name,Country Code,Year,Value) or a folder of them")
    cache = cache or RawCache(NAME)
    wanted = list(codes) if codes else wdi_codes_needed(catalog)
    read = read_wdi_path(src, codes=wanted)
    result = AdapterResult()
    if read.rows.empty:
        raise DataError(f"{src}: no WDI file with a catalog code found (codes read: "
                        f"{listing(wanted)})")
    for f in read.files:
        dest = cache.path(_cache_name(f))
        if same_copy(dest, f):
            result.n_cached += 1
        else:
            prov = Provenance(source=PUBLISHER, url_or_file=str(f.resolve()), licence=LICENCE,
                              parameters={"file": f.name, "layout": (sniff_layout(f) or ("?",))[0]},
                              notes="Copied unchanged from a WDI download.")
            cache.write(dest, f.read_bytes(), prov)
            shutil.copystat(f, dest)
            result.n_downloaded += 1
        result.files.append(dest)
        # datapackage.json beside a long file carries title and notes: keep it with the copy
        package = (f.parent / "datapackage.json" if f.stem.lower() == "data"
                   else f.with_name(f.stem + ".datapackage.json"))
        package_copy = cache.path(Path(dest.stem).name + ".datapackage.json")
        if package.exists() and not same_copy(package_copy, package):
            cache.write(package_copy, package.read_bytes(),
                        Provenance(source=PUBLISHER, url_or_file=str(package.resolve()),
                                   licence=LICENCE, notes="Metadata of the file beside it."))
    if read.aggregates:
        result.messages.append(f"{len(read.aggregates)} aggregate(s) dropped: "
                               f"{listing(read.aggregates)}")
    if read.unmatched:
        result.messages.append(f"{len(read.unmatched)} code(s) matched no economy, dropped: "
                               f"{listing(read.unmatched, limit=60)}")
    raw = read.rows
    if start:
        raw = raw[raw["year"] >= start]
    if end:
        raw = raw[raw["year"] <= end]
    panel = to_panel(raw, catalog, result.messages)
    if countries:
        panel = panel[panel["iso3"].isin({c.upper() for c in countries})]
    result.panel = tidy(panel)
    return result


def load_cached(raw_root: Path | None = None, catalog: Catalog | None = None) -> AdapterResult:
    """The WDI files in the raw cache -> tidy rows (used by ``data.build``)."""
    catalog = catalog or load_catalog()
    cache = RawCache(NAME, raw_root)
    result = AdapterResult()
    if not cache.files("*.csv"):
        return result
    read = read_wdi_path(cache.folder, codes=wdi_codes_needed(catalog))
    result.files = list(read.files)
    result.panel = to_panel(read.rows, catalog, result.messages)
    return result
