"""Build the embedded sample in ``data/sample/`` from real World Bank and Natural Earth files.

The sample is what a fresh clone runs on, offline. It is built by this code
from files the user points at (``invoke data.sample --source DIR``), never
copied by hand, so it can be rebuilt and checked:

* ``panel.parquet``: every economy, 2000 to the latest year, for every catalog
  indicator that the WDI files carry (World Bank WDI, CC BY 4.0);
* ``itu/panel.parquet``: the ITU pack, every catalog series that the ITU
  DataHub CSV exports carry, converted to the catalog's units with the WDI
  population, Internet users and GNI per capita of the panel above (ITU
  DataHub, CC BY-NC-SA 3.0 IGO: non-commercial). It lives in its own folder
  with its licence notice, so a CC BY-only build can leave it out
  (``--no-itu``);
* ``naturalearth_110m_admin0.geojson``: Natural Earth 1:110m admin-0
  countries (public domain), reduced to the columns the maps use;
* ``pledges.parquet``: a SYNTHETIC pledge set from a seeded generator.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from p2c_research.catalog import load_catalog, wdi_codes_needed, wdi_to_panel
from p2c_research.config import sample_dir
from p2c_research.errors import DataError
from p2c_research.sources.naturalearth import write_admin0_geojson
from p2c_research.sources.wdi_files import read_wdi_path
from p2c_research.store import (
    Provenance,
    atomic_write_text,
    sha256_file,
    write_panel,
    write_provenance,
)

log = logging.getLogger(__name__)

FIRST_YEAR = 2000
WDI_LICENCE = "CC BY 4.0 (World Bank World Development Indicators)"
WDI_ATTRIBUTION = "Source: World Bank, World Development Indicators (CC BY 4.0)."
NE_LICENCE = "Public domain (Natural Earth)"


ITU_FOLDER = "itu"
ITU_LICENCE_NOTICE = """# ITU DataHub pack of the embedded sample

The files in this folder hold values from the International Telecommunication
Union's ITU DataHub (https://datahub.itu.int), built by `invoke data.sample`
from DataHub CSV exports through p2c-research's ITU adapter.

