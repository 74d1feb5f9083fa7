"""Natural Earth admin-0 countries (1:110m and 1:50m), fetched with pooch against pinned hashes.

The maps need country polygons keyed by ISO3. Natural Earth publishes them
as zipped shapefiles on its CDN. :func:`fetch` downloads them with
``pooch.retrieve(known_hash=...)``: a file whose sha256 differs from the
pinned one is rejected (pooch deletes it and :class:`SourceError` is raised),
so a silently changed upstream file cannot slip into a report.

Offline (any network error) the fetch falls back to the vendored 1:110m copy
in ``data/sample/`` with a warning, so a run never needs the network.

Pins: ``NE_FILES[scale].sha256`` and ``.size``, the Natural Earth 5.1.1/5.1.2
cultural zips (the same bytes under both release paths), as pinned in public
pooch registries. A download whose hash differs is refused. ``hashes=`` can
override a pin (a newer release, or tests); with a pin set to ``None`` pooch
downloads without checking, the observed sha256 is printed in the messages
and recorded in the sidecar, and ``strict=True`` refuses the download.

:func:`build_geometries` turns a fetched zip into the GeoJSON the package
reads (``iso3`` column; Natural Earth's ``-99`` codes resolved through
``ISO_A3_EH`` / ``ADM0_A3``). The 1:50m file is preferred because it draws
small island states that 1:110m leaves out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import requests

from p2c_research import countries
from p2c_research.config import sample_dir
from p2c_research.errors import DataError, SourceError
from p2c_research.sources.base import AdapterResult
from p2c_research.sources.rawcache import RawCache
from p2c_research.store import (
    Provenance,
    provenance_path,
    read_provenance,
    sha256_file,
    write_provenance,
)

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

NAME = "naturalearth"
DEFAULT_BASE_URL = "https://naciscdn.org/naturalearth"
PUBLISHER = "Natural Earth, Admin 0 - Countries"
LICENCE = "Public domain (Natural Earth)"
VENDORED_NAME = "naturalearth_110m_admin0.geojson"
PROCESSED_NAME = "naturalearth_admin0.geojson"


@dataclass(frozen=True)
class NaturalEarthFile:
    """One downloadable scale: path under the base URL and its pinned sha256."""

    scale: str
    path: str
    sha256: str | None
    size: int | None = None

    @property
    def fname(self) -> str:
        return self.path.rsplit("/", 1)[-1]


# Natural Earth 5.1.1/5.1.2 cultural zips (identical bytes under both release paths).
NE_FILES: dict[str, NaturalEarthFile] = {
    "110m": NaturalEarthFile(
        "110m", "110m/cultural/ne_110m_admin_0_countries.zip",
        "0f243aeac8ac6cf26f0417285b0bd33ac47f1b5bdb719fd3e0df37d03ea37110", 214_976),
    "50m": NaturalEarthFile(
        "50m", "50m/cultural/ne_50m_admin_0_countries.zip",
        "5fed433373581fa648920435f937d95f2d3c0200e067409c6478dcdf1b853139", 799_734),
}
# Columns kept in the package's GeoJSON (the maps and the ISO3 resolution need no more).
NE_COLUMNS = ["ADMIN", "NAME", "ISO_A3", "ISO_A3_EH", "ADM0_A3", "WB_A3", "CONTINENT",
              "REGION_UN", "SUBREGION", "POP_EST"]
# Natural Earth codes that differ from the World Bank's ISO3 for the same economy.
NE_CODE_FIXES = {"KOS": "XKX", "SDS": "SSD", "PSX": "PSE", "SAH": "ESH"}


def vendored_path() -> Path:
    """The 1:110m copy shipped in the embedded sample."""
    return sample_dir() / VENDORED_NAME


def fetch(
    scales: list[str] | tuple[str, ...] = ("110m", "50m"),
    *,
    base_url: str | None = None,
    cache: RawCache | None = None,
    refresh: bool = False,
    hashes: dict[str, str | None] | None = None,
    strict: bool = False,
    timeout: float = 60.0,
) -> AdapterResult:
    """Download each scale's zip into ``data/raw/naturalearth/`` (pooch checks the pin).

    Args:
        hashes: override of the pinned sha256 per scale (tests, or a newer release).
        strict: refuse unpinned files and do not fall back when offline.

    Raises:
        SourceError: a hash mismatch, an HTTP error other than a network failure,
            or (``strict``) an unpinned file or an offline fetch.
    """
    import pooch

    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    cache = cache or RawCache(NAME)
    result = AdapterResult()
    for scale in scales:
        if scale not in NE_FILES:
            raise SourceError(f"unknown Natural Earth scale {scale!r}; use one of {list(NE_FILES)}")
        spec = NE_FILES[scale]
        pinned = (hashes or {}).get(scale, spec.sha256)
        if pinned is None and strict:
            raise SourceError(f"Natural Earth {scale}: no pinned sha256 (NE_FILES in "
                              f"{__name__}); strict mode refuses an unpinned download")
        url = f"{base}/{spec.path}"
        dest = cache.path(spec.fname)
        if refresh and dest.exists():
            dest.unlink()
        existed = dest.exists() and provenance_path(dest).exists()
        try:
            got = Path(pooch.retrieve(
                url, known_hash=f"sha256:{pinned}" if pinned else None, fname=spec.fname,
                path=cache.folder, progressbar=False,
                downloader=pooch.HTTPDownloader(timeout=timeout)))
        except ValueError as exc:  # pooch: hash mismatch (the file was not kept)
            raise SourceError(
                f"Natural Earth {scale} from {url}: {exc}. The file differs from the pinned "
                "release; check the source, then update NE_FILES if the new release is wanted"
            ) from exc
        except requests.HTTPError as exc:
            raise SourceError(f"Natural Earth {scale}: GET {url} failed: {exc}") from exc
        except requests.RequestException as exc:  # offline, DNS, time-out, dropped
            if strict:
                raise SourceError(f"Natural Earth {scale}: {url} unreachable ({exc})") from exc
            _fall_back(result, scale, url, exc)
            continue
        observed = sha256_file(got)
        downloaded = not existed or refresh or read_sidecar_sha(got) != observed
        if downloaded:
            prov = Provenance(
                source=f"{PUBLISHER} (1:{scale.removesuffix('m')} million)",
                url_or_file=url, licence=LICENCE,
                parameters={"scale": scale, "pinned_sha256": pinned},
                notes=("sha256 matched the pin" if pinned else
                       "UNPINNED: downloaded without a hash check; pin the sha256 above"),
            )
            write_provenance(got, prov)
            result.n_downloaded += 1
        else:
            result.n_cached += 1
        if not pinned:
            result.messages.append(f"Natural Earth {scale} is not pinned: observed sha256 "
                                   f"{observed}; paste it into NE_FILES to pin it")
        result.files.append(got)
    return result


def read_sidecar_sha(path: Path) -> str:
    return str(read_provenance(path).get("sha256", ""))


def _fall_back(result: AdapterResult, scale: str, url: str, exc: Exception) -> None:
    vendored = vendored_path()
    if not vendored.exists():
        raise SourceError(f"Natural Earth {scale}: {url} unreachable ({exc}) and the vendored "
                          f"copy {vendored} is missing; rebuild the sample or fetch online")
    text = (f"Natural Earth {scale}: {url} unreachable ({type(exc).__name__}); "
            f"falling back to the vendored 1:110m copy {vendored}")
    log.warning(text)
    result.messages.append(text)
    if vendored not in result.files:
        result.files.append(vendored)


def ne_iso3(frame: pd.DataFrame) -> pd.Series:
    """Resolve each Natural Earth feature to a World Bank ISO3 code.

    ``ISO_A3`` is ``-99`` for France, Norway and others, so ``ISO_A3_EH`` is
    tried first, then ``ADM0_A3`` with the known Natural Earth-only codes fixed.
    """
    out = []
    for _, row in frame.iterrows():
        code = None
        for col in ("ISO_A3_EH", "ISO_A3", "ADM0_A3", "WB_A3"):
            value = str(row.get(col, "") or "").strip().upper()
            value = NE_CODE_FIXES.get(value, value)
            if value and value != "-99" and countries.is_economy(value):
                code = value
                break
        out.append(code)
    return pd.Series(out, index=frame.index, dtype="object")


def read_admin0(source: str | Path) -> gpd.GeoDataFrame:
    """Read a Natural Earth admin-0 file (GeoJSON, shapefile or ``zip://`` URI) as the
    package uses it: the :data:`NE_COLUMNS`, an ``iso3`` column, WGS84.

    Raises:
        DataError: the file cannot be read as a vector data set.
    """
    import geopandas as gpd

    try:
        world = gpd.read_file(source)
    except Exception as exc:  # pyogrio raises its own DataSourceError
        raise DataError(f"{source}: not a readable Natural Earth file ({exc}); "
                        "fetch it again with --refresh") from exc
    keep = [c for c in NE_COLUMNS if c in world.columns]
    world = world[[*keep, "geometry"]].copy()
    world["iso3"] = ne_iso3(world)
    if world.crs is not None:
        world = world.to_crs("EPSG:4326")
    return world


def write_geojson(world: gpd.GeoDataFrame, out: Path) -> Path:
    """Write ``world`` as GeoJSON (4 decimals, about 10 m), atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    world.to_file(tmp, driver="GeoJSON", COORDINATE_PRECISION=4)
    tmp.replace(out)
    return out


def write_admin0_geojson(source: str | Path, out: Path) -> gpd.GeoDataFrame:
    """Read a Natural Earth admin-0 file and write the package's GeoJSON (see :func:`read_admin0`)."""
    world = read_admin0(source)
    write_geojson(world, out)
    return world


def build_geometries(raw_root: Path | None, out: Path) -> Path | None:
    """Write ``out`` (GeoJSON with ``iso3``) from the best cached zip: 1:50m, else 1:110m.

    Returns None when no zip is cached (runs then use the vendored 1:110m copy).
    """
    cache = RawCache(NAME, raw_root)
    zips = [cache.path(NE_FILES[s].fname) for s in ("50m", "110m")]
    found = [z for z in zips if z.exists() and provenance_path(z).exists()]
    if not found:
        return None
    src = found[0]
    world = write_admin0_geojson(f"zip://{src}", out)
    name_col = "ADMIN" if "ADMIN" in world.columns else "geometry"
    unresolved = sorted(world.loc[world["iso3"].isna(), name_col].astype(str))
    write_provenance(out, Provenance(
        source=f"{PUBLISHER} ({src.name})", url_or_file=str(src.name), licence=LICENCE,
        notes=(f"{len(world)} features, {int(world['iso3'].notna().sum())} resolved to World "
               f"Bank ISO3 codes; unresolved: {', '.join(unresolved) or 'none'}. "
               "Made with Natural Earth."),
        inputs=[{"file": src.name, "sha256": sha256_file(src)}],
    ))
    return out
