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

:class:`SampleBuilder` follows the builders' skeleton (load -> process ->
check -> save): every input is read first, nothing is written until the
checks pass, and every file is written atomically, so a failed build leaves
the previous sample as it was.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import pandas as pd

from p2c_research.builders import Builder
from p2c_research.catalog import Catalog, load_catalog, wdi_codes_needed, wdi_to_panel
from p2c_research.config import sample_dir
from p2c_research.countries import PARTNER_ITU_REGIONS
from p2c_research.errors import DataError
from p2c_research.sources import itu
from p2c_research.sources.naturalearth import read_admin0, write_geojson
from p2c_research.sources.wdi_files import WdiRead, read_wdi_path
from p2c_research.store import (
    Provenance,
    atomic_write_text,
    sha256_file,
    write_panel,
    write_provenance,
)
from p2c_research.units import CONTEXT_IDS

if TYPE_CHECKING:
    import geopandas as gpd

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


# --------------------------------------------------------------------------- load
@dataclass
class SampleInputs:
    """The real files a sample is built from, read but not yet interpreted."""

    source: Path
    catalog: Catalog
    wdi: WdiRead
    itu_files: list[Path] = field(default_factory=list)
    itu_raw: pd.DataFrame | None = None
    ne_file: Path | None = None
    world: gpd.GeoDataFrame | None = None


def _inputs(files: list[Path], source: Path) -> list[dict[str, str]]:
    return [{"file": str(f.relative_to(source) if f.is_relative_to(source) else f.name),
             "sha256": sha256_file(f)} for f in files]


def _find_naturalearth(source: Path) -> Path | None:
    for pattern in ("ne_110m_admin_0_countries*.geojson", "ne_110m_admin_0_countries*.shp",
                    "ne_110m_admin_0_countries*.zip"):
        found = sorted(source.rglob(pattern))
        if found:
            return found[0]
    return None


# --------------------------------------------------------------------------- process
@dataclass
class Sample:
    """The sample's tables, each with the provenance that will sit beside it."""

    panel: pd.DataFrame
    panel_prov: Provenance
    itu_panel: pd.DataFrame | None = None
    itu_prov: Provenance | None = None
    world: gpd.GeoDataFrame | None = None
    world_prov: Provenance | None = None


def wdi_panel(loaded: SampleInputs) -> tuple[pd.DataFrame, Provenance]:
    """The WDI panel: every catalog indicator the WDI files carry, economies only, 2000 on."""
    raw = loaded.wdi.rows[loaded.wdi.rows["year"] >= FIRST_YEAR]
    panel = wdi_to_panel(raw, source="wdi_file", catalog=loaded.catalog)
    prov = Provenance(
        source="World Bank World Development Indicators (files)",
        url_or_file=loaded.source.name,
        licence=WDI_LICENCE,
        notes=(f"{WDI_ATTRIBUTION} Economies only (aggregates dropped: "
               f"{len(loaded.wdi.aggregates)}), years {FIRST_YEAR}-{int(raw['year'].max())}. "
               "Built by p2c_research.sample."),
        parameters={"first_year": FIRST_YEAR, "codes": sorted(raw["code"].unique())},
        inputs=_inputs(loaded.wdi.files, loaded.source),
    )
    return panel, prov


def itu_pack(loaded: SampleInputs, wdi: pd.DataFrame) -> tuple[pd.DataFrame, Provenance]:
    """The ITU pack: catalog series from the DataHub exports, in catalog units.

    Converted with the denominators of the WDI panel (population, Internet
    users, GNI per capita of the same economy and year).
    """
    wanted = {i for ids in CONTEXT_IDS.values() for i in ids}
    context = wdi[wdi["indicator"].isin(wanted)]
    messages: list[str] = []
    panel = itu.panel_from_exports(loaded.itu_raw if loaded.itu_raw is not None
                                   else pd.DataFrame(), loaded.catalog, messages, context)
    panel = panel[panel["year"] >= FIRST_YEAR]
    codes = (sorted(panel["source"].str.split(":", n=1).str[1].str.split(" ").str[0].unique())
             if not panel.empty else [])
    prov = Provenance(
        source=f"{itu.PUBLISHER} (CSV exports)",
        url_or_file=", ".join(f.name for f in loaded.itu_files),
        licence=itu.LICENCE,
        notes=(f"{len(panel)} values, {panel['iso3'].nunique()} economies, "
               f"{panel['indicator'].nunique()} indicators, years {FIRST_YEAR}-"
               f"{int(panel['year'].max()) if not panel.empty else FIRST_YEAR}. Converted with "
               "the World Bank denominators of the sample panel (see LICENCE.md and "
               "docs/indicators.md). " + " ".join(dict.fromkeys(messages))),
        parameters={"first_year": FIRST_YEAR, "codes": codes},
        inputs=_inputs(loaded.itu_files, loaded.source),
    )
    return panel, prov


