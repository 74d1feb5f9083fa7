"""Which data a run uses, and loading it: the embedded sample or the processed real data.

``--data auto`` (the default) picks ``data/processed`` when its panel exists,
else ``data/sample``. The resolved choice travels with every result, so each
report can state plainly which data it shows and whether pledges are synthetic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import pandas as pd

from p2c_research.config import processed_dir, sample_dir
from p2c_research.errors import DataError
from p2c_research.store import read_panel, read_parquet, read_provenance, sha256_file

DataChoice = Literal["auto", "sample", "processed"]


@dataclass(frozen=True)
class DataSelection:
    """The files a run reads, and how to describe them to a reader."""

    choice: Literal["sample", "processed"]
    panel_path: Path
    pledges_path: Path
    geometries_path: Path
    pledges_synthetic: bool

    @property
    def folder(self) -> Path:
        return self.panel_path.parent

    def describe(self) -> str:
        """One plain sentence for the top of a report."""
        prov = read_provenance(self.panel_path)
        kind = ("the embedded sample shipped with p2c-research" if self.choice == "sample"
                else "processed real data fetched from the publishers")
        if prov:
            details = [str(prov.get("source") or "source not recorded"),
                       str(prov.get("licence") or "licence not recorded")]
            when = str(prov.get("retrieved_at") or "")[:10]
            built = f"; built {when}" if when else ""
            text = f"Data: {kind} ({self.panel_path.name}: {', '.join(details)}{built})."
        else:
            text = (f"Data: {kind} ({self.panel_path.name}, which has no provenance sidecar, "
                    "so its source, licence and date are not recorded).")
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

    def fingerprint(self) -> str:
        """Hash of the data files: the cache key of all-country results (the data vintage)."""
        h = hashlib.sha256()
        for p in (self.panel_path, self.pledges_path, self.geometries_path):
            h.update(p.name.encode())
            h.update(sha256_file(p).encode() if p.exists() else b"-")
        return h.hexdigest()[:16]

    def file_hashes(self) -> dict[str, str]:
        return {str(p): (sha256_file(p) if p.exists() else "missing")
                for p in (self.panel_path, self.pledges_path, self.geometries_path)}


def select_data(choice: DataChoice = "auto") -> DataSelection:
    """Resolve ``auto`` | ``sample`` | ``processed`` into concrete files."""
    if choice not in ("auto", "sample", "processed"):
        raise DataError(f"unknown data choice '{choice}'; use sample, processed or auto")
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
        imported = processed_dir() / "pledges.parquet"
        pledges = imported if imported.exists() else sample / "pledges.parquet"
        geo = processed_dir() / "naturalearth_admin0.geojson"
        return DataSelection(
            choice="processed",
            panel_path=processed_panel,
            pledges_path=pledges,
            geometries_path=geo if geo.exists() else sample / "naturalearth_110m_admin0.geojson",
            pledges_synthetic=not imported.exists(),
        )
    panel = sample / "panel.parquet"
    if not panel.exists():
        raise DataError(f"{panel}: the embedded sample is missing; rebuild it with "
                        "`invoke data.sample --source DIR`")
    return DataSelection(
        choice="sample",
        panel_path=panel,
        pledges_path=sample / "pledges.parquet",
        geometries_path=sample / "naturalearth_110m_admin0.geojson",
        pledges_synthetic=True,
    )


@lru_cache(maxsize=4)
def _load_panel_cached(path: str, mtime: float) -> pd.DataFrame:
    return read_panel(path)


def load_panel(selection: DataSelection) -> pd.DataFrame:
    """The tidy panel of a selection (cached per file version; do not mutate)."""
    p = selection.panel_path
    return _load_panel_cached(str(p), p.stat().st_mtime)


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
