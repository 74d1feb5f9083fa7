"""Build ``data/processed/panel.parquet`` from the raw cache, and compare two panel vintages.

``invoke data.build`` runs :func:`build_processed`: every adapter reads its
part of ``data/raw/`` (nothing is downloaded here), and where publishers give
a value for the same country, indicator and year, a fixed precedence decides:

* ICT series (indicators with an ITU code in the catalog):
  ITU DataHub API > ITU DataHub CSV export > UN SDG database > World Bank API > WDI files.
  ITU is the custodian of these statistics; the SDG database and WDI
  republish ITU's figures, sometimes a release later.
* Every other series: World Bank API > WDI files > UN SDG database (> ITU).
  The World Bank compiles them; the API is the live vintage, files may be older.

Precedence is applied value by value: the highest-ranked source that has a
value wins, lower-ranked sources fill the years it lacks, and the ``source``
column records publisher and code of every value (e.g.
``itu_datahub:i271GA``, ``worldbank_api:IT.NET.USER.ZS``). Where two sources
differ by more than 1%, the pair is listed in ``source_conflicts.csv`` beside
the panel, so a reviewer can see where the choice mattered.

``invoke data.diff OLD NEW`` runs :func:`diff_panels`: values that changed
(beyond float noise), appeared or vanished between two panel files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from p2c_research.catalog import Catalog, load_catalog
from p2c_research.config import processed_dir, raw_dir
from p2c_research.datasets import ITU_SOURCE_PREFIX, PROCESSED_NO_ITU_PANEL
from p2c_research.errors import DataError
from p2c_research.precedence import (
    CONFLICT_RTOL,
    PRECEDENCE_ICT,
    PRECEDENCE_OTHER,
    merge_sources,
)
from p2c_research.sources import itu, naturalearth, sdg, wdi_csv, worldbank
from p2c_research.sources.base import FIRST_YEAR
from p2c_research.store import (
    PANEL_COLUMNS,
    Provenance,
    read_parquet,
    read_provenance,
    validate_panel,
    write_csv,
    write_panel,
)

log = logging.getLogger(__name__)

LICENCES = {
    itu.API_LABEL: itu.LICENCE,
    itu.EXPORT_LABEL: itu.LICENCE,
    sdg.SOURCE_LABEL: sdg.LICENCE,
    worldbank.SOURCE_LABEL: worldbank.LICENCE,
    wdi_csv.SOURCE_LABEL: wdi_csv.LICENCE,
}
LABEL_NAMES = {
    itu.API_LABEL: "ITU DataHub API",
    itu.EXPORT_LABEL: "ITU DataHub exports",
    sdg.SOURCE_LABEL: "UN SDG database",
    worldbank.SOURCE_LABEL: "World Bank API (WDI)",
    wdi_csv.SOURCE_LABEL: "World Bank WDI files",
}
ADAPTERS = (worldbank, wdi_csv, sdg, itu)
CONFLICTS_NAME = "source_conflicts.csv"
DIFF_COLUMNS = ["iso3", "indicator", "year", "old_value", "new_value", "change"]


def _context(parts: list[pd.DataFrame], catalog: Catalog) -> pd.DataFrame:
    """The denominators of the unit conversions from the World Bank rows read so far."""
    from p2c_research.units import CONTEXT_IDS

    wanted = {i for ids in CONTEXT_IDS.values() for i in ids}
    rows = [p[p["indicator"].isin(wanted)] for p in parts]
    if not rows:
        return pd.DataFrame(columns=PANEL_COLUMNS)
    merged, _ = merge_sources(pd.concat(rows, ignore_index=True), catalog)
    return merged


@dataclass
class BuildReport:
    """What :func:`build_processed` wrote, and how the sources contributed."""

    out: Path
    rows: int
    by_source: pd.DataFrame
    conflicts: pd.DataFrame
    geometries: Path | None = None
    conflicts_path: Path | None = None
    n_inputs: int = 0
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"wrote {self.out}: {self.rows} rows from {self.n_inputs} raw file(s)"]
        for rec in self.by_source.itertuples(index=False):
            lines.append(f"  {rec.publisher:<16} {rec.rows:>8} values kept, "
                         f"{rec.indicators} indicator(s)")
        lines.append(f"  {len(self.conflicts)} value(s) where sources differ by more than "
                     f"{CONFLICT_RTOL:.0%}" + (f" (see {self.conflicts_path})"
                                                if self.conflicts_path else ""))
        lines.append(f"  geometries: {self.geometries}" if self.geometries else
                     "  geometries: none fetched; runs use the vendored Natural Earth 1:110m")
        lines += [f"  note: {m}" for m in self.messages]
        return "\n".join(lines)


def build_processed(
    *,
    raw_root: Path | None = None,
    out: Path | None = None,
    first_year: int = FIRST_YEAR,
) -> BuildReport:
    """Combine every adapter's tidy rows from the raw cache into the processed panel.

    Writes ``out`` (default ``data/processed/panel.parquet``) with a provenance
    sidecar listing every raw input, ``source_conflicts.csv`` beside it, and
    ``naturalearth_admin0.geojson`` when Natural Earth was fetched.

    Raises:
        DataError: the raw cache holds no indicator data.
    """
    catalog = load_catalog()
    raw_root = Path(raw_root or raw_dir())
    out = Path(out or processed_dir() / "panel.parquet")
    parts, messages, inputs = [], [], []
    for adapter in ADAPTERS:
        if adapter is itu:  # ITU counts and prices are converted with World Bank denominators
            result = itu.load_cached(raw_root, catalog, context=_context(parts, catalog))
        else:
            result = adapter.load_cached(raw_root, catalog)
        messages += [f"{adapter.NAME}: {m}" for m in result.messages]
        if not result.panel.empty:
            parts.append(result.panel)
        for f in result.files:
            rel = f.relative_to(raw_root) if f.is_relative_to(raw_root) else f
            inputs.append({"file": str(rel), "sha256": str(read_provenance(f).get("sha256", ""))})
    if not parts:
        raise DataError(f"{raw_root}: no indicator data in the raw cache; run "
                        "`invoke data.fetch --source worldbank` (or sdg, itu, wdi-csv) first")
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[rows["year"] >= first_year]
    merged, conflicts = merge_sources(rows, catalog)
    merged = validate_panel(merged, origin="merged panel")

    labels = merged["source"].str.split(":", n=1).str[0]
    by_source = (merged.assign(publisher=labels).groupby("publisher")
                 .agg(rows=("value", "size"), indicators=("indicator", "nunique"))
                 .reset_index().sort_values("rows", ascending=False))
    used = [lab for lab in PRECEDENCE_ICT if lab in set(labels)]
    prov = Provenance(
        source=", ".join(LABEL_NAMES[lab] for lab in used) + " (merged by p2c-research)",
        url_or_file=str(raw_root),
        licence="; ".join(dict.fromkeys(LICENCES[lab] for lab in used)),
        parameters={"first_year": first_year, "precedence_ict": list(PRECEDENCE_ICT),
                    "precedence_other": list(PRECEDENCE_OTHER), "conflict_rtol": CONFLICT_RTOL},
        notes=(f"{len(merged)} values, {merged['iso3'].nunique()} economies, "
               f"{merged['indicator'].nunique()} indicators; the source column names the "
               f"publisher and code of each value; {len(conflicts)} conflicts listed in "
               f"{CONFLICTS_NAME}."),
        inputs=inputs,
    )
    write_panel(merged, out, prov)
    # The CC BY-only build (--no-itu) needs the values ITU's precedence displaced, so it
    # is merged from the other sources alone rather than filtered from the panel above.
    no_itu_rows = rows[~rows["source"].str.startswith(ITU_SOURCE_PREFIX)]
    no_itu, _ = merge_sources(no_itu_rows, catalog)
    no_itu_used = [lab for lab in used if not lab.startswith(ITU_SOURCE_PREFIX)]
    if no_itu_used:
        write_panel(
            validate_panel(no_itu, origin="merged panel without ITU"),
            out.parent / PROCESSED_NO_ITU_PANEL,
            Provenance(
                source=", ".join(LABEL_NAMES[lab] for lab in no_itu_used)
                + " (merged by p2c-research, ITU DataHub left out)",
                url_or_file=str(raw_root),
                licence="; ".join(dict.fromkeys(LICENCES[lab] for lab in no_itu_used)),
                parameters=prov.parameters,
                notes=f"{len(no_itu)} values; the CC BY-only panel (--no-itu).",
                inputs=[i for i in inputs if not i["file"].startswith("itu")]))
    conflicts_path = out.parent / CONFLICTS_NAME
    write_csv(conflicts, conflicts_path)
    geometries = naturalearth.build_geometries(raw_root, out.parent / naturalearth.PROCESSED_NAME)
    return BuildReport(out=out, rows=len(merged), by_source=by_source.reset_index(drop=True),
                       conflicts=conflicts, geometries=geometries,
                       conflicts_path=conflicts_path, n_inputs=len(inputs), messages=messages)


# --------------------------------------------------------------------------- vintages
def diff_panels(
    old: Path | str, new: Path | str, *, rtol: float = 1e-9, atol: float = 1e-12
) -> pd.DataFrame:
    """Values that changed, appeared or vanished between two panel files.

    Two values count as equal when ``|new - old| <= atol + rtol * |old|``
    (float noise from a re-download or a CSV round trip is not a change).

    Returns:
        ``iso3, indicator, year, old_value, new_value, change`` with ``change``
        in {changed, appeared, vanished}, sorted by change, then key.
    """
    frames = []
    for path in (old, new):
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: panel file not found")
        frames.append(validate_panel(read_parquet(path, "pass a complete panel file"),
                                     origin=str(path)))
    keys = ["iso3", "indicator", "year"]
    both = frames[0][[*keys, "value"]].merge(
        frames[1][[*keys, "value"]], on=keys, how="outer", suffixes=("_old", "_new"))
    both = both.rename(columns={"value_old": "old_value", "value_new": "new_value"})
    old_v = both["old_value"].to_numpy(dtype="float64", na_value=np.nan)
    new_v = both["new_value"].to_numpy(dtype="float64", na_value=np.nan)
    change = np.select(
        [np.isnan(old_v), np.isnan(new_v),
         ~np.isclose(new_v, old_v, rtol=rtol, atol=atol, equal_nan=True)],
        ["appeared", "vanished", "changed"], default="",
    )
    both["change"] = change
    out = both[both["change"] != ""].copy()
    order = {"changed": 0, "appeared": 1, "vanished": 2}
    out = out.assign(_o=out["change"].map(order)).sort_values(["_o", *keys], kind="stable")
    out = out.drop(columns="_o")[DIFF_COLUMNS].reset_index(drop=True)
    out["change"] = out["change"].astype("string")
    return out


def format_diff(df: pd.DataFrame, limit: int = 20) -> str:
    """The diff as text: counts, then counts per indicator, then the first rows."""
    if df.empty:
        return "no differences: every value is the same in both panels"
    counts = df["change"].value_counts()
    head = ", ".join(f"{int(counts.get(k, 0))} {k}" for k in ("changed", "appeared", "vanished"))
    per = (df.groupby(["indicator", "change"]).size().unstack(fill_value=0)
           .reindex(columns=["changed", "appeared", "vanished"], fill_value=0))
    lines = [f"{len(df)} difference(s): {head}", "", "by indicator:",
             per.to_string(), "", f"first {min(limit, len(df))} row(s):",
             df.head(limit).to_string(index=False)]
    return "\n".join(lines)