def geometries_provenance(loaded: SampleInputs) -> Provenance:
    """Provenance of the vendored Natural Earth countries."""
    world = loaded.world
    assert world is not None and loaded.ne_file is not None
    return Provenance(
        source="Natural Earth 1:110m Cultural Vectors, Admin 0 - Countries",
        url_or_file=loaded.ne_file.name,
        licence=NE_LICENCE,
        notes=("Natural Earth release: not recorded in the source file (Natural Earth "
               f"v5-style schema). {len(world)} features; {world['iso3'].notna().sum()} "
               "resolved to World Bank ISO3 codes. Made with Natural Earth. Free vector and "
               "raster map data @ naturalearthdata.com."),
        inputs=[{"file": loaded.ne_file.name, "sha256": sha256_file(loaded.ne_file)}],
    )


# --------------------------------------------------------------------------- builder
@dataclass
class SampleBuilder(Builder[SampleInputs, Sample]):
    """The embedded sample from the real files under ``source``.

    Args:
        source: folder holding World Bank WDI CSVs, optionally ITU DataHub CSV
            exports and a Natural Earth 110m admin-0 file (e.g. ``../shared/real``).
        out_dir: target folder (default: ``data/sample``).
        pledges: also write the synthetic pledges (the sample always has them;
            tests of the panel alone leave them out).
    """

    name: ClassVar[str] = "embedded sample"
    source: Path
    out_dir: Path | None = None
    pledges: bool = True

    def load(self) -> SampleInputs:
        source = Path(self.source).resolve()
        if not source.is_dir():
            raise DataError(f"{source}: not a folder; pass --source DIR holding WDI and "
                            "Natural Earth files")
        catalog = load_catalog()
        loaded = SampleInputs(source, catalog, read_wdi_path(source,
                                                             codes=wdi_codes_needed(catalog)))
        loaded.itu_files = [f for f in sorted(source.rglob("*.csv")) if itu.is_export(f)]
        if loaded.itu_files:
            loaded.itu_raw = itu.read_export_files(loaded.itu_files, catalog)
        loaded.ne_file = _find_naturalearth(source)
        if loaded.ne_file is not None:
            loaded.world = read_admin0(loaded.ne_file)
        return loaded

    def process(self, loaded: SampleInputs) -> Sample:
        if loaded.wdi.rows.empty:
            raise DataError(
                f"{loaded.source}: no World Bank WDI file found (long `Country Name,Country "
                "Code,Year,Value` or bulk `API_*.csv`); point --source at a folder holding them")
        panel, panel_prov = wdi_panel(loaded)
        sample = Sample(panel, panel_prov)
        if loaded.itu_files:
            sample.itu_panel, sample.itu_prov = itu_pack(loaded, panel)
        if loaded.world is not None:
            sample.world, sample.world_prov = loaded.world, geometries_provenance(loaded)
        return sample

    def check(self, result: Sample) -> list[str]:
        present = set(result.panel["iso3"])
        missing = sorted(set(PARTNER_ITU_REGIONS) - present)
        if missing:
            raise DataError(f"{self.source}: the WDI files hold no row for the P2C partner(s) "
                            f"{missing}; the sample must cover them")
        notes = [f"WDI panel: {len(result.panel)} values, {result.panel['iso3'].nunique()} "
                 f"economies, {result.panel['indicator'].nunique()} indicators"]
        if result.itu_panel is None:
            notes.append("no ITU DataHub CSV export found: the sample has no ITU pack")
        elif result.itu_panel.empty:
            raise DataError(f"{self.source}: the ITU DataHub exports hold none of the catalog's "
                            "ITU series; remove them or export the catalog's series")
        else:
            notes.append(f"ITU pack: {len(result.itu_panel)} values "
                         f"({result.itu_panel['indicator'].nunique()} indicators)")
        if result.world is None:
            notes.append("no Natural Earth 110m admin-0 file found: maps will be skipped")
        for note in notes:
            if note.startswith("no "):
                log.warning("%s", note)
        return notes

    def save(self, result: Sample) -> dict[str, Path]:
        out_dir = Path(self.out_dir or sample_dir())
        built = {"panel": write_panel(result.panel, out_dir / "panel.parquet",
                                      result.panel_prov)}
        if result.itu_panel is not None and result.itu_prov is not None:
            folder = out_dir / ITU_FOLDER
            atomic_write_text(folder / "LICENCE.md", ITU_LICENCE_NOTICE)
            built["itu_panel"] = write_panel(result.itu_panel, folder / "panel.parquet",
                                             result.itu_prov)
        if result.world is not None and result.world_prov is not None:
            out = write_geojson(result.world, out_dir / "naturalearth_110m_admin0.geojson")
            write_provenance(out, result.world_prov)
            built["geometries"] = out
        if self.pledges:
            from p2c_research.pledges.synthetic import build_sample_pledges

            built["pledges"] = build_sample_pledges(out_dir)
            manifest = {name: {"file": str(p.relative_to(out_dir)), "sha256": sha256_file(p)}
                        for name, p in built.items()}
            atomic_write_text(out_dir / "MANIFEST.json",
                              json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return built


def build_sample(source: Path | str, out_dir: Path | None = None) -> dict[str, Path]:
    """Build the whole embedded sample from the real files under ``source``."""
    return SampleBuilder(Path(source), out_dir).run().paths
