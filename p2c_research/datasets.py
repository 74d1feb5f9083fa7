"""Which data a run uses, and loading it: the embedded sample or the processed real data.

``--data auto`` (the default) picks ``data/processed`` when its panel exists,
else ``data/sample``. The resolved choice travels with every result, so each
report can state plainly which data it shows and whether pledges are synthetic.

ITU DataHub values are licensed CC BY-NC-SA 3.0 IGO (non-commercial), unlike
the World Bank's CC BY 4.0. They are kept apart (the sample's ``itu/`` pack;
the processed build writes a second, ITU-free panel) and are used unless the
run asks for a CC BY-only build (``itu=False``: ``--no-itu`` on the command
line, ``data.itu: false`` in the params).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd

from p2c_research.attribution import ITU_LICENCE_LABEL
from p2c_research.config import processed_dir, sample_dir
from p2c_research.errors import DataError
from p2c_research.store import read_panel, read_parquet, read_provenance, sha256_file

DataChoice = Literal["auto", "sample", "processed"]
ITU_SOURCE_PREFIX = "itu_datahub"
SAMPLE_ITU_PANEL = "itu/panel.parquet"
PROCESSED_NO_ITU_PANEL = "panel_no_itu.parquet"


@dataclass(frozen=True)
class DataSelection:
    """The files a run reads, and how to describe them to a reader."""

    choice: Literal["sample", "processed"]
    panel_path: Path
    pledges_path: Path
    geometries_path: Path
    pledges_synthetic: bool
    itu: bool = True
    itu_panel_path: Path | None = None

    @property
    def folder(self) -> Path:
        return self.panel_path.parent

    @property
    def panel_paths(self) -> tuple[Path, ...]:
        """The panel files this run reads (the sample's ITU pack beside its WDI panel)."""
        return (self.panel_path,) + ((self.itu_panel_path,) if self.itu_panel_path else ())

    @property
    def spec(self) -> str:
        """The choice as one string for the runner (``sample``, ``processed:no-itu``)."""
        return self.choice if self.itu else f"{self.choice}:no-itu"

    def describe(self) -> str:
        """One plain sentence for the top of a report: which data, which licences."""
        kind = ("the embedded sample shipped with p2c-research" if self.choice == "sample"
                else "processed real data fetched from the publishers")
        parts = []
        for path in self.panel_paths:
            prov = read_provenance(path)
            if not prov:
                parts.append(f"{path.parent.name}/{path.name}, which has no provenance sidecar, "
                             "so its source, licence and date are not recorded")
                continue
            source = prov.get("source") or "source not recorded"
            licence = prov.get("licence") or "licence not recorded"
            when = str(prov.get("retrieved_at", ""))[:10] or "date not recorded"
            parts.append(f"{path.parent.name}/{path.name}: {source}, {licence}; built {when}")
        text = f"Data: {kind} ({'; '.join(parts)})."
        if self.itu:
            text += (f" Values marked ITU DataHub are licensed {ITU_LICENCE_LABEL}: "
                     "non-commercial use only.")
        else:
            text += (" CC BY-only build: ITU DataHub values are switched off (--no-itu), so "
                     "coverage, prices and mobile broadband come only from the World Bank, "
                     "where it has them.")
        if self.pledges_synthetic:
            text += (" Pledges: SYNTHETIC, generated and calibrated to published P2C totals; "
                     "they are not real pledges.")
        else:
            text += f" Pledges: imported from {read_provenance(self.pledges_path).get('url_or_file', 'a P2C export')}."
        return text

    def check(self) -> None:
        """Read the panel, the pledges and the sidecars once, so a damaged file stops a
        run with one message before anything is computed or written.

        Raises:
            DataError: a file is missing, truncated or corrupt, or a sidecar is invalid.
        """
        load_panel(self)
        load_pledges(self)
        self.describe()
        if not self.geometries_path.exists():
            raise DataError(f"{self.geometries_path}: country geometries missing; rebuild the "
                            "sample with `invoke data.sample --source DIR`")

    def _files(self) -> tuple[Path, ...]:
        return (*self.panel_paths, self.pledges_path, self.geometries_path)

    def fingerprint(self) -> str:
        """Hash of the data files and the ITU switch: the cache key of all-country results."""
        h = hashlib.sha256(b"itu" if self.itu else b"no-itu")
        for p in self._files():
            h.update(p.name.encode())
            h.update(sha256_file(p).encode() if p.exists() else b"-")
        return h.hexdigest()[:16]

    def file_hashes(self) -> dict[str, str]:
        return {str(p): (sha256_file(p) if p.exists() else "missing") for p in self._files()}


def parse_data_spec(spec: str) -> tuple[str, bool]:
    """``sample`` | ``processed`` | ``auto``, optionally with ``:no-itu`` -> (choice, itu)."""
    choice, _, flag = str(spec).partition(":")
    if flag not in ("", "no-itu") or choice not in ("auto", "sample", "processed"):
        raise DataError(f"unknown data choice '{spec}'; use sample, processed or auto, "
                        "optionally followed by ':no-itu' for a CC BY-only build")
    return choice, flag != "no-itu"


def select_data(choice: DataChoice | str = "auto", *, itu: bool = True) -> DataSelection:
    """Resolve ``auto`` | ``sample`` | ``processed`` (``:no-itu``) into concrete files.

    ``itu=False`` (or the ``:no-itu`` suffix) selects the CC BY-only build:
    the sample without its ITU pack, or the processed panel built without ITU
    sources.
    """
    choice, spec_itu = parse_data_spec(str(choice))
    itu = itu and spec_itu
    processed_panel = processed_dir() / "panel.parquet"
    if choice == "auto":
        choice = "processed" if processed_panel.exists() else "sample"
    sample = sample_dir()
    if choice == "processed":
        if not processed_panel.exists():
            raise DataError(
                f"{processed_panel}: no processed panel; run `invoke data.fetch` and "
                "`invoke data.build` first, or use --data sample"
            )
        panel = processed_panel if itu else processed_dir() / PROCESSED_NO_ITU_PANEL
        if not panel.exists():
            raise DataError(f"{panel}: no ITU-free processed panel; rebuild with "
                            "`invoke data.build`, which writes it beside panel.parquet")
        imported = processed_dir() / "pledges.parquet"
        pledges = imported if imported.exists() else sample / "pledges.parquet"
        geo = processed_dir() / "naturalearth_admin0.geojson"
        return DataSelection(
            choice="processed",
            panel_path=panel,
            pledges_path=pledges,
            geometries_path=geo if geo.exists() else sample / "naturalearth_110m_admin0.geojson",
            pledges_synthetic=not imported.exists(),
            itu=itu,
        )
    panel = sample / "panel.parquet"
    if not panel.exists():
        raise DataError(f"{panel}: the embedded sample is missing; rebuild it with "
                        "`invoke data.sample --source DIR`")
    itu_panel = sample / SAMPLE_ITU_PANEL
    return DataSelection(
        choice="sample",
        panel_path=panel,
        pledges_path=sample / "pledges.parquet",
        geometries_path=sample / "naturalearth_110m_admin0.geojson",
        pledges_synthetic=True,
        itu=itu,
        itu_panel_path=itu_panel if itu and itu_panel.exists() else None,
    )


def selection_for(spec: str, params_choice: str = "auto", params_itu: bool = True) -> DataSelection:
    """The data of one country run: the command line's spec, else the params' choice.

    ITU values are used only when both allow them (``--no-itu`` or
    ``data.itu: false`` switches them off).
    """
    choice, itu = parse_data_spec(spec)
    return select_data(params_choice if choice == "auto" else choice, itu=itu and params_itu)


@lru_cache(maxsize=4)
def _load_panel_cached(paths: tuple[str, ...], mtimes: tuple[float, ...]) -> pd.DataFrame:
    if len(paths) == 1:
        return read_panel(paths[0])
    from p2c_research.precedence import merge_sources

    parts = [read_panel(p) for p in paths]
    merged, _ = merge_sources(pd.concat(parts, ignore_index=True))
    return merged.sort_values(["iso3", "indicator", "year"]).reset_index(drop=True)


def load_panel(selection: DataSelection) -> pd.DataFrame:
    """The tidy panel of a selection (cached per file version; do not mutate).

    With the sample's ITU pack, the two files are merged by the documented
    source precedence (:func:`p2c_research.precedence.merge_sources`: ITU first for
    ICT series).
    """
    paths = selection.panel_paths
    return _load_panel_cached(tuple(str(p) for p in paths),
                              tuple(p.stat().st_mtime for p in paths))


def uses_itu_values(panel: pd.DataFrame) -> bool:
    """True if any value of ``panel`` comes from ITU DataHub (its licence must then be named)."""
    return bool(panel["source"].astype(str).str.startswith(ITU_SOURCE_PREFIX).any())


def load_pledges(selection: DataSelection) -> pd.DataFrame:
    p = selection.pledges_path
    if not p.exists():
        raise DataError(f"{p}: pledge file missing; rebuild the sample or import pledges "
                        "with `invoke data.fetch --source pledges --path FILE`")
    return read_parquet(p, "rebuild the sample or import the pledges again")


@lru_cache(maxsize=2)
def _load_geometries_cached(path: str, mtime: float):
    import geopandas as gpd

    return gpd.read_file(path)


def load_geometries(selection: DataSelection):
    """Natural Earth admin-0 polygons with an ``iso3`` column (GeoDataFrame).

    Cached per file version, like the panel: do not mutate the frame.
    """
    p = selection.geometries_path
    if not p.exists():
        raise DataError(f"{p}: country geometries missing; rebuild the sample with "
                        "`invoke data.sample --source DIR`")
    return _load_geometries_cached(str(p), p.stat().st_mtime)


def sample_manifest() -> dict:
    path = sample_dir() / "MANIFEST.json"
    return json.loads(path.read_text()) if path.exists() else {}