Licence: Creative Commons Attribution-NonCommercial-ShareAlike 3.0 IGO
(CC BY-NC-SA 3.0 IGO, https://creativecommons.org/licenses/by-nc-sa/3.0/igo/).
Non-commercial use only; share adaptations under the same licence; cite
"International Telecommunication Union, ITU DataHub".

This licence differs from the rest of the sample (World Bank WDI, CC BY 4.0;
Natural Earth, public domain). For a CC BY-only build, run with `--no-itu`
(or set `data.itu: false` in the params): the reports then use the World Bank
data alone and say so.

Conversions (see docs/indicators.md): counts per 100 people and bandwidth per
Internet user use World Bank population and Internet users; prices are ITU's
own % of GNI per capita, or, where the export gives US$ only, converted with
World Bank GNI per capita (Atlas). The `source` column of `panel.parquet`
names the export code of every value and the World Bank series it was
divided by.
"""


def build_itu_pack(source: Path, out_dir: Path, wdi_panel_path: Path) -> Path | None:
    """The ITU pack: catalog series from the DataHub CSV exports under ``source``.

    Converted with the denominators of the WDI sample panel (population,
    Internet users, GNI per capita of the same economy and year). Returns None
    (with a warning) when ``source`` holds no DataHub export.
    """
    from p2c_research.sources import itu
    from p2c_research.store import read_panel
    from p2c_research.units import CONTEXT_IDS

    catalog = load_catalog()
    exports = [f for f in sorted(source.rglob("*.csv")) if itu.is_export(f)]
    if not exports:
        log.warning("%s: no ITU DataHub CSV export found; the sample has no ITU pack", source)
        return None
    wdi = read_panel(wdi_panel_path)
    wanted = {i for ids in CONTEXT_IDS.values() for i in ids}
    context = wdi[wdi["indicator"].isin(wanted)]
    messages: list[str] = []
    panel = itu.panel_from_export_files(exports, catalog, messages, context)
    panel = panel[panel["year"] >= FIRST_YEAR]
    folder = out_dir / ITU_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "LICENCE.md", ITU_LICENCE_NOTICE)
    codes = sorted(panel["source"].str.split(":", n=1).str[1].str.split(" ").str[0].unique())
    prov = Provenance(
        source=f"{itu.PUBLISHER} (CSV exports)",
        url_or_file=", ".join(f.name for f in exports),
        licence=itu.LICENCE,
        notes=(f"{len(panel)} values, {panel['iso3'].nunique()} economies, "
               f"{panel['indicator'].nunique()} indicators, years {FIRST_YEAR}-"
               f"{int(panel['year'].max())}. Converted with the World Bank denominators of "
               f"the sample panel (see LICENCE.md and docs/indicators.md). "
               + " ".join(dict.fromkeys(messages))),
        parameters={"first_year": FIRST_YEAR, "codes": codes},
        inputs=[{"file": str(f.relative_to(source) if f.is_relative_to(source) else f.name),
                 "sha256": sha256_file(f)} for f in exports],
    )
    return write_panel(panel, folder / "panel.parquet", prov)


def build_sample_panel(source: Path, out_dir: Path) -> Path:
    """Read every WDI file under ``source`` and write the sample panel."""
    catalog = load_catalog()
    read = read_wdi_path(source, codes=wdi_codes_needed(catalog))
    if read.rows.empty:
        raise DataError(
            f"{source}: no World Bank WDI file found (long `Country Name,Country Code,Year,Value` "
            "or bulk `API_*.csv`); point --source at a folder holding them"
        )
    raw = read.rows[read.rows["year"] >= FIRST_YEAR]
    panel = wdi_to_panel(raw, source="wdi_file", catalog=catalog)
    inputs = [{"file": str(f.relative_to(source) if f.is_relative_to(source) else f.name),
               "sha256": sha256_file(f)} for f in read.files]
    prov = Provenance(
        source="World Bank World Development Indicators (files)",
        url_or_file=str(Path(source).name),
        licence=WDI_LICENCE,
        notes=(f"{WDI_ATTRIBUTION} Economies only (aggregates dropped: {len(read.aggregates)}), "
               f"years {FIRST_YEAR}-{int(raw['year'].max())}. Built by p2c_research.sample."),
        parameters={"first_year": FIRST_YEAR, "codes": sorted(raw["code"].unique())},
        inputs=inputs,
    )
    return write_panel(panel, out_dir / "panel.parquet", prov)


def _find_naturalearth(source: Path) -> Path | None:
    for pattern in ("ne_110m_admin_0_countries*.geojson", "ne_110m_admin_0_countries*.shp",
                    "ne_110m_admin_0_countries*.zip"):
        found = sorted(source.rglob(pattern))
        if found:
            return found[0]
    return None


def build_sample_geometries(source: Path, out_dir: Path) -> Path | None:
    """Vendor the Natural Earth 110m admin-0 countries, keyed by ISO3."""
    path = _find_naturalearth(source)
    if path is None:
        log.warning("%s: no Natural Earth 110m admin-0 file found; maps will be skipped", source)
        return None
    out = out_dir / "naturalearth_110m_admin0.geojson"
    world = write_admin0_geojson(path, out)
    version = "not recorded in the source file (Natural Earth v5-style schema)"
    prov = Provenance(
        source="Natural Earth 1:110m Cultural Vectors, Admin 0 - Countries",
        url_or_file=path.name,
        licence=NE_LICENCE,
        notes=(f"Natural Earth release: {version}. {len(world)} features; "
               f"{world['iso3'].notna().sum()} resolved to World Bank ISO3 codes. "
               "Made with Natural Earth. Free vector and raster map data @ naturalearthdata.com."),
        inputs=[{"file": path.name, "sha256": sha256_file(path)}],
    )
    write_provenance(out, prov)
    return out


def build_sample(source: Path | str, out_dir: Path | None = None) -> dict[str, Path]:
    """Build the whole embedded sample from the real files under ``source``."""
    from p2c_research.pledges.synthetic import build_sample_pledges

    source = Path(source).resolve()
    if not source.is_dir():
        raise DataError(f"{source}: not a folder; pass --source DIR holding WDI and Natural Earth files")
    out_dir = Path(out_dir or sample_dir())
    built: dict[str, Path] = {"panel": build_sample_panel(source, out_dir)}
    itu_pack = build_itu_pack(source, out_dir, built["panel"])
    if itu_pack is not None:
        built["itu_panel"] = itu_pack
    geo = build_sample_geometries(source, out_dir)
    if geo is not None:
        built["geometries"] = geo
    built["pledges"] = build_sample_pledges(out_dir)
    manifest = {name: {"file": str(p.relative_to(out_dir)), "sha256": sha256_file(p)}
                for name, p in built.items()}
    atomic_write_text(out_dir / "MANIFEST.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return built
